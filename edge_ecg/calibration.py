"""Patient calibration: the patient's own normal beats, confirmed once, anchor the model inputs.

Without it every model input is relative to running statistics of *all* the patient's beats
(median beat, RR median and mean). When ectopic beats are the majority those statistics
describe them as the patient's normal: in MIT-BIH 232, 78 % of beats are atrial premature beats
whose pre-RR is the record's median, and no inter-patient model here finds them (S Se ≤ 7 %,
docs/results.md). EC57's recommended practice lets a *patient-adaptive* classifier learn from
up to the first 5 minutes of each record's reference labels and be scored on the rest (as Hu et
al. 1997 and de Chazal and Reilly 2006 did); a device gets the same from a clinician
confirming the patient's normal beats at set-up.

A :class:`Calibration` holds a beat and two scale factors, fitted on the beats of that
stretch: the median beat of the normal ones (the deviation channel is taken against it instead
of the running median beat), and how much longer the normal beats' RR median and mean are than
those of all beats (the running RR median and mean are scaled by it, so rate changes are still
followed). :func:`calibrate` rewrites featurized beats with it, the same function in training,
evaluation and on the device.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .beats import CLIP, MAX_RATIO, rr_ratios
from .errors import InputError, ModelError
from .spec import WINDOW

#: The stretch EC57 lets a patient-adaptive classifier learn from (seconds from the start).
CALIBRATION_SECONDS = 300.0
#: Fewest normal beats a calibration is fitted on (a minute of a slow rhythm has more).
MIN_NORMAL = 20
#: Ends the name of a Keras model trained on calibrated inputs (``train/model.py``).
CALIBRATED_SUFFIX = "_calibrated"


@dataclass(frozen=True)
class Calibration:
    """The patient's normal beat and RR scale factors (see the module docstring)."""

    median_beat: np.ndarray  # (WINDOW,) float32, beat channel of the normal beats' median
    long_factor: float  # median pre-RR of the normal beats / that of all beats
    mean_factor: float  # mean pre-RR of the normal beats / that of all beats
    beats: int  # normal beats it was fitted on
    #: the record it was fitted on ("record" in the JSON), when known
    patient: str | None = None

    def to_dict(self) -> dict:
        return {
            "median_beat": [float(v) for v in self.median_beat],
            "long_factor": self.long_factor,
            "mean_factor": self.mean_factor,
            "beats": self.beats,
        }

    def document(self, record: str, annotator: str, minutes: float) -> dict:
        """The calibration file's body: where it was fitted (read back as ``patient``), then
        the calibration; one layout for ``edge-ecg calibrate`` and the patient-specific fit."""
        return {"record": record, "annotator": annotator, "minutes": minutes, **self.to_dict()}

    @classmethod
    def from_dict(cls, d: dict, where: str = "calibration") -> Calibration:
        try:
            beat = np.asarray(d["median_beat"], dtype=np.float32)
            long, mean, n = float(d["long_factor"]), float(d["mean_factor"]), int(d["beats"])
        except (KeyError, TypeError, ValueError) as e:
            raise InputError(f"{where}: not a calibration ({e})") from None
        patient = d.get("record")
        if patient is not None and not isinstance(patient, str):
            raise InputError(f"{where}: record must be a record name")
        if beat.shape != (WINDOW,) or not np.all(np.isfinite(beat)):
            raise InputError(f"{where}: median_beat must be {WINDOW} finite numbers")
        if not (0.1 <= long <= 10 and 0.1 <= mean <= 10):
            raise InputError(f"{where}: RR factors {long:g}, {mean:g} outside 0.1-10")
        return cls(beat, long, mean, n, patient)


def fit_calibration(windows: np.ndarray, rr: np.ndarray, normal: np.ndarray) -> Calibration:
    """The calibration of featurized beats (``stack_beats`` output) of the calibration
    stretch, ``normal`` marking the beats confirmed normal."""
    normal = np.asarray(normal, dtype=bool)
    if normal.shape != (len(windows),):
        raise InputError(f"calibration: {normal.size} normal flags for {len(windows)} beats")
    n = int(normal.sum())
    if n < MIN_NORMAL:
        raise InputError(
            f"calibration: {n} normal beats in the calibration stretch, need {MIN_NORMAL}"
        )
    pre = rr[:, 0].astype(np.float64)
    median_beat = np.median(windows[normal, :, 0].astype(np.float64), axis=0)
    return Calibration(
        median_beat=median_beat.astype(np.float32),
        long_factor=float(np.median(pre[normal]) / np.median(pre)),
        mean_factor=float(pre[normal].mean() / pre.mean()),
        beats=n,
    )


def calibrate(
    windows: np.ndarray, rr: np.ndarray, calibration: Calibration
) -> tuple[np.ndarray, np.ndarray]:
    """(windows, rr) of featurized beats as the patient's calibration has them: the deviation
    channel against the normal median beat, the RR median and mean scaled, the ratios anew
    (as ``BeatFeaturizer`` forms them)."""
    windows = np.array(windows, dtype=np.float32)
    rr = np.array(rr, dtype=np.float32)
    if windows.ndim != 3 or windows.shape[1] != WINDOW or rr.shape[0] != windows.shape[0]:
        raise InputError(f"calibrate: beats of shape {windows.shape} and RR {rr.shape}")
    dev = windows[:, :, 0].astype(np.float64) - calibration.median_beat
    windows[:, :, 1] = np.clip(dev, -CLIP, CLIP)
    pre, post, local = (rr[:, k].astype(np.float64) for k in range(3))
    long = rr[:, 3].astype(np.float64) * calibration.long_factor
    mean = rr[:, 4].astype(np.float64) * calibration.mean_factor
    ratios = np.stack(rr_ratios(pre, post, local, long, mean))
    rr[:, 3], rr[:, 4] = long, mean
    rr[:, 5:] = np.clip(ratios, 0.0, MAX_RATIO).T
    return windows, rr


def check_calibrated(where: object, model_calibrated: bool, calibrated: bool | None) -> None:
    """Refuse to feed a model inputs of the other kind: ``calibrated`` says what the caller
    feeds (None: it can feed either and asks the model)."""
    if calibrated is None or model_calibrated == calibrated:
        return
    if model_calibrated:
        raise ModelError(
            f"{where}: trained on patient-calibrated inputs; give it a patient calibration "
            "(edge-ecg calibrate, then classify --patient-calibration) or score it with the "
            "patient-adaptive protocol (edge-ecg evaluate)"
        )
    raise ModelError(
        f"{where}: not trained on patient-calibrated inputs; a calibration cannot be used with it"
    )


def check_patient(
    where: object, model_patient: str | None, calibration: Calibration | None
) -> None:
    """Refuse a patient-specific model (trained on one patient's labelled beats) with another
    patient's calibration: its answers would be silently wrong."""
    if model_patient is None or calibration is None or calibration.patient is None:
        return
    if calibration.patient != model_patient:
        raise InputError(
            f"{where}: patient {model_patient}'s own model, but the calibration is record "
            f"{calibration.patient}'s; use record {calibration.patient}'s own model or the "
            "published calibrated model"
        )


def read_calibration(path: str | os.PathLike[str]) -> Calibration:
    """A calibration written by ``edge-ecg calibrate`` (JSON)."""
    path = Path(path)
    try:
        body = json.loads(path.read_text())
    except OSError as e:
        raise InputError(f"{path}: cannot read the calibration ({e.strerror})") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{path}: not a calibration (not JSON: {e})") from None
    if not isinstance(body, dict):
        raise InputError(f"{path}: not a calibration (a JSON object is expected)")
    return Calibration.from_dict(body, str(path))


def stretch_beats(
    signal: np.ndarray, fs: float, peaks: np.ndarray, seconds: float = CALIBRATION_SECONDS
) -> tuple[list, np.ndarray]:
    """The confirmed beats (R-peak input samples) of a recording's first ``seconds``,
    featurized as the stream does, and the index in ``peaks`` of each."""
    from .beats import extract_beats

    peaks = np.asarray(peaks, dtype=np.int64)
    first = np.flatnonzero(peaks < seconds * fs)
    if not first.size:
        raise InputError(f"calibration: no confirmed beat in the first {seconds:g} s")
    end = min(signal.size, int(seconds * fs) + int(4 * fs))  # room for the last post-RR
    beats, _ = extract_beats(signal[:end], fs, peaks[first])
    if not beats:
        raise InputError("calibration: no beat of the calibration stretch has a full window")
    return beats, first[[b.seq for b in beats]]


def calibration_of_record(
    signal: np.ndarray,
    fs: float,
    peaks: np.ndarray,
    normal: np.ndarray,
    seconds: float = CALIBRATION_SECONDS,
) -> Calibration:
    """The calibration of a recording from its confirmed beats (R-peak input samples, and
    which are normal) in its first ``seconds``, featurized as the stream does."""
    from .beats import stack_beats

    peaks = np.asarray(peaks, dtype=np.int64)
    normal = np.asarray(normal, dtype=bool)
    if peaks.shape != normal.shape:
        raise InputError(f"calibration: {peaks.size} beats but {normal.size} normal flags")
    beats, index = stretch_beats(signal, fs, peaks, seconds)
    windows, rr = stack_beats(beats)
    return fit_calibration(windows, rr, normal[index])
