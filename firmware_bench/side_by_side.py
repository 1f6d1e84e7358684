"""Whole-record runs timed side by side: interleaved, so a busy machine slows them alike."""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np


def interleaved(
    runs: dict[str, Callable[[], list]], repeats: int
) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Each run's wall times (s), one per round, the runs taking turns within a round; and how
    many items (beats) each returned."""
    times: dict[str, list[float]] = {k: [] for k in runs}
    counts: dict[str, int] = {}
    for _ in range(repeats):
        for name, run in runs.items():
            t0 = time.perf_counter()
            counts[name] = len(run())
            times[name].append(time.perf_counter() - t0)
    return times, counts


def summary_lines(
    times: dict[str, list[float]], counts: dict[str, int], minutes: float, base: str | None = None
) -> list[str]:
    """A line per run: beats, median/min/max seconds, real-time factor, and the ratio of its
    median to ``base``'s."""
    ref = float(np.median(times[base])) if base else None
    lines = []
    for name, t in times.items():
        med = float(np.median(t))
        ratio = f"; {med / ref:.2f}x {base}" if ref else ""
        lines.append(
            f"{name}: {counts[name]} beats of {minutes:.0f} min in {med:.3f} s median "
            f"(min {min(t):.3f}, max {max(t):.3f}; real-time factor {minutes * 60 / med:,.0f}"
            f"{ratio})"
        )
    return lines
