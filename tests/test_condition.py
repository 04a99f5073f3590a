"""floss_ref.core.precision.condition: kappa_2 of the long-term Jacobian in arbitrary
precision (Eq. 10), the QR prediction and the check of the digits, and the precision budget."""

import mpmath
import numpy as np
import pytest

from floss_ref import LinearMap, VanillaRNN, random_orthonormal
from floss_ref.core.precision import (bits_needed, eq10_log_kappa, guard_bits, long_term_jacobian_svd, product_svd,
                                 resolvable_horizon, trajectory_jacobians)
from floss_ref.core.precision.condition import mgs_r


# ---- condition numbers ----------------------------------------------------------------

def mp_reference_sigma(Ds, Q0, horizon, prec=2048):
    """Plain mpmath.matrix product and svd_r at very high precision."""
    ctx = mpmath.MPContext()
    ctx.prec = prec
    P = ctx.matrix(Q0.tolist())
    for s in range(horizon):
        P = ctx.matrix(Ds[s].tolist()) * P
    return [float(ctx.log(v)) for v in ctx.svd_r(P, compute_uv=False)]


@pytest.mark.parametrize("m", [3, 6])  # m < n goes through MGS, m = n straight to svd_r
def test_product_svd_matches_plain_mpmath_product(m):
    rng = np.random.default_rng(5)
    n, T = 6, 60
    Ds = np.array([rng.standard_normal((n, n)) * (1 - np.tanh(2 * rng.standard_normal(n)) ** 2)
                   for _ in range(T)])
    Q0 = random_orthonormal(n, m, seed=6)
    res = product_svd(Ds, Q0, [20, 60], auto_prec=True)
    for row, h in zip(res.log_sigma, (20, 60)):
        np.testing.assert_allclose(row, mp_reference_sigma(Ds, Q0, h), rtol=1e-14)
    assert res.jacobians_exact


def test_kappa_beyond_float64_is_exact_for_a_diagonal_map():
    # sigma = 2^t, 1, 2^-t exactly: kappa_2 = 4^t, far beyond 1/eps
    system = LinearMap(np.diag([2.0, 1.0, 0.5, 0.25]))
    res = long_term_jacobian_svd(system, np.zeros(4), T=90, m=3, horizons=[30, 90], Q0=np.eye(4)[:, :3])
    assert res.sigma[1][0] == mpmath.mpf(2) ** 90
    assert res.sigma[1][2] == mpmath.mpf(2) ** -90
    np.testing.assert_allclose(res.log_kappa, np.array([60, 180]) * np.log(2.0), rtol=1e-15)


def test_eq10_slope_of_a_linear_map_with_known_exponents():
    A = np.array([[2.0, 0.7, -0.3], [0.0, 1.0, 0.4], [0.0, 0.0, 0.5]])
    system = LinearMap(A)
    exact = system.exact_exponents()
    res = long_term_jacobian_svd(system, np.zeros(3), T=150, m=3, horizons=[50, 150], seed=7,
                                 auto_prec=True)
    slope = (res.log_kappa[1] - res.log_kappa[0]) / 100
    np.testing.assert_allclose(slope, exact[0] - exact[2], rtol=1e-10)
    predicted = eq10_log_kappa(exact, 3, res.horizons)
    assert np.all(np.abs(res.log_kappa - predicted) < 5.0)  # an O(1) offset, no growth
    np.testing.assert_allclose(res.exponents[-1], exact, atol=0.02)
    np.testing.assert_allclose(res.qr_exponents[-1], exact, atol=0.02)


def test_qr_prediction_is_a_lower_bound_and_check_gives_the_digits():
    net = VanillaRNN.random(20, g=1.0, seed=8)
    xs = np.random.default_rng(9).integers(0, 2, (300, 1)).astype(float)
    res = long_term_jacobian_svd(net, np.zeros(20), xs, m=6, horizons=[10, 100, 300], seed=10,
                                 check=True)
    assert np.all(res.log_kappa >= res.log_kappa_qr)
    assert np.all(res.log_kappa[-1] > 40)  # beyond float64 (kappa > 1e17)
    assert np.all(res.agreeing_digits[:, -1] >= 10)
    assert np.all(res.agreeing_digits[:, -1] >= res.digits_estimate)


def test_same_seed_gives_identical_results():
    net = VanillaRNN.random(10, g=1.0, seed=11)
    xs = np.random.default_rng(12).standard_normal((50, 1))
    a = long_term_jacobian_svd(net, np.zeros(10), xs, m=4, horizons=[25, 50], seed=13)
    b = long_term_jacobian_svd(net, np.zeros(10), xs, m=4, horizons=[25, 50], seed=13)
    assert a.sigma == b.sigma


def test_trajectory_jacobians_of_the_vanilla_rnn():
    net = VanillaRNN.random(7, g=1.5, seed=14)
    xs = np.random.default_rng(15).standard_normal((4, 1))
    h = np.random.default_rng(16).standard_normal(7)
    Ds = trajectory_jacobians(net, h, xs)
    for s in range(4):
        np.testing.assert_array_equal(Ds[s], net.params["W"] * (1 - np.tanh(h) ** 2))
        h, _ = net.step(h, xs[s])


def test_mgs_r_reproduces_the_gram_matrix():
    ctx = mpmath.MPContext()
    ctx.prec = 200
    A = np.random.default_rng(17).standard_normal((6, 4))
    R = mgs_r([[ctx.mpf(v) for v in col] for col in A.T], ctx)
    G = ctx.matrix(A.tolist()).T * ctx.matrix(A.tolist())
    assert ctx.mnorm(R.T * R - G, 1) < ctx.mpf(2) ** -190
    assert all(R[i, j] == 0 for i in range(4) for j in range(i))


def test_refusal_names_the_bits_and_auto_prec_raises_the_precision():
    system = LinearMap(np.diag([2.0, 1.0, 0.5, 0.25]))
    kwargs = dict(T=200, m=3, horizons=[200], Q0=np.eye(4)[:, :3])
    with pytest.raises(ValueError, match=r"needs \d+ bits"):
        long_term_jacobian_svd(system, np.zeros(4), **kwargs)
    res = long_term_jacobian_svd(system, np.zeros(4), auto_prec=True, **kwargs)
    assert res.prec >= 400 + 33
    np.testing.assert_allclose(res.log_kappa, [400 * np.log(2.0)], rtol=1e-15)


def test_budget_and_resolvable_horizon_agree():
    delta = 0.14
    h = resolvable_horizon(delta, 80, 15)
    assert bits_needed(delta * h, h, 80, 15, 10) <= 256 < bits_needed(delta * (h + 1), h + 1, 80, 15, 10)
    assert resolvable_horizon(3.9, 80, 80) < 40  # m = N: only a few dozen steps at 256 bits


@pytest.mark.parametrize("kwargs, message", [
    (dict(m=6), "exceed the state size"),
    (dict(horizons=[5, 31]), "beyond the trajectory"),
    (dict(horizons=[0, 5]), ">= 1"),
    (dict(prec=52), "prec must be >= 53"),
    (dict(Q0=np.ones((5, 2))), "orthonormal"),
])
def test_bad_input(kwargs, message):
    net = VanillaRNN.random(5, seed=18)
    args = dict(m=2, horizons=[10], seed=19)
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        long_term_jacobian_svd(net, np.zeros(5), np.zeros((30, 1)), **args)


def test_batched_state_is_refused():
    net = VanillaRNN.random(5, seed=20)
    with pytest.raises(ValueError, match="one state"):
        long_term_jacobian_svd(net, np.zeros((2, 5)), np.zeros((30, 1)), m=2, horizons=[10])


# ---- regression test of the issue "Reliability", row F10 ----------------------------------------

@pytest.mark.parametrize("call, match", [
    (lambda: bits_needed(10.0, 100, 10, 5, float("nan")), "digits must be finite"),
    (lambda: bits_needed(10.0, -5, 10, 5, 10), "horizon .* must be >= 1"),
    (lambda: bits_needed(float("inf"), 100, 10, 5, 10), "log_kappa contains NaN or infinite"),
    (lambda: guard_bits(10, 0, 2), "n must be >= 1"),
    (lambda: resolvable_horizon(0.1, 2, 8), "m = 8 columns exceed the state size n = 2"),
    (lambda: resolvable_horizon(0.1, 0, 2), "n must be >= 1"),
    (lambda: product_svd(np.ones((3, 4, 4)), np.ones((4, 2)), [1, 2]), "Q0 must have orthonormal columns"),
])
def test_F10_precision_helpers_refuse_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_digits_and_log_kappa_beyond_the_budget_are_refused_not_wrapped():
    """digits = 1e19 wrapped bits_needed to -2^63 (an int64 overflow) and passed every test."""
    for digits in (1e19, 1e7):
        with pytest.raises(ValueError, match="digits must be <="):
            bits_needed([1.0], [10], 4, 2, digits)
    with pytest.raises(ValueError, match="log_kappa up to 1e\\+300 .* bits"):
        bits_needed([1e300], [10], 4, 2, 10)
    with pytest.raises(ValueError, match="digits must be <="):
        resolvable_horizon(1.0, 4, 2, digits=1e19)
    assert bits_needed([1.0], [10], 4, 2, 1e6)[0] > 3 * 10 ** 6


def test_resolvable_horizon_beyond_int64_for_a_tiny_gap():
    assert resolvable_horizon(1e-300, 4, 2) > 2 ** 63


def test_negative_horizon_is_refused():
    with pytest.raises(ValueError, match="horizons \\(t - tau\\) must be >= 0"):
        eq10_log_kappa([0.1, -0.1], 2, [-5])


def test_jacobians_beyond_memory_are_refused_before_allocating():
    with pytest.raises(ValueError, match="Jacobians of T = 1000000000000 steps.*GiB"):
        trajectory_jacobians(LinearMap(np.eye(4)), np.zeros(4), T=10 ** 12)


# ---- bad input found by tests/test_properties.py ---------------------------------------------------------


def test_the_budget_of_a_huge_horizon_or_state_does_not_overflow():
    """log2(h sqrt(n m)) was computed as the log of the product, inf for h = 1e308."""
    assert guard_bits(1e308, 10 ** 12, 2) == pytest.approx(np.log2(1e308) + np.log2(2e12) / 2 + 16)
    assert bits_needed([1.0], [1e308], 4, 2, 10)[0] > 1000


def test_eq10_refuses_a_log_kappa_beyond_float64_and_an_empty_spectrum():
    with pytest.raises(ValueError, match="exponents and horizons give log kappa_2"):
        eq10_log_kappa([1e308, -1e308], 2, [10])
    with pytest.raises(ValueError, match="exponents must hold at least one exponent"):
        eq10_log_kappa([], 1, [10])


def test_bits_needed_refuses_log_kappa_and_horizons_of_different_lengths():
    with pytest.raises(ValueError, match="log_kappa and horizon must have one entry per horizon"):
        bits_needed([1.0, 2.0], [10, 20, 30, 40], 4, 2, 10)


def test_resolvable_horizon_of_a_tiny_or_huge_gap():
    """A tiny delta_lambda with many bits gave an OverflowError (int too large for a float); a huge one was
    refused naming log_kappa, an argument resolvable_horizon does not have."""
    with pytest.raises(ValueError, match=r"delta_lambda = 4.94066e-324 is so small that prec = 1000000 bits"):
        resolvable_horizon(5e-324, 2, 1, prec=10 ** 6)
    assert resolvable_horizon(1e308, 4, 2) == 0
    with pytest.raises(ValueError, match="digits must be <="):
        resolvable_horizon(0.5, 4, 2, digits=1e308)


def test_a_precision_refusal_names_the_digits_asked_for():
    net = VanillaRNN.random(3, g=1.5, seed=0)
    with pytest.raises(ValueError, match=r"for digits = 12 .*fewer digits"):
        long_term_jacobian_svd(net, np.array([0.3, -0.2, 0.5]), T=6, m=2, horizons=[3], seed=0, prec=64, digits=12)
    with pytest.raises(ValueError, match="horizons must be a non-empty sequence of integers"):
        long_term_jacobian_svd(net, np.zeros(3), T=6, m=2, horizons=[[1], [2, 3]], seed=0)


@pytest.mark.parametrize("name", ["auto_prec", "check"])
@pytest.mark.parametrize("value", ["no", 1, np.array([True])])
def test_flags_must_be_booleans(name, value):
    """A string, number or array for a flag is refused naming it, not read as true or false
    (a "no" string would have been truthy)."""
    from floss_ref import VanillaRNN
    from floss_ref.core.precision import long_term_jacobian_svd, product_svd

    net = VanillaRNN.random(4, g=1.0, seed=0)
    with pytest.raises(TypeError, match=name):
        long_term_jacobian_svd(net, np.zeros(4), T=10, m=2, horizons=[5], seed=1, **{name: value})
    Ds = np.stack([np.eye(4)] * 5)
    with pytest.raises(TypeError, match=name):
        product_svd(Ds, np.eye(4)[:, :2], [5], **{name: value})
