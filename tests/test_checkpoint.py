"""Checkpoints: atomic writes, refusal of bad files, and bit-identical resumption."""

import io
import os
import signal
import subprocess
import sys
import textwrap
import zipfile

import numpy as np
import pytest

from floss_ref.runs import checkpoint as ckpt
from floss_ref.runs.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from floss_ref.runs.run import Run, TrainConfig, train

# flossing episodes at 0, 3 and 6 and diagnostics every 2 epochs, so that a resumed run
# crosses all three kinds of event after the checkpoint
CONFIG = TrainConfig(task="binary_xor", delay=2, N=10, T=20, batch=3, epochs=9, protocol="during",
                     floss_at=(3, 6), k=4, floss_epochs=3, floss_T=10, floss_transient=2,
                     diag_every=2, diag_k=3, test_batch=5, seed=3)


def assert_same_run(a, b):
    assert a.epoch == b.epoch
    for name in a.history:
        assert np.array_equal(a.history[name], b.history[name], equal_nan=True), name
    for name in a.model.params:
        assert np.array_equal(a.model.params[name], b.model.params[name]), name
    for opt_a, opt_b in ((a.optimizer, b.optimizer), (a.floss_optimizer, b.floss_optimizer)):
        sa, sb = opt_a.state_dict(), opt_b.state_dict()
        assert sa.keys() == sb.keys()
        assert all(np.array_equal(sa[k], sb[k]) for k in sa)
    assert a.rng.bit_generator.state == b.rng.bit_generator.state


@pytest.mark.parametrize("stop", [1, 3, 4, 8])
def test_resumed_run_is_bit_identical_to_an_uninterrupted_one(tmp_path, stop):
    whole = Run(CONFIG).train()
    path = tmp_path / "run.npz"
    Run(CONFIG).train(until=stop, checkpoint=path)
    resumed = Run.load(path, CONFIG)  # a fresh object built from the file alone
    assert resumed.epoch == stop
    resumed.train()
    assert_same_run(whole, resumed)
    assert np.all(np.isfinite(whole.history["floss_loss"]))  # the episodes did run


def test_train_resume_through_the_public_function(tmp_path):
    path = tmp_path / "run.npz"
    whole = train(CONFIG)
    Run(CONFIG).train(until=5, checkpoint=path)
    assert_same_run(whole, train(CONFIG, checkpoint=path, resume=True))


def test_a_killed_process_resumes_bit_identically(tmp_path):
    """A training process checkpoints every 10 epochs and is SIGKILLed halfway through
    writing the epoch-140 checkpoint (after a flossing episode at epoch 135): the file
    still holds epoch 130, and the run resumed from it here ends bit-identical to an
    uninterrupted run."""
    config = TrainConfig(task="copy", delay=3, N=16, T=40, batch=4, epochs=200, protocol="during",
                         floss_at=(135,), k=4, floss_epochs=5, floss_T=12, floss_transient=2,
                         diag_every=50, diag_k=2, test_batch=4, seed=5)
    path = tmp_path / "run.npz"
    script = textwrap.dedent(f"""
        import os, signal
        import numpy as np
        from floss_ref.runs.run import Run, TrainConfig
        run = Run(TrainConfig(**{config.to_dict()!r}))
        real_savez = np.savez

        def savez_then_die_at_140(f, **arrays):
            if run.epoch == 140:
                f.write(b"half a checkpoint")
                f.flush()
                os.kill(os.getpid(), signal.SIGKILL)
            real_savez(f, **arrays)

        np.savez = savez_then_die_at_140
        while not run.done:
            run.train_epoch()
            if run.epoch % 10 == 0:
                run.save({str(path)!r})
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([os.getcwd(), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", script], env=env, timeout=120)
    assert proc.returncode == -signal.SIGKILL
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    assert leftovers[1:] == ["run.npz"] and leftovers[0].startswith(".run.npz.")  # the dead writer's temp file
    resumed = Run.load(path, config)
    assert resumed.epoch == 130
    resumed.train()
    assert_same_run(Run(config).train(), resumed)


def test_refuses_checkpoint_of_another_configuration(tmp_path):
    path = tmp_path / "run.npz"
    Run(CONFIG).train(until=2, checkpoint=path)
    before = path.read_bytes()
    other = TrainConfig(**{**CONFIG.to_dict(), "delay": 4, "lr": 0.01})
    with pytest.raises(CheckpointError, match=r"different configuration.*delay: 2 in the checkpoint, 4 now.*lr"):
        Run.load(path, other)
    with pytest.raises(CheckpointError, match="different configuration"):
        train(other, checkpoint=path, resume=True)
    assert path.read_bytes() == before


def corrupt_truncate(data):
    return data[:len(data) // 2]


def corrupt_flip_array_byte(data):
    """Flip one byte in the middle of the recurrent weights' data (caught by the zip CRC)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo("param/W.npy")
    name_and_extra = int.from_bytes(data[info.header_offset + 26:info.header_offset + 28], "little") \
        + int.from_bytes(data[info.header_offset + 28:info.header_offset + 30], "little")
    i = info.header_offset + 30 + name_and_extra + info.file_size // 2
    return data[:i] + bytes([data[i] ^ 0x01]) + data[i + 1:]


def corrupt_garbage(data):
    return os.urandom(len(data))


def corrupt_empty(data):
    return b""


@pytest.mark.parametrize("corrupt", [corrupt_truncate, corrupt_flip_array_byte, corrupt_garbage, corrupt_empty])
def test_refuses_corrupted_or_truncated_file_and_leaves_it_intact(tmp_path, corrupt):
    path = tmp_path / "run.npz"
    Run(CONFIG).train(until=2, checkpoint=path)
    bad = corrupt(path.read_bytes())
    path.write_bytes(bad)
    with pytest.raises(CheckpointError, match="cannot be read as a checkpoint"):
        Run.load(path, CONFIG)
    assert path.read_bytes() == bad


def test_refuses_npz_that_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, a=np.ones(3))
    with pytest.raises(CheckpointError, match="not a floss_ref checkpoint"):
        Run.load(path, CONFIG)


def test_refuses_arrays_of_the_wrong_shape(tmp_path):
    path = tmp_path / "c.npz"
    save_checkpoint(path, {"a": 1}, {"x": np.zeros(3)}, {"epoch": 0})
    with pytest.raises(CheckpointError, match="shape"):
        load_checkpoint(path, {"a": 1}, {"x": ((4,), np.dtype(float))})
    with pytest.raises(CheckpointError, match="missing"):
        load_checkpoint(path, {"a": 1}, {"x": ((3,), np.dtype(float)), "y": ((1,), np.dtype(float))})
    arrays, meta = load_checkpoint(path, {"a": 1}, {"x": ((3,), np.dtype(float))})
    assert meta == {"epoch": 0} and np.array_equal(arrays["x"], np.zeros(3))


def test_failed_write_leaves_the_previous_checkpoint_intact(tmp_path, monkeypatch):
    path = tmp_path / "run.npz"
    run = Run(CONFIG).train(until=2, checkpoint=path)
    before = path.read_bytes()
    run.train_epoch()

    def broken_savez(f, **arrays):
        f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(ckpt.np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        run.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["run.npz"]


def test_existing_checkpoint_is_not_overwritten_without_resume(tmp_path):
    path = tmp_path / "run.npz"
    Run(CONFIG).train(until=2, checkpoint=path)
    before = path.read_bytes()
    with pytest.raises(ValueError, match="already exists"):
        train(CONFIG, checkpoint=path)
    assert path.read_bytes() == before
    with pytest.raises(ValueError, match="no checkpoint"):
        train(CONFIG, checkpoint=tmp_path / "missing.npz", resume=True)


def test_unwritable_path_is_refused_before_training(tmp_path, monkeypatch):
    def no_training(self):
        raise AssertionError("an epoch ran before the output path was checked")

    monkeypatch.setattr(Run, "train_epoch", no_training)
    with pytest.raises(ValueError, match="does not exist"):
        train(CONFIG, checkpoint=tmp_path / "no" / "such" / "dir" / "run.npz")
    with pytest.raises(ValueError, match="is a directory"):
        train(CONFIG, checkpoint=tmp_path)


def test_checkpoint_file_gets_the_usual_permissions(tmp_path):
    umask = os.umask(0)
    os.umask(umask)
    path = tmp_path / "run.npz"
    Run(CONFIG).train(until=1, checkpoint=path)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask
