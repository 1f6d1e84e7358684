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
from .calibration import read_calibration
from .classify import ClassifiedBeat, Classifier, StreamClassifier
from .errors import InputError
from .quality import Segment
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
    f = click.option(
        "--second-lead",
        metavar="NAME",
        help="The second lead for --two-leads, by name (WFDB signal or CSV column); "
        "implies --two-leads.",
    )(f)
    f = click.option(
        "--two-leads",
        is_flag=True,
        help="Find beats on a second lead too, where the first is noisy (docs/noise.md); "
        "the first lead is still the one classified. The second lead: a WFDB record's "
        "other signal, a CSV's other column, an (n, 2) .npy's second column, or stdin "
        "frames of two interleaved samples.",
    )(f)
    f = click.option(
        "--artifact-check",
        is_flag=True,
        help="Drop detected beats trained trees take for noise artefacts (electrode "
        "motion): far fewer false beats in heavy noise, a few true ones lost, twice the "
        "time. With --two-leads the trees also pick, where only one lead found a beat and "
        "the other lead one nearby, the more beat-like of the two (docs/noise.md).",
    )(f)
    f = click.option("--lead", help="Lead (WFDB signal name or CSV column); default MLII.")(f)
    f = click.option("--fs", type=float, help="Sampling rate in Hz (.csv, .npy and stdin).")(f)
    return click.argument("input_path", metavar="INPUT")(f)


def _rows(beats: list[ClassifiedBeat], with_probs: bool) -> list[str]:
    if with_probs:
        return [
            f"{b.sample},{b.time:.4f},{b.label},"
            + ",".join(f"{p:.4f}" for p in b.probabilities)
            + ",,"
            for b in beats
        ]
    return [f"{b.sample},{b.time:.4f},," for b in beats]


def _segment_row(s: Segment, fs: float, with_probs: bool) -> str:
    """An unreadable stretch as a CSV row: its start, then ``end`` and ``reason`` filled."""
    middle = "~," + "," * len(CLASSES) if with_probs else ""
    return f"{s.start},{s.start / fs:.4f},{middle}{s.end},{s.reason}"


def _csv_header(with_probs: bool) -> str:
    cols = (
        ["sample", "time", "label", *(f"p_{c}" for c in CLASSES)]
        if with_probs
        else ["sample", "time"]
    )
    return ",".join([*cols, "end", "reason"])


def _in_order(beats: list[ClassifiedBeat], segments: list[Segment]) -> list:
    """Beats and unreadable stretches by sample (a stretch never holds a beat)."""
    return sorted([*beats, *segments], key=lambda x: x.sample if hasattr(x, "sample") else x.start)


def _csv_lines(items: list, fs: float, with_probs: bool) -> list[str]:
    return [
        _segment_row(x, fs, with_probs) if isinstance(x, Segment) else _rows([x], with_probs)[0]
        for x in items
    ]


def _beat_json(b: ClassifiedBeat, with_probs: bool) -> dict:
    return b.as_dict() if with_probs else {"sample": b.sample, "time": round(b.time, 4)}


def _summary(
    name: str,
    beats: list[ClassifiedBeat],
    segments: list[Segment],
    fs: float,
    seconds: float,
    with_probs: bool,
    leads: tuple[str, ...] = (),
) -> str:
    lines = [f"{name}: {seconds / 60:.1f} min, {len(beats)} beats"]
    if len(leads) == 2:
        lines.append(f"  beats found on {leads[0]} and {leads[1]}; classified on {leads[0]}")
    if segments:
        by_reason = Counter()
        for s in segments:
            by_reason[s.reason] += (s.end - s.start) / fs
        total = sum(by_reason.values())
        parts = ", ".join(f"{r} {t:.0f} s" for r, t in sorted(by_reason.items()))
        lines.append(
            f"  unreadable: {len(segments)} stretches, {total:.0f} s ({parts}); no beats there"
        )
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


def _write(opts, name, beats, segments, fs, seconds, with_probs, leads):
    fmt, out_dir, ext = opts["fmt"], opts["out_dir"], opts["ann_ext"]
    if fmt == "summary":
        click.echo(_summary(name, beats, segments, fs, seconds, with_probs, leads), nl=False)
        return
    if fmt == "wfdb":
        marks = []  # (sample, order, symbol, subtype, note): a "clean again" mark sorts first
        for b in beats:
            marks.append((b.sample, 1, CLASS_SYMBOL[b.label] if with_probs else "N", 0, ""))
        for s in segments:
            marks += [(s.start, 1, "~", -1, s.reason), (s.end, 0, "~", 0, "")]
        marks.sort(key=lambda m: m[:2])
        data = annotation_bytes(
            np.array([m[0] for m in marks], dtype=np.int64),
            [m[2] for m in marks],
            [m[3] for m in marks],
            [m[4] for m in marks],
        )
        write_bytes(Path(out_dir) / f"{name}.{ext}", data)
        return
    if fmt == "csv":
        lines = _csv_lines(_in_order(beats, segments), fs, with_probs)
        text = "\n".join([_csv_header(with_probs), *lines]) + "\n"
    else:
        body = {
            "record": name,
            "fs": fs,
            "leads": list(leads),
            **({"rhythm_rule": True} if opts.get("rhythm_rule") else {}),
            **({"artifact_check": True} if opts.get("artifact_check") else {}),
            "beats": [_beat_json(b, with_probs) for b in beats],
            "unreadable": [s.as_dict(fs) for s in segments],
        }
        if with_probs:
            body["counts"] = dict(Counter(b.label for b in beats))
        text = json.dumps(body, indent=1) + "\n"
    if out_dir:
        write_text(Path(out_dir) / f"{name}.{fmt}", text)
    else:
        click.echo(text, nl=False)


def _run(input_path, opts: dict, model, threads, with_probs, calibration=None):
    fmt, out_dir = opts["fmt"], opts["out_dir"]
    if fmt == "wfdb" and not out_dir:
        raise InputError("--format wfdb writes DIR/<record>.<ann-ext>: give --out-dir DIR")
    two_leads = opts["two_leads"] or opts["second_lead"] is not None
    classifier = Classifier(model, threads, calibration) if with_probs else _NoModel()
    if input_path == "-":
        if opts["second_lead"]:
            raise InputError(
                "--second-lead names a lead of a file; stdin has no names: use --two-leads "
                "(frames of two interleaved samples)"
            )
        _run_stream(opts, two_leads, classifier, with_probs)
        return
    signal = read_signal(input_path, opts["fs"], opts["lead"], two_leads, opts["second_lead"])
    n = signal.samples.size
    if n < WINDOW / FS * signal.fs:
        raise InputError(
            f"{input_path}: {n} samples ({n / signal.fs:.2f} s) is shorter than one beat window "
            f"({WINDOW / FS:.2f} s); nothing to classify"
        )
    stream = StreamClassifier(
        signal.fs,
        classifier=classifier,
        leads=1 + two_leads,
        find_only=not with_probs,
        rhythm_rule=opts.get("rhythm_rule", False),
        artifact_check=opts["artifact_check"],
    )
    beats = stream.push(signal.stacked()) + stream.flush()
    _write(
        opts,
        signal.name,
        beats,
        stream.take_segments(),
        signal.fs,
        n / signal.fs,
        with_probs,
        signal.leads,
    )


def _run_stream(opts: dict, two_leads: bool, classifier, with_probs):
    """Classify stdin as it arrives; csv/json lines go out as soon as a beat is final."""
    fmt, out_dir, fs = opts["fmt"], opts["out_dir"], opts["fs"]
    blocks = read_stream(None, opts["dtype"], 1.0, fs, channels=1 + two_leads)
    first = next(blocks)
    stream = StreamClassifier(
        fs,
        classifier=classifier,
        leads=1 + two_leads,
        find_only=not with_probs,
        rhythm_rule=opts.get("rhythm_rule", False),
        artifact_check=opts["artifact_check"],
    )
    live = fmt in ("csv", "json") and not out_dir
    if live and fmt == "csv":
        click.echo(_csv_header(with_probs))
    kept: list[ClassifiedBeat] = []
    segments: list[Segment] = []

    def emit(beats):
        closed = stream.take_segments()
        if live:
            for x in _in_order(beats, closed):
                if fmt == "csv":
                    click.echo(_csv_lines([x], stream.fs, with_probs)[0])
                elif isinstance(x, Segment):
                    click.echo(json.dumps({"unreadable": x.as_dict(stream.fs)}))
                else:
                    click.echo(json.dumps(_beat_json(x, with_probs)))
            sys.stdout.flush()
        else:
            kept.extend(beats)
            segments.extend(closed)

    emit(stream.push(first))
    for block in blocks:
        emit(stream.push(block))
    emit(stream.flush())
    if not live:
        seconds = stream.samples / stream.fs
        leads = ("lead 1", "lead 2") if two_leads else ("lead 1",)
        _write(opts, "stdin", kept, segments, fs, seconds, with_probs, leads)


class _NoModel:
    """Stands in for the classifier when only R-peaks are wanted (``detect``)."""

    def classify(self, beats, fs, rhythm_rule=False):
        return [ClassifiedBeat(b.sample, b.sample / fs, "N", np.zeros(len(CLASSES))) for b in beats]


@click.command()
@_input_options
@click.option(
    "--model",
    type=click.Path(dir_okay=False),
    help="A .tflite model, or exported trees (.npz); default: the shipped int8 fusion model.",
)
@click.option("--threads", type=click.IntRange(1, 64), default=1, show_default=True)
@click.option(
    "--rhythm-rule",
    is_flag=True,
    help="Report a beat the model calls S as N where the 32 RR intervals before it are "
    "irregular (atrial fibrillation: AAMI labels its beats N). Fewer false S, fewer true S "
    "too (docs/results.md). Labels change, probabilities stay the model's.",
)
@click.option(
    "--patient-calibration",
    "calibration_path",
    type=click.Path(dir_okay=False),
    help="A calibration from 'edge-ecg calibrate' (the patient's confirmed normal beats), "
    "for a model trained with 'calibrated: true'; such a model needs one.",
)
def classify(input_path, model, threads, calibration_path, **opts) -> None:
    """Detect and classify every heartbeat of an ECG (AAMI classes N S V F Q).

    \b
    INPUT is a WFDB record path without extension (e.g. mitdb/100), a .csv or .npy signal
    with --fs, or '-' for a raw stream on stdin (--fs and --dtype; output is written as
    beats are finalised). --format wfdb writes DIR/<record>.<ann-ext>, readable by
    wfdb.rdann, with beat symbols N, A (class S), V, F, Q at the detected R-peaks.

    \b
    Unreadable stretches (flat, saturated or disconnected lead, overwhelming noise;
    judged per second) get no beats. They are reported: in wfdb as '~' annotations
    (subtype -1 where one starts, aux_note the reason; subtype 0 where it ends), in csv
    as rows with label '~' and the end sample and reason filled in, in json as
    "unreadable": [{start, end, start_time, end_time, reason}], in the summary as a line.

    \b
    Examples:
      edge-ecg classify ../shared/data/mitdb/208
      edge-ecg classify ../shared/data/mitdb/208 --format wfdb --out-dir out/
      edge-ecg classify ecg.npy --fs 250 --format csv
      cat raw.bin | edge-ecg classify - --fs 360 --dtype int16 --format csv
      edge-ecg classify ../shared/data/nstdb/118e06 --two-leads
      edge-ecg classify ../shared/data/mitdb/202 --rhythm-rule
      edge-ecg calibrate ../shared/data/mitdb/232 --json 232.json
      edge-ecg classify ../shared/data/mitdb/232 --patient-calibration 232.json \
          --model models/gbt-calibrated/trees-rhythm.npz
    """
    calibration = read_calibration(calibration_path) if calibration_path else None
    _run(input_path, opts, model, threads, with_probs=True, calibration=calibration)


@click.command()
@_input_options
def detect(input_path, **opts) -> None:
    """Find the R-peaks of an ECG (no classification; WFDB output uses symbol N).

    With --two-leads a stretch is unreadable only where both leads are: where the first
    lead is off, flat or railed, the second lead's beats are reported (classify cannot
    classify those, and reports the stretch instead).

    \b
    Examples:
      edge-ecg detect ../shared/data/mitdb/105 --format wfdb --out-dir out/
      edge-ecg detect ecg.csv --fs 500 --lead II --format json
      edge-ecg detect ecg.csv --fs 500 --lead II --second-lead V1 --format json
    """
    _run(input_path, opts, None, 1, with_probs=False)
