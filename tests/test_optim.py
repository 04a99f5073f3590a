"""Adam (the paper's optimiser) against its defining recurrence."""

import numpy as np
import pytest

from floss_ref import Adam, NumericalBreakdownError


def test_first_step_moves_each_parameter_by_lr_against_the_gradient_sign():
    p = {"w": np.array([1.0, -2.0, 3.0])}
    Adam(p, lr=0.1).step({"w": np.array([0.5, -4.0, 1e-3])})
    # m_hat = g, v_hat = g^2 after one step: update = lr * g / (|g| + eps)
    g = np.array([0.5, -4.0, 1e-3])
    np.testing.assert_allclose(p["w"], np.array([1.0, -2.0, 3.0]) - 0.1 * g / (np.abs(g) + 1e-8), rtol=1e-12)


def test_matches_reference_recurrence_over_several_steps():
    rng = np.random.default_rng(0)
    p = {"a": rng.standard_normal(4)}
    ref = p["a"].copy()
    opt = Adam(p, lr=0.01, beta1=0.8, beta2=0.9)
    m = v = np.zeros(4)
    for t in range(1, 6):
        g = rng.standard_normal(4)
        opt.step({"a": g})
        m = 0.8 * m + 0.2 * g
        v = 0.9 * v + 0.1 * g * g
        ref = ref - 0.01 * (m / (1 - 0.8 ** t)) / (np.sqrt(v / (1 - 0.9 ** t)) + 1e-8)
    np.testing.assert_allclose(p["a"], ref, rtol=1e-13)


def test_gradient_norm_clipping():
    p1, p2 = {"w": np.zeros(2)}, {"w": np.zeros(2)}
    g = np.array([3.0, 4.0])  # norm 5
    norm = Adam(p1, lr=0.1, clip_norm=0.5).step({"w": g})
    Adam(p2, lr=0.1).step({"w": g * 0.1})
    assert norm == pytest.approx(5.0)
    np.testing.assert_allclose(p1["w"], p2["w"], rtol=1e-12)
    # the clipped gradient enters the moments
    opt = Adam({"w": np.zeros(2)}, clip_norm=0.5)
    opt.step({"w": g})
    np.testing.assert_allclose(opt.m["w"], 0.1 * g * 0.1)


def test_state_round_trip():
    rng = np.random.default_rng(1)
    p = {"w": rng.standard_normal(3)}
    opt = Adam(p, lr=0.05)
    for _ in range(3):
        opt.step({"w": rng.standard_normal(3)})
    q = {"w": p["w"].copy()}
    opt2 = Adam(q, lr=0.05)
    opt2.load_state_dict(opt.state_dict())
    g = rng.standard_normal(3)
    opt.step({"w": g})
    opt2.step({"w": g})
    np.testing.assert_array_equal(p["w"], q["w"])


def test_bad_input():
    with pytest.raises(ValueError, match="lr must be > 0"):
        Adam({"w": np.zeros(1)}, lr=0.0)
    with pytest.raises(ValueError, match="beta1 and beta2 must be < 1"):
        Adam({"w": np.zeros(1)}, beta1=1.0)
    with pytest.raises(TypeError, match="non-empty dict"):
        Adam([np.zeros(1)])
    opt = Adam({"w": np.zeros(2)})
    with pytest.raises(ValueError, match="grads must have keys"):
        opt.step({"v": np.zeros(2)})
    with pytest.raises(NumericalBreakdownError, match="NaN"):
        opt.step({"w": np.array([np.nan, 0.0])})
    with pytest.raises(ValueError, match="optimiser state has no entry"):
        opt.load_state_dict({"t": 1})
