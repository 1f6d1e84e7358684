"""``edge-ecg train``: one model into one RUN_DIR."""

from __future__ import annotations

import dataclasses

import click

from edge_ecg.options import data_dir_option

from .config import ARCHS, RunConfig, load_config


def _settings() -> str:
    """Every --config key with its default, straight from RunConfig (never out of date)."""
    import yaml

    # one line per setting in YAML's own spelling (false, null, [...]), so it pastes as is
    lines = [
        "  " + yaml.safe_dump({k: v}, default_flow_style=True, width=999).strip()[1:-1]
        for k, v in dataclasses.asdict(RunConfig()).items()
    ]
    return "\b\nSettings a --config YAML may hold (defaults; see train/config.py):\n" + "\n".join(
        lines
    )


@click.command(epilog=_settings())
@click.option("--arch", type=click.Choice(ARCHS), help="Architecture (default: fusion).")
@click.option("--width", type=float, help="Width multiplier of filters and units (default 1).")
@click.option("--seed", type=int, help="Random seed (default 0).")
@click.option("--epochs", type=int, help="Most epochs; early stopping may end sooner (default 30).")
@click.option(
    "--config",
    "config_path",
    type=click.Path(exists=True, dir_okay=False),
    help="YAML file of settings (see train/config.py); options given here win.",
)
@data_dir_option
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="RUN_DIR: model.keras, config.yaml, history.json, checksums.json, metrics.json (DS2),"
    " holdout.json and holdout-noise.json (the DS1 hold-out patients, clean and at 6 dB noise).",
)
def train(arch, width, seed, epochs, config_path, data_dir, out) -> None:
    """Train a beat classifier on MIT-BIH DS1 and score it once on DS2 (unseen patients).

    \b
    Early stopping and model selection use DS1 patients held out from training; DS2 is read
    only after training, for metrics.json. A killed run resumes from its last epoch when
    started again with the same --out; a finished run is left alone.

    \b
    Examples:
      edge-ecg train --arch fusion --seed 0 --out runs/fusion-s0
      edge-ecg train --arch cnn --width 0.5 --epochs 10 --out runs/cnn-small
      edge-ecg train --config my.yaml --out runs/mine
    """
    config = load_config(config_path, arch=arch, width=width, seed=seed, epochs=epochs)
    log = lambda msg: click.echo(msg, err=True)  # noqa: E731
    if config.arch == "gbt":
        from .gbt import train_gbt_run

        metrics = train_gbt_run(config, data_dir, out, log)
    else:
        from .trainer import train_run

        metrics = train_run(config, data_dir, out, log)
    from edge_ecg.metrics import markdown_summary

    click.echo(f"DS2 ({out}/metrics.json):\n" + markdown_summary(metrics), err=True)
