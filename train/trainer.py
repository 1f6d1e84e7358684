"""Train one model into a RUN_DIR: early stopping on DS1 patients held out, then DS2 once.

A RUN_DIR is the whole story of a model: ``config.yaml`` (the exact settings), ``checksums.json``
(the source records), ``history.json`` (per epoch), ``model.keras`` (the selected epoch),
``metrics.json`` (DS2, evaluate layout), ``holdout.json`` and ``holdout-noise.json`` (the
hold-out patients, clean and under 6 dB noise). Every epoch leaves a checkpoint, so a killed run
resumes where it stopped; a finished run is left alone.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import yaml

from edge_ecg.atomic import atomic_path, write_json, write_text
from edge_ecg.errors import InputError
from edge_ecg.metrics import evaluate_predictions
from edge_ecg.spec import CLASSES, FS, PREPROCESSING_VERSION
from edge_ecg.splits import DS1

from .beatset import BeatSet, load_beats
from .config import RunConfig, load_config
from .noise_bank import at_random_levels, noise_bank, noise_checksums, noise_snippets
from .patient_adaptive import PROTOCOL, calibrate_beats, evaluation_beats

Log = Callable[[str], None]


def class_weights(labels: np.ndarray, power: float) -> dict[int, float]:
    """(n / (k n_c)) ** power per class present, normalised to a mean beat weight of 1."""
    counts = np.bincount(labels, minlength=len(CLASSES)).astype(float)
    present = counts > 0
    w = np.zeros(len(CLASSES))
    w[present] = (counts.sum() / (present.sum() * counts[present])) ** power
    w /= (w * counts).sum() / counts.sum()
    return {i: float(w[i]) for i in range(len(CLASSES)) if present[i]}


def same_config(saved: Path, config: RunConfig) -> bool:
    """Whether a run directory's config.yaml asks for ``config``. Settings added since it was
    written take their defaults, which is what the run used, so an older run still resumes."""
    try:
        return load_config(saved).to_dict() == config.to_dict()
    except InputError:  # unreadable, or a setting this version no longer has
        return False


def _learning_rate(config: RunConfig, epoch: int) -> float:
    if config.schedule == "constant":
        return config.learning_rate
    return config.learning_rate * 0.5 * (1 + np.cos(np.pi * epoch / config.epochs))


def augment(
    windows: np.ndarray,
    rng: np.random.Generator,
    scale: float,
    noise: float,
    motion: float = 0.0,
    colored: float = 0.0,
    real: float = 0.0,
    bank: list[np.ndarray] | None = None,
) -> np.ndarray:
    """Random amplitude scale and white noise, the same on both channels (one raw beat);
    with ``motion``, slow electrode-motion-like waves on half the beats (``motion_waves``);
    with ``colored``, coloured noise on half the beats (``colored_noise``); with ``real``,
    snippets of recorded noise from ``bank`` on half the beats (``noise_bank``)."""
    if scale == 0 and noise == 0 and motion == 0 and colored == 0 and real == 0:
        return windows
    n = windows.shape[0]
    s = 1 + rng.uniform(-scale, scale, size=(n, 1, 1))
    e = rng.normal(0, noise, size=(n, windows.shape[1], 1))
    if motion > 0:  # drawn only when asked, so runs without it stay bit-identical
        e = e + motion_waves(rng, n, windows.shape[1], motion)[..., None]
    if colored > 0:  # likewise
        e = e + colored_noise(rng, n, windows.shape[1], colored)[..., None]
    if real > 0:
        if not bank:
            raise InputError("real_noise: no noise recordings loaded (train/noise_bank.py)")
        e = e + noise_snippets(rng, bank, n, windows.shape[1], real)[..., None]
    return (windows * s + e).astype(np.float32)


def motion_waves(rng: np.random.Generator, n: int, length: int, rms: float) -> np.ndarray:
    """(n, length) sums of three sinusoids of 0.5-12 Hz at the window's rate, each row scaled
    to an RMS uniform in [0, ``rms``]; half the rows are zero."""
    t = np.arange(length) / FS
    freqs = rng.uniform(0.5, 12.0, size=(n, 3, 1))
    phases = rng.uniform(0, 2 * np.pi, size=(n, 3, 1))
    weights = rng.uniform(0.2, 1.0, size=(n, 3, 1))
    waves = (weights * np.sin(2 * np.pi * freqs * t + phases)).sum(axis=1)
    waves /= np.sqrt(np.mean(waves**2, axis=1, keepdims=True)) + 1e-12
    target = rng.uniform(0, rms, size=(n, 1)) * (rng.random((n, 1)) < 0.5)
    return waves * target


#: Coloured noise: the band it fills (Hz) and the corner above which its power falls as 1/f².
COLORED_BAND = (0.5, 30.0)
COLORED_CORNER = 3.0


def colored_noise(rng: np.random.Generator, n: int, length: int, rms: float) -> np.ndarray:
    """(n, length) Gaussian noise shaped to ``COLORED_BAND`` with amplitude 1 / (1 + f /
    ``COLORED_CORNER``), at random levels (``noise_bank.at_random_levels``). Electrode motion
    is not a few sinusoids: measured on beat windows at 6 dB it has half its power below
    ~6 Hz and 90 % below ~17 Hz, and this shape gives 4 and 15 Hz."""
    f = np.fft.rfftfreq(length, 1 / FS)
    lo, hi = COLORED_BAND
    gain = np.where((f >= lo) & (f <= hi), 1 / (1 + f / COLORED_CORNER), 0.0)
    spectrum = rng.normal(size=(n, f.size)) + 1j * rng.normal(size=(n, f.size))
    return at_random_levels(rng, np.fft.irfft(spectrum * gain, n=length, axis=1), rms)


def write_holdout_noise(data_dir, out: Path, holdout: list[str], log: Log) -> None:
    """``holdout-noise.json``: the hold-out records' accuracy drop under 6 dB noise mixes
    (``noise_stress.holdout_noise``); skipped, with a note, when NSTDB is not there."""
    from edge_ecg.errors import DataError

    from .noise_stress import holdout_noise

    try:
        noise = holdout_noise(data_dir, str(out / "model.keras"), holdout)
    except DataError as e:
        log(f"hold-out noise skipped: {e}")
        return
    write_json(out / "holdout-noise.json", noise)
    log(f"hold-out records at 6 dB noise: accuracy drop {noise['drop_pp']:.1f} pp")


def predict(model, beats: BeatSet, batch_size: int = 1024) -> np.ndarray:
    """Class probabilities of a beat set."""
    if len(beats) == 0:
        return np.zeros((0, len(CLASSES)), np.float32)
    return model.predict([beats.windows, beats.rr], batch_size=batch_size, verbose=0)


def _macro_f1(model, beats: BeatSet) -> tuple[float, dict]:
    result = evaluate_predictions(beats.labels, predict(model, beats).argmax(1))
    return result["macro_f1"] or 0.0, result


def _epoch_bar(total: int, label: str):
    """A Keras callback drawing one progress bar per epoch."""
    import keras
    from tqdm import tqdm

    class Bar(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.bar = tqdm(total=total, desc=label, unit="batch", leave=False, mininterval=1)

        def on_train_batch_end(self, batch, logs=None):
            self.bar.update(1)
            if logs and batch % 20 == 0:
                self.bar.set_postfix(loss=f"{logs.get('loss', 0):.4f}")

        def on_epoch_end(self, epoch, logs=None):
            self.bar.close()

    return Bar()


def train_run(
    config: RunConfig,
    data_dir: str | os.PathLike[str] | None,
    out: str | os.PathLike[str],
    log: Log = print,
    evaluate_ds2: bool = True,
) -> dict:
    """Train (or resume) one run into ``out`` and return its DS2 metrics."""
    import keras

    from .fake_quant import strip_fake_quant
    from .model import build_model

    out = Path(out)
    if (out / "metrics.json").is_file():
        log(f"{out}: already finished, skipped")
        return json.loads((out / "metrics.json").read_text())
    out.mkdir(parents=True, exist_ok=True)
    saved = out / "config.yaml"
    if saved.is_file() and not same_config(saved, config):
        raise InputError(f"{out}: holds a run with another config; choose a new --out")
    write_text(saved, yaml.safe_dump(config.to_dict(), sort_keys=False))

    keras.utils.set_random_seed(config.seed)
    ds1 = load_beats(data_dir, "DS1", config.lead)
    if config.calibrated:
        ds1 = calibrate_beats(ds1)
    train_records = config.records or [r for r in DS1 if r not in config.holdout]
    train, holdout = ds1.select(train_records), ds1.select(config.holdout)
    if len(train) == 0:
        raise InputError("no training beats: check records/holdout")
    sums = {"preprocessing": PREPROCESSING_VERSION, **ds1.checksums}
    if config.real_noise > 0:  # the noise recordings are training data too
        sums |= noise_checksums(data_dir)
    write_json(out / "checksums.json", sums)

    def build(fake_quant: bool):
        return build_model(
            config.arch,
            config.width,
            config.units,
            config.dense,
            config.dropout,
            rr_mean=train.rr.mean(0),
            rr_var=train.rr.var(0) + 1e-6,
            channels=tuple(config.channels),
            fake_quant=fake_quant,
            calibrated=config.calibrated,
        )

    model = build(config.fake_quant)
    if config.focal_gamma > 0:
        loss = keras.losses.CategoricalFocalCrossentropy(alpha=1.0, gamma=config.focal_gamma)
        targets = np.eye(len(CLASSES), dtype=np.float32)[train.labels]
    else:
        loss, targets = "sparse_categorical_crossentropy", train.labels
    model.compile(optimizer=keras.optimizers.Adam(config.learning_rate), loss=loss)
    weights = class_weights(train.labels, config.class_weight_power)

    history: list[dict] = []
    state_path, last_path, best_path = out / "state.json", out / "last.keras", out / "best.keras"
    rng = np.random.default_rng(config.seed)
    bank = noise_bank(data_dir) if config.real_noise > 0 else None
    if state_path.is_file() and last_path.is_file():
        state = json.loads(state_path.read_text())
        history = state["history"]
        model = keras.saving.load_model(last_path, safe_mode=True)
        rng.bit_generator.state = state["rng"]
        log(f"{out}: resuming after epoch {len(history)}")
    first = min(config.min_epochs, config.epochs)
    eligible = [h for h in history if h["epoch"] >= first]
    best = max((h["holdout_macro_f1"] for h in eligible), default=-1.0)
    best_at = max((h["epoch"] for h in eligible if h["holdout_macro_f1"] == best), default=0)
    stale = len(history) - best_at
    steps = int(np.ceil(len(train) / config.batch_size))
    started = time.perf_counter() - sum(h["seconds"] for h in history)

    for epoch in range(len(history), config.epochs):
        if len(history) >= config.min_epochs and stale >= config.patience:
            break
        t0 = time.perf_counter()
        model.optimizer.learning_rate.assign(_learning_rate(config, epoch))
        windows = augment(
            train.windows,
            rng,
            config.scale_jitter,
            config.noise,
            config.motion_noise,
            config.colored_noise,
            config.real_noise,
            bank,
        )
        fit = model.fit(
            [windows, train.rr],
            targets,
            batch_size=config.batch_size,
            epochs=1,
            class_weight=weights,
            shuffle=True,
            verbose=0,
            callbacks=[_epoch_bar(steps, f"epoch {epoch + 1}/{config.epochs}")],
        )
        score, _ = _macro_f1(model, holdout) if len(holdout) else (0.0, None)
        history.append(
            {
                "epoch": epoch + 1,
                "loss": float(fit.history["loss"][-1]),
                "holdout_macro_f1": float(score),
                "seconds": time.perf_counter() - t0,
            }
        )
        improved = epoch + 1 >= first and score > best
        stale = 0 if improved else stale + 1
        if improved:
            best = score
            with atomic_path(best_path) as tmp:
                model.save(tmp)
        with atomic_path(last_path) as tmp:
            model.save(tmp)
        write_json(state_path, {"history": history, "rng": rng.bit_generator.state})
        log(
            f"epoch {epoch + 1}: loss {history[-1]['loss']:.4f}, holdout macro-F1 "
            f"{score:.4f}{' (best)' if improved else ''}, {history[-1]['seconds']:.0f} s"
        )

    train_seconds = time.perf_counter() - started
    model = keras.saving.load_model(best_path, safe_mode=True)
    if config.fake_quant:
        model = strip_fake_quant(model, build(False))
    with atomic_path(out / "model.keras") as tmp:
        model.save(tmp)
    best_epoch = max(
        (h for h in history if h["epoch"] >= first), key=lambda h: h["holdout_macro_f1"]
    )["epoch"]
    write_json(
        out / "history.json",
        {
            "epochs": history,
            "best_epoch": best_epoch,
            "train_seconds": train_seconds,
            "train_beats": len(train),
            "holdout_beats": len(holdout),
            "class_weights": {CLASSES[k]: v for k, v in weights.items()},
            "parameters": int(model.count_params()),
        },
    )
    if len(holdout):
        write_json(out / "holdout.json", _macro_f1(model, holdout)[1])
        if config.calibrated:  # the noise mixes run the stream, which has no calibration
            log("hold-out noise skipped: a calibrated model needs a patient calibration")
        else:
            write_holdout_noise(data_dir, out, config.holdout, log)
    for name in ("last.keras", "best.keras", "state.json"):
        (out / name).unlink(missing_ok=True)
    if not evaluate_ds2:
        return {}
    ds2, keep = evaluation_beats(data_dir, config)
    ds2 = ds2.where(keep)
    metrics = evaluate_predictions(ds2.labels, predict(model, ds2).argmax(1), ds2.records)
    metrics["model"] = {"arch": config.arch, "width": config.width, "seed": config.seed}
    if config.calibrated:
        metrics["protocol"] = PROTOCOL
    write_json(out / "metrics.json", metrics)
    return metrics
