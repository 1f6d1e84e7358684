"""The ``edge-ecg`` command line: one entry point, groups filled by each part of the toolkit.

Commands from ``train/``, ``convert/`` and ``firmware_bench/`` are imported only when called,
so ``edge-ecg --help`` and the device commands never load TensorFlow.
"""

from __future__ import annotations

import importlib
import sys

import click

from .errors import EdgeEcgError

#: Command name -> "module:attribute", imported on first use.
LAZY_COMMANDS: dict[str, str] = {
    "data": "edge_ecg.cli_data:data",
    "classify": "edge_ecg.cli_classify:classify",
    "detect": "edge_ecg.cli_classify:detect",
    "calibrate": "edge_ecg.cli_calibrate:calibrate",
    "demo": "edge_ecg.demo:demo",
    "train": "train.cli_train:train",
    "evaluate": "train.cli_evaluate:evaluate",
    "convert": "convert.cli:convert",
    "inspect": "convert.cli:inspect_model",
    "validate": "convert.cli:validate",
    "bench": "firmware_bench.cli:bench",
    "report": "firmware_bench.cli_report:report",
    "noise-stress": "train.cli_noise:noise_stress",
}


class _OneLineErrors:
    """Our errors (bad input, a model or file problem) as one line and exit 2, no traceback
    (``--debug`` on ``edge-ecg`` shows it)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)  # type: ignore[misc]
        except EdgeEcgError as e:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"edge-ecg: error: {e}", err=True)
            ctx.exit(2)


class EdgeEcgGroup(_OneLineErrors, click.Group):
    """A click group that loads commands lazily and turns our errors into one line + exit 2."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            module, attr = LAZY_COMMANDS[cmd_name].split(":")
            try:
                return getattr(importlib.import_module(module), attr)
            except ImportError as e:
                raise click.ClickException(
                    f"'{cmd_name}' needs a package that is not installed ({e.name}); "
                    "install the extra: pip install 'edge-ecg[train,runtime]'"
                ) from e
        return super().get_command(ctx, cmd_name)


class EdgeEcgCommand(_OneLineErrors, click.Command):
    """A stand-alone command (the ``python -m train.*`` studies) with edge-ecg's errors."""


@click.group(cls=EdgeEcgGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show the full traceback of an error.")
@click.version_option(package_name="edge-ecg")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """edge-ecg: ECG beat classification from training to a Raspberry Pi-class device.

    \b
    Data lives in one directory holding PhysioNet databases (DIR/mitdb, DIR/nstdb), given by
    --data-dir DIR or the EDGE_ECG_DATA environment variable.

    \b
    Exit codes: 0 ok, 1 a failed gate (accuracy drift), 2 bad input or usage.

    \b
    Example:
      edge-ecg data stats --data-dir ../shared/data --json -
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


def main() -> None:
    """Console-script entry point."""
    try:
        cli(prog_name="edge-ecg")
    except KeyboardInterrupt:
        click.echo("edge-ecg: interrupted", err=True)
        sys.exit(130)
