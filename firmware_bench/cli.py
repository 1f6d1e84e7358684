"""``edge-ecg bench``: benchmark models on this device; ``--compare`` two result files."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import click
import numpy as np

from edge_ecg.atomic import write_json, write_text
from edge_ecg.errors import InputError
from edge_ecg.options import data_dir_option, json_option

from .markdown import bench_markdown, compare_markdown


def _threads(value: str) -> list[int]:
    try:
        threads = [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise InputError(f"--threads: {value!r} is not a list of integers like 1,2") from None
    if not threads or min(threads) < 1:
        raise InputError(f"--threads: {value!r} needs integers >= 1")
    return threads


def _record_signal(
    data_dir, record: str, tmp: Path, two_leads: bool = False
) -> tuple[float, list[tuple[Path, str]]]:
    """A whole 30-minute record as .npy, or the bundled excerpt looped to 30 minutes: its rate
    and [(file, name)]; with ``two_leads`` also an (n, 2) file with the record's second lead,
    read at the same time."""
    if data_dir is not None or record != "excerpt":
        from edge_ecg.dataset import mitdb_record

        rec = mitdb_record(data_dir, record)
        signal, fs, name = rec.signal, rec.fs, f"mitdb/{record}"
    else:
        from edge_ecg.demo import load_excerpt

        excerpt, fs, _, _ = load_excerpt()
        signal = np.tile(excerpt, 6)
        name = "bundled excerpt (mitdb 213, 5 min) looped to 30 min"
    files = [(signal, name)]
    if two_leads:
        from edge_ecg.datadir import database_dir
        from edge_ecg.records import read_second_lead

        other = read_second_lead(Path(database_dir(data_dir, "mitdb")) / record, rec)
        both = np.column_stack([signal, other.signal])
        files.append((both, f"{name} ({rec.lead} + {other.lead})"))
    out = []
    for i, (values, label) in enumerate(files):
        path = tmp / f"signal{i + 1}.npy"
        np.save(path, values.astype(np.float32))
        out.append((path, label))
    return fs, out


@click.command()
@click.option(
    "--model",
    "models",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="A .tflite (or, as a peer, .keras or .onnx) model; repeat for several. "
    "Default: the shipped int8 model.",
)
@click.option(
    "--threads",
    "threads_text",
    default="1",
    show_default=True,
    help="Interpreter threads to try, comma-separated (e.g. 1,2).",
)
@click.option(
    "--duration",
    type=click.FloatRange(0.05, 600),
    default=2.0,
    show_default=True,
    help="Seconds per latency window (5 windows per model).",
)
@data_dir_option
@click.option(
    "--record",
    default="208",
    show_default=True,
    help="mitdb record for the end-to-end run (needs --data-dir; else the bundled "
    "excerpt looped to 30 minutes).",
)
@click.option(
    "--compare",
    "compare",
    nargs=2,
    type=click.Path(exists=True, dir_okay=False),
    help="Print the ratios between two result files (A.json B.json) and exit.",
)
@click.option(
    "--two-leads",
    is_flag=True,
    help="Also time the end-to-end run with the record's second lead helping find beats "
    "(two-lead detection; needs --data-dir).",
)
@json_option("the results")
@click.option(
    "--md",
    "md_path",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Write a Markdown table of the results.",
)
def bench(
    models, threads_text, duration, data_dir, record, two_leads, compare, json_path, md_path
) -> None:
    """Benchmark beat classifiers on this device, with portable JSON and Markdown results.

    \b
    Per model and thread count: file size, load time, first inference, warm per-beat latency
    (p50/p90/p99/mean/std; median over 5 windows of --duration s, MLPerf Tiny style) and
    throughput on real beats. Once per run: detect + classify of a whole 30-minute record
    (real-time factor), cold start of a fresh process (start -> first classified beat), and
    its peak RSS. Host: CPU, arch, cores, OS, versions, date.

    \b
    Examples:
      edge-ecg bench --json bench.json --md bench.md
      edge-ecg bench --model a-int8.tflite --model a-float32.tflite --threads 1,2
      edge-ecg bench --compare pi4.json laptop.json
    """
    if compare:
        a, b = (json.loads(Path(p).read_text()) for p in compare)
        click.echo(compare_markdown(a, b, *compare))
        return
    from edge_ecg.models import DEFAULT_MODEL

    if two_leads and data_dir is None:
        raise InputError("--two-leads reads a record's second lead: give --data-dir")

    from .bench import bench_keras, bench_onnx, bench_tflite, cold_start, end_to_end, excerpt_beats
    from .host import host_info

    paths = [Path(m) for m in models] or [DEFAULT_MODEL]
    for p in paths:
        if not p.is_file():
            raise InputError(f"--model {p}: no such file")
        if p.suffix not in (".tflite", ".keras", ".onnx"):
            raise InputError(
                f"--model {p}: a model is a .tflite (or, as a peer, .keras/.onnx) file"
            )
    beats = excerpt_beats()
    results = []
    for p in paths:
        if p.suffix == ".keras":
            click.echo(f"bench {p.name} (Keras peer)", err=True)
            results += bench_keras(p, beats, duration)
            continue
        for t in _threads(threads_text):
            click.echo(f"bench {p.name}, {t} thread(s)", err=True)
            run = bench_onnx if p.suffix == ".onnx" else bench_tflite
            results.append(run(p, t, beats, duration))
    tflite = next((p for p in paths if p.suffix == ".tflite"), None)
    with tempfile.TemporaryDirectory() as tmp:
        source = record if data_dir else "excerpt"
        fs, files = _record_signal(data_dir, source, Path(tmp), two_leads)
        (signal, name), *two = files
        click.echo(f"end to end: {name}", err=True)
        e2e = end_to_end(signal, fs, str(tflite) if tflite else None, name)
        start = cold_start(signal, fs, str(tflite) if tflite else None)
        e2e_two = None
        for both, name in two:
            click.echo(f"end to end: {name}", err=True)
            e2e_two = end_to_end(both, fs, str(tflite) if tflite else None, name)
    report = {
        "host": host_info(),
        "results": results,
        "end_to_end": e2e,
        **({"end_to_end_two_leads": e2e_two} if e2e_two else {}),
        "cold_start_s": start["cold_start_s"],
        "peak_rss_mb": max(start["peak_rss_mb"], e2e["peak_rss_mb"]),
        "duration_s": duration,
    }
    if json_path:
        write_json(json_path, report)
    md = bench_markdown(report)
    if md_path:
        write_text(md_path, md) if md_path != "-" else click.echo(md)
    if json_path != "-":
        click.echo(md, err=bool(md_path == "-"))
