"""A beat classifier made of gradient-boosted trees, behind the same interface as a TFLite model.

The trees read each beat's 43 summary numbers (:mod:`.beat_summary`) and are walked in numpy
(:mod:`.trees`); LightGBM's multiclass trees come one per class per round, so each class's
score is the sum of its trees and the probabilities their softmax. Trained by the tree arm of
the ablation (``train/gbt.py``) and exported by ``python -m train.tree_export``; the
patient-adaptive tree (``calibrated: true``) is the most accurate model measured here
(docs/results.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .beat_summary import beat_summary
from .calibration import check_calibrated
from .errors import ModelError
from .rhythm import RHYTHM_FEATURES
from .spec import CLASSES
from .trees import load_trees

KIND = "beat-classifier-trees"


class TreeModel:
    """``predict(windows, rr)`` -> (n, 5) class probabilities from exported trees."""

    precision = "trees"
    backend = "numpy"

    def __init__(self, path: str | os.PathLike[str], calibrated: bool | None = False) -> None:
        """``calibrated``: whether the caller feeds patient-calibrated inputs; trees trained
        on the other kind are refused (None: either, see ``self.calibrated``)."""
        self.path = Path(path)
        self.manifest, self._trees = load_trees(self.path, KIND)
        k = len(CLASSES)
        if self._trees.trees % k:
            raise ModelError(f"{self.path}: {self._trees.trees} trees are not {k} per round")
        #: the trees also read each beat's rhythm features (``rhythm.RHYTHM_FEATURES``)
        self.rhythm = bool(self.manifest.get("rhythm"))
        self.calibrated = bool(self.manifest.get("calibrated"))
        check_calibrated(self.path, self.calibrated, calibrated)
        self.size_bytes = self.path.stat().st_size

    def predict(
        self, windows: np.ndarray, rr: np.ndarray, rhythm: np.ndarray | None = None
    ) -> np.ndarray:
        """Class probabilities; ``rhythm`` (n, 4) is required by trees trained with it."""
        k = len(CLASSES)
        if len(windows) == 0:
            return np.zeros((0, k), np.float32)
        x = beat_summary(windows, rr)
        if self.rhythm:
            if rhythm is None or np.shape(rhythm) != (len(windows), len(RHYTHM_FEATURES)):
                raise ModelError(f"{self.path}: needs each beat's {len(RHYTHM_FEATURES)} rhythm "
                                 "features (featurize with rhythm=True)")  # fmt: skip
            x = np.hstack([x, rhythm])
        leaves = self._trees.leaf_values(x)
        raw = leaves.reshape(len(windows), -1, k).sum(axis=1)  # trees: round-major, class-minor
        e = np.exp(raw - raw.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
