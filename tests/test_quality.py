"""Unreadable stretches in a real record: found, reported in every output, no beats there."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from edge_ecg.classify import StreamClassifier
from edge_ecg.cli import cli
from edge_ecg.quality import QualityMonitor
from edge_ecg.records import read_record
from edge_ecg.spec import FS, POST, PRE

FS_IN = 360.0
#: (start s, end s, what is done to the lead, the verdict expected)
DAMAGE = [
    (30, 40, "disconnected", "flat"),
    (60, 66, "saturated", "saturated"),
    (90, 100, "noise", "noisy"),
]


def _damage(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    x = x.copy()
    for start, end, what, _ in DAMAGE:
        a, b = int(start * FS_IN), int(end * FS_IN)
        if what == "disconnected":
            x[a:b] = 0.0
        elif what == "saturated":
            x[a:b] = np.clip(8 * x[a:b], -1.0, 1.0)  # an amplifier driven into its rails
        else:
            x[a:b] += rng.normal(0.0, 2.0, b - a)  # electrode motion, far above the QRS
    return x


@pytest.fixture(scope="module")
def record(mitdb):
    r = read_record(mitdb / "100", annotator=None)
    clean = r.signal[: int(150 * FS_IN)]
    return clean, _damage(clean, np.random.default_rng(7))


def _run(signal: np.ndarray, chunk: int):
    stream = StreamClassifier(FS_IN)
    beats = []
    for k in range(0, signal.size, chunk):
        beats += stream.push(signal[k : k + chunk])
    beats += stream.flush()
    return beats, stream.take_segments()


def test_each_kind_of_damage_is_found_with_its_reason(record):
    clean, damaged = record
    _, segments = _run(damaged, 1800)
    assert [s.reason for s in segments] == [d[3] for d in DAMAGE]
    for s, (start, end, _, _) in zip(segments, DAMAGE, strict=True):
        # judged in whole seconds: the segment covers the damage, and at most 1 s more each side
        assert s.start <= start * FS_IN < s.start + FS_IN
        assert s.end - FS_IN < end * FS_IN <= s.end
    _, none = _run(clean, 1800)
    assert none == []


def test_no_beats_touch_unreadable_input_and_classification_resumes(record):
    clean, damaged = record
    beats, segments = _run(damaged, 1800)
    reference, _ = _run(clean, 1800)
    pre, post = PRE * FS_IN / FS, POST * FS_IN / FS
    for s in segments:
        assert not [b for b in beats if b.sample - pre < s.end and b.sample + post > s.start]
        after = [b.sample for b in beats if s.end <= b.sample < s.end + 5 * FS_IN]
        assert len(after) >= 3, f"classification did not resume after {s}"

    # Away from the damage (5 s margin for the filters and detector to settle), the beats and
    # their classes are those of the undamaged record.
    def far(b):
        return all(not (s.start - 5 * FS_IN < b.sample < s.end + 5 * FS_IN) for s in segments)

    got = [(b.sample, b.label) for b in beats if far(b)]
    want = [(b.sample, b.label) for b in reference if far(b)]
    assert got == want
    assert len(got) > 100


def test_segments_and_beats_do_not_depend_on_chunking(record):
    _, damaged = record
    beats, segments = _run(damaged, damaged.size)
    for chunk in (7, 360, 5000):
        b, s = _run(damaged, chunk)
        assert s == segments
        assert [(x.sample, x.label) for x in b] == [(x.sample, x.label) for x in beats]


def test_monitor_reasons_on_plain_signals():
    fs = 250.0
    t = np.arange(int(20 * fs)) / fs
    ecg_like = np.sin(2 * np.pi * 1.2 * t) + 0.05 * np.sin(2 * np.pi * 17 * t)
    m = QualityMonitor(fs)
    assert m.push(ecg_like) == [] and m.flush() == []
    rail = ecg_like.copy()
    rail[int(10.3 * fs) : int(10.5 * fs)] = ecg_like.max()  # 0.2 s stuck at the top
    rail[int(13 * fs) : int(15 * fs)] = 0.7  # two whole seconds of a constant
    m = QualityMonitor(fs)
    segments = m.push(rail) + m.flush()
    got = [(s.start, s.end, s.reason) for s in segments]
    assert got == [(2500, 2750, "saturated"), (3250, 3750, "flat")]


def _cli(*args, input=None):
    r = CliRunner().invoke(cli, [str(a) for a in args], input=input)
    assert r.exit_code == 0, r.output
    return r.output


def test_outputs_mark_unreadable_stretches(record, tmp_path):
    wfdb = pytest.importorskip("wfdb")
    _, damaged = record
    npy = tmp_path / "damaged.npy"
    np.save(npy, damaged)
    _, segments = _run(damaged, damaged.size)
    spans = [(s.start, s.end, s.reason) for s in segments]

    _cli("classify", npy, "--fs", FS_IN, "--format", "wfdb", "--out-dir", tmp_path)
    ann = wfdb.rdann(str(tmp_path / "damaged"), "edge")
    marks = [
        (int(ann.sample[i]), int(ann.subtype[i]), ann.aux_note[i])
        for i, sym in enumerate(ann.symbol)
        if sym == "~"
    ]
    want = []
    for a, b, reason in spans:
        want += [(a, -1, reason), (b, 0, "")]
    assert marks == want
    beats = ann.sample[[s != "~" for s in ann.symbol]]
    assert not any(((beats >= a) & (beats < b)).any() for a, b, _ in spans)

    body = json.loads(_cli("classify", npy, "--fs", FS_IN, "--format", "json"))
    assert [(u["start"], u["end"], u["reason"]) for u in body["unreadable"]] == spans
    assert body["unreadable"][0]["start_time"] == pytest.approx(spans[0][0] / FS_IN)

    rows = _cli("detect", npy, "--fs", FS_IN, "--format", "csv").splitlines()
    assert rows[0] == "sample,time,end,reason"
    flagged = [r.split(",") for r in rows[1:] if r.split(",")[3]]
    assert [(int(r[0]), int(r[2]), r[3]) for r in flagged] == spans
    samples = [int(r.split(",")[0]) for r in rows[1:]]
    assert samples == sorted(samples)

    summary = _cli("classify", npy, "--fs", FS_IN)
    assert "unreadable: 3 stretches" in summary


def test_live_stdin_csv_flags_a_stretch_as_it_closes(record):
    _, damaged = record
    raw = np.round(damaged[: int(50 * FS_IN)] * 200).astype("<i2").tobytes()
    rows = _cli(
        "classify", "-", "--fs", FS_IN, "--dtype", "int16", "--format", "csv", input=raw
    ).splitlines()
    flagged = [r for r in rows if ",~," in r]
    assert len(flagged) == 1 and flagged[0].endswith(",flat")


def test_two_lead_verdict_is_unreadable_only_where_both_leads_are():
    from edge_ecg.quality import QualityMonitor

    rng = np.random.default_rng(0)
    fs = 100
    x = np.sin(np.arange(40 * fs) / 7.0) + 0.05 * rng.standard_normal(40 * fs)
    y = x.copy()
    x[10 * fs : 20 * fs] = 0.0  # lead 1 flat, lead 2 fine
    x[25 * fs : 30 * fs] = 0.0  # both flat
    y[25 * fs : 30 * fs] = 0.0
    y[32 * fs : 35 * fs] = 3.0  # lead 2 railed, lead 1 fine
    mon = QualityMonitor(fs, leads=2)
    segments = mon.push(np.column_stack([x, y])) + mon.flush()
    assert [(s.start, s.end, s.reason) for s in segments] == [(25 * fs, 30 * fs, "flat")]
    one = QualityMonitor(fs)
    first = one.push(x) + one.flush()
    assert [(s.start, s.end) for s in first] == [(10 * fs, 20 * fs), (25 * fs, 30 * fs)]
