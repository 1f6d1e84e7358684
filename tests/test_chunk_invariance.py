"""Batch and stream see identical beats on real MIT-BIH records, whatever the block sizes."""

from __future__ import annotations

import numpy as np
import pytest

from edge_ecg.beats import extract_beats
from edge_ecg.records import read_record

pytestmark = pytest.mark.data


def _same(a, b):
    assert [x.seq for x in a] == [x.seq for x in b]
    assert [x.peak for x in a] == [x.peak for x in b]
    np.testing.assert_allclose(np.stack([x.window for x in a]), np.stack([x.window for x in b]),
                               rtol=0, atol=1e-6)  # fmt: skip
    np.testing.assert_allclose(np.stack([x.rr for x in a]), np.stack([x.rr for x in b]),
                               rtol=0, atol=1e-6)  # fmt: skip


@pytest.mark.parametrize("record", ["208", "114"])  # many V and F beats; swapped leads
@pytest.mark.parametrize("chunk", [7, 360, 5000])
def test_whole_record_in_chunks_gives_identical_beats(mitdb, record, chunk):
    rec = read_record(mitdb / record)
    whole, dropped = extract_beats(rec.signal, rec.fs, rec.beat_samples)
    chunked, dropped_chunked = extract_beats(rec.signal, rec.fs, rec.beat_samples, chunk=chunk)
    assert len(whole) > 1800 and dropped == dropped_chunked <= 2
    _same(whole, chunked)


def test_sample_by_sample_gives_identical_beats(mitdb):
    rec = read_record(mitdb / "208")
    n = 5 * 60 * 360  # five minutes: 108,000 single-sample pushes
    peaks = rec.beat_samples[rec.beat_samples < n]
    whole, _ = extract_beats(rec.signal[:n], rec.fs, peaks)
    one_by_one, _ = extract_beats(rec.signal[:n], rec.fs, peaks, chunk=1)
    assert len(whole) > 300
    _same(whole, one_by_one)


@pytest.mark.parametrize("chunk", [1, 97, 5000])
def test_two_lead_stream_is_byte_identical_in_any_blocks(data_dir, chunk):
    """NSTDB 118e06 (noise on both leads from minute 5): the same beats, classes and
    probability bytes from the two-lead stream whatever the block size, down to single
    samples."""
    from edge_ecg.classify import classify_record
    from edge_ecg.records import read_second_lead

    path = data_dir / "nstdb" / "118e06"
    rec = read_record(path, annotator=None)
    n = int(6 * 60 * rec.fs)  # the noise starts at minute 5
    first = rec.signal[:n]
    second = read_second_lead(path, rec).signal[:n]
    whole = classify_record(first, rec.fs, second=second)
    blocks = classify_record(first, rec.fs, second=second, chunk=chunk)
    assert len(whole) > 300
    assert [(b.sample, b.label, b.probabilities.tobytes()) for b in blocks] == [
        (b.sample, b.label, b.probabilities.tobytes()) for b in whole
    ]


@pytest.mark.parametrize("chunk", [None, 7, 1000])
def test_the_end_of_a_finite_input_keeps_its_beats(chunk):
    """The stream's flush extends the input's end for the filters' delay, as detect_peaks does:
    every detected beat whose window ends before the last real sample is classified, in the
    last second too (the bundled excerpt's beat 0.6 s before its end was lost before)."""
    from edge_ecg.classify import classify_record
    from edge_ecg.demo import load_excerpt
    from edge_ecg.detect import detect_peaks
    from edge_ecg.spec import FS, POST

    signal, fs, _, _ = load_excerpt()
    beats = [b.sample for b in classify_record(signal, fs, chunk=chunk)]
    peaks = detect_peaks(signal, fs)
    fits = peaks[peaks + POST * fs / FS + 2 * fs / FS < signal.size]
    assert set(fits) <= set(beats)
    assert max(beats) < signal.size
    assert signal.size - max(beats) < 0.7 * fs  # the beat at 299.38 s of 300
    # An input cut short ends the same way, and the beats before the cut do not move.
    short = [b.sample for b in classify_record(signal[: round(60 * fs)], fs, chunk=chunk)]
    early = [b for b in beats if b < 59 * fs]
    assert short[: len(early)] == early
    assert round(60 * fs) - max(short) < 1.0 * fs


@pytest.mark.parametrize("chunk", [1, 211])
def test_two_lead_stream_with_the_check_is_byte_identical_in_any_blocks(data_dir, chunk):
    """The same with the artefact check, whose rivals (the leads' disagreements, arbitrated
    by the check) wait for later peaks: NSTDB 118e06, minutes 4-7, noise from minute 5."""
    from edge_ecg.classify import classify_record
    from edge_ecg.records import read_second_lead

    path = data_dir / "nstdb" / "118e06"
    rec = read_record(path, annotator=None)
    span = slice(int(4 * 60 * rec.fs), int(7 * 60 * rec.fs))
    first, second = rec.signal[span], read_second_lead(path, rec).signal[span]
    whole = classify_record(first, rec.fs, second=second, artifact_check=True)
    blocks = classify_record(first, rec.fs, second=second, artifact_check=True, chunk=chunk)
    assert len(whole) > 150
    assert [(b.sample, b.label, b.probabilities.tobytes()) for b in blocks] == [
        (b.sample, b.label, b.probabilities.tobytes()) for b in whole
    ]
