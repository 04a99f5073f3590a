"""floss_ref.kit.gradcheck: passes on every cell of the package, fails on mutants (one error
planted in one function) and names the function, refuses maps that return the wrong
thing."""

import numpy as np
import pytest

from floss_ref import GRU, LSTM, FunctionMap, VanillaRNN
from floss_ref.kit.gradcheck import gradcheck

CELLS = {
    "vanilla tanh": lambda: VanillaRNN.random(8, 1, 1.3, seed=0),
    "vanilla relu": lambda: VanillaRNN.random(8, 1, 1.3, nonlinearity="relu", mean_scale="1/N", seed=0),
    "vanilla linear": lambda: VanillaRNN.random(8, 1, 0.9, nonlinearity="linear", seed=0),
    "vanilla orthogonal": lambda: VanillaRNN.random(8, 1, 1.0, init="orthogonal", seed=0),
    "lstm": lambda: LSTM.random(6, 2, 1.0, seed=0),
    "gru": lambda: GRU.random(6, 2, 1.0, seed=0),
}


@pytest.mark.parametrize("name", CELLS)
def test_every_cell_passes(name):
    report = gradcheck(CELLS[name](), seed=1)
    assert report.passed, report.table()
    assert not report.skipped, report.skipped
    assert len(report.checks) >= 20
    assert "PASS" in report.table()


def test_long_horizon_256_bit_check_passes_on_the_tanh_network():
    report = gradcheck(VanillaRNN.random(6, 1, 1.3, seed=0), long_horizon=100, seed=2)
    line = [c for c in report.checks if c.kind == "256-bit"]
    assert len(line) == 1 and line[0].passed and "digits agree" in line[0].note


@pytest.mark.parametrize("make", [lambda: LSTM.random(4, 1, 1.0, seed=0), lambda: GRU.random(4, 1, 1.0, seed=0)])
def test_long_horizon_256_bit_check_passes_on_the_gated_cells(make):
    report = gradcheck(make(), long_horizon=60, seed=0)
    line = [c for c in report.checks if c.kind == "256-bit"]
    assert len(line) == 1 and line[0].passed, report.table()


def test_long_horizon_is_reported_as_skipped_where_no_256_bit_reference_exists():
    report = gradcheck(_tanh_map(), long_horizon=50, seed=0)
    assert any("256-bit" in s for s in report.skipped)


# ---- mutants: one plausible error planted in one function ------------------------------------

class StepVjpNoSlope(VanillaRNN):
    """step_vjp forgets the phi'(h) factor of h_bar."""

    def step_vjp(self, cache, h_next_bar):
        h_bar, p_bar = super().step_vjp(cache, h_next_bar)
        return h_bar / cache[1], p_bar


class StepVjpTransposedW(VanillaRNN):
    """step_vjp returns W_bar transposed."""

    def step_vjp(self, cache, h_next_bar):
        h_bar, p_bar = super().step_vjp(cache, h_next_bar)
        return h_bar, dict(p_bar, W=p_bar["W"].T)


class TangentVjpNoSecondOrder(VanillaRNN):
    """tangent_vjp drops the dependence of D_s on h_s (the phi'' term)."""

    def tangent_vjp(self, cache, Q, Q_tilde_bar):
        h_bar, Q_bar, p_bar = super().tangent_vjp(cache, Q, Q_tilde_bar)
        return np.zeros_like(h_bar), Q_bar, p_bar


class TangentVjpQBarNoSlope(VanillaRNN):
    """tangent_vjp forgets the phi'(h) factor of Q_bar."""

    def tangent_vjp(self, cache, Q, Q_tilde_bar):
        h_bar, Q_bar, p_bar = super().tangent_vjp(cache, Q, Q_tilde_bar)
        return h_bar, Q_bar / cache[1][..., :, None], p_bar


class LstmStepVjpNoCellPath(LSTM):
    """step_vjp drops the cotangent of c_{t-1} (the cell-state path)."""

    def step_vjp(self, cache, hc_next_bar):
        hc_bar, p_bar = super().step_vjp(cache, hc_next_bar)
        hc_bar = hc_bar.copy()
        hc_bar[..., self.N:] = 0.0
        return hc_bar, p_bar


class LstmStepVjpForgetGateW(LSTM):
    """step_vjp loses the forget gate's block of W_bar."""

    def step_vjp(self, cache, hc_next_bar):
        hc_bar, p_bar = super().step_vjp(cache, hc_next_bar)
        W_bar = p_bar["W"].copy()
        W_bar[..., self.N:2 * self.N, :] = 0.0
        return hc_bar, dict(p_bar, W=W_bar)


class LstmTangentVjpHalfH(LSTM):
    """tangent_vjp gets the h part of the second-order term wrong by a factor 2."""

    def tangent_vjp(self, cache, Q, Q_tilde_bar):
        h_bar, Q_bar, p_bar = super().tangent_vjp(cache, Q, Q_tilde_bar)
        return 0.5 * h_bar, Q_bar, p_bar


class TangentSlopeAtPostActivation(VanillaRNN):
    """The mistake found in the wild: D_s = W diag(phi'(phi(h_s))) instead of W diag(phi'(h_s))."""

    def tangent(self, cache, Q):
        phi = cache[0]
        return self.params["W"] @ ((1.0 - np.tanh(phi) ** 2)[..., :, None] * Q)


def _mutant(cls, base):
    net = base()
    return cls(dict(net.params)) if cls.__mro__[1] is LSTM else cls(dict(net.params), nonlinearity="tanh")


MUTANTS = [
    (StepVjpNoSlope, "step_vjp", lambda: VanillaRNN.random(8, 1, 1.3, seed=0)),
    (StepVjpTransposedW, "step_vjp", lambda: VanillaRNN.random(8, 1, 1.3, seed=0)),
    (TangentVjpNoSecondOrder, "tangent_vjp", lambda: VanillaRNN.random(8, 1, 1.3, seed=0)),
    (TangentVjpQBarNoSlope, "tangent_vjp", lambda: VanillaRNN.random(8, 1, 1.3, seed=0)),
    (LstmStepVjpNoCellPath, "step_vjp", lambda: LSTM.random(6, 1, 1.0, seed=0)),
    (LstmStepVjpForgetGateW, "step_vjp", lambda: LSTM.random(6, 1, 1.0, seed=0)),
    (LstmTangentVjpHalfH, "tangent_vjp", lambda: LSTM.random(6, 1, 1.0, seed=0)),
]


@pytest.mark.parametrize("cls, planted, base", MUTANTS, ids=[m[0].__name__ for m in MUTANTS])
def test_a_mutant_pullback_fails_and_is_named(cls, planted, base):
    report = gradcheck(_mutant(cls, base), seed=1)
    assert not report.passed
    assert report.failed_functions[0] == planted, report.table()
    # nothing but the planted pullback and the whole loss gradient that depends on it fails
    assert set(report.failed_functions) <= {planted, "flossing"}, report.table()
    assert f"FAIL in {planted}" in report.table()


def test_the_post_activation_slope_mistake_is_caught_in_tangent():
    report = gradcheck(_mutant(TangentSlopeAtPostActivation, lambda: VanillaRNN.random(8, 1, 1.3, seed=0)), seed=1)
    assert report.failed_functions[0] == "tangent", report.table()
    failed = [c for c in report.failures if c.function == "tangent"]
    assert failed[0].error > 1e-3


# ---- maps that return the wrong thing ----------------------------------------------------------

class Wrong(VanillaRNN):
    """A vanilla network whose one function returns something malformed."""

    def __init__(self, params, what):
        super().__init__(params)
        self.what = what

    def tangent(self, cache, Q):
        out = super().tangent(cache, Q)
        return {"shape": out[..., :-1], "complex": out + 0j, "nan": out * np.nan}.get(self.what, out)

    def step_vjp(self, cache, h_next_bar):
        h_bar, p_bar = super().step_vjp(cache, h_next_bar)
        if self.what == "vjp-list":
            return [h_bar]
        if self.what == "vjp-extra-key":
            return h_bar, dict(p_bar, U=p_bar["W"])
        if self.what == "vjp-param-shape":
            return h_bar, dict(p_bar, W=p_bar["W"][:-1])
        return h_bar, p_bar


@pytest.mark.parametrize("what, error, match", [
    ("shape", ValueError, r"tangent returned D_s Q of shape \(8, 2\), expected \(8, 3\)"),
    ("complex", TypeError, r"tangent must return D_s Q as a real floating-point array"),
    ("nan", ValueError, r"tangent returned D_s Q with NaN"),
    ("vjp-list", TypeError, r"step_vjp must return a tuple \(h_bar, params_bar\)"),
    ("vjp-extra-key", ValueError, r"step_vjp returned cotangents of \['U'\]"),
    ("vjp-param-shape", ValueError, r"step_vjp returned the cotangent of 'W' of shape \(7, 8\), expected \(8, 8\)"),
])
def test_malformed_returns_are_refused_naming_the_function(what, error, match):
    net = VanillaRNN.random(8, 1, 1.3, seed=0)
    with pytest.raises(error, match=match):
        gradcheck(Wrong(dict(net.params), what))


def test_a_map_missing_a_pullback_is_refused_by_name():
    fm = FunctionMap(lambda h, x: np.tanh(h), lambda h, x, Q: (1 - np.tanh(h) ** 2)[..., :, None] * Q, 3)
    with pytest.raises(TypeError, match="has no 'params'"):
        gradcheck(fm)
    with pytest.raises(ValueError, match="one network"):
        gradcheck(VanillaRNN.random(4, ensemble=(2,), seed=0))


# ---- the command line ----------------------------------------------------------------------

def _cli(tmp_path, *args):
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    (tmp_path / "mycells.py").write_text(
        "from floss_ref import LSTM, VanillaRNN\n"
        "def lstm():\n    return LSTM.random(8, 1, 1.0, seed=0)\n"
        "class NoSecondOrder(VanillaRNN):\n"
        "    def tangent_vjp(self, cache, Q, B):\n"
        "        h_bar, Q_bar, p_bar = super().tangent_vjp(cache, Q, B)\n"
        "        return 0 * h_bar, Q_bar, p_bar\n"
        "def bad():\n    return NoSecondOrder(VanillaRNN.random(8, 1, 1.3, seed=0).params)\n")
    return subprocess.run([sys.executable, "-m", "floss_ref", "gradcheck", *args], capture_output=True, text=True,
                          cwd=tmp_path, env=dict(os.environ, PYTHONPATH=root), timeout=300)


def test_cli_passes_a_good_map_and_fails_a_bad_one_by_name(tmp_path):
    good = _cli(tmp_path, "mycells:lstm")
    assert good.returncode == 0 and "gradcheck: PASS" in good.stdout, good.stderr
    bad = _cli(tmp_path, "mycells:bad")
    assert bad.returncode == 1 and "gradcheck: FAIL in tangent_vjp" in bad.stdout, bad.stdout + bad.stderr


@pytest.mark.parametrize("arg, match", [("mycells", "MAP must be module:factory"),
                                        ("nosuch:make", "cannot import 'nosuch'"),
                                        ("mycells:missing", "has no callable 'missing'")])
def test_cli_bad_map_is_refused_with_exit_2(tmp_path, arg, match):
    r = _cli(tmp_path, arg)
    assert r.returncode == 2 and match in r.stderr and "Traceback" not in r.stderr, r.stderr


# ---- FunctionMap with pullbacks: the README's example ------------------------------------------

def _tanh_map(**overrides):
    def step(h, x, p):
        return np.tanh(p["W"] @ h)

    def tangent(h, x, Q, p):
        return (1 - step(h, x, p) ** 2)[:, None] * (p["W"] @ Q)

    def step_vjp(h, x, y_bar, p):
        a_bar = y_bar * (1 - step(h, x, p) ** 2)
        return p["W"].T @ a_bar, {"W": np.outer(a_bar, h)}

    def tangent_vjp(h, x, Q, B, p):
        y = step(h, x, p)
        g, WQ = 1 - y ** 2, p["W"] @ Q
        a_bar = -2 * y * g * np.sum(B * WQ, axis=1)
        return p["W"].T @ a_bar, p["W"].T @ (g[:, None] * B), {"W": (g[:, None] * B) @ Q.T + np.outer(a_bar, h)}

    fns = dict(step_vjp=step_vjp, tangent_vjp=tangent_vjp)
    fns.update(overrides)
    return FunctionMap(step, tangent, 6, params={"W": np.random.default_rng(0).standard_normal((6, 6))}, **fns)


def test_function_map_with_pullbacks_passes_gradcheck_and_flosses():
    from floss_ref import floss

    net = _tanh_map()
    assert gradcheck(net).passed
    W_before = net.params["W"].copy()
    hist = floss(net, epochs=3, k=1, T=30, inputs="none", lr=0.01, seed=0)
    assert hist.loss.shape == (3,) and not np.array_equal(net.params["W"], W_before)


def test_function_map_with_a_wrong_pullback_fails_by_name():
    def wrong_step_vjp(h, x, y_bar, p):
        return p["W"].T @ y_bar, {"W": np.outer(y_bar, h)}          # forgot tanh'

    report = gradcheck(_tanh_map(step_vjp=wrong_step_vjp))
    assert report.failed_functions[0] == "step_vjp"


@pytest.mark.parametrize("bad, error, match", [
    (dict(step_vjp=lambda h, x, y_bar, p: p["W"].T @ y_bar), TypeError, r"step_vjp must return a tuple"),
    (dict(step_vjp=lambda h, x, y_bar, p: (y_bar, {"U": p["W"]})), ValueError, r"cotangents of \['U'\]"),
    (dict(tangent_vjp=lambda h, x, Q, B, p: (h, Q[:, :0], {})), ValueError, r"tangent_vjp returned shape"),
    (dict(step_vjp=3), TypeError, "step_vjp must be a callable"),
])
def test_function_map_pullbacks_that_return_the_wrong_thing_are_refused(bad, error, match):
    with pytest.raises(error, match=match):
        gradcheck(_tanh_map(**bad))


def test_function_map_pullbacks_need_params_and_flossing_needs_pullbacks():
    from floss_ref import floss

    with pytest.raises(ValueError, match="need the parameters"):
        FunctionMap(np.tanh, lambda h, x, Q: Q, 3, step_vjp=lambda *a: None)
    plain = FunctionMap(lambda h, x, p: h, lambda h, x, Q, p: Q, 3, params={"W": np.eye(3)})
    with pytest.raises(TypeError, match="step_vjp"):
        floss(plain, epochs=1, k=1, T=5, inputs="none")


# ---- regression tests of the issue "Reliability", row F11: the command line never traces back --

@pytest.mark.parametrize("source, arg, code, match", [
    ("def broken(:\n", "broken_syntax:make", 2, r"cannot import 'broken_syntax'.*SyntaxError"),
    ("raise RuntimeError('no GPU here')\n", "raises_at_import:make", 2,
     r"cannot import 'raises_at_import'.*RuntimeError: no GPU here"),
    ("import sys\nsys.exit(3)\n", "exits_at_import:make", 2, r"cannot import 'exits_at_import'.*SystemExit"),
    ("def make():\n    raise ValueError('bad size')\n", "factory_raises:make", 1,
     r"make\(\) of 'factory_raises' raised ValueError: bad size"),
    ("def make():\n    return 42\n", "factory_returns_junk:make", 2, "map"),
    ("from floss_ref import VanillaRNN\nclass Bad(VanillaRNN):\n    def step(self, h, x):\n        1 / 0\n"
     "def make():\n    return Bad(VanillaRNN.random(4, 1, 1.0, seed=0).params)\n", "map_raises:make", 1,
     r"the map raised ZeroDivisionError"),
], ids=["syntax_error", "raises_at_import", "exits_at_import", "factory_raises", "factory_returns_junk",
        "map_raises"])
def test_F11_cli_a_module_or_factory_that_fails_is_one_line_not_a_traceback(tmp_path, source, arg, code, match):
    import re

    (tmp_path / (arg.split(":")[0] + ".py")).write_text(source)
    r = _cli(tmp_path, arg)
    assert r.returncode == code, r.stdout + r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert re.search(match, r.stderr), r.stderr
