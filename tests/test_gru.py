"""GRU cell: forward step, N x N tangent dynamics and their pullbacks.

Dot-product tests pair each pullback with its tangent rule (round-off exact); central
differences check the tangent rules and the Jacobian action against the forward code;
the forward code is checked against the GRU equations written gate by gate.  Then the
drivers: spectrum of an ensemble, the whole flossing gradient, bad input.
"""

import doctest

import numpy as np
import pytest
from scipy.special import expit

import floss_ref.core.cells.gru
from cell_contract import (check_step_dot_product, check_step_vjp_central_differences,
                           check_tangent_dot_product, check_tangent_is_jacobian_of_step,
                           check_tangent_vjp_central_differences)
from conftest import inner
from floss_ref import flossing_grad, flossing_loss, lyapunov_spectrum
from floss_ref.core.cells import GRU
from floss_ref.experiments.tasks import Task
from floss_ref.experiments.bptt import Model, loss_and_grad, task_loss

CASES = [
    # (ensemble, state batch shape, x given, bias per unit)
    ((), (), True, False),
    ((), (3,), True, True),          # one network, a batch of 3 trajectories
    ((4,), (4,), True, False),       # an ensemble of 4 networks
    ((2, 1), (2, 3), True, True),    # an ensemble of 2 networks, 3 trajectories each
    ((), (3,), False, False),        # no input
]


def make(ensemble, batch, with_x, unit_bias, rng, N=5, n_in=2, k=3):
    net = GRU.random(N, n_in=n_in, g=1.5, input_scale=2.0, ensemble=ensemble, seed=rng)
    net.params["b"] = 0.5 * rng.standard_normal(ensemble + (3, N if unit_bias else 1))
    h = rng.standard_normal(batch + (N,))
    x = rng.standard_normal(batch + (n_in,)) if with_x else None
    Q = rng.standard_normal(batch + (N, k))
    return net, h, x, Q


def perturbed(net, p_dot, eps):
    return GRU({n: net.params[n] + eps * p_dot[n] for n in net.params})


def test_step_matches_gru_equations(rng):
    N, n_in = 4, 3
    net, h, x, _ = make((), (), True, True, rng, N=N, n_in=n_in)
    W, V, b = net.params["W"], net.params["V"], net.params["b"]
    Wr, Wz, Wn = (W[j * N:(j + 1) * N] for j in range(3))
    Vr, Vz, Vn = (V[j * N:(j + 1) * N] for j in range(3))
    r = expit(Wr @ h + Vr @ x + b[0])
    z = expit(Wz @ h + Vz @ x + b[1])
    n = np.tanh(Wn @ (r * h) + Vn @ x + b[2])
    h_next, _ = net.step(h, x)
    np.testing.assert_allclose(h_next, z * h + (1 - z) * n, rtol=1e-14, atol=1e-15)


def test_random_and_seed():
    N = 64
    net = GRU.random(N, n_in=2, g=np.array([0.5, 2.0]), ensemble=(2,), seed=0)
    assert net.params["W"].shape == (2, 3 * N, N) and net.params["V"].shape == (2, 3 * N, 2)
    assert net.params["b"].shape == (2, 3, 1) and np.all(net.params["b"] == 0)
    np.testing.assert_allclose(net.params["W"].std(axis=(-2, -1)) * np.sqrt(N), [0.5, 2.0], rtol=0.05)
    assert net.state_size == N == net.N
    again = GRU.random(N, n_in=2, g=np.array([0.5, 2.0]), ensemble=(2,), seed=0)
    assert all(np.array_equal(net.params[p], again.params[p]) for p in GRU.param_names)


@pytest.mark.parametrize("ensemble,batch,with_x,unit_bias", CASES)
def test_step_vjp_dot_product(ensemble, batch, with_x, unit_bias, rng):
    net, h, x, _ = make(ensemble, batch, with_x, unit_bias, rng)
    check_step_dot_product(net, h, x, rng)


@pytest.mark.parametrize("ensemble,batch,with_x,unit_bias", CASES)
def test_tangent_vjp_dot_product(ensemble, batch, with_x, unit_bias, rng):
    net, h, x, Q = make(ensemble, batch, with_x, unit_bias, rng)
    check_tangent_dot_product(net, h, x, Q, rng)


@pytest.mark.parametrize("ensemble,batch,with_x,unit_bias", CASES)
def test_step_vjp_central_differences(ensemble, batch, with_x, unit_bias, rng):
    net, h, x, _ = make(ensemble, batch, with_x, unit_bias, rng)
    check_step_vjp_central_differences(net, h, x, rng, perturbed)


@pytest.mark.parametrize("ensemble,batch,with_x,unit_bias", CASES)
def test_tangent_vjp_central_differences(ensemble, batch, with_x, unit_bias, rng):
    net, h, x, Q = make(ensemble, batch, with_x, unit_bias, rng)
    check_tangent_vjp_central_differences(net, h, x, Q, rng, perturbed)


def test_jacobian_action_matches_finite_difference_jacobian(rng):
    N = 6
    net, h, x, _ = make((), (), True, True, rng, N=N)
    check_tangent_is_jacobian_of_step(net, h, x, np.eye(N), rtol=1e-6, atol=1e-9)


def test_spectrum_invariant_under_permutation_of_units(rng):
    N, k, T = 8, 6, 300
    net = GRU.random(N, g=2.0, seed=rng)
    net.params["b"] = 0.3 * rng.standard_normal((3, N))
    perm = rng.permutation(N)
    rows = np.concatenate([j * N + perm for j in range(3)])
    moved = GRU({"W": net.params["W"][rows][:, perm], "V": net.params["V"][rows],
                 "b": net.params["b"][:, perm]})
    h0, xs = rng.standard_normal(N), rng.standard_normal((T, 1))
    Q0 = np.linalg.qr(rng.standard_normal((N, k)))[0]
    ref = lyapunov_spectrum(net, h0, xs, k=k, transient=50, Q0=Q0).exponents
    out = lyapunov_spectrum(moved, h0[perm], xs, k=k, transient=50, Q0=Q0[perm]).exponents
    np.testing.assert_allclose(out, ref, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("ensemble", [(), (2,)])
def test_flossing_gradient_central_differences(ensemble, rng):
    N, k, T = 4, 3, 15
    net = GRU.random(N, g=2.0, input_scale=2.0, ensemble=ensemble, seed=rng)
    net.params["b"] = 0.3 * rng.standard_normal(ensemble + (3, N))
    h0 = rng.standard_normal(ensemble + (N,))
    xs = rng.standard_normal((T,) + ensemble + (1,))
    Q0 = np.linalg.qr(rng.standard_normal(ensemble + (N, k)))[0]
    kw = dict(k=k, transient=3, target=0.1, Q0=Q0)
    res = flossing_grad(net, h0, xs, **kw)
    eps = 1e-5

    def total_loss(system, h):
        return np.sum(flossing_loss(system, h, xs, **kw)[0])

    for name in GRU.param_names:
        p_dot = {n: np.zeros_like(p) for n, p in net.params.items()}
        p_dot[name] = rng.standard_normal(net.params[name].shape)
        fd = (total_loss(perturbed(net, p_dot, eps), h0) - total_loss(perturbed(net, p_dot, -eps), h0)) / (2 * eps)
        assert inner(res.grads, p_dot) == pytest.approx(fd, rel=1e-6), name
    h_dot = rng.standard_normal(h0.shape)
    fd = (total_loss(net, h0 + eps * h_dot) - total_loss(net, h0 - eps * h_dot)) / (2 * eps)
    assert inner(res.h0_bar, h_dot) == pytest.approx(fd, rel=1e-6)


def test_bptt_gradient_matches_central_differences(rng):
    """loss_and_grad (generic BPTT over GRU.step_vjp) against central differences of the
    task loss along a random direction in all parameters, 1e-6 relative."""
    t = Task("binary_xor", 4)
    net = GRU.random(5, n_in=t.channels, g=2.0, input_scale=3.0, seed=rng)
    net.params["b"] = 0.3 * rng.standard_normal((3, 5))
    model = Model.random(net, seed=rng, relax_steps=5)
    batch = t.sample(16, 3, seed=rng)
    g = loss_and_grad(model, batch, t.loss)
    v = {n: rng.standard_normal(p.shape) for n, p in model.params.items()}
    eps = 1e-5

    def moved(e):
        cell = GRU({n: net.params[n] + e * v[n] for n in GRU.param_names})
        return task_loss(Model(cell, model.w_out + e * v["w_out"], model.offset + e * v["offset"],
                               model.h0 + e * v["h0"]), batch, t.loss)

    assert inner(g.grads, v) == pytest.approx((moved(eps) - moved(-eps)) / (2 * eps), rel=1e-6)


@pytest.mark.parametrize("params,match", [
    ({"W": np.zeros((12, 4)), "V": np.zeros((12, 1))}, "keys"),
    ({"W": np.zeros((16, 4)), "V": np.zeros((16, 1)), "b": np.zeros((3, 1))}, r"\(\.\.\., 3N, N\)"),
    ({"W": np.zeros((12, 4)), "V": np.zeros((16, 1)), "b": np.zeros((3, 1))}, "V must have trailing shape"),
    ({"W": np.zeros((12, 4)), "V": np.zeros((12, 1)), "b": np.zeros((3, 2))}, "b must have shape"),
    ({"W": np.zeros((2, 12, 4)), "V": np.zeros((3, 12, 1)), "b": np.zeros((3, 1))}, "do not broadcast"),
])
def test_bad_params(params, match):
    with pytest.raises(ValueError, match=match):
        GRU(params)


def test_k_larger_than_N_is_refused(rng):
    net = GRU.random(3, seed=0)
    with pytest.raises(ValueError, match="k must be <= 3"):
        lyapunov_spectrum(net, rng.standard_normal(3), rng.standard_normal((10, 1)), k=4)


def test_cli_spectrum_with_gru(capsys):
    from floss_ref.cli import main
    assert main(["spectrum", "--cell", "gru", "--N", "4", "--k", "4", "--T", "60",
                 "--transient", "10", "--quiet"]) == 0
    assert "gru network, N = 4" in capsys.readouterr().out


def test_docstring_examples():
    assert doctest.testmod(floss_ref.core.cells.gru, raise_on_error=True).attempted > 0


# ---- bad input found by tests/test_properties.py ---------------------------------------------------------


def test_an_input_scale_that_overflows_the_weights_is_refused_by_name():
    """1e308 overflowed V, and the refusal named V instead of the argument."""
    with pytest.raises(ValueError, match="input_scale must be <= 1e"):
        GRU.random(3, seed=0, input_scale=1e308)
