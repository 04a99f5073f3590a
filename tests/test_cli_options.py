"""floss_ref.cli.options: the parser's one-line errors with exit code 2 (int_at_least,
float_range, Parser), and the same option name for the same idea in every subcommand."""

import pytest

from cli_runner import run_main


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
