"""Run a ``.tflite`` beat classifier: the one place that picks an interpreter and (de)quantizes.

Backends in order of preference: LiteRT (``ai-edge-litert``), ``tflite-runtime``, and
``tf.lite`` only when TensorFlow happens to be installed. The model's input tensors are found
by shape (a (1, WINDOW, CHANNELS) beat window and a (1, N_RR) RR vector), not by name, since
converters rename and reorder inputs. Integer models are fed and read through their own
quantization parameters, so callers always pass and get float32.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from .calibration import check_calibrated
from .errors import InputError, ModelError, first_line
from .manifest import manifest_precision, read_manifest
from .native import quiet_stderr
from .spec import CHANNELS, CLASSES, N_RR, WINDOW

BACKENDS = ("litert", "tflite_runtime", "tensorflow")
#: TFLite's int8 SOFTMAX always outputs steps of 1/256 from zero point -128 (its kernel
#: requires that quantization), so the probabilities of any int8 classifier here, float I/O
#: or not, move in these steps.
INT8_SOFTMAX_STEP = 1 / 256


def interpreter_class(backend: str | None = None) -> tuple[str, type]:
    """The first available interpreter (or the one asked for) as (name, class)."""
    for name in (backend,) if backend else BACKENDS:
        if name == "litert" and importlib.util.find_spec("ai_edge_litert"):
            from ai_edge_litert.interpreter import Interpreter

            return name, Interpreter
        if name == "tflite_runtime" and importlib.util.find_spec("tflite_runtime"):
            from tflite_runtime.interpreter import Interpreter

            return name, Interpreter
        if name == "tensorflow" and importlib.util.find_spec("tensorflow"):
            import tensorflow as tf

            return name, tf.lite.Interpreter
        if name not in BACKENDS:
            raise InputError(f"--backend: {name!r} is not one of {', '.join(BACKENDS)}")
    raise ModelError(
        "no TFLite interpreter installed: pip install ai-edge-litert "
        "(or tflite-runtime where no LiteRT wheel exists)"
        if backend is None
        else f"backend {backend} is not installed"
    )


@dataclass(frozen=True)
class Port:
    """One input or output tensor and how to convert float32 to and from its dtype."""

    index: int
    shape: tuple[int, ...]
    dtype: np.dtype
    scale: float
    zero_point: int

    @property
    def quantized(self) -> bool:
        return self.dtype in (np.int8, np.uint8, np.int16) and self.scale > 0

    @cached_property
    def _constants(self) -> tuple[np.float32, np.float32, np.float32, np.float32]:
        info = np.iinfo(self.dtype)
        return (
            np.float32(self.scale),
            np.float32(self.zero_point),
            np.float32(info.min),
            np.float32(info.max),
        )

    def quantize(self, x: np.ndarray) -> np.ndarray:
        if not self.quantized:
            return np.asarray(x, dtype=self.dtype)
        # The same float32 arithmetic as round(x / scale) + zero_point, clipped, in ufuncs with
        # out= and constants made once: on one beat, np.clip and np.iinfo alone cost more than
        # the model's invoke.
        scale, zero_point, lo, hi = self._constants
        q = np.divide(x, scale, dtype=np.float32)
        np.rint(q, out=q)
        q += zero_point
        np.maximum(q, lo, out=q)
        np.minimum(q, hi, out=q)
        return q.astype(self.dtype)

    @cached_property
    def _table(self) -> np.ndarray | None:
        """Dequantized value of every 8-bit code, indexed by the code's unsigned byte."""
        if self.dtype not in (np.int8, np.uint8):
            return None
        codes = np.arange(256, dtype=np.uint8).view(self.dtype)
        return self._dequantize(codes)

    def _dequantize(self, q: np.ndarray) -> np.ndarray:
        return ((q.astype(np.float32) - self.zero_point) * self.scale).astype(np.float32)

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        if not self.quantized:
            return np.asarray(q, dtype=np.float32)
        table = self._table
        if table is None:
            return self._dequantize(q)
        return table[np.asarray(q, dtype=self.dtype).view(np.uint8)]


def _port(detail: dict) -> Port:
    scale, zero_point = detail.get("quantization", (0.0, 0))
    return Port(
        index=detail["index"],
        shape=tuple(int(v) for v in detail["shape"]),
        dtype=np.dtype(detail["dtype"]),
        scale=float(scale),
        zero_point=int(zero_point),
    )


class TFLiteModel:
    """A beat classifier in a ``.tflite`` file: ``predict(windows, rr)`` -> probabilities.

    Parameters
    ----------
    path : the ``.tflite`` file; its ``.manifest.json`` is verified first unless ``verify`` is
        False (for files straight out of the converter, before their manifest exists).
    threads : interpreter threads (1 is fastest for one beat at a time on small CPUs).
    backend : force one of ``BACKENDS``; default the first installed.
    calibrated : whether the caller feeds patient-calibrated inputs (``.calibration``); a
        model whose manifest says the other is refused (None: either, see ``calibrated``).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        threads: int = 1,
        verify: bool = True,
        backend: str | None = None,
        calibrated: bool | None = False,
    ) -> None:
        self.path = Path(path)
        try:
            data = self.path.read_bytes()
        except OSError as e:
            raise ModelError(f"{self.path}: cannot read the model ({e.strerror})") from None
        if len(data) < 8 or data[4:8] != b"TFL3":
            raise ModelError(f"{self.path}: not a TFLite model (no TFL3 identifier)")
        self.manifest = read_manifest(self.path, data) if verify else None
        self.calibrated = bool(self.manifest and self.manifest.get("calibrated"))
        if verify:
            check_calibrated(self.path, self.calibrated, calibrated)
        if threads < 1:
            raise InputError(f"--threads: {threads} must be at least 1")
        self.backend, cls = interpreter_class(backend)
        try:
            with quiet_stderr():
                self._interp = cls(model_content=data, num_threads=threads)
                self._interp.allocate_tensors()
        except (ValueError, RuntimeError) as e:
            first = first_line(e)
            raise ModelError(f"{self.path}: the interpreter cannot load it ({first})") from None
        self.size_bytes = len(data)
        self._window, self._rr, self._out = self._find_ports()

    def _find_ports(self) -> tuple[Port, Port, Port]:
        inputs = [_port(d) for d in self._interp.get_input_details()]
        outputs = [_port(d) for d in self._interp.get_output_details()]
        by_shape = {p.shape: p for p in inputs}
        window = by_shape.get((1, WINDOW, CHANNELS))
        rr = by_shape.get((1, N_RR))
        if len(inputs) != 2 or window is None or rr is None:
            raise ModelError(
                f"{self.path}: inputs are {[p.shape for p in inputs]}, but the preprocessing "
                f"gives (1, {WINDOW}, {CHANNELS}) and (1, {N_RR}); the model was made for other "
                "inputs"
            )
        if len(outputs) != 1 or outputs[0].shape != (1, len(CLASSES)):
            raise ModelError(
                f"{self.path}: output is {[p.shape for p in outputs]}, expected "
                f"(1, {len(CLASSES)}) class probabilities"
            )
        return window, rr, outputs[0]

    @property
    def precision(self) -> str:
        """What the converter made (manifest), e.g. ``int8`` or ``int8-floatio``; without a
        manifest ``int8`` for integer inputs, else the input dtype name."""
        if self.manifest and "precision" in self.manifest:
            return manifest_precision(self.manifest, str(self.manifest["precision"]))
        return "int8" if self._window.quantized else str(self._window.dtype)

    @property
    def output_step(self) -> float:
        """One int8 step of the probabilities: the output's scale; for a float-I/O int8 file
        (manifest precision ``int8-floatio``) ``INT8_SOFTMAX_STEP``; 0.0 for a float model."""
        if self._out.quantized:
            return self._out.scale
        return INT8_SOFTMAX_STEP if self.precision.startswith("int8") else 0.0

    def predict(self, windows: np.ndarray, rr: np.ndarray) -> np.ndarray:
        """Class probabilities (n, 5) float32 of n beats, one invoke per beat."""
        windows = np.asarray(windows, dtype=np.float32)
        rr = np.asarray(rr, dtype=np.float32)
        if windows.ndim != 3 or windows.shape[1:] != (WINDOW, CHANNELS):
            raise InputError(f"windows: shape {windows.shape}, expected (n, {WINDOW}, {CHANNELS})")
        if rr.shape != (windows.shape[0], N_RR):
            raise InputError(f"rr: shape {rr.shape}, expected ({windows.shape[0]}, {N_RR})")
        qw = self._window.quantize(windows)[:, None]
        qr = self._rr.quantize(rr)[:, None]
        out = np.empty((windows.shape[0], len(CLASSES)), dtype=self._out.dtype)
        interp = self._interp
        iw, ir, io = self._window.index, self._rr.index, self._out.index
        for i in range(windows.shape[0]):
            interp.set_tensor(iw, qw[i])
            interp.set_tensor(ir, qr[i])
            interp.invoke()
            out[i] = interp.get_tensor(io)[0]
        return self._out.dequantize(out)
