"""Time of the artefact check in the stream, one lead and two, side by side.

    python -m firmware_bench.check_speed --data-dir ../shared/data --record 208

The record (MLII, and its second lead for the two-lead runs) goes through ``classify_record``
in 5 s blocks, as a device feeds it, with the shipped int8 model: one lead, one lead with the
check, two leads, two leads with the check (which also arbitrates the leads' rival beats,
:mod:`edge_ecg.artifact_stage`). The four are interleaved ``--repeats`` times so the ratios hold
on a busy machine. One process, one thread.
"""

from __future__ import annotations

import click

from edge_ecg.classify import classify_record
from edge_ecg.datadir import database_dir
from edge_ecg.options import data_dir_option
from edge_ecg.records import read_record, read_second_lead

from .side_by_side import interleaved, summary_lines


@click.command()
@data_dir_option
@click.option("--record", default="208", show_default=True)
@click.option("--repeats", type=click.IntRange(1, 50), default=5, show_default=True)
def main(data_dir, record: str, repeats: int) -> None:
    """Seconds per pass of the whole record, each way, and the ratios to one lead."""
    path = database_dir(data_dir, "mitdb") / record
    rec = read_record(path)
    second = read_second_lead(path, rec).signal
    chunk = round(5 * rec.fs)
    runs = {
        "one lead": lambda: classify_record(rec.signal, rec.fs, chunk=chunk),
        "one lead + check": lambda: classify_record(
            rec.signal, rec.fs, chunk=chunk, artifact_check=True
        ),
        "two leads": lambda: classify_record(rec.signal, rec.fs, chunk=chunk, second=second),
        "two leads + check": lambda: classify_record(
            rec.signal, rec.fs, chunk=chunk, second=second, artifact_check=True
        ),
    }
    times, beats = interleaved(runs, repeats)
    for line in summary_lines(times, beats, rec.signal.size / rec.fs / 60, base="one lead"):
        click.echo(line)


if __name__ == "__main__":
    main()
