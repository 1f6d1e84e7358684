"""The hot-path medians must give np.median's numbers bit for bit: the model's inputs use them."""

from __future__ import annotations

import numpy as np
import pytest

from edge_ecg.order_stats import RunningMedian, median, median_rows


@pytest.mark.parametrize("n", [1, 2, 7, 8, 31, 32, 128])
def test_median_and_median_rows_equal_numpy(n: int) -> None:
    rng = np.random.default_rng(n)
    a = rng.normal(size=(n, 5))
    assert median(a).tobytes() == np.median(a, axis=0).tobytes()
    b = np.ascontiguousarray(a.T)
    assert median_rows(b).tobytes() == np.median(b, axis=-1).tobytes()


@pytest.mark.parametrize("size", [8, 32, 128])
def test_running_median_equals_numpy_over_the_window(size: int) -> None:
    rng = np.random.default_rng(size)
    # Rounded RR-like values: many ties, so deletion must remove one equal value, not more.
    stream = np.round(rng.uniform(0.3, 3.0, 600), 2)
    stream[::17] = 3.0  # the clip value, repeated
    running = RunningMedian(size)
    for i, x in enumerate(stream):
        running.push(x)
        window = stream[max(0, i + 1 - size) : i + 1]
        assert len(running) == window.size
        expected = float(np.median(window))
        assert np.float64(running.value()).tobytes() == np.float64(expected).tobytes(), i


def test_featurizer_inputs_unchanged_against_np_median(mitdb, monkeypatch) -> None:
    """MIT-BIH 208 (V beats among N, pauses): every model input byte is what np.median gives."""
    from edge_ecg.beats import extract_beats
    from edge_ecg.records import read_record

    rec = read_record(mitdb / "208")
    n = round(rec.fs * 600)
    peaks = rec.beat_samples[rec.beat_samples < n]
    fast, _ = extract_beats(rec.signal[:n], rec.fs, peaks, chunk=round(5 * rec.fs))
    monkeypatch.setattr(RunningMedian, "value", lambda self: float(np.median(list(self.values))))
    slow, _ = extract_beats(rec.signal[:n], rec.fs, peaks, chunk=round(5 * rec.fs))
    assert len(fast) == len(slow) > 500
    for a, b in zip(fast, slow, strict=True):
        assert a.window.tobytes() == b.window.tobytes()
        assert a.rr.tobytes() == b.rr.tobytes()
