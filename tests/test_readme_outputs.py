"""Every number the README's output blocks show, checked against what the commands print.

The README's outputs were measured on one platform.  Numbers fixed before any long
computation (the spectrum before flossing, accuracies at chance or at 1) must agree to
the printed digits; numbers that come out of long training or flossing depend on the BLAS
build in their later digits, and are checked with the tolerance stated at each line.
Times are not checked (they depend on the machine and its load)."""

import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def block_after(command):
    """The indented output lines that follow ``$ <command>`` in the README."""
    lines = README.splitlines()
    start = lines.index(f"    $ {command}") + 1
    out = []
    for line in lines[start:]:
        if not line.startswith("    "):
            break
        out.append(line[4:])
    return out


def run(*args, timeout=1200):
    res = subprocess.run([sys.executable, "-m", "floss_ref", *args], capture_output=True, text=True,
                         timeout=timeout, cwd=ROOT)
    assert res.returncode == 0, res.stderr
    return res.stdout.splitlines()


def numbers(line):
    return [float(x) for x in re.findall(r"[-+]?\d+(?:\.\d+)?(?:e[-+]\d+)?", line.split(":", 1)[1])]


def rows(lines):
    return {line.split()[0]: line.split()[1:] for line in lines if line.split() and line.split()[0] in ("none", "during")}


def test_demo_output_matches_the_readme(tmp_path):
    shown = block_after("python -m floss_ref demo")
    printed = run("demo", "--quiet", "--plot", str(tmp_path / "demo.png"))
    assert printed[:3] == shown[:3]                       # the two description lines and the header
    want, got = rows(shown), rows(printed)
    for protocol in ("none", "during"):
        acc, loss, h0, lam1 = (float(v) for v in want[protocol][:4])
        acc_g, loss_g, h0_g, lam1_g = (float(v) for v in got[protocol][:4])
        assert acc_g == pytest.approx(acc, abs=0.01)      # chance or learned: platform-independent
        assert lam1_g == pytest.approx(lam1, abs=0.01)    # lambda_1 after training
        assert abs(np.log10(h0_g / h0)) < 0.5             # |dL/dh0|: within a factor 3
        if protocol == "none":
            assert loss_g == pytest.approx(loss, abs=2e-3)   # chance-level loss, log 2 = 0.693
        else:
            assert loss_g < 0.02 and loss_g == pytest.approx(loss, rel=0.5)
    assert (tmp_path / "demo.png").read_bytes()[:4] == b"\x89PNG"


def test_floss_output_matches_the_readme():
    shown = block_after("python -m floss_ref floss")
    printed = run("floss", "--quiet")
    assert printed[0].rsplit(":", 1)[0] == shown[0].rsplit(":", 1)[0]       # all but the time
    median, largest = numbers(printed[1])
    median_shown, largest_shown = numbers(shown[1])
    assert median == pytest.approx(median_shown, rel=0.2)                 # gradient norms of 200 epochs
    assert largest == pytest.approx(largest_shown, rel=1.0)
    np.testing.assert_allclose(numbers(printed[3]), numbers(shown[3]), atol=1e-4)   # before: to the digit
    np.testing.assert_allclose(numbers(printed[4]), numbers(shown[4]), atol=0.03)   # after 200 Adam epochs
    before, after = (float(x) for x in re.findall(r"(?:before|after) ([\d.]+)", printed[5]))
    before_shown, after_shown = (float(x) for x in re.findall(r"(?:before|after) ([\d.]+)", shown[5]))
    assert before == pytest.approx(before_shown, abs=1e-3)
    assert after == pytest.approx(after_shown, rel=0.5) and after < 0.1 * before
