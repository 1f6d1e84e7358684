"""Prior shift (Saerens et al. 2002) on a model's outputs: the fixed shift is the formula,
the causal one never looks ahead and follows each record on its own."""

from __future__ import annotations

import numpy as np
import pytest

from train.prior_shift import FLOOR, class_mix, shift_priors

BASE = np.array([0.8, 0.1, 0.05, 0.04, 0.01])


def _outputs(n: int, seed: int = 0) -> np.ndarray:
    p = np.random.default_rng(seed).dirichlet(np.ones(5), n)
    return p.astype(np.float64)


def test_a_fixed_shift_multiplies_by_the_prior_ratio_and_renormalises():
    probs = np.array([[0.5, 0.5, 0.0, 0.0, 0.0]])
    start = np.array([0.4, 0.4, 0.1, 0.05, 0.05])  # N halved, S x4
    out = shift_priors(probs, np.array(["a"]), np.array([0]), BASE, start, 1.0, None)
    # 0.5 * 0.5 = 0.25 and 0.5 * 4 = 2.0, renormalised
    assert out[0] == pytest.approx([0.25 / 2.25, 2.0 / 2.25, 0, 0, 0])
    half = shift_priors(probs, np.array(["a"]), np.array([0]), BASE, start, 0.5, None)
    assert half[0][:2] == pytest.approx(np.array([0.5**0.5, 2.0]) * 0.5 / (0.5 * (0.5**0.5 + 2)))


def test_off_is_the_model_itself():
    probs = _outputs(10)
    out = shift_priors(probs, np.full(10, "a"), np.arange(10), BASE, BASE, 0.0, 256)
    assert np.array_equal(out, probs) and out is not probs


def test_the_causal_shift_never_looks_ahead_and_keeps_records_apart():
    n = 200
    probs = _outputs(n)
    records = np.repeat(["a", "b"], n // 2)
    samples = np.tile(np.arange(n // 2)[::-1], 2)  # stored newest first: order by sample
    out = shift_priors(probs, records, samples, BASE, BASE, 1.0, 16)
    # each record's earliest beat starts from the base priors: the model's own output
    for r in ("a", "b"):
        first = np.flatnonzero(records == r)[np.argmin(samples[records == r])]
        assert out[first] == pytest.approx(probs[first])
    # changing record a's latest beat changes nothing before it, nor record b
    later = probs.copy()
    later[0] = [0, 0, 0, 0, 1.0]
    moved = shift_priors(later, records, samples, BASE, BASE, 1.0, 16)
    assert np.array_equal(moved[1:], out[1:])
    # changing record a's earliest beat moves the beats after it, in a only
    earlier = probs.copy()
    earlier[n // 2 - 1] = [0, 0, 1.0, 0, 0]
    moved = shift_priors(earlier, records, samples, BASE, BASE, 1.0, 16)
    assert not np.allclose(moved[: n // 2 - 1], out[: n // 2 - 1])
    assert np.array_equal(moved[n // 2 :], out[n // 2 :])
    assert np.allclose(out.sum(1), 1)


def test_class_mix_keeps_absent_classes_above_the_floor():
    mix = class_mix(np.array([0, 0, 0, 2]))
    assert mix.sum() == pytest.approx(1) and mix[1] == mix[3] == mix[4] >= FLOOR * 0.99
    assert mix[0] / mix[2] == pytest.approx(3)
