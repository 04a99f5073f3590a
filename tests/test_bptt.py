"""floss_ref.experiments.bptt: task losses, readout, BPTT by hand, and one trained initial
state per batch slot (the authors' setting).

Gradient checks at the two levels of docs/derivations.md, section 1: dot-product tests between each pullback
and its tangent rule (round-off exact), and central finite differences of the whole
task loss (N = 8, B = 3, T = 30, every task, both losses, 1e-6 relative).
"""

import functools

import numpy as np
import pytest

from conftest import SMALL
from floss_ref import NumericalBreakdownError
from floss_ref.core.cells import CELLS, LSTM, VanillaRNN
from floss_ref.experiments.tasks import TASKS, Task, TaskBatch
from floss_ref.experiments.bptt import (LOSSES, Model, accuracy, bce_logits, forward, loss_and_grad, loss_jvp, mse,
                            readout, readout_jvp, readout_vjp, run_steps, run_steps_jvp, run_steps_vjp,
                            sequence_rules, task_loss)
from floss_ref.runs.run import Run, TrainConfig


def inner(a, b):
    return float(np.sum(a * b))


def dict_inner(a, b):
    return sum(inner(a[k], b[k]) for k in a)


def random_like(params, rng):
    return {k: rng.standard_normal(np.shape(p)) for k, p in params.items()}


class MemoryCell:
    """A test map whose state is longer than its readout: s = (h, c), n = 2N.

        h' = W tanh(h) + V x + b + a * c
        c' = c / 2 + tanh(h)

    Like an LSTM it carries a second half of the state that the readout does not see, so
    it exercises the generic BPTT loop and the readout of state[..., :N].
    """

    def __init__(self, N, n_in, seed):
        rng = np.random.default_rng(seed)
        self.inner = VanillaRNN.random(N, n_in, 1.0, seed=rng)
        self.params = dict(self.inner.params, a=0.5 * rng.standard_normal(N))
        self.inner.params = self.params  # one dict, shared
        self.N, self.n_in, self.state_size = N, n_in, 2 * N

    def step(self, s, x):
        N = self.N
        h, c = s[..., :N], s[..., N:]
        h_next, cache = self.inner.step(h, x)
        phi = np.tanh(h)
        return np.concatenate([h_next + self.params["a"] * c, 0.5 * c + phi], axis=-1), (cache, h, c, phi)

    def step_vjp(self, cache, s_bar):
        N = self.N
        inner_cache, h, c, phi = cache
        h_next_bar, c_next_bar = s_bar[..., :N], s_bar[..., N:]
        h_bar, p_bar = self.inner.step_vjp(inner_cache, h_next_bar)
        h_bar = h_bar + c_next_bar * (1.0 - phi * phi)
        c_bar = self.params["a"] * h_next_bar + 0.5 * c_next_bar
        p_bar["a"] = np.sum(h_next_bar * c, axis=0)
        return np.concatenate([h_bar, c_bar], axis=-1), p_bar

    def step_jvp(self, cache, s_dot, params_dot):
        N = self.N
        inner_cache, h, c, phi = cache
        s_dot = np.broadcast_to(s_dot, h.shape[:-1] + (2 * N,))
        h_dot, c_dot = s_dot[..., :N], s_dot[..., N:]
        h_next_dot = self.inner.step_jvp(inner_cache, h_dot, params_dot) + self.params["a"] * c_dot
        if "a" in params_dot:
            h_next_dot = h_next_dot + params_dot["a"] * c
        return np.concatenate([h_next_dot, 0.5 * c_dot + (1.0 - phi * phi) * h_dot], axis=-1)


def make_model(N=8, n_in=1, seed=0, nonlinearity="tanh", memory=False):
    if memory:
        cell = MemoryCell(N, n_in, seed)
    else:
        cell = VanillaRNN.random(N, n_in, 1.0, nonlinearity=nonlinearity, seed=seed)
    return Model.random(cell, seed=seed + 1)


# ---- losses ---------------------------------------------------------------------------

def test_mse_and_bce_values_against_their_definitions():
    rng = np.random.default_rng(0)
    r = rng.standard_normal((6, 3))
    ys = rng.integers(0, 2, (6, 3)).astype(float)
    mask = np.array([False, False, True, True, True, True])
    assert mse(r, ys, mask) == pytest.approx(np.mean((r[2:] - ys[2:]) ** 2), rel=1e-14)
    p = 1.0 / (1.0 + np.exp(-r[2:]))
    expected = np.mean(-ys[2:] * np.log(p) - (1 - ys[2:]) * np.log(1 - p))
    assert bce_logits(r, ys, mask) == pytest.approx(expected, rel=1e-12)


def test_bce_is_finite_for_huge_logits():
    r = np.array([[800.0, -800.0]])
    ys = np.array([[0.0, 1.0]])
    assert bce_logits(r, ys, np.array([True])) == pytest.approx(800.0)  # log(1 + e^800) - 0
    r_bar = LOSSES["bce"][1](r, ys, np.array([True]))
    assert np.allclose(r_bar, [[0.5, -0.5]])


def test_accuracy_counts_scored_steps_only():
    r = np.array([[1.0, -1.0], [-2.0, 0.0], [3.0, 3.0]])
    ys = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
    assert accuracy(r, ys, np.array([False, True, True])) == 0.75
    assert accuracy(r, ys, np.array([True, False, False])) == 0.5


@pytest.mark.parametrize("loss", ["mse", "bce"])
def test_loss_pullback_dot_product(loss):
    rng = np.random.default_rng(1)
    r, ys, r_dot = rng.standard_normal((3, 7, 4))
    ys = (ys > 0).astype(float)
    mask = np.arange(7) >= 2
    f, f_vjp, f_jvp = LOSSES[loss]
    assert inner(f_vjp(r, ys, mask), r_dot) == pytest.approx(f_jvp(r, ys, mask, r_dot), rel=1e-13)
    eps = 1e-6
    fd = (f(r + eps * r_dot, ys, mask) - f(r - eps * r_dot, ys, mask)) / (2 * eps)
    assert fd == pytest.approx(f_jvp(r, ys, mask, r_dot), rel=1e-7)


def test_readout_dot_product_with_state_longer_than_readout():
    rng = np.random.default_rng(2)
    T, B, n, N = 5, 3, 10, 4
    hs, hs_dot = rng.standard_normal((2, T, B, n))
    w_out, w_dot = rng.standard_normal((2, N))
    off_dot = 0.7
    r_bar = rng.standard_normal((T, B))
    hs_bar, w_bar, off_bar = readout_vjp(hs, w_out, r_bar)
    assert np.all(hs_bar[..., N:] == 0.0)
    lhs = inner(r_bar, readout_jvp(hs, w_out, hs_dot, w_dot, off_dot))
    rhs = inner(hs_bar, hs_dot) + inner(w_bar, w_dot) + float(off_bar) * off_dot
    assert lhs == pytest.approx(rhs, rel=1e-13)
    assert np.allclose(readout(hs, w_out, 0.3), np.einsum("tbn,n->tb", hs[..., :N], w_out) + 0.3)


# ---- BPTT: dot-product tests, fast path against generic loop --------------------------

@pytest.mark.parametrize("rules", ["vanilla", "generic"])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_sequence_pullback_dot_product(rules, nonlinearity):
    rng = np.random.default_rng(3)
    model = make_model(N=6, n_in=2, seed=4, nonlinearity=nonlinearity)
    cell = model.cell
    xs = rng.standard_normal((12, 3, 2))
    run, run_vjp, run_jvp = ((cell.run, cell.run_vjp, cell.run_jvp) if rules == "vanilla"
                             else (run_steps, run_steps_vjp, run_steps_jvp))
    if rules == "generic":
        run, run_vjp, run_jvp = (functools.partial(f, cell) for f in (run, run_vjp, run_jvp))
    hs, tape = run(model.h0, xs)
    hs_bar = rng.standard_normal(hs.shape)
    h0_dot = rng.standard_normal(model.h0.shape)
    p_dot = random_like(cell.params, rng)
    h0_bar, p_bar = run_vjp(tape, hs_bar)
    lhs = inner(hs_bar, run_jvp(tape, h0_dot, p_dot))
    rhs = inner(h0_bar, h0_dot) + dict_inner(p_bar, p_dot)
    assert lhs == pytest.approx(rhs, rel=1e-12)


def test_generic_loop_dot_product_on_a_cell_with_hidden_memory():
    rng = np.random.default_rng(5)
    model = make_model(N=5, seed=6, memory=True)
    cell = model.cell
    assert sequence_rules(cell).run.func is run_steps
    xs = rng.standard_normal((9, 2, 1))
    hs, tape = run_steps(cell, model.h0, xs)
    assert hs.shape == (9, 2, 10)
    hs_bar = rng.standard_normal(hs.shape)
    h0_dot = rng.standard_normal(10)
    p_dot = random_like(cell.params, rng)
    h0_bar, p_bar = run_steps_vjp(cell, tape, hs_bar)
    lhs = inner(hs_bar, run_steps_jvp(cell, tape, h0_dot, p_dot))
    assert lhs == pytest.approx(inner(h0_bar, h0_dot) + dict_inner(p_bar, p_dot), rel=1e-12)


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_vanilla_fast_path_equals_step_by_step_loop(nonlinearity):
    rng = np.random.default_rng(7)
    model = make_model(N=10, n_in=3, seed=8, nonlinearity=nonlinearity)
    cell = model.cell
    assert sequence_rules(cell).run == cell.run
    xs = rng.standard_normal((25, 4, 3))
    hs_fast, tape_fast = cell.run(model.h0, xs)
    hs_loop, tape_loop = run_steps(cell, model.h0, xs)
    np.testing.assert_allclose(hs_fast, hs_loop, rtol=1e-13, atol=1e-13)
    hs_bar = rng.standard_normal(hs_fast.shape)
    h0_fast, p_fast = cell.run_vjp(tape_fast, hs_bar)
    h0_loop, p_loop = run_steps_vjp(cell, tape_loop, hs_bar)
    np.testing.assert_allclose(h0_fast, h0_loop, rtol=1e-12, atol=1e-12)
    for name in ("W", "V", "b"):
        np.testing.assert_allclose(p_fast[name], p_loop[name], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("task", sorted(TASKS))
def test_whole_loss_dot_product(task):
    t = Task(task, 4)
    model = make_model(N=8, n_in=t.channels, seed=9)
    batch = t.sample(30, 3, seed=10)
    rng = np.random.default_rng(11)
    v = random_like(model.params, rng)
    g = loss_and_grad(model, batch, t.loss)
    assert dict_inner(g.grads, v) == pytest.approx(loss_jvp(model, batch, t.loss, v), rel=1e-11)


def central_difference(model, batch, loss, direction, eps):
    def shifted(sign):
        for k, p in model.params.items():
            p += sign * eps * direction[k]
        value = task_loss(model, batch, loss)
        for k, p in model.params.items():
            p -= sign * eps * direction[k]
        return value
    return (shifted(1.0) - shifted(-1.0)) / (2.0 * eps)


@pytest.mark.parametrize("loss", ["mse", "bce"])
@pytest.mark.parametrize("task", sorted(TASKS))
def test_bptt_gradient_matches_central_differences(task, loss):
    """Issue 3 figure: 1e-6 relative agreement, N = 8, B = 3, T = 30, every task, both losses."""
    t = Task(task, 4)
    model = make_model(N=8, n_in=t.channels, seed=12)
    batch = t.sample(30, 3, seed=13)
    g = loss_and_grad(model, batch, loss)
    rng = np.random.default_rng(14)
    for name in model.params:  # one random direction per parameter array
        direction = {k: np.zeros_like(p) for k, p in model.params.items()}
        direction[name] = rng.standard_normal(model.params[name].shape)
        exact = inner(g.grads[name], direction[name])
        fd = central_difference(model, batch, loss, direction, 1e-5)
        assert abs(fd - exact) <= 1e-6 * abs(exact), (name, fd, exact)


def test_generic_loop_gradient_matches_central_differences():
    t = Task("copy", 3)
    model = make_model(N=5, seed=15, memory=True)
    batch = t.sample(20, 2, seed=16)
    g = loss_and_grad(model, batch, "mse")
    assert set(g.grads) == set(model.params) == {"W", "V", "b", "a", "w_out", "offset", "h0"}
    rng = np.random.default_rng(17)
    v = random_like(model.params, rng)
    fd = central_difference(model, batch, "mse", v, 1e-5)
    assert fd == pytest.approx(dict_inner(g.grads, v), rel=1e-6)


@pytest.mark.parametrize("cell_name", sorted(set(CELLS) - {"vanilla"}))
def test_registered_gated_cells_train_through_the_generic_loop(cell_name):
    """LSTM / GRU: the generic BPTT loop gives the gradient (central differences), and a
    run with preflossing goes through unchanged."""
    t = Task("binary_xor", 4)
    model = Model.random(CELLS[cell_name].random(6, 1, 1.0, seed=0), seed=1)
    assert sequence_rules(model.cell).run.func is run_steps
    batch = t.sample(20, 3, seed=2)
    g = loss_and_grad(model, batch, "bce")
    v = random_like(model.params, np.random.default_rng(3))
    assert dict_inner(g.grads, v) == pytest.approx(loss_jvp(model, batch, "bce", v), rel=1e-11)
    assert central_difference(model, batch, "bce", v, 1e-5) == pytest.approx(dict_inner(g.grads, v), rel=1e-6)
    run = Run(TrainConfig(task="binary_xor", delay=2, cell=cell_name, protocol="prefloss",
                          **dict(SMALL, epochs=3))).train()
    assert np.all(np.isfinite(run.history["exponents"])) and np.all(np.isfinite(run.history["loss"]))


def test_loss_and_grad_leaves_parameters_untouched():
    t = Task("binary_xor", 2)
    model = make_model(seed=18)
    before = {k: p.copy() for k, p in model.params.items()}
    loss_and_grad(model, t.sample(10, 2, seed=0), "bce")
    assert all(np.array_equal(before[k], model.params[k]) for k in before)


def test_overflowing_network_raises_numerical_breakdown():
    cell = VanillaRNN.random(6, 1, 60.0, nonlinearity="relu", mean=5.0, seed=0)
    model = Model(cell, np.ones(6), 0.0, np.ones(6))
    batch = Task("copy", 2).sample(300, 2, seed=0)
    with pytest.raises(NumericalBreakdownError, match="overflow"):
        loss_and_grad(model, batch, "mse")


def test_model_refuses_bad_shapes_and_ensembles():
    cell = VanillaRNN.random(4, 1, seed=0)
    with pytest.raises(ValueError, match="w_out"):
        Model(cell, np.ones(5), 0.0, np.zeros(4))
    with pytest.raises(ValueError, match="h0"):
        Model(cell, np.ones(4), 0.0, np.zeros(3))
    with pytest.raises(ValueError, match="offset must be a scalar"):
        Model(cell, np.ones(4), np.zeros(2), np.zeros(4))
    with pytest.raises(ValueError, match="ensemble"):
        Model(VanillaRNN.random(4, 1, ensemble=(2,), seed=0), np.ones(4), 0.0, np.zeros(4))


def test_forward_matches_loss_and_grad():
    t = Task("xor", 2)
    model = make_model(seed=19)
    batch = t.sample(12, 2, seed=0)
    r = forward(model, batch)
    assert mse(r, batch.ys, batch.mask) == loss_and_grad(model, batch, "mse").loss
    assert isinstance(batch, TaskBatch)


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


# ---- readout initialisation -------------------------------------------------------------

def test_authors_readout_init():
    cell = VanillaRNN.random(400, seed=0)
    scaled = Model.random(cell, seed=1)
    authors = Model.random(cell, seed=1, readout_init="authors")
    assert float(scaled.offset) == 0.0 and float(authors.offset) == 0.001
    assert np.std(authors.w_out) == pytest.approx(1.0, rel=0.1)
    assert np.std(scaled.w_out) == pytest.approx(1.0 / np.sqrt(400), rel=0.1)
    with pytest.raises(ValueError, match="readout_init"):
        Model.random(cell, readout_init="paper")
