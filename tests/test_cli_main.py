"""floss_ref.cli.main, the spectrum and floss commands: output, files, clean errors (exit
code 2, no traceback), --version, defaults that work for every size, and no accepted value
that ends in a traceback."""

import errno
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from cli_runner import run_main
from floss_ref import __version__
from floss_ref.cli import main
from hostile_files import make_special


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "floss_ref", *args], capture_output=True, text=True, timeout=300)


def test_spectrum_json_output(tmp_path, capsys):
    out = tmp_path / "spec.json"
    assert main(["spectrum", "--N", "12", "--k", "4", "--T", "200", "--transient", "20", "--quiet",
                 "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert len(data["exponents"]) == 4
    assert data["exponents"] == sorted(data["exponents"], reverse=True) or data["exponents"][0] > data["exponents"][-1]
    assert "lambda_1" in capsys.readouterr().out


def test_floss_npz_output_reduces_loss(tmp_path):
    out = tmp_path / "floss.npz"
    assert main(["floss", "--N", "10", "--k", "3", "--T", "40", "--transient", "10", "--epochs", "30",
                 "--T-eval", "300", "--quiet", "--out", str(out)]) == 0
    data = np.load(out)
    assert data["loss_per_epoch"].shape == (30,)
    assert np.sum(data["exponents_after"] ** 2) < np.sum(data["exponents_before"] ** 2)
    assert data["grad_norm_per_epoch"].shape == (30,) and "clip_norm" not in data


def test_floss_clip_norm_is_applied_and_saved(tmp_path):
    out = tmp_path / "floss.npz"
    args = ["floss", "--N", "10", "--k", "3", "--T", "40", "--transient", "10", "--epochs", "5",
            "--T-eval", "100", "--quiet"]
    assert main(args + ["--clip-norm", "1e-3", "--out", str(out)]) == 0
    clipped = np.load(out)
    assert clipped["clip_norm"] == 1e-3 and np.all(clipped["grad_norm_per_epoch"] > 1e-3)
    assert main(args + ["--out", str(tmp_path / "plain.npz")]) == 0
    plain = np.load(tmp_path / "plain.npz")
    # the same first epoch (Adam's first step does not see the scale), different later ones
    assert clipped["grad_norm_per_epoch"][0] == plain["grad_norm_per_epoch"][0]
    assert not np.array_equal(clipped["exponents_after"], plain["exponents_after"])


def test_help_lists_paper_symbols():
    res = run_cli("floss", "--help")
    assert res.returncode == 0
    for option in ("--N", "--g", "--k", "--T", "--t-ons", "--epochs", "--seed"):
        assert option in res.stdout


@pytest.mark.parametrize("args,message", [
    (["spectrum", "--N", "0"], "--N: must be >= 1"),
    (["spectrum", "--k", "0"], "--k: must be >= 1"),
    (["spectrum", "--N", "10", "--k", "11"], "--k must be <="),
    (["spectrum", "--t-ons", "0"], "--t-ons: must be >= 1"),
    (["spectrum", "--T", "50", "--transient", "50"], "must be longer than --transient"),
    (["spectrum", "--g", "nan"], "must be finite"),
    (["spectrum", "--nonlinearity", "sigmoid"], "invalid choice"),
    (["spectrum", "--init", "xavier"], "invalid choice"),
    (["floss", "--lr", "0"], "--lr: must be > 0"),
    (["floss", "--clip-norm", "-1"], "--clip-norm: must be > 0"),
    (["floss", "--epochs", "ten"], "expected an integer"),
    (["spectrum", "--out", "/nonexistent-dir/x.json"], "does not exist"),
    (["nosuchcommand"], "invalid choice"),
])
def test_bad_arguments_exit_2_without_traceback(args, message):
    res = run_cli(*args)
    assert res.returncode == 2
    assert message in res.stderr
    assert "Traceback" not in res.stderr


def test_unwritable_output_fails_before_the_run(tmp_path):
    target = tmp_path / "adir.json"
    target.mkdir()
    res = run_cli("floss", "--epochs", "100000", "--out", str(target))
    assert res.returncode == 2 and "is a directory" in res.stderr


def test_overflow_is_reported_with_exit_1():
    res = run_cli("spectrum", "--nonlinearity", "relu", "--g", "40", "--N", "20", "--k", "2", "--T", "3000",
                  "--quiet")
    assert res.returncode == 1, res.stderr
    assert "numerical breakdown" in res.stderr and "Traceback" not in res.stderr


# ---- one convention for every subcommand -------------------------------------------------

@pytest.mark.parametrize("command", ["spectrum", "floss", "train"])
def test_empty_or_unknown_out_is_refused(command):
    for out in ("", "results.csv"):
        code, _, err = run_main([command, "--quiet", "--out", out])
        assert code == 2 and "--out must" in err


def test_version():
    code, out, _ = run_main(["--version"])
    assert code == 0 and out.strip() == f"floss_ref {__version__}"


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


# ---- regression tests of the issue "Reliability", rows F3 and F11 ---------------------------

def test_F11_spectrum_json_output_holds_null_not_bare_nan(tmp_path):
    out = tmp_path / "spec.json"
    code, _, err = run_main(["spectrum", "--N", "4", "--T", "2", "--transient", "1", "--quiet", "--out", str(out)])
    assert code == 0, err

    def bare(token):
        raise AssertionError(f"bare {token} in {out.name}")

    data = json.loads(out.read_text(), parse_constant=bare)
    assert data["stderr"] == [None] * 4 and len(data["exponents"]) == 4


@pytest.mark.parametrize("where, code", [("fsync", errno.ENOSPC), ("replace", errno.EROFS), ("open", errno.EACCES)])
@pytest.mark.parametrize("suffix", [".json", ".npz"])
def test_F3_an_output_that_cannot_be_written_is_one_line_and_exit_1(tmp_path, monkeypatch, where, code, suffix):
    out = tmp_path / f"spec{suffix}"
    real = getattr(os, where)

    def fail(*args, **kwargs):
        if where == "open" and not str(args[0]).endswith(".tmp"):
            return real(*args, **kwargs)
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, where, fail)  # the early check (a temporary file) passes: the disk fills later
    status, _, err = run_main(["spectrum", "--N", "4", "--T", "30", "--transient", "5", "--quiet", "--out", str(out)])
    monkeypatch.undo()
    assert status == 1, err
    assert err.strip() == (f"python -m floss_ref spectrum: error: cannot write {str(out)!r}: {os.strerror(code)}; "
                           "the previous file, if any, is unchanged"), err
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("make_place", [
    lambda d: (d / "file").write_text("") or d / "file" / "v",   # below a regular file
    lambda d: d / "ro" / "v",                                     # on a read-only file system (simulated)
], ids=["below_a_file", "read_only"])
def test_F3_vectors_out_that_cannot_be_written_is_one_line_and_exit_1(tmp_path, monkeypatch, make_place):
    place = make_place(tmp_path)
    if "ro" in place.parts:
        real = os.makedirs

        def makedirs(path, *args, **kwargs):
            if "ro" in os.fspath(path):
                raise OSError(errno.EROFS, os.strerror(errno.EROFS))
            return real(path, *args, **kwargs)

        monkeypatch.setattr(os, "makedirs", makedirs)
    code, out, err = run_main(["vectors", "--out", str(place), "--cases", "gru_T20_tons1_tr0"])
    assert code == 1, err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith("python -m floss_ref vectors: error: cannot write"), err
    assert "Traceback" not in err and out == ""


@pytest.mark.parametrize("kind", ["FIFO", "character device"])
def test_F3_an_out_that_is_a_special_file_is_refused_with_exit_2(tmp_path, kind):
    path = make_special(tmp_path / "spec.json", kind)
    code, _, err = run_main(["spectrum", "--N", "4", "--T", "30", "--transient", "5", "--quiet", "--out", path])
    assert code == 2 and f"it is a {kind}, not a regular file" in err, err
    assert os.path.exists(path) and not os.path.isfile(path)
