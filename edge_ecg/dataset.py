"""Labelled beats of annotated records, and beat counts per split: the data spine of training.

Training, conversion (calibration beats), evaluation and ``data stats`` all cut beats here, at
the reference R-peaks, with the same featurizer the device runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .beats import extract_beats, stack_beats
from .datadir import database_dir
from .records import Record, read_record
from .spec import CLASSES
from .splits import split_records

#: A progress wrapper: (items, label) -> the same items.
Progress = Callable[[Iterable[str], str], Iterable[str]]


@dataclass(frozen=True)
class LabelledBeats:
    """Model inputs and reference labels of one record's beats."""

    record: str
    windows: np.ndarray  # (n, WINDOW, CHANNELS) float32
    rr: np.ndarray  # (n, N_RR) float32
    labels: np.ndarray  # (n,) int64 AAMI class index
    samples: np.ndarray  # (n,) int64 refined R-peak, input sample index
    reference: int  # reference beats in the record
    dropped: np.ndarray  # (5,) reference beats per class with no full window (record edges)


def labelled_beats(record: Record) -> LabelledBeats:
    """Cut a window at every reference beat of an annotated record."""
    if record.beat_samples is None or record.beat_classes is None:
        raise ValueError(f"record {record.name} was read without annotations")
    beats, _ = extract_beats(record.signal, record.fs, record.beat_samples)
    seq = np.array([b.seq for b in beats], dtype=np.int64)
    windows, rr = stack_beats(beats)
    missing = np.ones(len(record.beat_classes), dtype=bool)
    missing[seq] = False
    return LabelledBeats(
        record=record.name,
        windows=windows,
        rr=rr,
        labels=record.beat_classes[seq],
        samples=np.array([b.sample for b in beats], dtype=np.int64),
        reference=len(record.beat_classes),
        dropped=np.bincount(record.beat_classes[missing], minlength=len(CLASSES)),
    )


def mitdb_record(data_dir: str | os.PathLike[str] | None, name: str, lead: str = "MLII") -> Record:
    """Read an MIT-BIH record with its reference beats from the data directory."""
    return read_record(Path(database_dir(data_dir, "mitdb")) / name, lead=lead)


def iter_split(
    data_dir: str | os.PathLike[str] | None,
    split: str,
    lead: str = "MLII",
    progress: Progress | None = None,
) -> Iterable[LabelledBeats]:
    """Labelled beats of every record of a split, record by record."""
    names = split_records(split)
    for name in progress(names, f"{split} records") if progress else names:
        yield labelled_beats(mitdb_record(data_dir, name, lead))


def counts(labels: np.ndarray) -> dict[str, int]:
    """Beats per AAMI class, in class order."""
    return dict(zip(CLASSES, np.bincount(labels, minlength=len(CLASSES)).tolist(), strict=True))


def split_stats(
    data_dir: str | os.PathLike[str] | None,
    progress: Progress | None = None,
) -> dict:
    """Reference beats per split x AAMI class and per record, and what the featurizer drops.

    The top-level ``DS1``/``DS2`` counts are the reference annotations (the counts de Chazal
    2004 reports); ``usable`` are the beats with a full window, ``dropped`` the difference.
    """
    out: dict = {}
    records: dict[str, dict] = {}
    usable: dict[str, dict[str, int]] = {}
    dropped: dict[str, dict[str, int]] = {}
    for split in ("DS1", "DS2"):
        total = np.zeros(len(CLASSES), dtype=np.int64)
        lost = np.zeros(len(CLASSES), dtype=np.int64)
        for lb in iter_split(data_dir, split, progress=progress):
            ref = np.bincount(lb.labels, minlength=len(CLASSES)) + lb.dropped
            total += ref
            lost += lb.dropped
            records[lb.record] = {
                "split": split,
                **dict(zip(CLASSES, ref.tolist(), strict=True)),
                "dropped": int(lb.dropped.sum()),
            }
        out[split] = dict(zip(CLASSES, total.tolist(), strict=True))
        usable[split] = dict(zip(CLASSES, (total - lost).tolist(), strict=True))
        dropped[split] = dict(zip(CLASSES, lost.tolist(), strict=True))
    out["usable"] = usable
    out["dropped"] = {
        **dropped,
        "reason": "R-peak too close to the start or end of the record for a full beat window "
        "(or, at the end, for the filters' delay)",
    }
    out["records"] = records
    return out
