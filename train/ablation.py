"""The ablation: every architecture, several seeds and widths, one RUN_DIR each, resumable.

    python -m train.ablation run --data-dir ../shared/data --runs runs/ablation
    python -m train.ablation noise --data-dir ../shared/data --runs runs/ablation
    python -m train.ablation summarize --runs runs/ablation --md docs/ablation_table.md

``run`` skips finished runs, so a killed ablation continues where it stopped. ``noise`` writes
the hold-out noise figure of runs trained before the trainer wrote it. ``summarize`` only reads
the RUN_DIRs' metrics.json, history.json, holdout.json and holdout-noise.json (mean +- sd over
seeds per arm).
"""

from __future__ import annotations

import json
from pathlib import Path

import click
import numpy as np

from edge_ecg.cli import EdgeEcgGroup
from edge_ecg.errors import InputError
from edge_ecg.metrics import headline_figures
from edge_ecg.options import data_dir_option, json_option

from .config import load_config
from .study_output import emit_study

SEEDS = (0, 1, 2)
#: (run name, arch, width, other settings) of every arm.
ARMS = (
    ("gbt", "gbt", 1.0, {}),
    ("cnn", "cnn", 1.0, {}),
    ("cnn_bilstm", "cnn_bilstm", 1.0, {}),
    ("fusion", "fusion", 1.0, {}),
    ("fusion-w0.5", "fusion", 0.5, {}),
    ("fusion-w2", "fusion", 2.0, {}),
    ("fusion-fq", "fusion", 1.0, {"fake_quant": True}),
    ("fusion-fq-motion", "fusion", 1.0, {"fake_quant": True, "motion_noise": 0.15}),
    ("fusion-fq-colored", "fusion", 1.0, {"fake_quant": True, "colored_noise": 0.6}),
    ("fusion-fq-realnoise", "fusion", 1.0, {"fake_quant": True, "real_noise": 0.6}),
)
LITERATURE = (
    ("de Chazal et al. 2004 (LDA, hand features)", 86.2),
    ("Mondéjar-Guerra et al. 2019 (SVM ensemble)", 94.5),
    ("Niu et al. 2020 (symbolic CNN)", 96.4),
)


@click.group(cls=EdgeEcgGroup)
def cli() -> None:
    """Run or summarise the ablation."""


@cli.command()
@data_dir_option
@click.option("--runs", "runs_dir", type=click.Path(file_okay=False), default="runs/ablation")
@click.option("--arm", "arms", multiple=True, help="Only these arms (default all).")
def run(data_dir, runs_dir, arms) -> None:
    """Train every arm x seed that has no metrics.json yet."""
    from .gbt import train_gbt_run
    from .trainer import train_run

    for name, arch, width, settings in ARMS:
        if arms and name not in arms:
            continue
        for seed in SEEDS:
            out = Path(runs_dir) / f"{name}-s{seed}"
            config = load_config(None, arch=arch, width=width, seed=seed, **settings)
            click.echo(f"== {out}", err=True)
            (train_gbt_run if arch == "gbt" else train_run)(
                config, data_dir, out, lambda m: click.echo(m, err=True)
            )


@cli.command()
@data_dir_option
@click.option("--runs", "runs_dir", type=click.Path(file_okay=False), default="runs/ablation")
def noise(data_dir, runs_dir) -> None:
    """Write holdout-noise.json for every finished neural run that has none."""
    from .trainer import write_holdout_noise

    for name, arch, *_ in ARMS:
        if arch == "gbt":  # the tree does not run in the device pipeline
            continue
        for seed in SEEDS:
            out = Path(runs_dir) / f"{name}-s{seed}"
            if not (out / "model.keras").is_file() or (out / "holdout-noise.json").is_file():
                continue
            holdout = load_config(out / "config.yaml").holdout
            click.echo(f"== {out}", err=True)
            write_holdout_noise(data_dir, out, holdout, lambda m: click.echo(m, err=True))


def collect(runs_dir: Path) -> dict[str, list[dict]]:
    """Arm -> one row of DS2 figures (plus hold-out macro-F1, time, epochs, parameters) per
    finished seed."""
    arms: dict[str, list[dict]] = {}
    for name, *_ in ARMS:
        for seed in SEEDS:
            run_dir = runs_dir / f"{name}-s{seed}"
            if not (run_dir / "metrics.json").is_file():
                continue
            metrics = json.loads((run_dir / "metrics.json").read_text())
            history = json.loads((run_dir / "history.json").read_text())
            row = headline_figures(metrics)
            holdout = run_dir / "holdout.json"  # the figure the shipped model is chosen by
            row["holdout_macro_f1"] = (
                json.loads(holdout.read_text())["macro_f1"] if holdout.is_file() else None
            )
            noisy = run_dir / "holdout-noise.json"
            row["holdout_noise_drop_pp"] = (
                json.loads(noisy.read_text())["drop_pp"] if noisy.is_file() else None
            )
            row["seconds"] = history["train_seconds"]
            row["epochs"] = len(history.get("epochs", [])) or None
            row["parameters"] = history.get("parameters")
            arms.setdefault(name, []).append(row)
    return arms


def _ms(values: list, scale: float = 100.0, digits: int = 1) -> str:
    v = np.array([x for x in values if x is not None], dtype=float) * scale
    if v.size == 0:
        return "–"
    return f"{v.mean():.{digits}f} ± {v.std(ddof=1) if v.size > 1 else 0:.{digits}f}"


def table(arms: dict[str, list[dict]]) -> str:
    """Markdown: mean ± sd over seeds of each arm, then the published inter-patient results."""
    lines = [
        "| arm | seeds | params | hold-out macro-F1 % | hold-out 6 dB drop pp | accuracy % "
        "| macro-F1 % (N S V F) | S Se % | S +P % | V Se % | V +P % | F Se % | train s (epochs) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, rows in arms.items():
        col = {k: [r[k] for r in rows] for k in rows[0]}
        params = rows[0]["parameters"] or "–"
        epochs = "/".join(str(e) for e in col["epochs"] if e) or "–"
        lines.append(
            f"| {name} | {len(rows)} | {params} | {_ms(col['holdout_macro_f1'])} | "
            f"{_ms(col['holdout_noise_drop_pp'], scale=1.0)} | "
            f"{_ms(col['accuracy'], digits=2)} | "
            f"{_ms(col['macro_f1'])} | {_ms(col['S_se'])} | {_ms(col['S_ppv'])} | "
            f"{_ms(col['V_se'])} | {_ms(col['V_ppv'])} | {_ms(col['F_se'])} | "
            f"{np.mean(col['seconds']):.0f} ({epochs}) |"
        )
    for ref, acc in LITERATURE:
        lines.append(f"| {ref} | | | | | {acc:.1f} | | | | | | | |")
    return "\n".join(lines) + "\n"


@cli.command()
@click.option("--runs", "runs_dir", type=click.Path(file_okay=False), default="runs/ablation")
@click.option(
    "--md", "md_path", type=click.Path(dir_okay=False, allow_dash=True), required=True,
    help="Write the table as Markdown to PATH ('-' for stdout only).",
)  # fmt: skip
@json_option("every row")
@click.option(
    "--plot",
    "plot_path",
    type=click.Path(dir_okay=False),
    help="PNG: every seed's DS2 accuracy and macro-F1, and the hold-out macro-F1 per epoch.",
)
def summarize(runs_dir, md_path, json_path, plot_path) -> None:
    """Write the ablation table (Markdown) and, optionally, every row as JSON and a plot."""
    arms = collect(Path(runs_dir))
    if not arms:
        raise InputError(f"{runs_dir}: no finished run (ARM-sSEED/metrics.json); run 'run' first")
    emit_study(arms, table, json_path, md_path)
    if plot_path:
        plot(Path(runs_dir), arms, plot_path)


def plot(runs_dir: Path, arms: dict[str, list[dict]], path: str) -> None:
    """Seeds as dots (spread = steadiness) and the hold-out learning curves, one PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from edge_ecg.atomic import atomic_path

    names = list(arms)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.2))
    for ax, key, title in (
        (axes[0], "accuracy", "DS2 accuracy %"),
        (axes[1], "macro_f1", "DS2 macro-F1 % (N S V F)"),
    ):
        for i, name in enumerate(names):
            v = [100 * r[key] for r in arms[name]]
            ax.scatter([i] * len(v), v, s=30, alpha=0.8)
            ax.hlines(np.mean(v), i - 0.3, i + 0.3, color="k")
        ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    ax = axes[2]
    for i, name in enumerate(n for n in names if n != "gbt"):
        for seed in SEEDS:
            hist = runs_dir / f"{name}-s{seed}" / "history.json"
            if not hist.is_file():
                continue
            epochs = json.loads(hist.read_text()).get("epochs", [])
            ax.plot(
                [e["epoch"] for e in epochs],
                [100 * e["holdout_macro_f1"] for e in epochs],
                color=f"C{i}",
                alpha=0.6,
                label=name if seed == SEEDS[0] else None,
            )
    ax.set_title("hold-out (inside DS1) macro-F1 % per epoch")
    ax.set_xlabel("epoch")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    cli()
