"""What every study command writes: its JSON, its Markdown table, and the table on stdout."""

from __future__ import annotations

from collections.abc import Callable

import click

from edge_ecg.atomic import write_json, write_text

#: ``--md PATH``: the study's Markdown table, also printed.
md_option = click.option(
    "--md", "md_path", type=click.Path(dir_okay=False), help="Markdown table to PATH."
)


def emit_study(
    result: dict, markdown: Callable[[dict], str], json_path: str | None, md_path: str | None
) -> None:
    """Write ``result`` as JSON (``json_path``, '-' for stdout) and its table (``md_path``),
    each atomically, and print the table."""
    if json_path:
        write_json(json_path, result)
    text = markdown(result)
    if md_path:
        write_text(md_path, text)
    click.echo(text)
