"""The README's Python examples run as written, and its commands match the CI script."""

import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, re.S)


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_python_block_runs(index):
    exec(compile(BLOCKS[index], f"README block {index}", "exec"), {})


def test_readme_has_python_examples():
    assert len(BLOCKS) >= 3


def test_ci_runs_the_readme_test_command():
    first_lines = README.splitlines()[:2]
    test_command = first_lines[1].strip()
    assert "pytest" in test_command
    assert test_command in (ROOT / ".ci" / "run").read_text()
