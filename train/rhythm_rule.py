"""Would a rule, not a retrained model, keep fibrillation's normal beats from being called S?

AAMI labels every beat of atrial fibrillation N: where the rhythm is irregular throughout, an
early beat is not an ectopic one. Holter software commonly stops calling beats supraventricular
there. This study measures that rule on a trained model's predictions (default: the shipped
int8 file): a beat the model calls S becomes N when the rhythm before it is irregular, i.e. its
``irregularity_32`` (``train.rhythm``: median absolute successive RR difference over the last 32
intervals, over their median RR) exceeds a threshold. The threshold is chosen on the DS1
training records (best macro-F1 over N, S, V, F), checked on the DS1 hold-out, and only then
read on DS2. The runtime applies the chosen rule on request (``edge_ecg.rhythm``,
``--rhythm-rule``).

    python -m train.rhythm_rule --data-dir ../shared/data --json docs/results/rhythm-rule.json \\
        --md docs/results/rhythm-rule.md
"""

from __future__ import annotations

import click
import numpy as np

from edge_ecg.cli import EdgeEcgCommand
from edge_ecg.metrics import evaluate_predictions, percent
from edge_ecg.options import data_dir_option, json_option
from edge_ecg.rhythm import rhythm_rule

from .beatset import load_beats
from .config import HOLDOUT
from .gbt import study_figures
from .rhythm import false_s, rule_irregularity
from .study_output import emit_study, md_option

THRESHOLDS = (0.05, 0.08, 0.1, 0.15, 0.2, 0.3)


def suppress_s(pred: np.ndarray, irregularity: np.ndarray, threshold: float | None) -> np.ndarray:
    """``pred`` with S turned into N where ``irregularity`` exceeds ``threshold`` (None: off);
    the runtime's rule (``edge_ecg.rhythm``) at another threshold."""
    return pred.copy() if threshold is None else rhythm_rule(pred, irregularity, threshold)


def _figures(labels: np.ndarray, pred: np.ndarray, records: np.ndarray) -> dict:
    m = evaluate_predictions(labels, pred, records)
    return {**study_figures(m), **false_s(m)}


def study(data_dir, model: str | None) -> dict:
    """Every threshold (and none) on DS1 training, DS1 hold-out and DS2; the one chosen."""
    from edge_ecg.classify import Classifier

    clf = Classifier(model)
    ds1, ds2 = load_beats(data_dir, "DS1"), load_beats(data_dir, "DS2")
    sets = {
        "ds1_train": ds1.select([r for r in np.unique(ds1.records) if r not in HOLDOUT]),
        "ds1_holdout": ds1.select(list(HOLDOUT)),
        "ds2": ds2,
    }
    # the model's classes and each beat's irregularity, once per set: only the rule varies
    seen = {
        name: (clf.predict(b.windows, b.rr).argmax(1), rule_irregularity(b), b)
        for name, b in sets.items()
    }
    rows = []
    for threshold in (None, *THRESHOLDS):
        row: dict = {"threshold": threshold}
        for name, (pred, irregular, beats) in seen.items():
            ruled = suppress_s(pred, irregular, threshold)
            row[name] = _figures(beats.labels, ruled, beats.records)
        rows.append(row)
    chosen = max(rows[1:], key=lambda r: r["ds1_train"]["macro_f1"])["threshold"]
    return {"model": model or "shipped", "rows": rows, "chosen": chosen}


def markdown(result: dict) -> str:
    lines = [
        f"Model: {result['model']}; threshold chosen on DS1 training records: {result['chosen']}.",
        "",
        "| irregularity_32 > | DS1 train macro-F1 % | hold-out macro-F1 % | hold-out acc. % | "
        "DS2 acc. % | DS2 macro-F1 % | S Se % | S +P % | S Se in 232 % | "
        "N called S (AF records) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        t, h, d = r["ds1_train"], r["ds1_holdout"], r["ds2"]
        name = "off" if r["threshold"] is None else f"{r['threshold']:g}"
        if r["threshold"] == result["chosen"]:
            name = f"**{name}** (chosen)"
        lines.append(
            f"| {name} | {percent(t['macro_f1'])} | {percent(h['macro_f1'])} | "
            f"{percent(h['accuracy'], 2)} | {percent(d['accuracy'], 2)} | "
            f"{percent(d['macro_f1'])} | "
            f"{percent(d['S_se'])} | {percent(d['S_ppv'])} | {percent(d['S_se_232'])} | "
            f"{d['N_as_S']} ({d['N_as_S_af']}) |"
        )
    return "\n".join(lines) + "\n"


@click.command(cls=EdgeEcgCommand, help=__doc__.split("\n\n")[0])
@data_dir_option
@click.option("--model", type=click.Path(dir_okay=False, exists=True), help="Default: shipped.")
@json_option("every threshold's figures")
@md_option
def main(data_dir, model: str | None, json_path: str | None, md_path: str | None) -> None:
    emit_study(study(data_dir, model), markdown, json_path, md_path)


if __name__ == "__main__":
    main()
