"""Our WFDB annotation writer, read back by wfdb itself."""

from __future__ import annotations

import numpy as np
import pytest

from edge_ecg.annotations import annotation_bytes, write_annotations
from edge_ecg.errors import InputError


def test_wfdb_reads_back_what_we_write(tmp_path):
    wfdb = pytest.importorskip("wfdb")
    samples = np.array([3, 1023, 1024, 2048, 70000, 70001, 650000])
    symbols = ["N", "A", "V", "~", "F", "Q", "N"]
    subtypes = [0, 0, 0, -1, 0, 0, 0]
    write_annotations(tmp_path / "rec.edge", samples, symbols, subtypes)
    ann = wfdb.rdann(str(tmp_path / "rec"), "edge")
    assert ann.sample.tolist() == samples.tolist()
    assert ann.symbol == symbols
    assert ann.subtype.tolist() == subtypes


def test_empty_annotation_file_is_just_the_terminator():
    assert annotation_bytes(np.array([], int), []) == b"\x00\x00"


@pytest.mark.parametrize(
    ("samples", "symbols", "match"),
    [([5, 3], ["N", "N"], "increasing"), ([1], ["X"], "symbol"), ([1, 2], ["N"], "symbols")],
)
def test_bad_annotations_are_refused(samples, symbols, match):
    with pytest.raises(InputError, match=match):
        annotation_bytes(np.array(samples), symbols)
