"""floss_ref.cli.train, the train and demo commands: history, checkpoint and summary files,
resuming, clean refusals of bad arguments (exit code 2, one line, nothing written), and no
accepted value that ends in a traceback."""

import errno
import json
import os
import subprocess
import sys

import pytest

from cli_runner import run_main
from conftest import SMALL
from hostile_files import SPECIAL, make_special, refused_within

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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


# ---- values at the edges of what each option accepts -------------------------------------

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


# ---- regression test of the issue "Reliability", rows F11 and F12 ----------------------------

def _cli(*args, cwd):
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "floss_ref", *args], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)


@pytest.mark.parametrize("args, match", [
    (["spectrum", "--out="], "--out must be a file name ending in .json or .npz"),
    (["train", "--epochs", "2", "--checkpoint", "r.npz", "--out", "r.npz"], "name the same file"),
    (["train", "--epochs", "2", "--checkpoint", "x.json", "--resume"], "checkpoint must be a path ending in .npz"),
    (["train", "--epochs", "2", "--checkpoint", "junk.npz", "--resume"], "cannot be read as a checkpoint"),
    (["train", "--g", "1e308", "--epochs", "2"], "g must be <= 1e.100"),
])
def test_F11_F12_cli_refuses_with_exit_2_and_writes_nothing(tmp_path, args, match):
    (tmp_path / "x.json").write_text("{}")
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not really a zip")
    before = sorted(os.listdir(tmp_path))
    r = _cli(*args, cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "Warning" not in r.stderr
    assert __import__("re").search(match, r.stderr), r.stderr
    assert sorted(os.listdir(tmp_path)) == before


# ---- regression tests of the issue "Reliability", rows F3 and F5 -----------------------------

TRAIN_TINY = ["train", "--task", "binary_xor", "--delay", "2", "--N", "4", "--T", "10", "--batch", "2",
              "--epochs", "3", "--diag-every", "0", "--quiet"]


@pytest.mark.parametrize("kind", SPECIAL)
def test_F5_resume_from_a_checkpoint_that_is_not_a_regular_file_exits_2_at_once(tmp_path, kind):
    path = make_special(tmp_path / "fifo.npz", kind)
    result = []
    exc = refused_within(lambda: result.append(run_main([*TRAIN_TINY, "--checkpoint", path, "--resume"])),
                         fifo=path if kind == "FIFO" else None)
    assert exc is None, repr(exc)
    code, out, err = result[0]
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "fifo.npz" in err and ("is a directory" in err or f"it is a {kind}, not a regular file" in err), err


@pytest.mark.parametrize("option", ["--checkpoint", "--out"])
def test_F3_a_checkpoint_or_history_that_cannot_be_written_is_one_line_and_exit_1(tmp_path, monkeypatch, option):
    target = tmp_path / ("run.npz" if option == "--checkpoint" else "hist.json")

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    code, _, err = run_main([*TRAIN_TINY, option, str(target)])
    monkeypatch.undo()
    assert code == 1, err
    assert err.strip().splitlines() == [f"python -m floss_ref train: error: cannot write {str(target)!r}: "
                                        "No space left on device; the previous file, if any, is unchanged"], err
    assert os.listdir(tmp_path) == []


# ---- regression test of the issue "Reliability", row F16: one writer at a time --------------

def test_F16_a_second_train_on_the_same_checkpoint_is_one_line_and_exit_1(tmp_path):
    from hostile_files import LockHolder
    target = tmp_path / "run.npz"
    with LockHolder(target, str(target) + ".lock") as holder:
        code, _, err = run_main([*TRAIN_TINY, "--checkpoint", str(target)])
        assert code == 1, err
        assert err.strip().splitlines() == [
            f"python -m floss_ref train: error: checkpoint {str(target)!r} is being written by pid {holder.pid} on "
            f"host {__import__('socket').gethostname()}: only one writer at a time; wait for it to finish, stop "
            "it, or use another path"], err
        assert not target.exists()
    code, _, err = run_main([*TRAIN_TINY, "--checkpoint", str(target)])  # the holder was killed: free again
    assert code == 0 and target.exists(), err


# ---- regression tests of the hostile-file families (validation/reliability/fuzz_files.py --families) ----

@pytest.mark.parametrize("option", ["--checkpoint", "--out"])
def test_an_output_on_a_read_only_file_system_is_one_line_and_exit_1(tmp_path, monkeypatch, option):
    """Found before training, it was a ValueError and exit 2; found at the end, a WriteError
    and exit 1: one error for one cause."""
    from floss_ref.runs import io as _io

    def read_only(*args, **kwargs):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS))

    target = tmp_path / ("run.npz" if option == "--checkpoint" else "hist.json")
    monkeypatch.setattr(_io.tempfile, "TemporaryFile", read_only)
    code, out, err = run_main([*TRAIN_TINY, option, str(target)])
    monkeypatch.undo()
    assert code == 1, err
    assert err.strip().splitlines() == [f"python -m floss_ref train: error: cannot write {str(target)!r}: "
                                        "Read-only file system; the previous file, if any, is unchanged"], err
    assert out == "" and os.listdir(tmp_path) == []
