"""floss_ref.core.precision.reference: the mpmath reference of the flossing loss against the
float64 loss and adjoint (T = 300 included), for every cell, and its refusals."""

import numpy as np
import pytest

from floss_ref import VanillaRNN, flossing_grad, flossing_loss, random_orthonormal
from floss_ref.core.precision.reference import flossing_directional_derivative_mp, flossing_loss_mp


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


def test_non_orthonormal_Q0_is_refused_beyond_the_tolerance():
    net = VanillaRNN.random(4, seed=0)
    xs = np.zeros((5, 1))
    Q0 = random_orthonormal(4, 2, seed=0)
    for f, extra in ((flossing_loss_mp, {}), (flossing_directional_derivative_mp, {"direction": {"b": np.ones(4)}})):
        with pytest.raises(ValueError, match="Q0 must have orthonormal columns"):
            f(net, np.zeros(4), xs, k=2, Q0=Q0 * 1.001, prec=64, **extra)
    flossing_loss_mp(net, np.zeros(4), xs, k=2, Q0=Q0 + 1e-13, prec=64)    # within ORTHONORMAL_ATOL
