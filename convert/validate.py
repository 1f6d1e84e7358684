"""The drift gate: does a candidate model classify the same real beats as its reference?

It takes two predictors (anything with ``predict(windows, rr) -> probabilities``, such as
``edge_ecg.models.load_model``) and knows nothing of how either was made. Both run on the same
beats; the report holds both sides' metrics in the evaluate layout, their deltas (candidate
minus reference), the argmax agreement, and how far the output probabilities moved:

- ``cosine``: mean over beats of the cosine similarity of the two probability vectors;
- ``rmse`` and ``max_abs``: over every probability of every beat;
- ``snr_db``: 10 log10(sum p_ref^2 / sum (p_cand - p_ref)^2); null when identical (infinite);
- ``kl``: mean over beats of KL(p_ref || p_cand) in nats, probabilities clipped at 1e-7 so that
  an int8 zero does not make it infinite.

The gate passes when every threshold in ``Thresholds`` holds.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass

import numpy as np

from edge_ecg.metrics import evaluate_predictions, percent
from edge_ecg.spec import CLASSES

#: Beats per predict call: one progress-bar step.
CHUNK = 2048
KL_EPS = 1e-7


@dataclass(frozen=True)
class Thresholds:
    """The gate's limits, in the units users think in (percentage points and percent)."""

    #: accuracy may drop by at most this many percentage points.
    max_acc_drop: float = 0.5
    #: at least this percent of beats get the same class from both models.
    min_agreement: float = 99.5
    #: no class with support may lose more sensitivity than this many percentage points.
    max_class_se_drop: float = 2.0


def predict_all(
    model, windows: np.ndarray, rr: np.ndarray, bar: Callable[[Iterable, str], Iterator]
) -> np.ndarray:
    """Probabilities of every beat, in chunks under a progress bar."""
    starts = range(0, len(windows), CHUNK)
    label = f"{getattr(model, 'path', 'model')}"
    parts = [
        np.asarray(model.predict(windows[s : s + CHUNK], rr[s : s + CHUNK]), np.float32)
        for s in bar(starts, label)
    ]
    return np.concatenate(parts) if parts else np.zeros((0, len(CLASSES)), np.float32)


def probability_drift(reference: np.ndarray, candidate: np.ndarray) -> dict:
    """How far the candidate's probabilities are from the reference's (module docstring)."""
    ref = np.asarray(reference, np.float64)
    cand = np.asarray(candidate, np.float64)
    diff = cand - ref
    norms = np.linalg.norm(ref, axis=1) * np.linalg.norm(cand, axis=1)
    cosine = np.sum(ref * cand, axis=1) / np.where(norms > 0, norms, 1)
    noise = float(np.sum(diff**2))
    p = np.clip(ref, KL_EPS, 1)
    q = np.clip(cand, KL_EPS, 1)
    kl = np.sum(p * (np.log(p) - np.log(q)), axis=1)
    return {
        "cosine": float(np.mean(cosine)),
        "rmse": float(np.sqrt(np.mean(diff**2))),
        "max_abs": float(np.max(np.abs(diff))),
        "snr_db": float(10 * np.log10(np.sum(ref**2) / noise)) if noise > 0 else None,
        "kl": float(np.mean(kl)),
    }


def _delta(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else b - a


def gate_failures(report: dict, thresholds: Thresholds) -> list[str]:
    """One line per broken threshold, saying by how much."""
    failures = []
    agreement = 100 * report["agreement"]
    if agreement < thresholds.min_agreement:
        failures.append(
            f"agreement {agreement:.2f} % < {thresholds.min_agreement:g} % "
            f"(short by {thresholds.min_agreement - agreement:.2f} pp)"
        )
    drop = -100 * (report["delta"]["accuracy"] or 0.0)
    if drop > thresholds.max_acc_drop:
        failures.append(
            f"accuracy dropped {drop:.2f} pp > {thresholds.max_acc_drop:g} pp "
            f"(over by {drop - thresholds.max_acc_drop:.2f} pp)"
        )
    for c in CLASSES:
        if not report["reference"]["classes"][c]["support"]:
            continue
        se = report["delta"]["classes"][c]["se"]
        drop = -100 * (se or 0.0)
        if drop > thresholds.max_class_se_drop:
            failures.append(
                f"{c} sensitivity dropped {drop:.2f} pp > {thresholds.max_class_se_drop:g} pp "
                f"(over by {drop - thresholds.max_class_se_drop:.2f} pp)"
            )
    return failures


def compare(
    reference,
    candidate,
    windows: np.ndarray,
    rr: np.ndarray,
    labels: np.ndarray,
    records: np.ndarray | None = None,
    thresholds: Thresholds = Thresholds(),
    bar: Callable[[Iterable, str], Iterator] = lambda items, label: iter(items),
) -> dict:
    """The full validate report of ``candidate`` against ``reference`` on these beats."""
    p_ref = predict_all(reference, windows, rr, bar)
    p_cand = predict_all(candidate, windows, rr, bar)
    return report_from_probabilities(p_ref, p_cand, labels, records, thresholds)


def report_from_probabilities(
    p_ref: np.ndarray,
    p_cand: np.ndarray,
    labels: np.ndarray,
    records: np.ndarray | None = None,
    thresholds: Thresholds = Thresholds(),
) -> dict:
    """The report layout from both models' probabilities (see ``compare``)."""
    ref = evaluate_predictions(labels, p_ref.argmax(1), records)
    cand = evaluate_predictions(labels, p_cand.argmax(1), records)
    report = {
        "passed": False,
        "failures": [],
        "agreement": float(np.mean(p_ref.argmax(1) == p_cand.argmax(1))),
        "reference": ref,
        "candidate": cand,
        "delta": {
            "accuracy": _delta(ref["accuracy"], cand["accuracy"]),
            "classes": {
                c: {
                    "se": _delta(ref["classes"][c]["se"], cand["classes"][c]["se"]),
                    "ppv": _delta(ref["classes"][c]["ppv"], cand["classes"][c]["ppv"]),
                }
                for c in CLASSES
            },
        },
        "probabilities": probability_drift(p_ref, p_cand),
        "thresholds": asdict(thresholds),
    }
    report["failures"] = gate_failures(report, thresholds)
    report["passed"] = not report["failures"]
    return report


def _pp(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:+.2f}"


def markdown(report: dict, reference: str, candidate: str) -> str:
    """The report as Markdown: verdict, side-by-side metrics, drift, both confusions."""
    ref, cand, delta = report["reference"], report["candidate"], report["delta"]
    verdict = "PASSED" if report["passed"] else "FAILED: " + "; ".join(report["failures"])
    t = report["thresholds"]
    lines = [
        f"# Drift gate: {verdict}",
        "",
        f"- reference: `{reference}`",
        f"- candidate: `{candidate}`",
        f"- beats: {ref['beats']}; thresholds: accuracy drop <= {t['max_acc_drop']:g} pp, "
        f"agreement >= {t['min_agreement']:g} %, class Se drop <= {t['max_class_se_drop']:g} pp",
        f"- argmax agreement: {100 * report['agreement']:.2f} %",
        "",
        "| | reference | candidate | delta (pp) |",
        "|---|---:|---:|---:|",
        f"| accuracy % | {percent(ref['accuracy'], 2)} | {percent(cand['accuracy'], 2)} | "
        f"{_pp(delta['accuracy'])} |",
    ]
    for c in CLASSES:
        for key, name in (("se", "Se"), ("ppv", "+P")):
            lines.append(
                f"| {c} {name} % | {percent(ref['classes'][c][key], 2)} | "
                f"{percent(cand['classes'][c][key], 2)} | {_pp(delta['classes'][c][key])} |"
            )
    p = report["probabilities"]
    snr = "∞" if p["snr_db"] is None else f"{p['snr_db']:.1f}"
    lines += [
        "",
        f"Probabilities: cosine {p['cosine']:.6f}, RMSE {p['rmse']:.5f}, max |error| "
        f"{p['max_abs']:.4f}, SNR {snr} dB, KL {p['kl']:.2e} nats.",
        "",
    ]
    for title, result in (("Reference", ref), ("Candidate", cand)):
        lines += [f"{title} confusion (rows reference class, columns predicted):", ""]
        lines.append("| | " + " | ".join(CLASSES) + " |")
        lines.append("|---|" + "---:|" * len(CLASSES))
        for c, row in zip(CLASSES, result["confusion"], strict=True):
            lines.append(f"| {c} | " + " | ".join(str(v) for v in row) + " |")
        lines.append("")
    return "\n".join(lines)
