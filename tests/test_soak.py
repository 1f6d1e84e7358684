"""A short soak: simulated noisy ECG streamed in blocks, memory flat, stream equal to batch."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.data, pytest.mark.slow]


@pytest.mark.parametrize(("leads", "check"), [(1, False), (2, False), (2, True)])
def test_short_soak_keeps_memory_flat_and_matches_batch(data_dir, leads, check):
    from firmware_bench.soak import soak

    r = soak(data_dir, hours=0.75, records=["208", "232"], check_minutes=3, bar=lambda x, _: x,
             leads=leads, artifact_check=check)  # fmt: skip
    assert r["simulated_hours"] == pytest.approx(0.75, abs=1e-3)
    assert r["beats"] > 0.75 * 3600 * 0.6  # at least 36 beats a minute of heart rate
    assert r["stream_equals_batch"]["identical"]
    assert r["stream_equals_batch"]["beats_compared"] > 100
    # growth of the resident set over the run, after the first quarter (warm-up)
    assert r["rss_mb"]["growth_after_warmup"] < 5.0
