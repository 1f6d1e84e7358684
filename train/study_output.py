"""What every study command writes: its JSON, its Markdown table, and the table on stdout."""

from __future__ import annotations

from collections.abc import Callable

import click

from edge_ecg.atomic import write_json, write_text

#: ``--md PATH``: the study's Markdown table, also printed ('-': printed only).
md_option = click.option(
    "--md",
    "md_path",
    type=click.Path(dir_okay=False, allow_dash=True),
    help="Markdown table to PATH ('-' for stdout only).",
)


def emit_study(
    result: dict, markdown: Callable[[dict], str], json_path: str | None, md_path: str | None
) -> None:
    """Write ``result`` as JSON (``json_path``, '-' for stdout) and its table (``md_path``),
    each atomically, and print the table (on stderr when the JSON goes to stdout)."""
    if json_path:
        write_json(json_path, result)
    text = markdown(result)
    if md_path and md_path != "-":
        write_text(md_path, text)
    click.echo(text, err=json_path == "-")
