"""Noise stress: the detector and the classifier on noisy ECG, at EC57 signal-to-noise ratios.

Two sources. (a) The NSTDB records 118e* and 119e* (mitdb 118 and 119 with electrode-motion
noise from minute 5 on, in alternating 2-minute segments), scored after the first 5 minutes as
EC57 does; their clean originals (mitdb 118, 119) give the baseline. (b) Mixes of the NSTDB
noise records (``bw``, ``em``, ``ma``) with DS2 records at each SNR, computed the way ``nst``
does: the signal's power is (median peak-to-peak QRS amplitude)^2 / 8, measured around the
reference beats, and the noise is scaled so that 10 log10(S / N) is the SNR, N being the mean
square of the (mean-removed) noise over the stretch used. Beats are matched within 150 ms.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path

import numpy as np

from edge_ecg.aami import CLASS_INDEX
from edge_ecg.artifact import ArtifactCheck
from edge_ecg.classify import Classifier, classify_record
from edge_ecg.datadir import database_dir
from edge_ecg.metrics import evaluate_predictions
from edge_ecg.records import Record, read_record, read_second_lead
from edge_ecg.scoring import match_beats

SNRS = (24, 18, 12, 6, 0, -6)
NOISES = ("bw", "em", "ma")
#: DS2 records mixed with noise by default (a spread of rhythms; --records for more).
MIX_RECORDS = ("100", "105", "203", "213", "219", "233")
#: NSTDB: noise from minute 5; scoring starts there.
SKIP_SECONDS = 300.0
#: Mixes use this much of each record (from its start), to keep a default run short.
MIX_SECONDS = 600.0


def qrs_power(rec: Record) -> float:
    """nst's signal power: (median peak-to-peak amplitude within ±50 ms of each beat)^2 / 8."""
    half = round(0.05 * rec.fs)
    s = rec.signal
    ptp = [np.ptp(s[max(0, p - half) : p + half + 1]) for p in rec.beat_samples]
    return float(np.median(ptp)) ** 2 / 8


def mix(rec: Record, noise: np.ndarray, snr_db: float) -> np.ndarray:
    """``rec.signal`` plus ``noise`` scaled to ``snr_db`` (EC57 definition, see module doc)."""
    n = noise[: rec.signal.size] - noise[: rec.signal.size].mean()
    scale = np.sqrt(qrs_power(rec) / (np.mean(n * n) * 10 ** (snr_db / 10)))
    return rec.signal + scale * n


def score(
    rec: Record,
    signal: np.ndarray,
    classifier: Classifier,
    start_s: float,
    second: np.ndarray | None = None,
    check: ArtifactCheck | None = None,
) -> dict:
    """Detection Se/+P and class figures on the beats after ``start_s``; ``second``, a second
    lead, helps the detector (``edge_ecg.leads``); ``check`` drops artefacts
    (``edge_ecg.artifact``)."""
    beats = classify_record(
        signal, rec.fs, classifier.model, second=second, artifact_check=check or False
    )
    first = round(start_s * rec.fs)
    keep_ref = rec.beat_samples >= first
    test = np.array([b.sample for b in beats], dtype=np.int64)
    keep_test = test >= first
    ref, ref_cls = rec.beat_samples[keep_ref], rec.beat_classes[keep_ref]
    test, labels = (
        test[keep_test],
        np.array([CLASS_INDEX[b.label] for b in beats], dtype=np.int64)[keep_test],
    )
    ri, ti, missed, extra = match_beats(ref, test, rec.fs)
    return {
        "tp": int(ri.size),
        "fn": int(missed.size),
        "fp": int(extra.size),
        "truth": ref_cls[ri].tolist(),
        "predicted": labels[ti].tolist(),
    }


def summarize(parts: list[dict]) -> dict:
    tp = sum(p["tp"] for p in parts)
    fn = sum(p["fn"] for p in parts)
    fp = sum(p["fp"] for p in parts)
    truth = np.array([t for p in parts for t in p["truth"]], dtype=np.int64)
    pred = np.array([t for p in parts for t in p["predicted"]], dtype=np.int64)
    m = evaluate_predictions(truth, pred)
    return {
        "se": tp / (tp + fn) if tp + fn else None,
        "ppv": tp / (tp + fp) if tp + fp else None,
        "tp": tp,
        "fn": fn,
        "fp": fp,
        "accuracy": m["accuracy"],
        "S_se": m["classes"]["S"]["se"],
        "V_se": m["classes"]["V"]["se"],
    }


def run(
    data_dir,
    snrs: Iterable[float] = SNRS,
    records: Iterable[str] = MIX_RECORDS,
    model: str | None = None,
    bar: Callable = lambda items, label: items,
    nstdb_records: bool = True,
    two_leads: bool = False,
    artifact_check: bool = False,
) -> dict:
    """Both studies; returns {"nstdb": {...}, "mixes": {...}} keyed by SNR ("clean" first).
    ``nstdb_records=False`` runs the mixes only. ``two_leads``: the detector also reads each
    record's second lead (``edge_ecg.leads``), which in the mixes gets the noise records'
    second channel, scaled on that lead's own QRS amplitude, as nst does."""
    classifier = Classifier(model)
    check = ArtifactCheck(leads=2 if two_leads else 1) if artifact_check else None
    snrs = [float(s) for s in snrs]
    mitdb, nstdb = database_dir(data_dir, "mitdb"), database_dir(data_dir, "nstdb")
    out: dict = {"snrs": snrs, "records": list(records), "two_leads": two_leads}
    if artifact_check:
        out["artifact_check"] = True
    out |= {"nstdb": {}, "mixes": {}}

    def other(path: Path, rec: Record) -> np.ndarray | None:
        return read_second_lead(path, rec).signal if two_leads else None

    # (a) NSTDB
    nst: dict[str, list[dict]] = {"clean": []}
    for base in bar(("118", "119") if nstdb_records else (), "nstdb"):
        clean = read_record(mitdb / base)
        nst["clean"].append(
            score(clean, clean.signal, classifier, SKIP_SECONDS, other(mitdb / base, clean), check)
        )
        for snr in snrs:
            name = f"{base}e{int(snr):02d}" if snr >= 0 else f"{base}e_{int(-snr)}"
            if not Path(f"{nstdb / name}.hea").is_file():
                continue
            rec = read_record(nstdb / name)
            nst.setdefault(str(int(snr)), []).append(
                score(rec, rec.signal, classifier, SKIP_SECONDS, other(nstdb / name, rec), check)
            )
    out["nstdb"] = {k: summarize(v) for k, v in nst.items() if v}
    # (b) DS2 records + NSTDB noise records
    noises = {n: read_record(nstdb / n, lead="noise1", annotator=None).signal for n in NOISES}
    noises2 = {
        n: read_record(nstdb / n, lead="noise2", annotator=None).signal
        for n in (NOISES if two_leads else ())
    }
    mixes: dict[str, list[dict]] = {"clean": []}
    for name in bar(list(records), "mixes"):
        full = read_record(mitdb / name)
        n = min(full.signal.size, round(MIX_SECONDS * full.fs))
        inside = full.beat_samples < n
        rec = Record(full.name, full.fs, full.lead, full.units, full.signal[:n],
                     full.beat_samples[inside], full.beat_classes[inside])  # fmt: skip
        rec2 = None
        if two_leads:
            lead2 = read_second_lead(mitdb / name, rec)
            rec2 = replace(lead2, signal=lead2.signal[:n])
        mixes["clean"].append(
            score(rec, rec.signal, classifier, 0.0, None if rec2 is None else rec2.signal, check)
        )
        for noise_name, noise in noises.items():
            for snr in snrs:
                second = None if rec2 is None else mix(rec2, noises2[noise_name], snr)
                part = score(rec, mix(rec, noise, snr), classifier, 0.0, second, check)
                mixes.setdefault(str(int(snr)), []).append(part)
                mixes.setdefault(f"{int(snr)}/{noise_name}", []).append(part)
    out["mixes"] = {k: summarize(v) for k, v in mixes.items()}
    return out


def holdout_noise(data_dir, model: str, records: Iterable[str], snr: float = 6.0) -> dict:
    """How much class accuracy a run loses when its DS1 hold-out records carry noise.

    The same mixes as the noise-stress study (bw, em, ma at ``snr`` dB, first 10 minutes),
    on the patients model selection already uses, so a choice between runs can weigh noise
    without reading DS2 (docs/noise.md: the hold-out ranks runs nearly as DS2's mixes do).
    """
    mixes = run(data_dir, [snr], records, model, nstdb_records=False)["mixes"]
    clean = mixes["clean"]["accuracy"]
    key = str(int(snr))
    return {
        "snr_db": float(snr),
        "records": list(records),
        "clean_accuracy": clean,
        "accuracy": mixes[key]["accuracy"],
        "drop_pp": 100 * (clean - mixes[key]["accuracy"]),
        "drop_pp_by_noise": {n: 100 * (clean - mixes[f"{key}/{n}"]["accuracy"]) for n in NOISES},
        "detector": {"se": mixes[key]["se"], "ppv": mixes[key]["ppv"]},
    }


def _order(key: str) -> tuple:
    """clean first, then by falling SNR; the all-noise row before its per-noise rows."""
    if key == "clean":
        return (0, 0.0, "")
    snr, _, noise = key.partition("/")
    return (1, -float(snr), noise)


def markdown(result: dict) -> str:
    def pct(v):
        return "–" if v is None else f"{100 * v:.1f}"

    lines = []
    if result.get("two_leads"):
        lines += ["Detector: both leads (`--two-leads`); classification on MLII.", ""]
    for study, title in (("nstdb", "NSTDB 118e*/119e* (after minute 5)"),
                         ("mixes", "DS2 records + bw/em/ma noise")):  # fmt: skip
        lines += [f"### {title}", "",
                  "| SNR dB | beats | Se % | +P % | FP | accuracy % | S Se % | V Se % |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
        for key in sorted(result[study], key=_order):
            s = result[study][key]
            lines.append(
                f"| {key} | {s['tp'] + s['fn']} | {pct(s['se'])} | {pct(s['ppv'])} | {s['fp']} | "
                f"{pct(s['accuracy'])} | {pct(s['S_se'])} | {pct(s['V_se'])} |"
            )
        lines.append("")
    return "\n".join(lines)


def plot(result: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from edge_ecg.atomic import atomic_path

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    for ax, study in zip(axes, ("nstdb", "mixes"), strict=True):
        keys = [str(int(s)) for s in result["snrs"] if str(int(s)) in result[study]]
        x = [float(k) for k in keys]
        for metric, label in (("se", "detector Se"), ("ppv", "detector +P"),
                              ("accuracy", "class accuracy")):  # fmt: skip
            ax.plot(x, [100 * result[study][k][metric] for k in keys], "o-", label=label)
            ax.axhline(100 * result[study]["clean"][metric], ls=":", lw=0.8,
                       color=ax.lines[-1].get_color())  # fmt: skip
        ax.invert_xaxis()
        ax.set_xlabel("SNR (dB); dotted: clean")
        ax.set_title("NSTDB 118e/119e" if study == "nstdb" else "DS2 + bw/em/ma")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("%")
    axes[0].legend()
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
