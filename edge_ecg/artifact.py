"""An optional check that drops the detector's noise peaks before they are reported as beats.

Electrode-motion artefacts look like QRS complexes to the R-peak detector and to a template
check (docs/noise.md). A model that has seen such noise tells them apart much better: gradient-
boosted trees over each detected beat's 43 summary numbers (:mod:`.beat_summary`), trained by
``python -m train.artifact_check fit`` (LightGBM) on the detector's peaks of DS1 training
records mixed with recorded noise from NSTDB minutes no test reads. A beat whose artefact
probability reaches ``THRESHOLD`` is not reported. The runtime walks the trees in numpy, every
beat through every tree at once (node tables in an ``.npz`` read without pickle, verified
against its manifest like every model edge-ecg runs): no LightGBM on the device.

In the stream (``StreamClassifier(artifact_check=True)``) a first featurizer sees every peak,
as the check was trained, and only the peaks the check keeps reach the featurizer whose beats
are classified: an artefact never shortens its neighbours' RR intervals or enters the running
patient statistics.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from .beat_summary import N_SUMMARY, beat_summary
from .errors import ModelError
from .manifest import read_manifest

DEFAULT_CHECK = Path(__file__).parent / "assets" / "artifact-trees.npz"
#: A beat is dropped when the check is at least this sure it is an artefact.
THRESHOLD = 0.9
KIND = "artifact-check"
_ARRAYS = ("feature", "threshold", "left", "right", "value", "depth")


class ArtifactCheck:
    """The artefact probability of beats, from their windows and RR features."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else DEFAULT_CHECK
        try:
            data = self.path.read_bytes()
        except OSError as e:
            raise ModelError(
                f"{self.path}: cannot read the artefact check ({e.strerror})"
            ) from None
        manifest = read_manifest(self.path, data)
        if manifest.get("kind") != KIND:
            raise ModelError(f"{self.path}: its manifest's kind is not {KIND!r}")
        try:  # the bytes the manifest vouched for, not a second read of the file
            with np.load(io.BytesIO(data), allow_pickle=False) as z:
                t = {k: np.asarray(z[k]) for k in _ARRAYS}
        except (OSError, ValueError, KeyError) as e:
            raise ModelError(f"{self.path}: not an artefact check ({e})") from None
        # One flat table: node ids global over the trees, so each step indexes once.
        n_trees, width = t["feature"].shape
        self._start = np.arange(n_trees, dtype=np.intp) * width
        self._feature = t["feature"].astype(np.intp).ravel()
        self._threshold = t["threshold"].astype(np.float64).ravel()
        self._left = (t["left"].astype(np.intp) + self._start[:, None]).ravel()
        self._right = (t["right"].astype(np.intp) + self._start[:, None]).ravel()
        self._value = t["value"].astype(np.float64).ravel()
        self._depth = int(t["depth"])
        if self._feature.max(initial=0) >= N_SUMMARY:
            raise ModelError(f"{self.path}: splits on features beyond the {N_SUMMARY} it gets")
        self.threshold = float(manifest.get("threshold", THRESHOLD))

    def probability(self, windows: np.ndarray, rr: np.ndarray) -> np.ndarray:
        """(n,) probability that each beat is an artefact."""
        return self.probability_of(beat_summary(windows, rr))

    def probability_of(self, summary: np.ndarray) -> np.ndarray:
        """(n,) artefact probability from beat summaries (n, N_SUMMARY)."""
        x = np.asarray(summary, dtype=np.float64)
        rows = np.arange(x.shape[0])[:, None]
        node = np.broadcast_to(self._start, (x.shape[0], self._start.size))
        for _ in range(self._depth):  # a leaf points to itself: extra steps stay there
            go_left = x[rows, self._feature[node]] <= self._threshold[node]
            step = np.where(go_left, self._left[node], self._right[node])
            if np.array_equal(step, node):
                break  # every beat is at a leaf of every tree
            node = step
        raw = self._value[node].sum(axis=1)
        return 1.0 / (1.0 + np.exp(-np.clip(raw, -60, 60)))

    def keep(self, beats: list) -> list:
        """The beats the check does not take for artefacts."""
        if not beats:
            return beats
        windows = np.stack([b.window for b in beats])
        rr = np.stack([b.rr for b in beats])
        p = self.probability(windows, rr)
        return [b for b, q in zip(beats, p, strict=True) if q < self.threshold]
