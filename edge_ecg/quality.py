"""Signal quality in the stream: which seconds of input are unreadable, and why.

The input is judged in fixed one-second blocks aligned to the input's own sample index, so the
verdicts do not depend on how the stream was chunked. A block is unreadable when the lead is
flat or disconnected (no variation), saturated (stuck at an ADC rail), or swamped by noise
(its high-frequency energy or its amplitude dwarfs the recent clean blocks). No beats are
reported inside unreadable blocks; classification resumes with the first readable block.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .order_stats import RunningMedian, median

#: Verdict names, in the order they are checked.
REASONS = ("flat", "saturated", "noisy")
#: A run of identical samples this long (s) at the block's extreme is a rail.
RAIL_SECONDS = 0.08
#: Recent readable blocks whose median amplitude and noise define "normal" for this patient.
HISTORY = 16


@dataclass(frozen=True)
class Segment:
    """An unreadable stretch of input, [start, end) in input samples."""

    start: int
    end: int
    reason: str

    def as_dict(self, fs: float) -> dict:
        return {
            "start": self.start,
            "end": self.end,
            "start_time": round(self.start / fs, 4),
            "end_time": round(self.end / fs, 4),
            "reason": self.reason,
        }


def _longest_run_at(x: np.ndarray, value: float, at_least: int) -> int:
    """Longest run of ``value`` in ``x`` (0 when fewer than ``at_least`` samples hold it)."""
    hit = x == value
    if np.count_nonzero(hit) < at_least:
        return 0
    hit = np.concatenate([[0], hit.astype(np.int8), [0]])
    edges = np.flatnonzero(np.diff(hit))
    return int((edges[1::2] - edges[::2]).max()) if edges.size else 0


class _LeadJudge:
    """One lead's verdict on a block, against that lead's own recent readable blocks."""

    def __init__(self, fs: float) -> None:
        self.fs = fs
        self._amp = RunningMedian(HISTORY)
        self._hf = RunningMedian(HISTORY)

    def verdict(self, x: np.ndarray) -> str | None:
        hi, lo = float(x.max()), float(x.min())
        ptp = hi - lo
        # Flat: no variation relative to the level (|median| only matters if the block is nearly
        # flat, and it is never above max |x|, so it is computed only then).
        nearly_flat = ptp <= 1e-9 * max(abs(hi), abs(lo), 1.0)
        if nearly_flat and ptp <= 1e-9 * max(abs(float(median(x))), 1.0):
            return "flat"
        rail = round(RAIL_SECONDS * self.fs)
        if max(_longest_run_at(x, hi, rail), _longest_run_at(x, lo, rail)) >= rail:
            return "saturated"
        d1 = x[1:] - x[:-1]
        hf = float(median(np.abs(d1[1:] - d1[:-1])))  # np.diff(x, 2), spelt out
        if len(self._amp) >= 4:
            amp = self._amp.value()
            noise = self._hf.value()
            if ptp > 10 * amp or ptp < 0.02 * amp or hf > 8 * max(noise, 1e-12):
                return "noisy"
        self._amp.push(ptp)
        self._hf.push(hf)
        return None


class QualityMonitor:
    """Streaming block-wise signal-quality verdicts at ``fs`` Hz.

    ``leads=2`` judges (n, 2) input, each lead against its own history: a block is unreadable
    only when both leads are (its reason is the first lead's, then the second's if it differs,
    e.g. ``flat/noisy``). That is what finding beats on two leads needs; classifying one lead
    needs that lead readable, and judges it alone.
    """

    def __init__(self, fs: float, leads: int = 1) -> None:
        self.fs = float(fs)
        self.block = max(1, round(self.fs))
        self.leads = leads
        self._judges = [_LeadJudge(self.fs) for _ in range(leads)]
        self._pending = np.empty((0, leads))
        self._start = 0  # input index of self._pending[0]
        self._open: Segment | None = None

    def _verdict(self, block: np.ndarray) -> str | None:
        reasons = [j.verdict(block[:, i]) for i, j in enumerate(self._judges)]
        if any(r is None for r in reasons):
            return None
        return "/".join(dict.fromkeys(reasons))

    def push(self, x: np.ndarray) -> list[Segment]:
        """Add input samples ((n,), or (n, 2) with ``leads=2``); return unreadable segments
        that have just closed."""
        x = np.asarray(x, dtype=np.float64).reshape(-1, self.leads)
        self._pending = np.concatenate([self._pending, x])
        closed: list[Segment] = []
        while len(self._pending) >= self.block:
            block, self._pending = self._pending[: self.block], self._pending[self.block :]
            closed += self._judge(block)
        return closed

    def _judge(self, block: np.ndarray) -> list[Segment]:
        start, end = self._start, self._start + len(block)
        self._start = end
        reason = self._verdict(block)
        closed: list[Segment] = []
        if self._open is not None and (reason is None or reason != self._open.reason):
            closed.append(self._open)
            self._open = None
        if reason is not None:
            if self._open is None:
                self._open = Segment(start, end, reason)
            else:
                self._open = Segment(self._open.start, end, reason)
        return closed

    @property
    def judged_until(self) -> int:
        """Input samples judged so far (every segment before this is known)."""
        return self._start

    def current(self) -> Segment | None:
        """The unreadable segment still open at the end of the judged input, if any."""
        return self._open

    def flush(self) -> list[Segment]:
        """Judge the last partial block and close any open segment."""
        closed: list[Segment] = []
        if len(self._pending) >= max(2, self.block // 4):
            closed += self._judge(self._pending)
        elif len(self._pending):
            self._start += len(self._pending)
            if self._open is not None:
                self._open = Segment(self._open.start, self._start, self._open.reason)
        self._pending = np.empty((0, self.leads))
        if self._open is not None:
            closed.append(self._open)
            self._open = None
        return closed
