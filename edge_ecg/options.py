"""Click options shared by every command, so each convention is spelled once."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

import click

from .datadir import ENV

T = TypeVar("T")

data_dir_option = click.option(
    "--data-dir",
    type=click.Path(file_okay=False),
    envvar=ENV,
    show_envvar=True,
    help="Directory holding the PhysioNet databases (DIR/mitdb, DIR/nstdb).",
)


def json_option(what: str = "the results"):
    """``--json PATH`` (``-`` for stdout), the same on every command that writes JSON."""
    return click.option(
        "--json",
        "json_path",
        type=click.Path(dir_okay=False, allow_dash=True),
        help=f"Write {what} as JSON to PATH ('-' for stdout).",
    )


def progress(items: Iterable[T], label: str) -> Iterator[T]:
    """Iterate ``items`` under a progress bar on stderr (a plain label when not a terminal)."""
    with click.progressbar(items, label=label, file=sys.stderr) as bar:
        yield from bar
