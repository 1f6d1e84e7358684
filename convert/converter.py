"""Turn a trained ``.keras`` beat classifier into ``.tflite`` files, one per precision.

Each file is converted from the export copy (``convert.export``) by the TFLite converter
(``convert.tflite``; int8 with our own ranges, ``convert.int8``), checked (op list, no state:
``convert.graph``; outputs against the Keras model on real beats), packed (``convert.packing``)
and written with its manifest. This module is the whole job, one precision after another.
What a conversion did is recorded in the manifest, so a file can always be traced to the
Keras model, the training data and the command that made it.

Precisions (``MODES``):

- ``float32``: the reference the others are compared with.
- ``fp16``: float16 weights, dequantized to float32 at load; float compute.
- ``dynamic``: int8 weights, float activations (quantized on the fly inside big matmuls).
- ``int8``: full integer: int8 input, output and every op, calibrated on DS1 beats; the
  runtime quantizes the inputs with the scale/zero point the manifest records. One exception,
  on purpose: each SOFTMAX writes int16 and a QUANTIZE takes it back to int8, so ARM and x86
  builds of LiteRT give the same bytes (``softmax.int16_softmax``).

Size matters because the int8 file is flashed to microcontrollers: a file's size is mostly
(weights) + (a fixed cost per op and per tensor), so we strip tensor names and share what the
flatbuffer lets tensors share (``packing.compact``), and quantize weights per tensor by default
(``per_channel=False`` saves ~8 KB of per-channel scales at no measured accuracy cost;
docs/quantization.md).
"""

from __future__ import annotations

import importlib.metadata
import os
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edge_ecg.atomic import write_bytes
from edge_ecg.errors import InputError, ModelError
from edge_ecg.interpreter import TFLiteModel
from edge_ecg.manifest import sha256_bytes, write_manifest

from .calibration import calibration_set
from .graph import check_ops, check_stateless, port_quantization
from .int8 import int8_tflite
from .packing import compact
from .tflite import MODES, frozen_function, to_tflite

#: Beats used to check the export copy and each converted file against the Keras model.
CHECK_BEATS = 300
#: Beats TFLite Micro and LiteRT both classify to show they agree (--c-array).
TFLM_BEATS = 1000

Log = Callable[[str], None]


@dataclass(frozen=True)
class Options:
    """How the files are made; all of it goes into each manifest."""

    calib_size: int = 500
    seed: int = 0
    per_channel: bool = False
    #: strip tensor names; share empty buffers, identical quantization tables, vectors and op
    #: options (see ``packing.compact``).
    compact: bool = True
    #: "joined" (our unrolled joined-direction cell) or "keras-unroll" (for comparison only).
    lstm: str = "joined"
    #: int8 activation ranges cover this percentile of the per-beat extremes of each tensor
    #: (None: the calibration beats' min/max; see ``int8.int8_tflite``).
    range_percentile: float | None = 99.0
    #: the int8 file's input/output type: "int8" (microcontrollers) or "float32" (quantize and
    #: dequantize inside the graph: cheaper per call from Python than numpy doing it).
    int8_io: str = "int8"
    #: "per-step": each step of the unrolled BiLSTM keeps its own int8 ranges, as the TFLite
    #: calibrator sets them; "shared": each recurrent quantity (h, gates, ...; not the cell
    #: state) gets one range over all steps, as a fused LSTM kernel would: 0.9 KB smaller,
    #: equal on DS1, 0.04 pp less DS2 agreement (``int8.shared_step_ranges``;
    #: docs/quantization-notes.md).
    step_ranges: str = "per-step"


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


def convert_keras_model(
    model_path: str | os.PathLike[str],
    modes: Sequence[str],
    out_dir: str | os.PathLike[str],
    beats,
    options: Options = Options(),
    command: str = "",
    c_array: bool = False,
    log: Log = lambda msg: None,
    manifest_fields: dict | None = None,
) -> list[Converted]:
    """Convert ``model_path`` in each of ``modes`` into ``out_dir``; see the module docstring.

    ``beats`` (the DS1 BeatSet, or a user calibration file's ``BeatFile``) gives the int8
    calibration sample and the check beats; ``manifest_fields`` are added to each manifest
    (e.g. the patient of a patient-specific model), in the same atomic write.
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

    loaded = KerasModel(model_path, calibrated=None)  # either kind; the manifest says which
    keras_model = loaded.model
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
        if loaded.calibrated:  # the runtime then insists on a patient calibration
            fields["calibrated"] = True
        fields.update(manifest_fields or {})
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
