"""``edge-ecg convert``, ``edge-ecg inspect`` and ``edge-ecg validate``.

Heavy imports (TensorFlow, the beat cache) happen inside the commands, so ``--help`` is fast
and ``inspect`` never loads TensorFlow.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from edge_ecg.atomic import write_json, write_text
from edge_ecg.errors import InputError
from edge_ecg.options import data_dir_option, json_option, progress

# Before TensorFlow is first imported by any command: keep its C++ chatter off the terminal.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _log(msg: str) -> None:
    click.echo(msg, err=True)


@click.command()
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--float32", "float32", is_flag=True, help="Float32 file (the reference).")
@click.option("--fp16", is_flag=True, help="Float16 weights, float compute.")
@click.option("--dynamic", is_flag=True, help="Int8 weights, float activations.")
@click.option(
    "--int8",
    is_flag=True,
    help="Full integer: int8 inputs, output and ops (softmax outputs int16, requantized to "
    "int8, for the same bytes on ARM and x86).",
)
@click.option(
    "--int8-io",
    type=click.Choice(["int8", "float32"]),
    default="int8",
    show_default=True,
    help="The int8 file's input/output type. float32 keeps every op integer but quantizes "
    "inside the graph (file <name>-int8-floatio.tflite): faster per call from Python on a "
    "Pi-class CPU; microcontrollers (--c-array) need int8.",
)
@click.option(
    "--calib-size",
    type=click.IntRange(10, 100_000),
    default=500,
    show_default=True,
    help="DS1 beats (stratified by class) the int8 ranges are measured on.",
)
@click.option(
    "--per-channel",
    is_flag=True,
    help="Per-channel conv weight scales (default per-tensor: smaller, no accuracy cost).",
)
@click.option(
    "--c-array",
    is_flag=True,
    help="With --int8: also write <name>-int8.h/.cc (aligned model bytes, TFLM arena size) "
    "and check TFLite Micro against LiteRT on real beats.",
)
@click.option(
    "--calibration",
    "calibration_file",
    type=click.Path(dir_okay=False),
    help="Calibrate (and check) on your own beats instead of DS1: a .npz with windows "
    "(n, 128, 2) and rr (n, 11) from edge_ecg's preprocessing, labels (n,) optional "
    "(stratifies the sample). No PhysioNet data needed then.",
)
@data_dir_option
@click.option(
    "--out-dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Where the .tflite files and their manifests go.",
)
@json_option("what was written and measured")
def convert(
    model, float32, fp16, dynamic, int8, int8_io, calib_size, per_channel, c_array,
    calibration_file, data_dir, out_dir, json_path,
) -> None:  # fmt: skip
    """Convert a trained .keras beat classifier to .tflite, one file per precision flag.

    \b
    Files are named after the run (runs/x/model.keras -> x-int8.tflite) or the model
    (models/fusion.keras -> fusion-int8.tflite), each with a .manifest.json recording its
    precision, input/output quantization, the source model's sha256, the training data's
    checksums (RUN_DIR/checksums.json), versions, ops and this command.

    \b
    The model is first rebuilt as a batch-1 export copy with the BiLSTM unrolled (no WHILE,
    no Flex ops), checked against the Keras model on real DS1 beats; every output's op list
    is checked, and int8 is calibrated on DS1 beats stratified by class (never DS2).
    Check a file's accuracy afterwards with edge-ecg validate.

    \b
    Examples:
      edge-ecg convert runs/fusion-s0/model.keras --int8 --out-dir models
      edge-ecg convert runs/fusion-s0/model.keras --float32 --fp16 --dynamic --int8 \\
          --out-dir models/all --data-dir ../shared/data
      edge-ecg convert models/fusion.keras --int8 --c-array --out-dir firmware/model
    """
    from edge_ecg.models import KerasModel
    from train.beatset import load_beats
    from train.patient_adaptive import calibrate_beats

    from .calibration import load_calibration_file
    from .converter import Options, canonical_command, convert_keras_model
    from .tflite import MODES

    model = Path(model)
    if model.suffix != ".keras":
        raise InputError(f"{model}: convert takes a trained .keras model")
    flags = {"float32": float32, "fp16": fp16, "dynamic": dynamic, "int8": int8}
    modes = [m for m in MODES if flags[m]]
    if not modes:
        raise click.UsageError("choose at least one of --float32 --fp16 --dynamic --int8")
    options = Options(calib_size=calib_size, per_channel=per_channel, int8_io=int8_io)
    command = canonical_command(model, modes, options, out_dir, c_array, calibration_file)
    if calibration_file:
        beats = load_calibration_file(calibration_file)
    else:  # a model trained on patient-calibrated inputs is calibrated on such inputs
        beats = load_beats(data_dir, "DS1", progress=progress)
        if KerasModel(model, calibrated=None).calibrated:
            beats = calibrate_beats(beats)
    results = convert_keras_model(
        model, modes, out_dir, beats, options, command=command, c_array=c_array, log=_log
    )
    if json_path:
        write_json(
            json_path,
            {
                "command": command,
                "files": [
                    {
                        "precision": r.mode,
                        "path": str(r.path),
                        "manifest": str(r.manifest),
                        "bytes": r.bytes,
                        "op_count": sum(r.ops.values()),
                        "check": r.check,
                        **r.extra,
                    }
                    for r in results
                ],
            },
        )


@click.command("inspect")
@click.argument("model", type=click.Path(dir_okay=False))
@json_option("the report")
def inspect_model(model, json_path) -> None:
    """Show what is inside a .tflite file, without TensorFlow.

    \b
    Size; ops by type; tensor count and dtypes; each input's and the output's shape, dtype,
    scale and zero point; parameter count and bytes (constant weight tensors); MACs per beat
    (conv, fully-connected and batch-matmul ops); whether its manifest verifies.

    \b
    JSON layout: {"file", "bytes", "sha256", "manifest": {"verified", ...}, "ops": {op: n},
    "op_count", "tensors": {"count", "constant", "by_dtype"}, "inputs": [{"name", "shape",
    "dtype", "scale", "zero_point"}], "outputs": [...], "parameters", "parameter_bytes",
    "macs", "macs_by_op"}.

    \b
    Examples:
      edge-ecg inspect models/fusion-int8.tflite
      edge-ecg inspect models/fusion-int8.tflite --json - | jq .macs
    """
    from .inspect import describe, inspect_tflite

    report = inspect_tflite(model)
    if json_path:
        write_json(json_path, report)
    click.echo(describe(report), err=json_path == "-")


@click.command()
@click.option(
    "--reference",
    required=True,
    type=click.Path(dir_okay=False),
    help="The model to compare with, usually the trained .keras.",
)
@click.option(
    "--candidate",
    required=True,
    type=click.Path(dir_okay=False),
    help="The model under test, usually a converted .tflite.",
)
@data_dir_option
@click.option(
    "--split",
    type=click.Choice(["DS1", "DS2", "ALL"], case_sensitive=False),
    default="DS2",
    show_default=True,
    help="Beats both models classify: DS2 is the unseen-patient test set.",
)
@click.option(
    "--max-acc-drop",
    type=float,
    default=0.5,
    show_default=True,
    help="Largest accuracy drop allowed, in percentage points.",
)
@click.option(
    "--min-agreement",
    type=click.FloatRange(0, 100),
    default=99.5,
    show_default=True,
    help="Smallest share of beats given the same class by both, in percent.",
)
@click.option(
    "--max-class-se-drop",
    type=float,
    default=2.0,
    show_default=True,
    help="Largest sensitivity drop of any class with support, in percentage points.",
)
@click.option(
    "--per-layer",
    is_flag=True,
    help="Also rank every intermediate tensor by its drift from float (needs a .keras "
    "reference and a converted .tflite candidate).",
)
@click.option("--threads", type=click.IntRange(1, 64), default=1, show_default=True)
@json_option("the report")
@click.option(
    "--md",
    "md_path",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Write the report as Markdown to PATH ('-' for stdout).",
)
@click.pass_context
def validate(
    ctx, reference, candidate, data_dir, split, max_acc_drop, min_agreement, max_class_se_drop,
    per_layer, threads, json_path, md_path,
) -> None:  # fmt: skip
    """Gate a converted model: does it classify real beats like its reference?

    \b
    Both models classify the same beats. Reported: argmax agreement; accuracy and per-class
    Se/+P of each, and the deltas (candidate minus reference); on the probabilities cosine
    similarity, RMSE, max abs error, SNR (dB) and KL divergence; both confusion matrices.

    \b
    Exit 0 when every threshold holds, 1 when the gate fails (the report says which
    threshold and by how much), 2 on bad input.

    \b
    JSON layout: {"passed", "failures": [str], "agreement", "reference": {evaluate layout},
    "candidate": {...}, "delta": {"accuracy", "classes": {"N": {"se", "ppv"}, ...}},
    "probabilities": {"cosine", "rmse", "max_abs", "snr_db", "kl"}, "thresholds", and with
    --per-layer "per_layer": {"tensors": [...ranked]}}. Rates and deltas are fractions.

    \b
    Examples:
      edge-ecg validate --reference runs/fusion-s0/model.keras \\
          --candidate models/fusion-int8.tflite --json gate.json --md gate.md
      edge-ecg validate --reference models/fusion-float32.tflite \\
          --candidate models/fusion-int8.tflite --min-agreement 99.7 --per-layer
    """
    from edge_ecg.models import load_model
    from train.patient_adaptive import beats_for

    from .validate import Thresholds, compare, markdown

    thresholds = Thresholds(max_acc_drop, min_agreement, max_class_se_drop)
    ref_model = load_model(reference, threads=threads, calibrated=None)
    cand_model = load_model(candidate, threads=threads, calibrated=ref_model.calibrated)
    beats, _ = beats_for(ref_model, data_dir, split.upper(), progress)
    report = compare(
        ref_model,
        cand_model,
        beats.windows,
        beats.rr,
        beats.labels,
        beats.records,
        thresholds,
        bar=progress,
    )
    report["split"] = split.upper()
    report["models"] = {"reference": str(reference), "candidate": str(candidate)}
    text = markdown(report, str(reference), str(candidate))
    if per_layer:
        report["per_layer"], layer_text = _per_layer(
            reference, candidate, data_dir, beats, ref_model.calibrated
        )
        text += "\n" + layer_text
    if json_path:
        write_json(json_path, report)
    if md_path == "-":
        click.echo(text)
    elif md_path:
        write_text(md_path, text)
    verdict = "passed" if report["passed"] else "FAILED: " + "; ".join(report["failures"])
    _log(
        f"agreement {100 * report['agreement']:.2f} %, accuracy delta "
        f"{100 * (report['delta']['accuracy'] or 0):+.2f} pp on {len(beats)} {split.upper()} "
        f"beats: gate {verdict}"
    )
    if not report["passed"]:
        ctx.exit(1)


def _per_layer(reference, candidate, data_dir, beats, calibrated: bool) -> tuple[dict, str]:
    """The per-tensor drift on a fixed sample of the validation beats; the int8 ranges are
    measured again on DS1 beats as the converter measured them (calibrated for a calibrated
    model), so that the rebuilt copy is the candidate's bytes."""
    import numpy as np

    from train.beatset import load_beats
    from train.patient_adaptive import calibrate_beats

    from .per_layer import BEATS, markdown, per_layer_report

    pick = np.random.default_rng(0).permutation(len(beats))[:BEATS]
    ds1 = load_beats(data_dir, "DS1", progress=progress)
    if calibrated:
        ds1 = calibrate_beats(ds1)
    report = per_layer_report(reference, candidate, ds1, beats.windows[pick], beats.rr[pick])
    return report, markdown(report)
