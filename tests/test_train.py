"""A tiny training run on real records: the loop runs, the loss falls, the RUN_DIR is complete."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

pytest.importorskip("tensorflow")

from train.config import RunConfig, load_config
from train.trainer import class_weights, same_config, train_run

pytestmark = [pytest.mark.data, pytest.mark.slow]


def test_tiny_fusion_run(data_dir, tmp_path):
    import keras

    config = load_config(
        None,
        arch="fusion",
        width=0.5,
        epochs=2,
        patience=5,
        records=["106", "119", "208"],
        holdout=["118"],
    )
    out = tmp_path / "run"
    metrics = train_run(config, data_dir, out, log=lambda m: None)
    history = json.loads((out / "history.json").read_text())
    losses = [e["loss"] for e in history["epochs"]]
    assert len(losses) == 2 and losses[1] < losses[0]
    for name in ("model.keras", "config.yaml", "checksums.json", "metrics.json", "holdout.json"):
        assert (out / name).is_file(), name
    assert not list(out.glob("*.tmp*")) and not (out / "state.json").exists()
    # The hold-out patient under 6 dB noise mixes (bw, em, ma), for selection without DS2.
    noise = json.loads((out / "holdout-noise.json").read_text())
    assert noise["records"] == ["118"] and noise["snr_db"] == 6.0
    assert 0 < noise["accuracy"] <= 1 and 0 < noise["clean_accuracy"] <= 1
    assert noise["drop_pp"] == pytest.approx(100 * (noise["clean_accuracy"] - noise["accuracy"]))
    assert set(noise["drop_pp_by_noise"]) == {"bw", "em", "ma"}
    assert noise["detector"]["se"] > 0.9  # 118's beats are found in most of the noise
    # DS2 metrics in the evaluate layout, over every usable DS2 beat.
    assert metrics["labels"] == ["N", "S", "V", "F", "Q"]
    assert sum(map(sum, metrics["confusion"])) == 49684
    assert "232" in metrics["records"]
    model = keras.saving.load_model(out / "model.keras", safe_mode=True)
    assert model.count_params() == history["parameters"]
    # A finished run is left alone.
    assert train_run(config, data_dir, out, log=lambda m: None) == metrics


def _tiny_run(data_dir, out, **settings):
    """Two epochs on two DS1 records (118 held out), no DS2: the loss must fall. Returns the
    saved config and the saved model, loaded in safe mode."""
    import keras

    config = load_config(
        None, width=0.5, epochs=2, patience=5, records=["106", "119"], holdout=["118"], **settings
    )
    assert train_run(config, data_dir, out, log=lambda m: None, evaluate_ds2=False) == {}
    losses = [e["loss"] for e in json.loads((out / "history.json").read_text())["epochs"]]
    assert len(losses) == 2 and losses[1] < losses[0]
    saved = yaml.safe_load((out / "config.yaml").read_text())
    return saved, keras.saving.load_model(out / "model.keras", safe_mode=True)


def test_tiny_focal_loss_run(data_dir, tmp_path):
    """focal_gamma > 0 trains with Keras' focal loss on one-hot targets; the model saves and
    loads in safe mode and the config records the choice."""
    saved, model = _tiny_run(data_dir, tmp_path / "focal", arch="cnn", focal_gamma=2.0)
    assert saved["focal_gamma"] == 2.0
    assert type(model.loss).__name__ == "CategoricalFocalCrossentropy"


def test_tiny_fake_quant_run(data_dir, tmp_path):
    """fake_quant trains with int8 fake quantization and saves a model of built-in layers only:
    the same architecture as without it, loadable in safe mode, ready for the converter."""
    from train.model import build_model

    saved, model = _tiny_run(data_dir, tmp_path / "fq", arch="fusion", fake_quant=True)
    assert saved["fake_quant"] is True
    plain = build_model("fusion", width=0.5)
    assert [type(x).__name__ for x in model.layers] == [type(x).__name__ for x in plain.layers]
    assert all(type(x).__module__.startswith("keras.") for x in model.layers)


def test_fake_quant_rounds_to_256_levels_of_a_learned_range():
    import keras

    from train.fake_quant import FakeQuant

    layer = FakeQuant()
    x = np.random.default_rng(0).normal(0, 1, (64, 32)).astype(np.float32)
    y = np.asarray(layer(x, training=True))
    low, high = float(layer.low.numpy()), float(layer.high.numpy())
    assert low == pytest.approx(x.min(), abs=1e-6) and high == pytest.approx(x.max(), abs=1e-6)
    assert len(np.unique(y)) <= 256 and 0 < np.abs(y - x).max() <= (high - low) / 255
    layer(x * 10, training=False)  # inference leaves the range alone
    assert float(layer.high.numpy()) == high
    layer(x * 10, training=True)  # training moves it a step (EMA), not all the way
    assert high < float(layer.high.numpy()) < 10 * x.max()
    relu = FakeQuant(non_negative=True)
    z = np.asarray(relu(np.abs(x), training=True))
    assert z.min() == 0 and keras.ops.convert_to_numpy(relu.low) == 0


def test_strip_fake_quant_keeps_every_weight():
    from train.fake_quant import strip_fake_quant
    from train.model import build_model

    fq = build_model("fusion", width=0.5, fake_quant=True)
    assert any(x.name.startswith("fq_") for x in fq.layers)
    rng = np.random.default_rng(1)
    for layer in fq.layers:  # weights of our own (batch norm keeps its valid variances)
        if layer.trainable_weights and not layer.name.startswith("bn"):
            layer.set_weights([rng.normal(0, 0.1, w.shape) for w in layer.get_weights()])
    windows = rng.normal(0, 0.3, (256, 128, 2)).astype(np.float32)
    rr = rng.uniform(0.5, 1.5, (256, 11)).astype(np.float32)
    fq([windows, rr], training=True)  # one training pass sets every fake-quant range
    plain = strip_fake_quant(fq, build_model("fusion", width=0.5))
    assert not any(x.name.startswith("fq_") for x in plain.layers)
    for layer in plain.layers:
        for a, b in zip(layer.get_weights(), fq.get_layer(layer.name).get_weights(), strict=True):
            assert np.array_equal(a, b)
    # the stripped float model computes what the fake-quantized one approximates
    p_fq = np.asarray(fq([windows, rr], training=False))
    p_plain = np.asarray(plain([windows, rr], training=False))
    assert 0 < np.abs(p_fq - p_plain).max() < 0.1


def test_fake_quant_is_refused_for_the_tree():
    from edge_ecg.errors import InputError

    with pytest.raises(InputError, match="fake_quant"):
        load_config(None, arch="gbt", fake_quant=True)


def test_rhythm_features_are_for_the_tree_only():
    from edge_ecg.errors import InputError

    with pytest.raises(InputError, match="rhythm_features: only the tree"):
        load_config(None, arch="fusion", rhythm_features=True)
    assert load_config(None, arch="gbt", rhythm_features=True).rhythm_features


def test_motion_noise_out_of_range_is_refused():
    from edge_ecg.errors import InputError

    with pytest.raises(InputError, match="motion_noise"):
        load_config(None, motion_noise=-0.1)


def test_focal_gamma_out_of_range_is_refused():
    from edge_ecg.errors import InputError

    with pytest.raises(InputError, match="focal_gamma"):
        load_config(None, focal_gamma=-1.0)
    with pytest.raises(InputError, match="gbt"):
        load_config(None, arch="gbt", focal_gamma=2.0)


def test_class_weights_balance_the_classes():
    labels = np.array([0] * 90 + [1] * 9 + [2] * 1)
    flat, sqrt, full = (class_weights(labels, p) for p in (0, 0.5, 1))
    assert flat == {0: pytest.approx(1), 1: pytest.approx(1), 2: pytest.approx(1)}
    counts = np.array([90, 9, 1])
    for w in (sqrt, full):  # mean weight per beat stays 1
        assert sum(w[i] * counts[i] for i in range(3)) == pytest.approx(100)
    assert full[2] * 1 == pytest.approx(full[0] * 90)  # balanced: equal total weight
    assert 3 not in full  # absent class gets no weight


def test_causality_renormalisation_on_real_records(data_dir):
    """The study's normalisations: causal is what the runtime feeds; whole-record uses
    the record's statistics for every beat; record-to-date only the beats so far;
    whole-record-N the record's beats labelled N (a label leak, measured as such)."""
    from edge_ecg.beats import CLIP, MAX_RATIO
    from train.beatset import load_beats
    from train.causality import renormalise

    beats = load_beats(data_dir, "DS1").select(["106", "223"])
    w, rr = renormalise(beats, "causal")
    assert np.array_equal(w, beats.windows) and np.array_equal(rr, beats.rr)

    w, rr = renormalise(beats, "whole-record")
    r106 = np.flatnonzero(beats.records == "106")
    pre = beats.rr[r106, 0].astype(np.float64)
    assert np.allclose(rr[r106, 3], np.median(pre)) and np.allclose(rr[r106, 4], pre.mean())
    median_beat = np.median(beats.windows[r106, :, 0].astype(np.float64), 0)
    dev = np.clip(beats.windows[r106, :, 0] - median_beat, -CLIP, CLIP)
    assert np.allclose(w[r106, :, 1], dev, atol=1e-5)
    assert np.array_equal(w[:, :, 0], beats.windows[:, :, 0])  # the beat channel is untouched
    ratio = np.clip(pre / np.median(pre), 0, MAX_RATIO)
    assert np.allclose(rr[r106, 5], ratio, atol=1e-5)
    # 106 has many V beats: its whole-record statistics differ from the running ones
    assert not np.allclose(rr[r106, 3], beats.rr[r106, 3])

    w, rr = renormalise(beats, "record-to-date")
    order = r106[np.argsort(beats.samples[r106])]
    pre = beats.rr[order, 0].astype(np.float64)
    assert rr[order[0], 3] == np.float32(pre[0]) and rr[order[0], 4] == np.float32(pre[0])
    assert np.isclose(rr[order[-1], 4], pre.mean()) and np.isclose(rr[order[-1], 3], np.median(pre))
    assert np.isclose(rr[order[99], 3], np.median(pre[:100]))
    # its first beats keep the running median beat, so the deviation channel is unchanged there
    assert np.allclose(w[order[:16], :, 1], beats.windows[order[:16], :, 1], atol=1e-5)

    # the label leak: statistics over the beats labelled N only (106's many V beats left out)
    w, rr = renormalise(beats, "whole-record-N")
    normal = beats.labels[r106] == 0
    assert 0 < normal.sum() < r106.size
    pre = beats.rr[r106, 0].astype(np.float64)
    assert np.allclose(rr[r106, 3], np.median(pre[normal]))
    assert np.allclose(rr[r106, 4], pre[normal].mean())
    median_n = np.median(beats.windows[r106[normal], :, 0].astype(np.float64), 0)
    dev = np.clip(beats.windows[r106, :, 0] - median_n, -CLIP, CLIP)
    assert np.allclose(w[r106, :, 1], dev, atol=1e-5)
    assert not np.allclose(rr[r106, 4], renormalise(beats, "whole-record")[1][r106, 4])


def test_a_run_written_before_a_setting_existed_still_resumes(tmp_path):
    """config.yaml of an older run lacks settings added since (focal_gamma); their defaults
    are what it ran with, so it matches; a real difference does not."""
    config = RunConfig(arch="fusion", seed=3)
    older = config.to_dict()
    del older["focal_gamma"]
    saved = tmp_path / "config.yaml"
    saved.write_text(yaml.safe_dump(older))
    assert same_config(saved, config)
    assert not same_config(saved, RunConfig(arch="fusion", seed=4))
    assert not same_config(saved, RunConfig(arch="fusion", seed=3, focal_gamma=2.0))
    saved.write_text(yaml.safe_dump({**older, "retired_setting": 1}))
    assert not same_config(saved, config)


def test_tiny_calibrated_run_is_marked_and_refused_where_inputs_are_not(data_dir, tmp_path):
    """calibrated: true trains on patient-calibrated inputs (fake quantization stripped as
    usual); the saved model says so in its name, so evaluate, convert and the runtime refuse
    it rather than feed it uncalibrated beats, and a calibrated reader refuses a plain one."""
    from edge_ecg.calibration import CALIBRATED_SUFFIX
    from edge_ecg.errors import ModelError
    from edge_ecg.models import KerasModel, load_model

    out = tmp_path / "cal"
    saved, model = _tiny_run(data_dir, out, arch="cnn", calibrated=True, fake_quant=True)
    assert saved["calibrated"] is True and model.name.endswith(CALIBRATED_SUFFIX)
    with pytest.raises(ModelError, match="trained on patient-calibrated inputs; give it"):
        load_model(out / "model.keras")
    assert KerasModel(out / "model.keras", calibrated=True).predict(
        np.zeros((2, 128, 2), np.float32), np.ones((2, 11), np.float32)
    ).shape == (2, 5)
    _tiny_run(data_dir, tmp_path / "plain", arch="cnn")
    with pytest.raises(ModelError, match="not trained on patient-calibrated inputs"):
        KerasModel(tmp_path / "plain" / "model.keras", calibrated=True)

    # Converted, the manifest carries the mark and the runtime asks for a calibration.
    from click.testing import CliRunner

    from convert.converter import Options, convert_keras_model
    from edge_ecg.calibration import CALIBRATION_SECONDS, fit_calibration
    from edge_ecg.classify import Classifier, classify_record
    from edge_ecg.cli import cli
    from edge_ecg.records import read_record
    from train.beatset import load_beats
    from train.patient_adaptive import calibrate_beats

    ds1 = calibrate_beats(load_beats(data_dir, "DS1").select(["106", "118", "119"]))
    (result,) = convert_keras_model(
        out / "model.keras", ["int8"], tmp_path / "tflite", ds1, Options(calib_size=100)
    )
    assert json.loads(result.manifest.read_text())["calibrated"] is True
    with pytest.raises(ModelError, match="give it a patient calibration"):
        Classifier(result.path)
    r = CliRunner().invoke(cli, ["classify", str(data_dir / "mitdb" / "100"), "--model",
                                 str(result.path)])  # fmt: skip
    assert r.exit_code == 2 and "give it a patient calibration" in r.stderr
    rec = read_record(data_dir / "mitdb" / "100")
    plain = classify_record(rec.signal[: 20 * 360], rec.fs)  # the shipped model, no calibration
    early = ds1.samples < CALIBRATION_SECONDS * 360
    cal = fit_calibration(ds1.windows[early], ds1.rr[early], ds1.labels[early] == 0)
    beats = classify_record(rec.signal[: 20 * 360], rec.fs, result.path, calibration=cal)
    assert [b.sample for b in beats] == [b.sample for b in plain]  # the same beats found
    with pytest.raises(ModelError, match="not trained on patient-calibrated"):
        classify_record(rec.signal[: 20 * 360], rec.fs, calibration=cal)


def test_train_help_lists_every_setting_in_yaml_a_config_can_take():
    """The settings in `edge-ecg train --help` parse as YAML back to RunConfig's defaults
    (`records: null`, not the string "None")."""
    import dataclasses

    from click.testing import CliRunner

    from edge_ecg.cli import cli

    result = CliRunner().invoke(cli, ["train", "--help"])
    assert result.exit_code == 0, result.output
    listed = result.output.split("Settings a --config YAML may hold")[1].splitlines()[1:]
    parsed = {}
    for line in listed:
        if line.strip():
            parsed.update(yaml.safe_load(line.strip()))
    assert parsed == dataclasses.asdict(RunConfig())


def test_motion_waves_are_slow_bounded_and_on_half_the_beats():
    from edge_ecg.spec import FS, WINDOW
    from train.trainer import motion_waves

    waves = motion_waves(np.random.default_rng(0), 4000, WINDOW, 0.15)
    assert waves.shape == (4000, WINDOW)
    rms = np.sqrt(np.mean(waves**2, axis=1))
    assert 0.4 < np.mean(rms == 0) < 0.6  # half the beats untouched
    assert rms.max() <= 0.15 + 1e-9 and rms[rms > 0].min() >= 0
    spectrum = np.abs(np.fft.rfft(waves[rms > 0.05], n=8 * WINDOW, axis=1)) ** 2
    freqs = np.fft.rfftfreq(8 * WINDOW, 1 / FS)
    share_below_15hz = spectrum[:, freqs <= 15].sum() / spectrum.sum()
    assert share_below_15hz > 0.95  # electrode-motion-like: slow, not white


def test_augment_without_motion_draws_what_it_always_drew():
    """Runs trained before motion_noise existed stay bit-identical when it is 0."""
    from train.trainer import augment

    windows = np.random.default_rng(1).normal(size=(50, 128, 2)).astype(np.float32)
    rng = np.random.default_rng(7)
    expected = (
        windows * (1 + rng.uniform(-0.1, 0.1, size=(50, 1, 1)))
        + rng.normal(0, 0.02, size=(50, 128, 1))
    ).astype(np.float32)
    got = augment(windows, np.random.default_rng(7), 0.1, 0.02)
    assert np.array_equal(got, expected)
    moved = augment(windows, np.random.default_rng(7), 0.1, 0.02, motion=0.15)
    assert not np.array_equal(moved, expected)
    coloured = augment(windows, np.random.default_rng(7), 0.1, 0.02, colored=0.6)
    assert not np.array_equal(coloured, expected)
    # the same noise on both channels (one raw beat): their difference is untouched
    only = augment(windows, np.random.default_rng(7), 0.0, 0.0, colored=0.6)
    assert not np.array_equal(only, windows)
    assert np.allclose(only[..., 0] - only[..., 1], windows[..., 0] - windows[..., 1], atol=1e-5)


def test_colored_noise_has_the_band_and_levels_of_electrode_motion():
    """Levels log-uniform from COLORED_MIN to the setting on half the beats; power mostly
    below 17 Hz, nothing above the band, no DC (it must not shift the beat)."""
    from edge_ecg.spec import FS, WINDOW
    from train.config import COLORED_MIN
    from train.trainer import COLORED_BAND, colored_noise

    rows = colored_noise(np.random.default_rng(0), 4000, WINDOW, 0.6)
    assert rows.shape == (4000, WINDOW)
    rms = np.sqrt(np.mean(rows**2, axis=1))
    assert 0.4 < np.mean(rms == 0) < 0.6
    on = rms[rms > 0]
    assert on.min() >= COLORED_MIN - 1e-9 and on.max() <= 0.6 + 1e-9
    # log-uniform: the median level is the geometric mean of the bounds
    assert np.median(on) == pytest.approx(np.sqrt(COLORED_MIN * 0.6), rel=0.1)
    assert np.abs(rows.mean(axis=1)).max() < 1e-9
    spectrum = np.abs(np.fft.rfft(rows, axis=1)) ** 2
    freqs = np.fft.rfftfreq(WINDOW, 1 / FS)
    assert spectrum[:, freqs > COLORED_BAND[1] + 1e-9].sum() < 1e-12 * spectrum.sum()
    share = np.cumsum(spectrum.sum(0)) / spectrum.sum()
    assert 2.0 < freqs[np.searchsorted(share, 0.5)] < 8.0
    assert 10.0 < freqs[np.searchsorted(share, 0.9)] < 20.0


def test_colored_noise_out_of_range_is_refused():
    from edge_ecg.errors import InputError

    for bad in (-0.1, 0.01, 3.0):
        with pytest.raises(InputError, match="colored_noise"):
            load_config(None, colored_noise=bad)
    assert load_config(None, colored_noise=0.6).colored_noise == 0.6


def _beats_at(samples_by_record: dict[str, np.ndarray]):
    from train.beatset import BeatSet

    samples = np.concatenate(list(samples_by_record.values())).astype(np.int64)
    records = np.concatenate([[r] * len(s) for r, s in samples_by_record.items()])
    n = samples.size
    return BeatSet(np.zeros((n, 1, 1)), np.zeros((n, 1)), np.zeros(n, np.int64), records,
                   samples, {})  # fmt: skip


def test_rhythm_features_tell_fibrillation_from_sinus_rhythm_causally():
    """Regular RR reads 0; irregular RR (as in atrial fibrillation) reads high; an isolated
    premature beat barely moves the medians; a beat's features never see a later beat."""
    from train.rhythm import MITDB_FS, rhythm_features

    rng = np.random.default_rng(0)
    regular = np.cumsum(np.full(60, 0.8 * MITDB_FS))
    ectopic = regular.copy()
    ectopic[40] -= 0.3 * MITDB_FS  # one premature beat
    irregular = np.cumsum(rng.uniform(0.4, 1.2, 60) * MITDB_FS)
    beats = _beats_at({"a": regular, "b": ectopic, "c": irregular})
    f = rhythm_features(beats)
    a, b, c = f[:60], f[60:120], f[120:]
    assert np.all(a == 0)
    assert np.all(b[35:, :3] < 0.01)  # medians shrug off one ectopic beat
    assert b[41, 3] > 0 and np.all(c[40:, :3] > 0.1) and np.all(c[40:, 3] > 0.5)
    assert np.all(f[[0, 60, 120]] == 0)  # no history yet
    # causal: moving the last beat changes no earlier beat's features
    later = _beats_at({"c": np.concatenate([irregular[:-1], [irregular[-1] + 500]])})
    assert np.array_equal(rhythm_features(later)[:-1], c[:-1])


def test_the_rhythm_rule_turns_only_s_into_n_and_only_where_irregular():
    from train.rhythm_rule import suppress_s

    pred = np.array([0, 1, 1, 2, 1, 3])
    irregular = np.array([0.5, 0.5, 0.05, 0.5, 0.1, 0.5])
    assert suppress_s(pred, irregular, None).tolist() == pred.tolist()
    assert suppress_s(pred, irregular, 0.1).tolist() == [0, 0, 1, 2, 1, 3]
    assert pred.tolist() == [0, 1, 1, 2, 1, 3]  # the input is left alone


def test_the_runtime_walks_the_artefact_trees_as_lightgbm_does(tmp_path):
    """The check's trees, exported as node tables and walked in numpy by the runtime, give
    LightGBM's own probabilities."""
    import lightgbm as lgb

    from edge_ecg.artifact import KIND, ArtifactCheck
    from edge_ecg.beat_summary import N_SUMMARY
    from edge_ecg.manifest import write_manifest
    from train.tree_export import tree_tables

    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, N_SUMMARY))
    y = (x[:, 0] + 0.5 * x[:, 5] * x[:, 7] + 0.3 * rng.normal(size=3000) > 0.4).astype(int)
    booster = lgb.train({"objective": "binary", "num_leaves": 15, "verbose": -1, "seed": 0},
                        lgb.Dataset(x, y), 40)  # fmt: skip
    path = tmp_path / "check.npz"
    np.savez_compressed(path, **tree_tables(booster))
    write_manifest(path, kind=KIND, threshold=0.9)
    test = rng.normal(size=(500, N_SUMMARY))
    ours = ArtifactCheck(path).probability_of(test)
    assert np.allclose(ours, booster.predict(test), atol=1e-9)
