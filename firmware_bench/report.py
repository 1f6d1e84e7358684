"""Accuracy vs size across architecture x width x quantization, from files earlier steps wrote.

A RUN_DIR (``edge-ecg train``) holds ``metrics.json`` and ``history.json``; its converted
variants live in ``RUN_DIR/tflite/`` as ``<name>.tflite`` with ``<name>.manifest.json`` and the
``<name>.validate.json`` that ``edge-ecg validate --json`` wrote, and ``RUN_DIR/bench.json``
(``edge-ecg bench --json``) gives latencies. Nothing is re-computed here.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import yaml

from edge_ecg.manifest import manifest_precision
from edge_ecg.metrics import headline_figures, percent

COLUMNS = (
    "run", "arch", "width", "variant", "size_kb", "parameters", "macs", "accuracy",
    "macro_f1", "S_se", "S_ppv", "V_se", "V_ppv", "acc_drift_pp", "agreement", "p50_us",
)  # fmt: skip


def _read(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def collect_rows(run_dirs: list[Path]) -> tuple[list[dict], dict[str, dict]]:
    """One row per (run, variant) and the confusion matrix of each row."""
    rows, confusions = [], {}
    for run in run_dirs:
        metrics = _read(run / "metrics.json")
        if metrics is None:
            continue
        config = (
            yaml.safe_load((run / "config.yaml").read_text())
            if (run / "config.yaml").is_file()
            else _read(run / "config.json") or {}
        )
        history = _read(run / "history.json") or {}
        bench = _read(run / "bench.json") or {"results": []}
        latency = {
            r["model"]: 1e3 * r["latency_ms"]["p50"]
            for r in bench["results"]
            if r.get("threads") == 1 or r["backend"].startswith("keras")
        }
        base = {
            "run": run.name,
            "arch": config.get("arch"),
            "width": config.get("width"),
            "parameters": history.get("parameters"),
        }
        keras_file = run / "model.keras"
        rows.append(
            {
                **base,
                "variant": "keras float32",
                "size_kb": keras_file.stat().st_size / 1024 if keras_file.is_file() else None,
                "macs": None,
                **headline_figures(metrics),
                "acc_drift_pp": 0.0,
                "agreement": 1.0,
                "p50_us": latency.get("model.keras"),
            }
        )
        confusions[f"{run.name} keras float32"] = metrics["confusion"]
        for validate in sorted((run / "tflite").glob("*.validate.json")):
            v = json.loads(validate.read_text())
            name = validate.name.removesuffix(".validate.json")
            manifest = _read(validate.with_name(f"{name}.manifest.json")) or {}
            variant = manifest_precision(manifest, name.rsplit("-", 1)[-1])
            rows.append(
                {
                    **base,
                    "variant": variant,
                    "size_kb": manifest.get("bytes", 0) / 1024 or None,
                    "macs": manifest.get("macs") or _macs(validate.with_name(f"{name}.tflite")),
                    **headline_figures(v["candidate"]),
                    "acc_drift_pp": 100 * v["delta"]["accuracy"],
                    "agreement": v["agreement"],
                    "p50_us": latency.get(f"{name}.tflite"),
                }
            )
            confusions[f"{run.name} {variant}"] = v["candidate"]["confusion"]
    return rows, confusions


def _macs(tflite: Path) -> int | None:
    """MACs per beat counted from the file itself (convert.inspect reads the flatbuffer)."""
    if not tflite.is_file():
        return None
    from convert.inspect import inspect_tflite

    try:
        return inspect_tflite(tflite).get("macs")
    except Exception:  # a report must not fail on one unreadable file; the cell stays empty
        return None


def _fmt(key: str, value) -> str:
    if value is None:
        return "–"
    if key in ("accuracy", "macro_f1", "S_se", "S_ppv", "V_se", "V_ppv", "agreement"):
        return percent(value, 2 if key in ("accuracy", "agreement") else 1)
    if isinstance(value, float):
        return f"{value:.2f}" if key == "acc_drift_pp" else f"{value:.1f}"
    return str(value)


def rows_markdown(rows: list[dict]) -> str:
    head = (
        "| run | arch | width | variant | size KB | params | MACs | accuracy % | macro-F1 % | "
        "S Se % | S +P % | V Se % | V +P % | drift pp | agreement % | p50 µs |"
    )
    lines = [head, "|" + "---|" * 4 + "---:|" * 12]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(k, r[k]) for k in COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def rows_csv(rows: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def pareto_png(rows: list[dict]) -> bytes:
    """Size vs macro-F1, one marker per quantization, the Pareto front drawn through."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    markers = {"keras float32": "s", "float32": "o", "fp16": "^", "dynamic": "D", "int8": "*"}
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    points = [r for r in rows if r["size_kb"] and r["macro_f1"] is not None]
    for variant in sorted({r["variant"] for r in points}):
        sel = [r for r in points if r["variant"] == variant]
        ax.scatter(
            [r["size_kb"] for r in sel],
            [100 * r["macro_f1"] for r in sel],
            marker=markers.get(variant, "x"),
            s=60,
            label=variant,
        )
    front, best = [], -1.0
    for r in sorted(points, key=lambda r: r["size_kb"]):
        if r["macro_f1"] > best:
            front.append(r)
            best = r["macro_f1"]
    if len(front) > 1:
        ax.plot(
            [r["size_kb"] for r in front],
            [100 * r["macro_f1"] for r in front],
            "k--",
            lw=1,
            label="Pareto front",
        )
    ax.set_xscale("log")
    ax.set_xlabel("model file size (KB, log scale)")
    ax.set_ylabel("macro-F1 over N, S, V, F on DS2 (%)")
    ax.set_title("Accuracy vs size (MIT-BIH DS2, unseen patients)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def confusion_png(name: str, confusion: list[list[int]]) -> bytes:
    """A row-normalised confusion matrix with counts, as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from edge_ecg.spec import CLASSES

    cm = np.array(confusion, dtype=float)
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    fig, ax = plt.subplots(figsize=(4.2, 3.8), dpi=120)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(CLASSES)):
        for j in range(len(CLASSES)):
            ax.text(
                j,
                i,
                f"{int(cm[i, j])}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if norm[i, j] > 0.5 else "black",
            )
    ax.set_xticks(range(len(CLASSES)), CLASSES)
    ax.set_yticks(range(len(CLASSES)), CLASSES)
    ax.set_xlabel("predicted")
    ax.set_ylabel("reference")
    ax.set_title(name, fontsize=9)
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()
