"""Load any beat classifier the toolkit makes behind one interface: ``predict(windows, rr)``.

``.tflite`` files run on the TFLite interpreter (no TensorFlow). ``.keras`` files need
TensorFlow, imported only here and only when such a file is given; they load with
``safe_mode=True``, so a model file can never run code of its own.
"""

from __future__ import annotations

import os
import re
import zipfile
from pathlib import Path
from typing import Protocol

import numpy as np

from .calibration import CALIBRATED_SUFFIX, check_calibrated
from .errors import InputError, ModelError, first_line
from .interpreter import TFLiteModel
from .spec import CHANNELS, CLASSES, N_RR, WINDOW

#: The model shipped with the package, used when no --model is given.
DEFAULT_MODEL = Path(__file__).parent / "assets" / "fusion-int8-floatio.tflite"


class BeatModel(Protocol):
    path: Path

    def predict(self, windows: np.ndarray, rr: np.ndarray) -> np.ndarray: ...


def _keras_load_problem(e: BaseException) -> str:
    """Why Keras refused a file, in one line; custom code gets named, never run."""
    text = str(e)
    custom = re.search(r"Could not locate (?:class|function) '([^']+)'", text)
    if "Lambda" in text and "arbitrary code" in text:
        what = "a Lambda layer (Python code)"
    elif custom:
        what = f"custom code ({custom.group(1)!r}, not a built-in Keras object)"
    else:
        return f"cannot load the Keras model ({first_line(e)[:200]})"
    return (
        f"the model holds {what}; edge-ecg loads models in safe mode and never runs code from "
        "a model file: rebuild it from built-in layers, as train/model.py does"
    )


class KerasModel:
    """A ``.keras`` model behind the same interface as :class:`TFLiteModel`."""

    precision = "float32"
    backend = "keras"

    def __init__(self, path: str | os.PathLike[str], calibrated: bool | None = False) -> None:
        """``calibrated``: whether the caller feeds patient-calibrated inputs; a model trained
        on the other kind is refused (None: either, see ``self.calibrated``)."""
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError(f"{self.path}: no such model file")
        if not zipfile.is_zipfile(self.path):
            raise ModelError(f"{self.path}: not a Keras model (.keras files are zip archives)")
        try:
            import keras
        except ImportError:
            raise ModelError(
                f"{self.path}: .keras models need TensorFlow: pip install 'edge-ecg[train]' "
                "(the device runs the converted .tflite instead)"
            ) from None
        try:
            self.model = keras.saving.load_model(self.path, safe_mode=True, compile=False)
        except Exception as e:  # Keras raises many types for a bad archive; all mean the same
            raise ModelError(f"{self.path}: {_keras_load_problem(e)}") from None
        shapes = [tuple(t.shape[1:]) for t in self.model.inputs]
        if sorted(shapes, key=len) != [(N_RR,), (WINDOW, CHANNELS)]:
            raise ModelError(
                f"{self.path}: inputs {shapes} do not match the preprocessing "
                f"(({WINDOW}, {CHANNELS}) and ({N_RR},)); the model was made for other inputs"
            )
        self.calibrated = self.model.name.endswith(CALIBRATED_SUFFIX)
        check_calibrated(self.path, self.calibrated, calibrated)
        self.size_bytes = self.path.stat().st_size
        self._window_first = len(shapes[0]) == 2

    def predict(self, windows: np.ndarray, rr: np.ndarray) -> np.ndarray:
        if len(windows) == 0:
            return np.zeros((0, len(CLASSES)), np.float32)
        args = [windows, rr] if self._window_first else [rr, windows]
        return np.asarray(self.model.predict(args, batch_size=1024, verbose=0), np.float32)


def model_patient(model: object) -> str | None:
    """The patient a patient-specific model was trained for (its manifest names it), else
    None: such a model is right for that patient only."""
    manifest = getattr(model, "manifest", None)
    return manifest.get("patient") if manifest else None


def load_model(
    path: str | os.PathLike[str] | None = None,
    threads: int = 1,
    backend: str | None = None,
    calibrated: bool | None = False,
) -> BeatModel:
    """A ``.tflite`` or ``.keras`` beat classifier; the shipped default when ``path`` is None.
    ``calibrated``: whether the caller feeds patient-calibrated inputs (None: either)."""
    if path is None:
        if not DEFAULT_MODEL.is_file():
            raise ModelError(
                f"the shipped model {DEFAULT_MODEL.name} is missing from this install; pass --model"
            )
        return TFLiteModel(DEFAULT_MODEL, threads=threads, backend=backend, calibrated=calibrated)
    path = Path(path)
    if path.suffix == ".keras":
        return KerasModel(path, calibrated=calibrated)
    if path.suffix == ".npz":
        from .tree_model import TreeModel

        return TreeModel(path, calibrated=calibrated)
    if path.suffix == ".tflite":
        if not path.is_file():
            raise ModelError(f"{path}: no such model file")
        return TFLiteModel(path, threads=threads, backend=backend, calibrated=calibrated)
    raise InputError(f"{path}: a model is a .tflite, .keras or (exported trees) .npz file")
