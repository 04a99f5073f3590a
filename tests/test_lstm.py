"""LSTM cell (App. B, Eqs. 12-17): forward step, 2N x 2N tangent dynamics, pullbacks.

Three levels of checks (docs/derivations.md, section 1): dot-product tests pair each pullback with its
tangent rule (round-off exact); central differences check the tangent rules and the
Jacobian action against the forward code; the forward code is checked against a
gate-by-gate transcription of Eqs. 12-17.  Then the drivers: Lyapunov spectrum
(permutation invariance, ensembles), the whole flossing gradient against central
differences, and bad input.
"""

import doctest

import numpy as np
import pytest
from scipy.special import expit

import floss_ref.core.cells
import floss_ref.core.cells.lstm
from cell_contract import (check_step_dot_product, check_step_vjp_central_differences,
                           check_tangent_dot_product, check_tangent_is_jacobian_of_step,
                           check_tangent_vjp_central_differences)
from conftest import inner
from floss_ref import flossing_grad, flossing_loss, lyapunov_spectrum
from floss_ref.core.cells import CELLS, GRU, LSTM, VanillaRNN, get_cell
from floss_ref.experiments.tasks import Task
from floss_ref.experiments.bptt import Model, loss_and_grad, task_loss
from floss_ref.runs.run import Run, TrainConfig

CASES = [
    # (ensemble, state batch shape, x given, bias per unit)
    ((), (), True, False),
    ((), (3,), True, True),          # one network, a batch of 3 trajectories
    ((4,), (4,), True, False),       # an ensemble of 4 networks
    ((2, 1), (2, 3), True, True),    # an ensemble of 2 networks, 3 trajectories each
    ((), (3,), False, False),        # no input
]


def make(ensemble, batch, with_x, unit_bias, rng, N=5, n_in=2, k=3):
    net = LSTM.random(N, n_in=n_in, g=1.5, input_scale=2.0, ensemble=ensemble, seed=rng)
    b_shape = ensemble + (4, N if unit_bias else 1)
    net.params["b"] = 0.5 * rng.standard_normal(b_shape)   # all biases non-zero
    s = rng.standard_normal(batch + (2 * N,))
    x = rng.standard_normal(batch + (n_in,)) if with_x else None
    Q = rng.standard_normal(batch + (2 * N, k))
    return net, s, x, Q


def perturbed(net, p_dot, eps):
    return LSTM({n: net.params[n] + eps * p_dot[n] for n in net.params})


# ---- forward step against Eqs. 12-17 -----------------------------------------------

def test_step_matches_equations_12_to_17(rng):
    """One step against the paper's equations written gate by gate (App. B)."""
    N, n_in = 4, 3
    net, s, x, _ = make((), (), True, True, rng, N=N, n_in=n_in)
    W, V, b = net.params["W"], net.params["V"], net.params["b"]
    Wi, Wf, Wc, Wo = (W[j * N:(j + 1) * N] for j in range(4))
    Vi, Vf, Vc, Vo = (V[j * N:(j + 1) * N] for j in range(4))
    h, c = s[:N], s[N:]
    f = expit(Wf @ h + Vf @ x + b[1])                  # Eq. 12
    o = expit(Wo @ h + Vo @ x + b[3])                  # Eq. 13
    i = expit(Wi @ h + Vi @ x + b[0])                  # Eq. 14
    c_cand = np.tanh(Wc @ h + Vc @ x + b[2])           # Eq. 15
    c_new = f * c + i * c_cand                         # Eq. 16
    h_new = o * np.tanh(c_new)                         # Eq. 17
    s_next, _ = net.step(s, x)
    np.testing.assert_allclose(s_next, np.concatenate([h_new, c_new]), rtol=1e-14, atol=1e-15)


def test_random_follows_app_b():
    """Scalar biases with b_f ~ U(0, 1), others 0; W ~ N(0, g^2/N), per-network g."""
    N, g = 64, np.array([0.25, 1.0, 2.0])
    net = LSTM.random(N, n_in=2, g=g, ensemble=(3,), seed=0)
    assert net.params["W"].shape == (3, 4 * N, N)
    assert net.params["V"].shape == (3, 4 * N, 2)
    assert net.params["b"].shape == (3, 4, 1)
    b = net.params["b"][..., 0]
    assert np.all(b[:, [0, 2, 3]] == 0.0) and np.all((b[:, 1] > 0) & (b[:, 1] < 1))
    std = net.params["W"].std(axis=(-2, -1)) * np.sqrt(N)
    np.testing.assert_allclose(std, g, rtol=0.05)         # 4N^2 = 16384 samples each
    assert net.state_size == 2 * N and net.N == N and net.ensemble_shape == (3,)


def test_same_seed_same_network():
    a, b = LSTM.random(7, n_in=2, g=0.7, seed=3), LSTM.random(7, n_in=2, g=0.7, seed=3)
    for name in LSTM.param_names:
        assert np.array_equal(a.params[name], b.params[name])
    s = np.full(14, 0.1)
    assert np.array_equal(a.step(s, np.ones(2))[0], b.step(s, np.ones(2))[0])


# ---- dot-product tests: pullback vs tangent rule ---------------------------------

@pytest.mark.parametrize("ensemble,batch,with_x,unit_bias", CASES)
def test_step_vjp_dot_product(ensemble, batch, with_x, unit_bias, rng):
    net, s, x, _ = make(ensemble, batch, with_x, unit_bias, rng)
    check_step_dot_product(net, s, x, rng)


@pytest.mark.parametrize("ensemble,batch,with_x,unit_bias", CASES)
def test_tangent_vjp_dot_product(ensemble, batch, with_x, unit_bias, rng):
    net, s, x, Q = make(ensemble, batch, with_x, unit_bias, rng)
    check_tangent_dot_product(net, s, x, Q, rng)


# ---- central differences ------------------------------------------------------------

@pytest.mark.parametrize("ensemble,batch,with_x,unit_bias", CASES)
def test_step_vjp_central_differences(ensemble, batch, with_x, unit_bias, rng):
    net, s, x, _ = make(ensemble, batch, with_x, unit_bias, rng)
    check_step_vjp_central_differences(net, s, x, rng, perturbed)


@pytest.mark.parametrize("ensemble,batch,with_x,unit_bias", CASES)
def test_tangent_vjp_central_differences(ensemble, batch, with_x, unit_bias, rng):
    net, s, x, Q = make(ensemble, batch, with_x, unit_bias, rng)
    check_tangent_vjp_central_differences(net, s, x, Q, rng, perturbed)


def test_jacobian_action_matches_finite_difference_jacobian(rng):
    """tangent(cache, I_2N) is the full 2N x 2N Jacobian of step; compare it with the
    central-difference Jacobian column by column, and its action on a random block."""
    N = 6
    net, s, x, _ = make((), (), True, True, rng, N=N)
    J = check_tangent_is_jacobian_of_step(net, s, x, np.eye(2 * N), rtol=1e-6, atol=1e-9)
    # both blocks of the Jacobian are exercised: d c_t / d c = diag(f), d h_t / d c != 0
    assert np.all(np.abs(np.diag(J[N:, N:])) > 0) and np.any(np.abs(J[:N, N:]) > 1e-3)
    Q = rng.standard_normal((2 * N, 4))
    check_tangent_is_jacobian_of_step(net, s, x, Q, rtol=1e-6, atol=1e-8)


# ---- Lyapunov spectrum ----------------------------------------------------------------

def permuted(net, perm):
    """The same network with its units relabelled by ``perm`` (every gate block alike)."""
    N = net.N
    rows = np.concatenate([j * N + perm for j in range(4)])
    W, V, b = net.params["W"], net.params["V"], net.params["b"]
    b_perm = b[..., perm] if b.shape[-1] == N else b
    return LSTM({"W": W[rows][:, perm], "V": V[rows], "b": b_perm})


@pytest.mark.parametrize("unit_bias", [False, True])
def test_spectrum_invariant_under_permutation_of_units(unit_bias, rng):
    N, k, T = 8, 10, 400
    net = LSTM.random(N, g=1.5, input_scale=1.0, seed=rng)
    if unit_bias:
        net.params["b"] = 0.3 * rng.standard_normal((4, N))
    perm = rng.permutation(N)
    assert np.any(perm != np.arange(N))
    s0 = 0.5 * rng.standard_normal(2 * N)
    xs = rng.standard_normal((T, 1))
    Q0 = np.linalg.qr(rng.standard_normal((2 * N, k)))[0]
    state_perm = np.concatenate([perm, N + perm])          # (h, c) relabelled alike
    ref = lyapunov_spectrum(net, s0, xs, k=k, transient=50, Q0=Q0)
    out = lyapunov_spectrum(permuted(net, perm), s0[state_perm], xs, k=k, transient=50, Q0=Q0[state_perm])
    np.testing.assert_allclose(out.exponents, ref.exponents, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(out.h, ref.h[state_perm], rtol=1e-9, atol=1e-12)
    assert ref.exponents[0] > ref.exponents[-1]                 # a spectrum, not a constant
    # a random Q0 changes only round-off-level details once Q has aligned
    other = lyapunov_spectrum(permuted(net, perm), s0[state_perm], xs, k=k, transient=50, seed=1)
    np.testing.assert_allclose(other.exponents[:3], ref.exponents[:3], atol=1e-3)


def test_ensemble_spectrum_equals_separate_networks(rng):
    """An ensemble of 3 LSTMs (E = (3,)) gives each network's own spectrum."""
    N, k, T = 5, 4, 200
    ens = LSTM.random(N, g=np.array([0.3, 1.0, 2.0]), ensemble=(3,), seed=rng)
    s0 = rng.standard_normal((3, 2 * N))
    xs = rng.standard_normal((T, 3, 1))
    Q0 = np.linalg.qr(rng.standard_normal((3, 2 * N, k)))[0]
    joint = lyapunov_spectrum(ens, s0, xs, k=k, Q0=Q0).exponents
    for r in range(3):
        one = LSTM({n: p[r] for n, p in ens.params.items()})
        alone = lyapunov_spectrum(one, s0[r], xs[:, r], k=k, Q0=Q0[r]).exponents
        np.testing.assert_allclose(joint[r], alone, rtol=1e-10, atol=1e-12)


# ---- the whole flossing gradient -----------------------------------------------------

@pytest.mark.parametrize("ensemble", [(), (2,)])
def test_flossing_gradient_central_differences(ensemble, rng):
    """flossing_grad (reverse pass through steps, tangents and QRs) of an LSTM against
    central differences of flossing_loss, N = 4, k = 3, T = 15."""
    N, k, T = 4, 3, 15
    net = LSTM.random(N, g=1.5, input_scale=2.0, ensemble=ensemble, seed=rng)
    net.params["b"] = net.params["b"] + 0.2 * rng.standard_normal(net.params["b"].shape)
    s0 = 0.5 * rng.standard_normal(ensemble + (2 * N,))
    xs = rng.standard_normal((T,) + ensemble + (1,))
    Q0 = np.linalg.qr(rng.standard_normal(ensemble + (2 * N, k)))[0]
    kw = dict(k=k, transient=3, target=-0.1, Q0=Q0)
    res = flossing_grad(net, s0, xs, **kw)
    loss, lam = flossing_loss(net, s0, xs, **kw)
    np.testing.assert_array_equal(res.loss, loss)
    np.testing.assert_array_equal(res.exponents, lam)
    eps = 1e-5

    def total_loss(system, s):
        return np.sum(flossing_loss(system, s, xs, **kw)[0])

    for name in LSTM.param_names:
        p_dot = {n: np.zeros_like(p) for n, p in net.params.items()}
        p_dot[name] = rng.standard_normal(net.params[name].shape)
        fd = (total_loss(perturbed(net, p_dot, eps), s0) - total_loss(perturbed(net, p_dot, -eps), s0)) / (2 * eps)
        assert inner(res.grads, p_dot) == pytest.approx(fd, rel=1e-6), name
    s_dot = rng.standard_normal(s0.shape)
    fd = (total_loss(net, s0 + eps * s_dot) - total_loss(net, s0 - eps * s_dot)) / (2 * eps)
    assert inner(res.h0_bar, s_dot) == pytest.approx(fd, rel=1e-6)


def test_flossing_gradient_of_ensemble_is_per_network(rng):
    """Each network of an ensemble gets the gradient of its own loss."""
    N, k, T = 4, 2, 12
    ens = LSTM.random(N, g=np.array([0.8, 1.6]), ensemble=(2,), seed=rng)
    s0 = rng.standard_normal((2, 2 * N))
    xs = rng.standard_normal((T, 2, 1))
    Q0 = np.linalg.qr(rng.standard_normal((2, 2 * N, k)))[0]
    joint = flossing_grad(ens, s0, xs, k=k, Q0=Q0)
    for r in range(2):
        one = LSTM({n: p[r] for n, p in ens.params.items()})
        alone = flossing_grad(one, s0[r], xs[:, r], k=k, Q0=Q0[r])
        for name in LSTM.param_names:
            np.testing.assert_allclose(joint.grads[name][r], alone.grads[name], rtol=1e-10, atol=1e-13)


# ---- training: BPTT through the LSTM (floss_ref.runs.run) -------------------------------

def model_loss(model, batch, loss, direction, eps):
    """Task loss with every array of model.params moved by eps * direction (copies)."""
    cell = LSTM({n: model.cell.params[n] + eps * direction[n] for n in LSTM.param_names})
    moved = Model(cell, model.w_out + eps * direction["w_out"], model.offset + eps * direction["offset"],
                  model.h0 + eps * direction["h0"])
    return task_loss(moved, batch, loss)


@pytest.mark.parametrize("task", ["copy", "binary_xor"])
def test_bptt_gradient_matches_central_differences(task, rng):
    """loss_and_grad (generic BPTT over LSTM.step_vjp, readout of s[:N]) against central
    differences of the task loss, per parameter array, 1e-6 relative."""
    t = Task(task, 4)
    net = LSTM.random(5, n_in=t.channels, g=1.5, input_scale=3.0, seed=rng)
    net.params["b"] = 0.3 * rng.standard_normal((4, 5))
    model = Model.random(net, seed=rng, relax_steps=5)
    batch = t.sample(16, 3, seed=rng)
    g = loss_and_grad(model, batch, t.loss)
    assert set(g.grads) == {"W", "V", "b", "w_out", "offset", "h0"}
    assert g.grads["h0"].shape == (10,)
    eps = 1e-5
    for name in model.params:
        direction = {n: np.zeros_like(p) for n, p in model.params.items()}
        direction[name] = rng.standard_normal(model.params[name].shape)
        fd = (model_loss(model, batch, t.loss, direction, eps)
              - model_loss(model, batch, t.loss, direction, -eps)) / (2 * eps)
        assert inner(g.grads, direction) == pytest.approx(fd, rel=1e-6), name


def test_training_run_with_lstm_cell():
    """--cell lstm through the training protocols: a short preflossed run is finite and
    flossing moves lambda_1 of the 2N-dimensional state."""
    config = TrainConfig(task="copy", delay=2, cell="lstm", N=6, T=12, batch=2, epochs=3,
                         protocol="prefloss", k=3, floss_epochs=3, floss_T=20, floss_transient=4,
                         diag_every=1, diag_k=12, test_batch=4, seed=1)
    run = Run(config)
    assert run.model.cell.state_size == 12 and run.model.h0.shape == (12,)
    run.train()
    h = run.history
    assert np.all(np.isfinite(h["loss"])) and np.all(np.isfinite(h["exponents"]))
    assert h["exponents"].shape == (3, 12) and np.all(np.isfinite(h["floss_loss"]))


# ---- bad input -------------------------------------------------------------------------

def test_h_alone_is_refused_by_the_drivers(rng):
    N = 4
    net = LSTM.random(N, seed=0)
    h_only = rng.standard_normal(N)
    xs = rng.standard_normal((10, 1))
    with pytest.raises(ValueError, match=r"h0 must have trailing shape \(\.\.\., 8\)"):
        lyapunov_spectrum(net, h_only, xs, k=2)
    with pytest.raises(ValueError, match=r"h0 must have trailing shape \(\.\.\., 8\)"):
        flossing_grad(net, h_only, xs, k=2)


def test_k_larger_than_2N_is_refused(rng):
    N = 3
    net = LSTM.random(N, seed=0)
    s0, xs = rng.standard_normal(2 * N), rng.standard_normal((20, 1))
    assert lyapunov_spectrum(net, s0, xs, k=2 * N).exponents.shape == (2 * N,)   # k = 2N is fine
    with pytest.raises(ValueError, match="k must be <= 6"):
        lyapunov_spectrum(net, s0, xs, k=2 * N + 1)
    with pytest.raises(ValueError, match="k must be <= 6"):
        flossing_grad(net, s0, xs, k=2 * N + 1)


def test_unknown_cell_name():
    assert CELLS == {"vanilla": VanillaRNN, "lstm": LSTM, "gru": GRU}
    assert get_cell("lstm") is LSTM
    with pytest.raises(ValueError, match="unknown cell 'LSTM'; choose one of 'vanilla', 'lstm', 'gru'"):
        get_cell("LSTM")
    with pytest.raises(ValueError, match="unknown cell"):
        get_cell(None)


@pytest.mark.parametrize("params,match", [
    ({"W": np.zeros((12, 4)), "V": np.zeros((16, 1))}, "keys"),
    ({"W": np.zeros((12, 4)), "V": np.zeros((12, 1)), "b": np.zeros((4, 1))}, r"\(\.\.\., 4N, N\)"),
    ({"W": np.zeros((16, 4)), "V": np.zeros((12, 1)), "b": np.zeros((4, 1))}, "V must have trailing shape"),
    ({"W": np.zeros((16, 4)), "V": np.zeros((16, 1)), "b": np.zeros((4, 3))}, "b must have shape"),
    ({"W": np.zeros((16, 4)), "V": np.zeros((16, 1)), "b": np.zeros(4)}, "b must have"),
    ({"W": np.zeros((2, 16, 4)), "V": np.zeros((3, 16, 1)), "b": np.zeros((4, 1))}, "do not broadcast"),
    ({"W": np.full((16, 4), np.nan), "V": np.zeros((16, 1)), "b": np.zeros((4, 1))}, "NaN"),
])
def test_bad_params(params, match):
    with pytest.raises(ValueError, match=match):
        LSTM(params)


def test_bad_random_arguments():
    with pytest.raises(ValueError, match="g must be >= 0"):
        LSTM.random(4, g=-1.0)
    with pytest.raises(ValueError, match="broadcast to ensemble"):
        LSTM.random(4, g=np.ones(3), ensemble=(2,))
    with pytest.raises(ValueError, match="ensemble must be a tuple"):
        LSTM.random(4, ensemble=3)
    with pytest.raises(TypeError, match="N must be an integer"):
        LSTM.random(4.0)


def test_cli_spectrum_with_lstm(capsys):
    from floss_ref.cli import main
    assert main(["spectrum", "--cell", "lstm", "--N", "4", "--k", "8", "--T", "60",
                 "--transient", "10", "--quiet"]) == 0
    assert "lstm network, N = 4" in capsys.readouterr().out
    assert main(["spectrum", "--cell", "lstm", "--N", "4", "--k", "9", "--T", "60", "--quiet"]) == 2
    assert "--k must be <= the state size 8" in capsys.readouterr().err


@pytest.mark.parametrize("module", [floss_ref.core.cells.lstm, floss_ref.core.cells])
def test_docstring_examples(module):
    assert doctest.testmod(module, raise_on_error=True).attempted > 0


# ---- the forget gain (an authors' setting) -------------------------------------------------

def test_lstm_forget_gain():
    default = LSTM.random(5, g=0.8, seed=3)
    zero = LSTM.random(5, g=0.8, forget_gain=0.0, seed=3)
    f = slice(5, 10)                                    # gates (i, f, c~, o)
    assert np.all(zero.params["W"][f] == 0.0) and np.any(default.params["W"][f] != 0.0)
    others = np.r_[0:5, 10:20]
    np.testing.assert_array_equal(zero.params["W"][others], default.params["W"][others])
    np.testing.assert_array_equal(zero.params["V"], default.params["V"])


@pytest.mark.parametrize("cls, G", [(LSTM, 4), (GRU, 3)])
@pytest.mark.parametrize("N, n_in, match", [(0, 1, "at least one unit"), (3, 0, "at least one input column")])
def test_gated_network_without_units_or_inputs_is_refused(cls, G, N, n_in, match):
    with pytest.raises(ValueError, match=match):
        cls({"W": np.zeros((G * N, N)), "V": np.zeros((G * N, n_in)), "b": np.zeros((G, 1))})


# ---- bad input found by tests/test_properties.py ---------------------------------------------------------


@pytest.mark.parametrize("arg", ["input_scale", "forget_gain"])
def test_a_scale_that_overflows_the_weights_is_refused_by_name(arg):
    """1e308 overflowed V or W, and the refusal named the weights instead of the argument."""
    with pytest.raises(ValueError, match=f"{arg} must be <= 1e"):
        LSTM.random(3, seed=0, **{arg: 1e308})
