"""Could a learned check tell the detector's noise peaks from beats? The study, and the fit.

On NSTDB at 6 dB most false beats are electrode-motion transients that look like QRS complexes
to the detector and correlate ~0.9 with the patient's own beats (docs/noise.md), so neither
detector constants nor a template check remove them. This study trains a tree (LightGBM, the
ablation's 43 beat features of each *candidate*: the window the classifier would see and its RR
features) to say "artefact" or "beat":

- training candidates: the detector's peaks on the DS1 training records (hold-out excluded, and
  with it 118 and 119, the records NSTDB is made of), clean and mixed with the recorded noise of
  ``train/noise_bank.py`` (NSTDB ``em`` and ``ma``, only minutes no test reads) at 12, 6 and
  0 dB; a candidate is a beat when a reference beat lies within 150 ms, else an artefact;
- test: NSTDB 118e*/119e* after minute 5 (one lead, and the two-lead detector), and the clean
  records it was not trained on (DS2 and the DS1 hold-out): which false beats go, which true
  beats go with them, at a few thresholds on the artefact probability.

The noise it trains on comes from the same recordings as NSTDB's, other minutes: an optimistic
setting for NSTDB, to be read as such.

    python -m train.artifact_check study --data-dir ../shared/data \\
        --json docs/results/artifact-check.json --md docs/results/artifact-check.md
    python -m train.artifact_check fit --data-dir ../shared/data   # the runtime's check
"""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from edge_ecg.artifact import DEFAULT_CHECK, KIND, THRESHOLD
from edge_ecg.beat_summary import beat_summary
from edge_ecg.beats import extract_beats, stack_beats
from edge_ecg.cli import EdgeEcgGroup
from edge_ecg.datadir import database_dir
from edge_ecg.detect import detect_peaks
from edge_ecg.leads import detect_peaks_two_leads
from edge_ecg.options import data_dir_option, json_option
from edge_ecg.records import Record, read_record, read_second_lead
from edge_ecg.scoring import match_beats
from edge_ecg.splits import DS1, DS2

from .config import HOLDOUT
from .noise_bank import raw_segments
from .noise_stress import SKIP_SECONDS, mix
from .study_output import emit_study, md_option

SNRS = (12, 6, 0)
ROUNDS = 300
THRESHOLDS = (0.5, 0.7, 0.9)
SEED = 0


def candidates(rec: Record, signal: np.ndarray, first: int = 0, second=None) -> dict:
    """The detector's peaks from sample ``first`` on: features, artefact labels (1 = no
    reference beat within 150 ms) and how many reference beats the detector missed."""
    if second is None:
        peaks = detect_peaks(signal, rec.fs)
    else:
        peaks = detect_peaks_two_leads(signal, second, rec.fs)
    beats, _ = extract_beats(signal, rec.fs, peaks)
    windows, rr = stack_beats(beats)
    samples = np.array([b.sample for b in beats], dtype=np.int64)
    keep = samples >= first
    reference = rec.beat_samples[rec.beat_samples >= first]
    _, _, missed, extra = match_beats(reference, samples[keep], rec.fs)
    labels = np.zeros(int(keep.sum()), dtype=np.int64)
    labels[np.asarray(extra, dtype=np.int64)] = 1
    return {
        "x": beat_summary(windows[keep], rr[keep]),  # what the runtime check reads
        "y": labels,
        "missed": len(missed),
    }


def training_set(data_dir) -> tuple[np.ndarray, np.ndarray]:
    """Candidates of the DS1 training records, clean and with recorded noise at ``SNRS``."""
    segments, _ = raw_segments(data_dir)
    noise = np.concatenate(segments)
    rng = np.random.default_rng(SEED)
    mitdb = database_dir(data_dir, "mitdb")
    xs, ys = [], []
    for name in [r for r in DS1 if r not in HOLDOUT]:
        rec = read_record(mitdb / name)
        part = candidates(rec, rec.signal)
        xs.append(part["x"])
        ys.append(part["y"])
        for snr in SNRS:
            start = int(rng.integers(0, noise.size))
            stretch = np.resize(np.roll(noise, -start), rec.signal.size)
            part = candidates(rec, mix(rec, stretch, snr))
            xs.append(part["x"])
            ys.append(part["y"])
    return np.concatenate(xs), np.concatenate(ys)


def _scores(p: np.ndarray, y: np.ndarray, missed: int) -> dict:
    """Detector Se/+P with no check and with each threshold (candidates at or above dropped)."""
    out = {}
    for t in (None, *THRESHOLDS):
        keep = np.ones(y.size, bool) if t is None else p < t
        tp, fp = int(np.sum(keep & (y == 0))), int(np.sum(keep & (y == 1)))
        lost = int(np.sum(~keep & (y == 0)))
        out["none" if t is None else str(t)] = {
            "se": tp / (tp + lost + missed),
            "ppv": tp / (tp + fp) if tp + fp else None,
            "true_dropped": lost,
            "false_kept": fp,
            "false": int(np.sum(y == 1)),
        }
    return out


def fit_trees(x: np.ndarray, y: np.ndarray):
    """LightGBM, the study's and the runtime's check (300 rounds, 31 leaves)."""
    import lightgbm as lgb

    params = {
        "objective": "binary",
        "learning_rate": 0.05,
        "num_leaves": 31,
        "min_data_in_leaf": 50,
        "feature_fraction": 0.5,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "seed": SEED,
        "num_threads": 2,
        "verbose": -1,
        "deterministic": True,
    }
    return lgb.train(params, lgb.Dataset(x, y), ROUNDS)


def study(data_dir) -> dict:
    x, y = training_set(data_dir)
    booster = fit_trees(x, y)
    result: dict = {"train": {"candidates": int(y.size), "artefacts": int(y.sum())}}
    nstdb, mitdb = database_dir(data_dir, "nstdb"), database_dir(data_dir, "mitdb")
    for leads in (1, 2):
        for snr in ("06", "00"):
            ps, ys, missed = [], [], 0
            for base in ("118", "119"):
                rec = read_record(nstdb / f"{base}e{snr}")
                second = (
                    read_second_lead(nstdb / f"{base}e{snr}", rec).signal if leads == 2 else None
                )
                part = candidates(rec, rec.signal, round(SKIP_SECONDS * rec.fs), second)
                ps.append(booster.predict(part["x"]))
                ys.append(part["y"])
                missed += part["missed"]
            key = f"nstdb_{int(snr)}db_{leads}_lead{'s' if leads == 2 else ''}"
            result[key] = _scores(np.concatenate(ps), np.concatenate(ys), missed)
    ps, ys, missed = [], [], 0
    for name in [*DS2, *HOLDOUT]:
        rec = read_record(mitdb / name)
        part = candidates(rec, rec.signal)
        ps.append(booster.predict(part["x"]))
        ys.append(part["y"])
        missed += part["missed"]
    result["clean_not_trained_on"] = _scores(np.concatenate(ps), np.concatenate(ys), missed)
    return result


def markdown(result: dict) -> str:
    lines = [
        "| test | artefact check | Se % | +P % | true beats dropped | false beats kept |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for key, rows in result.items():
        if key == "train":
            continue
        for t, r in rows.items():
            check = "none" if t == "none" else f"drop p ≥ {t}"
            ppv = "–" if r["ppv"] is None else f"{100 * r['ppv']:.2f}"
            lines.append(
                f"| {key} | {check} | {100 * r['se']:.2f} | {ppv} | {r['true_dropped']} | "
                f"{r['false_kept']} of {r['false']} |"
            )
    train = result["train"]
    lines += ["", f"Trained on {train['candidates']} candidates, {train['artefacts']} artefacts."]
    return "\n".join(lines) + "\n"


def check_commands(
    doc: str,
    study,
    markdown,
    training_set,
    out: Path,
    leads: int,
    inputs: str,
    unit: str,
    module: str,
) -> click.Group:
    """The ``study`` and ``fit`` commands of an artefact check's training ``module``."""

    @click.group(cls=EdgeEcgGroup, help=doc.split("\n\n")[0])
    def group() -> None:
        pass

    @group.command("study")
    @data_dir_option
    @json_option("the figures")
    @md_option
    def study_command(data_dir, json_path: str | None, md_path: str | None) -> None:
        """The check's figures on NSTDB and the clean records (see the module docstring)."""
        emit_study(study(data_dir), markdown, json_path, md_path)

    @group.command("fit")
    @data_dir_option
    @click.option(
        "--out",
        "path",
        type=click.Path(dir_okay=False),
        default=str(out),
        show_default=True,
        help="Where the .npz (and its manifest beside it) go.",
    )
    def fit_command(data_dir, path: str) -> None:
        """Train the runtime's artefact check and write it with its manifest."""
        from .beatset import source_checksums
        from .noise_bank import noise_checksums
        from .tree_export import tree_tables, write_trees

        x, y = training_set(data_dir)
        records = tuple(r for r in DS1 if r not in HOLDOUT)
        write_trees(
            tree_tables(fit_trees(x, y)),
            path,
            kind=KIND,
            **({"leads": leads} if leads > 1 else {}),
            inputs=inputs,
            threshold=THRESHOLD,
            training={unit: int(y.size), "artefacts": int(y.sum()), "snr_db": list(SNRS)},
            training_data={**source_checksums(data_dir, records), **noise_checksums(data_dir)},
            command=f"python -m {module} fit",
        )
        click.echo(f"{path}: {int(y.size)} {unit} ({int(y.sum())} artefacts)")

    return group


main = check_commands(
    __doc__, study, markdown, training_set, DEFAULT_CHECK, 1,
    "edge_ecg.beat_summary (43 numbers a beat)", "candidates", "train.artifact_check",
)  # fmt: skip


if __name__ == "__main__":
    main()
