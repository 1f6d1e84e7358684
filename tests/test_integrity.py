"""Model integrity and determinism: the runtime runs only the model its manifest vouches for,
executes nothing from a model file, and gives byte-identical outputs run after run."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import REPO

from edge_ecg.cli import cli
from edge_ecg.errors import ModelError
from edge_ecg.interpreter import TFLiteModel
from edge_ecg.manifest import manifest_path

SHIPPED = REPO / "edge_ecg" / "assets" / "fusion-int8-floatio.tflite"


@pytest.fixture
def shipped_copy(tmp_path):
    model = tmp_path / SHIPPED.name
    shutil.copy(SHIPPED, model)
    shutil.copy(manifest_path(SHIPPED), manifest_path(model))
    return model


def test_shipped_manifest_records_what_the_issue_asks():
    m = json.loads(manifest_path(SHIPPED).read_text())
    for key in ("sha256", "bytes", "preprocessing_version", "fs", "window", "classes"):
        assert key in m, key
    assert m["bytes"] == SHIPPED.stat().st_size
    assert m.get("training_data") or m.get("training_checksums"), "training data checksums"


def test_one_flipped_byte_is_refused(shipped_copy):
    data = bytearray(shipped_copy.read_bytes())
    data[len(data) // 2] ^= 0x01
    shipped_copy.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="sha256"):
        TFLiteModel(shipped_copy)


def test_a_manifest_for_other_preprocessing_is_refused(shipped_copy):
    path = manifest_path(shipped_copy)
    m = json.loads(path.read_text())
    m["preprocessing_version"] = "1"
    path.write_text(json.dumps(m))
    with pytest.raises(ModelError, match="preprocessing"):
        TFLiteModel(shipped_copy)


def test_a_model_without_manifest_is_refused(shipped_copy):
    manifest_path(shipped_copy).unlink()
    with pytest.raises(ModelError, match="manifest"):
        TFLiteModel(shipped_copy)


def test_no_pickle_and_no_unsafe_keras_loading_in_the_runtime():
    for path in (REPO / "edge_ecg").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] + [getattr(node, "module", "") or ""]
                assert not any(n.split(".")[0] in ("pickle", "dill", "joblib") for n in names), path
            if isinstance(node, ast.keyword) and node.arg == "allow_pickle":
                assert isinstance(node.value, ast.Constant) and node.value.value is False, path
            if isinstance(node, ast.keyword) and node.arg == "safe_mode":
                assert isinstance(node.value, ast.Constant) and node.value.value is True, path
            is_np_load = (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", "") == "load"
                and getattr(node.func.value, "id", "") == "np"
            )
            if is_np_load:  # every np.load says allow_pickle=False
                assert any(k.arg == "allow_pickle" for k in node.keywords), path


@pytest.mark.data
@pytest.mark.slow
def test_same_record_same_bytes_across_runs_and_chunk_sizes(mitdb, tmp_path):
    """The JSON of `edge-ecg classify` is byte-identical in two fresh processes, and the
    Python API gives the same beats whatever the block size."""
    from edge_ecg import StreamClassifier, classify_record
    from edge_ecg.records import read_record

    outs = []
    for i in range(2):
        out = tmp_path / f"run{i}.json"
        subprocess.run(
            [Path(sys.executable).with_name("edge-ecg"), "classify", str(mitdb / "213"),
             "--format", "json", "--out-dir", str(out.parent / f"o{i}")],
            check=True, capture_output=True,
        )  # fmt: skip
        outs.append(next((out.parent / f"o{i}").glob("*.json")).read_bytes())
    assert outs[0] == outs[1] and len(outs[0]) > 1000

    signal = read_record(mitdb / "213").signal[: 360 * 120]
    whole = classify_record(signal, 360.0)
    for chunk in (1, 97, 3600):
        stream = StreamClassifier(360.0)
        got = []
        for i in range(0, signal.size, chunk):
            got += stream.push(signal[i : i + chunk])
        got += stream.flush()
        assert [(b.sample, b.label) for b in got] == [(b.sample, b.label) for b in whole]
        assert np.array_equal(
            np.array([b.probabilities for b in got]), np.array([b.probabilities for b in whole])
        )


def test_cli_refuses_a_tampered_model(shipped_copy, tmp_path):
    data = bytearray(shipped_copy.read_bytes())
    data[-10] ^= 0xFF
    shipped_copy.write_bytes(bytes(data))
    sig = tmp_path / "x.npy"
    np.save(sig, np.zeros(3600, np.float32))
    r = CliRunner().invoke(cli, ["classify", str(sig), "--fs", "360", "--model", str(shipped_copy)])
    assert r.exit_code == 2
    assert "sha256" in r.stderr and "Traceback" not in r.output
