"""``edge-ecg classify`` and ``edge-ecg detect``: the device pipeline on files or a live stream."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import click
import numpy as np

from .annotations import CLASS_SYMBOL, annotation_bytes
from .atomic import write_bytes, write_text
from .classify import ClassifiedBeat, Classifier, StreamClassifier
from .errors import InputError
from .signal_io import DTYPES, read_signal, read_stream
from .spec import CLASSES, FS, WINDOW

FORMATS = ("summary", "csv", "json", "wfdb")


def _input_options(f):
    f = click.option(
        "--ann-ext",
        default="edge",
        show_default=True,
        help="Extension of the WFDB annotation file (--format wfdb).",
    )(f)
    f = click.option(
        "--out-dir",
        type=click.Path(file_okay=False),
        help="Write DIR/<name>.csv|.json|.<ann-ext> here (default: stdout; required for wfdb).",
    )(f)
    f = click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default="summary",
        show_default=True,
        help="What to write.",
    )(f)
    f = click.option(
        "--dtype",
        type=click.Choice(list(DTYPES)),
        default="int16",
        show_default=True,
        help="Sample type of a raw stream on stdin.",
    )(f)
    f = click.option("--lead", help="Lead (WFDB signal name or CSV column); default MLII.")(f)
    f = click.option("--fs", type=float, help="Sampling rate in Hz (.csv, .npy and stdin).")(f)
    return click.argument("input_path", metavar="INPUT")(f)


def _rows(beats: list[ClassifiedBeat], with_probs: bool) -> list[str]:
    if with_probs:
        return [
            f"{b.sample},{b.time:.4f},{b.label}," + ",".join(f"{p:.4f}" for p in b.probabilities)
            for b in beats
        ]
    return [f"{b.sample},{b.time:.4f}" for b in beats]


def _csv_header(with_probs: bool) -> str:
    cols = (
        ["sample", "time", "label", *(f"p_{c}" for c in CLASSES)]
        if with_probs
        else ["sample", "time"]
    )
    return ",".join(cols)


def _summary(name: str, beats: list[ClassifiedBeat], seconds: float, with_probs: bool) -> str:
    lines = [f"{name}: {seconds / 60:.1f} min, {len(beats)} beats"]
    if len(beats) > 1:
        rr = np.diff([b.time for b in beats])
        lines.append(f"  heart rate: median {60 / np.median(rr):.0f} bpm")
    if with_probs and beats:
        counts = Counter(b.label for b in beats)
        names = {
            "N": "normal",
            "S": "supraventricular ectopic",
            "V": "ventricular ectopic",
            "F": "fusion",
            "Q": "unclassifiable",
        }
        for c in CLASSES:
            if counts[c]:
                lines.append(
                    f"  {c} {names[c]:<25} {counts[c]:>6} ({100 * counts[c] / len(beats):.1f} %)"
                )
    return "\n".join(lines) + "\n"


def _write(fmt: str, out_dir: str | None, name: str, ext: str, beats, fs, seconds, with_probs):
    if fmt == "summary":
        click.echo(_summary(name, beats, seconds, with_probs), nl=False)
        return
    if fmt == "wfdb":
        samples = np.array([b.sample for b in beats], dtype=np.int64)
        symbols = [CLASS_SYMBOL[b.label] if with_probs else "N" for b in beats]
        write_bytes(Path(out_dir) / f"{name}.{ext}", annotation_bytes(samples, symbols))
        return
    if fmt == "csv":
        text = "\n".join([_csv_header(with_probs), *_rows(beats, with_probs)]) + "\n"
    else:
        body = {"record": name, "fs": fs, "beats": [b.as_dict() for b in beats]}
        if not with_probs:
            body["beats"] = [{"sample": b.sample, "time": round(b.time, 4)} for b in beats]
        else:
            body["counts"] = dict(Counter(b.label for b in beats))
        text = json.dumps(body, indent=1) + "\n"
    if out_dir:
        write_text(Path(out_dir) / f"{name}.{fmt}", text)
    else:
        click.echo(text, nl=False)


def _run(input_path, fs, lead, dtype, fmt, out_dir, ann_ext, model, threads, with_probs):
    if fmt == "wfdb" and not out_dir:
        raise InputError("--format wfdb writes DIR/<record>.<ann-ext>: give --out-dir DIR")
    classifier = Classifier(model, threads) if with_probs else _NoModel()
    if input_path == "-":
        _run_stream(fs, dtype, fmt, out_dir, ann_ext, classifier, with_probs)
        return
    signal = read_signal(input_path, fs, lead)
    n = signal.samples.size
    if n < WINDOW / FS * signal.fs:
        raise InputError(
            f"{input_path}: {n} samples ({n / signal.fs:.2f} s) is shorter than one beat window "
            f"({WINDOW / FS:.2f} s); nothing to classify"
        )
    stream = StreamClassifier(signal.fs, classifier=classifier)
    beats = stream.push(signal.samples) + stream.flush()
    _write(
        fmt,
        out_dir,
        signal.name,
        ann_ext,
        beats,
        signal.fs,
        signal.samples.size / signal.fs,
        with_probs,
    )


def _run_stream(fs, dtype, fmt, out_dir, ann_ext, classifier, with_probs):
    """Classify stdin as it arrives; csv/json lines go out as soon as a beat is final."""
    blocks = read_stream(None, dtype, 1.0, fs)
    first = next(blocks)
    stream = StreamClassifier(fs, classifier=classifier)
    live = fmt in ("csv", "json") and not out_dir
    if live and fmt == "csv":
        click.echo(_csv_header(with_probs))
    kept: list[ClassifiedBeat] = []

    def emit(beats):
        if live:
            for b in beats:
                if fmt == "csv":
                    click.echo(_rows([b], with_probs)[0])
                else:
                    click.echo(
                        json.dumps(
                            b.as_dict()
                            if with_probs
                            else {"sample": b.sample, "time": round(b.time, 4)}
                        )
                    )
            sys.stdout.flush()
        else:
            kept.extend(beats)

    emit(stream.push(first))
    for block in blocks:
        emit(stream.push(block))
    emit(stream.flush())
    if not live:
        _write(fmt, out_dir, "stdin", ann_ext, kept, fs, stream.samples / stream.fs, with_probs)


class _NoModel:
    """Stands in for the classifier when only R-peaks are wanted (``detect``)."""

    def classify(self, beats, fs):
        return [ClassifiedBeat(b.sample, b.sample / fs, "N", np.zeros(len(CLASSES))) for b in beats]


@click.command()
@_input_options
@click.option(
    "--model",
    type=click.Path(dir_okay=False),
    help="A .tflite model (default: the shipped int8 fusion model).",
)
@click.option("--threads", type=click.IntRange(1, 64), default=1, show_default=True)
def classify(input_path, fs, lead, dtype, fmt, out_dir, ann_ext, model, threads) -> None:
    """Detect and classify every heartbeat of an ECG (AAMI classes N S V F Q).

    \b
    INPUT is a WFDB record path without extension (e.g. mitdb/100), a .csv or .npy signal
    with --fs, or '-' for a raw stream on stdin (--fs and --dtype; output is written as
    beats are finalised). --format wfdb writes DIR/<record>.<ann-ext>, readable by
    wfdb.rdann, with beat symbols N, A (class S), V, F, Q at the detected R-peaks.

    \b
    Examples:
      edge-ecg classify ../shared/data/mitdb/208
      edge-ecg classify ../shared/data/mitdb/208 --format wfdb --out-dir out/
      edge-ecg classify ecg.npy --fs 250 --format csv
      cat raw.bin | edge-ecg classify - --fs 360 --dtype int16 --format csv
    """
    _run(input_path, fs, lead, dtype, fmt, out_dir, ann_ext, model, threads, with_probs=True)


@click.command()
@_input_options
def detect(input_path, fs, lead, dtype, fmt, out_dir, ann_ext) -> None:
    """Find the R-peaks of an ECG (no classification; WFDB output uses symbol N).

    \b
    Examples:
      edge-ecg detect ../shared/data/mitdb/105 --format wfdb --out-dir out/
      edge-ecg detect ecg.csv --fs 500 --lead II --format json
    """
    _run(input_path, fs, lead, dtype, fmt, out_dir, ann_ext, None, 1, with_probs=False)
