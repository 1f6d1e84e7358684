"""Read an ECG from what users hand the CLI: a WFDB record, a .csv, a .npy, or stdin.

One lead by default; with ``two_leads`` also a second lead sampled with it, which helps find
the beats where the first is noisy (``edge_ecg.leads``). Each reader checks what it reads and
names the file, row or field that is wrong; none returns a signal it had to guess at.
"""

from __future__ import annotations

import csv
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from .errors import InputError
from .preprocess import check_fs, check_signal

DTYPES = {"int16": np.dtype("<i2"), "float32": np.dtype("<f4")}


@dataclass(frozen=True)
class Signal:
    """The lead to classify, its sampling rate, a name for the outputs, and what else came."""

    name: str
    samples: np.ndarray
    fs: float
    reference: np.ndarray | None = None  # reference beat samples, when the input has them
    second: np.ndarray | None = None  # a second lead sampled with ``samples`` (two_leads)
    leads: tuple[str, ...] = ()  # the leads' names, where the input names them

    def stacked(self) -> np.ndarray:
        """(n,) samples, or (n, 2) with the second lead: what ``StreamClassifier`` takes."""
        if self.second is None:
            return self.samples
        return np.column_stack([self.samples, self.second])


def read_signal(
    path: str | os.PathLike[str],
    fs: float | None = None,
    lead: str | None = None,
    two_leads: bool = False,
    second_lead: str | None = None,
) -> Signal:
    """A WFDB record (path without extension), a ``.csv`` or a ``.npy`` file.

    ``lead`` names the lead to classify (WFDB signal or CSV column; default MLII). With
    ``two_leads`` (implied by ``second_lead``) a second lead is read too: the one named
    ``second_lead``, else the input's other lead (WFDB: its first other signal; CSV: the other
    column of two; .npy: the second column of an (n, 2) array).
    """
    path = Path(path)
    two_leads = two_leads or second_lead is not None
    if path.suffix == ".npy":
        if second_lead is not None:
            raise InputError(f"{path}: a .npy file has no lead names; use --two-leads")
        return _read_npy(path, fs, two_leads)
    if path.suffix == ".csv":
        return _read_csv(path, fs, lead, two_leads, second_lead)
    if path.with_suffix(".hea").is_file() or path.suffix in ("", ".hea", ".dat"):
        record = path.with_suffix("") if path.suffix else path
        return _read_wfdb(record, fs, lead, two_leads, second_lead)
    raise InputError(f"{path}: give a WFDB record (without extension), a .csv or a .npy file")


def _read_wfdb(
    path: Path, fs: float | None, lead: str | None, two_leads: bool, second_lead: str | None
) -> Signal:
    from .records import read_record, read_second_lead

    record = read_record(path, lead=lead or "MLII")
    if fs is not None and abs(float(fs) - record.fs) > 1e-6:
        raise InputError(f"--fs {fs} contradicts the header of {path}: {record.fs:g} Hz")
    if not two_leads:
        return Signal(
            record.name, record.signal, record.fs, record.beat_samples, leads=(record.lead,)
        )
    other = read_second_lead(path, record, second_lead)
    return Signal(
        record.name,
        record.signal,
        record.fs,
        record.beat_samples,
        second=other.signal,
        leads=(record.lead, other.lead),
    )


def _read_npy(path: Path, fs: float | None, two_leads: bool = False) -> Signal:
    fs = check_fs(fs)
    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: not a readable .npy array ({str(e)[:120]})") from None
    if data.dtype.kind not in "iuf":
        raise InputError(f"{path}: dtype {data.dtype} is not numeric samples")
    if two_leads:
        if data.ndim != 2 or data.shape[1] != 2:
            raise InputError(
                f"{path}: shape {data.shape}; two leads are an (n, 2) array, the lead to "
                "classify first"
            )
        first = check_signal(data[:, 0], f"{path} column 1")
        second = check_signal(data[:, 1], f"{path} column 2")
        return Signal(path.stem, first, fs, None, second, ("column 1", "column 2"))
    if data.ndim == 2 and 1 in data.shape:
        data = data.ravel()
    if data.ndim != 1:
        two = data.ndim == 2 and data.shape[1] == 2
        hint = " (two leads as (n, 2): --two-leads)" if two else ""
        raise InputError(f"{path}: shape {data.shape}; give one lead as a 1-D array{hint}")
    return Signal(path.stem, check_signal(data, str(path)), fs, leads=("column 1",))


def _read_csv(
    path: Path,
    fs: float | None,
    lead: str | None,
    two_leads: bool = False,
    second_lead: str | None = None,
) -> Signal:
    fs = check_fs(fs)
    try:
        with open(path, newline="") as f:
            rows = list(csv.reader(f))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot read it as text ({e})") from None
    rows = [r for r in rows if r and any(c.strip() for c in r)]
    if not rows:
        raise InputError(f"{path}: no samples")
    header = None
    try:
        [float(c) for c in rows[0]]
    except ValueError:
        header, rows = [c.strip() for c in rows[0]], rows[1:]
    width = len(header) if header else len(rows[0]) if rows else 0
    columns = _csv_columns(path, header, width, lead, two_leads, second_lead)
    values = np.empty((len(rows), len(columns)))
    for i, row in enumerate(rows):
        line = i + (2 if header else 1)
        if len(row) != width:
            raise InputError(f"{path}: line {line} has {len(row)} fields, expected {width}")
        for j, column in enumerate(columns):
            try:
                values[i, j] = float(row[column])
            except ValueError:
                raise InputError(f"{path}: line {line}: {row[column]!r} is not a number") from None
    names = tuple(header[c] if header else f"column {c + 1}" for c in columns)
    leads = [check_signal(values[:, j], f"{path} column {names[j]}") for j in range(len(columns))]
    return Signal(path.stem, leads[0], fs, None, leads[1] if two_leads else None, names)


def _csv_columns(
    path: Path,
    header: list[str] | None,
    width: int,
    lead: str | None,
    two_leads: bool,
    second_lead: str | None,
) -> list[int]:
    """The column to classify and, with ``two_leads``, the second one (indices)."""

    def named(name: str, option: str) -> int:
        if header is None or name not in header:
            raise InputError(
                f"{path}: no column named {name!r} for {option} (columns: {header or 'unnamed'})"
            )
        return header.index(name)

    if lead is not None:
        first = named(lead, "--lead")
    elif width == 1:
        first = 0
    elif header and "MLII" in header:
        first = header.index("MLII")
    elif two_leads and width == 2:
        first = 0
    elif header is None:
        raise InputError(
            f"{path}: {width} unnamed columns; add a header row naming the leads, then choose "
            "one with --lead"
        )
    else:
        raise InputError(f"{path}: {width} columns; choose one with --lead (columns: {header})")
    if not two_leads:
        return [first]
    if second_lead is not None:
        second = named(second_lead, "--second-lead")
    elif width == 2:
        second = 1 - first
    else:
        raise InputError(
            f"{path}: {width} column(s); two leads need two columns, or name the second with "
            f"--second-lead (columns: {header or 'unnamed'})"
        )
    if second == first:
        raise InputError(f"{path}: --second-lead names the lead classified; name another")
    return [first, second]


def read_stream(
    stream: BinaryIO | None = None,
    dtype: str = "int16",
    block_seconds: float = 1.0,
    fs: float | None = None,
    channels: int = 1,
) -> Iterator[np.ndarray]:
    """Raw little-endian samples from a binary stream (default stdin), in blocks.

    ``channels=2``: frames of two interleaved samples (lead to classify, second lead),
    yielded as (n, 2) blocks.
    """
    fs = check_fs(fs)
    if dtype not in DTYPES:
        raise InputError(f"--dtype: {dtype!r} is not one of {', '.join(DTYPES)}")
    if channels not in (1, 2):
        raise InputError(f"stdin: {channels} channels; the stream carries one lead, or two")
    kind = DTYPES[dtype]
    frame = kind.itemsize * channels
    stream = stream or sys.stdin.buffer
    size = max(1, round(block_seconds * fs)) * frame
    carry = b""
    total = 0
    while True:
        chunk = stream.read(size)
        if not chunk:
            break
        data = carry + chunk
        cut = len(data) - len(data) % frame
        carry = data[cut:]
        if cut:
            samples = np.frombuffer(data[:cut], dtype=kind).astype(np.float64)
            total += samples.size // channels
            where = f"stdin (near sample {total})"
            if channels == 1:
                yield check_signal(samples, where)
            else:
                pairs = samples.reshape(-1, 2)
                check_signal(pairs[:, 0], f"{where}, lead 1")
                check_signal(pairs[:, 1], f"{where}, lead 2")
                yield pairs
    if carry:
        what = f"{dtype} sample" if channels == 1 else f"frame of {channels} {dtype} samples"
        raise InputError(
            f"stdin: the stream ended with {len(carry)} byte(s) of a partial {what} "
            f"after {total} {'samples' if channels == 1 else 'frames'}; check --dtype"
            + (" and that both leads are interleaved" if channels > 1 else "")
        )
    if total == 0:
        raise InputError("stdin: the stream was empty")
