"""floss_ref.experiments.driver: the flossing loop (floss) drives exponents to their target,
reproducibly, continues with a given optimiser, clips per network, scales its inputs, and
checks its arguments."""

import numpy as np
import pytest

from floss_ref import Adam, VanillaRNN, floss, flossing_grad, random_orthonormal
from floss_ref.experiments.tasks import draw_inputs


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


def test_flossing_inputs_are_scaled_like_the_task_inputs():
    a, b = VanillaRNN.random(6, 3, seed=1), VanillaRNN.random(6, 3, seed=1)
    ha = floss(a, epochs=2, k=2, T=10, inputs="bernoulli", seed=4)
    hb = floss(b, epochs=2, k=2, T=10, inputs="bernoulli", input_scale=1 / 3, seed=4)
    assert not np.array_equal(ha.loss, hb.loss)
    c = VanillaRNN({n: p.copy() for n, p in VanillaRNN.random(6, 3, seed=1).params.items()})
    c.params["V"] /= 3                                  # the same as scaling the inputs
    hc = floss(c, epochs=1, k=2, T=10, inputs="bernoulli", seed=4)
    np.testing.assert_allclose(hc.loss[0], hb.loss[0], rtol=1e-12)


# ---- regression test of the issue "Reliability", row F12 --------------------------------------

def test_F12_floss_with_zero_epochs_checks_its_arguments():
    net = VanillaRNN.random(8, seed=0)
    with pytest.raises(ValueError, match="k must be <= 8"):
        floss(net, epochs=0, k=20, T=50)
    with pytest.raises(ValueError, match="not longer than the transient"):
        floss(net, epochs=0, k=4, T=50, transient=60)


def test_optimizer_that_is_not_an_adam_on_these_params_is_refused():
    net = VanillaRNN.random(4, seed=0)
    for bad in ("adam", object()):
        with pytest.raises(TypeError, match="optimizer must be a floss_ref.Adam built on system.params"):
            floss(net, epochs=1, k=1, T=10, optimizer=bad)
    other = VanillaRNN.random(4, seed=1)
    with pytest.raises(ValueError, match="optimizer updates other arrays than system.params"):
        floss(net, epochs=1, k=1, T=10, optimizer=Adam(other.params))


# ---- bad input found by tests/test_properties.py ---------------------------------------------------------


@pytest.mark.parametrize("arguments, words", [
    (dict(epochs=10 ** 12, T=5), r"the history of epochs = 1000000000000 epochs .* GiB"),   # ran forever
    (dict(epochs=1, T=10 ** 12), r"the inputs of one epoch \(T = 1000000000000 steps.* GiB"),  # MemoryError
])
def test_sizes_beyond_memory_are_refused_by_name_before_any_epoch(arguments, words):
    net = VanillaRNN.random(3, seed=0)
    W = net.params["W"].copy()
    with pytest.raises(ValueError, match=words):
        floss(net, k=1, **arguments)
    np.testing.assert_array_equal(net.params["W"], W)


def test_a_bad_target_is_refused_even_without_epochs():
    with pytest.raises(ValueError, match="target must be a scalar or broadcast"):
        floss(VanillaRNN.random(3, seed=0), epochs=0, k=1, T=5, target=[0.0, 1.0])


def test_progress_must_be_a_bool():
    with pytest.raises(TypeError, match="progress must be True or False"):
        floss(VanillaRNN.random(3, seed=0), epochs=1, k=1, T=5, progress="yes")
