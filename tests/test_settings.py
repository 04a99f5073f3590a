"""The settings on which the paper's text and the authors' code differ: each option does
what it says, the defaults leave every number unchanged, and the new adjoint path (one
trained h_0 per batch slot) passes the dot-product and finite-difference tests."""

import functools

import numpy as np
import pytest

from floss_ref import LSTM, VanillaRNN, floss
from floss_ref.experiments.bptt import Model, loss_and_grad, loss_jvp, run_steps, run_steps_jvp, run_steps_vjp
from floss_ref.experiments.optim import Adam
from floss_ref.experiments.tasks import Task
from floss_ref.runs.run import AUTHORS_SETTINGS, Run, TrainConfig


def inner(a, b):
    return float(np.sum(a * b))


# ---- one initial state per batch slot ------------------------------------------------------

def per_slot_model(cell_kind="vanilla", B=3, seed=0, n_in=2):
    if cell_kind == "vanilla":
        cell = VanillaRNN.random(6, n_in, 1.2, seed=seed)
    else:
        cell = LSTM.random(4, n_in, 1.2, seed=seed)
    return Model.random(cell, seed=seed + 1, readout_init="authors", h0_slots=B)


@pytest.mark.parametrize("rules", ["own", "generic"])
def test_per_slot_h0_sequence_pullback_dot_product(rules):
    rng = np.random.default_rng(0)
    model = per_slot_model()
    cell = model.cell
    assert model.h0.shape == (3, 6)
    if rules == "own":
        run, run_vjp, run_jvp = cell.run, cell.run_vjp, cell.run_jvp
    else:
        run, run_vjp, run_jvp = (functools.partial(f, cell) for f in (run_steps, run_steps_vjp, run_steps_jvp))
    xs = rng.standard_normal((9, 3, 2))
    hs, tape = run(model.h0, xs)
    hs_bar = rng.standard_normal(hs.shape)
    h0_dot = rng.standard_normal(model.h0.shape)
    p_dot = {n: rng.standard_normal(p.shape) for n, p in cell.params.items()}
    h0_bar, p_bar = run_vjp(tape, hs_bar)
    assert h0_bar.shape == (3, 6)               # one cotangent per slot, not summed
    lhs = inner(hs_bar, run_jvp(tape, h0_dot, p_dot))
    rhs = inner(h0_bar, h0_dot) + sum(inner(p_bar[n], p_dot[n]) for n in p_dot)
    assert lhs == pytest.approx(rhs, rel=1e-12)


@pytest.mark.parametrize("cell_kind", ["vanilla", "lstm"])
def test_per_slot_h0_gradient_central_differences(cell_kind):
    rng = np.random.default_rng(1)
    model = per_slot_model(cell_kind, seed=2, n_in=1)
    batch = Task("binary_xor", 2).sample(8, 3, rng)
    res = loss_and_grad(model, batch, "bce")
    direction = rng.standard_normal(model.h0.shape)
    base = model.h0.copy()

    def loss_at(eps):
        model.h0[...] = base + eps * direction
        try:
            return loss_and_grad(model, batch, "bce").loss
        finally:
            model.h0[...] = base

    eps = 1e-6
    fd = (loss_at(eps) - loss_at(-eps)) / (2 * eps)
    assert inner(res.grads["h0"], direction) == pytest.approx(fd, rel=1e-6, abs=1e-10)
    # the tangent rule of the whole loss agrees too
    assert loss_jvp(model, batch, "bce", {"h0": direction}) == pytest.approx(fd, rel=1e-6, abs=1e-10)


def test_per_slot_h0_is_refused_for_another_batch_size_but_serves_any_forward():
    model = per_slot_model(n_in=1)
    batch = Task("binary_xor", 2).sample(8, 5, 0)
    with pytest.raises(ValueError, match="one per batch slot"):
        loss_and_grad(model, batch, "bce")
    states = model.initial_states(5)
    np.testing.assert_array_equal(states, model.h0[[0, 1, 2, 0, 1]])


# ---- readout, clipping, inputs, lags, W mean, forget gain ----------------------------------

def test_authors_readout_init():
    cell = VanillaRNN.random(400, seed=0)
    scaled = Model.random(cell, seed=1)
    authors = Model.random(cell, seed=1, readout_init="authors")
    assert float(scaled.offset) == 0.0 and float(authors.offset) == 0.001
    assert np.std(authors.w_out) == pytest.approx(1.0, rel=0.1)
    assert np.std(scaled.w_out) == pytest.approx(1.0 / np.sqrt(400), rel=0.1)
    with pytest.raises(ValueError, match="readout_init"):
        Model.random(cell, readout_init="paper")


def test_per_array_clipping_clips_each_array_on_its_own():
    params = {"a": np.zeros(2), "b": np.zeros(2)}
    grads = {"a": np.array([3.0, 4.0]), "b": np.array([0.003, 0.004])}     # norms 5 and 0.005
    opt = Adam(params, lr=1.0, clip_norm=0.03, clip_mode="per_array")
    norm = opt.step(grads)
    assert norm == pytest.approx(np.sqrt(25 + 0.005 ** 2))
    # Adam's first step moves by lr * sign(g) whatever the scale: compare the moments instead
    np.testing.assert_allclose(opt.m["a"], 0.1 * grads["a"] * 0.03 / 5)    # clipped to 0.03
    np.testing.assert_allclose(opt.m["b"], 0.1 * grads["b"])              # below 0.03: untouched
    glob = Adam({"a": np.zeros(2), "b": np.zeros(2)}, lr=1.0, clip_norm=0.03)
    glob.step(grads)
    np.testing.assert_allclose(glob.m["b"], 0.1 * grads["b"] * 0.03 / norm)
    with pytest.raises(ValueError, match="clip_mode"):
        Adam(params, clip_mode="each")


def test_input_scaling_divides_every_stream_and_keeps_the_targets():
    plain = Task("spatial_xor", 3).sample(20, 4, 7)
    scaled = Task("spatial_xor", 3, input_scale="streams").sample(20, 4, 7)
    np.testing.assert_array_equal(scaled.xs, plain.xs / 3)
    np.testing.assert_array_equal(scaled.ys, plain.ys)


def test_double_lags_are_d_and_2d_scored_from_2d():
    task = Task("binary_xor", 3, lags="double")          # an odd d is fine with lags d, 2d
    batch = task.sample(20, 2, 0)
    x = batch.xs[..., 0]
    assert batch.mask.nonzero()[0].tolist() == list(range(6, 20))
    np.testing.assert_array_equal(batch.ys[6:], np.logical_xor(x[3:17], x[0:14]))
    with pytest.raises(ValueError, match="temporal XOR"):
        Task("copy", 3, lags="double")
    with pytest.raises(ValueError, match="first scored step"):
        Task("binary_xor", 10, lags="double").check_length(20)


def test_w_mean_over_N_and_per_entry():
    entry = VanillaRNN.random(200, nonlinearity="relu", seed=0)
    over_n = VanillaRNN.random(200, nonlinearity="relu", mean_scale="1/N", seed=0)
    assert np.mean(entry.params["W"]) == pytest.approx(-0.1, abs=0.01)
    assert np.mean(over_n.params["W"]) == pytest.approx(-0.1 / 200, abs=0.003)
    np.testing.assert_allclose(entry.params["W"] - over_n.params["W"], -0.1 + 0.1 / 200, atol=1e-12)


def test_lstm_forget_gain():
    default = LSTM.random(5, g=0.8, seed=3)
    zero = LSTM.random(5, g=0.8, forget_gain=0.0, seed=3)
    f = slice(5, 10)                                    # gates (i, f, c~, o)
    assert np.all(zero.params["W"][f] == 0.0) and np.any(default.params["W"][f] != 0.0)
    others = np.r_[0:5, 10:20]
    np.testing.assert_array_equal(zero.params["W"][others], default.params["W"][others])
    np.testing.assert_array_equal(zero.params["V"], default.params["V"])


def test_flossing_inputs_are_scaled_like_the_task_inputs():
    a, b = VanillaRNN.random(6, 3, seed=1), VanillaRNN.random(6, 3, seed=1)
    ha = floss(a, epochs=2, k=2, T=10, inputs="bernoulli", seed=4)
    hb = floss(b, epochs=2, k=2, T=10, inputs="bernoulli", input_scale=1 / 3, seed=4)
    assert not np.array_equal(ha.loss, hb.loss)
    c = VanillaRNN({n: p.copy() for n, p in VanillaRNN.random(6, 3, seed=1).params.items()})
    c.params["V"] /= 3                                  # the same as scaling the inputs
    hc = floss(c, epochs=1, k=2, T=10, inputs="bernoulli", seed=4)
    np.testing.assert_allclose(hc.loss[0], hb.loss[0], rtol=1e-12)


def test_authors_settings_train_and_defaults_are_the_paper_text():
    assert TrainConfig().input_scale == "none" and TrainConfig().h0_mode == "shared"
    config = TrainConfig(task="spatial_xor", delay=2, N=6, T=12, batch=3, epochs=4, k=2, floss_epochs=2,
                         floss_T=6, floss_transient=1, protocol="prefloss", diag_every=2, **AUTHORS_SETTINGS)
    run = Run(config).train()
    assert run.model.h0.shape == (3, 6) and float(run.model.offset) != 0.0
    assert np.isfinite(run.summary()["test_loss"])
    with pytest.raises(ValueError, match="input_scale"):
        TrainConfig(input_scale="third")
