"""One convention for every subcommand: one-line errors with exit code 2, --version,
defaults that work for every size, progress that suits logs, and no accepted value that
ends in a traceback."""

import io
import re
import subprocess
import sys
import time
from contextlib import redirect_stderr, redirect_stdout

import pytest

from floss_ref import __version__
from floss_ref._progress import LOG_INTERVAL, LogProgress
from floss_ref.cli import main


def run_main(argv):
    """(exit code, stdout, stderr) of ``python -m floss_ref *argv`` run in this process; an
    exception escaping main (a traceback) fails the test."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        try:
            code = main(argv)
        except SystemExit as exc:
            code = exc.code
    return code, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("command", ["spectrum", "floss", "train"])
def test_empty_or_unknown_out_is_refused(command):
    for out in ("", "results.csv"):
        code, _, err = run_main([command, "--quiet", "--out", out])
        assert code == 2 and "--out must" in err


def test_version():
    code, out, _ = run_main(["--version"])
    assert code == 0 and out.strip() == f"floss_ref {__version__}"


@pytest.mark.parametrize("argv", [
    ["spectrum", "--N", "0"],
    ["floss", "--epochs", "0"],
    ["train", "--clip-norm", "x"],
    ["demo", "--jobs", "0"],
    ["spectrum", "--N", "10", "--k", "11"],
    ["nosuchcommand"],
])
def test_errors_are_one_line_with_exit_2(argv):
    code, _, err = run_main(argv)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "error: " in lines[0] and lines[0].startswith("python -m floss_ref")


def test_same_option_names_for_the_same_idea():
    # gradient clipping is --clip-norm, a data file is --out, a figure is --plot, everywhere
    helps = {cmd: run_main([cmd, "--help"])[1] for cmd in ("spectrum", "floss", "train", "demo")}
    assert "--clip-norm" in helps["floss"] and "--clip-norm" in helps["train"]
    assert "--clip " not in helps["train"] and "--history" not in helps["train"]
    assert "--out" in helps["spectrum"] and "--out" in helps["floss"] and "--out" in helps["train"]
    assert "--plot" in helps["train"] and "--plot" in helps["demo"] and "--out" not in helps["demo"]


@pytest.mark.parametrize("N", ["1", "5", "32"])
def test_k_defaults_work_for_every_size(N):
    code, out, err = run_main(["spectrum", "--N", N, "--T", "60", "--transient", "10", "--quiet"])
    assert code == 0, err
    assert f"lambda_1..{N} =" in out
    code, out, err = run_main(["floss", "--N", N, "--T", "30", "--transient", "5", "--epochs", "2",
                               "--T-eval", "40", "--quiet"])
    assert code == 0, err
    assert f"flossed {min(16, int(N))} exponents" in out


# Values at the edges of what each option accepts: each either works (exit 0), is refused
# with one line (exit 2) or reports a numerical breakdown (exit 1); none may raise.
SMALL = ["--N", "4", "--T", "30", "--transient", "5", "--quiet"]
EDGE_VALUES = [
    ["--g", "0"], ["--g", "1e308"], ["--g", "40"], ["--g", "inf"], ["--g", "-1"],
    ["--k", "1"], ["--k", "4"], ["--k", "5"], ["--T", "5"], ["--T", "6"], ["--T", "1"],
    ["--t-ons", "1"], ["--t-ons", "30"], ["--t-ons", "31"], ["--transient", "0"], ["--transient", "29"],
    ["--inputs", "none"], ["--inputs", "bernoulli"], ["--seed", "0"], ["--seed", "4294967296"],
    ["--N", "1"], ["--nonlinearity", "relu"], ["--init", "orthogonal"], ["--cell", "lstm"],
    ["--cell", "gru"], ["--cell", "lstm", "--init", "gaussian"], ["--out", ""], ["--N", "5000"],
    ["--T", "1000000000"],
]


@pytest.mark.parametrize("extra", EDGE_VALUES, ids=lambda e: " ".join(e))
@pytest.mark.parametrize("command", ["spectrum", "floss"])
def test_edge_values_never_raise(command, extra):
    argv = [command, *SMALL, *(["--epochs", "2", "--T-eval", "40"] if command == "floss" else []), *extra]
    code, _, err = run_main(argv)
    assert code in (0, 1, 2), (code, err)
    if code:
        assert len(err.strip().splitlines()) == 1, err
        assert "Traceback" not in err


TRAIN_SMALL = ["train", "--task", "binary_xor", "--delay", "2", "--N", "4", "--T", "10", "--batch", "2",
               "--epochs", "3", "--diag-every", "0", "--k", "2", "--floss-epochs", "1", "--floss-T", "6",
               "--floss-transient", "1", "--quiet"]
TRAIN_EDGES = [
    ["--protocol", "during", "--floss-at", "0,2"], ["--protocol", "during", "--floss-at", "3"],
    ["--protocol", "throughout", "--floss-every", "1"], ["--k", "4"], ["--k", "5"], ["--delay", "10"],
    ["--delay", "3"], ["--task", "spatial_xor", "--delay", "3"], ["--xor-lags", "double"],
    ["--xor-lags", "double", "--delay", "6"], ["--clip-norm", "0"], ["--lr", "1e6"], ["--g", "1e308"],
    ["--cell", "lstm"], ["--cell", "lstm", "--forget-gain", "0"], ["--forget-gain", "0"],
    ["--h0-mode", "per_slot"], ["--input-scale", "streams"], ["--diag-every", "1"], ["--diag-k", "9"],
    ["--test-batch", "1"], ["--checkpoint-every", "1"],
]


@pytest.mark.parametrize("extra", TRAIN_EDGES, ids=lambda e: " ".join(e))
def test_train_edge_values_never_raise(extra):
    code, _, err = run_main(TRAIN_SMALL + extra)
    assert code in (0, 1, 2), (code, err)
    if code:
        assert len(err.strip().splitlines()) == 1, err


class FakeClock:
    """A monotonic clock that advances only when told: progress tests without timing."""

    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_progress_in_a_log_is_one_line_per_interval_and_one_at_the_end():
    stream, clock = io.StringIO(), FakeClock()
    bar = LogProgress(1000, "work", "item", interval=10.0, stream=stream, clock=clock)
    for _ in range(1000):
        clock.t += 0.25  # 1000 updates over 250 s: a line at 10, 20, ..., 250 s
        bar.update(1)
    bar.close()
    lines = stream.getvalue().splitlines()
    assert len(lines) == 250 // 10 + 1
    assert lines[0].startswith("work: 40/1000 item (4 %), 10 s")
    assert lines[-1].startswith("work: 1000/1000 item (100 %), 250 s")


def test_progress_in_a_log_stays_silent_within_an_interval():
    stream, clock = io.StringIO(), FakeClock()
    bar = LogProgress(10**6, "work", "item", interval=10.0, stream=stream, clock=clock)
    for _ in range(10**5):
        clock.t += 9.99e-5  # 10**5 updates within 9.99 s
        bar.update(1)
    assert stream.getvalue() == ""
    bar.close()
    assert len(stream.getvalue().splitlines()) == 1


PROGRESS_LINE = re.compile(r"^[A-Za-z][\w ]*: \d+/\d+ \w+")


def test_cli_progress_redirected_to_a_file_writes_one_line_per_interval_per_loop(tmp_path):
    # each loop writes a line at most every LOG_INTERVAL seconds and one when it ends;
    # warnings are not progress and are not counted
    log = tmp_path / "log"
    start = time.monotonic()
    with open(log, "w") as err:
        res = subprocess.run([sys.executable, "-m", "floss_ref", "floss", "--N", "16", "--epochs", "60"],
                             stderr=err, stdout=subprocess.PIPE, timeout=600)
    seconds = time.monotonic() - start
    assert res.returncode == 0
    lines = [line for line in log.read_text().splitlines() if PROGRESS_LINE.match(line)]
    loops = {line.split(":")[0] for line in lines}
    assert loops == {"Benettin loop", "flossing"}, lines
    closing = 3  # Benettin loop before, flossing, Benettin loop after
    assert closing <= len(lines) <= closing + seconds / LOG_INTERVAL, lines
    assert "\r" not in log.read_text()
