"""The device install: a fresh venv with only the `runtime` extra classifies a real record.

Proves that `pip install edge-ecg[runtime]` is enough on a device, and that neither TensorFlow
nor wfdb is imported on the way (they are not even installed there).
"""

from __future__ import annotations

import json
import subprocess
import venv

import numpy as np
import pytest
from conftest import REPO

pytestmark = [pytest.mark.slow, pytest.mark.data]

SCRIPT = """
import json, sys
import numpy as np
from edge_ecg import classify_record
signal = np.load(sys.argv[1])
beats = classify_record(signal, 360.0)
print(json.dumps({
    "beats": len(beats),
    "labels": sorted({b.label for b in beats}),
    "heavy": sorted(m for m in ("tensorflow", "keras", "wfdb", "scipy.signal") if m in sys.modules),
}))
"""


@pytest.fixture(scope="module")
def runtime_python(tmp_path_factory):
    env = tmp_path_factory.mktemp("runtime-venv")
    venv.create(env, with_pip=True)
    python = env / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "-q", f"{REPO}[runtime]"], check=True, timeout=900
    )
    return python


def test_runtime_only_env_classifies_a_real_record(runtime_python, mitdb, tmp_path):
    from edge_ecg.records import read_record

    record = read_record(mitdb / "208")
    np.save(tmp_path / "208.npy", record.signal.astype(np.float32))
    out = subprocess.run(
        [runtime_python, "-c", SCRIPT, tmp_path / "208.npy"],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    result = json.loads(out.stdout)
    assert result["heavy"] == []
    # 208 has 2955 reference beats, many of them V and F.
    assert abs(result["beats"] - record.beat_samples.size) < 0.02 * record.beat_samples.size
    assert "V" in result["labels"]
    for module in ("tensorflow", "wfdb"):
        probe = subprocess.run([runtime_python, "-c", f"import {module}"], capture_output=True)
        assert probe.returncode != 0, f"{module} is installed in the runtime-only env"


def test_demo_runs_in_the_runtime_only_env(runtime_python):
    edge_ecg = runtime_python.parent / "edge-ecg"
    out = subprocess.run(
        [edge_ecg, "demo"], check=True, capture_output=True, text=True, timeout=300
    )
    assert "MIT-BIH 213" in out.stdout and "matched within 150 ms" in out.stdout
    # LiteRT's native "INFO: Created TensorFlow Lite XNNPACK delegate" stays off the terminal
    assert "INFO:" not in out.stderr, out.stderr
