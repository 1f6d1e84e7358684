from __future__ import annotations

from edge_ecg.aami import CLASS_TO_SYMBOL, aami_class
from edge_ecg.splits import DS1, DS2, MITDB, PACED


def test_aami_mapping_follows_ec57():
    assert [aami_class(s) for s in "NLRejB"] == ["N"] * 6
    assert [aami_class(s) for s in "AaJS"] == ["S"] * 4
    assert [aami_class(s) for s in "VE"] == ["V"] * 2
    assert aami_class("F") == "F"
    assert [aami_class(s) for s in "/fQ"] == ["Q"] * 3
    # rhythm, noise and comment annotations are not beats
    assert [aami_class(s) for s in ["+", "~", "|", "x", "!", '"', "[", "]"]] == [None] * 8


def test_written_symbols_map_back_to_their_class():
    assert {c: aami_class(s) for c, s in CLASS_TO_SYMBOL.items()} == {c: c for c in "NSVFQ"}


def test_de_chazal_split_is_by_patient_and_excludes_paced_records():
    assert len(DS1) == len(DS2) == 22
    assert not set(DS1) & set(DS2)
    assert not (set(DS1) | set(DS2)) & set(PACED)
    assert len(MITDB) == 48
