"""Error bars of Lyapunov exponents, finite-time exponents and derived quantities
(floss_ref.core.lyapunov_stats; the covariant vectors are in test_clv.py)."""

import warnings

import numpy as np
import pytest

import henon
from floss_ref import LinearMap, VanillaRNN, lyapunov_spectrum
from floss_ref.core.lyapunov import ConvergenceWarning, finite_time_exponents
from floss_ref.core.lyapunov_stats import (MAX_BLOCKS, BatchMeans, ShortBlocksWarning, confidence_halfwidth,
                                      ensemble_mean, entropy_bound, kaplan_yorke_dimension)

def chaotic_network():
    """N = 32, g = 1.5, autonomous: lambda_1 is about +0.025 for this seed."""
    return VanillaRNN.random(32, g=1.5, seed=1)


# ---- batch means -------------------------------------------------------------------------

def test_batch_means_of_independent_increments_give_sigma_over_sqrt_n():
    rng = np.random.default_rng(0)
    sigma, n = 0.3, 40_000
    bm = BatchMeans((2,))
    for x in rng.normal(0.1, sigma, (n, 2)):
        bm.add(x, 1)
    assert MAX_BLOCKS <= bm.n_blocks < 2 * MAX_BLOCKS
    assert bm.block_qrs * bm.n_blocks <= n < bm.block_qrs * (bm.n_blocks + 1)
    # the standard error of a mean over n_blocks blocks scatters by about 1/sqrt(2 n_blocks)
    np.testing.assert_allclose(bm.stderr(), sigma / np.sqrt(bm.block_qrs * bm.n_blocks), rtol=0.3)
    assert abs(bm.lag1_autocorrelation()) < 0.3


def test_batch_means_merge_keeps_every_increment():
    bm = BatchMeans((1,))
    total = 0.0
    for i in range(1000):
        bm.add(np.array([float(i)]), 2)
        total += i
    kept = bm.block_qrs * bm.n_blocks
    est = bm.block_estimates()
    assert np.sum(est * 2 * bm.block_qrs) == pytest.approx(sum(range(kept)))


def test_correlated_blocks_are_reported():
    rng = np.random.default_rng(1)
    bm = BatchMeans((1,))
    x = 0.0
    for _ in range(5000):   # AR(1) with correlation time ~ 1000 steps: blocks of ~80 are too short
        x = 0.999 * x + rng.normal()
        bm.add(np.array([x]), 1)
    with pytest.warns(ShortBlocksWarning, match="too short"):
        bm.check_independence()


def test_too_few_blocks_give_nan():
    bm = BatchMeans((3,))
    for _ in range(5):
        bm.add(np.ones(3), 1)
    assert np.all(np.isnan(bm.stderr()))


def test_stderr_agrees_with_the_spread_across_trajectories():
    """Calibration in small: the batch-means standard error of one trajectory matches the
    standard deviation of the exponents of 32 independent trajectories."""
    net = chaotic_network()
    h0 = np.random.default_rng(2).standard_normal((32, 32))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ShortBlocksWarning)
        res = lyapunov_spectrum(net, h0, T=6000, k=3, transient=300, seed=3)
    spread = np.std(res.exponents, axis=0, ddof=1)
    ratio = np.median(res.stderr, axis=0) / spread
    assert np.all((ratio > 0.6) & (ratio < 1.6)), ratio
    half = confidence_halfwidth(res.stderr, res.n_blocks)
    assert np.all(half > res.stderr)
    mean, across = res.across()
    np.testing.assert_allclose(across, spread / np.sqrt(32))
    np.testing.assert_allclose(mean, res.exponents.mean(axis=0))


def test_linear_map_has_no_scatter():
    A = np.array([[2.0, 1.0], [0.0, 0.5]])
    with warnings.catch_warnings():
        warnings.simplefilter("error", ShortBlocksWarning)   # round-off scatter is no reason to warn
        res = lyapunov_spectrum(LinearMap(A), np.zeros(2), T=2000, k=2, transient=50, seed=0)
    assert np.all(res.stderr < 1e-6)


def test_ensemble_mean():
    mean, se = ensemble_mean([[1.0, -1.0], [3.0, -3.0]])
    np.testing.assert_allclose(mean, [2.0, -2.0])
    np.testing.assert_allclose(se, [1.0, 1.0])
    with pytest.raises(ValueError, match="at least 2"):
        ensemble_mean([[1.0, 2.0]])


# ---- convergence stop ----------------------------------------------------------------------

def test_tol_stops_when_every_stderr_is_below_it():
    net = chaotic_network()
    h0 = np.random.default_rng(4).standard_normal(32)
    res = lyapunov_spectrum(net, h0, T=100_000, k=2, transient=200, seed=5, tol=4e-3)
    assert res.converged is True
    assert res.steps < 100_000
    assert np.all(res.stderr < 4e-3)
    # the same run without tol, cut at the same step, gives the same exponents
    full = lyapunov_spectrum(net, h0, T=res.steps, k=2, transient=200, seed=5)
    np.testing.assert_array_equal(full.exponents, res.exponents)


def test_tol_budget_exhausted_is_reported():
    net = chaotic_network()
    with pytest.warns(ConvergenceWarning, match="did not fall below"):
        res = lyapunov_spectrum(net, np.ones(32), T=1500, k=2, transient=100, seed=6, tol=1e-9)
    assert res.converged is False and res.steps == 1500


@pytest.mark.parametrize("tol", [0.0, -1.0, float("nan"), "x"])
def test_bad_tol(tol):
    with pytest.raises((ValueError, TypeError), match="tol"):
        lyapunov_spectrum(chaotic_network(), np.ones(32), T=100, k=2, tol=tol)


def test_budget_shorter_than_transient_is_refused():
    with pytest.raises(ValueError, match="transient"):
        lyapunov_spectrum(chaotic_network(), np.ones(32), T=100, k=2, transient=100, tol=1e-3)


# ---- finite-time exponents -------------------------------------------------------------------

def test_finite_time_exponents_average_to_the_spectrum_and_scale_like_one_over_sqrt_tau():
    net = chaotic_network()
    h0 = np.random.default_rng(7).standard_normal((48, 32))
    kw = dict(k=2, T=3200 + 200, transient=200, seed=8)
    short = finite_time_exponents(net, h0, window=25, **kw)
    longer = finite_time_exponents(net, h0, window=400, **kw)
    assert short.shape == (128, 48, 2) and longer.shape == (8, 48, 2)
    # windows of 400 steps are means of 16 windows of 25 steps
    np.testing.assert_allclose(longer, short.reshape(8, 16, 48, 2).mean(axis=1), rtol=0, atol=1e-13)
    spectrum = lyapunov_spectrum(net, h0, k=2, T=3400, transient=200, seed=8, stderr=False)
    np.testing.assert_allclose(short.mean(axis=0), spectrum.exponents, atol=1e-13)
    # spread * sqrt(tau) is constant for a chaotic network (central limit theorem)
    scaled = [np.std(w[..., 0]) * np.sqrt(tau) for w, tau in ((short, 25), (longer, 400))]
    assert scaled[1] == pytest.approx(scaled[0], rel=0.2)


def test_finite_time_bad_tau():
    with pytest.raises(ValueError, match="multiples of t_ons"):
        finite_time_exponents(chaotic_network(), np.ones(32), T=200, k=1, window=5, t_ons=2)
    with pytest.raises(ValueError, match="no window"):
        finite_time_exponents(chaotic_network(), np.ones(32), T=200, k=1, window=500)


# ---- derived quantities ----------------------------------------------------------------------

def test_kaplan_yorke_dimension():
    assert kaplan_yorke_dimension([0.42, -1.62]) == pytest.approx(1 + 0.42 / 1.62)
    assert kaplan_yorke_dimension([-0.1, -0.5]) == 0.0
    assert kaplan_yorke_dimension([0.9, 0.0, -14.57]) == pytest.approx(2 + 0.9 / 14.57)   # Lorenz-like
    np.testing.assert_allclose(kaplan_yorke_dimension([[0.42, -1.62], [-0.1, -0.5]]), [1 + 0.42 / 1.62, 0.0])
    with pytest.raises(ValueError, match="decreasing"):
        kaplan_yorke_dimension([-1.0, 0.5])
    with pytest.raises(ValueError, match="more exponents"):
        kaplan_yorke_dimension([0.5, -0.1])


def test_entropy_bound_sums_positive_exponents():
    assert entropy_bound([0.42, -1.62]) == pytest.approx(0.42)
    np.testing.assert_allclose(entropy_bound([[0.3, 0.1, -1.0], [-0.1, -0.2, -0.3]]), [0.4, 0.0])


# ---- the README's examples ------------------------------------------------------------------

def test_readme_henon_example_prints_what_it_says():
    """The README's Henon block states its output: exponents [0.4192, -1.6232] with
    standard errors 0.0030 (same seed; to the printed digits on any BLAS)."""
    res = lyapunov_spectrum(henon.henon_map(), np.array([0.1, 0.1]), T=20000, k=2, transient=1000, seed=0)
    np.testing.assert_allclose(res.exponents, [0.4192, -1.6232], atol=5e-5)
    np.testing.assert_allclose(res.stderr, [0.0030, 0.0030], atol=5e-5)
    assert res.exponents.sum() == pytest.approx(np.log(henon.B), abs=1e-12)
    assert kaplan_yorke_dimension(res.exponents) == pytest.approx(1.26, abs=5e-3)


def test_readme_lstm_example_prints_what_it_says():
    """QR order: lambda_2 and lambda_3 are equal within their standard errors, and come
    out in the order the README shows."""
    from floss_ref import LSTM
    net = LSTM.random(32, g=0.5, seed=0)
    xs = np.random.default_rng(1).standard_normal((1000, 1))
    res = lyapunov_spectrum(net, np.zeros(net.state_size), xs, k=4, transient=100, seed=2)
    np.testing.assert_allclose(res.exponents, [-0.166, -0.204, -0.203, -0.215], atol=5e-4)
    np.testing.assert_allclose(res.stderr, [0.001, 0.002, 0.001, 0.002], atol=5e-4)
    assert abs(res.exponents[1] - res.exponents[2]) < 2 * res.stderr[1]


def test_running_history_at_every_entry():
    """Entry i of the running estimate is the spectrum of the same run cut after
    history_steps[i] steps: checked for every entry, with t_ONS = 3 and a transient."""
    net = chaotic_network()
    h0 = np.random.default_rng(9).standard_normal(32)
    res = lyapunov_spectrum(net, h0, T=40, k=3, t_ons=3, transient=7, seed=10, history=True, stderr=False)
    assert list(res.history_steps) == [9, 12, 15, 18, 21, 24, 27, 30, 33, 36, 39, 40]
    for steps, row in zip(res.history_steps, res.history):
        cut = lyapunov_spectrum(net, h0, T=int(steps), k=3, t_ons=3, transient=7, seed=10, stderr=False)
        np.testing.assert_array_equal(row, cut.exponents)



@pytest.mark.parametrize("f", [kaplan_yorke_dimension, entropy_bound])
@pytest.mark.parametrize("exponents", [[], np.zeros((3, 0))])
def test_empty_spectrum_is_refused_by_name(f, exponents):
    with pytest.raises(ValueError, match="exponents must hold at least one exponent"):
        f(exponents)


def test_windows_beyond_memory_are_refused_by_name():
    with pytest.raises(ValueError, match=r"windows of window = 1 steps in T - transient = 10{15} steps.*GiB"):
        finite_time_exponents(LinearMap(np.eye(2)), np.zeros(2), T=10 ** 15, k=2, window=1)


# ---- bad input found by tests/test_properties.py ---------------------------------------------------------


@pytest.mark.parametrize("fn, exponents", [
    (entropy_bound, [1e308, 1e308]),                       # returned inf
    (kaplan_yorke_dimension, [1e308, 1e308, -1e308]),      # refused as "non-negative" after an inf sum
])
def test_exponents_whose_sums_overflow_are_refused_by_name(fn, exponents):
    with pytest.raises(ValueError, match="exponents sum beyond the float64 range"):
        fn(exponents)
