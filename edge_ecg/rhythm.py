"""Rhythm context: how irregular the RR intervals before a beat are, and a rule that uses it.

AAMI labels every beat of atrial fibrillation N: where the rhythm is irregular throughout, an
early beat is not an ectopic one, yet a beat classifier that sees one beat and a few RR ratios
calls many of them S (most of the shipped model's false S beats on DS2 are in the fibrillation
and flutter records). The optional rhythm rule turns a beat called S into N when the RR
intervals before it are irregular: their median absolute successive difference over their
median exceeds ``IRREGULAR``. The threshold was chosen on the DS1 training records
(``train/rhythm_rule.py``, docs/results.md): there it raises macro-F1; on DS2 it removes three
quarters of the false S beats and raises accuracy, but halves S sensitivity.
"""

from __future__ import annotations

import numpy as np

from .spec import CLASSES

#: RR intervals the irregularity is measured over (the beat's own pre-RR and the ones before).
HISTORY = 32
#: Rhythm features a model may read beside each beat (``rhythm_features``), in order.
RHYTHM_FEATURES = ("irregularity_8", "irregularity_16", "irregularity_32", "jumps_32")
#: A successive RR difference above this share of the median RR counts as a jump.
JUMP = 0.1
#: Irregularity above which a beat called S is reported N (see the module docstring).
IRREGULAR = 0.1
_S, _N = CLASSES.index("S"), CLASSES.index("N")


def irregularity(rr: np.ndarray) -> np.ndarray:
    """Median |successive difference| over median RR, for each row of RR intervals (s).

    NaN marks an interval not known yet (the start of a record); a row with fewer than three
    known intervals (two differences) gives 0. One row or many: always returns one value a row.
    """
    rows = np.atleast_2d(np.asarray(rr, dtype=np.float64))
    out = np.zeros(rows.shape[0])
    ok = np.isfinite(rows).sum(1) >= 3
    if ok.any():
        steps = np.abs(np.diff(rows[ok], axis=1))
        out[ok] = _median(steps) / _median(rows[ok])
    return out


def _median(rows: np.ndarray) -> np.ndarray:
    """Row medians ignoring NaN; without NaN (a device's history) np.median, the same values
    at a fraction of nanmedian's cost on short rows."""
    if np.isfinite(rows).all():
        return np.median(rows, 1)
    return np.nanmedian(rows, 1)


def jumps(rr: np.ndarray) -> np.ndarray:
    """Share of successive differences above ``JUMP`` times the median RR, per row of RR
    intervals (NaN: not known yet; fewer than three known give 0)."""
    rows = np.atleast_2d(np.asarray(rr, dtype=np.float64))
    out = np.zeros(rows.shape[0])
    ok = np.isfinite(rows).sum(1) >= 3
    if ok.any():
        steps = np.abs(np.diff(rows[ok], axis=1))
        big = steps > JUMP * _median(rows[ok])[:, None]
        out[ok] = big.sum(1) / np.isfinite(steps).sum(1)
    return out


def rhythm_features(history: np.ndarray) -> np.ndarray:
    """(4,) ``RHYTHM_FEATURES`` of a beat from its RR history (seconds, its own pre-RR last):
    the irregularity over the last 8, 16 and 32 intervals and the share of jumps over 32."""
    h = np.asarray(history, dtype=np.float64)[-HISTORY:]
    return np.array(
        [irregularity(h[-8:])[0], irregularity(h[-16:])[0], irregularity(h)[0], jumps(h)[0]],
        dtype=np.float32,
    )


def rhythm_rule(
    labels: np.ndarray, irregular: np.ndarray, threshold: float = IRREGULAR
) -> np.ndarray:
    """Class indices with S turned into N where ``irregular`` (per beat) exceeds
    ``threshold``."""
    out = np.array(labels, dtype=np.int64, copy=True)
    out[(out == _S) & (np.asarray(irregular) > threshold)] = _N
    return out
