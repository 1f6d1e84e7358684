"""All labelled beats of a split as arrays, cached on disk, with the checksums of their source.

Cutting the 44 MIT-BIH records takes ~15 s; every training run and ablation arm reuses the
arrays. The cache key is the preprocessing version, the lead and the sha256 of every source
file, so an edited record or a new preprocessing version can never be served stale beats.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge_ecg.atomic import atomic_path
from edge_ecg.datadir import database_dir, sha256_file
from edge_ecg.dataset import Progress, iter_split
from edge_ecg.errors import OutputError
from edge_ecg.spec import PREPROCESSING_VERSION
from edge_ecg.splits import split_records

CACHE_ENV = "EDGE_ECG_CACHE"


@dataclass(frozen=True)
class BeatSet:
    """Model inputs, labels and record of every usable reference beat of some records."""

    windows: np.ndarray  # (n, WINDOW, CHANNELS) float32
    rr: np.ndarray  # (n, N_RR) float32
    labels: np.ndarray  # (n,) int64
    records: np.ndarray  # (n,) str: record name of each beat
    samples: np.ndarray  # (n,) int64: R-peak sample in the record
    checksums: dict[str, str]  # source file -> sha256

    def __len__(self) -> int:
        return int(self.labels.size)

    def select(self, records: tuple[str, ...] | list[str]) -> BeatSet:
        """The beats of some records only (a patient-wise subset, never a beat-wise one)."""
        kept = self.where(np.isin(self.records, list(records)))
        sums = {k: v for k, v in self.checksums.items() if Path(k).stem in set(records)}
        return BeatSet(kept.windows, kept.rr, kept.labels, kept.records, kept.samples, sums)

    def where(self, mask: np.ndarray) -> BeatSet:
        """The beats ``mask`` marks, every record's source kept (e.g. the scored part of each
        record under the patient-adaptive protocol)."""
        return BeatSet(
            self.windows[mask],
            self.rr[mask],
            self.labels[mask],
            self.records[mask],
            self.samples[mask],
            self.checksums,
        )


def cache_dir() -> Path:
    """``EDGE_ECG_CACHE``, else ``~/.cache/edge-ecg``."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "edge-ecg")


def source_checksums(data_dir: str | os.PathLike[str] | None, records: tuple[str, ...]) -> dict:
    """sha256 of the header, signal and annotation file of each record."""
    folder = database_dir(data_dir, "mitdb")
    sums: dict[str, str] = {}
    for name in records:
        for ext in ("hea", "dat", "atr"):
            path = folder / f"{name}.{ext}"
            sums[f"mitdb/{path.name}"] = sha256_file(path) if path.is_file() else "missing"
    return sums


def load_beats(
    data_dir: str | os.PathLike[str] | None,
    split: str,
    lead: str = "MLII",
    progress: Progress | None = None,
    cache: Path | None = None,
) -> BeatSet:
    """Labelled beats of a split, from the cache when the source files are unchanged."""
    records = split_records(split)
    checksums = source_checksums(data_dir, records)
    key = hashlib.sha256(
        json.dumps([PREPROCESSING_VERSION, lead, checksums], sort_keys=True).encode()
    ).hexdigest()[:16]
    path = (cache or cache_dir()) / f"beats-{split.upper()}-{lead}-{key}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            return BeatSet(
                z["windows"], z["rr"], z["labels"], z["records"], z["samples"], checksums
            )

    parts = list(iter_split(data_dir, split, lead, progress))
    beats = BeatSet(
        windows=np.concatenate([p.windows for p in parts]),
        rr=np.concatenate([p.rr for p in parts]),
        labels=np.concatenate([p.labels for p in parts]),
        records=np.concatenate([np.full(p.labels.size, p.record) for p in parts]).astype(str),
        samples=np.concatenate([p.samples for p in parts]),
        checksums=checksums,
    )
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(
                f,
                windows=beats.windows,
                rr=beats.rr,
                labels=beats.labels,
                records=beats.records,
                samples=beats.samples,
            )
    except (OSError, OutputError):
        pass  # an unwritable cache only costs time
    return beats
