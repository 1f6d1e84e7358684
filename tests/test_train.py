"""A tiny training run on real records: the loop runs, the loss falls, the RUN_DIR is complete."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("tensorflow")

from train.config import load_config
from train.trainer import class_weights, train_run

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
    # DS2 metrics in the evaluate layout, over every usable DS2 beat.
    assert metrics["labels"] == ["N", "S", "V", "F", "Q"]
    assert sum(map(sum, metrics["confusion"])) == 49684
    assert "232" in metrics["records"]
    model = keras.saving.load_model(out / "model.keras", safe_mode=True)
    assert model.count_params() == history["parameters"]
    # A finished run is left alone.
    assert train_run(config, data_dir, out, log=lambda m: None) == metrics


def test_class_weights_balance_the_classes():
    labels = np.array([0] * 90 + [1] * 9 + [2] * 1)
    flat, sqrt, full = (class_weights(labels, p) for p in (0, 0.5, 1))
    assert flat == {0: pytest.approx(1), 1: pytest.approx(1), 2: pytest.approx(1)}
    counts = np.array([90, 9, 1])
    for w in (sqrt, full):  # mean weight per beat stays 1
        assert sum(w[i] * counts[i] for i in range(3)) == pytest.approx(100)
    assert full[2] * 1 == pytest.approx(full[0] * 90)  # balanced: equal total weight
    assert 3 not in full  # absent class gets no weight
