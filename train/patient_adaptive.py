"""The patient-adaptive protocol: calibrate on each record's first 5 minutes, score the rest.

EC57's recommended practice lets a classifier learn from up to the first 5 minutes of each
test record's reference labels and be scored on the remaining 25 (Hu et al. 1997; de Chazal
and Reilly 2006 call it patient-adapting). Here the
labels are used for one thing only: which beats of that stretch are normal, to fit the
record's :class:`edge_ecg.calibration.Calibration`; nothing is trained on the test patient.
Training records are calibrated the same way, so the model learns inputs made relative to a
patient's confirmed normal beats.
"""

from __future__ import annotations

import numpy as np

from edge_ecg.aami import CLASS_INDEX
from edge_ecg.calibration import CALIBRATION_SECONDS, calibrate, fit_calibration
from edge_ecg.errors import InputError

from .beatset import BeatSet, load_beats

#: Sampling rate of the MIT-BIH records, the unit of ``BeatSet.samples``.
MITDB_FS = 360.0
#: Class index of N, the beats a calibration is fitted on.
NORMAL = CLASS_INDEX["N"]
#: What a calibrated run's metrics.json says it scored.
PROTOCOL = "patient-adaptive: calibrated on each record's first 5 min, scored after"


def calibration_stretch(beats: BeatSet, seconds: float = CALIBRATION_SECONDS) -> np.ndarray:
    """Beats inside each record's calibration stretch (the rest are the ones scored)."""
    return beats.samples < round(seconds * MITDB_FS)


def calibrate_beats(
    beats: BeatSet, seconds: float = CALIBRATION_SECONDS, start: float = 0.0
) -> BeatSet:
    """Every record's beats calibrated on the normal beats of its first ``seconds`` (or, for a
    study, of seconds ``start`` to ``seconds``)."""
    windows, rr = beats.windows.copy(), beats.rr.copy()
    early = calibration_stretch(beats, seconds) & (beats.samples >= round(start * MITDB_FS))
    for record in np.unique(beats.records):
        idx = np.flatnonzero(beats.records == record)
        first = idx[early[idx]]
        try:
            cal = fit_calibration(
                beats.windows[first], beats.rr[first], beats.labels[first] == NORMAL
            )
        except InputError as e:
            raise InputError(f"record {record}: {e}") from None
        windows[idx], rr[idx] = calibrate(beats.windows[idx], beats.rr[idx], cal)
    return BeatSet(windows, rr, beats.labels, beats.records, beats.samples, beats.checksums)


def scored(beats: BeatSet, seconds: float = CALIBRATION_SECONDS) -> BeatSet:
    """The beats the protocol scores: those after each record's calibration stretch."""
    return beats.where(~calibration_stretch(beats, seconds))


def evaluation_beats(data_dir, config) -> tuple[BeatSet, np.ndarray]:
    """The DS2 beats a run is scored on, as whole records (rhythm features need the beats
    before), and which of them are scored: all, or with ``config.calibrated`` each record
    calibrated on its first 5 minutes and scored after them."""
    ds2 = load_beats(data_dir, "DS2", config.lead)
    if not config.calibrated:
        return ds2, np.ones(len(ds2), dtype=bool)
    ds2 = calibrate_beats(ds2)
    return ds2, ~calibration_stretch(ds2)


def beats_for(
    model, data_dir, split: str, progress=None, rhythm: bool = False
) -> tuple[BeatSet, np.ndarray | None]:
    """The beats of a split as ``model`` must see them: as cut, or for a model trained on
    calibrated inputs (``model.calibrated``) calibrated per record and scored after the
    calibration stretch (the patient-adaptive protocol); and their rhythm features, computed on
    whole records before any beat is left out, for a model that reads them (``model.rhythm``)
    or when asked (``rhythm``: the rhythm rule reads one of them), else None."""
    beats = load_beats(data_dir, split, progress=progress)
    keep = np.ones(len(beats), dtype=bool)
    if getattr(model, "calibrated", False):
        beats = calibrate_beats(beats)
        keep = ~calibration_stretch(beats)
    features = None
    if rhythm or getattr(model, "rhythm", False):
        from .rhythm import rhythm_features

        features = rhythm_features(beats)[keep]
    return beats.where(keep), features
