"""The full-integer file: calibrate, choose each tensor's int8 range, quantize.

The TFLite converter's int8 path, split open so the ranges can be percentiles of per-beat
extremes and the unrolled LSTM's steps can share one range per quantity (docs/quantization.md).
"""

from __future__ import annotations

import re

import numpy as np

from .calibration import Calibration
from .softmax import int16_softmax
from .tflite import calibrated_model, converting, to_tflite

#: How the int8 ranges of the unrolled recurrent cell are set (see ``Options.step_ranges``).
STEP_RANGES = ("shared", "per-step")


#: Recurrent quantities that keep a range per step even when ranges are shared (the cell
#: state and f*c, whose range grows with the step; see ``shared_step_ranges``).
PER_STEP_ROLES = ("lstm_fc", "lstm_c")


def activation_ranges(
    float_model: bytes, windows: np.ndarray, rr: np.ndarray, percentile: float
) -> dict[str, tuple[float, float]]:
    """Tensor name -> (low, high): ``percentile`` of the per-beat max, 100 - it of the min.

    Every op output of the float model is recorded beat by beat; a range that covers the
    extremes of 99 % of beats rather than of all of them is narrower, so the int8 steps of
    the typical beat are finer, and the 1 % of beats beyond it saturate. Measured on DS2
    (docs/quantization.md), this agrees with float more often than min/max ranges.

    The beat window gets the same rule, over the channels the model reads only
    (``read_channels``): one int8 scale serves both channels, and the raw-beat channel the
    model ignores would otherwise set the steps of the deviation channel it uses. The RR
    features keep their min/max (their rare long pauses are informative; a percentile range
    agreed less). Both measured in docs/quantization-notes.md.
    """
    interp = recording_interpreter(float_model)
    names = {t["index"]: t["name"] for t in interp.get_tensor_details()}
    outputs = sorted({i for op in interp._get_ops_details() for i in op["outputs"]})
    inputs = interp.get_input_details()
    window = next(d["index"] for d in inputs if len(d["shape"]) == 3)
    channels = read_channels(float_model, windows, rr)
    lows = np.empty((len(windows), len(outputs) + 1), np.float32)
    highs = np.empty_like(lows)
    for b in range(len(windows)):
        seen = windows[b, :, channels]
        lows[b, -1], highs[b, -1] = seen.min(), seen.max()
        _invoke(interp, windows, rr, b)
        for k, i in enumerate(outputs):
            value = interp.get_tensor(i)
            lows[b, k], highs[b, k] = value.min(), value.max()
    low = np.minimum(np.percentile(lows, 100 - percentile, axis=0), 0)
    high = np.maximum(np.percentile(highs, percentile, axis=0), 0)
    tensors = [*outputs, window]
    return {names[i]: (float(lo), float(hi)) for i, lo, hi in zip(tensors, low, high, strict=True)}


def read_channels(float_model: bytes, windows: np.ndarray, rr: np.ndarray) -> list[int]:
    """The beat-window channels the model's output depends on (by replacing each with noise).

    ``build_model`` feeds the trunk one channel by default; a model that reads both gets both.
    """
    interp = recording_interpreter(float_model)
    out = interp.get_output_details()[0]["index"]
    beats = min(len(windows), 20)
    windows, rr = windows[:beats], rr[:beats]
    noise = np.random.default_rng(0).normal(0, 2, windows.shape).astype(np.float32)

    def outputs(w: np.ndarray) -> list[np.ndarray]:
        def one(b: int) -> np.ndarray:
            _invoke(interp, w, rr, b)
            return interp.get_tensor(out).copy()

        return [one(b) for b in range(beats)]

    baseline = outputs(windows)
    read = []
    for c in range(windows.shape[-1]):
        changed = windows.copy()
        changed[..., c] = noise[..., c]
        if any(not np.array_equal(x, y) for x, y in zip(outputs(changed), baseline, strict=True)):
            read.append(c)
    return read or list(range(windows.shape[-1]))


def recording_interpreter(data: bytes):
    """A reference-kernel interpreter that keeps every intermediate tensor readable."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    interp = Interpreter(
        model_content=data,
        experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES,
    )
    interp.allocate_tensors()
    return interp


def _invoke(interp, windows: np.ndarray, rr: np.ndarray, b: int) -> None:
    """Run ``interp`` on beat ``b``: its window and its RR features."""
    for detail in interp.get_input_details():
        source = windows if len(detail["shape"]) == 3 else rr
        interp.set_tensor(detail["index"], source[b : b + 1])
    interp.invoke()


def recorded_ranges(calibrated: bytes) -> dict[str, tuple[float, float]]:
    """Tensor name -> (min, max) as the calibration recorded it in the model."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(calibrated))
    return {
        t.name.decode(): (float(t.quantization.min[0]), float(t.quantization.max[0]))
        for graph in model.subgraphs
        for t in graph.tensors
        if t.name and t.quantization is not None and t.quantization.min is not None
    }


def shared_step_ranges(ranges: dict[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
    """One range per recurrent quantity: the union over the steps of the unrolled cell.

    The export names each step's tensors after their role (``export.ROLES``; TF numbers the
    repeats ``lstm_h``, ``lstm_h_1``, ...). A range per step gives every step its own scale
    and quantization table; one per role leaves fewer distinct scales in the file (~450 bytes
    of the 35.9 KB int8 file) at no cost in agreement with float on DS2. Not for the cell
    state c and f*c (``PER_STEP_ROLES``): their range grows ~1 per step, one range over all
    steps made early steps 8x coarser, and ARM and x86 kernels' last-bit differences then grew
    to 3 output steps (docs/quantization-notes.md).
    """
    from .export import ROLES

    out = dict(ranges)
    for role in (r for r in ROLES if r not in PER_STEP_ROLES):
        group = [n for n in ranges if re.fullmatch(rf"{role}(_\d+)?", n)]
        if group:
            union = (min(ranges[n][0] for n in group), max(ranges[n][1] for n in group))
            out.update(dict.fromkeys(group, union))
    return out


def _with_ranges(calibrated: bytes, ranges: dict[str, tuple[float, float]]) -> bytes:
    """The calibrated model with the recorded min/max of the named tensors replaced."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(calibrated))
    for graph in model.subgraphs:
        for tensor in graph.tensors:
            name = tensor.name.decode() if tensor.name else None
            q = tensor.quantization
            if name not in ranges or q is None or q.min is None:
                continue
            q.min = np.array([ranges[name][0]], np.float32)
            q.max = np.array([ranges[name][1]], np.float32)
    return bytes(flatbuffer_utils.convert_object_to_bytearray(model))


def int8_tflite(
    frozen,
    calibration: Calibration,
    per_channel: bool = False,
    range_percentile: float | None = 99.0,
    numeric_verify: bool = False,
    float_io: bool = False,
    step_ranges: str = "per-step",
) -> bytes:
    """The full-integer file: calibrate, set the ranges, quantize.

    The same steps as ``TFLiteConverter.convert()`` for int8 (calibrate-only, then the MLIR
    quantizer), split open so the ranges can be percentiles (``activation_ranges``).
    ``numeric_verify`` gives TF's debug model instead (float I/O, a NumericVerify op beside
    every quantized op), for ``per_layer``. ``float_io`` keeps every op integer but takes and
    returns float32 (one QUANTIZE after each input, one DEQUANTIZE before the output).
    Every SOFTMAX writes int16, requantized to int8 (``softmax.int16_softmax``: the same
    outputs on ARM and x86).
    ``step_ranges`` "shared" gives each recurrent quantity one range over all steps
    (``shared_step_ranges``), "per-step" keeps each step's own.
    """
    import tensorflow as tf
    from tensorflow.lite.python.convert import mlir_quantize

    if step_ranges not in STEP_RANGES:
        raise ValueError(f"step_ranges: {step_ranges!r} is not one of {STEP_RANGES}")
    calibrated = calibrated_model(frozen, calibration, per_channel)
    if range_percentile is not None:
        ranges = activation_ranges(
            to_tflite(frozen, "float32"), calibration.windows, calibration.rr, range_percentile
        )
    else:
        ranges = recorded_ranges(calibrated)
    if step_ranges == "shared":
        ranges = shared_step_ranges(ranges)
    if range_percentile is not None or step_ranges == "shared":
        calibrated = _with_ranges(calibrated, ranges)
    io_type = tf.float32 if numeric_verify or float_io else tf.int8
    with converting("int8 quantization"):
        quantized = bytes(
            mlir_quantize(
                calibrated,
                disable_per_channel=not per_channel,
                input_data_type=io_type,
                output_data_type=io_type,
                enable_numeric_verify=numeric_verify,
            )
        )
    # The debug model keeps TF's own ops: its NumericVerify ops sit beside the softmax.
    return quantized if numeric_verify else int16_softmax(quantized)
