"""An optional check that drops the detector's noise peaks before they are reported as beats.

Electrode-motion artefacts look like QRS complexes to the R-peak detector and to a template
check (docs/noise.md). A small network that has seen such noise tells them apart much better:
an MLP over each detected beat's 43 summary numbers (:mod:`.beat_summary`), trained by
``python -m train.artifact_check fit`` on the detector's peaks of DS1 training records mixed
with recorded noise from NSTDB minutes no test reads. A beat whose artefact probability reaches
``THRESHOLD`` is not reported. Plain numpy (three small matrix products), weights in an ``.npz``
read without pickle, verified against its manifest like every model edge-ecg runs.

In the stream (``StreamClassifier(artifact_check=True)``) a first featurizer sees every peak,
as the check was trained, and only the peaks the check keeps reach the featurizer whose beats
are classified: an artefact never shortens its neighbours' RR intervals or enters the running
patient statistics.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .beat_summary import N_SUMMARY, beat_summary
from .errors import ModelError
from .manifest import read_manifest

DEFAULT_CHECK = Path(__file__).parent / "assets" / "artifact-mlp.npz"
#: A beat is dropped when the check is at least this sure it is an artefact.
THRESHOLD = 0.9
KIND = "artifact-check"
_ARRAYS = ("mean", "scale", "w1", "b1", "w2", "b2", "w3", "b3")


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
        try:
            with np.load(self.path, allow_pickle=False) as z:
                self._p = {k: np.asarray(z[k], dtype=np.float64) for k in _ARRAYS}
        except (OSError, ValueError, KeyError) as e:
            raise ModelError(f"{self.path}: not an artefact check ({e})") from None
        if self._p["mean"].shape != (N_SUMMARY,):
            raise ModelError(
                f"{self.path}: made for {self._p['mean'].shape} inputs, not {N_SUMMARY}"
            )
        self.threshold = float(manifest.get("threshold", THRESHOLD))

    def probability(self, windows: np.ndarray, rr: np.ndarray) -> np.ndarray:
        """(n,) probability that each beat is an artefact."""
        p = self._p
        x = (beat_summary(windows, rr) - p["mean"]) / p["scale"]
        h = np.maximum(x @ p["w1"] + p["b1"], 0.0)
        h = np.maximum(h @ p["w2"] + p["b2"], 0.0)
        z = (h @ p["w3"] + p["b3"])[:, 0]
        return 1.0 / (1.0 + np.exp(-np.clip(z, -60, 60)))

    def keep(self, beats: list) -> list:
        """The beats the check does not take for artefacts."""
        if not beats:
            return beats
        windows = np.stack([b.window for b in beats])
        rr = np.stack([b.rr for b in beats])
        p = self.probability(windows, rr)
        return [b for b, q in zip(beats, p, strict=True) if q < self.threshold]
