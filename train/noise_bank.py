"""Real recorded noise for training, from the parts of NSTDB's noise records no test uses.

Gaussian noise does not teach a model electrode motion: at the same RMS and band as ``em`` at
6 dB it costs the shipped model nothing on the DS1 hold-out beats, while ``em`` itself costs it
ten points (docs/results.md). Electrode motion is made of large, sparse, QRS-like transients.
So the ``real_noise`` augmentation adds snippets of the noise recordings themselves, cleaned as
a signal is, taken only from minutes that neither test reads:

- the noise-stress mixes (and the hold-out mixes model selection reads) use the first 10
  minutes of ``em``, ``ma`` and ``bw``;
- NSTDB 118e*/119e* carry ``em`` at the same time positions, in its minutes 5-7, 9-11, ...,
  25-27 and 29-30 (checked: the noise in 118e06's minutes 5-7 is ``em``'s minutes 5-7,
  correlation 0.99999).

What is left: ``em`` minutes 11-13, 15-17, 19-21, 23-25 and 27-29, and ``ma`` minutes 10-30.
``bw`` is left out: baseline wander costs no accuracy (docs/noise.md). Noise from the same
recordings, unseen segments: the noise figures of a model trained with it are in-distribution,
and docs say so.
"""

from __future__ import annotations

import os

import numpy as np

from edge_ecg.datadir import database_dir, sha256_file
from edge_ecg.preprocess import Cleaner
from edge_ecg.records import read_record
from edge_ecg.spec import FS

#: Minutes of each noise record (channel noise1) that no test uses.
TRAIN_MINUTES = {
    "em": ((11, 13), (15, 17), (19, 21), (23, 25), (27, 29)),
    "ma": ((10, 30),),
}


def raw_segments(
    data_dir: str | os.PathLike[str] | None, channel: str = "noise1"
) -> tuple[list[np.ndarray], float]:
    """The training noise as recorded (``channel``: noise1, or noise2 for a second lead), one
    array per segment, and its rate."""
    folder = database_dir(data_dir, "nstdb")
    out, fs = [], 0.0
    for name, spans in TRAIN_MINUTES.items():
        rec = read_record(folder / name, lead=channel, annotator=None)
        fs = rec.fs
        for start, stop in spans:
            out.append(rec.signal[round(start * 60 * rec.fs) : round(stop * 60 * rec.fs)])
    return out, fs


def noise_bank(data_dir: str | os.PathLike[str] | None) -> list[np.ndarray]:
    """The training noise, one cleaned array (at ``spec.FS``) per segment, each cleaned on its
    own so no filter runs across a cut."""
    segments, fs = raw_segments(data_dir)
    out = []
    for seg in segments:
        cleaner = Cleaner(fs)
        warm = round(2 * cleaner.delay_seconds * FS) + 1  # drop the filters' start-up
        out.append(cleaner.push(seg)[warm:])
    return out


def noise_checksums(data_dir: str | os.PathLike[str] | None) -> dict[str, str]:
    """sha256 of the noise records' header and signal files, as the run's training data."""
    folder = database_dir(data_dir, "nstdb")
    return {
        f"nstdb/{name}.{ext}": sha256_file(folder / f"{name}.{ext}")
        for name in TRAIN_MINUTES
        for ext in ("hea", "dat")
    }


def noise_snippets(
    rng: np.random.Generator, bank: list[np.ndarray], n: int, length: int, rms: float
) -> np.ndarray:
    """(n, length) snippets of the bank at random places, mean removed, at random levels
    (``at_random_levels``)."""
    sizes = np.array([b.size - length for b in bank])
    which = rng.choice(len(bank), size=n, p=sizes / sizes.sum())
    starts = (rng.random(n) * sizes[which]).astype(np.int64)
    rows = np.stack([bank[w][s : s + length] for w, s in zip(which, starts, strict=True)])
    return at_random_levels(rng, rows - rows.mean(axis=1, keepdims=True), rms)


def at_random_levels(rng: np.random.Generator, rows: np.ndarray, rms: float) -> np.ndarray:
    """``rows`` each scaled to an RMS log-uniform in [``COLORED_MIN``, ``rms``] R amplitudes,
    half of them zeroed: the level scheme of every noise augmentation but the motion waves."""
    from .config import COLORED_MIN

    rows = rows / (np.sqrt(np.mean(rows**2, axis=1, keepdims=True)) + 1e-12)
    n = rows.shape[0]
    level = np.exp(rng.uniform(np.log(COLORED_MIN), np.log(max(rms, COLORED_MIN)), size=(n, 1)))
    return rows * level * (rng.random((n, 1)) < 0.5)
