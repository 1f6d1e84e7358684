"""``edge-ecg report``: accuracy vs size tables and plots from finished runs."""

from __future__ import annotations

import re
from pathlib import Path

import click

from edge_ecg.atomic import write_bytes, write_text
from edge_ecg.errors import InputError

from .report import collect_rows, confusion_png, pareto_png, rows_csv, rows_markdown


@click.command()
@click.option(
    "--runs",
    "runs",
    multiple=True,
    required=True,
    type=click.Path(file_okay=False),
    help="A RUN_DIR from edge-ecg train (repeat; shell globs work).",
)
@click.option(
    "--out-dir",
    required=True,
    type=click.Path(file_okay=False),
    help="Where report.md, report.csv, pareto.png and confusion-*.png go.",
)
def report(runs, out_dir) -> None:
    """Accuracy vs size across architecture x width x quantization.

    \b
    Reads what earlier steps wrote (nothing is re-computed): RUN_DIR/metrics.json and
    history.json from train, RUN_DIR/tflite/<name>.tflite with its manifest and the
    <name>.validate.json of edge-ecg validate --json, and RUN_DIR/bench.json of edge-ecg bench.
    Writes a table (size, parameters, MACs, accuracy, macro-F1, S and V Se/+P, drift against
    the float model, p50 latency) as Markdown and CSV, a Pareto plot of size vs macro-F1 and
    one confusion matrix per row, all atomically.

    \b
    Example:
      edge-ecg report --runs runs/ablation/fusion-s0 --runs runs/ablation/cnn-s0 \
        --out-dir docs/report
    """
    dirs = [Path(r) for r in runs]
    rows, confusions = collect_rows(dirs)
    if not rows:
        raise InputError(f"--runs: none of {', '.join(runs)} holds a finished run (metrics.json)")
    out = Path(out_dir)
    write_text(
        out / "report.md",
        "# Accuracy vs size\n\n" + rows_markdown(rows) + "\n![Pareto](pareto.png)\n",
    )
    write_text(out / "report.csv", rows_csv(rows))
    write_bytes(out / "pareto.png", pareto_png(rows))
    for name, cm in confusions.items():
        slug = re.sub(r"[^A-Za-z0-9.]+", "-", name).strip("-")
        write_bytes(out / f"confusion-{slug}.png", confusion_png(name, cm))
    click.echo(rows_markdown(rows))
