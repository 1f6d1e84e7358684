"""Gradient-boosted trees walked in numpy, so the device runs no LightGBM.

``train/tree_export.py`` writes a LightGBM booster as padded node tables in an ``.npz`` (read
without pickle) with a manifest beside it; :func:`load_trees` verifies the manifest, the way
every model edge-ecg runs is verified, and :class:`TreeWalk` sends every row through every
tree at once, a step a level.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from .beat_summary import N_SUMMARY
from .errors import ModelError
from .manifest import read_manifest
from .rhythm import RHYTHM_FEATURES

_ARRAYS = ("feature", "threshold", "left", "right", "value", "depth")


class TreeWalk:
    """Leaf values of rows through node tables (one row a tree; a leaf points to itself)."""

    def __init__(
        self, tables: dict[str, np.ndarray], where: object, n_features: int = N_SUMMARY
    ) -> None:
        # One flat table: node ids global over the trees, so each step indexes once.
        n_trees, width = tables["feature"].shape
        self.trees = n_trees
        self._start = np.arange(n_trees, dtype=np.intp) * width
        self._feature = tables["feature"].astype(np.intp).ravel()
        self._threshold = tables["threshold"].astype(np.float64).ravel()
        self._left = (tables["left"].astype(np.intp) + self._start[:, None]).ravel()
        self._right = (tables["right"].astype(np.intp) + self._start[:, None]).ravel()
        self._value = tables["value"].astype(np.float64).ravel()
        self._depth = int(tables["depth"])
        if self._feature.max(initial=0) >= n_features:
            raise ModelError(f"{where}: splits on features beyond the ones it can get")

    def leaf_values(self, x: np.ndarray) -> np.ndarray:
        """(n, trees): the value of the leaf each row reaches in each tree."""
        x = np.asarray(x, dtype=np.float64)
        rows = np.arange(x.shape[0])[:, None]
        node = np.broadcast_to(self._start, (x.shape[0], self._start.size))
        for _ in range(self._depth):  # a leaf points to itself: extra steps stay there
            go_left = x[rows, self._feature[node]] <= self._threshold[node]
            step = np.where(go_left, self._left[node], self._right[node])
            if np.array_equal(step, node):
                break  # every row is at a leaf of every tree
            node = step
        return self._value[node]


def load_trees(path: str | os.PathLike[str], kind: str) -> tuple[dict, TreeWalk]:
    """The verified manifest and the trees of an ``.npz`` written by ``train/tree_export``."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ModelError(f"{path}: cannot read the trees ({e.strerror})") from None
    manifest = read_manifest(path, data)
    if manifest.get("kind") != kind:
        raise ModelError(f"{path}: its manifest's kind is not {kind!r}")
    try:  # the bytes the manifest vouched for, not a second read of the file
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            tables = {k: np.asarray(z[k]) for k in _ARRAYS}
    except (OSError, ValueError, KeyError) as e:
        raise ModelError(f"{path}: not a tree model ({e})") from None
    # Inputs: each lead's beat summary (two for a two-lead artefact check), and the rhythm
    # features a classifier may read after them.
    n_features = int(manifest.get("leads", 1)) * N_SUMMARY + len(RHYTHM_FEATURES)
    return manifest, TreeWalk(tables, path, n_features)
