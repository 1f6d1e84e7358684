"""``edge-ecg data``: fetch, verify and count the PhysioNet databases."""

from __future__ import annotations

import click

from .atomic import write_json
from .datadir import DATABASES, database_dir, fetch_database, verify_database
from .errors import DataError
from .options import data_dir_option, json_option, progress
from .spec import CLASSES


@click.group()
def data() -> None:
    """Download, check and describe the MIT-BIH data.

    \b
    Example:
      edge-ecg data fetch --db mitdb --data-dir ~/physionet
      edge-ecg data verify --data-dir ~/physionet
      edge-ecg data stats --data-dir ~/physionet --json stats.json
    """


@data.command()
@click.option("--db", type=click.Choice(sorted(DATABASES)), default="mitdb", show_default=True)
@data_dir_option
def fetch(db: str, data_dir: str | None) -> None:
    """Download a database from PhysioNet with wfdb and check its SHA256SUMS.

    \b
    Example:
      edge-ecg data fetch --db nstdb --data-dir ~/physionet
    """
    if data_dir is None:
        raise DataError("data fetch needs --data-dir DIR (or EDGE_ECG_DATA) to download into")
    folder = fetch_database(db, data_dir)
    _report(folder, verify_database(folder))


@data.command()
@click.option("--db", type=click.Choice(sorted(DATABASES)), multiple=True,
              help="Database to check (repeatable; default: every one present).")  # fmt: skip
@data_dir_option
def verify(db: tuple[str, ...], data_dir: str | None) -> None:
    """Check a local copy against its published SHA256SUMS.

    \b
    Example:
      edge-ecg data verify --data-dir ../shared/data --db mitdb
    """
    names = db or tuple(d for d in sorted(DATABASES) if _present(data_dir, d))
    if not names:
        raise DataError("no database found in the data directory; run edge-ecg data fetch")
    problems = []
    for name in names:
        folder = database_dir(data_dir, name)
        found = verify_database(folder)
        _report(folder, found)
        problems += found
    if problems:
        raise DataError(f"{len(problems)} file(s) failed the checksum; re-run edge-ecg data fetch")


def _present(data_dir: str | None, db: str) -> bool:
    try:
        database_dir(data_dir, db)
    except DataError:
        return False
    return True


def _report(folder, problems: list[str]) -> None:
    for p in problems:
        click.echo(p, err=True)
    click.echo(f"{folder}: {'OK' if not problems else f'{len(problems)} problem(s)'}")


@data.command()
@data_dir_option
@json_option("the counts")
def stats(data_dir: str | None, json_path: str | None) -> None:
    """Beats per de Chazal split x AAMI class, and per record.

    Counts come from the reference annotations; beats too close to a record's edge for a full
    window are counted under "dropped".

    \b
    Example:
      edge-ecg data stats --data-dir ../shared/data --json -
    """
    from .dataset import split_stats

    database_dir(data_dir, "mitdb")
    result = split_stats(data_dir, progress=progress)
    if json_path:
        write_json(json_path, result)
    echo = (lambda s: click.echo(s, err=True)) if json_path == "-" else click.echo
    echo(f"{'split':<6}" + "".join(f"{c:>8}" for c in CLASSES) + f"{'dropped':>9}")
    for split in ("DS1", "DS2"):
        row = "".join(f"{result[split][c]:>8,}" for c in CLASSES)
        lost = sum(result["dropped"][split][c] for c in CLASSES)
        echo(f"{split:<6}{row}{lost:>9,}")
