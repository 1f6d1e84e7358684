"""Streaming R-peak detection on the cleaned signal (Pan–Tompkins / Hamilton–Tompkins family).

The per-sample work is vectorised numpy: a QRS band-pass differentiator, squaring and a
150 ms moving-window integrator, all streaming FIRs. The peaks of the integrator are the
candidates, and a small state machine decides them one by one (a Python loop over candidates,
a few per beat, never over samples): adaptive signal and noise levels, a 200 ms refractory
period, a slope test against T waves, a look-ahead test against tall P waves, and a search-back
at a lower threshold when no beat came for 1.66 mean RR intervals.

A decision waits until a fixed stretch of signal after the candidate has arrived and uses
nothing newer, and events are handled in time order, so the peaks are identical whatever the
block sizes; and the delay from a sample arriving to its R-peak being reported is bounded
(``PeakDetector.latency_seconds``, about 2 s, most of it the search-back's wait).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from .errors import InputError
from .filters import StreamFIR, boxcar_kernel, lowpass_kernel
from .preprocess import Cleaner, check_fs, check_signal
from .spec import FS


def _samples(seconds: float) -> int:
    return round(seconds * FS)


#: Upper edge (Hz) of the QRS band; the central difference supplies the lower edge.
QRS_CUTOFF = 18.0
#: Moving-window integrator, about the widest normal QRS (odd, so its delay is whole).
MWI = _samples(0.15) | 1
#: An integrator peak must be the largest within this many samples either side.
PEAK_HALF = _samples(0.1)
#: The R-peak is the largest |cleaned signal| this close to the integrator peak.
R_HALF = _samples(0.085)
#: A candidate's slope is the steepest within this half-width of its integrator peak.
SLOPE_HALF = _samples(0.075)
#: No second beat this soon after one, by integrator peak or by R-peak.
REFRACTORY = _samples(0.2)
#: A candidate this soon after a beat, with under T_SLOPE of the beats' slope, is a T wave.
T_WAVE = _samples(0.36)
T_SLOPE = 0.5
#: A candidate less steep than the beats so far and followed within P_WAVE by a larger and
#: steeper one is a P wave, unless it came sooner after the last beat than P_GAP times that
#: distance (then both are beats of a fast rhythm).
P_WAVE = _samples(0.3)
P_GAP = 1.5
#: Signal and noise levels are learned on this much signal before the first decision.
LEARN = _samples(1.8)
#: Threshold between the noise and the signal level (on the RMS-slope scale).
THRESHOLD = 0.25
#: Running averages: weight of a new beat (or noise peak), and of a beat found by search-back.
ALPHA = 0.125
ALPHA_SEARCH = 0.25
#: A beat JUMP times the signal level says the level was wrong (learned on noise before the
#: first beat, or the gain rose): it restarts at half that beat.
JUMP = 4.0
#: RR intervals in the running mean, which starts as N_RR intervals of RR_START.
N_RR = 8
RR_START = _samples(0.8)
#: Search back when no beat came for SEARCH_RR mean RR intervals, or SEARCH_MAX at most
#: (bounds the latency in pauses and slow rhythms) ...
SEARCH_RR = 1.66
SEARCH_MAX = _samples(1.3)
#: ... for the largest candidate above SEARCH_LEVEL times the threshold that came at least
#: SEARCH_SOONEST mean RR intervals after the last beat.
SEARCH_LEVEL = 0.5
SEARCH_SOONEST = 0.5
#: When a search-back finds nothing DECAY_AFTER after the last beat, the beats may have shrunk
#: (electrode contact, gain): the levels are halved, but not below DECAY_FLOOR times the
#: slow average of beat values, so a disconnected lead's noise is not taken for beats.
DECAY_AFTER = _samples(2.5)
SEARCH_DECAY = 0.5
DECAY_FLOOR = 0.05
LEVEL_ALPHA = 1 / 32
#: A candidate is decided once this much integrator signal after it has arrived.
LOOKAHEAD = max(REFRACTORY, P_WAVE) + PEAK_HALF + 1


def qrs_kernel(fs: float = FS, cutoff: float = QRS_CUTOFF) -> np.ndarray:
    """Band-pass differentiator: a low-pass at ``cutoff`` followed by a central difference.

    The difference suppresses what the baseline filter left and the slow P and T waves; the
    low-pass suppresses muscle noise above the QRS band.
    """
    return np.convolve(lowpass_kernel(fs, cutoff, transition=10.0), [0.5, 0.0, -0.5])


class _Candidate(NamedTuple):
    """A peak of the integrator, with what the decisions need to know about it."""

    t: int  # time of the integrator peak (cleaned-signal index)
    value: float  # square root of the integrator: the RMS slope over the window
    slope: float  # steepest |slope| within SLOPE_HALF
    r: int  # R-peak: largest |cleaned signal| within R_HALF


class PeakDetector:
    """R-peaks of a cleaned ECG (``spec.FS``, the output of ``Cleaner.push``), fed in blocks.

    ``push`` returns the R-peaks now final, as cleaned-signal indices in increasing order; no
    later call reports a peak before ``watermark``. Every peak is reported at most
    ``latency_seconds`` after the newest sample pushed, and memory stays bounded however long
    the stream.

    Parameters
    ----------
    start : cleaned-signal index where the signal begins; the samples before it are the
        cleaner's start-up (``Cleaner.to_clean_index(0)``) and hold no beats.
    history : keep ``levels``, the noise ratio after each decision (for ``leads``).
    """

    #: Worst case, newest cleaned sample to a reported peak (s); set below the class.
    latency_seconds: float

    def __init__(self, start: int = 0, history: bool = False) -> None:
        self.start = int(start)
        #: (candidate time, ``noise_ratio`` after deciding it), in time order, when ``history``;
        #: the reader trims it.
        self.levels: deque[tuple[int, float]] | None = deque() if history else None
        self._slope_fir = StreamFIR(qrs_kernel())
        self._mwi_fir = StreamFIR(boxcar_kernel(FS, MWI / FS))
        self._slope_delay = self._slope_fir.delay
        self._mwi_delay = self._slope_delay + self._mwi_fir.delay
        # Buffers of the cleaned signal, |slope| and the integrator, all from time self._t0.
        self._t0 = 0
        self._x = np.empty(0)
        self._slope = np.empty(0)
        self._mwi = np.empty(0)
        self._n = 0  # cleaned samples seen
        self._slope_out = 0  # outputs of each filter so far; the first ones are its start-up
        self._mwi_out = 0
        self._scan = 0  # integrator peaks before this time are queued
        self._pending: deque[_Candidate] = deque()  # queued, not yet decided
        self._learned = False
        self._spk = 0.0  # signal level: running average of beat values
        self._npk = 0.0  # noise level: running average of rejected candidates
        self._beat_level = 0.0
        self._last: _Candidate | None = None  # the last beat
        self._slope_level = 0.0  # running average of beat slopes
        # Starts full of a typical RR, so that a single premature beat sets no search-back time.
        self._rr: deque[int] = deque([RR_START] * N_RR, maxlen=N_RR)
        self._noise: deque[_Candidate] = deque()  # rejected since the last beat: search-back
        self._deadline = self.start + SEARCH_MAX  # time of the next search-back
        self._watermark = 0

    @property
    def noise_ratio(self) -> float:
        """Noise level over signal level (0 clean, near 1 when noise peaks rival the beats)."""
        return self._npk / self._spk if self._spk > 0 else 1.0

    @property
    def watermark(self) -> int:
        """Every R-peak before this cleaned-signal index has been reported."""
        return self._watermark

    def push(self, clean: np.ndarray) -> np.ndarray:
        """Add cleaned samples; return the R-peaks now final (int64 cleaned-signal indices)."""
        clean = np.asarray(clean, dtype=np.float64)
        if clean.size == 0:
            return np.empty(0, dtype=np.int64)
        self._append(clean)
        self._queue_candidates(self._known - PEAK_HALF)
        peaks = self._decide(final=False)
        self._trim()
        return peaks

    def flush(self) -> np.ndarray:
        """End of stream: decide what is left with the signal there is."""
        self._queue_candidates(self._known)
        peaks = self._decide(final=True)
        self._watermark = max(self._watermark, self._n)
        return peaks

    @property
    def _known(self) -> int:
        """Times before this have the cleaned signal, the slope and the integrator."""
        return self._t0 + self._mwi.size

    def _append(self, clean: np.ndarray) -> None:
        self._n += clean.size
        slope = np.abs(self._slope_fir.push(clean))
        mwi = self._mwi_fir.push(slope * slope)
        # A filter's first `delay` outputs belong to times before the stream began.
        skip_slope = max(0, self._slope_delay - self._slope_out)
        skip_mwi = max(0, self._mwi_delay - self._mwi_out)
        self._slope_out += slope.size
        self._mwi_out += mwi.size
        self._x = np.concatenate([self._x, clean])
        self._slope = np.concatenate([self._slope, slope[skip_slope:]])
        self._mwi = np.concatenate([self._mwi, mwi[skip_mwi:]])

    def _queue_candidates(self, until: int) -> None:
        """Queue the integrator peaks at times [scan, until) with their value, slope, R-peak."""
        start = max(self._scan, self.start)
        self._scan = max(self._scan, until)
        if until <= start:
            return
        t0, known, mwi = self._t0, self._known, self._mwi
        # strict local maxima first (cheap), then the ±PEAK_HALF test on those few
        a, b = max(start, t0 + 1) - t0, min(until, known - 1) - t0
        mid = mwi[a:b]
        t = np.flatnonzero((mid > mwi[a - 1 : b - 1]) & (mid >= mwi[a + 1 : b + 1])) + a + t0
        if t.size == 0:
            return
        left = _window(mwi, t0, t, -PEAK_HALF, -1, known).max(axis=1)
        right = _window(mwi, t0, t, 1, PEAK_HALF, known).max(axis=1)
        peak = mwi[t - t0]
        t = t[(peak > left) & (peak >= right)]
        if t.size == 0:
            return
        value = np.sqrt(mwi[t - t0])
        slope = _window(self._slope, t0, t, -SLOPE_HALF, SLOPE_HALF, known).max(axis=1)
        around = _window_index(t0, t, -R_HALF, R_HALF, self._n)
        r = around[np.arange(t.size), np.argmax(np.abs(self._x[around - t0]), axis=1)]
        self._pending.extend(
            map(_Candidate, t.tolist(), value.tolist(), slope.tolist(), r.tolist())
        )

    def _decide(self, final: bool) -> np.ndarray:
        """Decide, in time order, every candidate and search-back whose look-ahead is in."""
        out: list[int] = []
        if not self._learned:
            if self._scan < self.start + LEARN and not final:
                return np.empty(0, dtype=np.int64)
            self._learn()
        pending = self._pending
        ready = self._known if final else self._known - LOOKAHEAD
        while True:
            nxt = pending[0].t if pending else None
            if self._deadline < ready and (nxt is None or self._deadline < nxt):
                self._search_back(out)
            elif nxt is not None and (nxt < ready or final):
                self._consider(pending.popleft(), out)
            else:
                break
        # A later beat comes from a queued candidate, the search-back pool, or the unscanned.
        floor = min(
            self._scan,
            pending[0].t if pending else self._scan,
            self._noise[0].t if self._noise else self._scan,
        )
        self._watermark = max(self._watermark, floor - R_HALF)
        return np.asarray(out, dtype=np.int64)

    def _learn(self) -> None:
        """Signal level from the largest candidate of the first seconds, noise from the median."""
        self._learned = True
        end = self.start + LEARN
        values = [c.value for c in self._pending if c.t < end]
        if values:
            self._spk = 0.75 * max(values)
            self._npk = 0.5 * float(np.median(values))
            self._beat_level = self._spk

    @property
    def _threshold(self) -> float:
        return self._npk + THRESHOLD * (self._spk - self._npk)

    @property
    def _rr_mean(self) -> float:
        return sum(self._rr) / N_RR

    def _consider(self, cand: _Candidate, out: list[int]) -> None:
        if self._in_refractory(cand):
            return
        if cand.value > self._threshold and not self._is_t_wave(cand) and not self._is_p_wave(cand):
            if cand.value > JUMP * self._spk:
                self._spk = 0.5 * cand.value
            else:
                self._spk += ALPHA * (cand.value - self._spk)
            self._noise.clear()
            self._accept(cand, out)
            self._log(cand.t)
            return
        self._npk += ALPHA * (cand.value - self._npk)
        self._noise.append(cand)
        self._log(cand.t)

    def _log(self, t: int) -> None:
        """Record the noise ratio as of time ``t``, when the decision that set it was made."""
        if self.levels is not None:
            self.levels.append((max(t, self.levels[-1][0]) if self.levels else t, self.noise_ratio))

    def _in_refractory(self, cand: _Candidate) -> bool:
        last = self._last
        return last is not None and (cand.t - last.t < REFRACTORY or cand.r - last.r < REFRACTORY)

    def _is_t_wave(self, cand: _Candidate) -> bool:
        """Soon after a beat and much less steep than it (or than beats in general)."""
        last = self._last
        if last is None or cand.t - last.t >= T_WAVE:
            return False
        return cand.slope < T_SLOPE * max(last.slope, self._slope_level)

    def _is_p_wave(self, cand: _Candidate) -> bool:
        """Less steep than the beats so far, and the QRS (larger, steeper) follows within a PR
        interval."""
        if cand.slope >= self._slope_level:
            return False
        for nxt in self._pending:
            gap = nxt.t - cand.t
            if gap > P_WAVE:
                return False
            early = self._last is not None and cand.t - self._last.t < P_GAP * gap
            if nxt.value > cand.value and nxt.slope > cand.slope and not early:
                return True
        return False

    def _search_back(self, out: list[int]) -> None:
        """No beat for too long: take the largest rejected candidate above the lower threshold."""
        level = SEARCH_LEVEL * self._threshold
        soonest = (self._last.t if self._last else 0) + SEARCH_SOONEST * self._rr_mean
        best = None
        for cand in self._noise:
            if (
                cand.value > level
                and cand.t >= soonest
                and (best is None or cand.value > best.value)
                and not self._in_refractory(cand)
                and not self._is_t_wave(cand)
            ):
                best = cand
        if best is None:
            long_pause = self._last is None or self._deadline - self._last.t > DECAY_AFTER
            if long_pause and self._spk * SEARCH_DECAY > DECAY_FLOOR * self._beat_level:
                self._spk *= SEARCH_DECAY
                self._npk *= SEARCH_DECAY
            self._noise.clear()
            self._deadline += SEARCH_MAX
            return
        self._spk += ALPHA_SEARCH * (best.value - self._spk)
        # Logged at the search-back's time, not the (older) beat's: a two-lead reader may have
        # decided beats up to the beat already, and must see the same levels in any blocks.
        decided_at = self._deadline
        self._accept(best, out)
        self._log(decided_at)
        while self._noise and self._noise[0].t < best.t + REFRACTORY:
            self._noise.popleft()

    def _accept(self, cand: _Candidate, out: list[int]) -> None:
        if self._last is not None:
            self._rr.append(cand.t - self._last.t)
        self._last = cand
        self._slope_level += (
            ALPHA * (cand.slope - self._slope_level) if self._slope_level else cand.slope
        )
        self._beat_level += LEVEL_ALPHA * (cand.value - self._beat_level)
        self._deadline = cand.t + min(round(SEARCH_RR * self._rr_mean), SEARCH_MAX)
        out.append(cand.r)

    def _trim(self) -> None:
        """Keep only what the candidate scan still needs."""
        drop = min(self._scan - PEAK_HALF - R_HALF - 1, self._known - 1) - self._t0
        if drop > 0:
            self._x = self._x[drop:]
            self._slope = self._slope[drop:]
            self._mwi = self._mwi[drop:]
            self._t0 += drop


def _latency_seconds() -> float:
    """Newest sample to reported peak, worst case: the filters' delay, the R-peak's distance
    from the integrator peak, and the longer of a search-back's wait and the learning."""
    delay = StreamFIR(qrs_kernel()).delay + MWI // 2
    wait = max(LOOKAHEAD + SEARCH_MAX, LEARN + PEAK_HALF)
    return (delay + R_HALF + wait + 1) / FS


PeakDetector.latency_seconds = _latency_seconds()


def _window_index(t0: int, centres: np.ndarray, lo: int, hi: int, end: int) -> np.ndarray:
    """Times ``centre + lo .. centre + hi`` per row, clipped to the buffered ``[t0, end)``.

    Clipping repeats an edge sample, which changes neither a maximum nor where it first is.
    """
    return np.clip(centres[:, None] + np.arange(lo, hi + 1), t0, end - 1)


def _window(buf: np.ndarray, t0: int, centres: np.ndarray, lo: int, hi: int, end: int):
    """Rows of ``buf`` (which starts at time ``t0``) around each centre; see _window_index."""
    return buf[_window_index(t0, centres, lo, hi, end) - t0]


def detect_peaks(signal: np.ndarray, fs: float, chunk: int | None = None) -> np.ndarray:
    """R-peaks of a raw one-lead ECG, as input sample indices.

    The signal runs through :class:`~edge_ecg.preprocess.Cleaner` and :class:`PeakDetector`
    in blocks of ``chunk`` samples (default: one block), as a live source would feed them.
    Since the whole signal is known, its end is extended with its last value for the filters'
    delay, so the last beats are not cut off.

    Parameters
    ----------
    signal : 1-D array of one lead (any unit).
    fs : its sampling rate in Hz (>= 100).
    chunk : block size in input samples, or None for one block.

    Returns
    -------
    int64 array of R-peak positions in input samples, increasing.

    Examples
    --------
    >>> from edge_ecg.synthetic import synthetic_ecg
    >>> ecg = synthetic_ecg(seconds=10, fs=250)
    >>> len(detect_peaks(ecg.signal, 250)) == len(ecg.peaks)
    True
    """
    check_fs(fs)
    signal = check_signal(signal)
    if signal.size == 0:
        raise InputError("signal: no samples")
    return feed_whole(PeakDetector, [signal], fs, chunk)


def end_padding(cleaner: Cleaner) -> int:
    """Input samples to append at a finite input's end (its last value repeated) so that the
    filters' delay and the detector's look-ahead reach past the last real sample."""
    return int(np.ceil((cleaner.delay_seconds + LOOKAHEAD / FS) * cleaner.fs))


def feed_whole(make: Callable, leads: list[np.ndarray], fs: float, chunk: int | None) -> np.ndarray:
    """R-peaks (input samples) of whole, checked, equally long leads, each through its own
    :class:`Cleaner` into the detector ``make(start)`` builds (its ``push`` takes one cleaned
    block per lead), in blocks of ``chunk`` samples as a live source would feed them.

    The detector starts where the input does (the cleaned signal's first samples are the
    filters' start-up), and since the whole signal is known, its end is extended with its last
    value for the filters' delay, so the last beats are not cut off.
    """
    cleaners = [Cleaner(fs) for _ in leads]
    detector = make(int(np.ceil(cleaners[0].to_clean_index(0))))
    tail = end_padding(cleaners[0])
    padded = [np.concatenate([x, np.full(tail, x[-1])]) for x in leads]
    step = chunk or padded[0].size
    found = [
        detector.push(*(c.push(x[i : i + step]) for c, x in zip(cleaners, padded, strict=True)))
        for i in range(0, padded[0].size, step)
    ]
    found.append(detector.flush())
    samples = np.round(cleaners[0].to_input_index(np.concatenate(found))).astype(np.int64)
    return samples[(samples >= 0) & (samples < leads[0].size)]
