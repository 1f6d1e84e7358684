"""edge-ecg noise-stress on one record and one SNR: the JSON layout, and noise costs accuracy."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from edge_ecg.cli import cli

pytestmark = [pytest.mark.data, pytest.mark.slow]


def test_noise_stress_one_record_one_snr(data_dir, tmp_path):
    out = tmp_path / "n.json"
    r = CliRunner().invoke(
        cli,
        ["noise-stress", "--data-dir", str(data_dir), "--snr", "0", "--records", "213",
         "--json", str(out), "--plot", str(tmp_path / "n.png")],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    res = json.loads(out.read_text())
    assert set(res["nstdb"]) == {"clean", "0"}
    assert {"clean", "0", "0/bw", "0/em", "0/ma"} <= set(res["mixes"])
    for study in ("nstdb", "mixes"):
        clean, noisy = res[study]["clean"], res[study]["0"]
        assert clean["se"] > 0.99 and clean["ppv"] > 0.99
        # noise invents beats: +P and class accuracy fall at 0 dB
        assert noisy["ppv"] < clean["ppv"] and noisy["accuracy"] < clean["accuracy"]
    assert (tmp_path / "n.png").read_bytes()[:4] == b"\x89PNG"


def test_mix_hits_the_asked_snr():
    from edge_ecg.records import Record
    from train.noise_stress import mix, qrs_power

    fs = 360.0
    t = np.arange(int(60 * fs))
    signal = np.zeros(t.size)
    beats = np.arange(180, t.size - 180, 300)
    signal[beats] = 1.0  # 1 mV spikes: peak-to-peak 1 mV
    rec = Record("x", fs, "MLII", "mV", signal, beats, np.zeros(beats.size, dtype=np.int64))
    noise = np.random.default_rng(0).standard_normal(t.size)
    noisy = mix(rec, noise, 6.0)
    added = noisy - signal
    snr = 10 * np.log10(qrs_power(rec) / np.mean(added**2))
    assert qrs_power(rec) == pytest.approx(1 / 8)
    assert snr == pytest.approx(6.0, abs=0.01)


def test_training_noise_comes_from_minutes_no_test_reads(data_dir):
    """real_noise trains on recorded noise: it must avoid the mixes' first minutes and every
    minute where NSTDB's 118e*/119e* carry em (read from the records, not assumed)."""
    import wfdb

    from train.noise_bank import TRAIN_MINUTES, noise_bank, noise_snippets
    from train.noise_stress import MIX_SECONDS

    fs = 360
    noisy_minutes = set()
    for name in ("118e06", "119e00"):
        clean = wfdb.rdrecord(str(data_dir / "mitdb" / name[:3]), channels=[0]).p_signal[:, 0]
        mixed = wfdb.rdrecord(str(data_dir / "nstdb" / name), channels=[0]).p_signal[:, 0]
        n = min(clean.size, mixed.size)
        diff = mixed[:n] - clean[:n]
        for m in range(n // (60 * fs)):
            if np.std(diff[m * 60 * fs : (m + 1) * 60 * fs]) > 0.05:
                noisy_minutes.add(m)
    assert {5, 6, 9, 10} <= noisy_minutes  # EC57's pattern: noise from minute 5, 2 on, 2 off
    for source, spans in TRAIN_MINUTES.items():
        for start, stop in spans:
            assert start * 60 >= MIX_SECONDS, (source, start)
            if source == "em":
                assert not set(range(start, stop)) & noisy_minutes, (start, stop)
    bank = noise_bank(data_dir)
    assert len(bank) == sum(len(s) for s in TRAIN_MINUTES.values())
    rows = noise_snippets(np.random.default_rng(0), bank, 2000, 128, 0.6)
    rms = np.sqrt(np.mean(rows**2, axis=1))
    assert 0.4 < np.mean(rms == 0) < 0.6 and rms.max() <= 0.6 + 1e-9
    # recorded electrode motion is spiky, unlike Gaussian noise (kurtosis 3)
    on = rows[rms > 0] / rms[rms > 0, None]
    assert np.median(np.mean(on**4, axis=1)) > 3.0


def test_artifact_check_candidates_label_the_detectors_extra_peaks(data_dir):
    """The artefact study's candidates: one row of the tree's features per detected peak, and
    label 1 exactly for the peaks EC57 matching leaves without a reference beat."""
    from edge_ecg.records import read_record
    from train.artifact_check import candidates

    rec = read_record(data_dir / "mitdb" / "105")  # noisy: the detector finds extra peaks
    part = candidates(rec, rec.signal)
    x, y = part["x"], part["y"]
    assert x.shape == (y.size, 43) and np.isfinite(x).all()  # gbt_features
    assert 0 < y.sum() < 0.05 * y.size  # some artefacts, mostly beats
    later = candidates(rec, rec.signal, first=round(600 * rec.fs))
    assert later["y"].size < y.size and later["missed"] <= part["missed"]
