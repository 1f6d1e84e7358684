"""A training run's settings as plain data: defaults here, overrides from YAML and the CLI."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from edge_ecg.errors import InputError

#: Every arm of the ablation: the three networks (train/model.py) and the tree (train/gbt.py).
ARCHS = ("cnn", "cnn_bilstm", "fusion", "gbt")

#: DS1 records held out for early stopping and model selection. Chosen so they hold about a
#: quarter of DS1's S and V beats while leaving 208 (90 % of DS1's F beats) to training.
HOLDOUT = ("101", "118", "119", "124", "201", "215")
#: Smallest RMS of the coloured-noise augmentation (R amplitudes): about the white noise's.
COLORED_MIN = 0.03


@dataclass
class RunConfig:
    """Everything that decides a trained model; written to RUN_DIR/config.yaml."""

    arch: str = "fusion"
    width: float = 1.0
    units: int = 16
    dense: int = 32
    dropout: float = 0.2
    #: window channels the CNN sees: [1] the deviation from the running median beat only,
    #: [0, 1] also the raw beat (overfits to patients' own morphology, docs/results.md).
    channels: list[int] = field(default_factory=lambda: [1])
    seed: int = 0
    epochs: int = 30
    patience: int = 6
    #: epochs before model selection starts: the first epochs' holdout scores are noise.
    min_epochs: int = 5
    #: "cosine" decays the learning rate to 0 over ``epochs``; "constant" keeps it.
    schedule: str = "cosine"
    batch_size: int = 128
    learning_rate: float = 1e-3
    #: class weight = (n / (k * n_class)) ** power: 0 none, 0.5 square-root, 1 balanced.
    class_weight_power: float = 0.5
    #: 0: cross-entropy; > 0: focal loss with this gamma (Keras CategoricalFocalCrossentropy,
    #: alpha 1: class balance stays with class_weight_power). Measured, not better here
    #: (docs/results.md).
    focal_gamma: float = 0.0
    #: train with int8 fake quantization at the layer outputs (train/fake_quant.py); the
    #: saved model.keras is stripped of it. Measured in docs/results.md.
    fake_quant: bool = False
    #: augmentation: random amplitude scale (+-) and Gaussian noise (in R amplitudes).
    scale_jitter: float = 0.1
    noise: float = 0.02
    #: augmentation: slow, electrode-motion-like noise (three random sinusoids of 0.5-12 Hz)
    #: on half the beats, RMS uniform up to this many R amplitudes; 0 off.
    motion_noise: float = 0.0
    #: augmentation: coloured noise (0.5-30 Hz, power falling above 3 Hz, like NSTDB's
    #: electrode-motion and muscle noise on a beat window) on half the beats, RMS log-uniform
    #: from 0.03 up to this many R amplitudes; 0 off. 0.6 spans what bw/em/ma at 6 dB put on
    #: the DS1 hold-out beats (em: median 0.13, 99th percentile 0.55; docs/results.md).
    colored_noise: float = 0.0
    #: augmentation: snippets of recorded electrode-motion and muscle noise from the NSTDB
    #: minutes no test reads (train/noise_bank.py) on half the beats, RMS log-uniform from
    #: 0.03 up to this many R amplitudes; 0 off. Needs the nstdb database.
    real_noise: float = 0.0
    #: patient-adaptive (EC57): every record's inputs calibrated on the beats its first
    #: 5 minutes' reference labels call normal (train/patient_adaptive.py); DS2 is then scored
    #: after minute 5, and the model needs a patient calibration on the device.
    calibrated: bool = False
    #: the tree (gbt) also reads each beat's four rhythm features (``edge_ecg.rhythm``): how
    #: irregular the RR intervals before it are; exported trees ask the stream for them.
    rhythm_features: bool = False
    lead: str = "MLII"
    holdout: list[str] = field(default_factory=lambda: list(HOLDOUT))
    #: train on these DS1 records only (default: all DS1 minus the holdout); for quick runs.
    records: list[str] | None = None

    def validate(self) -> RunConfig:
        if self.arch not in ARCHS:
            raise InputError(f"arch: {self.arch!r} is not one of {', '.join(ARCHS)}")
        if not 0.1 <= self.width <= 8:
            raise InputError(f"width: {self.width} is outside 0.1..8")
        if self.schedule not in ("cosine", "constant"):
            raise InputError(f"schedule: {self.schedule!r} is not cosine or constant")
        if not 0 <= self.focal_gamma <= 10:
            raise InputError(f"focal_gamma: {self.focal_gamma} is outside 0..10 (0: cross-entropy)")
        if self.focal_gamma and self.arch == "gbt":
            raise InputError("focal_gamma: the tree (gbt) trains no neural loss; leave it at 0")
        if self.rhythm_features and self.arch != "gbt":
            raise InputError("rhythm_features: only the tree (gbt) reads them; leave it off")
        if self.fake_quant and self.arch == "gbt":
            raise InputError("fake_quant: the tree (gbt) has no layers to quantize; leave it off")
        if not 0 <= self.motion_noise <= 1:
            raise InputError(
                f"motion_noise: {self.motion_noise} is outside 0..1 (RMS in R amplitudes; 0 off)"
            )
        for name in ("colored_noise", "real_noise"):  # the same level scheme
            value = getattr(self, name)
            if not (value == 0 or COLORED_MIN < value <= 2):
                raise InputError(
                    f"{name}: {value} is outside {COLORED_MIN}..2 "
                    "(largest RMS in R amplitudes; 0 off)"
                )
        if self.epochs < 1:
            raise InputError(f"epochs: {self.epochs} must be at least 1")
        from edge_ecg.splits import DS1

        for name in [*self.holdout, *(self.records or [])]:
            if name not in DS1:
                raise InputError(f"record {name}: not in DS1; training never sees DS2 records")
        if self.records and set(self.records) & set(self.holdout):
            raise InputError("records and holdout overlap: a patient is either trained or held out")
        return self

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def load_config(path: str | Path | None, **overrides) -> RunConfig:
    """Defaults, then the YAML file, then non-None CLI overrides; unknown keys are an error."""
    values: dict = {}
    if path is not None:
        try:
            loaded = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError) as e:
            raise InputError(f"{path}: cannot read the config ({e})") from None
        if not isinstance(loaded, dict):
            raise InputError(f"{path}: a config is a mapping of setting: value")
        values.update(loaded)
    values.update({k: v for k, v in overrides.items() if v is not None})
    known = {f.name for f in dataclasses.fields(RunConfig)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise InputError(f"unknown config setting(s): {', '.join(unknown)}")
    try:
        return RunConfig(**values).validate()
    except TypeError as e:
        raise InputError(f"bad config: {e}") from None
