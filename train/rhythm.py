"""Would rhythm context stop atrial fibrillation's normal beats from being called S?

Most of the shipped model's false S beats on DS2 (1,278 of 1,479) are normal beats of the
records with atrial fibrillation or flutter (202, 210, 219, 222): there every RR interval is
irregular, so a short one looks premature. The RR features describe one beat against running
averages; none says how irregular the rhythm around it is. This study adds four causal rhythm
features, computed from the R-peak times before each beat, and trains the tree with and
without them, several seeds, DS1 -> DS2:

- ``irregularity_8/16/32``: median absolute difference of successive RR intervals over the
  last 8, 16 or 32 intervals, over their median (regular rhythm ~0, fibrillation ~0.1-0.3; the
  median ignores a few ectopic beats);
- ``jumps_32``: share of those 31 successive differences above 10 % of the median RR.

Intervals are clipped at ``MAX_RR`` (3 s), as the runtime's RR history is. They are computed
here from the beat set's R-peak samples (the reference beats); the runtime does not compute them
(yet): a model trained with them could not run on the device.

    python -m train.rhythm --data-dir ../shared/data --json docs/results/rhythm.json \\
        --md docs/results/rhythm.md
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from edge_ecg.beats import MAX_RR
from edge_ecg.rhythm import HISTORY, RHYTHM_FEATURES, irregularity, jumps

from .beatset import BeatSet
from .gbt import compare_features, gbt_features, study_command, summary_markdown

#: DS2 records with atrial fibrillation or flutter, where the false S beats are.
AF_RECORDS = ("202", "210", "219", "222")
#: Every MIT-BIH record is sampled at 360 Hz (beat sets hold input samples).
MITDB_FS = 360.0


def rhythm_features(beats: BeatSet) -> np.ndarray:
    """(n, 4) ``RHYTHM_FEATURES`` of every beat, from the RR intervals up to it (causal)."""
    out = np.zeros((len(beats), len(RHYTHM_FEATURES)), dtype=np.float32)
    for record in np.unique(beats.records):
        idx = np.flatnonzero(beats.records == record)
        idx = idx[np.argsort(beats.samples[idx], kind="stable")]
        # Row j: beat j's pre-RR (last) and the 31 before it; NaN before the record's first beat.
        pre = np.minimum(np.diff(beats.samples[idx]) / MITDB_FS, MAX_RR)
        rr = np.concatenate([np.full(32, np.nan), pre])
        history = sliding_window_view(rr, 32)[: idx.size]
        for k, m in enumerate((8, 16, 32)):
            out[idx, k] = irregularity(history[:, -m:])
        out[idx, 3] = jumps(history)
    return out


def study(data_dir, seeds: tuple[int, ...]) -> dict:
    """The tree with the ablation's 43 features, and with the 4 rhythm features added."""
    variants = {
        "43 features (the ablation's)": gbt_features_of,
        "+ 4 rhythm features": lambda bs: np.concatenate(
            [gbt_features_of(bs), rhythm_features(bs)], 1
        ),
    }
    summaries = compare_features(data_dir, seeds, variants, extra=false_s)
    return {"seeds": list(seeds), "features": summaries}


def rule_irregularity(beats: BeatSet) -> np.ndarray:
    """Each beat's irregularity over the intervals the runtime's rhythm rule reads
    (``edge_ecg.rhythm.HISTORY``)."""
    return rhythm_features(beats)[:, RHYTHM_FEATURES.index(f"irregularity_{HISTORY}")]


def false_s(metrics: dict) -> dict:
    """N beats called S, in the fibrillation records and in all of DS2."""
    records = metrics["records"]
    in_af = sum(records[r]["confusion"][0][1] for r in AF_RECORDS if r in records)
    return {"N_as_S_af": in_af, "N_as_S": metrics["confusion"][0][1]}


#: Extra columns of the table: hold-out macro-F1 (the selection figure) and the false S beats.
COLUMNS = {
    "hold-out macro-F1 %": ("holdout_macro_f1", 100.0),
    "N called S (all DS2)": ("N_as_S", 1.0),
    "in AF records": ("N_as_S_af", 1.0),
}


def gbt_features_of(beats: BeatSet) -> np.ndarray:
    return gbt_features(beats.windows, beats.rr)


def markdown(result: dict) -> str:
    return summary_markdown(result["features"], "features", result["seeds"], extra=COLUMNS)


main = study_command(
    "Rhythm features for the tree, with and without (see the module docstring).",
    study,
    markdown,
    rhythm_features=list(RHYTHM_FEATURES),
)


if __name__ == "__main__":
    main()
