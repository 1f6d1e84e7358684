"""Reading WFDB records: the lead by name, and one clear error for each damaged file."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from edge_ecg import DataError, InputError
from edge_ecg.records import read_record

pytestmark = pytest.mark.data


def _copy(mitdb, tmp_path, record="100"):
    for ext in ("hea", "dat", "atr"):
        shutil.copy(mitdb / f"{record}.{ext}", tmp_path / f"{record}.{ext}")
    return tmp_path / record


def test_lead_is_chosen_by_name_not_index(mitdb):
    rec = read_record(mitdb / "114")  # channels swapped: V5 first, MLII second
    v5 = read_record(mitdb / "114", lead="V5", annotator=None)
    assert rec.lead == "MLII" and rec.fs == 360 and rec.signal.shape == (650_000,)
    assert not np.array_equal(rec.signal, v5.signal)


def test_missing_lead_lists_the_leads(mitdb):
    with pytest.raises(InputError, match=r"no lead 'MLII'; it has V5, V2"):
        read_record(mitdb / "102")


def test_unknown_record_is_named(mitdb):
    with pytest.raises(DataError, match="record 999"):
        read_record(mitdb / "999")


def test_truncated_dat_is_named(mitdb, tmp_path):
    path = _copy(mitdb, tmp_path)
    data = (tmp_path / "100.dat").read_bytes()
    (tmp_path / "100.dat").write_bytes(data[:100_000])
    with pytest.raises(DataError, match=r"100\.dat: truncated"):
        read_record(path)


def test_empty_dat_is_named(mitdb, tmp_path):
    path = _copy(mitdb, tmp_path)
    (tmp_path / "100.dat").write_bytes(b"")
    with pytest.raises(DataError, match=r"100\.dat: truncated \(0 bytes"):
        read_record(path)


def test_missing_dat_is_named(mitdb, tmp_path):
    path = _copy(mitdb, tmp_path)
    (tmp_path / "100.dat").unlink()
    with pytest.raises(DataError, match=r"100\.dat: signal file missing"):
        read_record(path)


def test_garbage_header_is_named(mitdb, tmp_path):
    path = _copy(mitdb, tmp_path)
    (tmp_path / "100.hea").write_bytes(b"\x00\xff garbage \n not a header\n")
    with pytest.raises(DataError, match=r"100\.hea"):
        read_record(path)


def test_low_sampling_rate_in_header_is_named(mitdb, tmp_path):
    path = _copy(mitdb, tmp_path)
    hea = (tmp_path / "100.hea").read_text()
    (tmp_path / "100.hea").write_text(hea.replace("100 2 360 650000", "100 2 50 650000", 1))
    with pytest.raises(InputError, match=r"100\.hea sampling frequency: sampling rate 50 Hz"):
        read_record(path)


def test_reference_beats_are_aami_classes(mitdb):
    rec = read_record(mitdb / "208")
    assert len(rec.beat_samples) == len(rec.beat_classes) == 2955
    assert np.bincount(rec.beat_classes, minlength=5).tolist() == [1586, 2, 992, 373, 2]
