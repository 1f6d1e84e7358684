"""What causal patient statistics cost: the tree on causal, record-to-date and whole-record
normalisation of the same beats.

A device knows only the beats so far, so ``edge_ecg`` normalises each beat by *running*
statistics (median beat and RR history of the last beats). A classic baseline normalises by
the whole record's statistics, which needs the future. This study re-normalises the cached
beats three ways and trains the same LightGBM on each, several seeds, DS1 -> DS2:

- ``causal``: what the runtime feeds every model (running median beat of 32 beats, RR medians
  over 8 and 128 beats, RR mean over 128).
- ``record-to-date``: every statistic over all beats of the record so far (still causal).
- ``whole-record``: every statistic over the whole record (not possible on a device).

Only the patient statistics change: the median beat the deviation channel subtracts, and the
long-term RR median and mean the RR ratios divide by. The amplitude scale stays the running
one in all three (the cached windows are already divided by it).

    python -m train.causality --data-dir ../shared/data --json docs/results/causality.json \\
        --md docs/results/causality.md
"""

from __future__ import annotations

import time

import click
import numpy as np

from edge_ecg.atomic import write_json, write_text
from edge_ecg.beats import CLIP, MAX_RATIO
from edge_ecg.metrics import headline_figures
from edge_ecg.options import data_dir_option, json_option
from edge_ecg.spec import CLASSES
from edge_ecg.splits import DS1

from .beatset import BeatSet, load_beats
from .config import load_config
from .gbt import fit_gbt, gbt_features

MODES = ("causal", "record-to-date", "whole-record")
#: The record-to-date median beat is recomputed every this many beats (exact per beat costs
#: minutes for nothing: it moves slowly once a few hundred beats are in).
REFRESH = 16
FIELDS = ("accuracy", "macro_f1", "S_se", "S_ppv", "V_se", "V_ppv", "F_se")


def _expanding_median(x: np.ndarray) -> np.ndarray:
    """Median of x[: i + 1] for every i."""
    return np.array([np.median(x[: i + 1]) for i in range(x.size)])


def renormalise(beats: BeatSet, mode: str) -> tuple[np.ndarray, np.ndarray]:
    """(windows, rr) of ``beats`` with the patient statistics of ``mode`` (see module doc)."""
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}: expected one of {MODES}")
    windows, rr = beats.windows.copy(), beats.rr.copy()
    if mode == "causal":
        return windows, rr
    for record in np.unique(beats.records):
        idx = np.flatnonzero(beats.records == record)
        idx = idx[np.argsort(beats.samples[idx], kind="stable")]
        beat = beats.windows[idx, :, 0].astype(np.float64)
        pre, post, local = (beats.rr[idx, k].astype(np.float64) for k in range(3))
        if mode == "whole-record":
            median_beat = np.broadcast_to(np.median(beat, 0), beat.shape)
            long = np.full(idx.size, np.median(pre))
            mean = np.full(idx.size, pre.mean())
        else:
            # The first block keeps the running median beat (beat minus deviation channel).
            median_beat = beat - beats.windows[idx, :, 1]
            for start in range(REFRESH, idx.size, REFRESH):
                median_beat[start : start + REFRESH] = np.median(beat[:start], 0)
            long = _expanding_median(pre)
            mean = np.cumsum(pre) / np.arange(1, idx.size + 1)
        windows[idx, :, 1] = np.clip(beat - median_beat, -CLIP, CLIP)
        ratios = np.stack(
            [pre / long, post / long, local / long, pre / post, pre / mean, post / mean], 1
        )
        rr[idx, 3] = long
        rr[idx, 4] = mean
        rr[idx, 5:] = np.clip(ratios, 0.0, MAX_RATIO)
    return windows, rr


def study(data_dir, seeds: tuple[int, ...], modes: tuple[str, ...] = MODES) -> dict:
    """Train the tree per mode and seed on DS1 (rounds chosen on the DS1 hold-out), score DS2."""
    from edge_ecg.metrics import evaluate_predictions

    config = load_config(None, arch="gbt")
    ds1 = load_beats(data_dir, "DS1", config.lead)
    ds2 = load_beats(data_dir, "DS2", config.lead)
    train = ds1.select([r for r in DS1 if r not in config.holdout])
    holdout = ds1.select(config.holdout)
    result: dict = {"seeds": list(seeds), "modes": {}}
    with click.progressbar(length=len(modes) * len(seeds), label="trees", file=None) as bar:
        for mode in modes:
            x = {
                name: gbt_features(*renormalise(bs, mode))
                for name, bs in (("train", train), ("holdout", holdout), ("ds2", ds2))
            }
            runs = []
            for seed in seeds:
                t0 = time.perf_counter()
                booster, rounds, _ = fit_gbt(
                    x["train"],
                    train.labels,
                    x["holdout"],
                    holdout.labels,
                    seed,
                    config.class_weight_power,
                )
                pred = booster.predict(x["ds2"], num_iteration=rounds).argmax(1)
                metrics = evaluate_predictions(ds2.labels, pred, ds2.records)
                s232 = metrics["records"].get("232", {}).get("classes", {}).get("S", {})
                runs.append(
                    {
                        "seed": seed,
                        "rounds": rounds,
                        **headline_figures(metrics),
                        "S_se_232": s232.get("se"),
                        "seconds": time.perf_counter() - t0,
                    }
                )
                bar.update(1)
            stats = {f: [r[f] for r in runs if r[f] is not None] for f in (*FIELDS, "S_se_232")}
            result["modes"][mode] = {
                "runs": runs,
                "mean": {f: float(np.mean(v)) if v else None for f, v in stats.items()},
                "sd": {
                    f: float(np.std(v, ddof=1)) if len(v) > 1 else None for f, v in stats.items()
                },
            }
    return result


def markdown(result: dict) -> str:
    head = ["statistics", "accuracy %", "macro-F1 %", "S Se %", "S +P %", "V Se %", "V +P %"]
    head += ["F Se %", "S Se in 232 %"]
    lines = ["| " + " | ".join(head) + " |", "|---" + "|---:" * 8 + "|"]
    for mode, r in result["modes"].items():
        cells = []
        for f in (*FIELDS, "S_se_232"):
            m, s = r["mean"][f], r["sd"][f]
            cells.append("–" if m is None else f"{100 * m:.2f} ± {100 * (s or 0):.2f}")
        lines.append(f"| {mode} | " + " | ".join(cells) + " |")
    seeds = ", ".join(map(str, result["seeds"]))
    lines.append(f"\nmean ± sd over seeds {seeds}; DS2 reference beats; LightGBM on 46 features.")
    return "\n".join(lines) + "\n"


@click.command()
@data_dir_option
@click.option("--seeds", default="0,1,2", show_default=True, help="Comma-separated seeds.")
@json_option("the per-seed and summary figures")
@click.option("--md", "md_path", type=click.Path(dir_okay=False), help="Markdown table to PATH.")
def main(data_dir, seeds: str, json_path: str | None, md_path: str | None) -> None:
    """Cost of causal patient statistics, measured with the tree (see the module docstring)."""
    result = study(data_dir, tuple(int(s) for s in seeds.split(",")))
    result["labels"] = list(CLASSES)
    if json_path:
        write_json(json_path, result)
    text = markdown(result)
    if md_path:
        write_text(md_path, text)
    click.echo(text)


if __name__ == "__main__":
    main()
