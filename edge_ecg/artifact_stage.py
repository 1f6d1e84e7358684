"""The stream's artefact stage: which detected R-peaks go on to be featurized and classified.

A probe featurizer sees every peak the detector reports, as the artefact check was trained, and
the check (:mod:`.artifact`) drops the peaks it takes for noise. With two leads a reported peak
that only one lead found may carry a *rival*, the other lead's lone beat nearby
(:mod:`.leads`): a second probe sees the peaks with each rival in its place, and of the two the
one the check finds more beat-like stands, if it passes the check. Where the leads disagree,
one of them is usually showing noise (docs/noise.md). A check trained on two leads reads each
beat on both, so every probe runs once per lead.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .artifact import ArtifactCheck
from .beat_summary import beat_summary
from .beats import Beat, BeatFeaturizer


class ArtifactStage:
    """Peaks in, the peaks the check keeps out, in order and chunk-invariant.

    ``push(clean, peaks, rivals, watermark, second)`` returns the kept peaks now final and a
    promise for the featurizer fed with them: no kept peak before it is still to come.
    """

    def __init__(
        self,
        check: ArtifactCheck,
        to_input: Callable[[float], float],
        max_lag: float,
        rivals: bool = False,
    ) -> None:
        self.check = check
        # probes[v][lead]: the peaks as reported (v = 0) and with the rivals (v = 1), per lead.
        self._probes = [
            [BeatFeaturizer(to_input, max_lag=max_lag) for _ in range(check.leads)]
            for _ in range(2 if rivals else 1)
        ]
        # Per seq (the order the peaks were given in): the peak, its rival, and each probe's
        # beat summary once it has finalised the beat (missing: no room for a window).
        self._peak: dict[int, int] = {}
        self._rival: dict[int, int] = {}
        self._x = [[{} for _ in row] for row in self._probes]
        self._next = 0  # the next seq to decide

    def push(
        self,
        clean: np.ndarray,
        peaks,
        rivals=None,
        watermark: int | None = None,
        second: np.ndarray | None = None,
    ) -> tuple[list[int], int]:
        """Add cleaned samples (of the first lead, and of the ``second`` for a two-lead check)
        and the detector's new peaks with their rivals (-1 for none: ``TwoLeadDetector.rivals``);
        return the kept peaks now final and the watermark."""
        blocks = [clean] if self.check.leads == 1 else [clean, second]
        if any(b is None for b in blocks):
            raise ValueError("a two-lead artefact check needs the second lead's samples")
        peaks = [int(p) for p in peaks]
        rivals = [-1] * len(peaks) if rivals is None else [int(r) for r in rivals]
        if len(rivals) != len(peaks):
            raise ValueError(f"rivals: {len(rivals)} for {len(peaks)} peaks")
        first = self._probes[0][0].peaks_given
        for k, (p, r) in enumerate(zip(peaks, rivals, strict=True)):
            self._peak[first + k] = p
            if r >= 0 and len(self._probes) > 1:
                self._rival[first + k] = r
        alt = [r if r >= 0 else p for p, r in zip(peaks, rivals, strict=True)]
        for v, given in enumerate((peaks, alt)[: len(self._probes)]):
            for lead, block in enumerate(blocks):
                self._note(self._probes[v][lead].push(block, given, watermark), v, lead)
        kept = self._decide()
        pending = [min(self._peak[s], self._rival.get(s, self._peak[s])) for s in self._peak]
        probes = [p.undecided_from for row in self._probes for p in row]
        return kept, min(probes + pending)

    def flush(self) -> list[int]:
        """End of stream: decide every peak left."""
        for v, row in enumerate(self._probes):
            for lead, probe in enumerate(row):
                self._note(probe.flush(), v, lead)
        return self._decide()

    def _note(self, beats: list[Beat], v: int, lead: int) -> None:
        """Keep the summaries of the beats a probe finalised (of the rivals' probe, the rivals)."""
        if v:
            beats = [b for b in beats if b.seq in self._rival]
        if beats:
            x = beat_summary(np.stack([b.window for b in beats]), np.stack([b.rr for b in beats]))
            self._x[v][lead].update(zip((b.seq for b in beats), x, strict=True))

    def _decide(self) -> list[int]:
        """Decide, in seq order, every peak whose beats all its probes have finalised or
        dropped: the more beat-like of the peak and its rival, if the check lets it pass."""
        ready = []
        seq = self._next
        while seq in self._peak:
            used = self._probes if seq in self._rival else self._probes[:1]
            if any(seq >= p.next_seq_pending for row in used for p in row):
                break
            ready.append(seq)
            seq += 1
        options, rows = [], []
        for seq in ready:
            for v in range(2 if seq in self._rival else 1):
                parts = [x.pop(seq, None) for x in self._x[v]]
                if all(p is not None for p in parts):
                    options.append((seq, v))
                    rows.append(np.concatenate(parts))
            for x in self._x[1:]:
                for lead in x:
                    lead.pop(seq, None)
        p = self.check.probability_of(np.stack(rows)) if rows else np.empty(0)
        best: dict[int, tuple[float, int]] = {}
        for (seq, v), q in zip(options, p.tolist(), strict=True):
            if seq not in best or q < best[seq][0]:
                best[seq] = (q, v)
        kept = []
        for seq in ready:
            peak, rival = self._peak.pop(seq), self._rival.pop(seq, None)
            if seq in best and best[seq][0] < self.check.threshold:
                kept.append(peak if best[seq][1] == 0 else rival)
        self._next += len(ready)
        return kept
