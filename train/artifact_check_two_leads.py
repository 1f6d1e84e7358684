"""The artefact check for two leads: it reads each candidate beat on both leads.

At 0 dB on NSTDB most false beats that pass the one-lead check are found by both leads'
detectors at once (electrode motion moves both electrodes), and most beats missed were found by
the second lead alone, where the first lead's waveform is buried (docs/noise.md). The one-lead
check reads the first lead only. This one reads the 43 beat summaries
(:mod:`edge_ecg.beat_summary`) of both leads, 86 numbers, and is trained on exactly what the
stream's artefact stage (:mod:`edge_ecg.artifact_stage`) scores with two leads: every peak the
two-lead detector reports, and every rival in its beat's place (``edge_ecg.leads.detect_rivals``).

- training: the DS1 training records (hold-out excluded, and with it 118 and 119, the records
  NSTDB is made of), clean and with the recorded noise of ``train/noise_bank.py`` (NSTDB ``em``
  and ``ma``, minutes no test reads; channel noise1 on the first lead, noise2 from the same
  moment on the second, each scaled on its own lead's QRS amplitude, as ``nst`` does) at 12, 6
  and 0 dB; LightGBM as the one-lead check (``train.artifact_check.fit_trees``);
- test (``study``): NSTDB 118e*/119e* after minute 5 and the 26 clean records it was not trained
  on (DS2 and the DS1 hold-out), the stage emulated in batch with the one-lead check and this
  one, the threshold (0.9) the same.

    python -m train.artifact_check_two_leads study --data-dir ../shared/data \\
        --json docs/results/artifact-check-two-leads.json \\
        --md docs/results/artifact-check-two-leads.md
    python -m train.artifact_check_two_leads fit --data-dir ../shared/data  # the runtime's
"""

from __future__ import annotations

import numpy as np

from edge_ecg.artifact import DEFAULT_CHECK_TWO_LEADS, THRESHOLD, ArtifactCheck
from edge_ecg.beat_summary import beat_summary
from edge_ecg.beats import extract_beats, stack_beats
from edge_ecg.datadir import database_dir
from edge_ecg.leads import detect_rivals
from edge_ecg.records import read_record, read_second_lead
from edge_ecg.scoring import WINDOW, match_beats, near
from edge_ecg.splits import DS1, DS2

from .artifact_check import SEED, SNRS, check_commands, fit_trees
from .config import HOLDOUT
from .noise_bank import raw_segments
from .noise_stress import SKIP_SECONDS, mix


def _summaries(signal: np.ndarray, fs: float, peaks: np.ndarray) -> dict[int, tuple]:
    """seq -> (beat sample, its 43 summary numbers), for the peaks with room for a window."""
    beats, _ = extract_beats(signal, fs, peaks)
    x = beat_summary(*stack_beats(beats))
    return {b.seq: (b.sample, x[i]) for i, b in enumerate(beats)}


def options(first: np.ndarray, second: np.ndarray, fs: float) -> list[list[tuple]]:
    """Per reported peak, what the stage weighs: (sample, 86 numbers) of the peak, and of its
    rival if it has one (each only where both leads have room for a window)."""
    peaks, rivals = detect_rivals(first, second, fs)
    alt = np.where(rivals >= 0, rivals, peaks)
    main = [_summaries(first, fs, peaks), _summaries(second, fs, peaks)]
    other = [_summaries(first, fs, alt), _summaries(second, fs, alt)]
    out = []
    for seq in range(peaks.size):
        row = []
        for v, found in enumerate((main, other)):
            if (v == 0 or rivals[seq] >= 0) and all(seq in f for f in found):
                row.append((found[0][seq][0], np.concatenate([f[seq][1] for f in found])))
        out.append(row)
    return out


def _artefact(samples: list[int], reference: np.ndarray, fs: float) -> np.ndarray:
    """1 where no reference beat lies within 150 ms (a peak and its rival may both be near
    one beat: each is judged alone, not matched one-to-one)."""
    return (~near(np.asarray(samples, dtype=np.int64), reference, WINDOW * fs)).astype(np.int64)


def training_set(data_dir) -> tuple[np.ndarray, np.ndarray]:
    """The stage's options on the DS1 training records, clean and with noise at ``SNRS``."""
    noise = [np.concatenate(raw_segments(data_dir, ch)[0]) for ch in ("noise1", "noise2")]
    rng = np.random.default_rng(SEED)
    mitdb = database_dir(data_dir, "mitdb")
    xs, ys = [], []
    for name in [r for r in DS1 if r not in HOLDOUT]:
        rec = read_record(mitdb / name)
        other = read_second_lead(mitdb / name, rec)
        for snr in (None, *SNRS):
            leads = [rec.signal, other.signal]
            if snr is not None:  # the same moment of both noise channels
                start = int(rng.integers(0, noise[0].size))
                leads = [
                    mix(r, np.resize(np.roll(n, -start), r.signal.size), snr)
                    for r, n in zip((rec, other), noise, strict=True)
                ]
            rows = [o for row in options(*leads, rec.fs) for o in row]
            xs.append(np.stack([x for _, x in rows]))
            ys.append(_artefact([s for s, _ in rows], rec.beat_samples, rec.fs))
    return np.concatenate(xs), np.concatenate(ys)


def _stage(rows: list[list[tuple]], p: np.ndarray, threshold: float) -> list[int]:
    """The stage's choice per peak: the more beat-like option, if under the threshold."""
    kept, k = [], 0
    for row in rows:
        q = p[k : k + len(row)]
        k += len(row)
        if len(row) and q.min() < threshold:
            kept.append(row[int(np.argmin(q))][0])
    return kept


def study(data_dir) -> dict:
    x, y = training_set(data_dir)
    booster = fit_trees(x, y)
    one = ArtifactCheck()
    n = x.shape[1] // 2
    checks = {
        "one-lead check": lambda z: one.probability_of(z[:, :n]),
        "two-lead check": booster.predict,
    }
    result: dict = {"train": {"candidates": int(y.size), "artefacts": int(y.sum())}}
    nstdb, mitdb = database_dir(data_dir, "nstdb"), database_dir(data_dir, "mitdb")
    tests = {
        "nstdb_6db": [(nstdb / f"{b}e06", SKIP_SECONDS) for b in ("118", "119")],
        "nstdb_0db": [(nstdb / f"{b}e00", SKIP_SECONDS) for b in ("118", "119")],
        "clean_not_trained_on": [(mitdb / r, 0.0) for r in (*DS2, *HOLDOUT)],
    }
    for test, paths in tests.items():
        counts = {name: np.zeros(3, dtype=np.int64) for name in checks}
        for path, skip in paths:
            rec = read_record(path)
            rows = options(rec.signal, read_second_lead(path, rec).signal, rec.fs)
            z = np.stack([x for row in rows for _, x in row])
            first = round(skip * rec.fs)
            reference = rec.beat_samples[rec.beat_samples >= first]
            for name, check in checks.items():
                kept = np.asarray(_stage(rows, check(z), THRESHOLD), dtype=np.int64)
                ri, _, missed, extra = match_beats(reference, kept[kept >= first], rec.fs)
                counts[name] += (ri.size, len(missed), len(extra))
        result[test] = {
            name: {"se": tp / (tp + fn), "ppv": tp / (tp + fp), "fn": int(fn), "fp": int(fp)}
            for name, (tp, fn, fp) in counts.items()
        }
    return result


def markdown(result: dict) -> str:
    lines = ["| test | two leads + | Se % | +P % | FN | FP |", "|---|---|---:|---:|---:|---:|"]
    for test, rows in result.items():
        if test == "train":
            continue
        for name, r in rows.items():
            lines.append(
                f"| {test} | {name} | {100 * r['se']:.2f} | {100 * r['ppv']:.2f} | "
                f"{r['fn']} | {r['fp']} |"
            )
    train = result["train"]
    lines += ["", f"Trained on {train['candidates']} options, {train['artefacts']} artefacts."]
    return "\n".join(lines) + "\n"


main = check_commands(
    __doc__, study, markdown, training_set, DEFAULT_CHECK_TWO_LEADS, 2,
    "edge_ecg.beat_summary of the first lead, then of the second (86 numbers a beat)", "options",
    "train.artifact_check_two_leads",
)  # fmt: skip


if __name__ == "__main__":
    main()
