"""The flossing loss and its exact gradient (Algorithm 1, Eqs. 4-5, 8).

Three checks of the reverse pass through dynamics, tangent steps and QRs:
the forward-mode (JVP) evaluation of the same loop (flossing_loss_jvp, benettin_jvp)
gives the same directional derivative to round-off (dot-product test), central
differences agree to 1e-6 relative on a short horizon, and the pieces (loss value,
exponents) agree with lyapunov_spectrum.
"""

import warnings

import numpy as np
import pytest

from floss_ref import (LSTM, ConditioningWarning, NumericalBreakdownError, VanillaRNN, floss, flossing_grad,
                       flossing_loss, flossing_loss_jvp, lyapunov_spectrum, random_orthonormal)
from floss_ref.core.lyapunov import benettin, benettin_jvp, benettin_vjp, qr_schedule
from conftest import inner, random_like_params

N, K, T = 8, 4, 20
CONFIGS = [
    # nonlinearity, ensemble, t_ons, transient
    ("tanh", (), 1, 0),
    ("tanh", (), 3, 5),
    ("relu", (), 1, 4),
    ("tanh", (3,), 2, 4),
    ("relu", (3,), 1, 0),
    ("linear", (), 2, 3),
]


def setup(nonlinearity, ensemble, seed=0):
    rng = np.random.default_rng(seed)
    g = {"tanh": 1.5, "relu": 0.5, "linear": 0.9}[nonlinearity]
    net = VanillaRNN.random(N, n_in=2, g=g, nonlinearity=nonlinearity, mean=0.0, ensemble=ensemble, seed=rng)
    if nonlinearity == "relu":
        # keep most units active: with fewer than k active units D_s has rank < k and
        # R_kk = 0 (a genuine breakdown, tested separately)
        net.params["b"] += 3.0
    h0 = rng.standard_normal(ensemble + (N,))
    xs = rng.standard_normal((T,) + ensemble + (2,))
    if nonlinearity == "relu":
        h0 = np.abs(h0) + 1.0
        xs = 0.3 * xs
    Q0 = random_orthonormal(N, K, ensemble, rng)
    return net, h0, xs, Q0, rng


@pytest.mark.parametrize("nonlinearity,ensemble,t_ons,transient", CONFIGS)
def test_gradient_dot_product_with_forward_mode(nonlinearity, ensemble, t_ons, transient):
    net, h0, xs, Q0, rng = setup(nonlinearity, ensemble)
    target = -0.3
    res = flossing_grad(net, h0, xs, k=K, t_ons=t_ons, transient=transient, target=target, Q0=Q0)
    h0_dot, p_dot = rng.standard_normal(h0.shape), random_like_params(net.params, rng)
    loss, loss_dot = flossing_loss_jvp(net, h0, xs, h0_dot, p_dot, k=K, t_ons=t_ons, transient=transient,
                                       target=target, Q0=Q0)
    np.testing.assert_array_equal(loss, res.loss)
    reverse = inner(res.grads, p_dot) + inner(res.h0_bar, h0_dot)
    assert reverse == pytest.approx(float(np.sum(loss_dot)), rel=1e-10)


@pytest.mark.parametrize("nonlinearity,ensemble,t_ons,transient", CONFIGS)
def test_benettin_tangent_and_adjoint_dot_product(nonlinearity, ensemble, t_ons, transient):
    """<gamma_bar, gamma_dot> = <params_bar, params_dot> + <h0_bar, h0_dot> for an arbitrary
    cotangent gamma_bar of the loop's output, not only the flossing loss's."""
    net, h0, xs, Q0, rng = setup(nonlinearity, ensemble, seed=2)
    loop = dict(transient=transient, schedule=qr_schedule(T, t_ons, transient))
    h0_dot, p_dot = rng.standard_normal(h0.shape), random_like_params(net.params, rng)
    gamma, gamma_dot = benettin_jvp(net, h0, xs, T, Q0, h0_dot, p_dot, **loop)
    forward = benettin(net, h0, xs, T, Q0, record=True, **loop)
    np.testing.assert_array_equal(gamma, forward.gamma)
    gamma_bar = rng.standard_normal(gamma.shape)
    h0_bar, p_bar = benettin_vjp(net, forward, gamma_bar, transient=transient)
    assert inner(p_bar, p_dot) + inner(h0_bar, h0_dot) == pytest.approx(inner(gamma_bar, gamma_dot), rel=1e-10)


@pytest.mark.parametrize("nonlinearity,ensemble,t_ons,transient", CONFIGS)
def test_gradient_central_differences(nonlinearity, ensemble, t_ons, transient):
    """Directional derivatives along a random direction and single entries, 1e-6 relative."""
    net, h0, xs, Q0, rng = setup(nonlinearity, ensemble, seed=1)
    kw = dict(k=K, t_ons=t_ons, transient=transient, Q0=Q0)
    res = flossing_grad(net, h0, xs, **kw)
    base = {n: p.copy() for n, p in net.params.items()}

    def loss_at(eps, p_dot, h0_dot):
        for n in net.params:
            net.params[n][...] = base[n] + eps * p_dot.get(n, 0.0)
        try:
            return float(np.sum(flossing_loss(net, h0 + eps * h0_dot, xs, **kw)[0]))
        finally:
            for n in net.params:
                net.params[n][...] = base[n]

    directions = [(random_like_params(net.params, rng), rng.standard_normal(h0.shape))]
    for name in net.params:          # one entry of each parameter
        e = np.zeros_like(net.params[name])
        e.flat[rng.integers(e.size)] = 1.0
        directions.append(({name: e}, np.zeros_like(h0)))
    for p_dot, h0_dot in directions:
        # fourth-order central stencil: the loss is strongly curved on short horizons
        eps = 1e-5
        fd = (loss_at(-2 * eps, p_dot, h0_dot) - 8 * loss_at(-eps, p_dot, h0_dot)
              + 8 * loss_at(eps, p_dot, h0_dot) - loss_at(2 * eps, p_dot, h0_dot)) / (12 * eps)
        exact = inner(res.grads, p_dot) + inner(res.h0_bar, h0_dot)
        assert exact == pytest.approx(fd, rel=1e-6, abs=1e-9)


def test_loss_matches_spectrum_and_definition():
    net, h0, xs, Q0, _ = setup("tanh", ())
    target = np.array([0.1, -0.2, 0.0, -1.0])
    loss, lam = flossing_loss(net, h0, xs, k=K, transient=3, target=target, Q0=Q0)
    spec = lyapunov_spectrum(net, h0, xs, k=K, transient=3, Q0=Q0)
    np.testing.assert_array_equal(lam, spec.exponents)
    assert loss == pytest.approx(np.sum((lam - target) ** 2), rel=1e-15)
    res = flossing_grad(net, h0, xs, k=K, transient=3, target=target, Q0=Q0)
    assert res.loss == loss
    np.testing.assert_array_equal(res.exponents, lam)


def test_ensemble_gradient_equals_separate_networks():
    """Each member of an ensemble gets the gradient of its own loss."""
    net, h0, xs, Q0, _ = setup("tanh", (3,))
    res = flossing_grad(net, h0, xs, k=K, Q0=Q0)
    for r in range(3):
        single = VanillaRNN({n: p[r] for n, p in net.params.items()})
        one = flossing_grad(single, h0[r], xs[:, r], k=K, Q0=Q0[r])
        assert one.loss == pytest.approx(res.loss[r], rel=1e-12)
        for n in net.params:
            np.testing.assert_allclose(one.grads[n], res.grads[n][r], rtol=1e-10, atol=1e-13)


def test_householder_and_lapack_paths_agree():
    net, h0, xs, Q0, _ = setup("tanh", ())
    a = flossing_grad(net, h0, xs, k=K, Q0=Q0, qr_method="lapack")
    b = flossing_grad(net, h0, xs, k=K, Q0=Q0, qr_method="householder")
    for n in net.params:
        np.testing.assert_allclose(a.grads[n], b.grads[n], rtol=1e-9, atol=1e-12)


def test_bad_arguments():
    net, h0, xs, Q0, _ = setup("tanh", ())
    with pytest.raises(ValueError, match="k must be <= 8"):
        flossing_grad(net, h0, xs, k=9)
    with pytest.raises(ValueError, match="k must be >= 1"):
        flossing_grad(net, h0, xs, k=0)
    with pytest.raises(ValueError, match="t_ons must be >= 1"):
        flossing_grad(net, h0, xs, k=2, t_ons=0)
    with pytest.raises(ValueError, match="not longer than the transient"):
        flossing_grad(net, h0, xs, k=2, transient=T)
    with pytest.raises(ValueError, match="target must"):
        flossing_grad(net, h0, xs, k=2, target=np.zeros(3))
    with pytest.raises(TypeError, match="differentiable map"):
        flossing_grad(object(), h0, xs, k=2)
    with pytest.raises(ValueError, match="inputs must be one of"):
        floss(net, epochs=1, k=2, T=10, inputs="poisson")
    with pytest.raises(ValueError, match="epochs must be >= 0"):
        floss(net, epochs=-1, k=2, T=10)


def test_singular_R_in_pullback_is_reported():
    """A network with W = 0 maps every tangent vector to 0: R = 0 is reported, not NaN."""
    net = VanillaRNN({"W": np.zeros((4, 4)), "V": np.ones((4, 1)), "b": np.zeros(4)})
    with pytest.raises(NumericalBreakdownError, match="R_jj = 0"):
        flossing_grad(net, np.zeros(4), np.zeros((5, 1)), k=2)


# ---- regression tests of the issue "Reliability", rows F12 and F14 ------------------------------

def test_F14_flossing_loss_and_gradient_warn_about_conditioning():
    net = LSTM.random(8, g=50.0, seed=0)
    xs = np.random.default_rng(0).standard_normal((300, 1))
    with pytest.warns(ConditioningWarning):
        flossing_grad(net, np.zeros(16), xs, k=8, seed=0)
    with pytest.warns(ConditioningWarning):
        flossing_loss(net, np.zeros(16), xs, k=8, seed=0)


def test_F14_a_well_conditioned_run_gives_no_warning():
    net = VanillaRNN.random(8, g=1.2, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        flossing_grad(net, np.zeros(8), np.zeros((50, 1)), k=4, seed=0)


def test_F14_singular_R_in_the_pullback_names_the_step():
    from floss_ref import SingularRError

    net = VanillaRNN.random(6, g=1.5, seed=0)
    net.params["W"][:, :2] *= 1e-15  # two directions contract to round-off at every step
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(SingularRError, match=r"column j = \d .*\(QR after step \d+\)"):
            flossing_grad(net, np.ones(6), np.zeros((30, 1)), k=6, seed=0)


def test_F12_a_shared_h0_gets_the_summed_cotangent_and_pairs_with_the_tangent():
    from floss_ref import flossing_loss_jvp

    net = VanillaRNN.random(6, g=1.5, ensemble=(3,), seed=0)
    xs = np.random.default_rng(1).standard_normal((30, 1))
    Q0 = np.broadcast_to(np.eye(6)[:, :2], (3, 6, 2))
    h0 = np.random.default_rng(2).standard_normal(6)
    one = flossing_grad(net, h0, xs, k=2, Q0=Q0)
    each = flossing_grad(net, np.broadcast_to(h0, (3, 6)), xs, k=2, Q0=Q0)
    assert one.h0_bar.shape == (6,)
    np.testing.assert_allclose(one.h0_bar, each.h0_bar.sum(axis=0), rtol=1e-12)
    h0_dot = np.random.default_rng(3).standard_normal(6)
    _, loss_dot = flossing_loss_jvp(net, h0, xs, h0_dot, {}, k=2, Q0=Q0)
    assert float(np.sum(loss_dot)) == pytest.approx(float(np.sum(one.h0_bar * h0_dot)), rel=1e-10)


def test_nan_cotangent_of_a_huge_lstm_state_is_named_with_its_step():
    """h_0 = 1e155 in an LSTM: the forward exponents are finite, but the second-order terms of
    the pullback overflow; the gradient was all NaN, now the cotangent and step are named."""
    net = LSTM.random(8, 1, 1.0, seed=0)
    xs = np.random.default_rng(0).standard_normal((50, 1))
    h0, Q0 = np.full(16, 1e155), random_orthonormal(16, 2, seed=0)
    assert np.all(np.isfinite(flossing_loss(net, h0, xs, k=2, Q0=Q0)[1]))
    with pytest.raises(NumericalBreakdownError, match=r"cotangent h_bar .* reverse pass at step 0"):
        flossing_grad(net, h0, xs, k=2, Q0=Q0)


def test_overflowing_loss_of_a_huge_target_raises_breakdown():
    net = VanillaRNN.random(4, seed=0)
    xs = np.random.default_rng(0).standard_normal((20, 1))
    for f in (flossing_loss, flossing_grad):
        with pytest.raises(NumericalBreakdownError, match=r"flossing loss .* overflowed after the last step \(T = 20\)"):
            f(net, np.zeros(4), xs, k=2, target=1e200, seed=0)
    with pytest.raises(NumericalBreakdownError, match="flossing loss"):
        flossing_loss_jvp(net, np.zeros(4), xs, np.zeros(4), {}, k=2, target=1e200, seed=0)
    assert np.isfinite(flossing_grad(net, np.zeros(4), xs, k=2, target=1e100, seed=0).loss)


@pytest.mark.parametrize("params_dot, error, match", [
    ([1, 2], TypeError, "params_dot must be a dict"),
    (None, TypeError, "params_dot must be a dict"),
    ("W", TypeError, "params_dot must be a dict"),
    ({"W": "a"}, TypeError, r"params_dot\['W'\]"),
    ({"W": np.zeros(3)}, ValueError, r"params_dot\['W'\] must have the shape of the parameter, \(4, 4\)"),
    ({"U": np.zeros((4, 4))}, ValueError, "params_dot has keys"),
])
def test_params_dot_of_the_wrong_kind_is_refused_by_name(params_dot, error, match):
    net = VanillaRNN.random(4, seed=0)
    with pytest.raises(error, match=match):
        flossing_loss_jvp(net, np.zeros(4), np.zeros((10, 1)), np.zeros(4), params_dot, k=2, seed=0)


# ---- bad input found by tests/test_properties.py ---------------------------------------------------------


@pytest.mark.parametrize("fn", [flossing_loss, flossing_grad, flossing_loss_jvp])
@pytest.mark.parametrize("method", ["bogus", np.array(["lapack"])])
def test_an_unknown_qr_method_is_refused_before_any_work(fn, method):
    """The method was checked after the random Q0 was drawn; now before anything else of the loop."""
    net = VanillaRNN.random(3, seed=0)
    extra = (np.zeros(3), {}) if fn is flossing_loss_jvp else ()
    before = np.random.default_rng(5)
    state = before.bit_generator.state
    with pytest.raises((ValueError, TypeError), match="qr_method"):
        fn(net, np.zeros(3), np.zeros((6, 1)), *extra, k=1, qr_method=method, seed=before)
    assert before.bit_generator.state == state     # no Q0 drawn


def test_a_target_that_does_not_broadcast_is_refused_by_name():
    with pytest.raises(ValueError, match=r"target must be a scalar or broadcast to \(\*batch, k\)"):
        flossing_loss(VanillaRNN.random(3, seed=0), np.zeros(3), np.zeros((6, 1)), k=1, target=[0.0, 1.0])
