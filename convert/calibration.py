"""The beats int8 ranges are measured on: a class-stratified DS1 sample, or the user's own file.

A calibration set decides every activation range of the int8 file, so a bad one gives a model
that loads and runs and is quietly wrong (an empty set crashes the converter deep inside; a
one-class set gives ranges that clip the other classes' beats). Both are refused here, by name.

A user file (``--calibration FILE.npz``) holds ``windows`` (n, WINDOW, CHANNELS) and ``rr``
(n, N_RR) float arrays made by ``edge_ecg``'s own preprocessing (e.g. ``edge_ecg.extract_beats``
on the device's recordings) and optionally ``labels`` (n,) AAMI class indices or names; with
labels the sample is stratified by class.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_ecg.errors import InputError
from edge_ecg.manifest import sha256_bytes
from edge_ecg.spec import CHANNELS, CLASSES, N_RR, WINDOW

#: Fewer beats than this cannot say much about a tensor's range.
MIN_BEATS = 10


@dataclass(frozen=True)
class Calibration:
    """Beats the int8 ranges are measured on: a class-stratified sample, never DS2."""

    windows: np.ndarray
    rr: np.ndarray
    per_class: dict[str, int]
    seed: int
    #: the sample size asked for (``beats`` may differ by rounding of the class quotas).
    size: int
    #: where the beats come from: "DS1" or {"file": ..., "sha256": ...}
    source: str | dict = "DS1"

    def describe(self) -> dict:
        stratified = bool(self.per_class)
        return {
            "split": self.source,
            "size": self.size,
            "beats": len(self.windows),
            "per_class": self.per_class,
            "seed": self.seed,
            "sampling": "stratified by class, proportional, each class at least 2 %"
            if stratified
            else "uniform (no labels)",
        }


@dataclass(frozen=True)
class BeatFile:
    """Beats from a user's calibration file, shaped like a ``BeatSet`` (labels may be None)."""

    windows: np.ndarray
    rr: np.ndarray
    labels: np.ndarray | None
    source: dict


def calibration_set(windows, rr, labels, size: int, seed: int = 0, source="DS1") -> Calibration:
    """A sample of ``size`` beats, stratified by class when there are labels.

    Proportional to the class counts, so the ranges describe the beats the device will see,
    but every class gets at least 2 % of the sample (or all its beats): a class missing from
    calibration (F, Q are rare) could fall outside the measured ranges and be clipped.
    """
    if size < MIN_BEATS:
        raise InputError(
            f"--calib-size: {size} beats is too few to measure ranges (use >= {MIN_BEATS})"
        )
    where = source if isinstance(source, str) else source["file"]
    n = len(windows)
    if n == 0:
        raise InputError(f"calibration set {where}: it is empty; int8 ranges need beats")
    rng = np.random.default_rng(seed)
    if labels is None:
        order = rng.permutation(n)[:size]
        per_class: dict[str, int] = {}
    else:
        labels = np.asarray(labels)
        counts = np.bincount(labels, minlength=len(CLASSES))
        present = [CLASSES[c] for c in np.flatnonzero(counts)]
        if len(present) < 2:
            raise InputError(
                f"calibration set {where}: all {n} beats are class {present[0]}; ranges measured "
                "on one class clip the others' beats in int8: add beats of other classes"
            )
        share = np.round(size * counts / counts.sum()).astype(int)
        quota = np.minimum(counts, np.maximum(share, size // 50))
        picks = [
            rng.choice(np.flatnonzero(labels == c), size=int(k), replace=False)
            for c, k in enumerate(quota)
        ]
        order = np.concatenate(picks)
        order = order[rng.permutation(order.size)]
        per_class = {c: int(k) for c, k in zip(CLASSES, quota, strict=True)}
    return Calibration(
        windows=np.asarray(windows[order], np.float32),
        rr=np.asarray(rr[order], np.float32),
        per_class=per_class,
        seed=seed,
        size=size,
        source=source,
    )


def _array(z, path: Path, name: str, shape: tuple, n: int | None) -> np.ndarray:
    """Array ``name`` of shape (n, *shape); n is taken from the first array read."""
    if name not in z.files:
        raise InputError(
            f"{path}: no array {name!r} (a calibration file holds windows (n, {WINDOW}, "
            f"{CHANNELS}), rr (n, {N_RR}) and optionally labels (n,))"
        )
    a = z[name]
    if a.ndim != 1 + len(shape) or a.shape[1:] != shape or n not in (None, a.shape[0]):
        expected = "(" + ", ".join(["n", *map(str, shape)]) + ")"
        raise InputError(f"{path}: {name} has shape {a.shape}, expected {expected}")
    return a


def load_calibration_file(path: str | os.PathLike[str]) -> BeatFile:
    """Read and check a user calibration file (see the module docstring)."""
    path = Path(path)
    try:
        data = path.read_bytes()
        z = np.load(path, allow_pickle=False)
    except OSError as e:
        raise InputError(f"{path}: cannot read it ({e.strerror or e})") from None
    except (ValueError, zipfile.BadZipFile, EOFError) as e:
        raise InputError(f"{path}: not a .npz calibration file ({str(e)[:120]})") from None
    if not isinstance(z, np.lib.npyio.NpzFile):
        raise InputError(f"{path}: a single array; a calibration file is a .npz of named arrays")
    with z:
        try:
            windows = _array(z, path, "windows", (WINDOW, CHANNELS), None)
            n = windows.shape[0]
            rr = _array(z, path, "rr", (N_RR,), n)
            labels = _array(z, path, "labels", (), n) if "labels" in z.files else None
        except ValueError as e:  # an object array refused without pickle
            raise InputError(f"{path}: unreadable array ({str(e)[:120]})") from None
    for name, a in (("windows", windows), ("rr", rr)):
        if a.dtype.kind not in "fiu":
            raise InputError(f"{path}: {name} has dtype {a.dtype}, expected floats")
        bad = ~np.isfinite(a.reshape(n, -1)).all(axis=1) if n else np.zeros(0, bool)
        if bad.any():
            raise InputError(
                f"{path}: {name} has NaN or inf in beat {int(np.argmax(bad))} "
                f"({int(bad.sum())} beats)"
            )
    if n < MIN_BEATS:
        what = "it is empty" if n == 0 else f"{n} beats is too few"
        raise InputError(f"{path}: {what}; int8 ranges need at least {MIN_BEATS} beats")
    if labels is not None:
        labels = _labels(path, labels)
    return BeatFile(
        windows=windows.astype(np.float32),
        rr=rr.astype(np.float32),
        labels=labels,
        source={"file": str(path), "sha256": sha256_bytes(data)},
    )


def _labels(path: Path, labels: np.ndarray) -> np.ndarray:
    if labels.dtype.kind in "US":
        names = labels.astype(str)
        unknown = sorted(set(names.tolist()) - set(CLASSES))
        if unknown:
            raise InputError(f"{path}: labels {unknown[:5]} are not AAMI classes {CLASSES}")
        return np.array([CLASSES.index(c) for c in names], dtype=np.int64)
    if labels.dtype.kind not in "iu":
        raise InputError(f"{path}: labels have dtype {labels.dtype}; use class indices or names")
    if labels.size and (labels.min() < 0 or labels.max() >= len(CLASSES)):
        raise InputError(
            f"{path}: labels must be class indices 0..{len(CLASSES) - 1} ({', '.join(CLASSES)})"
        )
    return labels.astype(np.int64)
