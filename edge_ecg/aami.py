"""MIT-BIH beat symbols to AAMI EC57 classes, and back to WFDB symbols for output."""

from __future__ import annotations

from .spec import CLASSES

#: Beat annotation symbol -> AAMI class. Symbols not listed are not beats and are dropped.
SYMBOL_TO_CLASS: dict[str, str] = {
    **dict.fromkeys("NLRejB", "N"),
    **dict.fromkeys("AaJS", "S"),
    **dict.fromkeys("VE", "V"),
    "F": "F",
    **dict.fromkeys("/fQ", "Q"),
}

#: AAMI class -> the WFDB beat symbol we write (S is written as A, as PhysioNet's tools expect).
CLASS_TO_SYMBOL: dict[str, str] = {"N": "N", "S": "A", "V": "V", "F": "F", "Q": "Q"}

CLASS_INDEX: dict[str, int] = {c: i for i, c in enumerate(CLASSES)}


def aami_class(symbol: str) -> str | None:
    """AAMI class of a beat symbol, or None for a non-beat annotation."""
    return SYMBOL_TO_CLASS.get(symbol)
