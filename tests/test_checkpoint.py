"""Checkpoints: atomic writes, refusal of bad files, and bit-identical resumption."""

import errno
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile

import numpy as np
import pytest

from floss_ref.runs import checkpoint as ckpt
from floss_ref.runs import io as _io
from floss_ref.runs.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from floss_ref.runs.run import Run, TrainConfig, train
from hostile_files import SPECIAL, deep_json, make_special, refused_within, npy_member

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


# ---- regression tests of the issue "Reliability", rows F3, F5, F6, F11 ----------------------
# (the rows that span several modules are in test_reliability.py)

# F3: no half-written or stale files

def test_F3_history_write_that_fails_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "h.json"
    run = Run(TrainConfig(task="binary_xor", delay=2, N=6, T=10, batch=2, epochs=2, diag_every=0, seed=0))
    run.train()
    run.save_history(path)
    before = path.read_bytes()

    real_write = _io.atomic_write

    def dying_write(p, write):
        def partial(f):
            f.write(b'{"config": ')
            raise KeyboardInterrupt  # killed mid-write
        return real_write(p, partial)

    monkeypatch.setattr("floss_ref.runs.checkpoint.atomic_write", dying_write)
    with pytest.raises(KeyboardInterrupt):
        run.save_history(path)
    assert path.read_bytes() == before
    assert json.loads(before)["epochs_done"] == 2
    assert [f for f in os.listdir(tmp_path) if f.endswith(".tmp")] == []


# F5 / F6 / F11: the checkpoint loader

F_CONFIG = TrainConfig(task="binary_xor", delay=2, N=6, T=12, batch=2, epochs=6, protocol="during",
                     floss_at=(3,), k=3, floss_epochs=2, floss_T=8, floss_transient=1, diag_every=2,
                     diag_k=2, test_batch=3, seed=1)


@pytest.fixture(scope="module")
def checkpoint_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "run.npz"
    Run(F_CONFIG).train(until=4, checkpoint=path)
    return path


def _central_directory(data):
    """Offsets of the central directory entries of a zip file's bytes."""
    with zipfile.ZipFile(__import__("io").BytesIO(data)) as z:
        infos = z.infolist()
    start = data.rindex(b"PK\x05\x06")
    cd_offset = int.from_bytes(data[start + 16:start + 20], "little")
    return infos, cd_offset


def test_F5_unsupported_compression_byte_is_refused_not_a_traceback(tmp_path, checkpoint_file):
    data = bytearray(checkpoint_file.read_bytes())
    _, cd = _central_directory(bytes(data))
    data[cd + 10] ^= 0x40  # the compression method of the first directory entry
    bad = tmp_path / "run.npz"
    bad.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="cannot be read as a checkpoint"):
        Run.load(bad, F_CONFIG)


def test_F5_header_that_fails_to_tokenize_is_refused(tmp_path, checkpoint_file):
    arrays = _io.read_npz(checkpoint_file)
    bad = tmp_path / "run.npz"
    _io.atomic_savez(bad, arrays)
    data = bytearray(bad.read_bytes())
    i = data.index(b"{'descr'")  # the first array header: an unterminated string
    data[i + 1] = ord('"')
    bad.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="cannot be read as a checkpoint"):
        Run.load(bad, F_CONFIG)




def test_F5_a_small_file_declaring_a_huge_array_is_refused_before_allocating(tmp_path):
    path = tmp_path / "run.npz"
    member = npy_member("{'descr': '<f8', 'fortran_order': False, 'shape': (100000, 1000000), }")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("__header__.npy", member)
    start = time.monotonic()
    with pytest.raises(CheckpointError):
        Run.load(path, F_CONFIG)
    with pytest.raises(_io.FileFormatError, match="data bytes, its header declares 800000000000"):
        _io.read_npz(path)
    assert time.monotonic() - start < 30  # refused, not a MemoryError after minutes of paging


def _rewrite_meta(src, dst, change):
    arrays = _io.read_npz(src)
    header = json.loads(str(arrays.pop("__header__")))
    meta = header["meta"]
    change(meta, arrays)
    save_checkpoint(dst, header["config"], arrays, meta)


def _set(name, index, value):
    return lambda m, a: a[name].__setitem__(index, value)


@pytest.mark.parametrize("change, match", [
    (lambda m, a: m.update(epoch=-5), "epoch -5 is not an integer"),
    (lambda m, a: m.update(epoch=10 ** 6), "epoch 1000000 is not an integer"),
    (lambda m, a: m.update(epoch=30.5), "epoch 30.5 is not an integer"),
    (lambda m, a: m.update(epoch=True), "epoch True is not an integer"),
    (lambda m, a: m.update(epoch=3), "loss history does not end at epoch 3"),
    (lambda m, a: m.update(epoch=6), "loss history does not end at epoch 6"),
    (lambda m, a: m.pop("rng"), "random generator state is not a PCG64 state"),
    (lambda m, a: m["rng"]["state"].update(state=-1), "random generator state cannot be restored"),
    (lambda m, a: m["rng"].update(bit_generator="MT19937"), "not a PCG64 state"),
    (lambda m, a: m.pop("epoch"), "epoch None is not an integer"),
    (lambda m, a: a["param/W"].__setitem__((0, 0), np.nan), "param/W contains NaN"),
    (lambda m, a: a["adam/v_W"].__setitem__((0, 0), np.inf), "adam/v_W contains NaN"),
    (_set("history/grad_norm", 1, np.nan), "history/grad_norm is not finite at epoch 1"),
    (_set("history/h0_grad_norm", 0, np.inf), "history/h0_grad_norm is not finite at epoch 0"),
    (_set("history/accuracy", 3, np.nan), "history/accuracy is not finite at epoch 3"),
    (_set("history/accuracy", 5, 0.5), "history/accuracy holds a value at epoch 5, which a run saved after 4 epochs"),
    (_set("history/grad_norm", 4, 1.0), "history/grad_norm holds a value at epoch 4, which a run saved after 4 epochs"),
    (_set("history/exponents", (1, 0), np.nan), r"history/exponents is not finite at diagnostic epoch 2"),
    (_set("history/grad_W_sv", (0, 3), np.nan), r"history/grad_W_sv is not finite at diagnostic epoch 0"),
    (_set("history/grad_W_sv", (0, 3), -1.0), r"history/grad_W_sv is negative at diagnostic epoch 0"),
    (_set("history/exponents", (2, 0), 0.1), r"history/exponents holds a value at diagnostic epoch 4"),
    (_set("history/floss_loss", (1, 0), np.nan), r"history/floss_loss is not finite at the episode before epoch 3"),
    (_set("history/floss_exponents", (0, 2), np.inf), r"history/floss_exponents is not finite at the episode"),
    (_set("history/diag_epochs", 1, 3), r"history/diag_epochs is \[0, 3, 4, 5\], the configuration's is "
                                         r"\[0, 2, 4, 5\]"),
    (_set("history/floss_epochs", 1, 2), r"history/floss_epochs is \[0, 2\], the configuration's is \[0, 3\]"),
    (lambda m, a: a.__setitem__("history/test_loss", np.array(np.inf)), "the test loss is present at epoch 4"),
    (lambda m, a: a.__setitem__("adam/t", np.array(-1)), r"adam/t is -1, a run at epoch 4 has taken 4 Adam steps"),
    (lambda m, a: a.__setitem__("adam/t", np.array(5)), r"adam/t is 5, a run at epoch 4 has taken 4 Adam steps"),
    (lambda m, a: a.__setitem__("floss_adam/t", np.array(2)),
     r"floss_adam/t is 2, a run at epoch 4 has taken 4 flossing steps \(2 episodes of 2\)"),
    (_set("adam/v_W", (0, 0), -1e-3), "adam/v_W holds negative second moments"),
    (_set("floss_adam/v_b", 0, -1e-300), "floss_adam/v_b holds negative second moments"),
])
def test_F6_every_inconsistent_part_of_the_run_state_is_refused(tmp_path, checkpoint_file, change, match):
    bad = tmp_path / "run.npz"
    _rewrite_meta(checkpoint_file, bad, change)
    before = bad.read_bytes()
    with pytest.raises(CheckpointError, match=match):
        train(F_CONFIG, checkpoint=bad, resume=True)
    assert bad.read_bytes() == before


def test_F6_a_consistent_rewritten_state_still_resumes_bit_for_bit(tmp_path, checkpoint_file):
    same = tmp_path / "run.npz"
    _rewrite_meta(checkpoint_file, same, lambda m, a: None)
    resumed = train(F_CONFIG, checkpoint=same, resume=True)
    whole = Run(F_CONFIG).train()
    for name in whole.history:
        assert np.array_equal(resumed.history[name], whole.history[name], equal_nan=True), name


def test_F11_checkpoint_path_must_be_npz(tmp_path):
    with pytest.raises(ValueError, match="checkpoint must be a path ending in .npz"):
        train(F_CONFIG, checkpoint=tmp_path / "x.json")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(ValueError, match="checkpoint must be a path ending in .npz"):
        train(F_CONFIG, checkpoint=tmp_path / "x.json", resume=True)


# F5: only a regular file is read as a checkpoint; its header is JSON within bounds

@pytest.mark.parametrize("kind", SPECIAL)
def test_F5_a_checkpoint_that_is_not_a_regular_file_is_refused_by_name(tmp_path, kind):
    path = make_special(tmp_path / "fifo.npz", kind)
    exc = refused_within(lambda: Run.load(path, F_CONFIG), fifo=path if kind == "FIFO" else None)
    assert isinstance(exc, CheckpointError), repr(exc)
    assert f"fifo.npz' cannot be read as a checkpoint: it is a {kind}" in str(exc), str(exc)
    assert os.path.lexists(path)


def _rewrite_header(src, dst, header_text):
    arrays = _io.read_npz(src)
    arrays["__header__"] = np.array(header_text)
    _io.atomic_savez(dst, arrays)


@pytest.mark.parametrize("make_header, match", [
    (lambda h: deep_json(3000), "header.*nests deeper than 64 levels"),
    (lambda h: json.dumps({**h, "meta": {**h["meta"], "deep": json.loads(deep_json(500))}}), "nests deeper than 64"),
    (lambda h: json.dumps([h]), "header must be an object"),
    (lambda h: json.dumps({**h, "format": 1}), "field 'format' must be a string, got an integer"),
    (lambda h: json.dumps({k: v for k, v in h.items() if k != "meta"}), "field 'meta' is missing"),
    (lambda h: json.dumps({**h, "meta": [h["meta"]]}), "field 'meta' must be an object, got a list"),
    (lambda h: json.dumps({**h, "config": "x"}), "field 'config' must be an object, got a string"),
    (lambda h: json.dumps({**h, "meta": {**h["meta"], "rng": []}}), "random generator state is not a PCG64 state"),
    (lambda h: json.dumps({**h, "meta": {**h["meta"], "epoch": "4"}}), "epoch '4' is not an integer"),
])
def test_F5_a_header_nested_too_deep_or_of_the_wrong_types_is_refused(tmp_path, checkpoint_file, make_header, match):
    header = json.loads(str(_io.read_npz(checkpoint_file)["__header__"]))
    bad = tmp_path / "run.npz"
    _rewrite_header(checkpoint_file, bad, make_header(header))
    before = bad.read_bytes()
    with pytest.raises(CheckpointError, match=match) as info:
        Run.load(bad, F_CONFIG)
    assert "run.npz" in str(info.value)
    assert bad.read_bytes() == before


# F6: every part of the run state is checked

@pytest.mark.parametrize("config", [
    TrainConfig(task="copy", delay=2, N=6, T=12, batch=2, epochs=4, protocol="throughout", floss_every=2, k=2,
                floss_epochs=2, floss_T=8, floss_transient=1, diag_every=3, diag_k=2, test_batch=3, seed=2),
    TrainConfig(task="binary_xor", delay=2, N=6, T=12, batch=2, epochs=3, cell="lstm", diag_every=1, diag_k=2,
                test_batch=3, seed=3),
], ids=["mse_task", "lstm"])
def test_F6_runs_whose_accuracy_or_singular_values_stay_nan_resume_bit_for_bit(tmp_path, config):
    path = tmp_path / "run.npz"
    Run(config).train(until=config.epochs - 1, checkpoint=path)
    resumed = train(config, checkpoint=path, resume=True)
    whole = Run(config).train()
    for name in whole.history:
        assert np.array_equal(resumed.history[name], whole.history[name], equal_nan=True), name
    done = Run(config).train(checkpoint=tmp_path / "done.npz")
    assert Run.load(tmp_path / "done.npz", config).epoch == done.epoch == config.epochs


# F3: a checkpoint that cannot be written is a WriteError; a symbolic link stays a link

def test_F3_a_checkpoint_write_failure_is_a_WriteError_and_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "run.npz"
    run = Run(F_CONFIG).train(until=2, checkpoint=path)
    before = path.read_bytes()
    run.train_epoch()

    def full(*args):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(_io.WriteError, match=r"cannot write '.*run.npz': No space left on device"):
        run.save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["run.npz"]


def test_F3_a_symlinked_checkpoint_is_written_through_and_stays_a_link(tmp_path):
    (tmp_path / "store").mkdir()
    target = tmp_path / "store" / "run.npz"
    link = tmp_path / "run.npz"
    os.symlink(target, link)  # dangling until the first checkpoint
    Run(F_CONFIG).train(until=2, checkpoint=link)
    assert os.path.islink(link) and target.is_file()
    resumed = train(F_CONFIG, checkpoint=link, resume=True)
    assert os.path.islink(link) and resumed.epoch == F_CONFIG.epochs
    assert Run.load(target, F_CONFIG).epoch == F_CONFIG.epochs
    assert sorted(os.listdir(tmp_path)) == ["run.npz", "store"]


# ---- regression tests of the hostile-file families (validation/reliability/fuzz_files.py --families) ----

@pytest.mark.parametrize("make_header, match", [
    (lambda h: json.dumps(h).replace('"meta": {', '"meta": {"epoch": 0, ', 1), r"field 'meta.epoch' appears twice"),
    (lambda h: json.dumps(h).replace(f'"epoch": {h["meta"]["epoch"]}', '"epoch": NaN'), r"field 'meta.epoch' is NaN"),
    (lambda h: json.dumps(h).replace('"lr": 0.001', '"lr": Infinity', 1), r"field 'config.lr' is Infinity"),
    (lambda h: json.dumps({**h, "config": {**h["config"], "task": "x" * 10_000_000}}),
     r"different configuration \(task: 'xxx.*\.\.\..*xxx' in the checkpoint, 'binary_xor' now\)"),
    (lambda h: json.dumps({**h, "meta": {**h["meta"], "epoch": "x" * 10_000_000}}), r"epoch 'xxx.*\.\.\..*xxx' is not"),
], ids=["duplicate", "nan", "infinity", "10MB_config_field", "10MB_epoch"])
def test_a_header_with_duplicate_keys_nan_or_a_huge_field_is_refused_in_one_brief_message(
        tmp_path, checkpoint_file, make_header, match):
    """Duplicate keys and NaN were read silently (the last key kept); a 10 MB field was quoted
    whole in the message (10 MB on one line of the command line's stderr)."""
    header = json.loads(str(_io.read_npz(checkpoint_file)["__header__"]))
    bad = tmp_path / "run.npz"
    _rewrite_header(checkpoint_file, bad, make_header(header))
    with pytest.raises(CheckpointError, match=match) as info:
        Run.load(bad, F_CONFIG)
    assert "run.npz" in str(info.value) and len(str(info.value)) < 1000


def test_a_header_with_nan_is_refused_when_written(tmp_path):
    """The reader refuses NaN tokens: the writer must not produce them."""
    with pytest.raises(ValueError, match="must be JSON without NaN or infinities"):
        save_checkpoint(tmp_path / "run.npz", {"lr": float("nan")}, {"x": np.zeros(2)}, {"epoch": 0})
    assert os.listdir(tmp_path) == []


def test_history_json_is_strict_json_with_infinities_as_strings(tmp_path):
    """A history holding NaN and +-inf (lambda_1 = -inf where every ReLU unit is silent) is
    written as strict JSON, which floss_ref's own bounded reader accepts: NaN as null, +-inf as
    "inf" / "-inf" (json.dumps alone would write the token -Infinity, which the reader refuses)."""
    from floss_ref.runs.checkpoint import save_history
    from floss_ref.runs.io import read_json

    path = tmp_path / "history.json"
    save_history(path, {"N": 4}, {"x": np.array([[1.5, np.nan], [-np.inf, np.inf]]), "n": np.arange(2)}, 3)
    text = path.read_text()
    json.loads(text, parse_constant=lambda token: pytest.fail(f"non-standard token {token} in {text}"))
    doc = read_json(path, what="history")
    assert doc["history"]["x"] == [[1.5, None], ["-inf", "inf"]]
    assert doc["history"]["n"] == [0, 1] and doc["epochs_done"] == 3
