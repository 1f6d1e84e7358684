"""Reading one lead from .csv, .npy, WFDB and a raw stdin stream, and refusing bad files."""

from __future__ import annotations

import io

import numpy as np
import pytest

from edge_ecg.errors import InputError
from edge_ecg.signal_io import read_signal, read_stream


def test_csv_single_column_and_named_columns(tmp_path):
    one = tmp_path / "one.csv"
    one.write_text("0.1\n0.2\n0.3\n")
    assert read_signal(one, fs=250).samples.tolist() == [0.1, 0.2, 0.3]
    two = tmp_path / "two.csv"
    two.write_text("time,II,V1\n0,1.5,2\n1,2.5,3\n")
    assert read_signal(two, fs=250, lead="II").samples.tolist() == [1.5, 2.5]
    with pytest.raises(InputError, match="choose one with --lead"):
        read_signal(two, fs=250)
    with pytest.raises(InputError, match="no column named 'MLII'"):
        read_signal(two, fs=250, lead="MLII")
    unnamed = tmp_path / "unnamed.csv"
    unnamed.write_text("1,2\n3,4\n")
    with pytest.raises(InputError, match="2 unnamed columns; add a header row"):
        read_signal(unnamed, fs=250)
    # two leads: the other column of two, or the one named; never the classified one twice
    both = read_signal(unnamed, fs=250, two_leads=True)
    assert both.samples.tolist() == [1, 3] and both.second.tolist() == [2, 4]
    assert both.leads == ("column 1", "column 2")
    named = read_signal(two, fs=250, lead="II", second_lead="V1")
    assert named.second.tolist() == [2, 3] and named.leads == ("II", "V1")
    with pytest.raises(InputError, match="name the second with --second-lead"):
        read_signal(two, fs=250, lead="II", two_leads=True)
    with pytest.raises(InputError, match="names the lead classified"):
        read_signal(two, fs=250, lead="II", second_lead="II")


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("1\n2\nabc\n", "line 3: 'abc' is not a number"),
        ("a,b\n1,2\n3\n", "line 3 has 1 fields, expected 2"),
        ("", "no samples"),
        ("1\nnan\n", "NaN or infinite"),
    ],
)
def test_bad_csv_names_the_line(tmp_path, text, match):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=match):
        read_signal(path, fs=360, lead="a" if text.startswith("a,b") else None)


def test_npy_shapes_and_dtypes(tmp_path):
    np.save(tmp_path / "ok.npy", np.arange(10, dtype=np.int16).reshape(10, 1))
    assert read_signal(tmp_path / "ok.npy", fs=360).samples.shape == (10,)
    np.save(tmp_path / "two.npy", np.zeros((10, 2)))
    with pytest.raises(InputError, match=r"shape \(10, 2\)"):
        read_signal(tmp_path / "two.npy", fs=360)
    np.save(tmp_path / "text.npy", np.array(["a", "b"]))
    with pytest.raises(InputError, match="not numeric"):
        read_signal(tmp_path / "text.npy", fs=360)
    (tmp_path / "junk.npy").write_bytes(b"not an array")
    with pytest.raises(InputError, match=r"not a readable \.npy"):
        read_signal(tmp_path / "junk.npy", fs=360)
    with pytest.raises(InputError, match="sampling rate is missing"):
        read_signal(tmp_path / "ok.npy")
    with pytest.raises(InputError, match="below 100 Hz"):
        read_signal(tmp_path / "ok.npy", fs=50)


def test_wfdb_record_by_path(mitdb):
    signal = read_signal(mitdb / "100")
    assert signal.fs == 360 and signal.samples.size == 650000 and signal.reference is not None
    with pytest.raises(InputError, match="contradicts the header"):
        read_signal(mitdb / "100", fs=250)


def test_stream_blocks_and_partial_sample():
    data = np.arange(1000, dtype="<i2").tobytes()
    blocks = list(read_stream(io.BytesIO(data), "int16", 1.0, fs=360))
    assert np.concatenate(blocks).tolist() == list(range(1000))
    with pytest.raises(InputError, match="partial int16 sample"):
        list(read_stream(io.BytesIO(data + b"\x01"), "int16", 1.0, fs=360))
    with pytest.raises(InputError, match="empty"):
        list(read_stream(io.BytesIO(b""), "float32", 1.0, fs=360))
    bad = np.array([1.0, np.nan], dtype="<f4").tobytes()
    with pytest.raises(InputError, match="NaN"):
        list(read_stream(io.BytesIO(bad), "float32", 1.0, fs=360))
