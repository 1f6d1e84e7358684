"""Patient-specific trees: a record's labelled first 5 minutes train its own tree, which the
device runs with the record's calibration."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from edge_ecg.aami import CLASS_INDEX
from edge_ecg.calibration import read_calibration
from edge_ecg.classify import classify_record
from edge_ecg.errors import InputError
from edge_ecg.manifest import manifest_path
from edge_ecg.metrics import evaluate_predictions
from edge_ecg.records import read_record
from edge_ecg.scoring import match_beats

pytestmark = pytest.mark.data
PUBLISHED = (
    Path(__file__).resolve().parent.parent / "models" / "gbt-calibrated" / "trees-rhythm.npz"
)


PUBLISHED_FUSION = (
    Path(__file__).resolve().parent.parent
    / "models"
    / "fusion-calibrated"
    / "tflite"
    / "fusion-calibrated-int8-floatio.tflite"
)


def _after_minute_5(rec, beats) -> dict:
    found = np.array([b.sample for b in beats], dtype=np.int64)
    labels = np.array([CLASS_INDEX[b.label] for b in beats], dtype=np.int64)
    first = 300 * rec.fs
    ref = rec.beat_samples >= first
    late = found >= first
    ri, ti, _, _ = match_beats(rec.beat_samples[ref], found[late], rec.fs)
    return evaluate_predictions(rec.beat_classes[ref][ri], labels[late][ti])


@pytest.mark.slow
def test_a_patients_own_tree_runs_on_the_device_and_finds_its_ectopic_beats(data_dir, tmp_path):
    """Record 232 (78 % of its beats S): its own tree (a small DS1 subset plus its labelled
    first 5 minutes) and calibration, written by ``fit``, run end to end; after minute 5 it
    finds the S beats the published calibrated tree, trained on all DS1, partly misses."""
    from train.patient_specific import fit_patient

    path = data_dir / "mitdb" / "232"
    done = fit_patient(path, data_dir, tmp_path, train_records=["106", "208", "209"])
    assert done["labelled_beats"] > 250
    manifest = json.loads(manifest_path(tmp_path / "trees.npz").read_text())
    assert manifest["calibrated"] and manifest["rhythm"] and manifest["patient"] == "232"
    rec = read_record(path)
    cal = read_calibration(tmp_path / "calibration.json")
    own = _after_minute_5(rec, classify_record(rec.signal, rec.fs, tmp_path / "trees.npz",
                                               calibration=cal))  # fmt: skip

    published = _after_minute_5(
        rec, classify_record(rec.signal, rec.fs, PUBLISHED, calibration=cal)
    )
    assert own["classes"]["S"]["se"] > 0.95 and own["accuracy"] > 0.95
    assert own["classes"]["S"]["se"] > published["classes"]["S"]["se"] + 0.1


@pytest.mark.slow
def test_a_patients_own_fusion_network_runs_on_the_device_in_int8(data_dir, tmp_path):
    """``fit --arch fusion`` on 232: the calibrated fusion network fine-tuned on its labelled
    first 5 minutes, converted to int8 (no loops, no Flex ops), agrees with its Keras model on
    the patient's later beats and, end to end with the patient's calibration, finds the S beats
    the published calibrated fusion file misses."""
    from click.testing import CliRunner

    from edge_ecg.classify import Classifier
    from edge_ecg.cli import cli
    from edge_ecg.models import KerasModel, load_model
    from train.patient_specific import fit_network, patient_beats

    path = data_dir / "mitdb" / "232"
    done = fit_network(path, data_dir, tmp_path)
    tflite = Path(done["tflite"])
    assert tflite.name == "fusion-232-int8-floatio.tflite"
    manifest = json.loads(manifest_path(tflite).read_text())
    assert manifest["calibrated"] and manifest["patient"] == "232"
    assert manifest["fine_tune"]["labelled_beats"] == done["labelled_beats"] > 250
    assert not any(op.startswith(("WHILE", "Flex")) for op in manifest["ops"])
    assert str(path) + ".hea" in manifest["training_data"]

    rec = read_record(path)
    cal = read_calibration(tmp_path / "calibration.json")
    beats = patient_beats(path).own  # its first 5 minutes, calibrated
    keras_probs = KerasModel(tmp_path / "fusion-232.keras", calibrated=True).predict(
        beats.windows, beats.rr
    )
    int8_probs = load_model(tflite, calibrated=True).predict(beats.windows, beats.rr)
    assert (keras_probs.argmax(1) == int8_probs.argmax(1)).mean() > 0.97

    # another patient's calibration, or scoring it on every record, is refused
    with pytest.raises(InputError, match=r"patient 232's own model.*record 233's"):
        Classifier(tflite, calibration=replace(cal, patient="233"))
    r = CliRunner().invoke(cli, ["evaluate", "--data-dir", str(data_dir), "--model", str(tflite)])
    assert r.exit_code == 2 and "patient 232's own model" in r.stderr

    mine = _after_minute_5(rec, classify_record(rec.signal, rec.fs, tflite, calibration=cal))
    published = _after_minute_5(
        rec, classify_record(rec.signal, rec.fs, PUBLISHED_FUSION, calibration=cal)
    )
    assert mine["classes"]["S"]["se"] > 0.9 and mine["accuracy"] > 0.9
    assert mine["classes"]["S"]["se"] > published["classes"]["S"]["se"] + 0.2


def test_fit_names_a_missing_record_in_one_line(tmp_path):
    """`python -m train.patient_specific fit` on a record that is not there: one line naming
    it, exit 2, no traceback, nothing written."""
    from click.testing import CliRunner

    from train.patient_specific import main

    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["fit", str(tmp_path / "nope"), "--out", str(out)])
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "record nope" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.slow
def test_a_patients_fine_tuned_network_depends_only_on_its_inputs(data_dir):
    """The same patient, recipe and seed give the same weights, whatever was fine-tuned before
    in the process (the study's recipes run one after another; fit runs one)."""
    from train.beatset import load_beats
    from train.config import HOLDOUT
    from train.patient_adaptive import calibrate_beats, calibration_stretch
    from train.patient_specific import NETWORK, FineTune, tuned_network

    ds1 = calibrate_beats(load_beats(data_dir, "DS1"))
    replay = ds1.where(~np.isin(ds1.records, list(HOLDOUT)))
    own = calibration_stretch(ds1)
    recipe = FineTune(replay=500, epochs=2)

    def weights(record: str, seed: int) -> list[np.ndarray]:
        mine = ds1.where((ds1.records == record) & own)
        return tuned_network(NETWORK, replay, mine, recipe, seed).get_weights()

    def same(a: list[np.ndarray], b: list[np.ndarray]) -> bool:
        return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))

    first = weights("118", 0)
    weights("201", 1)
    assert same(first, weights("118", 0))
    assert not same(first, weights("118", 1))


@pytest.mark.slow
def test_the_network_study_keeps_the_probabilities_its_figures_come_from(data_dir):
    """``network_study(probabilities=...)`` keeps, for every arm, the probabilities whose
    argmax gives the figures it reports, and each hold-out record's labelled-minute counts;
    the untuned arm matches the published hold-out table."""
    from train.patient_specific import FineTune, network_study

    kept: dict = {}
    recipe = FineTune(replay=300, epochs=1)
    result = network_study(data_dir, recipes=(recipe,), split="holdout", probabilities=kept)
    labels = kept["labels"]
    for arm in ("untuned", f"{recipe.name()} float seed 0"):
        pred = kept[arm].argmax(1)
        assert kept[arm].shape == (labels.size, 5)
        assert np.allclose(kept[arm].sum(1), 1, atol=1e-4)
        figures = evaluate_predictions(labels, pred)
        assert figures["accuracy"] == pytest.approx(result["figures"][arm]["accuracy"])
        assert figures["macro_f1"] == pytest.approx(result["figures"][arm]["macro_f1"])
    assert sorted(set(kept["records"])) == ["101", "118", "119", "124", "201", "215"]
    counts = kept["labelled"]
    assert counts.shape == (6, 5) and counts[:, 0].min() > 200  # 5 minutes of mostly N
    assert counts[3, 2] == 0 and (labels[kept["records"] == "124"] == 2).sum() > 0  # 124's V
    published = json.loads(
        (Path(__file__).resolve().parent.parent / "docs" / "results"
         / "patient-specific-network-holdout.json").read_text()
    )["figures"]["untuned"]  # fmt: skip
    assert result["figures"]["untuned"]["accuracy"] == pytest.approx(
        published["accuracy"], abs=1e-3
    )


def test_false_calls_count_what_each_arm_wrongly_called_per_record():
    """Hand-counted: record a has 1 N and 1 S called V, record b 1 N called V and 1 V called S;
    the labelled counts come back per record."""
    from train.posthoc import false_calls

    eye = np.eye(5, dtype=np.float32)
    kept = {
        "labels": np.array([0, 1, 2, 0, 2, 0]),
        "records": np.array(["a", "a", "a", "b", "b", "b"]),
        "labelled": np.array([[9, 0, 0, 0, 0], [7, 0, 3, 0, 0]]),
        "arm": eye[[2, 2, 2, 2, 1, 0]],
    }
    v, s = false_calls(kept)["arm"]["V"], false_calls(kept)["arm"]["S"]
    assert (v["false"], v["called"]) == (3, 4)
    assert [(r["record"], r["false"], r["labelled"]) for r in v["records"]] == [
        ("a", 2, 0),
        ("b", 1, 3),
    ]
    assert v["records"][0]["truly"] == {"N": 1, "S": 1, "V": 0, "F": 0, "Q": 0}
    assert (s["false"], s["called"]) == (1, 1) and s["records"][0]["truly"]["V"] == 1


def test_the_rule_refuses_probabilities_of_another_split(data_dir, tmp_path):
    """`rule` on a probabilities file whose beats are not the split's: one line, exit 2."""
    from click.testing import CliRunner

    from train.patient_specific import main

    fake = tmp_path / "p.npz"
    np.savez(fake, split=np.array("DS2"), labels=np.zeros(10, int), records=np.full(10, "101"),
             labelled=np.zeros((1, 5), int), untuned=np.eye(5)[np.zeros(10, int)])  # fmt: skip
    r = CliRunner().invoke(main, ["rule", str(fake), "--data-dir", str(data_dir)])
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "p.npz" in r.stderr and "not written for this split" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
