"""Filters, resampling and cleaning: accuracy at every database rate and block invariance."""

from __future__ import annotations

import numpy as np
import pytest

from edge_ecg import InputError
from edge_ecg.beats import extract_beats
from edge_ecg.filters import StreamFIR, baseline_kernel, lowpass_kernel
from edge_ecg.preprocess import Cleaner, clean
from edge_ecg.resample import StreamResampler
from edge_ecg.spec import FS, PRE, RR_FEATURES
from edge_ecg.synthetic import synthetic_ecg

RATES = (100, 128, 250, 257, 360, 500, 1000)


def _feed(obj, x, chunk):
    return np.concatenate([obj.push(x[i : i + chunk]) for i in range(0, len(x), chunk)])


def test_lowpass_passes_ecg_band_and_stops_noise():
    fs = 360
    k = lowpass_kernel(fs)
    freqs = np.fft.rfftfreq(4096, 1 / fs)
    gain = np.abs(np.fft.rfft(k, 4096))
    assert np.all(np.abs(gain[freqs < 25] - 1) < 0.02)
    assert np.all(gain[freqs > 55] < 0.03)  # 60 Hz mains and EMG


def test_baseline_filter_removes_wander_and_keeps_qrs_band():
    k = baseline_kernel(FS)
    freqs = np.fft.rfftfreq(8192, 1 / FS)
    gain = np.abs(np.fft.rfft(k, 8192))
    assert gain[0] < 1e-9
    assert np.all(gain[(freqs > 0.05) & (freqs < 0.3)] < 0.45)  # respiration-driven wander
    assert np.all(np.abs(gain[(freqs > 8) & (freqs < 40)] - 1) < 0.1)


@pytest.mark.parametrize("chunk", [1, 7, 360, 5000])
def test_stream_fir_is_bit_identical_whatever_the_blocks(chunk):
    x = np.random.default_rng(1).standard_normal(20_000)
    k = lowpass_kernel(360)
    assert np.array_equal(_feed(StreamFIR(k), x, chunk), StreamFIR(k).push(x))


@pytest.mark.parametrize("fs_in", RATES)
def test_resampler_reproduces_a_sine_at_every_database_rate(fs_in):
    f = 5.0
    t_in = np.arange(int(fs_in * 10)) / fs_in
    y = StreamResampler(fs_in, FS).push(np.sin(2 * np.pi * f * t_in))
    t_out = np.arange(len(y)) / FS
    assert len(y) == pytest.approx(10 * FS, abs=2)
    # linear interpolation's error bound for a sine: (pi f / fs)^2 / 2
    bound = 0.5 * (np.pi * f / min(fs_in, FS)) ** 2 + 1e-3
    assert np.max(np.abs(y - np.sin(2 * np.pi * f * t_out))) < bound


@pytest.mark.parametrize("fs_in", RATES)
@pytest.mark.parametrize("chunk", [1, 7, 360, 5000])
def test_resampler_is_block_invariant(fs_in, chunk):
    x = np.random.default_rng(2).standard_normal(3000)
    whole = StreamResampler(fs_in, FS).push(x)
    assert np.array_equal(_feed(StreamResampler(fs_in, FS), x, chunk), whole)


@pytest.mark.parametrize("fs_in", RATES)
def test_cleaned_r_peaks_land_where_the_index_map_says(fs_in):
    ecg = synthetic_ecg(seconds=20, fs=fs_in, seed=3, wander=0.5, noise=0.02)
    cleaner = Cleaner(fs_in)
    y = cleaner.push(ecg.signal)
    at = np.round(cleaner.to_clean_index(ecg.peaks)).astype(int)
    at = at[at < len(y) - 5]
    local_max = [a - 5 + int(np.argmax(y[a - 5 : a + 6])) for a in at]
    offset = np.array(local_max) - at
    # the synthetic R time is rounded to the input grid, so a slow input adds half its step
    assert np.max(np.abs(offset)) <= 1 + round(FS / (2 * fs_in))
    assert abs(np.mean(offset)) < 0.5  # no systematic delay error (S wave pulls R early)
    back = cleaner.to_input_index(at)
    assert np.max(np.abs(back - ecg.peaks[: len(at)])) <= fs_in / FS


def test_beat_windows_agree_across_sampling_rates():
    ref = None
    for fs_in in RATES:
        ecg = synthetic_ecg(seconds=30, fs=fs_in, seed=4, ectopic=0.2)
        beats, _ = extract_beats(ecg.signal, fs_in, ecg.peaks)
        windows = np.stack([b.window[:, 0] for b in beats[5:40]])
        if ref is None:
            ref = windows
            continue
        # R-peaks fall between samples, so a beat may sit one sample (5.6 ms) off
        corr = [
            max(np.corrcoef(a[2:-2], np.roll(b, s)[2:-2])[0, 1] for s in (-1, 0, 1))
            for a, b in zip(ref, windows, strict=True)
        ]
        assert min(corr) > 0.98, fs_in


def test_baseline_wander_is_gone_from_windows():
    flat = synthetic_ecg(seconds=30, fs=360, seed=5)
    wandering = synthetic_ecg(seconds=30, fs=360, seed=5, wander=1.0)
    a = clean(flat.signal, 360)
    b = clean(wandering.signal, 360)
    assert np.sqrt(np.mean((a[300:] - b[300:]) ** 2)) < 0.05


def test_rr_features_follow_the_rhythm():
    ecg = synthetic_ecg(seconds=120, fs=360, heart_rate=60, seed=6, ectopic=0.1)
    beats, _ = extract_beats(ecg.signal, 360, ecg.peaks)
    labels = ecg.labels[[b.seq for b in beats]]
    rr = np.stack([b.rr for b in beats])
    normal, premature = rr[labels == 0], rr[labels != 0]
    long, pre_over_long = RR_FEATURES.index("long_rr"), RR_FEATURES.index("pre_over_long")
    assert np.median(normal[:, long]) == pytest.approx(1.0, abs=0.05)  # 60 bpm
    assert np.median(premature[:, pre_over_long]) < 0.75 < np.median(normal[:, pre_over_long])
    mean, pre_over_mean = RR_FEATURES.index("mean_rr"), RR_FEATURES.index("pre_over_mean")
    assert np.median(normal[:, mean]) == pytest.approx(1.0, abs=0.1)
    assert np.median(premature[:, pre_over_mean]) < 0.8 < np.median(normal[:, pre_over_mean])


def test_window_is_centred_on_the_r_peak():
    ecg = synthetic_ecg(seconds=20, fs=360, seed=7)
    beats, _ = extract_beats(ecg.signal, 360, ecg.peaks)
    for b in beats:
        assert int(np.argmax(b.window[:, 0])) == PRE


@pytest.mark.parametrize("bad", [np.array([1.0, np.nan, 2.0] * 200), np.ones((10, 2))])
def test_bad_signals_are_named(bad):
    with pytest.raises(InputError, match="signal"):
        extract_beats(bad, 360, np.array([100]))


def test_signal_shorter_than_a_window_is_refused():
    with pytest.raises(InputError, match="shorter than one beat window"):
        extract_beats(np.zeros(100), 360, np.array([50]))


@pytest.mark.parametrize("fs", [None, 50, 99.9, float("nan"), "abc"])
def test_unusable_sampling_rates_are_refused(fs):
    with pytest.raises(InputError, match="sampling rate"):
        Cleaner(fs)
