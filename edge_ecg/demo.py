"""``edge-ecg demo``: the shipped model on a bundled MIT-BIH excerpt, scored against its labels.

Runs on a fresh install with no data downloaded: five minutes of record 213 (a DS2 patient the
model never saw) ship inside the package (see assets/README.md for attribution).
"""

from __future__ import annotations

import time
from pathlib import Path

import click
import numpy as np

from .aami import aami_class
from .spec import CLASSES

EXCERPT = Path(__file__).parent / "assets" / "mitdb-213-excerpt.npz"


def load_excerpt() -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """Signal in mV, fs, and the reference beats (sample, AAMI class index)."""
    with np.load(EXCERPT, allow_pickle=False) as z:
        signal = (z["adc"].astype(np.float64) - int(z["baseline"])) / float(z["gain"])
        fs = float(z["fs"])
        classes = [aami_class(s) for s in z["ann_symbols"].tolist()]
        keep = np.array([c is not None for c in classes], dtype=bool)
        samples = z["ann_samples"][keep]
        labels = np.array([CLASSES.index(c) for c in classes if c is not None], dtype=np.int64)
    return signal, fs, samples, labels


def run_demo(model: str | None = None, threads: int = 1) -> dict:
    """Detect and classify the excerpt; return timings and the scores against the reference."""
    t0 = time.perf_counter()
    from .classify import Classifier, classify_record
    from .metrics import evaluate_predictions
    from .scoring import match_beats

    classifier = Classifier(model, threads)
    t_load = time.perf_counter() - t0
    signal, fs, ref_samples, ref_labels = load_excerpt()
    t1 = time.perf_counter()
    beats = classify_record(signal, fs, classifier.model)
    t_run = time.perf_counter() - t1
    found = np.array([b.sample for b in beats], dtype=np.int64)
    ref_idx, test_idx, missed, extra = match_beats(ref_samples, found, fs)
    predicted = np.array([CLASSES.index(beats[i].label) for i in test_idx], dtype=np.int64)
    result = evaluate_predictions(ref_labels[ref_idx], predicted)
    return {
        "model": str(classifier.model.path.name),
        "seconds_of_ecg": signal.size / fs,
        "load_seconds": t_load,
        "run_seconds": t_run,
        "reference_beats": int(ref_samples.size),
        "detected": int(found.size),
        "matched": len(ref_idx),
        "missed": len(missed),
        "extra": len(extra),
        "metrics": result,
    }


@click.command()
@click.option("--model", type=click.Path(dir_okay=False), help="Another .tflite model.")
@click.option("--threads", type=click.IntRange(1, 64), default=1, show_default=True)
def demo(model, threads) -> None:
    """Run the shipped model on 5 bundled minutes of MIT-BIH record 213 and score it.

    \b
    Record 213 belongs to DS2, the patients no edge-ecg model is trained on. The demo detects
    the beats itself (no reference R-peaks), classifies them, and compares with the
    cardiologists' labels within the EC57 150 ms window.

    \b
    Example:
      edge-ecg demo
    """
    r = run_demo(model, threads)
    m = r["metrics"]
    click.echo(
        f"edge-ecg demo: MIT-BIH 213 (DS2, unseen patient), {r['seconds_of_ecg'] / 60:.0f} min, "
        f"model {r['model']}"
    )
    click.echo(
        f"beats: {r['reference_beats']} in the reference, {r['detected']} detected, "
        f"{r['matched']} matched within 150 ms, {r['missed']} missed, {r['extra']} extra"
    )
    click.echo(f"accuracy on matched beats: {100 * (m['accuracy'] or 0):.1f} %")
    click.echo("class  reference  found  Se %   +P %")
    cm = np.array(m["confusion"])
    for i, c in enumerate(CLASSES):
        se, ppv = m["classes"][c]["se"], m["classes"][c]["ppv"]
        if cm[i].sum() or cm[:, i].sum():
            click.echo(
                f"  {c}    {cm[i].sum():>7}  {cm[:, i].sum():>5}  "
                f"{'–' if se is None else f'{100 * se:5.1f}'}  "
                f"{'–' if ppv is None else f'{100 * ppv:5.1f}'}"
            )
    ecg = r["seconds_of_ecg"]
    click.echo(
        f"time: model load {1000 * r['load_seconds']:.0f} ms; detect + classify "
        f"{1000 * r['run_seconds']:.0f} ms for {ecg:.0f} s of ECG "
        f"({ecg / max(r['run_seconds'], 1e-9):.0f}x real time, 1 thread)"
    )
