"""EC57 metrics against confusion matrices computed by hand, empty classes included."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edge_ecg.metrics import confusion_matrix, evaluate_predictions, macro_f1, summarize


def test_confusion_rows_are_reference_columns_predicted():
    labels = np.array([0, 0, 0, 1, 1, 2, 3])
    preds = np.array([0, 0, 2, 1, 0, 2, 0])
    cm = confusion_matrix(labels, preds)
    expected = np.zeros((5, 5), int)
    expected[0, 0], expected[0, 2], expected[1, 1], expected[1, 0] = 2, 1, 1, 1
    expected[2, 2], expected[3, 0] = 1, 1
    assert (cm == expected).all()


def test_rates_by_hand():
    # N: tp 2, fn 1 (->V), fp 2 (S->N, F->N); S: tp 1, fn 1, fp 0; V: tp 1, fp 1.
    labels = np.array([0, 0, 0, 1, 1, 2, 3])
    preds = np.array([0, 0, 2, 1, 0, 2, 0])
    r = summarize(confusion_matrix(labels, preds))
    assert r["accuracy"] == pytest.approx(4 / 7)
    n, s, v, f, q = (r["classes"][c] for c in "NSVFQ")
    assert n["se"] == pytest.approx(2 / 3) and n["ppv"] == pytest.approx(2 / 4)
    assert n["f1"] == pytest.approx(2 * 2 / (2 * 2 + 1 + 2))
    assert n["spec"] == pytest.approx(2 / 4)  # 4 non-N beats, 2 of them called N
    assert s["se"] == pytest.approx(1 / 2) and s["ppv"] == pytest.approx(1.0)
    assert v["se"] == pytest.approx(1.0) and v["ppv"] == pytest.approx(1 / 2)
    assert f["se"] == pytest.approx(0.0) and f["ppv"] is None and f["f1"] == pytest.approx(0.0)
    # Q: no beats, none predicted: every rate but specificity is undefined, not 0 or 1.
    assert q["support"] == 0 and q["se"] is None and q["ppv"] is None and q["f1"] is None
    assert q["spec"] == pytest.approx(1.0)
    assert r["macro_f1"] == pytest.approx(np.mean([n["f1"], s["f1"], v["f1"], f["f1"]]))


def test_macro_f1_skips_classes_without_support():
    classes = {c: {"f1": None} for c in "NSVFQ"}
    classes["N"]["f1"], classes["V"]["f1"] = 0.9, 0.5
    assert macro_f1(classes) == pytest.approx(0.7)
    assert macro_f1({c: {"f1": None} for c in "NSVFQ"}) is None


def test_empty_input_gives_null_rates_and_valid_json():
    r = evaluate_predictions(np.array([], int), np.array([], int), np.array([], str))
    assert r["accuracy"] is None and r["beats"] == 0 and r["records"] == {}
    json.dumps(r, allow_nan=False)


def test_per_record_table_sums_to_the_gross_matrix():
    rng = np.random.default_rng(0)
    labels, preds = rng.integers(0, 5, 300), rng.integers(0, 5, 300)
    records = rng.choice(["100", "200", "232"], 300)
    r = evaluate_predictions(labels, preds, records)
    total = sum(np.array(v["confusion"]) for v in r["records"].values())
    assert (total == np.array(r["confusion"])).all()
    assert set(r["records"]) == {"100", "200", "232"}


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="labels but"):
        confusion_matrix(np.array([0, 1]), np.array([0]))
    with pytest.raises(ValueError, match="class indices"):
        confusion_matrix(np.array([0, 7]), np.array([0, 1]))
