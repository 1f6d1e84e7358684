"""The de Chazal et al. (2004) inter-patient split of the MIT-BIH Arrhythmia Database.

Records 201 and 202 are the same subject but fall in DS1 and DS2 respectively in the
published split; we keep the published split so results compare with the literature.
The paced records are excluded, as de Chazal did. Never split by beat: it leaks patients.
"""

from __future__ import annotations

from .errors import InputError

PACED = ("102", "104", "107", "217")
DS1 = (
    "101", "106", "108", "109", "112", "114", "115", "116", "118", "119", "122",
    "124", "201", "203", "205", "207", "208", "209", "215", "220", "223", "230",
)  # fmt: skip
DS2 = (
    "100", "103", "105", "111", "113", "117", "121", "123", "200", "202", "210",
    "212", "213", "214", "219", "221", "222", "228", "231", "232", "233", "234",
)  # fmt: skip
MITDB = tuple(sorted((*DS1, *DS2, *PACED)))
SPLITS: dict[str, tuple[str, ...]] = {"DS1": DS1, "DS2": DS2, "ALL": tuple(sorted(DS1 + DS2))}


def split_records(name: str) -> tuple[str, ...]:
    """Record names of a split ("DS1", "DS2" or "ALL" = DS1+DS2)."""
    try:
        return SPLITS[name.upper()]
    except KeyError:
        raise InputError(f"unknown split {name!r}: choose one of {', '.join(SPLITS)}") from None
