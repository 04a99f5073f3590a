"""The Sec. 7 controls: the gradients of the spectral-radius and one-step-Jacobian
regularisers against central differences, and the control training runs."""

import numpy as np
import pytest

from types import SimpleNamespace

from floss_ref import GRU, LSTM, VanillaRNN
from floss_ref.experiments.config import TrainConfig
from floss_ref.experiments.controls import jacobian_norm_loss_grad, regularize, spectral_radius_loss_grad
from floss_ref.runs.run import control_result


def test_spectral_radius_is_the_largest_eigenvalue_modulus():
    W = np.diag([0.5, -2.0, 1.0])
    loss, _ = spectral_radius_loss_grad(W)
    assert loss == pytest.approx((2.0 - 1.0) ** 2)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spectral_radius_gradient_matches_central_differences(seed):
    rng = np.random.default_rng(seed)
    W = rng.standard_normal((7, 7)) * 0.5   # generic: a complex-conjugate pair may lead
    _, W_bar = spectral_radius_loss_grad(W)
    for _ in range(3):
        E = rng.standard_normal(W.shape)
        eps = 1e-6
        fd = (spectral_radius_loss_grad(W + eps * E)[0] - spectral_radius_loss_grad(W - eps * E)[0]) / (2 * eps)
        assert np.sum(W_bar * E) == pytest.approx(fd, rel=1e-6, abs=1e-10)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("transient", [0, 3])
def test_jacobian_norm_gradient_matches_central_differences(nonlinearity, transient):
    rng = np.random.default_rng(4)
    net = VanillaRNN.random(6, 1, 1.3, nonlinearity=nonlinearity, seed=1)
    h0 = rng.standard_normal(6)
    xs = rng.standard_normal((12, 1))
    loss, grads = jacobian_norm_loss_grad(net, h0, xs, transient=transient)
    assert set(grads) == {"W", "V", "b"}
    direction = {name: rng.standard_normal(p.shape) for name, p in net.params.items()}
    eps = 1e-6

    def at(sign):
        moved = VanillaRNN({name: p + sign * eps * direction[name] for name, p in net.params.items()},
                           nonlinearity=nonlinearity)
        return jacobian_norm_loss_grad(moved, h0, xs, transient=transient)[0]

    fd = (at(1) - at(-1)) / (2 * eps)
    pulled = sum(np.sum(grads[name] * direction[name]) for name in grads)
    assert pulled == pytest.approx(fd, rel=1e-6)
    assert loss > 0


def test_regularize_lowers_each_objective():
    for objective in ("spectral_radius", "jacobian_norm"):
        net = VanillaRNN.random(8, 1, 2.0, seed=0)
        losses = regularize(net, objective=objective, epochs=60, T=20, lr=0.02, seed=0)
        assert losses[-1] < 0.5 * losses[0], (objective, losses[0], losses[-1])


def test_regularize_refuses_what_it_cannot_do():
    net = VanillaRNN.random(4, seed=0)
    with pytest.raises(ValueError, match="objective"):
        regularize(net, objective="lyapunov", epochs=1, T=5)
    with pytest.raises(TypeError, match="one network"):
        regularize(VanillaRNN.random(4, ensemble=(2,), seed=0), objective="spectral_radius", epochs=1, T=5)
    with pytest.raises(TypeError, match=r"square recurrent matrix params\['W'\]"):
        regularize(LSTM.random(4, seed=0), objective="spectral_radius", epochs=1, T=5)
    with pytest.raises(TypeError, match="lacks step, tangent"):
        regularize(SimpleNamespace(params={"W": np.eye(2)}), objective="jacobian_norm", epochs=1, T=5)


@pytest.mark.parametrize("make", [lambda: LSTM.random(3, seed=0), lambda: GRU.random(3, seed=0)])
def test_jacobian_norm_control_takes_any_map(make):
    """The one-step-Jacobian control needs only the map protocol: a gated cell works, its
    gradient agrees with central differences, and Adam lowers the loss."""
    net = make()
    rng = np.random.default_rng(1)
    h0, xs = rng.standard_normal(net.state_size), rng.standard_normal((6, 1))
    loss, grads = jacobian_norm_loss_grad(net, h0, xs, transient=1)
    direction = {name: rng.standard_normal(p.shape) for name, p in net.params.items()}
    eps = 1e-6

    def shifted(sign):
        return type(net)({name: p + sign * eps * direction[name] for name, p in net.params.items()})

    fd = (jacobian_norm_loss_grad(shifted(1), h0, xs, transient=1)[0]
          - jacobian_norm_loss_grad(shifted(-1), h0, xs, transient=1)[0]) / (2 * eps)
    exact = sum(np.sum(grads[name] * direction[name]) for name in grads)
    assert abs(fd - exact) <= 1e-6 * max(1.0, abs(exact))
    losses = regularize(net, objective="jacobian_norm", epochs=40, T=6, lr=1e-2, seed=2)
    assert np.all(np.isfinite(losses)) and losses[-5:].mean() < losses[:5].mean()


@pytest.mark.parametrize("objective", ["spectral_radius", "jacobian_norm"])
def test_control_run_replaces_the_flossing_episodes(objective):
    config = TrainConfig(task="binary_xor", delay=4, N=8, T=20, batch=4, epochs=30, protocol="during",
                         floss_at=(0, 10), k=4, floss_epochs=5, floss_T=12, floss_transient=2, diag_every=0,
                         test_batch=8, seed=0)
    out = control_result({**config.to_dict(), "objective": objective})
    assert out["history/floss_loss"].shape == (2, 5)
    assert np.all(np.isfinite(out["history/floss_loss"]))
    assert np.all(np.isnan(out["history/floss_exponents"]))
    again = control_result({**config.to_dict(), "objective": objective})
    for key in out:
        np.testing.assert_array_equal(out[key], again[key])   # same seed, same result
