"""Score the R-peak detector on every MIT-BIH record, side by side with wfdb's XQRS.

    python -m firmware_bench.score_detector --data-dir ../shared/data \\
        --json docs/detector.json --md docs/detector-table.md

Each record's first MLII lead (the first lead where there is none: 102 and 104) goes through
``edge_ecg.detect.detect_peaks`` fed in blocks of ``--block`` seconds, as a device would, and
through ``wfdb.processing.xqrs_detect`` on the whole signal. Both are matched to the reference
beats with the EC57 150 ms window (``edge_ecg.scoring``). Gross figures are given over all
beats and with the ventricular flutter episode of 207 left out, as EC57 prescribes. Times are
wall-clock per record in this one process, so the two detectors' ratio holds on a busy machine.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click
import numpy as np

from edge_ecg.atomic import write_json, write_text
from edge_ecg.datadir import database_dir
from edge_ecg.detect import detect_peaks
from edge_ecg.leads import detect_peaks_two_leads
from edge_ecg.options import data_dir_option, progress
from edge_ecg.records import read_record, read_second_lead
from edge_ecg.scoring import detection_scores
from edge_ecg.spec import CLASSES


def flutter_intervals(path: Path, n: int) -> list[tuple[int, int]]:
    """Sample intervals of ventricular flutter/fibrillation from the rhythm annotations."""
    import wfdb

    ann = wfdb.rdann(str(path), "atr")
    out, start = [], None
    for sample, note in zip(ann.sample, ann.aux_note, strict=True):
        note = note.rstrip("\x00")
        if not note.startswith("("):
            continue
        if note.startswith(("(VFL", "(VF")) and start is None:
            start = int(sample)
        elif start is not None and not note.startswith(("(VFL", "(VF")):
            out.append((start, int(sample)))
            start = None
    if start is not None:
        out.append((start, n))
    return out


def score_record(path: Path, block_s: float, xqrs: bool, two_leads: bool = False) -> dict:
    import wfdb

    header = wfdb.rdheader(str(path))
    lead = "MLII" if "MLII" in header.sig_name else header.sig_name[0]
    rec = read_record(path, lead=lead)
    fs, signal = rec.fs, rec.signal
    vf = flutter_intervals(path, signal.size)
    row: dict = {"record": rec.name, "lead": lead, "beats": int(rec.beat_samples.size)}
    chunk = max(1, round(block_s * fs))
    t = time.perf_counter()
    ours = detect_peaks(signal, fs, chunk=chunk)
    row["edge_ecg_s"] = time.perf_counter() - t
    detectors = {"edge_ecg": ours}
    if two_leads:
        other = read_second_lead(path, rec)
        row["second_lead"] = other.lead
        t = time.perf_counter()
        detectors["edge_ecg_2"] = detect_peaks_two_leads(signal, other.signal, fs, chunk=chunk)
        row["edge_ecg_2_s"] = time.perf_counter() - t
    if xqrs:
        from wfdb import processing

        t = time.perf_counter()
        detectors["xqrs"] = processing.xqrs_detect(signal, fs=fs, verbose=False)
        row["xqrs_s"] = time.perf_counter() - t
    for name, peaks in detectors.items():
        row[name] = detection_scores(rec.beat_samples, peaks, fs, ref_classes=rec.beat_classes)
        row[f"{name}_ec57"] = detection_scores(rec.beat_samples, peaks, fs, exclude=vf)
    row["samples"] = int(signal.size)
    return row


def gross(rows: list[dict], key: str) -> dict:
    tp = sum(r[key]["tp"] for r in rows)
    fn = sum(r[key]["fn"] for r in rows)
    fp = sum(r[key]["fp"] for r in rows)
    out = {"tp": tp, "fn": fn, "fp": fp, "se": tp / (tp + fn), "ppv": tp / (tp + fp)}
    if "missed_by_class" in rows[0][key]:
        out["missed_by_class"] = dict(
            zip(
                CLASSES,
                np.sum([r[key]["missed_by_class"] for r in rows], axis=0).tolist(),
                strict=True,
            )
        )
    return out


def markdown(result: dict) -> str:
    names = result["detectors"]
    lines = [
        "| detector | beats | FN | FP | Se % | +P % | Se % (EC57, VF out) | +P % (EC57) | "
        "missed N/S/V/F/Q | s per record | Msamples/s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for name in names:
        g, e = result["gross"][name], result["gross"][f"{name}_ec57"]
        missed = "/".join(str(v) for v in g["missed_by_class"].values())
        t = result["seconds"][name]
        lines.append(
            f"| {name} | {g['tp'] + g['fn']} | {g['fn']} | {g['fp']} | {100 * g['se']:.3f} | "
            f"{100 * g['ppv']:.3f} | {100 * e['se']:.3f} | {100 * e['ppv']:.3f} | {missed} | "
            f"{t / len(result['records']):.3f} | {result['samples'] / t / 1e6:.1f} |"
        )
    lines += [
        "",
        "| record | beats | "
        + " | ".join(f"{n} FN | {n} FP | {n} Se % | {n} +P %" for n in names)
        + " |",
        "|---|---:|" + "---:|" * 4 * len(names),
    ]
    for r in result["records"]:
        cells = []
        for n in names:
            s = r[n]
            se = "–" if s["se"] is None else f"{100 * s['se']:.2f}"
            ppv = "–" if s["ppv"] is None else f"{100 * s['ppv']:.2f}"
            cells.append(f"{s['fn']} | {s['fp']} | {se} | {ppv}")
        lines.append(f"| {r['record']} | {r['beats']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


@click.command()
@data_dir_option
@click.option("--records", default="", help="Comma-separated record names (default: all).")
@click.option("--block", default=2.0, show_default=True, help="Block size fed to the detector (s).")
@click.option("--no-xqrs", is_flag=True, help="Skip wfdb's XQRS (slow: ~1 s per record).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), help="Write all figures.")
@click.option(
    "--md",
    "md_path",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Write the tables to PATH ('-' for stdout).",
)
@click.option(
    "--two-leads",
    is_flag=True,
    help="Also score edge_ecg.leads on both leads of each record (column edge_ecg_2).",
)
def main(data_dir, records, block, no_xqrs, json_path, md_path, two_leads):
    """Score edge-ecg's detector (and XQRS) on every mitdb record."""
    db = database_dir(data_dir, "mitdb")
    names = records.split(",") if records else (db / "RECORDS").read_text().split()
    rows = []
    for name in progress(names, "records"):
        rows.append(score_record(db / name, block, xqrs=not no_xqrs, two_leads=two_leads))
    detectors = ["edge_ecg"] + (["edge_ecg_2"] if two_leads else [])
    detectors += [] if no_xqrs else ["xqrs"]
    result = {
        "command": "python -m firmware_bench.score_detector " + " ".join(sys.argv[1:]),
        "block_seconds": block,
        "detectors": detectors,
        "samples": sum(r["samples"] for r in rows),
        "seconds": {n: sum(r[f"{n}_s"] for r in rows) for n in detectors},
        "gross": {k: gross(rows, k) for n in detectors for k in (n, f"{n}_ec57")},
        "records": rows,
    }
    text = markdown(result)
    click.echo(text if md_path == "-" else text.split("\n\n")[0], err=json_path == "-")
    if json_path:
        write_json(json_path, result)
    if md_path and md_path != "-":
        write_text(md_path, text)


if __name__ == "__main__":
    main()
