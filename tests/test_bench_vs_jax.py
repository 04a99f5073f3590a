"""validation/bench/bench_vs_jax.py and validation/bench/bench_floor.py without JAX, and their refusals
(the comparisons themselves run in the slow smoke runs of tests/test_validation_scripts.py when JAX is installed)."""

import importlib
import io
import os
import pathlib
import sys
from contextlib import redirect_stdout

import pytest

VALIDATION = pathlib.Path(__file__).resolve().parents[1] / "validation"


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(VALIDATION))
    monkeypatch.syspath_prepend(str(VALIDATION / "independent"))   # _jax_cells
    monkeypatch.syspath_prepend(str(VALIDATION / "bench"))
    monkeypatch.setenv("XLA_FLAGS", os.environ.get("XLA_FLAGS", ""))   # the script appends to it
    sys.modules.pop("bench_vs_jax", None)
    return importlib.import_module("bench_vs_jax")


@pytest.mark.parametrize("script, nothing", [("bench_vs_jax", "nothing compared"),
                                             ("bench_floor", "nothing measured")])
def test_without_jax_it_says_how_to_install_it_and_exits_cleanly(bench, script, nothing, monkeypatch):
    sys.modules.pop("bench_floor", None)
    module = bench if script == "bench_vs_jax" else importlib.import_module("bench_floor")
    monkeypatch.setitem(sys.modules, "jax", None)        # import jax raises ImportError
    before = os.sched_getaffinity(0)
    out = io.StringIO()
    with redirect_stdout(out):
        code = module.main(["--rows", "floss80", "--repeat", "1"])
    assert code == 0
    assert 'pip install ".[bench]"' in out.getvalue() and nothing in out.getvalue()
    assert os.sched_getaffinity(0) == before             # the pinning is undone


@pytest.mark.parametrize("script", ["bench_vs_jax", "bench_floor"])
@pytest.mark.parametrize("argv, words", [
    (["--rows", "floss80,fast"], "unknown fast"),
    (["--repeat", "0"], "--repeat must be >= 1"),
    (["--cpu", "4096"], "not one of the cores"),
])
def test_bad_options_are_refused_by_name(bench, script, argv, words, capsys):
    sys.modules.pop("bench_floor", None)
    module = bench if script == "bench_vs_jax" else importlib.import_module("bench_floor")
    with pytest.raises(SystemExit) as exc:
        module.main(argv)
    assert exc.value.code == 2
    assert words in capsys.readouterr().err
