"""The Python examples of the README and its docs pages run as written, and the README's
commands match the CI script."""

import pathlib
import re

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PAGES = ("README.md", "docs/training.md", "docs/precision.md", "docs/speed.md", "docs/safety.md")
TEXT = {page: (ROOT / page).read_text() for page in PAGES}
README = TEXT["README.md"]
# (page, block) for every Python block of every page
BLOCKS = [(page, block) for page in PAGES for block in re.findall(r"```python\n(.*?)```", TEXT[page], re.S)]


def _precision_block(ns):
    # "kappa_2 ~ 1e32 at 500 steps"
    assert 31.0 <= ns["res"].log_kappa[-1] / np.log(10) <= 33.0
    assert np.all(ns["res"].agreeing_digits >= 10)


def _lstm_block(ns):
    # the printed exponents and standard errors (tests/test_lyapunov_stats.py has the digits)
    assert np.allclose(ns["res"].exponents, [-0.166, -0.204, -0.203, -0.215], atol=5e-4)


def _henon_block(ns):
    # "[0.4192, -1.6232] +- [0.0030, 0.0030]; their sum is log(b) exactly", and the prose
    # after the block: "kaplan_yorke_dimension(res.exponents) is 1.26 here"
    from floss_ref import kaplan_yorke_dimension
    res = ns["res"]
    assert np.allclose(res.exponents, [0.4192, -1.6232], atol=5e-5)
    assert np.allclose(res.stderr, [0.0030, 0.0030], atol=5e-5)
    assert res.exponents.sum() == pytest.approx(np.log(0.3), abs=1e-12)
    assert round(kaplan_yorke_dimension(res.exponents), 2) == 1.26
    assert "kaplan_yorke_dimension(res.exponents)` is 1.26 here" in README


def _first_block(ns):
    # "(10,) lambda_1 .. lambda_10, decreasing up to finite-T noise": QR order, in which two
    # nearly equal exponents may swap over a finite T (seen without a seed: a step of +0.002
    # against standard errors of 0.01); never by more than two standard errors
    res = ns["res"]
    assert res.exponents.shape == (10,)
    assert np.all(np.diff(res.exponents) <= 2 * res.stderr[1:])


def _function_map_block(ns):
    # "True", and "lambda_1: 0.20, then 0.006"
    assert ns["report"].passed
    hist = ns["hist"]
    assert round(float(hist.exponents[:10, 0].mean()), 2) == 0.20
    assert round(float(hist.exponents[-10:, 0].mean()), 3) == 0.006


# what a block's comments say it prints, checked on its own variables
CHECKS = {"def tangent_vjp(h, x, Q, Q_tilde_bar, p)": _function_map_block, "VanillaRNN.random(N=80": _first_block,
          "long_term_jacobian_svd": _precision_block, "LSTM.random(32": _lstm_block, "def henon(": _henon_block}


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_block_runs(index):
    page, block = BLOCKS[index]
    namespace = {}
    exec(compile(block, f"{page} block {index}", "exec"), namespace)
    for marker, check in CHECKS.items():
        if marker in block:
            check(namespace)


def test_every_readme_check_finds_its_block():
    for marker in CHECKS:
        assert any(marker in block for _, block in BLOCKS), marker


def test_resolvable_horizons_stated_in_the_readme():
    """'256 bits resolve m = 15 for about 1000 steps and m = 80 for 46' (docs/precision.md): the precision
    budget (Eq. 10) applied to the spectrum of a g = 1, N = 80 network with XOR inputs.
    The 46 is bench_precision.py's measured horizon on its own trajectory; Eq. 10 with this
    trajectory's lambda_1 - lambda_80 predicts 35, so m = 80 is checked to be some tens of
    steps."""
    from floss_ref import VanillaRNN, lyapunov_spectrum
    from floss_ref.precision import resolvable_horizon
    net = VanillaRNN.random(80, g=1.0, seed=0)
    xs = np.random.default_rng(1).integers(0, 2, (3000, 1)).astype(float)
    lam = lyapunov_spectrum(net, np.zeros(80), xs, k=80, transient=300, seed=2, stderr=False).exponents
    assert resolvable_horizon(lam[0] - lam[14], 80, 15) == pytest.approx(1000, rel=0.2)
    assert 25 <= resolvable_horizon(lam[0] - lam[79], 80, 80) <= 60
    assert "256 bits resolve m = 15 for about 1000 steps and m = 80 for 46" in " ".join(
        TEXT["docs/precision.md"].split())


def test_readme_has_python_examples():
    assert sum(page == "README.md" for page, _ in BLOCKS) >= 3


def test_ci_runs_the_readme_test_command():
    """The README opens with its title and one paragraph, then the two commands: the first
    installs floss_ref and runs the demo, the second is the test command that .ci/run runs
    verbatim."""
    lines = README.splitlines()
    assert lines[0].startswith("# ") and lines[1] == "" and lines[2] and not lines[2].startswith("    ")
    start = next(i for i, line in enumerate(lines) if line.startswith("    "))
    assert "" not in lines[2:start - 1] and lines[start - 1] == ""      # one paragraph before the commands
    demo_command, test_command, after = (line.strip() for line in lines[start:start + 3])
    assert after == ""
    assert demo_command == "pip install . && python -m floss_ref demo"
    assert "pytest" in test_command
    assert test_command == 'pip install ".[test]" && python -m pytest -m "not slow"'
    assert test_command in (ROOT / ".ci" / "run").read_text()
