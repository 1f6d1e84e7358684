"""The stream's artefact stage: which detected R-peaks go on to be featurized and classified.

A probe featurizer sees every peak the detector reports, as the artefact check was trained, and
the check (:mod:`.artifact`) drops the peaks it takes for noise. With two leads a reported peak
that only one lead found may carry a *rival*, the other lead's lone beat nearby
(:mod:`.leads`): a second probe sees the peaks with each rival in its place, and of the two the
one the check finds more beat-like stands, if it passes the check. Where the leads disagree,
one of them is usually showing noise, and the check reads the first lead's waveform at both
places (docs/noise.md).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .artifact import ArtifactCheck
from .beats import Beat, BeatFeaturizer


class ArtifactStage:
    """Peaks in, the peaks the check keeps out, in order and chunk-invariant.

    ``push(clean, peaks, rivals, watermark)`` returns the kept peaks now final and a promise
    for the featurizer fed with them: no kept peak before it is still to come.
    """

    def __init__(
        self,
        check: ArtifactCheck,
        to_input: Callable[[float], float],
        max_lag: float,
        rivals: bool = False,
    ) -> None:
        self.check = check
        self._probes = [BeatFeaturizer(to_input, max_lag=max_lag)]
        if rivals:
            self._probes.append(BeatFeaturizer(to_input, max_lag=max_lag))
        # Per seq (the order the peaks were given in): the peak, its rival, and each probe's
        # artefact probability once the probe has finalised the beat (None: no window).
        self._peak: dict[int, int] = {}
        self._rival: dict[int, int] = {}
        self._p: list[dict[int, float | None]] = [{} for _ in self._probes]
        self._next = 0  # the next seq to decide

    def push(
        self,
        clean: np.ndarray,
        peaks,
        rivals=None,
        watermark: int | None = None,
    ) -> tuple[list[int], int]:
        """Add cleaned samples and the detector's new peaks (with their rivals, -1 for none:
        ``TwoLeadDetector.rivals``); return the kept peaks now final and the watermark."""
        peaks = [int(p) for p in peaks]
        rivals = [-1] * len(peaks) if rivals is None else [int(r) for r in rivals]
        if len(rivals) != len(peaks):
            raise ValueError(f"rivals: {len(rivals)} for {len(peaks)} peaks")
        first = self._probes[0].peaks_given
        for k, (p, r) in enumerate(zip(peaks, rivals, strict=True)):
            self._peak[first + k] = p
            if r >= 0 and len(self._probes) > 1:
                self._rival[first + k] = r
        alt = [r if r >= 0 else p for p, r in zip(peaks, rivals, strict=True)]
        for probe, given, seen in zip(self._probes, (peaks, alt), self._p, strict=False):
            self._score(probe.push(clean, given, watermark), seen, probe is not self._probes[0])
        kept = self._decide()
        pending = [min(self._peak[s], self._rival.get(s, self._peak[s])) for s in self._peak]
        promise = min([p.undecided_from for p in self._probes] + pending)
        return kept, promise

    def flush(self) -> list[int]:
        """End of stream: decide every peak left."""
        for probe, seen in zip(self._probes, self._p, strict=True):
            self._score(probe.flush(), seen, probe is not self._probes[0])
        return self._decide()

    def _score(self, beats: list[Beat], seen: dict[int, float | None], alt: bool) -> None:
        """Artefact probability of each beat (on the rivals' probe, of the rivals only)."""
        if alt:
            beats = [b for b in beats if b.seq in self._rival]
        if beats:
            windows = np.stack([b.window for b in beats])
            rr = np.stack([b.rr for b in beats])
            for b, p in zip(beats, self.check.probability(windows, rr), strict=True):
                seen[b.seq] = float(p)

    def _decide(self) -> list[int]:
        """Decide, in seq order, every peak whose beats all probes have finalised or dropped."""
        kept = []
        while self._next in self._peak:
            seq = self._next
            used = self._probes if seq in self._rival else self._probes[:1]
            if any(seq >= probe.next_seq_pending for probe in used):
                break
            options = [(self._p[0].pop(seq, None), self._peak.pop(seq))]
            rival = self._rival.pop(seq, None)
            if rival is not None:
                options.append((self._p[1].get(seq), rival))
            for seen in self._p[1:]:
                seen.pop(seq, None)
            scored = [(p, peak) for p, peak in options if p is not None]
            if scored:
                p, peak = min(scored, key=lambda o: o[0])
                if p < self.check.threshold:
                    kept.append(peak)
            self._next += 1
        return kept
