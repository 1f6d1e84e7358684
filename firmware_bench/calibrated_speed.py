"""Time of the patient-adaptive tree against the shipped int8 model, end to end, side by side.

    python -m firmware_bench.calibrated_speed --data-dir ../shared/data --record 208

The record goes through ``classify_record`` in 5 s blocks, as a device feeds it, once with the
shipped int8 fusion model and once with ``models/gbt-calibrated/trees.npz`` and the record's
calibration (its first 5 minutes' reference N beats), interleaved ``--repeats`` times so the
ratio holds on a busy machine. One process, one thread.
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from edge_ecg.calibration import calibration_of_record
from edge_ecg.classify import classify_record
from edge_ecg.datadir import database_dir
from edge_ecg.options import data_dir_option
from edge_ecg.records import read_record

from .side_by_side import interleaved, summary_lines

TREES = Path(__file__).resolve().parent.parent / "models" / "gbt-calibrated" / "trees.npz"


@click.command()
@data_dir_option
@click.option("--record", default="208", show_default=True)
@click.option("--repeats", type=click.IntRange(1, 50), default=5, show_default=True)
@click.option("--trees", type=click.Path(dir_okay=False), default=str(TREES), show_default=True)
def main(data_dir, record: str, repeats: int, trees: str) -> None:
    """Seconds per pass of the whole record, each way, and their ratio."""
    rec = read_record(database_dir(data_dir, "mitdb") / record)
    cal = calibration_of_record(rec.signal, rec.fs, rec.beat_samples, rec.beat_classes == 0)
    chunk = round(5 * rec.fs)
    runs = {
        "shipped int8": lambda: classify_record(rec.signal, rec.fs, chunk=chunk),
        "calibrated trees": lambda: classify_record(
            rec.signal, rec.fs, trees, chunk=chunk, calibration=cal
        ),
    }
    times, beats = interleaved(runs, repeats)
    for line in summary_lines(times, beats, rec.signal.size / rec.fs / 60):
        click.echo(line)
    a, b = (float(np.median(t)) for t in times.values())
    click.echo(f"ratio calibrated trees / shipped int8: {b / a:.2f}")


if __name__ == "__main__":
    main()
