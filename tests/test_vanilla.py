"""Vanilla cell (Eq. 9): forward/tangent steps and their pullbacks.

Dot-product tests pair each pullback with its tangent rule (round-off exact); central
differences check the tangent rules against the forward code itself.
"""

import numpy as np
import pytest

from floss_ref import VanillaRNN, floss
from cell_contract import (check_step_dot_product, check_step_jvp_central_differences,
                           check_tangent_dot_product, check_tangent_is_jacobian_of_step,
                           check_tangent_jvp_central_differences)

CASES = [
    # (nonlinearity, ensemble, state batch shape)
    ("tanh", (), ()),
    ("tanh", (), (3,)),          # one network, a batch of 3 trajectories
    ("tanh", (4,), (4,)),        # an ensemble of 4 networks
    ("relu", (), (3,)),
    ("relu", (4,), (4,)),
    ("linear", (), (3,)),        # App. E: phi = identity
    ("linear", (4,), (4,)),
]


def make(nonlinearity, ensemble, batch, rng, N=6, n_in=2, k=3):
    net = VanillaRNN.random(N, n_in=n_in, g=1.5, nonlinearity=nonlinearity, ensemble=ensemble,
                            mean=0.0, seed=rng)
    h = rng.standard_normal(batch + (N,))
    x = rng.standard_normal(batch + (n_in,))
    Q = rng.standard_normal(batch + (N, k))
    return net, h, x, Q


def perturbed(net, p_dot, eps):
    return VanillaRNN({n: net.params[n] + eps * p_dot[n] for n in net.params}, net.nonlinearity)


@pytest.mark.parametrize("nonlinearity,ensemble,batch", CASES)
def test_step_vjp_dot_product(nonlinearity, ensemble, batch, rng):
    net, h, x, _ = make(nonlinearity, ensemble, batch, rng)
    check_step_dot_product(net, h, x, rng)


@pytest.mark.parametrize("nonlinearity,ensemble,batch", CASES)
def test_tangent_vjp_dot_product(nonlinearity, ensemble, batch, rng):
    net, h, x, Q = make(nonlinearity, ensemble, batch, rng)
    check_tangent_dot_product(net, h, x, Q, rng)


@pytest.mark.parametrize("nonlinearity,ensemble,batch", CASES)
def test_step_jvp_central_differences(nonlinearity, ensemble, batch, rng):
    net, h, x, _ = make(nonlinearity, ensemble, batch, rng)
    check_step_jvp_central_differences(net, h, x, rng, perturbed)


@pytest.mark.parametrize("nonlinearity,ensemble,batch", CASES)
def test_tangent_jvp_central_differences(nonlinearity, ensemble, batch, rng):
    net, h, x, Q = make(nonlinearity, ensemble, batch, rng)
    check_tangent_jvp_central_differences(net, h, x, Q, rng, perturbed)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu", "linear"])
def test_tangent_is_the_jacobian_of_step(nonlinearity, rng):
    """D_s Q from tangent() equals a finite-difference Jacobian of step() applied to Q."""
    net, h, x, Q = make(nonlinearity, (), (), rng)
    check_tangent_is_jacobian_of_step(net, h, x, Q, rtol=1e-7, atol=1e-9)


def test_step_without_input(rng):
    net, h, _, _ = make("tanh", (), (), rng)
    h_next, cache = net.step(h, None)
    np.testing.assert_allclose(h_next, net.params["W"] @ np.tanh(h) + net.params["b"])
    _, p_bar = net.step_vjp(cache, np.ones_like(h))
    assert "V" not in p_bar


def test_random_init_statistics():
    N = 400
    net = VanillaRNN.random(N, g=2.0, seed=0)
    W = net.params["W"]
    assert abs(W.mean()) < 0.01
    assert np.std(W) * np.sqrt(N) == pytest.approx(2.0, rel=0.02)
    relu = VanillaRNN.random(N, g=1.0, nonlinearity="relu", seed=0)
    assert relu.params["W"].mean() == pytest.approx(-0.1, abs=0.01)
    ortho = VanillaRNN.random(50, g=0.7, init="orthogonal", seed=0, ensemble=(3,))
    Wo = ortho.params["W"]
    np.testing.assert_allclose(np.swapaxes(Wo, -1, -2) @ Wo, 0.49 * np.eye(50)[None].repeat(3, 0), atol=1e-12)
    b = net.params["b"]
    assert b.min() >= 0.0 and b.max() <= 0.1


def test_per_network_gain():
    g = np.array([0.0, 1.0, 3.0])
    net = VanillaRNN.random(200, g=g, ensemble=(3,), seed=1)
    std = net.params["W"].reshape(3, -1).std(axis=1) * np.sqrt(200)
    np.testing.assert_allclose(std, g, rtol=0.05)


def test_same_seed_same_network():
    a = VanillaRNN.random(10, seed=7).params
    b = VanillaRNN.random(10, seed=7).params
    assert all(np.array_equal(a[n], b[n]) for n in a)


@pytest.mark.parametrize("kwargs,match", [
    (dict(nonlinearity="sigmoid"), "nonlinearity"),
    (dict(init="xavier"), "init"),
    (dict(g=-1.0), "g must be"),
    (dict(g=np.ones(3), ensemble=(2,)), "g must"),
    (dict(ensemble=(0,)), "ensemble"),
    (dict(n_in=0), "n_in must be"),
])
def test_random_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        VanillaRNN.random(5, **kwargs)


def test_bad_parameter_arrays():
    good = VanillaRNN.random(4, n_in=2, seed=0).params
    with pytest.raises(ValueError, match="W must have shape"):
        VanillaRNN({**good, "W": np.ones((4, 3))})
    with pytest.raises(ValueError, match="V must have trailing shape"):
        VanillaRNN({**good, "V": np.ones((3, 2))})
    with pytest.raises(ValueError, match="b must have trailing shape"):
        VanillaRNN({**good, "b": np.ones(5)})
    with pytest.raises(ValueError, match="NaN or infinite"):
        VanillaRNN({**good, "W": np.full((4, 4), np.nan)})
    with pytest.raises(TypeError, match="floating-point"):
        VanillaRNN({**good, "W": np.array([["a"] * 4] * 4)})
    with pytest.raises(ValueError, match="keys"):
        VanillaRNN({"W": good["W"]})
    with pytest.raises(ValueError, match="do not broadcast"):
        VanillaRNN({**good, "W": np.ones((3, 4, 4)), "b": np.ones((2, 4))})


def test_linear_network_exponents_are_the_log_moduli_of_the_eigenvalues_of_W():
    # h_{s+1} = W h_s + V x + b: the tangent dynamics is W itself, whatever the inputs, so the
    # Lyapunov exponents are log |eigenvalues of W| (App. E), a complex pair giving two equal ones
    from floss_ref import lyapunov_spectrum
    net = VanillaRNN.random(6, n_in=1, g=0.9, nonlinearity="linear", seed=3)
    xs = np.random.default_rng(4).standard_normal((3000, 1))
    res = lyapunov_spectrum(net, np.zeros(6), xs, k=6, transient=500, seed=5, stderr=False)
    expected = np.sort(np.log(np.abs(np.linalg.eigvals(net.params["W"]))))[::-1]
    np.testing.assert_allclose(res.exponents, expected, atol=2e-3)


def test_an_unknown_nonlinearity_is_refused_by_name():
    net = VanillaRNN.random(4, nonlinearity="linear", seed=0)
    assert net.nonlinearity == "linear"
    with pytest.raises(ValueError, match="nonlinearity"):
        VanillaRNN.random(4, nonlinearity="identity")


@pytest.mark.parametrize("u_shape, v_shape, shape", [
    ((5,), (3,), (5, 3)),                 # one trajectory: np.multiply.outer
    ((4, 5), (4, 3), (5, 3)),             # a batch, nothing to broadcast: one GEMM
    ((2, 4, 5), (4, 3), (5, 3)),          # broadcast leading axes
    ((2, 4, 5), (2, 4, 3), (2, 1, 5, 3)),  # an ensemble with a batch per network
])
def test_outer_sum_fast_paths_match_the_plain_sum(u_shape, v_shape, shape):
    """outer_sum's shortcuts (issue "Speed") give sum over the broadcast axes of u v^T."""
    from floss_ref.core.cells._linear import outer_sum, sum_to
    rng = np.random.default_rng(3)
    u, v = rng.standard_normal(u_shape), rng.standard_normal(v_shape)
    plain = sum_to(u[..., :, None] * v[..., None, :], shape)
    np.testing.assert_allclose(outer_sum(u, v, shape), plain, rtol=1e-13, atol=1e-13)
    assert outer_sum(u, v, shape).shape == shape
    x = rng.standard_normal(shape)
    assert sum_to(x, shape) is x          # nothing broadcast: returned as it is


# ---- the mean of W (an authors' setting) ---------------------------------------------------

def test_w_mean_over_N_and_per_entry():
    entry = VanillaRNN.random(200, nonlinearity="relu", seed=0)
    over_n = VanillaRNN.random(200, nonlinearity="relu", mean_scale="1/N", seed=0)
    assert np.mean(entry.params["W"]) == pytest.approx(-0.1, abs=0.01)
    assert np.mean(over_n.params["W"]) == pytest.approx(-0.1 / 200, abs=0.003)
    np.testing.assert_allclose(entry.params["W"] - over_n.params["W"], -0.1 + 0.1 / 200, atol=1e-12)


# ---- regression tests of the issue "Reliability", row F12: no aliasing, clear errors ----------

def test_F12_cells_copy_the_callers_arrays():
    W = np.random.default_rng(0).standard_normal((6, 6)) * 0.3
    W_before = W.copy()
    net = VanillaRNN({"W": W, "V": np.ones((6, 1)), "b": np.zeros(6)})
    floss(net, epochs=2, k=2, T=30, seed=0)
    np.testing.assert_array_equal(W, W_before)          # flossing changed the cell's copy only
    assert not np.array_equal(net.params["W"], W_before)
    W.setflags(write=False)                              # a read-only array works too
    floss(VanillaRNN({"W": W, "V": np.ones((6, 1)), "b": np.zeros(6)}), epochs=1, k=2, T=30, seed=0)


def test_F12_huge_gain_is_refused_with_its_name():
    with pytest.raises(ValueError, match="g must be <= 1e"):
        VanillaRNN.random(4, g=1e308)


@pytest.mark.parametrize("W, V, b, match", [
    (np.zeros((0, 0)), np.zeros((0, 1)), np.zeros(0), "at least one unit"),
    (np.zeros((3, 3)), np.zeros((3, 0)), np.zeros(3), "at least one input column"),
])
def test_network_without_units_or_inputs_is_refused(W, V, b, match):
    with pytest.raises(ValueError, match=match):
        VanillaRNN({"W": W, "V": V, "b": b})


# ---- bad input found by tests/test_properties.py ---------------------------------------------------------


def test_numpy_integers_are_accepted_as_ensemble_axes():
    net = VanillaRNN.random(3, ensemble=(np.int64(2), np.uint8(3)), seed=0)
    assert net.ensemble_shape == (2, 3) and all(type(e) is int for e in net.ensemble_shape)


def test_a_network_beyond_memory_is_refused_naming_the_ensemble():
    with pytest.raises(ValueError, match=r"N = 3 with n_in = 1 and ensemble = \(1000000, 1000000\)"):
        VanillaRNN.random(3, ensemble=(10 ** 6, 10 ** 6))
