"""edge-ecg convert / inspect / validate on a small model trained here on real DS1 beats.

One tiny fusion model is trained once per session (1 epoch, a few thousand beats) and
converted once in every precision with --c-array; the tests read those files.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from convert.validate import Thresholds, gate_failures, probability_drift
from edge_ecg.cli import cli
from edge_ecg.errors import ModelError

pytest.importorskip("tensorflow")
pytest.importorskip("tflite_micro")

TRAIN_BEATS = 4000


def on_data(test):
    """Needs the PhysioNet data and takes seconds to minutes."""
    return pytest.mark.data(pytest.mark.slow(test))


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def ds1(data_dir):
    from train.beatset import load_beats

    return load_beats(data_dir, "DS1")


def _sample(beats, n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).choice(len(beats), size=n, replace=False)


@pytest.fixture(scope="module")
def run_dir(ds1, tmp_path_factory):
    """RUN_DIR/model.keras: fusion at width 0.5, one epoch on a few thousand DS1 beats."""
    import keras

    from train.model import build_model

    keras.utils.set_random_seed(0)
    pick = _sample(ds1, TRAIN_BEATS, 0)
    model = build_model(
        "fusion",
        width=0.5,
        rr_mean=ds1.rr.mean(0),
        rr_var=ds1.rr.var(0),
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit([ds1.windows[pick], ds1.rr[pick]], ds1.labels[pick], epochs=1, verbose=0)
    out = tmp_path_factory.mktemp("runs") / "tiny"
    out.mkdir()
    model.save(out / "model.keras")
    (out / "checksums.json").write_text(json.dumps(ds1.checksums))
    return out


@pytest.fixture(scope="module")
def converted(run_dir, data_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("models")
    code, _, err = run(
        "convert", run_dir / "model.keras", "--float32", "--fp16", "--dynamic", "--int8",
        "--c-array", "--calib-size", "300", "--data-dir", data_dir, "--out-dir", out,
        "--json", out / "convert.json",
    )  # fmt: skip
    assert code == 0, err
    return out


def manifest(converted, mode: str) -> dict:
    return json.loads((converted / f"tiny-{mode}.manifest.json").read_text())


@on_data
def test_every_mode_written_with_manifest(converted, run_dir):
    from edge_ecg.manifest import sha256_bytes

    summary = json.loads((converted / "convert.json").read_text())
    assert [f["precision"] for f in summary["files"]] == ["float32", "fp16", "dynamic", "int8"]
    source = sha256_bytes((run_dir / "model.keras").read_bytes())
    for mode in ("float32", "fp16", "dynamic", "int8"):
        m = manifest(converted, mode)
        assert m["precision"] == mode
        assert m["source"]["sha256"] == source
        assert m["training_data"] == json.loads((run_dir / "checksums.json").read_text())
        assert {"tensorflow", "keras"} <= set(m["converter"])
        assert set(m["quantization"]) == {"window", "rr", "probs"}
        assert m["command"].startswith("edge-ecg convert ")
        assert m["ops"] and m["stateless"] is True
        # No Flex ops, no loops, no state: the file runs on any TFLite interpreter.
        assert not [op for op in m["ops"] if op.startswith("Flex") or op == "WHILE"]
        assert not {"VAR_HANDLE", "READ_VARIABLE", "ASSIGN_VARIABLE"} & set(m["ops"])
    assert manifest(converted, "float32")["check"]["max_abs_diff_vs_keras"] < 1e-4
    calibration = manifest(converted, "int8")["calibration"]
    assert calibration["split"] == "DS1" and all(calibration["per_class"].values())


@on_data
def test_int8_is_full_integer_and_small(converted):
    from convert.graph import check_ops

    m = manifest(converted, "int8")
    assert {q["dtype"] for q in m["quantization"].values()} == {"int8"}
    assert m["quantization"]["window"]["scale"] > 0
    ops = check_ops((converted / "tiny-int8.tflite").read_bytes(), "int8")  # every op int8
    # Layout ops are bytes for nothing: the channel pick is one slice (no TRANSPOSE), and
    # attention works on the BiLSTM's rows (the only RESHAPEs: conv0's input, the scores).
    assert "TRANSPOSE" not in ops and ops.get("RESHAPE", 0) == 2, ops
    float_bytes = (converted / "tiny-float32.tflite").stat().st_size
    int8_bytes = (converted / "tiny-int8.tflite").stat().st_size
    # Half-width model: fixed per-op costs dominate, so less than the 4x of the weights.
    assert int8_bytes < 0.7 * float_bytes


def test_int8_softmax_writes_int16_then_quantizes_back(converted):
    """ARM builds of LiteRT run int8->int8 SOFTMAX on another table than x86; int16 out does not."""
    from tensorflow.lite.tools import flatbuffer_utils

    from convert.softmax import INT16_SOFTMAX_SCALE, INT16_SOFTMAX_ZERO_POINT

    model = flatbuffer_utils.read_model(str(converted / "tiny-int8.tflite"))
    graph = model.subgraphs[0]
    names = [flatbuffer_utils.opcode_to_name(model, op.opcodeIndex) for op in graph.operators]
    softmaxes = [i for i, name in enumerate(names) if name == "SOFTMAX"]
    assert len(softmaxes) == 2, names  # attention over the steps, and the class output
    for i in softmaxes:
        wide = graph.tensors[graph.operators[i].outputs[0]]
        assert flatbuffer_utils.type_to_name(wide.type) == "INT16"
        assert wide.quantization.scale.tolist() == [np.float32(INT16_SOFTMAX_SCALE)]
        assert wide.quantization.zeroPoint.tolist() == [INT16_SOFTMAX_ZERO_POINT]
        readers = [
            j for j, op in enumerate(graph.operators) if graph.operators[i].outputs[0] in op.inputs
        ]
        assert [names[j] for j in readers] == ["QUANTIZE"]
        back = graph.tensors[graph.operators[readers[0]].outputs[0]]
        assert flatbuffer_utils.type_to_name(back.type) == "INT8"


@on_data
def test_stateless_same_beat_same_output(converted, ds1):
    from edge_ecg.interpreter import TFLiteModel

    model = TFLiteModel(converted / "tiny-int8.tflite")
    pick = _sample(ds1, 3, 7)
    w, r = ds1.windows[pick], ds1.rr[pick]
    first = model.predict(w[:1], r[:1])
    model.predict(w[1:], r[1:])
    assert np.array_equal(first, model.predict(w[:1], r[:1]))


@on_data
def test_export_copy_matches_keras_for_every_arch(ds1):
    """The export copy (unrolled joined BiLSTM, rows for attention, the channel pick as a
    slice) reproduces Keras for every arch and channel choice."""
    import keras

    from convert.export import ExportModel, check_export
    from train.model import build_model

    pick = _sample(ds1, 40, 3)
    cases = [(arch, (0, 1)) for arch in ("cnn", "cnn_bilstm", "fusion")]
    cases += [("fusion", (0,)), ("fusion", (1,))]  # the channel pick, both ways round
    for arch, channels in cases:
        keras.utils.set_random_seed(1)
        model = build_model(arch, width=0.5, channels=channels)
        # Random non-trivial BatchNorm statistics, so folding them is exercised too.
        for layer in model.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                mean, var = layer.moving_mean, layer.moving_variance
                mean.assign(np.random.default_rng(0).normal(0, 0.1, mean.shape))
                var.assign(np.random.default_rng(1).uniform(0.5, 2, var.shape))
        export = ExportModel(model)
        assert check_export(model, export, ds1.windows[pick], ds1.rr[pick], atol=1e-5) < 1e-5


def test_export_rewrites_only_what_it_reproduces():
    """A Dot with normalize=True (cosine) over the BiLSTM's rows is not the plain matmul the
    export writes for attention pooling: it must fall back to the Keras layer and still match."""
    import keras
    from keras import layers

    from convert.export import ExportModel, check_export
    from edge_ecg.spec import CHANNELS, N_RR, WINDOW

    keras.utils.set_random_seed(0)
    window, rr = keras.Input((WINDOW, CHANNELS), name="window"), keras.Input((N_RR,), name="rr")
    x = layers.MaxPooling1D(16)(layers.Conv1D(8, 5, padding="same")(window))
    seq = layers.Bidirectional(layers.LSTM(4, return_sequences=True))(x)
    weights = layers.Softmax()(layers.Flatten()(layers.Dense(1)(seq)))
    pooled = layers.Dot(axes=1, normalize=True)([weights, seq])
    out = layers.Dense(5, activation="softmax")(layers.Concatenate()([pooled, rr]))
    model = keras.Model([window, rr], out)
    rng = np.random.default_rng(0)
    windows = rng.normal(size=(8, WINDOW, CHANNELS)).astype(np.float32)
    feats = rng.normal(size=(8, N_RR)).astype(np.float32)
    assert check_export(model, ExportModel(model), windows, feats) < 1e-5


@on_data
def test_other_archs_convert_to_int8(ds1, tmp_path):
    import keras

    from convert.converter import Options, convert_keras_model
    from train.model import build_model

    for arch in ("cnn", "cnn_bilstm"):
        keras.utils.set_random_seed(2)
        build_model(arch, width=0.5).save(tmp_path / f"{arch}.keras")
        (result,) = convert_keras_model(
            tmp_path / f"{arch}.keras", ["int8"], tmp_path, ds1, Options(calib_size=100)
        )
        assert result.path.name == f"{arch}-int8.tflite"
        assert ("UNIDIRECTIONAL_SEQUENCE_LSTM" in result.ops) is False
        assert ("FULLY_CONNECTED" in result.ops) and "WHILE" not in result.ops


def _scales_by_role(data: bytes) -> dict[str, set[float]]:
    """Recurrent role (export.ROLES) -> the distinct int8 scales of its tensors over the steps."""
    import re

    from tensorflow.lite.tools import flatbuffer_utils

    from convert.export import ROLES

    model = flatbuffer_utils.read_model_from_bytearray(bytearray(data))
    scales: dict[str, set[float]] = {}
    for tensor in model.subgraphs[0].tensors:
        for role in ROLES:
            if re.fullmatch(rf"{role}(_\d+)?", tensor.name.decode()):
                scales.setdefault(role, set()).add(float(tensor.quantization.scale[0]))
    return scales


@on_data
def test_recurrent_ranges_shared_across_steps(run_dir, ds1):
    import keras

    from convert.calibration import calibration_set
    from convert.export import ROLES, ExportModel
    from convert.int8 import PER_STEP_ROLES, int8_tflite
    from convert.packing import compact
    from convert.tflite import frozen_function

    model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True, compile=False)
    frozen = frozen_function(ExportModel(model))
    calibration = calibration_set(ds1.windows, ds1.rr, ds1.labels, 100, 0)
    shared = int8_tflite(frozen, calibration, step_ranges="shared")
    per_step = int8_tflite(frozen, calibration, step_ranges="per-step")
    # One scale per recurrent quantity over all 8 steps, as a fused LSTM kernel would have,
    # except the cell state and f*c, whose range grows with the step...
    scales = {role: len(s) for role, s in _scales_by_role(shared).items()}
    assert set(scales) == set(ROLES)
    assert {r: n for r, n in scales.items() if r not in PER_STEP_ROLES} == {
        r: 1 for r in ROLES if r not in PER_STEP_ROLES
    }
    assert all(scales[r] > 1 for r in PER_STEP_ROLES)
    # ...where per-step ranges give the steps their own scales, and a bigger file.
    assert max(len(s) for s in _scales_by_role(per_step).values()) > 1
    assert len(compact(shared)) < len(compact(per_step))


def _distinct_tensor_tables(data: bytes) -> tuple[int, int]:
    """(tensor entries, distinct tensor tables) of the first subgraph, by flatbuffer offset."""
    from tensorflow.lite.python import schema_py_generated as schema

    graph = schema.Model.GetRootAsModel(data, 0).Subgraphs(0)
    offsets = [graph.Tensors(j)._tab.Pos for j in range(graph.TensorsLength())]
    return len(offsets), len(set(offsets))


@on_data
def test_compact_shares_tensor_tables_and_drops_provenance(run_dir, ds1):
    """Packing: fewer bytes, one table per kind of data-less tensor, the same outputs."""
    import keras
    from tensorflow.lite.tools import flatbuffer_utils

    from convert.calibration import calibration_set
    from convert.export import ExportModel
    from convert.int8 import int8_tflite
    from convert.packing import compact
    from convert.tflite import frozen_function

    model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True, compile=False)
    calibration = calibration_set(ds1.windows, ds1.rr, ds1.labels, 100, 0)
    raw = int8_tflite(frozen_function(ExportModel(model)), calibration)
    packed = compact(raw)
    assert len(packed) < len(raw)

    def metadata(data: bytes) -> set:
        model = flatbuffer_utils.read_model_from_bytearray(bytearray(data))
        return {m.name for m in model.metadata or []}

    assert b"CONVERSION_METADATA" in metadata(raw)
    assert metadata(packed) == metadata(raw) - {b"CONVERSION_METADATA"}
    entries, tables = _distinct_tensor_tables(raw)
    assert entries == tables
    entries_packed, tables_packed = _distinct_tensor_tables(packed)
    assert entries_packed == entries and tables_packed < entries
    # Every interpreter entry is still its own tensor: the outputs on real beats are the same.
    beats = _sample(ds1, 64, 3)
    outputs = [_outputs_of(data, ds1.windows[beats], ds1.rr[beats]) for data in (raw, packed)]
    np.testing.assert_array_equal(*outputs)


def _outputs_of(data: bytes, windows: np.ndarray, rr: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=data)
    interp.allocate_tensors()
    out = interp.get_output_details()[0]["index"]
    rows = []
    for b in range(len(windows)):
        for detail in interp.get_input_details():
            source = windows if len(detail["shape"]) == 3 else rr
            scale, zero = detail["quantization"]
            x = source[b : b + 1]
            if detail["dtype"] == np.int8:
                x = np.clip(np.round(x / scale) + zero, -128, 127).astype(np.int8)
            interp.set_tensor(detail["index"], x)
        interp.invoke()
        rows.append(interp.get_tensor(out).copy())
    return np.concatenate(rows)


@on_data
def test_window_range_covers_only_the_channels_read(run_dir, ds1):
    import keras

    from convert.calibration import calibration_set
    from convert.export import ExportModel
    from convert.int8 import activation_ranges, read_channels
    from convert.tflite import frozen_function, to_tflite
    from train.model import build_model

    calibration = calibration_set(ds1.windows, ds1.rr, ds1.labels, 100, 0)
    w, rr = calibration.windows, calibration.rr
    model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True, compile=False)
    float_model = to_tflite(frozen_function(ExportModel(model)), "float32")
    assert read_channels(float_model, w, rr) == [1]  # the deviation from the median beat
    low, high = activation_ranges(float_model, w, rr, 99.0)["window"]
    assert (low, high) == pytest.approx(
        (np.percentile(w[..., 1].min(1), 1), np.percentile(w[..., 1].max(1), 99)), rel=1e-5
    )
    both = build_model("cnn", width=0.5, channels=(0, 1))
    assert read_channels(to_tflite(frozen_function(ExportModel(both)), "float32"), w, rr) == [0, 1]


@on_data
def test_int8_matches_float_on_real_beats(converted, run_dir, data_dir, tmp_path):
    code, _, _ = run(
        "validate", "--reference", run_dir / "model.keras",
        "--candidate", converted / "tiny-int8.tflite", "--data-dir", data_dir,
        "--min-agreement", "98", "--max-acc-drop", "1", "--max-class-se-drop", "5",
        "--json", tmp_path / "gate.json", "--md", tmp_path / "gate.md",
    )  # fmt: skip
    report = json.loads((tmp_path / "gate.json").read_text())
    assert code == 0, report["failures"]
    assert report["passed"] and report["failures"] == []
    assert report["reference"]["beats"] == report["candidate"]["beats"] > 40_000
    assert set(report["probabilities"]) == {"cosine", "rmse", "max_abs", "snr_db", "kl"}
    assert report["probabilities"]["cosine"] > 0.99
    assert set(report["delta"]["classes"]["N"]) == {"se", "ppv"}
    assert "Drift gate: PASSED" in (tmp_path / "gate.md").read_text()


@on_data
def test_float32_file_is_the_keras_model(converted, run_dir, data_dir, tmp_path):
    code, _, _ = run(
        "validate", "--reference", run_dir / "model.keras",
        "--candidate", converted / "tiny-float32.tflite", "--data-dir", data_dir,
        "--split", "DS1", "--min-agreement", "99.99", "--json", tmp_path / "gate.json",
    )  # fmt: skip
    report = json.loads((tmp_path / "gate.json").read_text())
    assert code == 0 and report["probabilities"]["max_abs"] < 1e-4


@on_data
def test_gate_fails_on_damaged_candidate(run_dir, data_dir, ds1, tmp_path):
    """Weights perturbed before conversion: the gate must say no, with exit code 1."""
    import keras

    model = keras.saving.load_model(run_dir / "model.keras", safe_mode=True)
    probs = model.get_layer("probs")
    probs.bias.assign(np.asarray(probs.bias) + np.array([0, 4, 0, 0, 0], np.float32))
    damaged = tmp_path / "damaged.keras"
    model.save(damaged)
    code, _, err = run(
        "convert", damaged, "--float32", "--data-dir", data_dir, "--out-dir", tmp_path
    )
    assert code == 0, err
    code, _, err = run(
        "validate", "--reference", run_dir / "model.keras",
        "--candidate", tmp_path / "damaged-float32.tflite", "--data-dir", data_dir,
        "--json", tmp_path / "gate.json",
    )  # fmt: skip
    report = json.loads((tmp_path / "gate.json").read_text())
    assert code == 1
    assert not report["passed"] and any("agreement" in f for f in report["failures"])
    assert "gate FAILED" in err


@on_data
def test_per_layer_ranks_tensors_of_the_shipped_file(converted, run_dir, data_dir, tmp_path):
    code, _, _ = run(
        "validate", "--reference", run_dir / "model.keras",
        "--candidate", converted / "tiny-int8.tflite", "--data-dir", data_dir,
        "--min-agreement", "0", "--max-acc-drop", "100", "--max-class-se-drop", "100",
        "--per-layer", "--json", tmp_path / "gate.json",
    )  # fmt: skip
    layers = json.loads((tmp_path / "gate.json").read_text())["per_layer"]
    assert code == 0
    assert layers["matches_candidate"] is True
    assert layers["ranked_by"] == "local_rmse_steps" and len(layers["tensors"]) > 20
    ranked = [t["local_rmse_steps"] or 0 for t in layers["tensors"]]
    assert ranked == sorted(ranked, reverse=True)
    assert {"tensor", "op", "rmse", "cosine", "rmse_steps"} <= set(layers["tensors"][0])


@on_data
@pytest.mark.slow
def test_per_layer_rebuilds_a_calibrated_models_int8_file_byte_for_byte(data_dir, tmp_path):
    """A calibrated model's int8 ranges were measured on calibrated DS1 beats, and the file has
    float I/O; --per-layer rebuilds it the same way, so its debug copy is the published file's
    bytes (before session 19 it used uncalibrated beats and int8 I/O: the ranking described
    another file, under a warning)."""
    models = Path(__file__).resolve().parent.parent / "models" / "fusion-calibrated"
    code, _, _ = run(
        "validate", "--reference", models / "model.keras",
        "--candidate", models / "tflite" / "fusion-calibrated-int8-floatio.tflite",
        "--data-dir", data_dir, "--min-agreement", "0", "--max-acc-drop", "100",
        "--max-class-se-drop", "100", "--per-layer", "--json", tmp_path / "gate.json",
    )  # fmt: skip
    assert code == 0
    assert json.loads((tmp_path / "gate.json").read_text())["per_layer"]["matches_candidate"]


@on_data
def test_inspect_json(converted):
    code, out, _ = run("inspect", converted / "tiny-int8.tflite", "--json", "-")
    report = json.loads(out)
    assert code == 0
    assert {
        "file", "bytes", "sha256", "manifest", "ops", "op_count", "tensors", "inputs",
        "outputs", "parameters", "parameter_bytes", "macs", "macs_by_op",
    } <= set(report)  # fmt: skip
    assert report["manifest"] == {"verified": True, "precision": "int8"}
    assert {p["dtype"] for p in report["inputs"] + report["outputs"]} == {"int8"}
    assert report["parameters"] > 1000 and report["macs"] > report["parameters"]
    assert report["macs_by_op"]["CONV_2D"] > 0 and report["op_count"] == sum(report["ops"].values())


@on_data
def test_tampered_file_is_refused(converted, tmp_path, data_dir, run_dir):
    from edge_ecg.interpreter import TFLiteModel

    for name in ("tiny-int8.tflite", "tiny-int8.manifest.json"):
        shutil.copy(converted / name, tmp_path / name)
    model = tmp_path / "tiny-int8.tflite"
    data = bytearray(model.read_bytes())
    data[-100] ^= 0xFF
    model.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="sha256"):
        TFLiteModel(model)
    code, _, err = run(
        "validate", "--reference", run_dir / "model.keras", "--candidate", model,
        "--data-dir", data_dir,
    )  # fmt: skip
    assert code == 2 and "sha256" in err


@on_data
def test_bad_files_exit_2(tmp_path, run_dir, data_dir):
    text = tmp_path / "notes.tflite"
    text.write_text("not a model")
    broken = tmp_path / "broken.keras"
    broken.write_bytes(b"PK\x03\x04 truncated zip")
    cases = [
        ("inspect", text),
        ("inspect", tmp_path / "missing.tflite"),
        ("convert", broken, "--int8", "--data-dir", data_dir, "--out-dir", tmp_path),
        ("convert", text, "--int8", "--data-dir", data_dir, "--out-dir", tmp_path),
        ("validate", "--reference", run_dir / "model.keras", "--candidate", text),
        ("validate", "--reference", broken, "--candidate", text),
    ]
    for args in cases:
        code, _, err = run(*args)
        assert code == 2, (args, err)
        assert err.startswith("edge-ecg: error:") or "Error" in err, err


@on_data
def test_c_array_and_tflite_micro(converted):
    m = manifest(converted, "int8")
    tflm = m["tflm"]
    header = (converted / "tiny-int8.h").read_text()
    source = (converted / "tiny-int8.cc").read_text()
    size = (converted / "tiny-int8.tflite").stat().st_size
    assert m["c_array"] == {"header": "tiny-int8.h", "source": "tiny-int8.cc"}
    assert f"#define TINY_INT8_ARENA_BYTES {tflm['arena_bytes']}" in header
    assert "alignas(16) const unsigned char g_tiny_int8_model[]" in source
    assert f"g_tiny_int8_model_len = {size};" in source
    assert source.count("0x") == size
    assert 0 < tflm["arena_recorded_bytes"] <= tflm["arena_bytes"] < 200_000
    # TFLM runs the same int8 graph: same class for (almost) every beat, small int8 diffs.
    for key in ("vs_litert", "vs_litert_builtin_kernels"):
        assert tflm[key]["argmax_agreement"] >= 0.98, (key, tflm[key])


def test_probability_drift_and_gate_logic():
    p = np.array([[0.9, 0.05, 0.05, 0, 0], [0.2, 0.7, 0.1, 0, 0]])
    same = probability_drift(p, p)
    assert same["cosine"] == pytest.approx(1) and same["rmse"] == 0 and same["snr_db"] is None
    assert same["kl"] == pytest.approx(0, abs=1e-9)
    moved = probability_drift(p, p[::-1])
    assert moved["max_abs"] == pytest.approx(0.7) and moved["kl"] > 0
    report = {
        "agreement": 0.99,
        "delta": {"accuracy": -0.006, "classes": {c: {"se": 0.0} for c in "NSVFQ"}},
        "reference": {"classes": {c: {"support": 0 if c == "Q" else 10} for c in "NSVFQ"}},
    }
    report["delta"]["classes"]["S"]["se"] = -0.03
    report["delta"]["classes"]["Q"]["se"] = -0.5  # no support: never a failure
    failures = gate_failures(report, Thresholds())
    assert len(failures) == 3
    assert "agreement 99.00 % < 99.5 %" in failures[0]
    assert "over by 0.10 pp" in failures[1]
    assert failures[2].startswith("S sensitivity dropped 3.00 pp")


@on_data
def test_calibration_is_stratified(ds1):
    from convert.calibration import calibration_set

    cal = calibration_set(ds1.windows, ds1.rr, ds1.labels, 500, seed=0)
    counts = np.bincount(ds1.labels, minlength=5)
    assert cal.per_class["N"] > cal.per_class["V"] > 0
    assert all(n >= min(10, counts[i]) for i, n in enumerate(cal.per_class.values()))
    assert len(cal.windows) == sum(cal.per_class.values())


@on_data
def test_convert_calibrates_on_a_user_file_without_data(run_dir, ds1, tmp_path):
    """--calibration FILE.npz: the user's own beats, no PhysioNet data; its hash is recorded."""
    pick = _sample(ds1, 400, 3)
    calib = tmp_path / "mine.npz"
    np.savez(calib, windows=ds1.windows[pick], rr=ds1.rr[pick], labels=ds1.labels[pick])
    out = tmp_path / "out"
    code, _, err = run(
        "convert", run_dir / "model.keras", "--int8", "--calib-size", "200",
        "--calibration", calib, "--data-dir", tmp_path / "no-data-here", "--out-dir", out,
    )  # fmt: skip
    assert code == 0, err
    m = manifest(out, "int8")
    split = m["calibration"]["split"]
    assert split["file"] == str(calib)
    assert split["sha256"] == hashlib.sha256(calib.read_bytes()).hexdigest()
    assert sum(m["calibration"]["per_class"].values()) == m["calibration"]["beats"] > 150
    assert "--calibration" in m["command"]
    assert (
        m["source"]["sha256"] == hashlib.sha256((run_dir / "model.keras").read_bytes()).hexdigest()
    )
    # unlabelled beats are sampled uniformly
    np.savez(calib, windows=ds1.windows[pick], rr=ds1.rr[pick])
    code, _, err = run(
        "convert", run_dir / "model.keras", "--int8", "--calib-size", "200",
        "--calibration", calib, "--out-dir", out,
    )  # fmt: skip
    assert code == 0, err
    assert manifest(out, "int8")["calibration"]["sampling"] == "uniform (no labels)"


@on_data
def test_int8_with_float_io_is_the_same_integer_graph(converted, run_dir, data_dir, ds1, tmp_path):
    """--int8-io float32: the same int8 ops behind a QUANTIZE/DEQUANTIZE at the edges."""
    from convert.graph import check_ops, non_integer_ops
    from edge_ecg.interpreter import TFLiteModel

    code, _, err = run(
        "convert", run_dir / "model.keras", "--int8", "--int8-io", "float32", "--calib-size",
        "300", "--data-dir", data_dir, "--out-dir", tmp_path,
    )  # fmt: skip
    assert code == 0, err
    path = tmp_path / "tiny-int8-floatio.tflite"
    data = path.read_bytes()
    check_ops(data, "int8")  # every op but the two edge conversions is integer
    assert non_integer_ops(data) == {}
    m = json.loads((tmp_path / "tiny-int8-floatio.manifest.json").read_text())
    assert m["io"] == "float32" and m["precision"] == "int8"
    assert "--int8-io float32" in m["command"]
    floatio, int8io = TFLiteModel(path), TFLiteModel(converted / "tiny-int8.tflite")
    assert floatio.precision == "int8-floatio" and int8io.precision == "int8"
    pick = _sample(ds1, 500, 11)
    a = floatio.predict(ds1.windows[pick], ds1.rr[pick])
    b = int8io.predict(ds1.windows[pick], ds1.rr[pick])
    step = manifest(converted, "int8")["quantization"]["probs"]["scale"]
    assert np.abs(a - b).max() <= step + 1e-6
    assert np.mean(a.argmax(1) == b.argmax(1)) >= 0.998
    code, _, err = run(
        "convert", run_dir / "model.keras", "--int8", "--int8-io", "float32", "--c-array",
        "--data-dir", data_dir, "--out-dir", tmp_path / "mcu",
    )  # fmt: skip
    assert code == 2 and "--int8-io int8" in err
