"""Throughput of the streaming R-peak detector alone, fed in blocks as a device would.

    python -m firmware_bench.detector_speed --data-dir ../shared/data --records 100,105,203,208

Each record's MLII lead goes through ``edge_ecg.detect.detect_peaks`` (cleaning, resampling,
detection) in ``--block``-second blocks, ``--repeats`` times; the median time gives input
samples per second. One process, so run it on a quiet machine.
"""

from __future__ import annotations

import time

import click
import numpy as np

from edge_ecg.datadir import database_dir
from edge_ecg.detect import detect_peaks
from edge_ecg.options import data_dir_option
from edge_ecg.records import read_record


def throughput(signal: np.ndarray, fs: float, block_s: float, repeats: int) -> list[float]:
    """Input samples per second of each repeat."""
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        detect_peaks(signal, fs, chunk=round(block_s * fs))
        rates.append(signal.size / (time.perf_counter() - t0))
    return rates


@click.command()
@data_dir_option
@click.option("--records", default="100,105,203,208", show_default=True)
@click.option("--block", default=5.0, show_default=True, help="Block length in seconds.")
@click.option("--repeats", default=5, show_default=True, type=click.IntRange(1, 100))
def main(data_dir, records: str, block: float, repeats: int) -> None:
    """Print M input samples/s per record (median, min and max over the repeats)."""
    mitdb = database_dir(data_dir, "mitdb")
    for name in records.split(","):
        record = read_record(mitdb / name, annotator=None)
        rates = np.array(throughput(record.signal, record.fs, block, repeats)) / 1e6
        click.echo(
            f"{name}: {record.signal.size} samples, {np.median(rates):.2f} M samples/s "
            f"(min {rates.min():.2f}, max {rates.max():.2f})"
        )


if __name__ == "__main__":
    main()
