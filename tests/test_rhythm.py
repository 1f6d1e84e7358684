"""The rhythm rule: how irregular the RR intervals are, and S reported N in irregular rhythm."""

from __future__ import annotations

import numpy as np
import pytest

from edge_ecg.classify import Classifier, classify_record
from edge_ecg.rhythm import HISTORY, IRREGULAR, irregularity, rhythm_rule


def test_irregularity_of_regular_alternating_and_short_histories():
    regular = np.full(HISTORY, 0.8)
    alternating = np.tile([0.6, 1.0], HISTORY // 2)
    assert irregularity(regular)[0] == 0.0
    assert irregularity(alternating)[0] == pytest.approx(0.4 / 0.8)
    assert irregularity([0.8, 0.9])[0] == 0.0  # one difference is not a rhythm
    # unknown intervals (NaN, the start of a record) are left out, per row
    rows = np.array([[np.nan, np.nan, 0.6, 1.0, 0.6, 1.0], [0.6, 1.0, 0.6, 1.0, 0.6, 1.0]])
    assert irregularity(rows) == pytest.approx([0.5, 0.5])


def test_rhythm_rule_turns_only_s_into_n_and_only_where_irregular():
    labels = np.array([0, 1, 1, 2, 1, 3])
    irregular = np.array([0.5, 0.5, 0.05, 0.5, IRREGULAR, 0.5])
    assert rhythm_rule(labels, irregular).tolist() == [0, 0, 1, 2, 1, 3]
    assert labels.tolist() == [0, 1, 1, 2, 1, 3]  # the input is left alone


@pytest.mark.data
def test_the_stream_rule_on_atrial_fibrillation(mitdb):
    """MIT-BIH 201 (DS1) has atrial fibrillation. With the rule on, only S labels change, to
    N; the probabilities and every other label stay; the device's irregularity (from its own
    refined R-peaks) makes the decision the training-side study makes (reference R-peaks) on
    nearly every beat; any block size gives the same beats."""
    from edge_ecg.records import read_record
    from train.beatset import BeatSet
    from train.rhythm import MITDB_FS, RHYTHM_FEATURES, rhythm_features

    rec = read_record(mitdb / "201")
    model = Classifier()
    plain = classify_record(rec.signal, rec.fs, model.model)
    ruled = classify_record(rec.signal, rec.fs, model.model, rhythm_rule=True)
    assert [b.sample for b in plain] == [b.sample for b in ruled]
    changed = [(a.label, b.label) for a, b in zip(plain, ruled, strict=True) if a.label != b.label]
    assert changed and set(changed) == {("S", "N")}
    pairs = zip(plain, ruled, strict=True)
    assert all(np.array_equal(a.probabilities, b.probabilities) for a, b in pairs)
    chunked = classify_record(rec.signal, rec.fs, model.model, chunk=997, rhythm_rule=True)
    assert [(b.sample, b.label) for b in chunked] == [(b.sample, b.label) for b in ruled]

    beats = extract_beats_with_rhythm(rec)
    device = np.array([b.irregularity for b in beats])
    ref = rec.beat_samples
    n = ref.size
    study = BeatSet(np.zeros((n, 1, 1)), np.zeros((n, 1)), np.zeros(n, np.int64),
                    np.full(n, "201"), ref, {})  # fmt: skip
    assert rec.fs == MITDB_FS
    at_ref = rhythm_features(study)[:, RHYTHM_FEATURES.index("irregularity_32")]
    # each device beat against the reference beat it was cut at (refined by at most 50 ms)
    nearest = np.abs(ref[None, :] - np.array([b.sample for b in beats])[:, None]).argmin(1)
    assert np.abs(ref[nearest] - [b.sample for b in beats]).max() <= 0.05 * rec.fs + 1
    reference = at_ref[nearest]
    assert np.mean((device > IRREGULAR) == (reference > IRREGULAR)) > 0.97  # measured: 98.0 %
    # the four rhythm features a tree model reads: the rule's irregularity is the third, and
    # the device's track the study's (the same function, on refined vs reference R-peaks)
    features = np.stack([b.rhythm for b in beats])
    assert features.shape == (len(beats), 4) and features.dtype == np.float32
    assert np.array_equal(features[:, 2], device.astype(np.float32))
    study_features = rhythm_features(study)[nearest]
    assert np.median(np.abs(features - study_features), axis=0).max() < 0.02


def extract_beats_with_rhythm(rec):
    """Beats at the reference R-peaks from a featurizer that measures irregularity."""
    from edge_ecg.beats import BeatFeaturizer
    from edge_ecg.preprocess import Cleaner

    cleaner = Cleaner(rec.fs)
    featurizer = BeatFeaturizer(cleaner.to_input_index, rhythm=True)
    clean = cleaner.push(rec.signal)
    at = np.round(cleaner.to_clean_index(rec.beat_samples)).astype(np.int64)
    return featurizer.push(clean, at) + featurizer.flush()


@pytest.mark.data
def test_classify_cli_rhythm_rule(mitdb):
    import json

    from click.testing import CliRunner

    from edge_ecg.cli import cli

    args = ["classify", str(mitdb / "201"), "--format", "json"]
    plain = CliRunner().invoke(cli, args)
    ruled = CliRunner().invoke(cli, [*args, "--rhythm-rule"])
    assert plain.exit_code == 0 and ruled.exit_code == 0, ruled.output
    a, b = json.loads(plain.stdout), json.loads(ruled.stdout)
    assert "rhythm_rule" not in a and b["rhythm_rule"] is True
    assert b["counts"].get("S", 0) < a["counts"]["S"]
    assert b["counts"]["N"] - a["counts"]["N"] == a["counts"]["S"] - b["counts"].get("S", 0)
