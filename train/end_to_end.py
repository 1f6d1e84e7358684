"""End-to-end scoring: the device pipeline finds its own beats, then EC57 matching scores them.

Each record runs through ``edge_ecg.classify_record`` exactly as on the device. Detected beats
are matched one-to-one to reference beats within 150 ms; class metrics are computed over the
matched beats, and the ``detection`` block says how many reference beats were missed (per AAMI
class) and how many detections matched nothing. Whole records are scored (no learning period),
except for a model trained on patient-calibrated inputs: each record is then calibrated on the
reference N beats of its first 5 minutes (as ``edge-ecg calibrate`` does) and scored after them.
"""

from __future__ import annotations

import os

import numpy as np

from edge_ecg.calibration import CALIBRATION_SECONDS, calibration_of_record
from edge_ecg.classify import classify_record
from edge_ecg.datadir import database_dir
from edge_ecg.dataset import Progress, mitdb_record
from edge_ecg.metrics import evaluate_predictions
from edge_ecg.models import BeatModel
from edge_ecg.records import read_second_lead
from edge_ecg.scoring import match_beats
from edge_ecg.spec import CLASSES
from edge_ecg.splits import split_records

from .patient_adaptive import NORMAL


def _rates(tp: int, fn: int, fp: int) -> dict:
    return {
        "tp": tp,
        "fn": fn,
        "fp": fp,
        "se": tp / (tp + fn) if tp + fn else None,
        "ppv": tp / (tp + fp) if tp + fp else None,
    }


def evaluate_end_to_end(
    model: BeatModel,
    data_dir: str | os.PathLike[str] | None,
    split: str,
    progress: Progress | None = None,
    lead: str = "MLII",
    two_leads: bool = False,
    rhythm_rule: bool = False,
    artifact_check: bool = False,
) -> dict:
    """Evaluate-layout metrics over matched beats, plus a ``detection`` block; with
    ``two_leads`` the detector also reads each record's other lead (``edge_ecg.leads``);
    ``rhythm_rule`` scores the labels of ``classify --rhythm-rule``; ``artifact_check`` drops
    what ``classify --artifact-check`` drops."""
    from edge_ecg.artifact import ArtifactCheck

    check = ArtifactCheck(leads=2 if two_leads else 1) if artifact_check else False
    names = split_records(split)
    labels, preds, records = [], [], []
    missed_by_class = np.zeros(len(CLASSES), dtype=np.int64)
    per_record: dict[str, dict] = {}
    total = {"tp": 0, "fn": 0, "fp": 0}
    for name in progress(names, f"{split} records") if progress else names:
        record = mitdb_record(data_dir, name, lead)
        second = None
        if two_leads:
            second = read_second_lead(database_dir(data_dir, "mitdb") / name, record).signal
        calibration, start = None, 0
        if getattr(model, "calibrated", False):
            calibration = calibration_of_record(
                record.signal, record.fs, record.beat_samples, record.beat_classes == NORMAL
            )
            start = round(CALIBRATION_SECONDS * record.fs)
        beats = classify_record(
            record.signal,
            record.fs,
            model,
            second=second,
            rhythm_rule=rhythm_rule,
            artifact_check=check,
            calibration=calibration,
        )
        found = np.array([b.sample for b in beats], dtype=np.int64)
        ref_idx, test_idx, missed, extra = match_beats(record.beat_samples, found, record.fs)
        ref_idx, test_idx = np.asarray(ref_idx, int), np.asarray(test_idx, int)
        if start:  # the patient-adaptive protocol scores what follows the calibration stretch
            after = record.beat_samples[ref_idx] >= start
            ref_idx, test_idx = ref_idx[after], test_idx[after]
            missed = [i for i in missed if record.beat_samples[i] >= start]
            extra = [i for i in extra if found[i] >= start]
        labels.append(record.beat_classes[ref_idx])
        preds.append(np.array([CLASSES.index(beats[i].label) for i in test_idx], dtype=np.int64))
        records.append(np.full(ref_idx.size, name))
        missed_by_class += np.bincount(
            record.beat_classes[np.asarray(missed, int)], minlength=len(CLASSES)
        )
        counts = {"tp": int(ref_idx.size), "fn": len(missed), "fp": len(extra)}
        per_record[name] = _rates(**counts)
        for k in total:
            total[k] += counts[k]
    result = evaluate_predictions(
        np.concatenate(labels), np.concatenate(preds), np.concatenate(records)
    )
    result["detection"] = {
        **_rates(**total),
        "window_s": 0.15,
        "leads": 2 if two_leads else 1,
        "missed_by_class": dict(zip(CLASSES, missed_by_class.tolist(), strict=True)),
        "records": per_record,
    }
    return result
