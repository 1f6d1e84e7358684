"""43 numbers that summarise one beat's model inputs, for small models beside the classifier.

The gradient-boosted tree of the ablation (``train/gbt.py``) and the artefact check
(:mod:`.artifact`) read them: the 11 RR features, the beat and its deviation from the running
median beat at 12 points each (200 ms before the R-peak to 400 ms after), and 8 QRS-region
summaries (peak, trough, energy and width of the deviation, the beat's steepest step).
"""

from __future__ import annotations

import numpy as np

from .spec import N_RR, PRE

POINTS = np.arange(PRE - 36, PRE + 72, 9)
QRS = slice(PRE - 18, PRE + 18)
N_SUMMARY = N_RR + 2 * POINTS.size + 8


def beat_summary(windows: np.ndarray, rr: np.ndarray) -> np.ndarray:
    """(n, N_SUMMARY) from windows (n, WINDOW, CHANNELS) and RR features (n, N_RR)."""
    beat, dev = windows[:, :, 0], windows[:, :, 1]
    summaries = [
        beat[:, QRS].max(1),
        beat[:, QRS].min(1),
        np.abs(dev[:, QRS]).mean(1),
        np.abs(dev).mean(1),
        dev[:, QRS].max(1),
        dev[:, QRS].min(1),
        (np.abs(beat[:, QRS]) > 0.5).sum(1).astype(np.float32),
        np.abs(np.diff(beat[:, QRS], axis=1)).max(1),
    ]
    return np.concatenate([rr, beat[:, POINTS], dev[:, POINTS], np.stack(summaries, 1)], 1)
