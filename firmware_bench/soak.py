"""Soak: hours of simulated ECG through one ``StreamClassifier``, as fast as it goes.

    python -m firmware_bench.soak --hours 24 --data-dir ../shared/data --json docs/soak.json

The signal is made block by block (never held whole): mitdb records one after another, each
with a stretch of NSTDB noise (``em``, ``ma``, ``bw`` in turn) added at a random SNR, looped
until the hours are done. ``--two-leads`` streams each record's two leads (noise channel 1 on
the first, channel 2 on the second, each scaled to the SNR on its own lead) through two-lead
detection. Reported: simulated hours per wall-clock second, peak RSS sampled
through the run and its growth after a warm-up, beats and unreadable segments. A prefix of the
same signal is also classified in one piece by ``classify_record``; the stream must give the
same beats (sample, class and probabilities).
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import click
import numpy as np

from edge_ecg.atomic import write_json
from edge_ecg.classify import StreamClassifier, classify_record
from edge_ecg.datadir import database_dir
from edge_ecg.options import data_dir_option, progress

FS = 360.0
NOISES = ("em", "ma", "bw")


def rss_mb() -> float:
    """Current resident set size (VmRSS), MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def simulated(data_dir, records: list[str], seed: int = 0, leads: int = 1) -> Iterator[np.ndarray]:
    """Endless 360 Hz signal ((n,), or (n, 2) with ``leads=2``): each record once per loop,
    with noise on part of it.

    Records and noise are read once and mixed into one reused buffer, so the source's own
    memory stays constant and the RSS trace shows the classifier's.
    """
    from edge_ecg.records import read_record, read_second_lead

    db = database_dir(data_dir, "mitdb")
    noise_db = database_dir(data_dir, "nstdb")
    channels = ("noise1", "noise2")[:leads]
    noises = [
        np.column_stack(
            [read_record(noise_db / n, lead=c, annotator=None).signal for c in channels]
        )
        for n in NOISES
    ]
    signals = []
    for name in records:
        rec = read_record(db / name, annotator=None)
        lanes = [rec.signal] + ([read_second_lead(db / name, rec).signal] if leads == 2 else [])
        signals.append(np.column_stack(lanes))
    # Each record's power, once: np.std of a whole record here would allocate ~10 MB of
    # temporaries per record and show in the RSS trace as if the classifier had grown.
    powers = [np.std(s, axis=0) for s in signals]
    buf = np.empty((max(len(s) for s in signals), leads))
    rng = np.random.default_rng(seed)
    k = 0
    while True:
        for signal, power in zip(signals, powers, strict=True):
            out = buf[: len(signal)]
            np.copyto(out, signal)
            noise = noises[k % len(noises)]
            k += 1
            start = int(rng.integers(0, len(signal) // 2))
            length = min(int(120 * FS), len(signal) - start, len(noise))
            snr_db = float(rng.choice([12.0, 6.0, 0.0]))
            scale = power / (np.std(noise[:length], axis=0) * 10 ** (snr_db / 20))
            out[start : start + length] += scale * noise[:length]
            yield out[:, 0] if leads == 1 else out


def blocks(
    data_dir, records: list[str], block: int, seed: int = 0, leads: int = 1
) -> Iterator[np.ndarray]:
    for signal in simulated(data_dir, records, seed, leads):
        for i in range(0, len(signal), block):
            yield signal[i : i + block]


def soak(data_dir, hours: float, records: list[str], block_s: float = 4.0,
         check_minutes: float = 30.0, bar=progress, leads: int = 1,
         artifact_check: bool = False) -> dict:  # fmt: skip
    """Run the soak; see the module docstring. Returns the figures."""
    block = int(block_s * FS)
    total = int(hours * 3600 * FS)
    stream = StreamClassifier(FS, leads=leads, artifact_check=artifact_check)
    n, beats, segments, rss = 0, 0, 0, []
    prefix_n = int(check_minutes * 60 * FS)
    prefix, stream_prefix = [], []
    t0 = time.perf_counter()
    source = blocks(data_dir, records, block, leads=leads)
    for i in bar(range(-(-total // block)), "blocks"):
        x = next(source)[: total - n]
        if n < prefix_n:
            prefix.append(x[: prefix_n - n].copy())
        out = stream.push(x)
        beats += len(out)
        stream_prefix += [b for b in out if b.sample < prefix_n]
        segments += len(stream.take_segments())
        n += len(x)
        if i % 200 == 0:
            rss.append((n / FS / 3600, rss_mb()))
    out = stream.flush()
    beats += len(out)
    stream_prefix += [b for b in out if b.sample < prefix_n]
    wall = time.perf_counter() - t0
    rss.append((n / FS / 3600, rss_mb()))
    # Batch over the same prefix; beats near its end may differ (the stream saw what follows).
    whole = np.concatenate(prefix)
    if leads == 1:
        batch = classify_record(whole, FS, artifact_check=artifact_check)
    else:
        batch = classify_record(whole[:, 0], FS, second=whole[:, 1], artifact_check=artifact_check)
    edge = prefix_n - int(5 * FS)
    a = [(b.sample, b.label, b.probabilities.tobytes()) for b in stream_prefix if b.sample < edge]
    b = [(c.sample, c.label, c.probabilities.tobytes()) for c in batch if c.sample < edge]
    warm = [m for h, m in rss if h >= min(1.0, hours / 4)]
    return {
        "command": "python -m firmware_bench.soak",
        "leads": leads,
        **({"artifact_check": True} if artifact_check else {}),
        "simulated_hours": n / FS / 3600,
        "wall_seconds": wall,
        "hours_per_second": n / FS / 3600 / wall,
        "real_time_factor": n / FS / wall,
        "beats": beats,
        "unreadable_segments": segments,
        "rss_mb": {
            "start": rss[0][1],
            "peak": max(m for _, m in rss),
            "end": rss[-1][1],
            "growth_after_warmup": (max(warm) - min(warm)) if warm else 0.0,
        },
        "rss_trace": [{"hours": h, "rss_mb": m} for h, m in rss],
        "stream_equals_batch": {
            "minutes": check_minutes,
            "beats_compared": len(a),
            "identical": a == b,
        },
    }


@click.command()
@data_dir_option
@click.option("--hours", default=24.0, show_default=True, help="Simulated hours of ECG.")
@click.option("--records", default="100,105,119,203,208,213,232", show_default=True)
@click.option(
    "--check-minutes", default=30.0, show_default=True, help="Prefix compared with batch."
)
@click.option("--two-leads", is_flag=True, help="Stream both leads (two-lead detection).")
@click.option("--artifact-check", is_flag=True, help="With the stream's artefact check on.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False), required=True)
def main(data_dir, hours, records, check_minutes, two_leads, artifact_check, json_path):
    """Stream hours of simulated ECG through StreamClassifier; report speed and memory."""
    leads = 2 if two_leads else 1
    result = soak(data_dir, hours, records.split(","), check_minutes=check_minutes, leads=leads,
                  artifact_check=artifact_check)  # fmt: skip
    result["command"] += f" --hours {hours:g} --records {records}"
    result["command"] += " --two-leads" if two_leads else ""
    result["command"] += " --artifact-check" if artifact_check else ""
    write_json(json_path, result)
    r = result["rss_mb"]
    click.echo(
        f"{result['simulated_hours']:.2f} h in {result['wall_seconds']:.0f} s "
        f"({result['hours_per_second']:.2f} h/s), {result['beats']} beats; RSS start "
        f"{r['start']:.1f} MB, peak {r['peak']:.1f} MB, growth after warm-up "
        f"{r['growth_after_warmup']:.2f} MB; stream == batch: "
        f"{result['stream_equals_batch']['identical']}"
    )


if __name__ == "__main__":
    main()
