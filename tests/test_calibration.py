"""Patient calibration: fitted on the confirmed normal beats, applied the featurizer's way."""

from __future__ import annotations

import numpy as np
import pytest

from edge_ecg.beats import CLIP, extract_beats, stack_beats
from edge_ecg.calibration import (
    CALIBRATION_SECONDS,
    MIN_NORMAL,
    Calibration,
    calibrate,
    check_patient,
    fit_calibration,
)
from edge_ecg.errors import InputError
from edge_ecg.records import read_record


def _beats(mitdb, name: str):
    rec = read_record(mitdb / name)
    beats, _ = extract_beats(rec.signal, rec.fs, rec.beat_samples)
    windows, rr = stack_beats(beats)
    samples = np.array([b.sample for b in beats])
    nearest = np.abs(rec.beat_samples[None, :] - samples[:, None]).argmin(axis=1)
    classes = rec.beat_classes[nearest]
    return windows, rr, samples, classes, rec.fs


def test_identity_calibration_reproduces_the_featurizers_ratios(mitdb):
    """Factors of 1 leave the RR features as the featurizer made them: the same ratios, in
    the same order, so train and device calibrate alike."""
    windows, rr, *_ = _beats(mitdb, "100")
    median = np.median(windows[:, :, 0], axis=0).astype(np.float32)
    same = Calibration(median, 1.0, 1.0, len(windows))
    w, r = calibrate(windows, rr, same)
    np.testing.assert_allclose(r, rr, rtol=1e-6)
    assert np.array_equal(w[:, :, 0], windows[:, :, 0])
    assert np.allclose(w[:, :, 1], np.clip(windows[:, :, 0] - median, -CLIP, CLIP))
    assert not np.shares_memory(w, windows)  # the caller's arrays are not touched


def test_record_232_calibration_finds_the_ectopic_majority(mitdb):
    """In 232 most beats are atrial premature beats at the record's median RR; the normal
    beats of the first 5 minutes come after long pauses, so the calibration scales the RR
    median up and the ectopic beats become premature."""
    windows, rr, samples, classes, fs = _beats(mitdb, "232")
    first = samples < CALIBRATION_SECONDS * fs
    cal = fit_calibration(windows[first], rr[first], classes[first] == 0)
    assert cal.long_factor > 1.8 and cal.mean_factor > 1.2
    assert cal.beats == int(np.sum(classes[first] == 0))
    _, r = calibrate(windows, rr, cal)
    s = classes == 1
    assert np.median(r[s, 5]) < 0.6 < np.median(rr[s, 5])  # pre-RR over the long median


def test_a_sinus_record_barely_changes(mitdb):
    windows, rr, samples, classes, fs = _beats(mitdb, "100")
    first = samples < CALIBRATION_SECONDS * fs
    cal = fit_calibration(windows[first], rr[first], classes[first] == 0)
    assert 0.98 < cal.long_factor < 1.02 and 0.98 < cal.mean_factor < 1.02


def test_bad_calibrations_are_refused_by_name():
    windows = np.zeros((30, 128, 2), np.float32)
    rr = np.ones((30, 11), np.float32)
    with pytest.raises(InputError, match=f"3 normal beats .* need {MIN_NORMAL}"):
        fit_calibration(windows, rr, np.arange(30) < 3)
    with pytest.raises(InputError, match="normal flags"):
        fit_calibration(windows, rr, np.ones(5, bool))
    cal = fit_calibration(windows, rr, np.ones(30, bool))
    back = Calibration.from_dict(cal.to_dict())
    assert np.array_equal(back.median_beat, cal.median_beat) and back.beats == 30
    with pytest.raises(InputError, match=r"p\.json: not a calibration"):
        Calibration.from_dict({"median_beat": []}, "p.json")
    with pytest.raises(InputError, match="median_beat must be 128"):
        Calibration.from_dict({**cal.to_dict(), "median_beat": [0.0] * 5})
    with pytest.raises(InputError, match="outside"):
        Calibration.from_dict({**cal.to_dict(), "long_factor": 0.0})
    with pytest.raises(InputError, match="calibrate: beats of shape"):
        calibrate(np.zeros((3, 5, 2)), rr[:3], cal)
    with pytest.raises(InputError, match="record must be a record name"):
        Calibration.from_dict({**cal.to_dict(), "record": 232})


def test_a_patients_own_model_takes_only_that_patients_calibration():
    """The record a calibration was fitted on is read back; a patient-specific model (its
    manifest names the patient) refuses another's, accepts its own or one without a record."""
    cal = fit_calibration(
        np.zeros((30, 128, 2), np.float32), np.ones((30, 11), np.float32), np.ones(30, bool)
    )
    mine = Calibration.from_dict({**cal.to_dict(), "record": "232"})
    other = Calibration.from_dict({**cal.to_dict(), "record": "233"})
    assert mine.patient == "232" and cal.patient is None
    check_patient("m.tflite", "232", mine)
    check_patient("m.tflite", "232", cal)
    check_patient("m.tflite", None, other)  # the published calibrated models: any patient
    with pytest.raises(InputError, match=r"m\.tflite: patient 232's own model.*record 233's"):
        check_patient("m.tflite", "232", other)


def test_the_device_calibration_equals_the_training_one(data_dir, mitdb, tmp_path):
    """`edge-ecg calibrate` on a record gives the calibration training fitted on the same
    record's cached beats: train and device calibrate alike."""
    import json

    from click.testing import CliRunner

    from edge_ecg.calibration import read_calibration
    from edge_ecg.cli import cli
    from train.beatset import load_beats
    from train.patient_adaptive import calibration_stretch

    out = tmp_path / "232.json"
    r = CliRunner().invoke(cli, ["calibrate", str(mitdb / "232"), "--json", str(out)])
    assert r.exit_code == 0, r.output
    device = read_calibration(out)
    assert json.loads(out.read_text())["record"] == "232"
    beats = load_beats(data_dir, "DS2").select(["232"])
    first = calibration_stretch(beats)
    trained = fit_calibration(beats.windows[first], beats.rr[first], beats.labels[first] == 0)
    assert device.beats == trained.beats
    assert device.long_factor == pytest.approx(trained.long_factor, rel=1e-6)
    assert device.mean_factor == pytest.approx(trained.mean_factor, rel=1e-6)
    np.testing.assert_allclose(device.median_beat, trained.median_beat, atol=1e-6)


def test_calibration_files_and_records_that_cannot_calibrate(mitdb, tmp_path):
    from click.testing import CliRunner

    from edge_ecg.calibration import calibration_of_record, read_calibration
    from edge_ecg.cli import cli

    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    with pytest.raises(InputError, match=r"bad\.json: not a calibration"):
        read_calibration(bad)
    with pytest.raises(InputError, match="cannot read"):
        read_calibration(tmp_path / "none.json")
    rec = read_record(mitdb / "100")
    with pytest.raises(InputError, match="no confirmed beat in the first"):
        calibration_of_record(rec.signal, rec.fs, rec.beat_samples[-5:], np.ones(5, bool))
    none_normal = np.zeros(rec.beat_samples.size, bool)
    with pytest.raises(InputError, match="0 normal beats"):
        calibration_of_record(rec.signal, rec.fs, rec.beat_samples, none_normal)
    r = CliRunner().invoke(cli, ["calibrate", str(mitdb / "100")])
    assert r.exit_code == 2 and "--json PATH" in r.stderr
    r = CliRunner().invoke(cli, ["classify", str(mitdb / "100"), "--patient-calibration", str(bad)])
    assert r.exit_code == 2 and "bad.json: not a calibration" in r.stderr


def test_exported_trees_give_lightgbms_probabilities(tmp_path):
    """A 5-class booster exported as node tables and walked in numpy by the runtime's
    TreeModel (load_model on a .npz) gives LightGBM's own probabilities."""
    import lightgbm as lgb

    from edge_ecg.beat_summary import beat_summary
    from edge_ecg.errors import ModelError
    from edge_ecg.models import load_model
    from edge_ecg.tree_model import KIND
    from train.tree_export import tree_tables, write_trees

    rng = np.random.default_rng(0)
    windows = rng.normal(size=(3000, 128, 2)).astype(np.float32)
    rr = rng.uniform(0.3, 2, size=(3000, 11)).astype(np.float32)
    x = beat_summary(windows, rr)
    y = np.digitize(x[:, 0] + x[:, 20] * x[:, 30], [-1.5, -0.5, 0.5, 1.5])
    params = {"objective": "multiclass", "num_class": 5, "num_leaves": 15, "verbose": -1}
    booster = lgb.train({**params, "seed": 0}, lgb.Dataset(x, y), 30)
    path = tmp_path / "trees.npz"
    write_trees(tree_tables(booster), path, kind=KIND, calibrated=False)
    model = load_model(path)
    ours = model.predict(windows[:500], rr[:500])
    assert ours.dtype == np.float32 and ours.shape == (500, 5)
    assert np.allclose(ours, booster.predict(x[:500]), atol=1e-6)
    assert model.predict(windows[:0], rr[:0]).shape == (0, 5)
    with pytest.raises(ModelError, match="not trained on patient-calibrated"):
        load_model(path, calibrated=True)
    write_trees(tree_tables(booster), path, kind=KIND, calibrated=True)
    with pytest.raises(ModelError, match="trained on patient-calibrated inputs; give it"):
        load_model(path)
    assert load_model(path, calibrated=True).calibrated

    # trees that also read the four rhythm features (manifest "rhythm": true)
    rhythm = rng.uniform(0, 0.3, size=(3000, 4)).astype(np.float32)
    xr = np.hstack([x, rhythm])
    booster = lgb.train({**params, "seed": 1}, lgb.Dataset(xr, (y + (rhythm[:, 0] > 0.2)) % 5), 30)
    write_trees(tree_tables(booster), path, kind=KIND, calibrated=False, rhythm=True)
    model = load_model(path)
    assert model.rhythm
    got = model.predict(windows[:500], rr[:500], rhythm[:500])
    assert np.allclose(got, booster.predict(xr[:500]), atol=1e-6)
    with pytest.raises(ModelError, match="needs each beat's 4 rhythm features"):
        model.predict(windows[:5], rr[:5])


def test_a_calibrated_tree_finds_232s_ectopic_beats_where_the_plain_one_cannot(data_dir, tmp_path):
    """The patient-adaptive protocol on the record it is for: the same small tree, trained on
    DS1 with and without calibration, then run end to end on 232 (the stream detects its own
    beats; calibrated on the reference N beats of its first 5 minutes, scored after)."""
    from edge_ecg.classify import classify_record
    from edge_ecg.scoring import match_beats
    from edge_ecg.tree_model import KIND
    from train.beatset import load_beats
    from train.gbt import fit_gbt, gbt_features
    from train.patient_adaptive import calibrate_beats
    from train.tree_export import tree_tables, write_trees

    ds1 = load_beats(data_dir, "DS1")
    rec = read_record(data_dir / "mitdb" / "232")
    start = CALIBRATION_SECONDS * rec.fs
    cal = None
    se = {}
    for calibrated in (False, True):
        beats = calibrate_beats(ds1) if calibrated else ds1
        x = gbt_features(beats.windows, beats.rr)
        # all 300 rounds are exported; the hold-out (rounds to keep) is not needed here
        booster, *_ = fit_gbt(x, beats.labels, x[:1000], beats.labels[:1000], 0, 0.5)
        path = tmp_path / f"trees-{calibrated}.npz"
        write_trees(tree_tables(booster), path, kind=KIND, calibrated=calibrated)
        if calibrated:
            from edge_ecg.calibration import calibration_of_record

            cal = calibration_of_record(rec.signal, rec.fs, rec.beat_samples, rec.beat_classes == 0)
        found = classify_record(rec.signal, rec.fs, path, calibration=cal)
        samples = np.array([b.sample for b in found])
        ri, ti, _, _ = match_beats(rec.beat_samples, samples, rec.fs)
        after = rec.beat_samples[ri] >= start
        s = rec.beat_classes[ri[after]] == 1
        called = np.array([found[i].label for i in ti[after]])
        se[calibrated] = float(np.mean(called[s] == "S"))
    assert se[False] < 0.3 and se[True] > 0.5, se


def test_the_published_calibrated_trees_reproduce_their_documented_figures(data_dir):
    """`edge-ecg evaluate --model models/gbt-calibrated/trees-rhythm.npz` (patient-adaptive:
    calibrated per record, scored after minute 5, rhythm features) gives the confusion matrix
    docs/results.md reports (beat for beat on the machine that made it)."""
    import json
    from pathlib import Path

    from click.testing import CliRunner

    from edge_ecg.cli import cli

    root = Path(__file__).resolve().parent.parent
    model = root / "models" / "gbt-calibrated" / "trees-rhythm.npz"
    documented = json.loads(
        (root / "docs" / "results" / "gbt-calibrated-rhythm-DS2-reference.json").read_text()
    )
    r = CliRunner().invoke(
        cli, ["evaluate", "--model", str(model), "--data-dir", str(data_dir), "--json", "-"]
    )
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout)
    assert result["protocol"].startswith("patient-adaptive")
    # identical here; another CPU's numpy may round a feature differently and move a few beats
    moved = np.abs(np.array(result["confusion"]) - documented["confusion"]).sum()
    assert moved <= 20, moved  # of 41,487 beats
    assert result["accuracy"] == pytest.approx(documented["accuracy"], abs=5e-4)


def test_a_later_calibration_stretch_fits_on_its_own_beats(data_dir):
    """``calibrate_beats(start=...)`` (the calibration-age study) fits each record on the normal
    beats of that stretch only: record 232's calibration on minutes 10-15 equals one fitted by
    hand on those beats, and differs from the protocol's on minutes 0-5."""
    from edge_ecg.calibration import calibrate
    from train.beatset import load_beats
    from train.patient_adaptive import calibrate_beats

    beats = load_beats(data_dir, "DS2").select(["232"])
    minute = beats.samples / 360 / 60
    late = (minute >= 10) & (minute < 15)
    cal = fit_calibration(beats.windows[late], beats.rr[late], beats.labels[late] == 0)
    windows, rr = calibrate(beats.windows, beats.rr, cal)
    fresh = calibrate_beats(beats, 15 * 60, start=10 * 60)
    np.testing.assert_allclose(fresh.windows, windows, atol=1e-6)
    np.testing.assert_allclose(fresh.rr, rr, atol=1e-6)
    assert not np.allclose(calibrate_beats(beats).rr, fresh.rr)


def test_the_rhythm_rule_is_scored_for_a_calibrated_model(data_dir, tmp_path):
    """`evaluate --rhythm-rule` on the published calibrated rhythm tree: irregularity over
    whole records (a scored beat's history reaches into the calibration stretch), fewer normal
    beats called S than without the rule, the same beats scored."""
    import json
    from pathlib import Path

    from click.testing import CliRunner

    from edge_ecg.cli import cli

    tree = str(Path(__file__).resolve().parent.parent / "models/gbt-calibrated/trees-rhythm.npz")
    out = {}
    for name, extra in (("plain", []), ("rule", ["--rhythm-rule"])):
        path = tmp_path / f"{name}.json"
        r = CliRunner().invoke(
            cli,
            ["evaluate", "--data-dir", str(data_dir), "--model", tree, *extra, "--json", str(path)],
        )
        assert r.exit_code == 0, r.output
        out[name] = json.loads(path.read_text())
    plain, rule = out["plain"], out["rule"]
    assert rule["rhythm_rule"] is True and rule["protocol"] == plain["protocol"]
    assert rule["beats"] == plain["beats"]
    assert rule["confusion"][0][1] < 0.8 * plain["confusion"][0][1]
    assert rule["classes"]["S"]["ppv"] > plain["classes"]["S"]["ppv"]
