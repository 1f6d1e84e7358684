"""The classic baseline of the ablation: a gradient-boosted tree on hand features of each beat.

It sees exactly what the networks see (the causal beat window and RR features from
``edge_ecg``), summarised into 43 numbers (the 11 RR features, the beat and its deviation at
12 points each, 8 QRS-region summaries), so the comparison isolates the classifier.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import click
import numpy as np

from edge_ecg.atomic import atomic_path, write_json
from edge_ecg.beat_summary import beat_summary
from edge_ecg.cli import EdgeEcgCommand
from edge_ecg.metrics import evaluate_predictions, headline_figures
from edge_ecg.options import data_dir_option, json_option
from edge_ecg.spec import CLASSES, PREPROCESSING_VERSION
from edge_ecg.splits import DS1

from .beatset import BeatSet, load_beats
from .config import RunConfig
from .patient_adaptive import PROTOCOL, calibrate_beats, evaluation_beats
from .study_output import emit_study, md_option
from .trainer import Log, class_weights

ROUNDS = 300
#: The figures a feature study reports, per seed and as mean and sd.
FIELDS = ("accuracy", "macro_f1", "S_se", "S_ppv", "V_se", "V_ppv", "F_se", "S_se_232")


#: The tree's features: ``edge_ecg.beat_summary`` (43 numbers a beat).
gbt_features = beat_summary


def study_figures(metrics: dict) -> dict:
    """A study row's figures (``FIELDS``): the headline ones, and S Se in record 232, which
    holds 75 % of DS2's S beats."""
    s232 = metrics["records"].get("232", {}).get("classes", {}).get("S", {})
    return {**headline_figures(metrics), "S_se_232": s232.get("se")}


def tree_inputs(beats: BeatSet, rhythm: bool = False) -> np.ndarray:
    """The tree's input rows for whole records' beats: the 43 summary numbers, and with
    ``rhythm`` the four rhythm features (from the R-peaks before each beat, so the beats of
    a record must all be there; subset after)."""
    x = gbt_features(beats.windows, beats.rr)
    if not rhythm:
        return x
    from .rhythm import rhythm_features

    return np.hstack([x, rhythm_features(beats)])


def fit_gbt(
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_hold: np.ndarray,
    y_hold: np.ndarray,
    seed: int,
    weight_power: float,
    beat_weights: np.ndarray | None = None,
):
    """LightGBM on weighted training beats (class weights, times ``beat_weights`` if given);
    the number of rounds is the one with the best macro-F1 on the held-out patients. Returns
    (booster, rounds, hold-out macro-F1)."""
    import lightgbm as lgb

    weights = class_weights(y_train, weight_power)
    w = np.array([weights.get(i, 0.0) for i in range(len(CLASSES))])[y_train]
    if beat_weights is not None:
        w = w * beat_weights
    params = {
        "objective": "multiclass",
        "num_class": len(CLASSES),
        "learning_rate": 0.05,
        "num_leaves": 31,
        "min_data_in_leaf": 50,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "feature_fraction": 0.5,
        "seed": seed,
        "num_threads": 2,
        "verbose": -1,
    }
    booster = lgb.train(params, lgb.Dataset(x_train, y_train, weight=w), ROUNDS)
    scores = []
    for rounds in range(25, ROUNDS + 1, 25):
        pred = booster.predict(x_hold, num_iteration=rounds).argmax(1)
        scores.append((evaluate_predictions(y_hold, pred)["macro_f1"] or 0.0, rounds))
    best_score, best_rounds = max(scores)
    return booster, best_rounds, best_score


def train_gbt_run(
    config: RunConfig,
    data_dir: str | os.PathLike[str] | None,
    out: str | os.PathLike[str],
    log: Log = print,
) -> dict:
    """Train LightGBM on DS1 (rounds chosen on the held-out DS1 patients), evaluate on DS2."""
    import json

    out = Path(out)
    if (out / "metrics.json").is_file():
        log(f"{out}: already finished, skipped")
        return json.loads((out / "metrics.json").read_text())
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "config.json", config.to_dict())
    ds1 = load_beats(data_dir, "DS1", config.lead)
    if config.calibrated:
        ds1 = calibrate_beats(ds1)
    write_json(out / "checksums.json", {"preprocessing": PREPROCESSING_VERSION, **ds1.checksums})
    train = ds1.select(config.records or [r for r in DS1 if r not in config.holdout])
    holdout = ds1.select(config.holdout)
    t0 = time.perf_counter()
    booster, best_rounds, best_score = fit_gbt(
        tree_inputs(train, config.rhythm_features),
        train.labels,
        tree_inputs(holdout, config.rhythm_features),
        holdout.labels,
        config.seed,
        config.class_weight_power,
    )
    seconds = time.perf_counter() - t0
    with atomic_path(out / "model.txt") as tmp:
        booster.save_model(str(tmp), num_iteration=best_rounds)
    write_json(
        out / "history.json",
        {
            "rounds": best_rounds,
            "holdout_macro_f1": best_score,
            "train_seconds": seconds,
            "train_beats": len(train),
            "class_weights": {
                CLASSES[k]: v
                for k, v in class_weights(train.labels, config.class_weight_power).items()
            },
        },
    )
    ds2, keep = evaluation_beats(data_dir, config)
    x = tree_inputs(ds2, config.rhythm_features)[keep]
    ds2 = ds2.where(keep)
    pred = booster.predict(x, num_iteration=best_rounds).argmax(1)
    metrics = evaluate_predictions(ds2.labels, pred, ds2.records)
    metrics["model"] = {"arch": "gbt", "width": None, "seed": config.seed}
    if config.calibrated:
        metrics["protocol"] = PROTOCOL
    write_json(out / "metrics.json", metrics)
    log(f"gbt: {best_rounds} rounds, DS2 accuracy {metrics['accuracy']:.4f}")
    return metrics


def compare_features(
    data_dir,
    seeds: tuple[int, ...],
    variants: dict[str, Callable[[BeatSet], np.ndarray]],
    extra: Callable[[dict], dict] | None = None,
) -> dict:
    """The tree on each variant of the features (a function of the beat set), per seed: DS1
    training beats, rounds chosen on the DS1 hold-out, DS2 scored. Per variant: its runs and
    the mean and sd over seeds of ``FIELDS``, the hold-out macro-F1 and what ``extra`` makes
    of the DS2 metrics."""

    from .config import load_config

    config = load_config(None, arch="gbt")
    ds1 = load_beats(data_dir, "DS1", config.lead)
    ds2 = load_beats(data_dir, "DS2", config.lead)
    train = ds1.select([r for r in DS1 if r not in config.holdout])
    holdout = ds1.select(config.holdout)
    out: dict = {}
    with click.progressbar(length=len(variants) * len(seeds), label="trees", file=None) as bar:
        for name, features in variants.items():
            x = [features(bs) for bs in (train, holdout, ds2)]
            runs = []
            for seed in seeds:
                t0 = time.perf_counter()
                booster, rounds, holdout_f1 = fit_gbt(
                    x[0], train.labels, x[1], holdout.labels, seed, config.class_weight_power
                )
                pred = booster.predict(x[2], num_iteration=rounds).argmax(1)
                metrics = evaluate_predictions(ds2.labels, pred, ds2.records)
                runs.append(
                    {
                        "seed": seed,
                        "rounds": rounds,
                        "holdout_macro_f1": holdout_f1,
                        **study_figures(metrics),
                        **(extra(metrics) if extra else {}),
                        "seconds": time.perf_counter() - t0,
                    }
                )
                bar.update(1)
            out[name] = seed_summary(runs)
    return out


def seed_summary(runs: list[dict]) -> dict:
    """The runs, and the mean and sd over seeds of each figure they share (rates a seed
    could not define, None, are left out of its mean)."""
    keys = [k for k in runs[0] if k not in ("seed", "rounds", "seconds")]
    stats = {f: [r[f] for r in runs if r[f] is not None] for f in keys}
    return {
        "runs": runs,
        "mean": {f: float(np.mean(v)) if v else None for f, v in stats.items()},
        "sd": {f: float(np.std(v, ddof=1)) if len(v) > 1 else None for f, v in stats.items()},
    }


def summary_markdown(
    summaries: dict,
    first: str,
    seeds,
    model: str = "LightGBM",
    extra: dict[str, tuple[str, float]] | None = None,
    beats: str = "DS2 reference beats",
) -> str:
    """A table of ``compare_features`` results, one row per variant; ``extra`` adds columns
    {title: (field, scale)} after the standard ones; ``beats`` says what was scored."""
    head = [first, "accuracy %", "macro-F1 %", "S Se %", "S +P %", "V Se %", "V +P %"]
    head += ["F Se %", "S Se in 232 %", *(extra or {})]
    columns = [(f, 100.0) for f in FIELDS] + list((extra or {}).values())
    lines = ["| " + " | ".join(head) + " |", "|---" + "|---:" * len(columns) + "|"]
    for name, r in summaries.items():
        cells = []
        for f, scale in columns:
            m, s = r["mean"][f], r["sd"][f]
            digits = 2 if scale == 100.0 else 0
            cells.append(
                "–" if m is None else f"{scale * m:.{digits}f} ± {scale * (s or 0):.{digits}f}"
            )
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    seeds = ", ".join(map(str, seeds))
    lines.append(f"\nmean ± sd over seeds {seeds}; {beats}; {model}.")
    return "\n".join(lines) + "\n"


def study_command(
    doc: str, study: Callable[..., dict], markdown: Callable[[dict], str], **extra
) -> click.Command:
    """The command line of a tree study (``study(data_dir, seeds)``): ``--seeds``, ``--json``,
    ``--md``; ``extra`` is written into the JSON beside the results."""

    @click.command(cls=EdgeEcgCommand, help=doc)
    @data_dir_option
    @click.option("--seeds", default="0,1,2", show_default=True, help="Comma-separated seeds.")
    @json_option("the per-seed and summary figures")
    @md_option
    def main(data_dir, seeds: str, json_path: str | None, md_path: str | None) -> None:
        result = study(data_dir, tuple(int(s) for s in seeds.split(",")))
        result["labels"] = list(CLASSES)
        result.update(extra)
        emit_study(result, markdown, json_path, md_path)

    return main
