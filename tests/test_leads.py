"""Two-lead detection: the second lead takes over where the first is noisy, and only there."""

from __future__ import annotations

import numpy as np
import pytest

from edge_ecg.classify import StreamClassifier, classify_record
from edge_ecg.detect import detect_peaks
from edge_ecg.errors import InputError
from edge_ecg.leads import SILENT, TwoLeadDetector, detect_peaks_two_leads
from edge_ecg.preprocess import Cleaner
from edge_ecg.records import read_record, read_second_lead
from edge_ecg.scoring import detection_scores
from edge_ecg.spec import FS
from edge_ecg.synthetic import synthetic_ecg


def _two_leads(seconds: int = 120, seed: int = 4):
    """One rhythm seen by two leads; lead 1 gets 30 s of QRS-band noise from a third in."""
    ecg = synthetic_ecg(seconds=seconds, fs=FS, seed=seed, noise=0.01)
    hiss = np.random.default_rng(seed + 1).standard_normal(ecg.signal.size)
    other = 0.6 * ecg.signal + 0.01 * hiss
    rng = np.random.default_rng(seed)
    burst = np.convolve(rng.standard_normal(30 * FS), np.hanning(9), "same")
    first = ecg.signal.copy()
    at = seconds // 3 * FS
    first[at : at + 30 * FS] += 0.2 * burst / burst.std()
    return first, other, ecg.peaks


def test_the_second_lead_removes_artefact_beats_of_a_noisy_first_lead():
    first, other, truth = _two_leads()
    one = detection_scores(truth, detect_peaks(first, FS), FS)
    two = detection_scores(truth, detect_peaks_two_leads(first, other, FS), FS)
    assert one["fp"] > 20  # the noise fools one lead
    assert two["fp"] <= 0.6 * one["fp"] and two["fn"] <= one["fn"]


def test_a_clean_first_lead_decides_alone():
    ecg = synthetic_ecg(seconds=60, fs=FS, seed=5, ectopic=0.1, noise=0.02)
    junk = np.random.default_rng(0).standard_normal(ecg.signal.size)  # a useless second lead
    two = detect_peaks_two_leads(ecg.signal, junk, FS)
    assert np.array_equal(two, detect_peaks(ecg.signal, FS))


@pytest.mark.parametrize("chunk", [1, 7, 360])
def test_blocks_give_identical_peaks_and_the_watermark_holds(chunk):
    first, other, _ = _two_leads(seconds=90, seed=3)
    whole = detect_peaks_two_leads(first, other, FS)
    assert np.array_equal(detect_peaks_two_leads(first, other, FS, chunk=chunk), whole)
    a, b = Cleaner(FS).push(first), Cleaner(FS).push(other)
    det, watermark, peaks = TwoLeadDetector(), 0, []
    for i in range(0, a.size, chunk):
        new = det.push(a[i : i + chunk], b[i : i + chunk])
        assert new.size == 0 or new.min() >= watermark
        watermark = det.watermark
        peaks += new.tolist()
    peaks += det.flush().tolist()
    assert np.all(np.diff(peaks) >= 0.2 * FS)  # never two beats within the refractory period


def test_stream_with_two_leads_equals_classify_record_in_any_blocks():
    first, other, _ = _two_leads(seconds=60, seed=6)
    whole = classify_record(first, FS, second=other)
    stream = StreamClassifier(FS, leads=2)
    both = np.column_stack([first, other])
    got = []
    for i in range(0, len(both), 250):
        got += stream.push(both[i : i + 250])
    got += stream.flush()
    assert [(b.sample, b.label) for b in got] == [(b.sample, b.label) for b in whole]


def test_mismatched_or_misshapen_leads_are_refused():
    x = synthetic_ecg(seconds=10, fs=FS, seed=1).signal
    with pytest.raises(InputError, match="sampled together"):
        detect_peaks_two_leads(x, x[:-5], FS)
    with pytest.raises(InputError, match="sampled together"):
        classify_record(x, FS, second=x[:-5])
    with pytest.raises(InputError, match=r"\(n, 2\)"):
        StreamClassifier(FS, leads=2).push(x)
    with pytest.raises(InputError, match="one lead, or two"):
        StreamClassifier(FS, leads=3)


@pytest.mark.data
def test_nstdb_6db_two_leads_find_more_beats_and_fewer_artefacts(data_dir):
    """118e06 after minute 5 (EC57): the second lead (V1) helps where MLII is buried."""
    first = read_record(data_dir / "nstdb" / "118e06")
    second = read_record(data_dir / "nstdb" / "118e06", lead="V1", annotator=None)
    skip = [(0, round(300 * first.fs))]
    one = detection_scores(first.beat_samples, detect_peaks(first.signal, first.fs), first.fs,
                           exclude=skip)  # fmt: skip
    two = detection_scores(
        first.beat_samples,
        detect_peaks_two_leads(first.signal, second.signal, first.fs),
        first.fs,
        exclude=skip,
    )
    assert two["fn"] < one["fn"] and two["fp"] < 0.8 * one["fp"]
    assert two["se"] > 0.98 and two["ppv"] > 0.85


def test_a_one_lead_record_has_no_second_lead(tmp_path):
    import wfdb

    x = synthetic_ecg(seconds=5, fs=FS, seed=2).signal
    wfdb.wrsamp("one", fs=FS, units=["mV"], sig_name=["MLII"], p_signal=x[:, None],
                fmt=["16"], write_dir=str(tmp_path))  # fmt: skip
    rec = read_record(tmp_path / "one", annotator=None)
    with pytest.raises(InputError, match="record one: lead MLII is its only lead"):
        read_second_lead(tmp_path / "one", rec)


def _cli(*args, input=None) -> str:
    from click.testing import CliRunner

    from edge_ecg.cli import cli

    r = CliRunner().invoke(cli, [str(a) for a in args], input=input)
    assert r.exit_code == 0, r.output
    return r.stdout


def test_cli_two_leads_read_alike_from_npy_csv_and_stdin(tmp_path):
    """The same two leads as an (n, 2) .npy, a two-column .csv and interleaved stdin frames
    give the same beats, and those of the Python API; one lead gives others."""
    first, other, _ = _two_leads(seconds=60, seed=6)
    both = np.column_stack([first, other]).astype(np.float32)
    np.save(tmp_path / "x.npy", both)
    rows = "\n".join(f"{a!r},{b!r}" for a, b in both.tolist())
    (tmp_path / "x.csv").write_text("MLII,V1\n" + rows + "\n")
    args = ["--fs", FS, "--format", "csv"]
    from_npy = _cli("classify", tmp_path / "x.npy", "--two-leads", *args)
    from_csv = _cli("classify", tmp_path / "x.csv", "--second-lead", "V1", *args)
    live = _cli("classify", "-", "--dtype", "float32", "--two-leads", *args,
                input=both.astype("<f4").tobytes())  # fmt: skip
    assert from_npy == from_csv == live
    api = classify_record(both[:, 0], FS, second=both[:, 1])
    got = [r.split(",")[:3] for r in from_npy.splitlines()[1:]]
    assert got == [[str(b.sample), f"{b.time:.4f}", b.label] for b in api]
    one = _cli("classify", tmp_path / "x.csv", *args)  # MLII alone
    assert one != from_csv


@pytest.mark.data
def test_cli_two_leads_on_a_wfdb_record(data_dir):
    """`--two-leads` takes the record's other lead (V1 in NSTDB) and reports which."""
    import json

    path = data_dir / "nstdb" / "118e06"
    body = json.loads(_cli("detect", path, "--two-leads", "--format", "json"))
    assert body["leads"] == ["MLII", "V1"]
    named = json.loads(_cli("detect", path, "--second-lead", "V1", "--format", "json"))
    assert named == body
    first = read_record(path)
    api = classify_record(first.signal, first.fs, second=read_second_lead(path, first).signal)
    assert [b["sample"] for b in body["beats"]] == [b.sample for b in api]
    alone = json.loads(_cli("detect", path, "--format", "json"))
    assert alone["leads"] == ["MLII"] and len(alone["beats"]) > len(body["beats"])


@pytest.mark.parametrize("off", ["flat", "railed"])
def test_a_silent_first_lead_hands_over_to_the_second(off):
    """A lead that falls off (flat or railed: no noise to raise its noise ratio) finds no
    beats; the second lead's beats are kept there, in any block size."""
    ecg = synthetic_ecg(seconds=120, fs=FS, seed=7, noise=0.01)
    other = 0.6 * ecg.signal + 0.01 * np.random.default_rng(8).standard_normal(ecg.signal.size)
    first = ecg.signal.copy()
    a, b = 30 * FS, 90 * FS
    first[a:b] = 0.0 if off == "flat" else 4.0
    gap = (ecg.peaks >= a) & (ecg.peaks < b)
    alone = detect_peaks(first, FS)
    assert np.sum((alone >= a) & (alone < b)) <= 1  # one lead: nothing in the gap but its edge
    two = detect_peaks_two_leads(first, other, FS)
    scores = detection_scores(ecg.peaks[gap], two[(two >= a) & (two < b)], FS)
    # lost: only the beats of the first SILENT seconds, before the lead counts as silent (one
    # more when the lead's fall itself looked like a beat to its detector)
    early = np.sum((ecg.peaks >= a) & (ecg.peaks < a + SILENT)) + 1
    assert scores["fn"] <= early and scores["tp"] >= gap.sum() - early and scores["fp"] <= 1
    assert np.array_equal(detect_peaks_two_leads(first, other, FS, chunk=250), two)


def test_detect_reports_the_second_leads_beats_where_the_first_is_off(tmp_path):
    """`detect --two-leads` finds beats on: a stretch is unreadable only where both leads are.
    `classify --two-leads` cannot classify there, and reports the stretch instead."""
    import json

    ecg = synthetic_ecg(seconds=120, fs=FS, seed=9, noise=0.01)
    other = 0.6 * ecg.signal + 0.01 * np.random.default_rng(10).standard_normal(ecg.signal.size)
    first = ecg.signal.copy()
    a, b = 40 * FS, 80 * FS
    first[a:b] = 0.0
    np.save(tmp_path / "off.npy", np.column_stack([first, other]))
    args = [tmp_path / "off.npy", "--fs", FS, "--two-leads", "--format", "json"]
    found = json.loads(_cli("detect", *args))
    classified = json.loads(_cli("classify", *args))
    in_gap = (ecg.peaks >= a) & (ecg.peaks < b)
    beats = np.array([x["sample"] for x in found["beats"]])
    assert np.sum((beats >= a) & (beats < b)) >= in_gap.sum() - 4 and not found["unreadable"]
    assert [u["reason"] for u in classified["unreadable"]] == ["flat"]
    kept = np.array([x["sample"] for x in classified["beats"]])
    assert np.sum((kept >= a) & (kept < b)) == 0
    # both leads off: unreadable for detect too
    both = np.column_stack([first, np.where(np.arange(first.size) < a + 10 * FS, other, 0.0)])
    np.save(tmp_path / "both.npy", both)
    off = json.loads(_cli("detect", tmp_path / "both.npy", *args[1:]))
    assert [u["reason"] for u in off["unreadable"]] == ["flat"]
    # streamed in blocks, the same beats and stretches
    stream = StreamClassifier(FS, leads=2, find_only=True)
    both = np.column_stack([first, other])
    got = []
    for i in range(0, len(both), 333):
        got += stream.push(both[i : i + 333])
    got += stream.flush()
    assert [g.sample for g in got] == beats.tolist() and not stream.take_segments()


def test_a_true_pause_is_not_a_silent_lead(data_dir):
    """MIT-BIH 232 has sinus pauses of up to 6 s. The second lead finds a few small waves
    there; the first lead is not off (its cleaned signal keeps P/T waves and noise), so none
    of them becomes a beat: two leads add no false beat to one lead's there."""
    rec = read_record(data_dir / "mitdb" / "232")
    second = read_second_lead(data_dir / "mitdb" / "232", rec)
    one = detection_scores(rec.beat_samples, detect_peaks(rec.signal, rec.fs), rec.fs)
    two = detection_scores(
        rec.beat_samples, detect_peaks_two_leads(rec.signal, second.signal, rec.fs), rec.fs
    )
    assert two["fp"] <= one["fp"] and two["fn"] <= one["fn"]


@pytest.mark.data
def test_rivals_are_lone_beats_of_the_other_lead_and_change_no_peak(data_dir):
    """NSTDB 118e06 from minute 4 (noise from minute 5): with rivals the detector reports the
    same peaks; each rival lies within ``RIVAL`` of its peak with no reported beat between, is
    not reported itself, and does not depend on the block size."""
    from edge_ecg.leads import RIVAL, detect_rivals

    path = data_dir / "nstdb" / "118e06"
    rec = read_record(path, annotator=None)
    span = slice(round(240 * rec.fs), round(420 * rec.fs))
    first, second = rec.signal[span], read_second_lead(path, rec).signal[span]
    peaks, rivals = detect_rivals(first, second, rec.fs)
    np.testing.assert_array_equal(peaks, detect_peaks_two_leads(first, second, rec.fs))
    again = detect_rivals(first, second, rec.fs, chunk=997)
    np.testing.assert_array_equal(again[0], peaks)
    np.testing.assert_array_equal(again[1], rivals)
    has = rivals >= 0
    assert has.sum() >= 5  # the noisy minutes have disagreements
    for p, r in zip(peaks[has], rivals[has], strict=True):
        assert 0 < abs(r - p) < RIVAL * rec.fs / FS + 1 and r not in peaks
        assert not np.any((peaks > min(p, r)) & (peaks < max(p, r)))
