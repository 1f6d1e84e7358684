"""Turn a trained ``.keras`` beat classifier into ``.tflite`` files, one per precision.

Each file is converted from the export copy (``convert.export``), checked (op list, no state,
outputs against the Keras model on real beats), compacted, and written with its manifest.
What a conversion did is recorded in the manifest, so a file can always be traced to the
Keras model, the training data and the command that made it.

Precisions (``MODES``):

- ``float32``: the reference the others are compared with.
- ``fp16``: float16 weights, dequantized to float32 at load; float compute.
- ``dynamic``: int8 weights, float activations (quantized on the fly inside big matmuls).
- ``int8``: full integer: int8 input, output and every op, calibrated on DS1 beats; the
  runtime quantizes the inputs with the scale/zero point the manifest records.

Size matters because the int8 file is flashed to microcontrollers: a file's size is mostly
(weights) + (a fixed cost per op and per tensor), so we strip tensor names and share what the
flatbuffer lets tensors share (``compact``), and quantize weights per tensor by default
(``per_channel=False`` saves ~8 KB of per-channel scales at no measured accuracy cost;
docs/quantization.md).
"""

from __future__ import annotations

import contextlib
import copy
import importlib.metadata
import logging
import os
import re
import shlex
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge_ecg.atomic import write_bytes
from edge_ecg.errors import InputError, ModelError, first_line
from edge_ecg.interpreter import TFLiteModel
from edge_ecg.manifest import sha256_bytes, write_manifest
from edge_ecg.native import quiet_stderr

from .calibration import Calibration, calibration_set

MODES = ("float32", "fp16", "dynamic", "int8")
#: How the int8 ranges of the unrolled recurrent cell are set (see ``Options.step_ranges``).
STEP_RANGES = ("shared", "per-step")
#: Recurrent quantities that keep a range per step even when ranges are shared (the cell
#: state and f*c, whose range grows with the step; see ``shared_step_ranges``).
PER_STEP_ROLES = ("lstm_fc", "lstm_c")
#: Ops that would make a file unusable on our runtimes or keep state between invokes.
FORBIDDEN_OPS = ("WHILE", "CALL_ONCE", "VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE")
#: Beats used to check the export copy and each converted file against the Keras model.
CHECK_BEATS = 300
#: Beats TFLite Micro and LiteRT both classify to show they agree (--c-array).
TFLM_BEATS = 1000
#: Tensor dtypes allowed in a full-integer file: int8 data, int32 biases/shapes, bool masks.
INT8_DTYPES = ("INT8", "INT32", "BOOL")

Log = Callable[[str], None]


@dataclass(frozen=True)
class Options:
    """How the files are made; all of it goes into each manifest."""

    calib_size: int = 500
    seed: int = 0
    per_channel: bool = False
    #: strip tensor names; share empty buffers, identical quantization tables, vectors and op
    #: options (see ``compact``).
    compact: bool = True
    #: "joined" (our unrolled joined-direction cell) or "keras-unroll" (for comparison only).
    lstm: str = "joined"
    #: int8 activation ranges cover this percentile of the per-beat extremes of each tensor
    #: (None: the calibration beats' min/max; see ``int8_tflite``).
    range_percentile: float | None = 99.0
    #: the int8 file's input/output type: "int8" (microcontrollers) or "float32" (quantize and
    #: dequantize inside the graph: cheaper per call from Python than numpy doing it).
    int8_io: str = "int8"
    #: "shared": each recurrent quantity (h, gates, ...; not the cell state) gets one int8
    #: range covering all the steps of the unrolled BiLSTM, as a fused LSTM kernel would;
    #: "per-step": each step's own (see ``shared_step_ranges``).
    step_ranges: str = "shared"


# --------------------------------------------------------------------------- conversion


@contextlib.contextmanager
def quiet_converter() -> Iterator[None]:
    """The converter's native chatter, Python warnings and absl deprecation notes, silenced."""
    absl = logging.getLogger("absl")
    level = absl.level
    absl.setLevel(logging.ERROR)
    try:
        with quiet_stderr(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        absl.setLevel(level)


def frozen_function(export):
    """The export copy's concrete function with every weight folded in as a constant.

    Converting the tf.Module directly keeps Keras' variables as VAR_HANDLE/READ_VARIABLE
    ops, which the int8 calibrator cannot run; freezing first gives a graph of constants.
    """
    from tensorflow.python.framework.convert_to_constants import (
        convert_variables_to_constants_v2,
    )

    return convert_variables_to_constants_v2(export.serve.get_concrete_function())


def tflite_converter(
    frozen, mode: str, calibration: Calibration | None = None, per_channel: bool = False
):
    """A ``tf.lite.TFLiteConverter`` set up for one of ``MODES`` (builtin ops only: no Flex)."""
    import tensorflow as tf

    if mode not in MODES:
        raise InputError(f"mode {mode!r} is not one of {', '.join(MODES)}")
    with quiet_converter():  # an absl deprecation note about the (frozen) input
        converter = tf.lite.TFLiteConverter.from_concrete_functions([frozen])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    converter._experimental_disable_per_channel = not per_channel
    if mode == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif mode == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif mode == "int8":
        if calibration is None:
            raise InputError("int8 conversion needs calibration beats")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
        converter.representative_dataset = beat_samples(frozen, calibration.windows, calibration.rr)
    return converter


@contextlib.contextmanager
def converting(what: str) -> Iterator[None]:
    """Run a converter step quietly; any error it raises (the converter, calibrator and
    quantizer raise many types, all meaning "cannot") becomes one ``ModelError`` line."""
    try:
        with quiet_converter():
            yield
    except Exception as e:
        raise ModelError(f"{what} failed: {first_line(e)[:300]}") from None


def to_tflite(
    frozen, mode: str, calibration: Calibration | None = None, per_channel: bool = False
) -> bytes:
    """Convert a frozen function in one of ``MODES``."""
    converter = tflite_converter(frozen, mode, calibration, per_channel)
    with converting(f"TFLite conversion ({mode})"):
        return bytes(converter.convert())


def calibrated_model(frozen, calibration: Calibration, per_channel: bool = False) -> bytes:
    """The float model with each tensor's min/max over the calibration beats recorded in it."""
    converter = tflite_converter(frozen, "int8", calibration, per_channel)
    converter._experimental_calibrate_only = True
    with converting("int8 calibration"):
        return bytes(converter.convert())


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
    step_ranges: str = "shared",
) -> bytes:
    """The full-integer file: calibrate, set the ranges, quantize.

    The same steps as ``TFLiteConverter.convert()`` for int8 (calibrate-only, then the MLIR
    quantizer), split open so the ranges can be percentiles (``activation_ranges``).
    ``numeric_verify`` gives TF's debug model instead (float I/O, a NumericVerify op beside
    every quantized op), for ``per_layer``. ``float_io`` keeps every op integer but takes and
    returns float32 (one QUANTIZE after each input, one DEQUANTIZE before the output).
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
        return bytes(
            mlir_quantize(
                calibrated,
                disable_per_channel=not per_channel,
                input_data_type=io_type,
                output_data_type=io_type,
                enable_numeric_verify=numeric_verify,
            )
        )


def beat_samples(frozen, windows: np.ndarray, rr: np.ndarray) -> Callable[[], Iterator[list]]:
    """A dataset generator of single beats in the frozen function's input order.

    A frozen function carries no signature, so samples are lists in its input order, which
    we read from the function's own input names rather than assume.
    """
    names = [t.name.split(":")[0] for t in frozen.inputs]
    if sorted(names) != ["rr", "window"]:
        raise ModelError(f"the export copy's inputs are {names}, expected window and rr")

    def samples() -> Iterator[list]:
        for i in range(len(windows)):
            beat = {"window": windows[i : i + 1], "rr": rr[i : i + 1]}
            yield [beat[n] for n in names]

    return samples


def compact(data: bytes, share: bool = True) -> bytes:
    """The same model in fewer bytes: what the interpreters compute is unchanged.

    - tensor names and signatures stripped (``flatbuffer_utils.strip_strings``);
    and with ``share`` (docs/quantization.md measures each step):
    - every tensor without data points at the shared empty buffer 0 (the schema's sentinel)
      instead of an empty buffer of its own;
    - tensors with identical quantization parameters share one table (flatbuffers allow a
      table to be referenced many times): an int8 graph repeats few distinct scales;
    - identical vectors (shapes, scales, zero points) and identical op options are written once
      and referenced from every place that uses them: an unrolled graph repeats them per step;
    - ``has_rank`` is left out where the shape already says the rank (it only tells a scalar
      from a tensor of unknown rank when the shape is empty).
    """
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(data))
    flatbuffer_utils.strip_strings(model)
    if not share:
        return bytes(flatbuffer_utils.convert_object_to_bytearray(model))
    keep, remap = [0], {0: 0}
    for i, buffer in enumerate(model.buffers[1:], start=1):
        if buffer.data is not None and len(buffer.data):
            remap[i] = len(keep)
            keep.append(i)
    for subgraph in model.subgraphs:
        for tensor in subgraph.tensors:
            tensor.buffer = remap.get(tensor.buffer, 0)
    for md in model.metadata or []:
        md.buffer = remap.get(md.buffer, 0)
    model.buffers = [model.buffers[i] for i in keep]

    shared: dict[tuple, object] = {}
    for subgraph in model.subgraphs:
        for tensor in subgraph.tensors:
            if tensor.shape is not None and len(tensor.shape):
                tensor.hasRank = False
            q = tensor.quantization
            if q is None or q.scale is None or q.min is not None or q.details is not None:
                continue
            key = (
                np.asarray(q.scale).tobytes(),
                np.asarray(q.zeroPoint).tobytes(),
                q.quantizedDimension,
            )
            if key not in shared:
                shared[key] = _packed_once(q)
            tensor.quantization = shared[key]
    _share_options(model)
    builder = _sharing_builder()
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def _sharing_builder(size: int = 1024):
    """A flatbuffers builder that writes each distinct numpy vector once (flatbuffers allow any
    number of references to one vector); the object API packs every shape and scale anew."""
    import flatbuffers

    class SharingBuilder(flatbuffers.Builder):
        def __init__(self, size: int) -> None:
            super().__init__(size)
            self.vectors: dict[tuple, int] = {}

        def CreateNumpyVector(self, x):  # noqa: N802 - flatbuffers' name
            key = (x.dtype.str, x.shape, x.tobytes())
            if key not in self.vectors:
                self.vectors[key] = super().CreateNumpyVector(x)
            return self.vectors[key]

    return SharingBuilder(size)


def _share_options(model) -> None:
    """Point every op at one packed copy of each distinct builtin-options table."""
    shared: dict[tuple, object] = {}
    for subgraph in model.subgraphs:
        for op in subgraph.operators:
            options = op.builtinOptions
            if options is None:
                continue
            key = (type(options).__name__, repr(sorted(vars(options).items())))
            if key not in shared:
                shared[key] = _packed_once(options)
            op.builtinOptions = shared[key]


def _packed_once(table):
    """A copy of an object-API table whose Pack returns the first offset for each builder."""
    base = type(table)

    class Once(base):
        def Pack(self, builder):  # noqa: N802 - flatbuffers' name
            offsets = self.__dict__.setdefault("_offsets", {})
            if id(builder) not in offsets:
                offsets[id(builder)] = base.Pack(self, builder)
            return offsets[id(builder)]

    once = copy.copy(table)
    once.__class__ = Once
    return once


# --------------------------------------------------------------------------- checks


def ops_by_type(data: bytes) -> dict[str, int]:
    """Op name -> count over all subgraphs (custom ops by their custom code, e.g. FlexX)."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(data))
    counts: Counter[str] = Counter()
    for subgraph in model.subgraphs:
        for op in subgraph.operators:
            code = model.operatorCodes[op.opcodeIndex]
            name = flatbuffer_utils.opcode_to_name(model, op.opcodeIndex)
            if name == "CUSTOM" and code.customCode:
                name = code.customCode.decode()
            counts[name] += 1
    return dict(sorted(counts.items()))


def check_ops(data: bytes, mode: str) -> dict[str, int]:
    """Refuse a file our runtimes cannot run or that keeps state; return its op counts.

    No Flex (TF) ops, no WHILE (an un-unrolled RNN), one subgraph, no variable tensors or
    resource-variable ops (a stateful file would answer differently for the same beat), and
    for int8 no op touching a float tensor.
    """
    from tensorflow.lite.tools import flatbuffer_utils

    ops = ops_by_type(data)
    bad = sorted(op for op in ops if op.startswith("Flex") or op in FORBIDDEN_OPS)
    if bad:
        raise ModelError(f"{mode}: the converted file contains {', '.join(bad)} ops")
    model = flatbuffer_utils.read_model_from_bytearray(bytearray(data))
    if len(model.subgraphs) != 1:
        raise ModelError(f"{mode}: {len(model.subgraphs)} subgraphs, expected 1 (no loops)")
    graph = model.subgraphs[0]
    variables = [i for i, t in enumerate(graph.tensors) if t.isVariable]
    if variables:
        raise ModelError(f"{mode}: {len(variables)} variable tensors keep state between beats")
    if mode == "int8":
        floats = non_integer_ops(data)
        if floats:
            listed = ", ".join(f"{k} x{v}" for k, v in sorted(floats.items()))
            raise ModelError(f"int8: these ops are not integer: {listed}")
    return ops


def non_integer_ops(data: bytes) -> Counter[str]:
    """Ops that read or write a tensor other than int8 data, int32 biases/shapes, bool masks
    (the QUANTIZE/DEQUANTIZE at the graph's inputs and output of a float-I/O file excepted)."""
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(data))
    found: Counter[str] = Counter()
    for graph in model.subgraphs:
        edges = {*graph.inputs.tolist(), *graph.outputs.tolist()}
        for op in graph.operators:
            name = flatbuffer_utils.opcode_to_name(model, op.opcodeIndex)
            if name in ("QUANTIZE", "DEQUANTIZE") and edges & {*op.inputs, *op.outputs}:
                continue  # float32 I/O: the conversion at the graph's own edges
            types = {
                flatbuffer_utils.type_to_name(graph.tensors[t].type)
                for t in [*op.inputs, *op.outputs]
                if t >= 0
            }
            for dtype in sorted(types - set(INT8_DTYPES)):
                found[f"{name} ({dtype})"] += 1
    return found


def check_stateless(model: TFLiteModel, windows: np.ndarray, rr: np.ndarray) -> None:
    """The same beat gives the same output, whatever ran before it (no hidden state)."""
    a = model.predict(windows[:1], rr[:1])
    model.predict(windows[1:3], rr[1:3])
    again = model.predict(windows[:1], rr[:1])
    if not np.array_equal(a, again):
        raise ModelError(f"{model.path.name}: the same beat gave two outputs; the file keeps state")


# --------------------------------------------------------------------------- the whole job


@dataclass
class Converted:
    """One written file and what the conversion measured."""

    mode: str
    path: Path
    bytes: int
    ops: dict[str, int]
    check: dict
    manifest: Path
    extra: dict = field(default_factory=dict)


def file_mode(mode: str, options: Options) -> str:
    """The precision part of a file name: ``int8``, or ``int8-floatio`` for float32 I/O."""
    return "int8-floatio" if mode == "int8" and options.int8_io == "float32" else mode


def output_name(model_path: Path) -> str:
    """``runs/x/model.keras`` -> ``x``; ``models/fusion.keras`` -> ``fusion``."""
    return model_path.parent.name if model_path.stem == "model" else model_path.stem


def training_checksums(model_path: Path) -> dict | None:
    """The RUN_DIR's ``checksums.json`` (the training data's sha256s), if beside the model."""
    import json

    path = model_path.parent / "checksums.json"
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: unreadable training checksums ({e})") from None


def versions() -> dict[str, str]:
    """Versions of everything that shapes the bytes of a converted file."""
    out = {}
    for dist in ("edge-ecg", "tensorflow", "keras", "ai-edge-litert", "tflite-micro"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def port_quantization(data: bytes) -> dict[str, dict]:
    """dtype, scale and zero point of the window/rr inputs and the probs output."""
    from edge_ecg.interpreter import interpreter_class

    _, cls = interpreter_class()
    interp = cls(model_content=data)
    out = {}
    details = [*interp.get_input_details(), *interp.get_output_details()]
    for d, name in zip(details, _port_names(details), strict=True):
        scale, zero_point = d["quantization"]
        out[name] = {
            "dtype": np.dtype(d["dtype"]).name,
            "scale": float(scale),
            "zero_point": int(zero_point),
        }
    return out


def _port_names(details: list[dict]) -> list[str]:
    names = []
    for d in details[:-1]:
        names.append("window" if len(d["shape"]) == 3 else "rr")
    return [*names, "probs"]


def convert_keras_model(
    model_path: str | os.PathLike[str],
    modes: Sequence[str],
    out_dir: str | os.PathLike[str],
    beats,
    options: Options = Options(),
    command: str = "",
    c_array: bool = False,
    log: Log = lambda msg: None,
) -> list[Converted]:
    """Convert ``model_path`` in each of ``modes`` into ``out_dir``; see the module docstring.

    ``beats`` (the DS1 BeatSet, or a user calibration file's ``BeatFile``) gives the int8
    calibration sample and the check beats.
    """

    from .export import ExportModel, check_export

    model_path = Path(model_path)
    modes = [m for m in MODES if m in modes]
    if not modes:
        raise InputError("choose at least one of --float32 --fp16 --dynamic --int8")
    if c_array and "int8" not in modes:
        raise InputError("--c-array needs --int8: microcontrollers run the full-integer file")
    if c_array and options.int8_io != "int8":
        raise InputError("--c-array needs --int8-io int8: microcontrollers take int8 inputs")
    from edge_ecg.models import KerasModel

    keras_model = KerasModel(model_path).model
    source = {"file": str(model_path), "sha256": sha256_bytes(model_path.read_bytes())}
    training = training_checksums(model_path)
    beat_source = getattr(beats, "source", "DS1")
    calibration = calibration_set(
        beats.windows, beats.rr, beats.labels, options.calib_size, options.seed, beat_source
    )
    check = calibration_set(
        beats.windows, beats.rr, beats.labels, CHECK_BEATS, options.seed + 1, beat_source
    )

    export = ExportModel(keras_model, lstm=options.lstm)
    export_err = check_export(keras_model, export, check.windows, check.rr)
    log(f"export copy matches the Keras model: max |diff| {export_err:.1e} on {CHECK_BEATS} beats")
    frozen = frozen_function(export)
    reference = np.asarray(
        keras_model.predict({"window": check.windows, "rr": check.rr}, verbose=0), np.float32
    )
    name = output_name(model_path)
    out_dir = Path(out_dir)
    results = []
    for mode in modes:
        raw = (
            int8_tflite(
                frozen,
                calibration,
                options.per_channel,
                options.range_percentile,
                float_io=options.int8_io == "float32",
                step_ranges=options.step_ranges,
            )
            if mode == "int8"
            else to_tflite(frozen, mode, per_channel=options.per_channel)
        )
        data = compact(raw) if options.compact else raw
        ops = check_ops(data, mode)
        path = out_dir / f"{name}-{file_mode(mode, options)}.tflite"
        write_bytes(path, data)
        tflite = TFLiteModel(path, verify=False)
        check_stateless(tflite, check.windows, check.rr)
        if options.compact and not np.array_equal(
            tflite.predict(check.windows, check.rr),
            _predict_bytes(raw, check.windows, check.rr),
        ):
            raise ModelError(f"{mode}: compacting changed the outputs; use the raw file")
        checked = _check_outputs(mode, tflite.predict(check.windows, check.rr), reference)
        fields = {
            "precision": mode,
            "quantization": port_quantization(data),
            "source": source,
            "training_data": training,
            "converter": versions(),
            "export": {
                "lstm": options.lstm,
                "batch": 1,
                "max_abs_diff_vs_keras": export_err,
                "beats": CHECK_BEATS,
            },
            "per_channel": options.per_channel,
            "io": options.int8_io if mode == "int8" else "float32",
            "compacted": options.compact,
            "ops": ops,
            "op_count": sum(ops.values()),
            "stateless": True,
            "check": checked,
            "command": command,
        }
        if mode == "int8":
            fields["calibration"] = {
                **calibration.describe(),
                "range_percentile": options.range_percentile,
                "step_ranges": options.step_ranges,
                "ranges": (
                    "min/max over the calibration beats"
                    if options.range_percentile is None
                    else f"{options.range_percentile:g}th percentile of per-beat extremes "
                    "(the window over the channels the model reads; the RR features: min/max)"
                )
                + (
                    "; one range per recurrent quantity over all LSTM steps (cell state: per step)"
                    if options.step_ranges == "shared"
                    else ""
                ),
            }
        extra = {}
        if c_array and mode == "int8":
            from .microcontroller import export_c_array

            micro = calibration_set(
                beats.windows, beats.rr, beats.labels, TFLM_BEATS, options.seed + 2, beat_source
            )
            extra = export_c_array(path, micro.windows, micro.rr, log)
            fields["tflm"] = extra["tflm"]
            fields["c_array"] = extra["files"]
        manifest = write_manifest(path, **fields)
        results.append(Converted(mode, path, len(data), ops, checked, manifest, extra))
        log(
            f"{path}: {len(data) / 1024:.1f} KB, {sum(ops.values())} ops, agreement with Keras "
            f"{100 * checked['agreement']:.2f} % on {len(check.windows)} "
            f"{'DS1' if beat_source == 'DS1' else 'calibration-file'} beats"
        )
    return results


def _predict_bytes(data: bytes, windows: np.ndarray, rr: np.ndarray) -> np.ndarray:
    """Outputs of an in-memory file (the raw converter output, before compacting)."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "raw.tflite"
        path.write_bytes(data)
        return TFLiteModel(path, verify=False).predict(windows, rr)


#: Float files must match Keras this closely, or the conversion itself is wrong.
FLOAT_TOLERANCE = {"float32": 1e-4, "fp16": 5e-2}


def _check_outputs(mode: str, got: np.ndarray, want: np.ndarray) -> dict:
    """Agreement and max |diff| with Keras on the check beats; refuse a broken float file."""
    err = float(np.max(np.abs(got - want)))
    limit = FLOAT_TOLERANCE.get(mode)
    if limit is not None and err > limit:
        raise ModelError(
            f"{mode}: outputs differ from the Keras model by {err:.2e} (> {limit:g}); the "
            "conversion is wrong"
        )
    return {
        "split": "DS1",
        "beats": len(got),
        "agreement": float(np.mean(got.argmax(1) == want.argmax(1))),
        "max_abs_diff_vs_keras": err,
    }


def canonical_command(
    model: Path, modes: Sequence[str], options: Options, out_dir, c_array, calibration_file=None
):
    """The command line that reproduces a conversion, defaults spelled out."""
    args = ["edge-ecg", "convert", str(model), *(f"--{m}" for m in MODES if m in modes)]
    if c_array:
        args.append("--c-array")
    if "int8" in modes:
        args += ["--calib-size", str(options.calib_size)]
    if options.per_channel:
        args.append("--per-channel")
    if "int8" in modes and options.int8_io != "int8":
        args += ["--int8-io", options.int8_io]
    if calibration_file:
        args += ["--calibration", str(calibration_file)]
    args += ["--out-dir", str(out_dir)]
    return shlex.join(args)
