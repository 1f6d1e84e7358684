"""Inter-patient vs patient-adaptive, arm by arm, scored on the same beats.

Each arm is trained twice per seed: on the inputs the runtime makes today, and calibrated on
each record's normal beats of its first 5 minutes (``calibrated: true``,
:mod:`.patient_adaptive`). Both are scored on the DS2 beats after minute 5, the beats the
patient-adaptive protocol may score, so the rows compare like with like:

    python -m train.adaptive_study run --data-dir ../shared/data --runs runs/adaptive
    python -m train.adaptive_study summarize --runs runs/adaptive \\
        --json docs/results/adaptive.json --md docs/results/adaptive.md
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np

from edge_ecg.atomic import write_json
from edge_ecg.cli import EdgeEcgGroup
from edge_ecg.errors import InputError
from edge_ecg.metrics import evaluate_predictions
from edge_ecg.options import data_dir_option, json_option
from edge_ecg.spec import CLASSES

from .beatset import BeatSet, load_beats
from .config import load_config
from .gbt import seed_summary, study_figures, summary_markdown, tree_inputs
from .patient_adaptive import calibrate_beats, calibration_stretch
from .study_output import emit_study, md_option

SEEDS = (0, 1, 2)
#: (name, arch, settings): the tree (also with rhythm features), the CNN alone, fusion, and the
#: shipped fusion recipe.
ARMS = (
    ("gbt", "gbt", {}),
    ("gbt-rhythm", "gbt", {"rhythm_features": True}),
    ("cnn", "cnn", {}),
    ("fusion", "fusion", {}),
    ("fusion-fq-realnoise", "fusion", {"fake_quant": True, "real_noise": 0.6}),
)
SCORED = "scored.json"
RUNS = click.option("--runs", "runs_dir", type=click.Path(file_okay=False), default="runs/adaptive")


def run_name(arm: str, calibrated: bool, seed: int) -> str:
    return f"{arm}{'-cal' if calibrated else ''}-s{seed}"


def score_run(out: Path, config, beats: BeatSet, keep: np.ndarray) -> dict:
    """EC57 metrics of a finished run (``model.keras`` or the tree's ``model.txt``) on the
    ``keep`` beats of ``beats`` (whole records, calibrated or not as the run was trained)."""
    scored_beats = beats.where(keep)
    if config.arch == "gbt":
        import lightgbm as lgb

        booster = lgb.Booster(model_file=str(out / "model.txt"))
        probs = booster.predict(tree_inputs(beats, config.rhythm_features)[keep])
    else:
        from edge_ecg.models import KerasModel

        model = KerasModel(out / "model.keras", calibrated=config.calibrated)
        probs = model.predict(scored_beats.windows, scored_beats.rr)
    return evaluate_predictions(scored_beats.labels, probs.argmax(1), scored_beats.records)


@click.group(cls=EdgeEcgGroup)
def cli() -> None:
    """Inter-patient vs patient-adaptive training (see the module docstring)."""


@cli.command()
@data_dir_option
@RUNS
@click.option("--arm", "arms", multiple=True, help="Only these arms (default all).")
def run(data_dir, runs_dir, arms) -> None:
    """Train every arm x protocol x seed not finished yet, and score it after minute 5."""
    from .gbt import train_gbt_run
    from .trainer import train_run

    ds2 = load_beats(data_dir, "DS2")
    calibrated_ds2 = calibrate_beats(ds2)
    test = {False: ds2, True: calibrated_ds2}
    keep = ~calibration_stretch(ds2)  # the same beats scored either way
    for name, arch, settings in ARMS:
        if arms and name not in arms:
            continue
        for calibrated in (False, True):
            for seed in SEEDS:
                out = Path(runs_dir) / run_name(name, calibrated, seed)
                if (out / SCORED).is_file():
                    continue
                config = load_config(None, arch=arch, seed=seed, calibrated=calibrated, **settings)
                click.echo(f"== {out}", err=True)
                (train_gbt_run if arch == "gbt" else train_run)(
                    config, data_dir, out, lambda m: click.echo(m, err=True)
                )
                write_json(out / SCORED, score_run(out, config, test[calibrated], keep))


@cli.command()
@RUNS
@json_option("the per-seed and summary figures")
@md_option
def summarize(runs_dir, json_path, md_path) -> None:
    """One row per arm and protocol: mean ± sd over the finished seeds."""
    rows: dict[str, dict] = {}
    for name, _, _ in ARMS:
        for calibrated in (False, True):
            runs = []
            for seed in SEEDS:
                out = Path(runs_dir) / run_name(name, calibrated, seed)
                if not (out / SCORED).is_file():
                    continue
                metrics = json.loads((out / SCORED).read_text())
                holdout = out / "history.json"
                history = json.loads(holdout.read_text()) if holdout.is_file() else {}
                runs.append(
                    {
                        "seed": seed,
                        **study_figures(metrics),
                        "holdout_macro_f1": history.get("holdout_macro_f1") or _holdout_f1(out),
                    }
                )
            if runs:
                label = f"{name}, {'patient-adaptive' if calibrated else 'inter-patient'}"
                rows[label] = seed_summary(runs)
    if not rows:
        raise InputError(f"{runs_dir}: no finished run (ARM-…-sSEED/{SCORED}); run 'run' first")
    result = {"labels": list(CLASSES), "seeds": list(SEEDS), "arms": rows}
    emit_study(result, _markdown, json_path, md_path)


def _holdout_f1(out: Path) -> float | None:
    path = out / "holdout.json"
    return json.loads(path.read_text())["macro_f1"] if path.is_file() else None


def _markdown(result: dict) -> str:
    return summary_markdown(
        result["arms"],
        "arm, protocol",
        result["seeds"],
        "every arm trained per protocol",
        extra={"hold-out macro-F1 %": ("holdout_macro_f1", 100.0)},
        beats="DS2 reference beats after each record's minute 5",
    )


if __name__ == "__main__":
    cli()
