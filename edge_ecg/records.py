"""Read one lead and its reference beats from a WFDB record, with errors that name the file.

``wfdb`` is imported only here and only when a record is read, so the device runtime, which
reads ``.npy``/``.csv`` or a raw stream, never loads it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from .aami import CLASS_INDEX, aami_class
from .errors import DataError, InputError
from .preprocess import check_fs

#: Bits per sample of the WFDB storage formats, to spot a truncated ``.dat`` before wfdb does.
FORMAT_BITS = {8: 8, 16: 16, 24: 24, 32: 32, 61: 16, 80: 8, 160: 16, 212: 12, 310: 32 / 3,
               311: 32 / 3}  # fmt: skip


@dataclass(frozen=True)
class Record:
    """One lead of a record and, if asked for, its reference beats."""

    name: str
    fs: float
    lead: str
    units: str
    signal: np.ndarray  # (n,) float64, physical units
    beat_samples: np.ndarray | None = None  # reference R-peaks (beats only), input samples
    beat_classes: np.ndarray | None = None  # AAMI class index per reference beat
    beat_symbols: tuple[str, ...] | None = None


def _wfdb():
    try:
        import wfdb
    except ImportError:
        raise InputError(
            "reading WFDB records needs the wfdb package: pip install 'edge-ecg[train]' "
            "(or give the signal as .npy/.csv with --fs)"
        ) from None
    return wfdb


def _check_files(path: Path, header) -> None:
    """Raise ``DataError`` when a signal file is missing or shorter than the header promises."""
    folder = path.parent
    by_file: dict[str, list[int]] = {}
    for fname, fmt in zip(header.file_name or [], header.fmt or [], strict=False):
        by_file.setdefault(fname, []).append(int(fmt))
    for fname, fmts in by_file.items():
        dat = folder / fname
        if not dat.is_file():
            raise DataError(f"{dat}: signal file missing (named in {path}.hea)")
        bits = sum(FORMAT_BITS.get(f, 16) for f in fmts)
        expected = int(np.ceil((header.sig_len or 0) * bits / 8))
        size = dat.stat().st_size
        if size == 0 or size < expected:
            raise DataError(
                f"{dat}: truncated ({size} bytes, header promises {expected}); re-download it"
            )


def read_record(
    path: str | os.PathLike[str], lead: str = "MLII", annotator: str | None = "atr"
) -> Record:
    """Read lead ``lead`` (chosen by name, never by index) and optionally the reference beats.

    Parameters
    ----------
    path : record path without extension, e.g. ``DATA/mitdb/100``.
    lead : signal name in the header; the error lists the leads there are.
    annotator : annotation file extension with reference beats, or None.
    """
    wfdb = _wfdb()
    path = Path(path)
    name = path.name
    if not Path(f"{path}.hea").is_file():
        raise DataError(f"record {name}: header {path}.hea not found; check the record name")
    try:
        header = wfdb.rdheader(str(path))
    except Exception as e:
        raise DataError(f"{path}.hea: unreadable header ({_first_line(e)})") from e
    leads = list(header.sig_name or [])
    described = [n for n in leads if isinstance(n, str) and n]
    if not described or len(described) != len(leads) or len(leads) != (header.n_sig or 0):
        raise DataError(
            f"{path}.hea: incomplete header ({header.n_sig or 0} signals declared, "
            f"{len(described)} described); re-download the record"
        )
    if lead not in leads:
        raise InputError(
            f"record {name}: no lead {lead!r}; it has {', '.join(leads) or 'none'} (use --lead)"
        )
    check_fs(header.fs, where=f"{path}.hea sampling frequency")
    _check_files(path, header)
    try:
        rec = wfdb.rdrecord(str(path), channel_names=[lead])
    except Exception as e:
        raise DataError(f"{path}: unreadable signal ({_first_line(e)})") from e
    signal = np.asarray(rec.p_signal[:, 0], dtype=np.float64)
    if not np.all(np.isfinite(signal)):
        raise DataError(f"{path}: lead {lead} has invalid samples (NaN); the record is damaged")
    fields = {}
    if annotator:
        fields = _reference_beats(wfdb, path, annotator, len(signal))
    return Record(
        name=name,
        fs=float(header.fs),
        lead=lead,
        units=(rec.units or ["?"])[0],
        signal=signal,
        **fields,
    )


def read_second_lead(path: str | os.PathLike[str], rec: Record, lead: str | None = None) -> Record:
    """The record's lead ``lead`` (default: its first signal that is not ``rec.lead``), carrying
    ``rec``'s reference beats: both leads see the same heartbeats (for ``edge_ecg.leads``)."""
    path = Path(path)
    names = [n for n in _wfdb().rdheader(str(path)).sig_name if n != rec.lead]
    if lead == rec.lead:
        raise InputError(
            f"record {rec.name}: --second-lead {lead} is the lead classified (--lead); name another"
        )
    if lead is not None and lead not in names:
        raise InputError(
            f"record {rec.name}: no lead {lead!r} for --second-lead; its other leads: "
            f"{', '.join(names) or 'none'}"
        )
    if not names:
        raise InputError(
            f"record {rec.name}: lead {rec.lead} is its only lead; two-lead detection needs two"
        )
    other = read_record(path, lead=lead or names[0], annotator=None)
    return replace(rec, lead=other.lead, units=other.units, signal=other.signal)


def _reference_beats(wfdb, path: Path, annotator: str, n: int) -> dict:
    ann_file = Path(f"{path}.{annotator}")
    if not ann_file.is_file():
        raise DataError(f"{ann_file}: annotation file not found")
    try:
        ann = wfdb.rdann(str(path), annotator)
    except Exception as e:
        raise DataError(f"{ann_file}: unreadable annotations ({_first_line(e)})") from e
    keep = [i for i, s in enumerate(ann.symbol) if aami_class(s) is not None]
    samples = np.asarray(ann.sample, dtype=np.int64)[keep]
    symbols = tuple(ann.symbol[i] for i in keep)
    inside = (samples >= 0) & (samples < n)
    if not np.all(inside):
        raise DataError(f"{ann_file}: beat annotations beyond the end of the signal")
    classes = np.array([CLASS_INDEX[aami_class(s)] for s in symbols], dtype=np.int64)
    return {"beat_samples": samples, "beat_classes": classes, "beat_symbols": symbols}


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0]}" if text else type(e).__name__
