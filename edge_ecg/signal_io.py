"""Read one ECG lead from what users hand the CLI: a WFDB record, a .csv, a .npy, or stdin.

Each reader checks what it reads and names the file, row or field that is wrong; none
returns a signal it had to guess at.
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
    """One lead, its sampling rate, and a name for the outputs."""

    name: str
    samples: np.ndarray
    fs: float
    reference: np.ndarray | None = None  # reference beat samples, when the input has them


def read_signal(
    path: str | os.PathLike[str], fs: float | None = None, lead: str | None = None
) -> Signal:
    """A WFDB record (path without extension), a ``.csv`` or a ``.npy`` file."""
    path = Path(path)
    if path.suffix == ".npy":
        return _read_npy(path, fs)
    if path.suffix == ".csv":
        return _read_csv(path, fs, lead)
    if path.with_suffix(".hea").is_file() or path.suffix in ("", ".hea", ".dat"):
        from .records import read_record

        record = read_record(path.with_suffix("") if path.suffix else path, lead=lead or "MLII")
        if fs is not None and abs(float(fs) - record.fs) > 1e-6:
            raise InputError(f"--fs {fs} contradicts the header of {path}: {record.fs:g} Hz")
        return Signal(record.name, record.signal, record.fs, record.beat_samples)
    raise InputError(f"{path}: give a WFDB record (without extension), a .csv or a .npy file")


def _read_npy(path: Path, fs: float | None) -> Signal:
    fs = check_fs(fs)
    try:
        data = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: not a readable .npy array ({str(e)[:120]})") from None
    if data.dtype.kind not in "iuf":
        raise InputError(f"{path}: dtype {data.dtype} is not numeric samples")
    if data.ndim == 2 and 1 in data.shape:
        data = data.ravel()
    if data.ndim != 1:
        raise InputError(f"{path}: shape {data.shape}; give one lead as a 1-D array")
    return Signal(path.stem, check_signal(data, str(path)), fs)


def _read_csv(path: Path, fs: float | None, lead: str | None) -> Signal:
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
    if lead is not None:
        if header is None or lead not in header:
            raise InputError(f"{path}: no column named {lead!r} (columns: {header or 'unnamed'})")
        column = header.index(lead)
    elif width == 1:
        column = 0
    elif header and "MLII" in header:
        column = header.index("MLII")
    else:
        raise InputError(f"{path}: {width} columns; choose one with --lead (columns: {header})")
    values = np.empty(len(rows))
    for i, row in enumerate(rows):
        line = i + (2 if header else 1)
        if len(row) != width:
            raise InputError(f"{path}: line {line} has {len(row)} fields, expected {width}")
        try:
            values[i] = float(row[column])
        except ValueError:
            raise InputError(f"{path}: line {line}: {row[column]!r} is not a number") from None
    return Signal(path.stem, check_signal(values, str(path)), fs)


def read_stream(
    stream: BinaryIO | None = None,
    dtype: str = "int16",
    block_seconds: float = 1.0,
    fs: float | None = None,
) -> Iterator[np.ndarray]:
    """Raw little-endian samples from a binary stream (default stdin), in blocks."""
    fs = check_fs(fs)
    if dtype not in DTYPES:
        raise InputError(f"--dtype: {dtype!r} is not one of {', '.join(DTYPES)}")
    kind = DTYPES[dtype]
    stream = stream or sys.stdin.buffer
    size = max(1, round(block_seconds * fs)) * kind.itemsize
    carry = b""
    total = 0
    while True:
        chunk = stream.read(size)
        if not chunk:
            break
        data = carry + chunk
        cut = len(data) - len(data) % kind.itemsize
        carry = data[cut:]
        if cut:
            samples = np.frombuffer(data[:cut], dtype=kind).astype(np.float64)
            total += samples.size
            yield check_signal(samples, f"stdin (near sample {total})")
    if carry:
        raise InputError(
            f"stdin: the stream ended with {len(carry)} byte(s) of a partial {dtype} sample "
            f"after {total} samples; check --dtype"
        )
    if total == 0:
        raise InputError("stdin: the stream was empty")
