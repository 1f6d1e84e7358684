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
patient statistics (:mod:`.artifact_stage`, which with two leads also arbitrates their
disagreements).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .beat_summary import beat_summary
from .trees import load_trees

DEFAULT_CHECK = Path(__file__).parent / "assets" / "artifact-trees.npz"
#: The check for two leads: it reads both leads' summaries of each beat (N_SUMMARY each).
DEFAULT_CHECK_TWO_LEADS = Path(__file__).parent / "assets" / "artifact-trees-two-leads.npz"
#: A beat is dropped when the check is at least this sure it is an artefact.
THRESHOLD = 0.9
KIND = "artifact-check"


class ArtifactCheck:
    """The artefact probability of beats, from their windows and RR features (of one lead, or
    of both for a check trained on two: ``leads``)."""

    def __init__(self, path: str | os.PathLike[str] | None = None, leads: int = 1) -> None:
        """``path`` None: the bundled check for ``leads`` (1 or 2)."""
        if path is None:
            path = DEFAULT_CHECK_TWO_LEADS if leads == 2 else DEFAULT_CHECK
        self.path = Path(path)
        manifest, self._trees = load_trees(self.path, KIND)
        self.threshold = float(manifest.get("threshold", THRESHOLD))
        #: How many leads' summaries a beat's input holds.
        self.leads = int(manifest.get("leads", 1))

    def probability(self, windows: np.ndarray, rr: np.ndarray) -> np.ndarray:
        """(n,) probability that each beat is an artefact (a one-lead check)."""
        return self.probability_of(beat_summary(windows, rr))

    def probability_of(self, summary: np.ndarray) -> np.ndarray:
        """(n,) artefact probability from beat summaries (n, leads * N_SUMMARY): for two
        leads, the first lead's then the second's."""
        raw = self._trees.leaf_values(summary).sum(axis=1)
        return 1.0 / (1.0 + np.exp(-np.clip(raw, -60, 60)))
