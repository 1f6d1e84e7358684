"""ANSI/AAMI EC57 beat-classification metrics: the one implementation every tool reports with.

``evaluate``, the drift gate in ``convert/`` and the reports in ``firmware_bench/`` all build
their numbers here, in the same JSON layout:

``{"accuracy": f, "macro_f1": f, "classes": {"N": {"se", "ppv", "f1", "spec", "support"}, ...},
"labels": ["N", "S", "V", "F", "Q"], "confusion": [[int] * 5] * 5, "records": {...}}``

Rows of the confusion matrix are the reference class, columns the predicted class. Rates are
fractions in [0, 1]; a rate whose denominator is zero is ``None`` (JSON null), never 0 or 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .spec import CLASSES

#: The classes macro-F1 averages over: Q has a handful of beats in MIT-BIH and is left out,
#: as in the inter-patient literature.
MACRO_CLASSES = ("N", "S", "V", "F")


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """5x5 counts, rows = reference class, columns = predicted class."""
    labels = np.asarray(labels, dtype=np.int64).ravel()
    predictions = np.asarray(predictions, dtype=np.int64).ravel()
    if labels.shape != predictions.shape:
        raise ValueError(f"{labels.size} labels but {predictions.size} predictions")
    k = len(CLASSES)
    for name, arr in (("labels", labels), ("predictions", predictions)):
        if arr.size and (arr.min() < 0 or arr.max() >= k):
            raise ValueError(f"{name} must be class indices 0..{k - 1}")
    return np.bincount(labels * k + predictions, minlength=k * k).reshape(k, k)


def _ratio(num: float, den: float) -> float | None:
    return float(num / den) if den > 0 else None


def class_metrics(confusion: np.ndarray) -> dict[str, dict]:
    """Se, +P, F1, specificity and support of every class from a confusion matrix."""
    cm = np.asarray(confusion, dtype=np.int64)
    total = int(cm.sum())
    out: dict[str, dict] = {}
    for i, name in enumerate(CLASSES):
        tp = int(cm[i, i])
        fn = int(cm[i].sum()) - tp
        fp = int(cm[:, i].sum()) - tp
        tn = total - tp - fn - fp
        se = _ratio(tp, tp + fn)
        ppv = _ratio(tp, tp + fp)
        f1 = _ratio(2 * tp, 2 * tp + fn + fp) if tp + fn > 0 else None
        out[name] = {
            "se": se,
            "ppv": ppv,
            "f1": f1,
            "spec": _ratio(tn, tn + fp),
            "support": tp + fn,
        }
    return out


def macro_f1(classes: Mapping[str, Mapping], over: Sequence[str] = MACRO_CLASSES) -> float | None:
    """Mean F1 over the classes in ``over`` that have support."""
    values = [classes[c]["f1"] for c in over if classes[c]["f1"] is not None]
    return float(np.mean(values)) if values else None


def summarize(confusion: np.ndarray) -> dict:
    """The evaluate-layout block (without ``records``) of one confusion matrix."""
    cm = np.asarray(confusion, dtype=np.int64)
    classes = class_metrics(cm)
    total = int(cm.sum())
    return {
        "accuracy": _ratio(int(np.trace(cm)), total),
        "macro_f1": macro_f1(classes),
        "beats": total,
        "classes": classes,
        "labels": list(CLASSES),
        "confusion": cm.tolist(),
    }


def evaluate_predictions(
    labels: np.ndarray, predictions: np.ndarray, records: np.ndarray | None = None
) -> dict:
    """Gross metrics plus, when ``records`` names each beat's record, a per-record table."""
    labels = np.asarray(labels)
    predictions = np.asarray(predictions)
    out = summarize(confusion_matrix(labels, predictions))
    out["records"] = {}
    if records is not None:
        records = np.asarray(records)
        for name in sorted(set(records.tolist())):
            mask = records == name
            rec = summarize(confusion_matrix(labels[mask], predictions[mask]))
            out["records"][str(name)] = {
                "accuracy": rec["accuracy"],
                "beats": rec["beats"],
                "classes": {
                    c: {k: v[k] for k in ("se", "ppv", "support")}
                    for c, v in rec["classes"].items()
                },
                "confusion": rec["confusion"],
            }
    return out


def headline_figures(metrics: Mapping) -> dict[str, float | None]:
    """The figures every comparison table shows: accuracy, macro-F1, S/V Se and +P, F Se."""
    c = metrics["classes"]
    return {
        "accuracy": metrics["accuracy"],
        "macro_f1": metrics["macro_f1"],
        "S_se": c["S"]["se"],
        "S_ppv": c["S"]["ppv"],
        "V_se": c["V"]["se"],
        "V_ppv": c["V"]["ppv"],
        "F_se": c["F"]["se"],
    }


def percent(value: float | None, digits: int = 1) -> str:
    """A fraction as a percentage for tables; '–' for an undefined rate."""
    return "–" if value is None else f"{100 * value:.{digits}f}"


def markdown_summary(result: Mapping) -> str:
    """A short Markdown table of an evaluate-layout result."""
    lines = [
        f"accuracy {percent(result['accuracy'], 2)} %, macro-F1 (N S V F) "
        f"{percent(result['macro_f1'], 1)}, {result['beats']} beats",
        "",
        "| class | support | Se % | +P % | F1 % | Spec % |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for c in CLASSES:
        m = result["classes"][c]
        lines.append(
            f"| {c} | {m['support']} | {percent(m['se'])} | {percent(m['ppv'])} | "
            f"{percent(m['f1'])} | {percent(m['spec'])} |"
        )
    lines += ["", "Confusion (rows reference, columns predicted):", ""]
    lines.append("| | " + " | ".join(CLASSES) + " |")
    lines.append("|---|" + "---:|" * len(CLASSES))
    for c, row in zip(CLASSES, result["confusion"], strict=True):
        lines.append(f"| {c} | " + " | ".join(str(v) for v in row) + " |")
    return "\n".join(lines) + "\n"
