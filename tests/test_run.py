"""Task losses, readout, BPTT by hand, protocols, diagnostics and the train/demo CLI.

Gradient checks at the two levels of docs/derivations.md, section 1: dot-product tests between each pullback
and its tangent rule (round-off exact), and central finite differences of the whole
task loss (N = 8, B = 3, T = 30, every task, both losses, 1e-6 relative).
"""

import json
import math

import functools

import numpy as np
import pytest

from floss_ref import NumericalBreakdownError, lyapunov_spectrum
from floss_ref.core.cells import CELLS, VanillaRNN
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


# ---- training runs --------------------------------------------------------------------

SMALL = dict(N=12, T=24, batch=4, epochs=8, diag_every=3, floss_epochs=3, floss_T=12,
             floss_transient=2, k=4, diag_k=3, test_batch=8)


def test_training_learns_an_easy_task():
    run = Run(TrainConfig(task="binary_xor", delay=2, N=16, T=30, batch=16, epochs=300, lr=1e-2,
                          clip_norm=1.0, diag_every=0, seed=1)).train()
    h = run.history
    assert h["loss"][-20:].mean() < 0.1 * h["loss"][:5].mean()
    assert run.summary()["test_accuracy"] > 0.95


def test_same_seed_bit_identical_other_seed_different():
    config = TrainConfig(task="copy", delay=3, protocol="during", floss_at=(0, 4), **SMALL)
    a, b = Run(config).train(), Run(config).train()
    for name in a.history:
        assert np.array_equal(a.history[name], b.history[name], equal_nan=True), name
    for name in a.model.params:
        assert np.array_equal(a.model.params[name], b.model.params[name])
    c = Run(TrainConfig(task="copy", delay=3, protocol="during", floss_at=(0, 4), seed=1, **SMALL)).train()
    assert not np.array_equal(a.history["loss"], c.history["loss"])


def test_flossing_schedules_of_the_protocols():
    base = dict(task="copy", delay=2, T=10, epochs=450)
    assert TrainConfig(**base).flossing_epochs() == ()
    assert TrainConfig(protocol="prefloss", **base).flossing_epochs() == (0,)
    assert TrainConfig(protocol="during", **base).flossing_epochs() == (0, 100, 200, 300, 400)
    assert TrainConfig(protocol="during", floss_at=[250, 50], **base).flossing_epochs() == (0, 50, 250)
    assert TrainConfig(protocol="throughout", floss_every=150, **base).flossing_epochs() == (0, 150, 300)
    assert TrainConfig(diag_every=200, **base).diagnostic_epochs() == (0, 200, 400, 449)


def test_protocols_share_initial_network_and_data_and_differ_only_by_flossing():
    runs = {p: Run(TrainConfig(task="binary_xor", delay=2, protocol=p, floss_at=(0, 5), **SMALL))
            for p in ("none", "prefloss", "during")}
    for p in runs:
        assert np.array_equal(runs[p].model.params["W"], runs["none"].model.params["W"])
    for run in runs.values():
        run.train()
    h = {p: run.history for p, run in runs.items()}
    # epoch 0 is flossed in both flossing protocols, identically
    assert h["prefloss"]["loss"][0] == h["during"]["loss"][0] != h["none"]["loss"][0]
    assert np.array_equal(h["during"]["floss_epochs"], [0, 5])
    assert np.all(np.isfinite(h["during"]["floss_loss"])) and h["during"]["floss_loss"].shape == (2, 3)
    assert h["none"]["floss_loss"].shape == (0, 3)
    # the second episode changes the trajectory from epoch 5 on only
    assert np.array_equal(h["prefloss"]["loss"][:5], h["during"]["loss"][:5])
    assert h["prefloss"]["loss"][5] != h["during"]["loss"][5]


def test_preflossing_moves_the_exponents_towards_zero():
    config = dict(task="binary_xor", delay=2, N=16, T=40, batch=4, epochs=1, diag_every=1, diag_k=4,
                  k=4, floss_epochs=60, floss_lr=1e-2, floss_T=30, floss_transient=5)
    plain = Run(TrainConfig(**config)).train()
    flossed = Run(TrainConfig(protocol="prefloss", **config)).train()
    f = flossed.history["floss_loss"][0]
    assert f[-5:].mean() < 0.5 * f[:5].mean()
    assert np.sum(flossed.history["exponents"][0] ** 2) < 0.5 * np.sum(plain.history["exponents"][0] ** 2)


def test_diagnostics_match_independent_computations():
    config = TrainConfig(task="binary_xor", delay=2, **SMALL)
    run = Run(config)
    batch = run.task.sample(config.T, config.batch, np.random.default_rng(0))
    run.rng = np.random.default_rng(0)  # so that epoch 0 sees `batch`
    model_before = {k: p.copy() for k, p in run.model.params.items()}
    run.train(until=1)
    g = loss_and_grad(Model(VanillaRNN({k: model_before[k] for k in ("W", "V", "b")}),
                            model_before["w_out"], model_before["offset"], model_before["h0"]),
                      batch, "bce")
    h = run.history
    assert h["loss"][0] == g.loss and h["accuracy"][0] == g.accuracy
    assert h["h0_grad_norm"][0] == pytest.approx(np.linalg.norm(g.grads["h0"]), rel=1e-14)
    np.testing.assert_allclose(h["grad_W_sv"][0], np.linalg.svd(g.grads["W"], compute_uv=False), rtol=1e-12)
    cell = VanillaRNN({k: model_before[k] for k in ("W", "V", "b")})
    h0 = np.broadcast_to(model_before["h0"], (config.batch, config.N))
    lam = lyapunov_spectrum(cell, h0, batch.xs, k=3, transient=config.T // 10,
                            seed=np.random.default_rng([config.seed, 3, 0])).exponents.mean(axis=0)
    np.testing.assert_allclose(h["exponents"][0], lam, rtol=1e-12)
    assert np.all(np.diff(lam) <= 0)


def test_test_metrics_after_the_last_epoch():
    run = Run(TrainConfig(task="spatial_xor", delay=1, **SMALL))
    run.train(until=7)
    assert math.isnan(run.summary()["test_accuracy"])
    run.train()
    s = run.summary()
    assert 0.0 <= s["test_accuracy"] <= 1.0 and s["test_loss"] > 0


@pytest.mark.parametrize("kwargs,match", [
    (dict(task="parity"), "task must be one of"),
    (dict(protocol="sometimes"), "protocol must be one of"),
    (dict(task="binary_xor", delay=3), "even delay"),
    (dict(delay=0), "delay must be >= 1"),
    (dict(delay=300, T=300), "smaller than the sequence length"),
    (dict(batch=0), "batch must be >= 1"),
    (dict(epochs=0), "epochs must be >= 1"),
    (dict(T=0), "T must be >= 1"),
    (dict(floss_epochs=0), "floss_epochs must be >= 1"),
    (dict(protocol="during", epochs=300), "floss_at holds epoch 400"),
    (dict(floss_at=(-1,)), "floss_at entry must be >= 0"),
    (dict(floss_T=10, floss_transient=10), "floss_transient"),
    (dict(lr=0.0), "lr must be > 0"),
    (dict(cell="transformer"), "cell must be one of"),
])
def test_config_refuses_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


def test_too_many_exponents_refused_when_the_run_is_built():
    with pytest.raises(ValueError, match="k = 20 exceeds the state size n = 12"):
        Run(TrainConfig(task="copy", delay=2, **dict(SMALL, k=20)))


def test_history_files(tmp_path):
    run = Run(TrainConfig(task="copy", delay=2, **SMALL)).train()
    run.save_history(tmp_path / "h.json")
    doc = json.loads((tmp_path / "h.json").read_text())
    assert doc["config"]["delay"] == 2 and doc["epochs_done"] == 8
    assert doc["history"]["loss"] == pytest.approx(run.history["loss"].tolist())
    assert all(a is None for a in doc["history"]["accuracy"])  # NaN for MSE tasks
    run.save_history(tmp_path / "h.npz")
    with np.load(tmp_path / "h.npz") as z:
        assert np.array_equal(z["exponents"], run.history["exponents"], equal_nan=True)
        assert json.loads(str(z["config_json"]))["task"] == "copy"
    with pytest.raises(ValueError, match=".json or .npz"):
        run.save_history(tmp_path / "h.txt")


def test_history_plot(tmp_path):
    pytest.importorskip("matplotlib")
    from floss_ref.cli.plotting import plot_history
    runs = [Run(TrainConfig(task="binary_xor", delay=2, protocol=p, **SMALL)).train()
            for p in ("none", "prefloss")]
    out = tmp_path / "h.png"
    plot_history([r.history for r in runs], ["none", "prefloss"], out, title="test")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_forward_matches_loss_and_grad():
    t = Task("xor", 2)
    model = make_model(seed=19)
    batch = t.sample(12, 2, seed=0)
    r = forward(model, batch)
    assert mse(r, batch.ys, batch.mask) == loss_and_grad(model, batch, "mse").loss
    assert isinstance(batch, TaskBatch)


# ---- command line ---------------------------------------------------------------------

def cli(argv):
    """Exit code of ``python -m floss_ref *argv`` run in this process."""
    from floss_ref.cli import main
    try:
        return main(argv)
    except SystemExit as exc:  # the parser refused the arguments
        return exc.code


SMALL_ARGS = ["--N", "8", "--T", "16", "--batch", "2", "--epochs", "4", "--diag-every", "2",
              "--k", "3", "--floss-epochs", "2", "--floss-T", "8", "--floss-transient", "1", "--quiet"]


def test_cli_train_writes_history_checkpoint_and_summary(tmp_path, capsys):
    ck, hist = tmp_path / "run.ckpt.npz", tmp_path / "hist.json"
    cli(["train", "--task", "binary_xor", "--delay", "2", "--protocol", "prefloss", *SMALL_ARGS,
         "--checkpoint", str(ck), "--out", str(hist)])
    out = capsys.readouterr().out
    assert "test accuracy" in out
    assert json.loads(hist.read_text())["epochs_done"] == 4
    assert ck.exists()
    # resuming a finished run trains no further and reports the same figures
    cli(["train", "--task", "binary_xor", "--delay", "2", "--protocol", "prefloss", *SMALL_ARGS,
         "--checkpoint", str(ck), "--resume"])
    assert capsys.readouterr().out.split("\n")[1:3] == out.split("\n")[1:3]


@pytest.mark.parametrize("argv,match", [
    (["--task", "binary_xor", "--delay", "3"], "even delay"),
    (["--task", "copy", "--delay", "16"], "smaller than the sequence length"),
    (["--task", "copy", "--delay", "2", "--batch", "0"], "--batch: must be >= 1"),
    (["--task", "copy", "--delay", "2", "--cell", "lstm", "--nonlinearity", "relu"],
     "nonlinearity does not apply to the 'lstm' cell"),
    (["--task", "copy", "--delay", "2", "--forget-gain", "0"], "forget_gain does not apply to the 'vanilla' cell"),
    (["--task", "copy", "--delay", "2", "--xor-lags", "double"], "lags='double' applies to the temporal XOR"),
    (["--task", "copy", "--delay", "2", "--epochs", "-1"], "--epochs: must be >= 1"),
    (["--task", "copy", "--delay", "2", "--out", "/nonexistent-dir/h.json"], "does not exist"),
    (["--task", "copy", "--delay", "2", "--checkpoint", "/nonexistent-dir/c.npz"], "does not exist"),
    (["--task", "copy", "--delay", "2", "--out", "h.csv"], ".json or .npz"),
    (["--task", "copy", "--delay", "2", "--out", "r.npz", "--checkpoint", "r.npz"], "the same file"),
    (["--task", "copy", "--delay", "2", "--batch", "100000", "--T", "100000"], "GiB of "),
    (["--task", "copy", "--delay", "2", "--floss-at", "1,x"], "floss-at"),
    (["--task", "copy", "--delay", "2", "--resume"], "resume needs"),
])
def test_cli_train_bad_arguments_exit_2_with_a_clean_message(argv, match, capsys):
    assert cli(["train", *SMALL_ARGS, *argv]) == 2
    err = capsys.readouterr().err
    assert "error: " in err and match in err and "Traceback" not in err


def test_cli_unknown_names_are_refused_by_the_parser(capsys):
    for argv in (["train", "--task", "parity", "--delay", "2"],
                 ["train", "--task", "copy", "--delay", "2", "--protocol", "often"]):
        assert cli(argv) == 2
        assert "invalid choice" in capsys.readouterr().err


def test_cli_demo_on_a_tiny_setting(tmp_path, monkeypatch, capsys):
    pytest.importorskip("matplotlib")
    import floss_ref.cli.train as cli_train
    monkeypatch.setattr(cli_train, "DEMO", dict(SMALL, task="binary_xor", delay=2, floss_at=(0, 4)))
    out = tmp_path / "demo.png"
    assert cli(["demo", "--plot", str(out), "--quiet", "--jobs", "2", "--seed", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in lines if line.split() and line.split()[0] in ("none", "during")]
    assert [r[0] for r in rows] == ["none", "during"]
    assert all(0.0 <= float(r[1]) <= 1.0 for r in rows)
    assert out.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("argv,match", [
    (["--jobs", "0"], "--jobs: must be >= 1"),
    (["--plot", "/nonexistent-dir/demo.png"], "does not exist"),
    (["--plot", "demo.svg"], "must end in .png"),
    (["--seed", "-2"], "--seed: must be >= 0"),
])
def test_cli_demo_bad_arguments(argv, match, capsys):
    assert cli(["demo", "--quiet", *argv]) == 2
    err = capsys.readouterr().err
    assert "error: " in err and match in err and "Traceback" not in err
