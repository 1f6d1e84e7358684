"""Write WFDB (MIT format) annotation files without wfdb, so the device can emit them.

PhysioNet's own tools (``wfdb.rdann``, ``bxb``) then score our beats. The format is a stream of
16-bit little-endian words: 6 bits of annotation code, 10 bits of sample-time increment; larger
increments go in a SKIP word followed by a 32-bit interval (high half first); a zero word ends
the file. Signal-quality marks are NOISE ('~') annotations with ``subtype`` -1 (unreadable
from here) or 0 (clean again), the convention MIT-BIH itself uses; an AUX word carries a note
(why it is unreadable) as ``aux_note``.
"""

from __future__ import annotations

import os

import numpy as np

from .atomic import write_bytes
from .errors import InputError

#: Annotation codes of the symbols we write (ecgcodes.h).
CODES = {"N": 1, "V": 5, "F": 6, "A": 8, "Q": 13, "~": 14}
#: Our AAMI class -> the MIT-BIH beat symbol that stands for it.
CLASS_SYMBOL = {"N": "N", "S": "A", "V": "V", "F": "F", "Q": "Q"}
SKIP, SUB, AUX = 59, 61, 63


def _word(code: int, value: int) -> bytes:
    return int((code << 10) | (value & 0x3FF)).to_bytes(2, "little")


def annotation_bytes(
    samples: np.ndarray,
    symbols: list[str],
    subtypes: list[int] | None = None,
    notes: list[str] | None = None,
) -> bytes:
    """Encode annotations at increasing sample indices (optional subtypes and aux notes)."""
    samples = np.asarray(samples, dtype=np.int64)
    if samples.size != len(symbols):
        raise InputError(f"{samples.size} samples but {len(symbols)} symbols")
    if samples.size and (samples.min() < 0 or np.any(np.diff(samples) < 0)):
        raise InputError("annotation samples must be non-negative and increasing")
    out = bytearray()
    previous = 0
    for i, (sample, symbol) in enumerate(zip(samples.tolist(), symbols, strict=True)):
        if symbol not in CODES:
            raise InputError(f"annotation symbol {symbol!r} is not one of {''.join(CODES)}")
        delta = sample - previous
        if delta > 1023:
            out += _word(SKIP, 0)
            out += (delta >> 16).to_bytes(2, "little") + (delta & 0xFFFF).to_bytes(2, "little")
            delta = 0
        out += _word(CODES[symbol], delta)
        if subtypes is not None and subtypes[i]:
            out += _word(SUB, subtypes[i])
        if notes is not None and notes[i]:
            text = notes[i].encode("ascii")[:255]
            out += _word(AUX, len(text)) + text + (b"\x00" if len(text) % 2 else b"")
        previous = sample
    out += b"\x00\x00"
    return bytes(out)


def write_annotations(
    path: str | os.PathLike[str],
    samples: np.ndarray,
    symbols: list[str],
    subtypes: list[int] | None = None,
    notes: list[str] | None = None,
) -> None:
    """Write a WFDB annotation file atomically (``DIR/record.ext``)."""
    write_bytes(path, annotation_bytes(samples, symbols, subtypes, notes))
