"""Does a patient's calibration age? The published calibrated tree, minute by minute after it.

A calibration (:mod:`edge_ecg.calibration`) is fitted once on a record's first 5 minutes of
confirmed normal beats. MIT-BIH records last 30 minutes, so what can be measured is whether the
25 minutes after it are scored alike:

- **by time since calibration**: the calibrated tree with rhythm features
  (``models/gbt-calibrated/trees-rhythm.npz``) on DS2's beats in 5-minute bins from minute 5,
  beside the shipped inter-patient model on the same beats, a control for bins that are harder
  for any model (a change in rhythm, more ectopy);
- **stale against fresh**: on the beats of minutes 15-30, the same tree calibrated on minutes
  0-5 (the protocol) and on minutes 10-15 (fresher by 10 minutes; a study only, EC57 allows
  the first 5). If calibrations aged, the fresh one would score higher.

Reference R-peaks, as the protocol's figures in docs/results.md.

    python -m train.calibration_age --data-dir ../shared/data \\
        --json docs/results/calibration-age.json --md docs/results/calibration-age.md
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from edge_ecg.cli import EdgeEcgCommand
from edge_ecg.metrics import evaluate_predictions, headline_figures
from edge_ecg.models import load_model
from edge_ecg.options import data_dir_option, json_option

from .beatset import BeatSet, load_beats
from .patient_adaptive import MITDB_FS, calibrate_beats
from .rhythm import rhythm_features
from .study_output import emit_study, md_option

TREE = Path(__file__).resolve().parent.parent / "models" / "gbt-calibrated" / "trees-rhythm.npz"
#: Scored bins, minutes from the record's start.
BINS = ((5, 10), (10, 15), (15, 20), (20, 25), (25, 30.1))


def _figures(labels: np.ndarray, predicted: np.ndarray) -> dict:
    return {"beats": int(labels.size), **headline_figures(evaluate_predictions(labels, predicted))}


def study(data_dir, tree: str | Path = TREE) -> dict:
    beats = load_beats(data_dir, "DS2")
    model = load_model(tree, calibrated=True)
    shipped = load_model()
    rhythm = rhythm_features(beats)
    minute = beats.samples / MITDB_FS / 60

    def tree_labels(cal: BeatSet) -> np.ndarray:
        return np.argmax(model.predict(cal.windows, cal.rr, rhythm), axis=1)

    protocol = tree_labels(calibrate_beats(beats))
    fresh = tree_labels(calibrate_beats(beats, 15 * 60, start=10 * 60))
    plain = np.argmax(shipped.predict(beats.windows, beats.rr), axis=1)
    result: dict = {"tree": str(Path(tree).name), "bins": []}
    for lo, hi in BINS:
        keep = (minute >= lo) & (minute < hi)
        result["bins"].append(
            {
                "minutes": [lo, min(hi, 30)],
                "calibrated_tree": _figures(beats.labels[keep], protocol[keep]),
                "shipped_int8": _figures(beats.labels[keep], plain[keep]),
            }
        )
    late = minute >= 15
    result["minutes_15_30"] = {
        "calibrated_on_0_5": _figures(beats.labels[late], protocol[late]),
        "calibrated_on_10_15": _figures(beats.labels[late], fresh[late]),
    }
    return result


def _pct(v: float | None) -> str:
    return "–" if v is None else f"{100 * v:.1f}"


def markdown(result: dict) -> str:
    lines = [
        "| minutes | beats | calibrated tree: accuracy % | macro-F1 | S Se / +P % | V Se / +P % "
        "| shipped int8: accuracy % | macro-F1 |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for b in result["bins"]:
        t, s = b["calibrated_tree"], b["shipped_int8"]
        lines.append(
            f"| {b['minutes'][0]:g}-{b['minutes'][1]:g} | {t['beats']} | {_pct(t['accuracy'])} | "
            f"{_pct(t['macro_f1'])} | {_pct(t['S_se'])} / {_pct(t['S_ppv'])} | "
            f"{_pct(t['V_se'])} / {_pct(t['V_ppv'])} | {_pct(s['accuracy'])} | "
            f"{_pct(s['macro_f1'])} |"
        )
    lines += [
        "",
        "| minutes 15-30, calibrated on | accuracy % | macro-F1 | S Se / +P % | V Se / +P % |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, f in result["minutes_15_30"].items():
        lines.append(
            f"| {name.removeprefix('calibrated_on_').replace('_', '-')} min | "
            f"{_pct(f['accuracy'])} | {_pct(f['macro_f1'])} | {_pct(f['S_se'])} / "
            f"{_pct(f['S_ppv'])} | {_pct(f['V_se'])} / {_pct(f['V_ppv'])} |"
        )
    return "\n".join(lines) + "\n"


@click.command(cls=EdgeEcgCommand, help=__doc__.split("\n\n")[0])
@data_dir_option
@json_option("the figures")
@md_option
def main(data_dir, json_path: str | None, md_path: str | None) -> None:
    emit_study(study(data_dir), markdown, json_path, md_path)


if __name__ == "__main__":
    main()
