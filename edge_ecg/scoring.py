"""Beat-by-beat matching of detected R-peaks to reference beats (ANSI/AAMI EC57 style).

A detection counts for a reference beat when the two are within ``window`` seconds (EC57:
150 ms), and each beat and each detection is used at most once; the closest pairs are matched
first, so a stray detection next to a beat never steals the match of a better one. Numpy only,
so the device-side demo can score itself.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: EC57 matching window (s).
WINDOW = 0.15

_INDEX = np.ndarray


def match_beats(
    ref_samples: np.ndarray,
    test_samples: np.ndarray,
    fs: float,
    window: float = WINDOW,
) -> tuple[_INDEX, _INDEX, _INDEX, _INDEX]:
    """Match detections to reference beats one-to-one, closest pairs first.

    Parameters
    ----------
    ref_samples, test_samples : beat positions in samples (any order; indices refer to the
        order given).
    fs : sampling rate of both, in Hz.
    window : largest distance (s) at which a detection still counts for a beat.

    Returns
    -------
    ``(ref_idx, test_idx, missed, extra)``: matched pairs as two aligned index arrays (sorted by
    reference index), the reference beats no detection matched, and the detections that matched
    no beat. All are int64 indices into the inputs.
    """
    ref = np.asarray(ref_samples, dtype=np.float64).ravel()
    test = np.asarray(test_samples, dtype=np.float64).ravel()
    tol = window * fs
    order = np.argsort(test, kind="stable")
    sorted_test = test[order]
    lo = np.searchsorted(sorted_test, ref - tol, side="left")
    hi = np.searchsorted(sorted_test, ref + tol, side="right")
    counts = hi - lo
    # every (reference, detection) pair within the window, as flat arrays
    r = np.repeat(np.arange(ref.size), counts)
    starts = np.repeat(lo - np.cumsum(counts) + counts, counts)
    t = order[starts + np.arange(r.size)] if r.size else np.empty(0, dtype=np.int64)
    dist = np.abs(ref[r] - test[t])
    used_ref = np.zeros(ref.size, dtype=bool)
    used_test = np.zeros(test.size, dtype=bool)
    pairs = []
    for k in np.lexsort((t, r, dist)):
        i, j = r[k], t[k]
        if not used_ref[i] and not used_test[j]:
            used_ref[i] = used_test[j] = True
            pairs.append((i, j))
    matched = np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)
    return (
        matched[:, 0],
        matched[:, 1],
        np.flatnonzero(~used_ref).astype(np.int64),
        np.flatnonzero(~used_test).astype(np.int64),
    )


def near(times: np.ndarray, other: np.ndarray, within: float) -> np.ndarray:
    """True where a value of ``other`` (sorted) lies within ``within`` samples of ``times``."""
    if other.size == 0 or times.size == 0:
        return np.zeros(times.size, dtype=bool)
    j = np.searchsorted(other, times)
    before = other[np.clip(j - 1, 0, other.size - 1)]
    after = other[np.clip(j, 0, other.size - 1)]
    return (np.abs(before - times) <= within) | (np.abs(after - times) <= within)


def excluded(samples: np.ndarray, intervals: Sequence[tuple[int, int]] | np.ndarray) -> np.ndarray:
    """Mask of the samples inside any ``[start, end]`` interval (e.g. ventricular flutter)."""
    samples = np.asarray(samples)
    mask = np.zeros(samples.shape, dtype=bool)
    for start, end in np.asarray(intervals, dtype=np.int64).reshape(-1, 2):
        mask |= (samples >= start) & (samples <= end)
    return mask


def detection_scores(
    ref_samples: np.ndarray,
    test_samples: np.ndarray,
    fs: float,
    window: float = WINDOW,
    exclude: Sequence[tuple[int, int]] | np.ndarray = (),
    ref_classes: np.ndarray | None = None,
    n_classes: int = 5,
) -> dict:
    """Sensitivity and positive predictivity of a detector against reference beats.

    Parameters
    ----------
    ref_samples, test_samples, fs, window : as for :func:`match_beats`.
    exclude : ``(start, end)`` sample intervals left out of scoring, with every reference beat
        and detection inside them (EC57 leaves out ventricular flutter and fibrillation).
    ref_classes : optional class index per reference beat; adds ``missed_by_class``.
    n_classes : length of ``missed_by_class``.

    Returns
    -------
    A dict with ``tp``, ``fn``, ``fp``, ``se`` and ``ppv`` (None when undefined), and
    ``missed_by_class`` (a list of counts) when ``ref_classes`` is given.
    """
    ref = np.asarray(ref_samples).ravel()
    test = np.asarray(test_samples).ravel()
    keep_ref = ~excluded(ref, exclude)
    keep_test = ~excluded(test, exclude)
    _, _, missed, extra = match_beats(ref[keep_ref], test[keep_test], fs, window)
    tp = int(keep_ref.sum()) - missed.size
    out = {
        "tp": tp,
        "fn": int(missed.size),
        "fp": int(extra.size),
        "se": tp / (tp + missed.size) if tp + missed.size else None,
        "ppv": tp / (tp + extra.size) if tp + extra.size else None,
    }
    if ref_classes is not None:
        classes = np.asarray(ref_classes, dtype=np.int64).ravel()[keep_ref]
        out["missed_by_class"] = np.bincount(classes[missed], minlength=n_classes).tolist()
    return out
