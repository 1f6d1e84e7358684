"""R-peaks + cleaned signal -> beat windows and RR features, with causal patient statistics.

A beat is finalised once the next R-peak is known (for the post-RR interval) or once no peak
came for ``MAX_RR`` seconds (then post-RR is ``MAX_RR``, as it would be if the peak had come).
Everything it uses (the running median R amplitude, the running median beat and the RR
history) comes from this beat and the ones before it, so the device can compute it live and
batch processing is just one big block.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from .errors import InputError
from .order_stats import RunningMedian, median_rows
from .preprocess import Cleaner, check_signal
from .rhythm import HISTORY, irregularity, rhythm_features
from .spec import CHANNELS, FS, N_RR, POST, PRE, WINDOW

#: Half-width of the search that moves a given R-peak onto the largest deflection (50 ms).
REFINE = round(0.05 * FS)
#: Longest RR interval we believe (s); longer gaps are clipped and, for post-RR, not waited for.
MAX_RR = 3.0
#: Beats in the running median beat and running median R amplitude.
STATS_BEATS = 32
#: RR intervals in the local and the long-term median.
LOCAL_RR, LONG_RR = 8, 128
#: Beat windows are clipped to this many running R amplitudes (keeps int8 ranges sane).
CLIP = 6.0
MAX_RATIO = 4.0


@dataclass(frozen=True)
class Beat:
    """One finalised beat: where it is, and exactly what the model is fed for it."""

    peak: int  # refined R-peak, index into the cleaned signal (spec.FS)
    sample: int  # the same R-peak as an index into the input signal
    window: np.ndarray  # (WINDOW, CHANNELS) float32: beat and beat minus median beat, scaled
    rr: np.ndarray  # (N_RR,) float32, see spec.RR_FEATURES
    seq: int  # position of this peak among all peaks handed to the featurizer
    #: how irregular the RR intervals up to this beat are (``rhythm.irregularity``), when the
    #: featurizer was asked for it (``rhythm=True``); read by the rhythm rule
    irregularity: float | None = None
    #: ``rhythm.RHYTHM_FEATURES`` (4,) float32, with ``rhythm=True``; read by tree models
    #: trained with them
    rhythm: np.ndarray | None = None


def rr_ratios(pre, post, local, long, mean) -> list:
    """The RR ratios of ``spec.RR_FEATURES`` in their order, unclipped (scalars or arrays):
    the featurizer forms them, and a patient calibration forms them anew."""
    return [pre / long, post / long, local / long, pre / post, pre / mean, post / mean]


class BeatFeaturizer:
    """Turn a stream of cleaned samples and R-peaks into :class:`Beat` objects.

    Parameters
    ----------
    to_input : maps a cleaned-signal index to an input sample index (``Cleaner.to_input_index``).
    max_lag : how many seconds behind the newest cleaned sample a peak may still be reported
        (the detector's latency); the signal is kept that long and no longer.
    rhythm : also measure each beat's ``irregularity`` (for the rhythm rule, :mod:`.rhythm`)
        and its ``rhythm`` features (for tree models trained with them).
    """

    def __init__(
        self,
        to_input: Callable[[float], float] | None = None,
        max_lag: float = 5.0,
        rhythm: bool = False,
    ) -> None:
        self._to_input = to_input or (lambda k: k)
        self._rhythm = rhythm
        self._keep = round(max_lag * FS) + PRE + POST + 2 * REFINE + round(MAX_RR * FS)
        self._buf = np.empty(0)
        self._buf_start = 0  # cleaned-signal index of self._buf[0]
        self._n = 0  # cleaned samples seen
        self._peaks: deque[list[int]] = deque()  # [raw peak, seq, refined or -1]
        self._seq = 0
        self._watermark = 0
        self._prev_peak: int | None = None
        # RR history: the long one's values are the last LONG_RR intervals, oldest first.
        self._rr_local, self._rr_long = RunningMedian(LOCAL_RR), RunningMedian(LONG_RR)
        self._amps = RunningMedian(STATS_BEATS)
        self._windows = np.zeros((WINDOW, STATS_BEATS))  # one beat per column
        self._n_windows = 0
        self.dropped = 0  # peaks too close to the start or end to cut a window

    def push(
        self, clean: np.ndarray, peaks: Iterable[int] = (), watermark: int | None = None
    ) -> list[Beat]:
        """Add cleaned samples and the R-peaks found so far; return the beats now final.

        ``peaks`` are cleaned-signal indices in increasing order. ``watermark`` promises that
        every peak before it has been given (default: all samples seen so far).
        """
        clean = np.asarray(clean, dtype=np.float64)
        self._buf = np.concatenate([self._buf, clean])
        self._n += clean.size
        for p in peaks:
            self._peaks.append([int(p), self._seq, -1])
            self._seq += 1
        self._watermark = self._n if watermark is None else watermark
        beats = self._finalise(flushing=False)
        self._trim()
        return beats

    @property
    def peaks_given(self) -> int:
        """How many peaks were handed over so far (the next one gets this ``seq``)."""
        return self._seq

    @property
    def next_seq_pending(self) -> int:
        """``seq`` of the first peak not finalised or dropped yet (``peaks_given`` if none)."""
        return self._peaks[0][1] if self._peaks else self._seq

    @property
    def undecided_from(self) -> int:
        """Cleaned-signal index before which every peak handed over is finalised or dropped:
        a promise (``watermark``) for a featurizer fed with what this one finalises."""
        return min(self._peaks[0][0], self._watermark) if self._peaks else self._watermark

    def flush(self) -> list[Beat]:
        """End of stream: finalise every beat whose window fits, drop the rest."""
        beats = self._finalise(flushing=True)
        self.dropped += len(self._peaks)
        self._peaks.clear()
        return beats

    def _finalise(self, flushing: bool) -> list[Beat]:
        beats: list[Beat] = []
        while self._peaks:
            head = self._peaks[0]
            if not self._refine(head, flushing):
                break
            peak = head[2]
            # A peak in the filters' warm-up lies before the input's first sample: not a beat.
            if peak - PRE < 0 or round(float(self._to_input(peak))) < 0:
                self._peaks.popleft()
                self.dropped += 1
                continue
            if peak + POST > self._n:
                break
            nxt = self._peaks[1] if len(self._peaks) > 1 else None
            # A pause of MAX_RR or more reads the same whether or not the next peak came yet.
            far = head[0] + MAX_RR * FS
            if nxt is not None and nxt[0] >= far:
                post = MAX_RR
            elif nxt is not None:
                if not self._refine(nxt, flushing):
                    break
                post = (nxt[2] - peak) / FS
            elif self._watermark >= far:
                post = MAX_RR
            elif flushing:
                post = None  # end of stream: the local RR stands in
            else:
                break
            self._peaks.popleft()
            beats.append(self._beat(peak, head[1], post))
        return beats

    def _refine(self, entry: list[int], flushing: bool) -> bool:
        """Move a peak onto the largest |deflection| within ±50 ms, once the data is there."""
        if entry[2] >= 0:
            return True
        raw = entry[0]
        if raw + REFINE >= self._n and not flushing:
            return False
        lo = max(raw - REFINE, self._buf_start, 0)
        hi = min(raw + REFINE + 1, self._n)
        seg = self._buf[lo - self._buf_start : hi - self._buf_start]
        entry[2] = lo + int(np.argmax(np.abs(seg))) if seg.size else raw
        return True

    def _beat(self, peak: int, seq: int, post: float | None) -> Beat:
        raw = self._buf[peak - PRE - self._buf_start : peak + POST - self._buf_start]
        pre = None if self._prev_peak is None else (peak - self._prev_peak) / FS
        self._prev_peak = peak
        if pre is not None:
            rr = min(pre, MAX_RR)
            self._rr_local.push(rr)
            self._rr_long.push(rr)
        self._amps.push(abs(raw[PRE]))
        self._windows[:, self._n_windows % STATS_BEATS] = raw
        self._n_windows += 1

        amp = max(self._amps.value(), 1e-6)
        median_beat = median_rows(self._windows[:, : min(self._n_windows, STATS_BEATS)])
        scaled = np.empty((CHANNELS, WINDOW))
        np.divide(raw, amp, out=scaled[0])
        np.divide(np.subtract(raw, median_beat), amp, out=scaled[1])
        np.clip(scaled, -CLIP, CLIP, out=scaled)
        window = np.ascontiguousarray(scaled.T, dtype=np.float32)
        return Beat(
            peak=peak,
            sample=round(float(self._to_input(peak))),
            window=window,
            rr=self._rr_features(pre, post),
            seq=seq,
            **(self._rhythm_context() if self._rhythm else {}),
        )

    def _rhythm_context(self) -> dict:
        """The beat's irregularity and rhythm features, from the RR intervals up to it."""
        rr = self._rr_long.values
        history = np.fromiter(rr, dtype=np.float64, count=len(rr))[-HISTORY:]
        return {
            "irregularity": float(irregularity(history)[0]),
            "rhythm": rhythm_features(history),
        }

    def _rr_features(self, pre: float | None, post: float | None) -> np.ndarray:
        rr = np.fromiter(self._rr_long.values, dtype=np.float64, count=len(self._rr_long))
        history = rr.size > 0
        local = self._rr_local.value() if history else None
        long = self._rr_long.value() if history else None
        # With no history yet (first beat of a stream) the known neighbour stands in.
        fallback = next((v for v in (local, post, 1.0) if v is not None), 1.0)
        pre = min(pre, MAX_RR) if pre is not None else fallback
        post = min(post, MAX_RR) if post is not None else fallback
        local = local if local is not None else fallback
        long = long if long is not None else fallback
        # The mean, unlike the median, feels the long pauses of a slow underlying rhythm: in a
        # record where ectopic beats outnumber sinus ones (MIT-BIH 232) only it shows them early.
        mean = float(np.add.reduce(rr) / rr.size) if history else fallback  # == np.mean(rr)
        ratios = rr_ratios(pre, post, local, long, mean)
        clipped = [min(max(r, 0.0), MAX_RATIO) for r in ratios]
        return np.array([pre, post, local, long, mean, *clipped], dtype=np.float32)

    def _trim(self) -> None:
        """Keep only the signal that pending or late-reported peaks may still need."""
        start = self._n - self._keep
        if self._peaks:
            start = min(start, self._peaks[0][0] - PRE - REFINE)
        drop = start - self._buf_start
        if drop > 0:
            self._buf = self._buf[drop:]
            self._buf_start += drop


def extract_beats(
    signal: np.ndarray,
    fs: float,
    peaks: np.ndarray,
    chunk: int | None = None,
) -> tuple[list[Beat], int]:
    """Beats at given R-peaks (input sample indices, e.g. reference annotations).

    The signal is fed in blocks of ``chunk`` samples (default: one block), each peak handed
    over as soon as the cleaned signal reaches it, exactly as a live source would.
    Returns the beats and how many peaks were dropped for lack of a full window.
    """
    cleaner = Cleaner(fs)
    signal = check_signal(signal)
    if signal.size < WINDOW * cleaner.fs / FS:
        raise InputError(
            f"signal: {signal.size} samples ({signal.size / cleaner.fs:.2f} s) is shorter than "
            f"one beat window ({WINDOW / FS:.2f} s)"
        )
    featurizer = BeatFeaturizer(cleaner.to_input_index)
    at = np.round(cleaner.to_clean_index(np.asarray(peaks))).astype(np.int64)
    step = chunk or max(1, signal.size)
    beats: list[Beat] = []
    given = 0
    for start in range(0, signal.size, step):
        y = cleaner.push(signal[start : start + step])
        reached = int(np.searchsorted(at, cleaner.n_out))
        beats += featurizer.push(y, at[given:reached])
        given = reached
    beats += featurizer.push(np.empty(0), at[given:])
    beats += featurizer.flush()
    return beats, featurizer.dropped


def stack_beats(beats: list[Beat]) -> tuple[np.ndarray, np.ndarray]:
    """Model inputs for a list of beats: windows (n, WINDOW, CHANNELS) and RR (n, N_RR)."""
    if not beats:
        return np.zeros((0, WINDOW, CHANNELS), np.float32), np.zeros((0, N_RR), np.float32)
    return np.stack([b.window for b in beats]), np.stack([b.rr for b in beats])
