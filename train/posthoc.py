"""Questions asked of a patient-specific network study's saved probabilities
(``network --probabilities``), without fine-tuning again: where each arm's false S and V
calls are, and what the runtime's rhythm rule would change."""

from __future__ import annotations

import zipfile

import numpy as np

from edge_ecg.errors import InputError
from edge_ecg.metrics import evaluate_predictions, headline_figures, percent
from edge_ecg.spec import CLASSES

from .beatset import BeatSet
from .patient_adaptive import calibration_stretch

#: The arrays a probabilities file holds besides one per arm: the split its beats are from,
#: and their labels, records and each record's labelled-minute class counts.
BEATS = ("split", "labels", "records", "labelled")
#: The figures of the rule table: (headline figure, decimals).
COLUMNS = (("accuracy", 2), ("macro_f1", 1), ("S_se", 1), ("S_ppv", 1), ("V_se", 1),
           ("V_ppv", 1))  # fmt: skip


def arms(probabilities: dict) -> list[str]:
    """The arms (untuned, and each recipe, precision and seed) of a probabilities file."""
    return [k for k in probabilities if k not in BEATS]


def read_probabilities(path: str) -> dict:
    """The arrays of a 'network --probabilities' file, or one line saying why not."""
    try:
        with np.load(path) as z:
            kept = {k: z[k] for k in z.files}
    except OSError as e:
        raise InputError(f"{path}: cannot read it ({e.strerror or e})") from None
    except (ValueError, AttributeError, TypeError, zipfile.BadZipFile):
        kept = {}
    if not set(BEATS) <= kept.keys():
        raise InputError(f"{path}: not a .npz written by 'network --probabilities'")
    return kept


def false_calls(probabilities: dict, classes: tuple[str, ...] = ("S", "V")) -> dict:
    """Per arm of a ``network_study(probabilities=...)`` and per class in ``classes``: the
    beats wrongly called that class, per record (most first), with what they truly are,
    and how many beats of the class the record's labelled minutes held."""
    labels, records = probabilities["labels"], probabilities["records"]
    names = np.unique(records).tolist()
    labelled = dict(zip(names, probabilities["labelled"].tolist(), strict=True))
    out: dict = {}
    for arm in arms(probabilities):
        pred = probabilities[arm].argmax(1)
        out[arm] = {}
        for name in classes:
            c = CLASSES.index(name)
            wrong = (pred == c) & (labels != c)
            rows = []
            for r in names:
                truly = np.bincount(labels[wrong & (records == r)], minlength=len(CLASSES))
                if truly.sum():
                    rows.append({"record": r, "false": int(truly.sum()),
                                 "truly": dict(zip(CLASSES, truly.tolist(), strict=True)),
                                 "labelled": int(labelled[r][c])})  # fmt: skip
            rows.sort(key=lambda row: -row["false"])
            out[arm][name] = {"false": int(wrong.sum()), "called": int(np.sum(pred == c)),
                              "records": rows}  # fmt: skip
    return out


def false_calls_markdown(result: dict) -> str:
    lines = ["| arm | class | false / called | most false in (record: false, and beats of "
             "the class among its labelled ones) |", "|---|---|---:|---|"]  # fmt: skip
    for arm, per_class in result.items():
        for name, f in per_class.items():
            top = ", ".join(
                f"{r['record']}: {r['false']} ({r['labelled']})" for r in f["records"][:5]
            )
            lines.append(f"| {arm} | {name} | {f['false']} / {f['called']} | {top} |")
    return "\n".join(lines) + "\n"


def with_rhythm_rule(probabilities: dict, target: BeatSet, threshold: float) -> dict:
    """Every arm's figures without and with the runtime's rhythm rule (S becomes N where the
    rhythm before the beat is irregular, ``edge_ecg.rhythm``); irregularity is measured over
    whole records, so a scored beat's history reaches into its labelled minutes."""
    from edge_ecg.rhythm import rhythm_rule

    from .rhythm import rule_irregularity

    scored = ~calibration_stretch(target)
    if not np.array_equal(probabilities["labels"], target.labels[scored]):
        raise InputError("these probabilities were not written for this split (the beats differ)")
    irregular = rule_irregularity(target)[scored]

    def figures(pred: np.ndarray) -> dict:
        return headline_figures(evaluate_predictions(probabilities["labels"], pred))

    out: dict = {}
    for arm in arms(probabilities):
        pred = probabilities[arm].argmax(1)
        out[arm] = {"off": figures(pred), "rule": figures(rhythm_rule(pred, irregular, threshold))}
    return out


def rule_markdown(result: dict) -> str:
    lines = [
        f"| {result['split']} after minute 5 | rhythm rule (> {result['threshold']:g}) | "
        "accuracy % | macro-F1 % | S Se % | S +P % | V Se % | V +P % |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for arm, both in result["figures"].items():
        for ruled, f in both.items():
            cells = [percent(f[k], d) for k, d in COLUMNS]
            lines.append(f"| {arm} | {ruled} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
