"""The flossing loss and its exact gradient (Algorithm 1, Eqs. 4-5, 8).

Three checks of the reverse pass through dynamics, tangent steps and QRs:
the forward-mode (JVP) evaluation of the same loop (flossing_loss_jvp, benettin_jvp)
gives the same directional derivative to round-off (dot-product test), central
differences agree to 1e-6 relative on a short horizon, and the pieces (loss value,
exponents) agree with lyapunov_spectrum.
"""

import numpy as np
import pytest

from floss_ref import (Adam, NumericalBreakdownError, VanillaRNN, floss, flossing_grad, flossing_loss,
                       flossing_loss_jvp, lyapunov_spectrum, random_orthonormal)
from floss_ref.core.cells import get_cell
from floss_ref.experiments.optim import clip_per_network, gradient_norms
from floss_ref.experiments.tasks import draw_inputs
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


def test_floss_drives_exponents_to_target_and_is_reproducible():
    def run():
        net = VanillaRNN.random(16, g=1.0, seed=3)
        hist = floss(net, epochs=60, k=4, T=60, transient=10, target=0.0, lr=0.02, seed=4)
        return net, hist

    net, hist = run()
    assert hist.loss.shape == (60,) and hist.exponents.shape == (60, 4)
    assert np.mean(hist.loss[-10:]) < 0.2 * np.mean(hist.loss[:5])
    net2, hist2 = run()
    np.testing.assert_array_equal(hist.loss, hist2.loss)
    for n in net.params:
        np.testing.assert_array_equal(net.params[n], net2.params[n])


def test_floss_continues_with_given_optimizer():
    """Two runs of 10 epochs with a shared optimiser and generator equal one run of 20."""
    one = VanillaRNN.random(8, seed=0)
    floss(one, epochs=20, k=2, T=20, lr=0.01, seed=np.random.default_rng(5))
    two = VanillaRNN.random(8, seed=0)
    opt, gen = Adam(two.params, lr=0.01), np.random.default_rng(5)
    floss(two, epochs=10, k=2, T=20, seed=gen, optimizer=opt)
    floss(two, epochs=10, k=2, T=20, seed=gen, optimizer=opt)
    for n in one.params:
        np.testing.assert_array_equal(one.params[n], two.params[n])


def test_gradient_norms_and_clipping_are_per_network():
    net = VanillaRNN.random(5, n_in=2, ensemble=(3,), seed=0)
    rng = np.random.default_rng(1)
    grads = {name: rng.standard_normal(p.shape) for name, p in net.params.items()}
    grads["W"][1] *= 100.0                        # member 1 far above the others
    norms = gradient_norms(net, grads)
    for r in range(3):
        one = np.sqrt(sum(np.sum(g[r] ** 2) for g in grads.values()))
        assert norms[r] == pytest.approx(one, rel=1e-14)
    clip = 2.0 * max(norms[0], norms[2])          # only member 1 is clipped
    clipped, before = clip_per_network(net, grads, clip)
    np.testing.assert_array_equal(before, norms)
    after = gradient_norms(net, clipped)
    assert after[1] == pytest.approx(clip, rel=1e-14)
    for name in grads:
        np.testing.assert_array_equal(clipped[name][[0, 2]], grads[name][[0, 2]])
        np.testing.assert_allclose(clipped[name][1], grads[name][1] * clip / norms[1], rtol=1e-15)
    single = VanillaRNN.random(5, seed=0)
    g1 = {name: np.ones_like(p) for name, p in single.params.items()}
    assert gradient_norms(single, g1) == pytest.approx(np.sqrt(sum(p.size for p in single.params.values())))


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gradient_norms_of_gated_ensembles(cell):
    """Gated cells have b : (*E, G, 1): two trailing axes per network, declared in param_core_ndim."""
    net = get_cell(cell).random(4, ensemble=(2,), seed=0)
    grads = {name: np.ones_like(p) for name, p in net.params.items()}
    grads["b"][1] = 0.0
    norms = gradient_norms(net, grads)
    per_net = sum(p[0].size for p in net.params.values())
    np.testing.assert_allclose(norms, np.sqrt([per_net, per_net - net.params["b"][1].size]), rtol=1e-15)


@pytest.mark.parametrize("ensemble", [(), (2,)])
def test_floss_with_clip_norm_equals_adam_on_clipped_gradients(ensemble):
    """floss(clip_norm=c) takes the Adam steps of the per-network clipped gradients and
    records the norms before clipping; clipping changes the result (Adam is invariant
    only to one common scale)."""
    k, T_, clip, epochs = 2, 15, 0.05, 3
    net = VanillaRNN.random(6, g=1.2, ensemble=ensemble, seed=3)
    ref = VanillaRNN.random(6, g=1.2, ensemble=ensemble, seed=3)
    plain = VanillaRNN.random(6, g=1.2, ensemble=ensemble, seed=3)
    hist = floss(net, epochs=epochs, k=k, T=T_, lr=0.01, clip_norm=clip, seed=7)
    floss(plain, epochs=epochs, k=k, T=T_, lr=0.01, seed=7)
    opt, rng, norms = Adam(ref.params, lr=0.01), np.random.default_rng(7), []
    for _ in range(epochs):                       # the same draws, in floss's order
        xs = draw_inputs("gaussian", T_, ensemble, 1, rng)
        h0 = rng.standard_normal(ensemble + (6,))
        Q0 = random_orthonormal(6, k, ensemble, rng)
        res = flossing_grad(ref, h0, xs, k=k, T=T_, Q0=Q0)
        norm = np.sqrt(sum(np.sum(g ** 2, axis=tuple(range(len(ensemble), g.ndim))) for g in res.grads.values()))
        assert np.all(norm > clip)
        scale = clip / norm
        opt.step({n: g * np.reshape(scale, np.shape(scale) + (1,) * (g.ndim - len(ensemble)))
                  for n, g in res.grads.items()})
        norms.append(norm)
    np.testing.assert_allclose(hist.grad_norm, np.array(norms), rtol=1e-12)
    assert hist.grad_norm.shape == (epochs,) + ensemble
    for n in net.params:
        np.testing.assert_allclose(net.params[n], ref.params[n], rtol=1e-12, atol=1e-14)
    assert max(np.max(np.abs(net.params[n] - plain.params[n])) for n in net.params) > 1e-6


def test_bad_clip_norm():
    net = VanillaRNN.random(4, seed=0)
    for bad in (0.0, -1.0, np.inf):
        with pytest.raises(ValueError, match="clip_norm must be"):
            floss(net, epochs=1, k=2, T=10, clip_norm=bad)
    with pytest.raises(TypeError, match="clip_norm must be a real number"):
        floss(net, epochs=1, k=2, T=10, clip_norm="1")
    W = np.random.default_rng(0).standard_normal((3, 4, 4))
    shared_V = VanillaRNN({"W": W, "V": np.ones((4, 1)), "b": np.zeros((3, 4))})
    with pytest.raises(ValueError, match="clip_norm: parameter 'V' of shape \\(4, 1\\) has ensemble axes"):
        floss(shared_V, epochs=1, k=2, T=10, clip_norm=1.0)
    hist = floss(shared_V, epochs=1, k=2, T=10)   # without clipping a shared V is fine,
    assert hist.grad_norm is None                 # but there are no per-network norms


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
