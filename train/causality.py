"""What causal patient statistics cost: the tree on causal, record-to-date and whole-record
normalisation of the same beats (and on a label-leaking one, to see what it would buy).

A device knows only the beats so far, so ``edge_ecg`` normalises each beat by *running*
statistics (median beat and RR history of the last beats). A classic baseline normalises by
the whole record's statistics, which needs the future. This study re-normalises the cached
beats four ways (the fourth a deliberate label leak) and trains the same LightGBM on each,
several seeds, DS1 -> DS2:

- ``causal``: what the runtime feeds every model (running median beat of 32 beats, RR medians
  over 8 and 128 beats, RR mean over 128).
- ``record-to-date``: every statistic over all beats of the record so far (still causal).
- ``whole-record``: every statistic over the whole record (not possible on a device).
- ``whole-record-N``: the same over the record's beats *labelled N* only: a label leak no
  device and no honest evaluation has, measured to see what a baseline that normalised "to the
  patient's normal beats" with the reference labels would gain (record 232, docs/results.md).

Only the patient statistics change: the median beat the deviation channel subtracts, and the
long-term RR median and mean the RR ratios divide by. The amplitude scale stays the running
one in all three (the cached windows are already divided by it).

    python -m train.causality --data-dir ../shared/data --json docs/results/causality.json \\
        --md docs/results/causality.md
"""

from __future__ import annotations

import numpy as np

from edge_ecg.beats import CLIP, MAX_RATIO, rr_ratios

from .beatset import BeatSet
from .gbt import compare_features, gbt_features, study_command, summary_markdown

MODES = ("causal", "record-to-date", "whole-record", "whole-record-N")
#: A record with fewer N beats than this keeps all its beats for ``whole-record-N``.
MIN_N = 10
#: The record-to-date median beat is recomputed every this many beats (exact per beat costs
#: minutes for nothing: it moves slowly once a few hundred beats are in).
REFRESH = 16


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
        if mode.startswith("whole-record"):
            normal = beats.labels[idx] == 0
            if mode == "whole-record" or normal.sum() < MIN_N:
                normal = np.ones(idx.size, dtype=bool)
            median_beat = np.broadcast_to(np.median(beat[normal], 0), beat.shape)
            long = np.full(idx.size, np.median(pre[normal]))
            mean = np.full(idx.size, pre[normal].mean())
        else:
            # The first block keeps the running median beat (beat minus deviation channel).
            median_beat = beat - beats.windows[idx, :, 1]
            for start in range(REFRESH, idx.size, REFRESH):
                median_beat[start : start + REFRESH] = np.median(beat[:start], 0)
            long = _expanding_median(pre)
            mean = np.cumsum(pre) / np.arange(1, idx.size + 1)
        windows[idx, :, 1] = np.clip(beat - median_beat, -CLIP, CLIP)
        ratios = np.stack(rr_ratios(pre, post, local, long, mean), 1)
        rr[idx, 3] = long
        rr[idx, 4] = mean
        rr[idx, 5:] = np.clip(ratios, 0.0, MAX_RATIO)
    return windows, rr


def study(data_dir, seeds: tuple[int, ...], modes: tuple[str, ...] = MODES) -> dict:
    """Train the tree per mode and seed on DS1 (rounds chosen on the DS1 hold-out), score DS2."""
    variants = {mode: (lambda bs, m=mode: gbt_features(*renormalise(bs, m))) for mode in modes}
    return {"seeds": list(seeds), "modes": compare_features(data_dir, seeds, variants)}


def markdown(result: dict) -> str:
    return summary_markdown(
        result["modes"], "statistics", result["seeds"], "LightGBM on 43 features"
    )


main = study_command(
    "Cost of causal patient statistics, measured with the tree (see the module docstring).",
    study,
    markdown,
)


if __name__ == "__main__":
    main()
