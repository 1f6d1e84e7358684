"""R-peaks from two leads: the primary lead's beats, unless the other lead is the cleaner one.

Electrode motion noise makes QRS-like artefacts that one lead's detector cannot tell from beats
(docs/noise.md), but a second lead often stays readable where the first does not. Each lead
runs its own :class:`~edge_ecg.detect.PeakDetector`, whose noise ratio (noise level over
signal level, ``PeakDetector.noise_ratio``) says how noisy that lead is at each moment. A beat
found by both leads (within ``PAIR``, EC57's matching window) is kept at the primary lead's
R-peak. A beat only one lead found is decided by the leads' noise ratios there: the primary
lead is trusted unless it is noisy (ratio above ``SWITCH_RATIO``) and the second lead is
cleaner; then the second is. A lead that fell silent (flat, off or saturated: no noise to
raise its ratio) is caught another way: a beat only the second lead found is also kept when the
primary lead has found no beat for ``SILENT`` seconds before it.

``SWITCH_RATIO`` is about the 99th percentile of the primary (MLII) lead's ratio over all 48
clean MIT-BIH records, so on clean signal the primary lead decides alone, as with one lead.
``SILENT`` is 2 s, a heart rate of 30 bpm: a primary lead that finds beats leaves no gap that
long outside true pauses. In a true pause the second lead may still find something (P or T
waves, noise: six false beats in MIT-BIH 232's sinus pauses), but the primary lead is not flat
there: its cleaned signal keeps 4-15 % of its R amplitude, where a flat or railed lead, once
the filters settle, gives exactly 0. ``FLAT`` (2 %) lies between.

Decisions wait until both detectors have passed a beat by ``REFRACTORY``, and use only what
both had decided by then, so the peaks are the same whatever the block sizes.

Where the leads disagree, a beat only one lead found is often noise standing in for a beat
only the other lead found, 150-400 ms away (NSTDB 118e06/119e06: 36 of the 37 beats the merge
missed had been found by the second lead alone; docs/noise.md).
The rules above cannot tell which is which, but the artefact check (:mod:`.artifact`) can. With
``rivals=True`` each reported beat that only one lead found carries its *rival*: the other
lead's unreported lone beat within ``RIVAL`` of it, with no reported beat between the two. The
stream with the artefact check reads both and keeps the one the check finds more beat-like
(``StreamClassifier``). Rivals cost ``2 * RIVAL`` more latency: a rival belongs to the reported
beat nearest to it, which must be known.
"""

from __future__ import annotations

from collections import deque

import numpy as np

from .detect import REFRACTORY, PeakDetector, feed_whole
from .errors import InputError
from .preprocess import Cleaner, check_signal
from .scoring import near
from .spec import FS

#: The primary lead counts as noisy above this noise ratio (see the module docstring).
SWITCH_RATIO = 0.4
#: Beats of the two leads this close (s) are the same beat (EC57's matching window).
PAIR = round(0.15 * FS)
#: The primary lead counts as silent when it found no beat for this long (samples).
SILENT = round(2.0 * FS)
#: ... and as flat when its cleaned signal over the last ``QUIET`` samples before a beat (and
#: 100 ms after) stays under this share of the median of its last ``AMPS`` R amplitudes.
FLAT = 0.02
QUIET = FS
AFTER = round(0.1 * FS)
AMPS = 8
#: A beat only one lead found and the other lead's lone beat this close (samples) are rivals.
RIVAL = round(0.4 * FS)


class TwoLeadDetector:
    """Two :class:`PeakDetector`s, one per cleaned lead, merged into one beat stream.

    ``push(primary, second)`` takes equal blocks of both cleaned leads and returns the R-peaks
    now final (cleaned-signal indices, increasing); ``watermark`` and ``latency_seconds`` mean
    what they mean for ``PeakDetector``.
    """

    latency_seconds = PeakDetector.latency_seconds + 2 * REFRACTORY / FS

    def __init__(self, start: int = 0, rivals: bool = False) -> None:
        """``rivals``: also find each reported beat's rival (see the module docstring); after
        each ``push`` or ``flush``, ``rivals`` holds them, aligned with the peaks returned
        (-1: none)."""
        self.leads = (PeakDetector(start, history=True), PeakDetector(start, history=True))
        self._with_rivals = rivals
        if rivals:
            self.latency_seconds = type(self).latency_seconds + 2 * RIVAL / FS
        self.rivals = np.empty(0, dtype=np.int64)
        # Reported and dropped lone beats (time, lead) waiting for their rivals to be known,
        # and the reported ones of the last 2 * RIVAL.
        self._held: deque[tuple[int, int]] = deque()
        self._dropped: deque[tuple[int, int]] = deque()
        self._released: deque[int] = deque()
        self._peaks: tuple[list[int], list[int]] = ([], [])  # undecided, and recent context
        self._last: int | None = None  # the last beat reported
        # The primary lead's last peak before the decided time; silence counts from the start.
        self._last_primary = int(start)
        self._decided = -(10**18)  # peaks before this time are decided
        self._watermark = 0
        # The primary lead's recent cleaned samples (from index _buf_start), the R amplitudes of
        # its decided peaks and of those still undecided: what the flatness test reads.
        self._buf = np.empty(0)
        self._buf_start = 0
        self._amps: deque[float] = deque(maxlen=AMPS)
        self._pending_amps: dict[int, float] = {}

    @property
    def watermark(self) -> int:
        return self._watermark

    def push(self, primary: np.ndarray, second: np.ndarray) -> np.ndarray:
        """Add equal blocks of both cleaned leads; return the R-peaks now final."""
        if np.shape(primary) != np.shape(second):
            raise ValueError(f"leads: blocks of {np.shape(primary)} and {np.shape(second)}")
        self._buf = np.concatenate([self._buf, np.abs(np.asarray(primary, dtype=np.float64))])
        for k, (det, block, found) in enumerate(
            zip(self.leads, (primary, second), self._peaks, strict=True)
        ):
            new = det.push(block).tolist()
            found += new
            if k == 0:
                self._note_amplitudes(new)
        return self._release(self._decide(min(d.watermark for d in self.leads) - REFRACTORY))

    def flush(self) -> np.ndarray:
        for k, (det, found) in enumerate(zip(self.leads, self._peaks, strict=True)):
            new = det.flush().tolist()
            found += new
            if k == 0:
                self._note_amplitudes(new)
        out = self._release(self._decide(None))
        self._watermark = max(self._watermark, *(d.watermark for d in self.leads))
        return out

    def _decide(self, until: int | None) -> np.ndarray:
        """Decide the peaks in [decided, until) (all of them when ``until`` is None)."""
        a, b = (np.asarray(p, dtype=np.int64) for p in self._peaks)
        end = np.iinfo(np.int64).max if until is None else until
        if end <= self._decided:
            return np.empty(0, dtype=np.int64)
        new_a = a[(a >= self._decided) & (a < end)]
        new_b = b[(b >= self._decided) & (b < end)]
        switch_a = self._switched(new_a)
        silent = self._primary_silent(new_b, a)
        silent[silent] = self._flat(new_b[silent])
        switch_b = self._switched(new_b) | silent
        keep_a = new_a[near(new_a, b, PAIR) | ~switch_a]
        keep_b = new_b[~near(new_b, a, PAIR) & switch_b]
        # In time order, never two beats within the refractory period (the earlier one stays).
        out = []
        for t in np.sort(np.concatenate([keep_a, keep_b])).tolist():
            if self._last is None or t - self._last >= REFRACTORY:
                out.append(t)
                self._last = t
        if self._with_rivals:
            self._note_lone(out, new_a, new_b, a, b)
        self._decided = end
        before = a[a < end]
        if before.size:
            self._last_primary = max(self._last_primary, int(before[-1]))
        for t in sorted(k for k in self._pending_amps if k < end):
            self._amps.append(self._pending_amps.pop(t))
        if until is not None:
            # With rivals: a reported beat's rival may come up to RIVAL before it.
            self._watermark = max(self._watermark, until - (RIVAL if self._with_rivals else 0))
            # Keep the recent peaks as context for pairing the next ones, and the levels needed
            # to know each lead's state after `until`.
            horizon = until - PAIR
            self._peaks = tuple([p for p in found if p >= horizon] for found in (a, b))
            for det in self.leads:
                levels = det.levels
                while len(levels) > 1 and levels[1][0] < until:
                    levels.popleft()
            drop = until - QUIET - self._buf_start
            if drop > 0:
                self._buf = self._buf[drop:]
                self._buf_start += drop
        return np.asarray(out, dtype=np.int64)

    def _note_lone(
        self, out: list[int], new_a: np.ndarray, new_b: np.ndarray, a: np.ndarray, b: np.ndarray
    ) -> None:
        """Queue the decided beats with the lead that alone found them (-1: both), and the lone
        beats not reported, which may be rivals."""
        reported = set(out)
        lone_a = new_a[~near(new_a, b, PAIR)].tolist()
        lone_b = new_b[~near(new_b, a, PAIR)].tolist()
        lead = dict.fromkeys(lone_a, 0) | dict.fromkeys(lone_b, 1)
        self._held.extend((t, lead.get(t, -1)) for t in out)
        dropped = [(t, 0) for t in lone_a if t not in reported]
        dropped += [(t, 1) for t in lone_b if t not in reported]
        self._dropped.extend(sorted(dropped))

    def _release(self, peaks: np.ndarray) -> np.ndarray:
        """Without rivals, ``peaks``; with them, the held beats whose rival is known by now
        (everything within ``2 * RIVAL`` after them is decided), and set ``rivals``."""
        if not self._with_rivals:
            self.rivals = np.full(peaks.size, -1, dtype=np.int64)
            return peaks
        out, rivals = [], []
        while self._held and (
            self._decided == np.iinfo(np.int64).max or self._held[0][0] + 2 * RIVAL < self._decided
        ):
            t, lead = self._held.popleft()
            out.append(t)
            rivals.append(self._rival_of(t, lead))
            self._released.append(t)
        if self._held:
            self._watermark = min(self._watermark, self._held[0][0] - RIVAL)
        frontier = (self._held[0][0] if self._held else self._decided) - 2 * RIVAL
        while self._released and self._released[0] < frontier:
            self._released.popleft()
        while self._dropped and self._dropped[0][0] < frontier:
            self._dropped.popleft()
        self.rivals = np.asarray(rivals, dtype=np.int64)
        return np.asarray(out, dtype=np.int64)

    def _rival_of(self, t: int, lead: int) -> int:
        """The other lead's unreported lone beat nearest ``t`` within ``RIVAL``, with no reported
        beat between them, none nearer to it than ``t`` and none other within ``REFRACTORY``
        of it (-1: none)."""
        if lead < 0:
            return -1
        reported = sorted([*self._released, t, *(h for h, _ in self._held)])
        best = -1
        for d, other in self._dropped:
            if other == lead or abs(d - t) >= RIVAL:
                continue
            lo, hi = min(t, d), max(t, d)
            if any(lo < r < hi for r in reported):
                continue
            if min(reported, key=lambda r: (abs(r - d), r)) != t:
                continue
            if any(r != t and abs(r - d) < REFRACTORY for r in reported):
                continue
            if best < 0 or abs(d - t) < abs(best - t):
                best = d
        return best

    def _note_amplitudes(self, peaks: list[int]) -> None:
        """The primary lead's R amplitude at each new peak (its cleaned |signal| there)."""
        for p in peaks:
            i = p - self._buf_start
            self._pending_amps[p] = float(self._buf[i]) if 0 <= i < self._buf.size else 0.0

    def _flat(self, times: np.ndarray) -> np.ndarray:
        """Where the primary lead's cleaned signal around each time is flat (``FLAT``): a lead
        that is off, not a true pause, which keeps P and T waves and noise."""
        out = np.ones(times.size, dtype=bool)
        decided = list(self._amps)
        pending = sorted(self._pending_amps.items())
        for k, t in enumerate(times.tolist()):
            recent = (decided + [a for p, a in pending if p < t])[-AMPS:]
            if not recent:
                continue  # the primary lead never found a beat: nothing says it is not off
            lo = max(t - QUIET - self._buf_start, 0)
            hi = max(t + AFTER + 1 - self._buf_start, 0)
            seg = self._buf[lo:hi]
            level = float(np.median(recent))
            out[k] = seg.size == 0 or float(seg.max()) < FLAT * level
        return out

    def _primary_silent(self, times: np.ndarray, primary: np.ndarray) -> np.ndarray:
        """Where the primary lead found no beat in the ``SILENT`` samples before."""
        j = np.searchsorted(primary, times) - 1
        last = np.full(times.size, self._last_primary, dtype=np.int64)
        seen = j >= 0
        last[seen] = np.maximum(primary[j[seen]], self._last_primary)
        return times - last > SILENT

    def _switched(self, times: np.ndarray) -> np.ndarray:
        """Where the primary lead is noisy and the second lead cleaner."""
        ratio_a, ratio_b = (_ratio_at(d.levels, times) for d in self.leads)
        return (ratio_a > SWITCH_RATIO) & (ratio_b < ratio_a)


def _ratio_at(levels: deque[tuple[int, float]], times: np.ndarray) -> np.ndarray:
    """A lead's noise ratio at each time: after its last decision before then (1.0 if none)."""
    if not levels:
        return np.ones(times.size)
    t = np.fromiter((e[0] for e in levels), dtype=np.int64, count=len(levels))
    ratio = np.fromiter((e[1] for e in levels), dtype=np.float64, count=len(levels))
    i = np.searchsorted(t, times) - 1
    return np.where(i >= 0, ratio[np.clip(i, 0, None)], 1.0)


def detect_peaks_two_leads(
    primary: np.ndarray, second: np.ndarray, fs: float, chunk: int | None = None
) -> np.ndarray:
    """R-peaks of a two-lead ECG, as input sample indices (see the module docstring).

    Parameters
    ----------
    primary, second : 1-D arrays of the two leads, same length and sampling rate; beats are
        placed on the primary lead's R-peaks where both leads found them.
    fs : sampling rate in Hz (>= 100).
    chunk : block size in input samples, or None for one block.
    """
    return feed_whole(TwoLeadDetector, _checked(primary, second), fs, chunk)


def _checked(primary: np.ndarray, second: np.ndarray) -> list[np.ndarray]:
    """Both leads, checked: finite, one-dimensional, equally long, not empty."""
    primary = check_signal(primary, "primary lead")
    second = check_signal(second, "second lead")
    if primary.size != second.size:
        raise InputError(
            f"leads: the primary lead has {primary.size} samples, the second {second.size}; "
            "they must be sampled together"
        )
    if primary.size == 0:
        raise InputError("signal: no samples")
    return [primary, second]


class _Recording(TwoLeadDetector):
    """A detector with rivals that keeps every (peak, rival) it reports."""

    def __init__(self, start: int) -> None:
        super().__init__(start, rivals=True)
        self.found: list[tuple[int, int]] = []

    def push(self, primary: np.ndarray, second: np.ndarray) -> np.ndarray:
        return self._note(super().push(primary, second))

    def flush(self) -> np.ndarray:
        return self._note(super().flush())

    def _note(self, out: np.ndarray) -> np.ndarray:
        self.found += zip(out.tolist(), self.rivals.tolist(), strict=True)
        return out


def detect_rivals(
    primary: np.ndarray, second: np.ndarray, fs: float, chunk: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """R-peaks of a two-lead ECG and each one's rival (input samples; -1: none), as the stream
    with the artefact check reads them (see the module docstring): what the check is trained on.
    The peaks are those of :func:`detect_peaks_two_leads`.
    """
    leads = _checked(primary, second)
    made: list[_Recording] = []
    feed_whole(lambda start: made.append(_Recording(start)) or made[0], leads, fs, chunk)
    found = np.asarray(made[0].found, dtype=np.int64).reshape(-1, 2)
    to_input = Cleaner(fs).to_input_index
    peaks = np.round(to_input(found[:, 0])).astype(np.int64)
    rivals = np.round(to_input(np.maximum(found[:, 1], 0))).astype(np.int64)
    n = leads[0].size
    rivals[(found[:, 1] < 0) | (rivals < 0) | (rivals >= n)] = -1
    inside = (peaks >= 0) & (peaks < n)
    return peaks[inside], rivals[inside]
