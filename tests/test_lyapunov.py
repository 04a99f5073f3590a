"""Lyapunov spectrum by the QR algorithm (Algorithm 2) on maps with known exponents."""

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import henon
from floss_ref import (ConditioningWarning, ConvergenceWarning, FunctionMap, LinearMap, NumericalBreakdownError,
                       RoundoffWarning, VanillaRNN, finite_time_exponents, flossing_grad, lyapunov_spectrum,
                       random_orthonormal)
from floss_ref.core.lyapunov import qr_schedule


def test_upper_triangular_map_is_exact():
    """With Q0 = I and an upper-triangular A with positive diagonal, every QR returns
    Q = I and R = A: the exponents are log diag(A) to round-off, for any T and t_ONS."""
    A = np.triu(np.random.default_rng(0).standard_normal((5, 5)), 1) + np.diag([2.0, 1.5, 1.0, 0.7, 0.2])
    for t_ons in (1, 2):
        res = lyapunov_spectrum(LinearMap(A), np.zeros(5), T=10, k=5, t_ons=t_ons, Q0=np.eye(5))
        np.testing.assert_allclose(res.exponents, np.log(np.diag(A)), rtol=1e-13)


def test_general_linear_map_converges_to_eigenvalue_moduli():
    rng = np.random.default_rng(1)
    P = rng.standard_normal((6, 6))
    lam = np.array([1.3, 0.4, 0.0, -0.5, -1.0, -2.0])
    A = P @ np.diag(np.exp(lam) * np.array([1, -1, 1, -1, 1, 1])) @ np.linalg.inv(P)
    system = LinearMap(A)
    np.testing.assert_allclose(system.exact_exponents(), lam, atol=1e-12)
    for t_ons in (1, 3):
        res = lyapunov_spectrum(system, np.zeros(6), T=3000, k=4, t_ons=t_ons, transient=300, seed=2)
        np.testing.assert_allclose(res.exponents, lam[:4], atol=2e-3)


def test_henon_map_through_the_function_protocol():
    """Henon map (a = 1.4, b = 0.3): lambda_1 ~ 0.419 (literature), lambda_1 + lambda_2 = log b exactly."""
    res = lyapunov_spectrum(FunctionMap(henon.step, henon.tangent, 2), np.array([0.1, 0.1]),
                            T=20000, k=2, transient=1000, seed=0)
    assert res.exponents[0] == pytest.approx(0.419, abs=0.01)
    assert res.exponents.sum() == pytest.approx(np.log(henon.B), abs=1e-10)


def test_history_is_the_running_average():
    net = VanillaRNN.random(10, g=1.5, seed=0)
    rng = np.random.default_rng(1)
    xs = rng.standard_normal((50, 1))
    res = lyapunov_spectrum(net, rng.standard_normal(10), xs, k=3, t_ons=4, transient=10, history=True, seed=2)
    assert res.history_steps[0] == 12 and res.history_steps[-1] == 50
    np.testing.assert_array_equal(res.history[-1], res.exponents)
    assert res.history.shape == (len(res.history_steps), 3)


def test_schedule_includes_transient_and_end():
    def steps(T, t_ons, transient):
        schedule = qr_schedule(T, t_ons, transient)
        return {s for s in range(-2, T + 3) if s in schedule}
    assert steps(10, 4, 0) == {4, 8, 10}
    assert steps(10, 4, 3) == {3, 4, 8, 10}
    assert steps(5, 1, 2) == {1, 2, 3, 4, 5}


def test_schedule_is_arithmetic_not_a_set_of_T_steps():
    """The schedule of a step budget of 10^15 steps takes a few bytes and answers at once."""
    schedule = qr_schedule(10 ** 15, 3, 7)
    assert sys.getsizeof(schedule) < 1000 and not isinstance(schedule, (set, frozenset))
    assert 7 in schedule and 9 in schedule and 10 ** 15 in schedule and 3 * 10 ** 14 in schedule
    assert 8 not in schedule and 10 ** 15 - 2 not in schedule and 10 ** 15 + 3 not in schedule


_PEAK_RSS = """
import resource, sys
import numpy as np
from floss_ref import LinearMap, lyapunov_spectrum
res = lyapunov_spectrum(LinearMap(np.array([[1.2, 0.3], [0.1, 0.7]])), np.zeros(2), T=int(sys.argv[1]), k=2,
                        tol=1e-2, seed=0)
print(res.steps, res.converged, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def test_step_budget_memory_does_not_grow_with_T():
    """T as a step budget with tol: a run stopped by tol uses the same memory for T = 10^6
    and T = 10^12 (the QR schedule was a set of T entries: 660 MB at T = 10^7)."""
    peaks = {}
    for T in (10 ** 6, 10 ** 12):
        out = subprocess.run([sys.executable, "-c", _PEAK_RSS, str(T)], capture_output=True, text=True, check=True,
                             env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
        steps, converged, peak_kib = out.stdout.split()
        assert converged == "True" and int(steps) < 10 ** 6
        peaks[T] = int(peak_kib)
    assert abs(peaks[10 ** 12] - peaks[10 ** 6]) < 10 * 1024, peaks  # KiB


def test_float_T_is_refused_even_where_xs_fixes_it():
    net = VanillaRNN.random(4, seed=0)
    xs = np.zeros((20, 1))
    for T in (20.0, True, "20"):
        with pytest.raises(TypeError, match="T must be an integer"):
            lyapunov_spectrum(net, np.zeros(4), xs, T=T, k=2)
    assert lyapunov_spectrum(net, np.zeros(4), xs, T=np.int64(20), k=2, seed=0).steps == 20


def test_history_beyond_memory_is_refused_by_name():
    with pytest.raises(ValueError, match="history=True over T = 1000000000000000 steps.*GiB"):
        lyapunov_spectrum(LinearMap(np.eye(2)), np.zeros(2), T=10 ** 15, k=2, history=True)


def test_reverse_pass_tape_beyond_memory_is_refused_by_name():
    """flossing_grad keeps one tape entry per step: T = 10^13 is refused after the first step."""
    net = VanillaRNN.random(4, seed=0)
    with pytest.raises(ValueError, match="tape of the reverse pass over T = 10000000000000 steps"):
        flossing_grad(net, np.zeros(4), None, T=10 ** 13, k=2)


def test_batch_of_trajectories_equals_separate_runs():
    net = VanillaRNN.random(12, g=1.2, seed=0)
    rng = np.random.default_rng(3)
    h0, xs = rng.standard_normal((4, 12)), rng.standard_normal((80, 4, 1))
    Q0 = random_orthonormal(12, 5, (4,), rng)
    batch = lyapunov_spectrum(net, h0, xs, k=5, Q0=Q0).exponents
    for i in range(4):
        one = lyapunov_spectrum(net, h0[i], xs[:, i], k=5, Q0=Q0[i]).exponents
        np.testing.assert_allclose(one, batch[i], rtol=1e-12)


def test_householder_path_gives_the_same_spectrum():
    net = VanillaRNN.random(20, g=1.5, seed=4)
    rng = np.random.default_rng(5)
    h0, xs = rng.standard_normal(20), rng.standard_normal((200, 1))
    a = lyapunov_spectrum(net, h0, xs, k=10, seed=6, qr_method="lapack").exponents
    b = lyapunov_spectrum(net, h0, xs, k=10, seed=6, qr_method="householder").exponents
    np.testing.assert_allclose(a, b, rtol=1e-10)


def test_same_seed_same_result():
    net = VanillaRNN.random(16, g=1.5, seed=0)
    xs = np.random.default_rng(1).standard_normal((100, 1))
    a = lyapunov_spectrum(net, np.ones(16), xs, k=8, seed=9).exponents
    b = lyapunov_spectrum(net, np.ones(16), xs, k=8, seed=9).exponents
    np.testing.assert_array_equal(a, b)


def test_conditioning_warning_between_qrs():
    A = np.diag([10.0, 0.1])
    with pytest.warns(ConditioningWarning, match="R_11/R_kk"):
        res = lyapunov_spectrum(LinearMap(A), np.zeros(2), T=40, k=2, t_ons=10, seed=0)
    assert res.max_cond > 1e19
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lyapunov_spectrum(LinearMap(A), np.zeros(2), T=40, k=2, t_ons=1, seed=0)


def test_overflowing_trajectory_is_reported():
    net = VanillaRNN.random(10, g=1.0, nonlinearity="relu", mean=1.0, seed=0)
    with pytest.raises(NumericalBreakdownError, match="overflowed or became NaN at step"):
        lyapunov_spectrum(net, np.ones(10), np.zeros((2000, 1)), k=2)


def test_overflowing_tangent_vectors_are_reported():
    A = np.diag([1e100, 1e99])
    with pytest.raises(NumericalBreakdownError, match="tangent vectors overflowed"):
        lyapunov_spectrum(LinearMap(A), np.zeros(2), T=10, k=2, t_ons=5)


def test_collapsed_tangent_vectors_are_reported():
    with pytest.raises(NumericalBreakdownError, match="R_jj = 0 for j = 2"):
        lyapunov_spectrum(LinearMap(np.diag([1.0, 0.0])), np.zeros(2), T=3, k=2, Q0=np.eye(2))


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(k=0), ValueError, "k must be >= 1"),
    (dict(k=7), ValueError, "k must be <= 6"),
    (dict(k=2, t_ons=0), ValueError, "t_ons must be >= 1"),
    (dict(k=2, transient=30), ValueError, "not longer than the transient"),
    (dict(k=2, h0=np.ones(5)), ValueError, "h0 must have trailing shape"),
    (dict(k=2, h0=np.array([np.nan] * 6)), ValueError, "h0 contains NaN"),
    (dict(k=2, xs=np.ones((30, 2))), ValueError, "xs must have shape"),
    (dict(k=2, xs=np.full((30, 1), np.inf)), ValueError, "xs contains NaN"),
    (dict(k=2, T=29), ValueError, "T = 29 but xs has 30"),
    (dict(k=2, Q0=np.ones((6, 2))), ValueError, "orthonormal"),
    (dict(k=2, Q0=np.eye(6)[:, :3]), ValueError, "Q0 must have trailing shape"),
    (dict(k=2, qr_method="givens"), ValueError, "qr_method"),
    (dict(k=2.5), TypeError, "k must be an integer"),
    (dict(k=2, xs=None), ValueError, "give either"),
])
def test_bad_arguments(kwargs, error, match):
    net = VanillaRNN.random(6, seed=0)
    args = dict(h0=np.zeros(6), xs=np.zeros((30, 1)))
    args.update(kwargs)
    with pytest.raises(error, match=match):
        lyapunov_spectrum(net, args.pop("h0"), args.pop("xs"), **args)


def test_not_a_map():
    with pytest.raises(TypeError, match="map protocol"):
        lyapunov_spectrum(object(), np.zeros(2), T=5, k=1)
    with pytest.raises(TypeError, match="callables"):
        FunctionMap(1, 2, 3)


# ---- regression tests of the issue "Reliability", rows F12 and F14 ------------------------------

def test_F12_cond_warn_is_checked():
    lin = LinearMap(0.5 * np.eye(2))
    with pytest.raises(TypeError, match="cond_warn must be a real number"):
        lyapunov_spectrum(lin, np.ones(2), T=20, k=2, cond_warn="x")
    with pytest.raises(ValueError, match="cond_warn must be finite"):
        lyapunov_spectrum(lin, np.ones(2), T=20, k=2, cond_warn=float("nan"))
    lyapunov_spectrum(lin, np.ones(2), T=20, k=2, cond_warn=None)


def test_F12_ensemble_network_broadcasts_one_h0_and_names_mismatched_axes():
    net = VanillaRNN.random(6, g=1.5, ensemble=(4,), seed=0)
    xs = np.zeros((30, 1))
    one = lyapunov_spectrum(net, np.zeros(6), xs, k=2, seed=0, stderr=False)
    each = lyapunov_spectrum(net, np.zeros((4, 6)), xs, k=2, seed=0, stderr=False)
    assert one.exponents.shape == (4, 2)
    np.testing.assert_array_equal(one.exponents, each.exponents)
    with pytest.raises(ValueError, match=r"leading \(batch / ensemble\) axes do not broadcast: h0 \(3,\), "
                                         r"the ensemble \(4,\)"):
        flossing_grad(net, np.zeros((3, 6)), np.zeros((30, 3, 1)), k=2, seed=0)


def test_F14_roundoff_exponents_are_flagged():
    net = VanillaRNN.random(16, g=1.5, nonlinearity="relu", seed=0)
    net.params["W"][:, :8] = 0.0  # 8 units reach nobody: the Jacobian has rank <= 8
    with pytest.warns(RoundoffWarning, match="at round-off level"):
        res = lyapunov_spectrum(net, np.ones(16), np.zeros((300, 1)), k=12, seed=0, stderr=False)
    assert res.roundoff[-1] and not res.roundoff[0]
    assert np.all(res.exponents[res.roundoff] < -30)


# ---- bad input and breakdowns found by tests/test_properties.py -------------------------------------


def _counting_map():
    """The identity map on R^2, counting its steps: a refusal before any work leaves the count at 0."""
    calls = []

    def step(h, x):
        calls.append(1)
        return h

    return FunctionMap(step, lambda h, x, Q: Q, 2), calls


@pytest.mark.parametrize("method", ["bogus", np.array(["householder"]), None])
@pytest.mark.parametrize("fn", [lyapunov_spectrum, finite_time_exponents])
def test_an_unknown_qr_method_is_refused_before_any_work(fn, method):
    system, calls = _counting_map()
    with pytest.raises((ValueError, TypeError), match="qr_method"):
        fn(system, np.ones(2), T=10, k=1, window=5, qr_method=method) if fn is finite_time_exponents else \
            fn(system, np.ones(2), T=10, k=1, qr_method=method)
    assert not calls


@pytest.mark.parametrize("flag", ["history", "stderr", "progress"])
@pytest.mark.parametrize("value", ["no", np.array([1, 2]), 1, None])
def test_a_flag_that_is_not_a_bool_is_refused_by_name(flag, value):
    with pytest.raises(TypeError, match=f"{flag} must be True or False"):
        lyapunov_spectrum(LinearMap(np.eye(2)), np.ones(2), T=4, k=1, **{flag: value})


@pytest.mark.parametrize("n, k, shape, names", [
    (10 ** 12, 2, (), r"n = 1000000000000 by k = 2"),
    (3, 2, (10 ** 6, 10 ** 6), r"shape = \(1000000, 1000000\)"),
])
def test_random_orthonormal_refuses_a_block_beyond_memory_by_name(n, k, shape, names):
    with pytest.raises(ValueError, match=names + ".*GiB"):
        random_orthonormal(n, k, shape)


@pytest.mark.parametrize("shape, error", [("ab", TypeError), (3, TypeError), ((-1,), ValueError),
                                          ((2.0,), ValueError), ((True,), ValueError)])
def test_random_orthonormal_refuses_a_bad_shape_by_name(shape, error):
    with pytest.raises(error, match="shape must be a tuple of integers"):
        random_orthonormal(3, 2, shape)


def test_numpy_integers_are_accepted_as_sizes_and_thread_counts():
    res = lyapunov_spectrum(LinearMap(np.diag([2.0, 0.5])), np.ones(2), T=np.int32(6), k=np.uint8(2),
                            t_ons=np.int64(2), Q0=np.eye(2), blas_threads=np.int64(1))
    np.testing.assert_allclose(res.exponents, np.log([2.0, 0.5]))
    assert lyapunov_spectrum(LinearMap(np.eye(2)), np.ones(2), T=4, k=1, seed=np.int16(0)).exponents.shape == (1,)
    assert random_orthonormal(np.int64(3), np.int8(2), (np.int32(4),), seed=0).shape == (4, 3, 2)
    with pytest.raises(ValueError, match="blas_threads"):
        lyapunov_spectrum(LinearMap(np.eye(2)), np.ones(2), T=4, k=1, blas_threads=2 ** 63)


@pytest.mark.parametrize("Q0, error, words", [
    ([[1.0, 0.0], [0.0]], ValueError, "Q0 must be an array of numbers of one shape"),         # ragged
    (np.eye(2)[None].repeat(3, axis=0), ValueError, r"Q0 must have shape \(\*batch, n, k\)"),   # batch (3,) vs (2,)
])
def test_a_bad_Q0_is_refused_by_name(Q0, error, words):
    with pytest.raises(error, match=words):
        lyapunov_spectrum(LinearMap(np.eye(2)), np.ones((2, 2)), T=4, k=2, Q0=Q0)


def test_one_Q0_is_shared_by_a_batch_of_trajectories():
    A = np.diag([2.0, 0.5])
    one = lyapunov_spectrum(LinearMap(A), np.ones((3, 2)), T=4, k=2, Q0=np.eye(2)[None])
    assert one.exponents.shape == (3, 2)
    np.testing.assert_allclose(one.exponents, np.log([[2.0, 0.5]] * 3))


def test_an_empty_batch_is_refused_by_name():
    with pytest.raises(ValueError, match="h0, xs and the ensemble hold no trajectory"):
        lyapunov_spectrum(LinearMap(np.eye(2)), np.ones((0, 2)), T=4, k=1)


def test_inputs_no_longer_than_the_transient_are_refused_naming_xs():
    with pytest.raises(ValueError, match=r"T = 2 steps \(the length of xs\) is not longer than the transient"):
        lyapunov_spectrum(VanillaRNN.random(3, seed=0), np.zeros(3), np.zeros((2, 1)), k=1, transient=2)


@pytest.mark.parametrize("qr_method", ["lapack", "householder", "cholqr2"])
def test_a_tangent_whose_norm_overflows_is_a_breakdown_naming_the_step(qr_method):
    """Finite tangent vectors of entries 1.5e308 have norms beyond float64: the QR gave R_11 = inf or a Q
    holding inf and NaN, which came back as the exponent inf and as res.Q."""
    overflowing = FunctionMap(lambda h, x: h, lambda h, x, Q: np.full(np.shape(Q), 1.5e308), 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(NumericalBreakdownError, match=r"at step 0|after step 0"):
            lyapunov_spectrum(overflowing, np.ones(2), T=3, k=1, seed=0, qr_method=qr_method)


def test_a_finite_R_with_a_Q_that_is_not_is_a_breakdown_naming_the_step():
    """LAPACK's reflectors overflow for a column of norm 1.4e308: R_11 is finite, Q holds inf and NaN."""
    system = FunctionMap(lambda h, x: h, lambda h, x, Q: np.full(np.shape(Q), -1e308), 2)
    with pytest.raises(NumericalBreakdownError, match="the QR after step 4 returned a Q that is not finite"):
        lyapunov_spectrum(system, np.ones(2), T=5, k=1, seed=0)


def test_tol_with_too_few_blocks_warns_without_a_numpy_warning():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = lyapunov_spectrum(VanillaRNN.random(3, seed=0), np.zeros(3), np.zeros((8, 1)), k=1, tol=1e-3)
    assert res.converged is False
    assert [w.category for w in caught] == [ConvergenceWarning], [str(w.message) for w in caught]
    assert "none yet: 16 blocks are needed" in str(caught[0].message)
