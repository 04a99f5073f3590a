"""Tests of floss_ref.core.precision: exact block-float products, kappa_2 of the long-term
Jacobian in arbitrary precision (Eq. 10), the precision budget, and the mpmath reference
of the flossing loss against the float64 adjoint at T = 300."""

from fractions import Fraction

import mpmath
import numpy as np
import pytest

from floss_ref import LinearMap, VanillaRNN, flossing_grad, flossing_loss, random_orthonormal
from floss_ref.errors import NumericalBreakdownError
from floss_ref.core.precision import (bits_needed, eq10_log_kappa, long_term_jacobian_svd, product_svd,
                                 resolvable_horizon, trajectory_jacobians)
from floss_ref.core.precision import blockfloat
from floss_ref.core.precision.condition import mgs_r
from floss_ref.core.precision.reference import flossing_directional_derivative_mp, flossing_loss_mp


def exact_value(B):
    """The block-float matrix as a numpy object array of Fractions (exact)."""
    n, K, m = B.limbs.shape
    L = B.limb_bits
    out = np.empty((n, m), dtype=object)
    for i in range(n):
        for j in range(m):
            total = sum(Fraction(int(B.limbs[i, k, j])) * Fraction(2) ** (-L * k) for k in range(K))
            out[i, j] = total * Fraction(2) ** B.exponent
    return out


def as_fractions(A):
    return np.vectorize(Fraction, otypes=[object])(A)


def wide_range_matrix(rng, shape):
    """Float64 entries spanning ~40 binary orders of magnitude, like W diag(phi') with saturated units."""
    return rng.standard_normal(shape) * 2.0 ** rng.integers(-40, 1, shape)


# ---- blockfloat: exact limbs and exact products ---------------------------------------

@pytest.mark.parametrize("n", [1, 2, 3, 12, 80, 1000])
def test_limb_bits_is_the_largest_exact_size(n):
    L = blockfloat.limb_bits_for(n)
    assert n * 2 ** (2 * L - 2) <= 2 ** 53 < n * 2 ** (2 * L)


def test_from_float_is_exact_and_balanced():
    rng = np.random.default_rng(0)
    A = wide_range_matrix(rng, (7, 5))
    B = blockfloat.from_float(A, 24, 20)
    assert B.exact
    assert np.max(np.abs(B.limbs)) <= 2 ** 23
    assert np.array_equal(exact_value(B), as_fractions(A))


def test_from_float_truncation_is_within_the_last_limb():
    rng = np.random.default_rng(1)
    A = wide_range_matrix(rng, (6, 6))
    B = blockfloat.from_float(A, 24, 2)  # 48 bits: fewer than the entries span
    assert not B.exact
    err = np.abs((exact_value(B) - as_fractions(A)).astype(float))
    assert np.max(err) <= 2.0 ** -24 * np.max(np.abs(A))


def test_matmul_keeping_every_limb_is_exact():
    rng = np.random.default_rng(2)
    n, m, L = 9, 4, blockfloat.limb_bits_for(9)
    D = blockfloat.from_float(wide_range_matrix(rng, (n, n)), L, 10)
    P = blockfloat.from_float(rng.standard_normal((n, m)), L, 10)
    full = blockfloat.matmul(D, P, 40)
    assert full.exact
    assert np.array_equal(exact_value(full), exact_value(D).dot(exact_value(P)))


def test_matmul_rounding_error_is_below_prec_bits_of_the_largest_entry():
    rng = np.random.default_rng(3)
    n, m = 30, 5
    L = blockfloat.limb_bits_for(n)
    K = blockfloat.limbs_for(100, L)
    P = blockfloat.from_float(rng.standard_normal((n, m)), L, K)
    exact = exact_value(P)
    for _ in range(5):
        Dm = wide_range_matrix(rng, (n, n))
        P = blockfloat.matmul(blockfloat.from_float(Dm, L, K), P, K)
        exact = as_fractions(Dm).dot(exact)
        err = np.abs((exact_value(P) - exact).astype(float))
        assert np.max(err) <= 2.0 ** -100 * np.max(np.abs(exact.astype(float)))
        assert np.max(np.abs(P.limbs)) <= 2 ** (L - 1)


def test_matmul_of_zero_jacobian_raises():
    with pytest.raises(NumericalBreakdownError):
        blockfloat.from_float(np.zeros((3, 3)), 24, 4)


def test_to_mpmath_columns_round_once():
    rng = np.random.default_rng(4)
    A = rng.standard_normal((5, 3))
    ctx = mpmath.MPContext()
    ctx.prec = 53
    cols = blockfloat.to_mpmath_columns(blockfloat.from_float(A, 24, 5), ctx)
    assert np.array_equal(np.array([[float(v) for v in c] for c in cols]).T, A)


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


# ---- mpmath reference of the flossing loss ------------------------------------------

def small_problem(T, seed=21):
    rng = np.random.default_rng(seed)
    net = VanillaRNN.random(12, g=1.0, seed=rng)
    xs = rng.integers(0, 2, (T, 1)).astype(float)
    return net, rng.standard_normal(12), xs, random_orthonormal(12, 6, seed=rng), rng


@pytest.mark.parametrize("t_ons, transient", [(1, 0), (3, 7)])
def test_mp_loss_matches_float64_loss(t_ons, transient):
    net, h0, xs, Q0, _ = small_problem(40)
    kw = dict(k=6, Q0=Q0, t_ons=t_ons, transient=transient, target=0.1)
    loss, lam = flossing_loss(net, h0, xs, **kw)
    loss_mp, lam_mp = flossing_loss_mp(net, h0, xs, **kw)
    np.testing.assert_allclose(float(loss_mp), loss, rtol=1e-12)
    np.testing.assert_allclose([float(v) for v in lam_mp], lam, rtol=1e-12)


def agreeing_digits(a, b):
    return -np.log10(abs(a - b) / abs(b))


def test_adjoint_agrees_with_high_precision_differences_at_T300():
    net, h0, xs, Q0, rng = small_problem(300)
    kw = dict(k=6, Q0=Q0, t_ons=2, transient=10)
    grad = flossing_grad(net, h0, xs, **kw)
    u = {key: rng.standard_normal(net.params[key].shape) for key in ("W", "V", "b")}
    u["h0"] = rng.standard_normal(12)
    adjoint = sum(np.sum(grad.grads[key] * u[key]) for key in ("W", "V", "b")) + np.sum(grad.h0_bar * u["h0"])
    fd = float(flossing_directional_derivative_mp(net, h0, xs, direction=u, **kw))
    assert agreeing_digits(adjoint, fd) >= 8
    i, j = 3, 5
    unit = np.zeros((12, 12))
    unit[i, j] = 1.0
    fd_ij = float(flossing_directional_derivative_mp(net, h0, xs, direction={"W": unit}, **kw))
    assert agreeing_digits(grad.grads["W"][i, j], fd_ij) >= 8


def test_mp_differences_converge_in_the_step():
    net, h0, xs, Q0, rng = small_problem(30)
    u = {"W": rng.standard_normal((12, 12))}
    a = flossing_directional_derivative_mp(net, h0, xs, k=6, Q0=Q0, direction=u, step=1e-25)
    b = flossing_directional_derivative_mp(net, h0, xs, k=6, Q0=Q0, direction=u, step=1e-30)
    assert abs(a - b) < 1e-40 * abs(b)


@pytest.mark.parametrize("nonlinearity", ["relu", "linear"])
def test_reference_agrees_with_float64_for_relu_and_linear_networks(nonlinearity):
    from floss_ref import flossing_loss

    net = VanillaRNN.random(6, 1, 1.2, nonlinearity=nonlinearity, mean_scale="1/N", seed=22)
    rng = np.random.default_rng(3)
    h0, xs = rng.standard_normal(6), rng.standard_normal((40, 1))
    loss_mp, lam_mp = flossing_loss_mp(net, h0, xs, k=2, seed=0)
    loss, lam = flossing_loss(net, h0, xs, k=2, seed=0)
    assert float(loss_mp) == pytest.approx(float(loss), rel=1e-12)
    np.testing.assert_allclose([float(v) for v in lam_mp], lam, rtol=1e-12)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_reference_agrees_with_float64_for_the_gated_cells(cell):
    from floss_ref import GRU, LSTM, flossing_grad

    net = (LSTM if cell == "lstm" else GRU).random(4, 2, 1.0, seed=5)
    net.params["b"][...] = np.random.default_rng(6).standard_normal(net.params["b"].shape) * 0.3
    rng = np.random.default_rng(7)
    n = net.state_size
    h0, xs = rng.standard_normal(n), rng.standard_normal((50, 2))
    loss_mp, lam_mp = flossing_loss_mp(net, h0, xs, k=3, seed=1, t_ons=2, transient=8)
    res = flossing_grad(net, h0, xs, k=3, seed=1, t_ons=2, transient=8)
    assert float(loss_mp) == pytest.approx(float(res.loss), rel=1e-12)
    np.testing.assert_allclose([float(v) for v in lam_mp], res.exponents, rtol=1e-12)
    u = {p: rng.standard_normal(v.shape) for p, v in net.params.items()}
    u["h0"] = rng.standard_normal(n)
    ref = float(flossing_directional_derivative_mp(net, h0, xs, k=3, seed=1, t_ons=2, transient=8, direction=u))
    mine = sum(float(np.sum(res.grads[p] * u[p])) for p in net.params) + float(np.sum(res.h0_bar * u["h0"]))
    assert mine == pytest.approx(ref, rel=1e-11)


def test_reference_refuses_other_maps_and_bad_directions():
    from floss_ref import LinearMap

    with pytest.raises(NotImplementedError):
        flossing_loss_mp(LinearMap(np.eye(4)), np.zeros(4), T=5, k=2, seed=0)
    net = VanillaRNN.random(4, seed=23)
    with pytest.raises(ValueError, match="direction"):
        flossing_directional_derivative_mp(net, np.zeros(4), T=5, k=2, seed=0, direction={"U": 1})
    with pytest.raises(ValueError, match="shape"):
        flossing_directional_derivative_mp(net, np.zeros(4), T=5, k=2, seed=0, direction={"W": np.ones(4)})


def test_from_float_reports_entries_lost_in_scaling():
    A = np.array([[1e300, 0.0], [0.0, 5e-324]])  # 2000 binary orders apart
    assert not blockfloat.from_float(A, 24, 1000).exact
