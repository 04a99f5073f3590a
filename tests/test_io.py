"""floss_ref.runs.io: atomic writes that leave no stale temporary file, and the guarded NPZ
reader that refuses a file before it allocates what the file declares (regression tests of
the issue "Reliability", rows F3 and F5)."""

import errno
import json
import os
import stat
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from floss_ref.runs import io as _io
from hostile_files import SPECIAL, deep_json, make_special, refused_within, npy_member


# F3: no half-written or stale files

def test_F3_stale_temporary_files_of_killed_writers_are_removed(tmp_path):
    target = tmp_path / "run.npz"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".run.npz.{dead.pid}.0123abcd.tmp"
    alive = tmp_path / f".run.npz.{os.getpid()}.89abcdef.tmp"  # a live writer's file is left alone
    other = tmp_path / f".other.npz.{dead.pid}.0123abcd.tmp"
    for p in (stale, alive, other):
        p.write_bytes(b"partial")
    _io.atomic_savez(target, {"a": np.ones(2)})
    assert not stale.exists()
    assert alive.exists() and other.exists()
    np.testing.assert_array_equal(np.load(target)["a"], np.ones(2))


# F5: the NPZ reader checks the zip directory before it inflates anything



def test_F5_a_deflate_bomb_is_refused_from_the_directory(tmp_path):
    path = tmp_path / "bomb.npz"
    member = npy_member("{'descr': '<f8', 'fortran_order': False, 'shape': (50000000,), }", bytes(400_000_000))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.npy", member)
    del member
    assert path.stat().st_size < 2_000_000
    with pytest.raises(_io.FileFormatError, match="declare .* bytes, more than the 1000000 allowed"):
        _io.read_npz(path, limit=1_000_000)
    with pytest.raises(_io.FileFormatError, match="more than an array of shape"):
        _io.read_npz(path, expected={"a": ((10,), np.float64)})


# F5: only regular files are read, without blocking

@pytest.mark.parametrize("kind", SPECIAL)
def test_F5_readers_refuse_special_files_by_name(tmp_path, kind):
    path = make_special(tmp_path / "x.npz", kind)
    for read in (lambda: _io.read_npz(path), lambda: _io.read_json(path, what="manifest")):
        exc = refused_within(read, fifo=path if kind == "FIFO" else None)
        assert isinstance(exc, _io.FileFormatError), repr(exc)
        assert f"{path!r}" in str(exc) and f"is a {kind}, not a regular file" in str(exc), str(exc)


def test_F5_a_symbolic_link_to_a_regular_file_is_read(tmp_path):
    _io.atomic_savez(tmp_path / "a.npz", {"x": np.arange(3.0)})
    os.symlink(tmp_path / "a.npz", tmp_path / "link.npz")
    np.testing.assert_array_equal(_io.read_npz(tmp_path / "link.npz")["x"], np.arange(3.0))


# F5: JSON is parsed within bounds

@pytest.mark.parametrize("text, match", [
    (deep_json(3000), "nests deeper than 64 levels"),
    ('{"a": ' * 3000 + "1" + "}" * 3000, "nests deeper than 64 levels"),
    (deep_json(65), "nests deeper than 64 levels"),
    ('{"a": [1, 2', "not readable JSON"),
    ("", "not readable JSON"),
])
def test_F5_json_nested_too_deep_or_malformed_is_refused_by_name(tmp_path, text, match):
    path = tmp_path / "m.json"
    path.write_text(text)
    with pytest.raises(_io.FileFormatError, match=match) as info:
        _io.read_json(path, what="manifest")
    assert "m.json" in str(info.value) and "manifest" in str(info.value)


def test_F5_json_within_bounds_is_read_whatever_its_strings_hold(tmp_path):
    path = tmp_path / "m.json"
    doc = {"a": "[" * 5000 + "{", "b": deep_json(10), "c": json.loads(deep_json(63))}  # 64 levels with the outer object
    path.write_text(json.dumps(doc))
    assert _io.read_json(path, what="manifest") == doc


def test_F5_json_file_larger_than_its_limit_or_not_utf8_is_refused(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"a": "x" * 200}))
    with pytest.raises(_io.FileFormatError, match=r"m.json.*holds \d+ bytes, more than the 100 allowed"):
        _io.read_json(path, what="manifest", max_bytes=100)
    path.write_bytes(b'{"a": "\xff"}')
    with pytest.raises(_io.FileFormatError, match="m.json.*not UTF-8"):
        _io.read_json(path, what="manifest")


def test_F5_json_fields_are_checked_by_type_naming_the_field():
    doc = {"n": True, "s": "x", "d": {}, "f": 1}
    assert _io.json_field(doc, "s", str, "'m.json'") == "x"
    assert _io.json_field(doc, "f", float, "'m.json'") == 1
    with pytest.raises(_io.FileFormatError, match=r"'m.json': field 'n' must be an integer, got true"):
        _io.json_field(doc, "n", int, "'m.json'")
    with pytest.raises(_io.FileFormatError, match=r"'m.json': field 'x.missing' is missing"):
        _io.json_field(doc, "missing", str, "'m.json'", where="x.")
    with pytest.raises(_io.FileFormatError, match=r"'m.json': field 'd' must be a string, got an object"):
        _io.json_field(doc, "d", str, "'m.json'")


# F3: write failures are one exception naming the file and the cause; nothing half-written

def _raise(code):
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))
    return fail


@pytest.mark.parametrize("where, code", [("write", errno.ENOSPC), ("fsync", errno.ENOSPC), ("open", errno.EROFS),
                                         ("open", errno.EACCES), ("replace", errno.EACCES),
                                         ("replace", errno.EROFS)])
def test_F3_write_failures_are_a_WriteError_naming_the_file_and_the_cause(tmp_path, monkeypatch, where, code):
    target = tmp_path / "out.npz"
    _io.atomic_savez(target, {"a": np.ones(2)})
    before = target.read_bytes()

    def write(f):
        f.write(b"partial")
        if where == "write":  # what f.write raises when the disk is full
            raise OSError(code, os.strerror(code))

    with monkeypatch.context() as m:
        if where != "write":
            m.setattr(os, where, _raise(code))
        with pytest.raises(_io.WriteError) as info:
            _io.atomic_write(target, write)
    exc = info.value
    assert isinstance(exc, OSError) and exc.errno == code and exc.filename == str(target)
    assert str(exc).startswith(f"cannot write {str(target)!r}: {os.strerror(code)}"), str(exc)
    assert target.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["out.npz"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_F3_a_read_only_directory_is_a_WriteError(tmp_path):
    d = tmp_path / "ro"
    d.mkdir()
    d.chmod(0o555)
    try:
        with pytest.raises(_io.WriteError, match="Permission denied"):
            _io.save_results(d / "r.json", {"a": 1})
    finally:
        d.chmod(0o755)


def test_F3_writing_through_a_symlink_replaces_its_target_and_keeps_the_link(tmp_path):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / "run.npz"
    _io.atomic_savez(target, {"a": np.zeros(2)})
    link = tmp_path / "run.npz"
    os.symlink(target, link)
    _io.check_writable(link)
    _io.atomic_savez(link, {"a": np.ones(2)})
    assert os.path.islink(link) and os.readlink(link) == str(target)
    np.testing.assert_array_equal(_io.read_npz(target)["a"], np.ones(2))
    assert sorted(os.listdir(tmp_path)) == ["real", "run.npz"]


@pytest.mark.parametrize("kind", ["FIFO", "character device"])
def test_F3_a_special_file_is_never_replaced_by_a_write(tmp_path, kind):
    path = make_special(tmp_path / "out.json", kind)
    with pytest.raises(ValueError, match=f"cannot write .*out.json.*: it is a {kind}, not a regular file"):
        _io.check_writable(path)
    with pytest.raises(_io.WriteError, match=f"it is a {kind}, not a regular file"):
        _io.save_results(path, {"a": 1})
    assert not os.path.isfile(path) and os.path.exists(path)


def test_F3_json_results_hold_null_where_a_number_is_not_finite(tmp_path):
    path = tmp_path / "r.json"
    _io.save_results(path, {"a": np.array([1.5, np.nan]), "b": np.float64(np.inf), "c": float("-inf"), "n": 3})

    def bare(token):
        raise AssertionError(f"bare {token} in the JSON output")

    assert json.loads(path.read_text(), parse_constant=bare) == {"a": [1.5, None], "b": None, "c": None, "n": 3}


# ---- regression tests of the hostile-file families (validation/reliability/fuzz_files.py --families) ----

@pytest.mark.parametrize("text, field, what", [
    ('{"format": "x", "format": "y"}', "'format'", "appears twice in one object"),
    ('{"settings": {"a": 1, "b": 2, "a": 3}}', "'settings.a'", "appears twice in one object"),
    ('{"tasks": {"s0": {"params": {"lr": NaN}}}}', "'tasks.s0.params.lr'", "is NaN"),
    ('{"digits": [1.0, Infinity]}', "'digits[1]'", "is Infinity"),
    ('{"x": -Infinity}', "'x'", "is -Infinity"),
    ('{"x": [1e400]}', "'x[0]'", "is 1e400, a number beyond the range of float64"),  # read as inf
])
def test_json_with_duplicate_keys_or_non_finite_numbers_is_refused_naming_the_field(tmp_path, text, field, what):
    """Python's parser keeps the last of two equal keys and reads NaN / Infinity (and 1e400 as
    infinity); strict JSON has neither, and floss_ref never writes them: they were accepted
    silently."""
    path = tmp_path / "m.json"
    path.write_text(text)
    with pytest.raises(_io.FileFormatError) as info:
        _io.read_json(path, what="manifest")
    message = str(info.value)
    assert "m.json" in message and f"field {field} {what}" in message, message


def test_json_text_beyond_the_size_bound_is_refused_before_parsing():
    """A JSON member of an archive (a checkpoint header, a result's metadata) had only its
    depth bounded, not its size."""
    text = json.dumps({"pad": "x" * 200})
    with pytest.raises(_io.FileFormatError, match=r"its member 'meta/task' holds \d+ bytes of JSON or more, more "
                                                  r"than the 100 allowed"):
        _io.parse_json(text, source="its member 'meta/task'", max_bytes=100)
    assert _io.parse_json(text, source="x", max_bytes=len(text)) == {"pad": "x" * 200}


def test_a_field_of_a_hostile_file_is_quoted_in_brief():
    doc = {"k" * 10_000_000: 1}
    with pytest.raises(_io.FileFormatError) as info:
        _io.json_field(doc, "k" * 10_000_000, str, "'m.json'", where="tasks.")
    assert len(str(info.value)) < 300 and "'m.json': field 'tasks.kkk" in str(info.value)
    assert _io.brief("x" * 10_000_000).count("x") <= 100 and _io.brief("abc") == "'abc'"


@pytest.mark.parametrize("kind", SPECIAL)
def test_a_lock_file_that_is_not_a_regular_file_is_refused_and_left_as_it_is(tmp_path, kind):
    """A FIFO or a device in place of a writer's lock file was opened, locked, and removed
    when the writer ended."""
    lock = make_special(tmp_path / "run.npz.lock", kind)
    holder = _io.writer_lock(tmp_path / "run.npz", lock, what="checkpoint")
    exc = refused_within(holder.__enter__)
    assert isinstance(exc, _io.WriteError), repr(exc)
    assert str(exc).startswith(f"cannot write {str(lock)!r}: it is a ") and "not a regular file" in str(exc), str(exc)
    assert os.path.lexists(lock) and not os.path.isfile(lock)


def test_a_lock_file_that_is_a_device_node_is_refused_and_left_as_it_is(tmp_path):
    lock = tmp_path / "run.npz.lock"
    try:
        os.mknod(lock, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a node of /dev/null
    except PermissionError:
        pytest.skip("making a device node needs root")
    with pytest.raises(_io.WriteError, match="it is a character device, not a regular file"):
        with _io.writer_lock(tmp_path / "run.npz", lock, what="checkpoint"):
            pass
    assert os.path.exists(lock)


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES])
def test_an_output_the_system_refuses_is_a_WriteError_up_front(tmp_path, monkeypatch, code):
    """Detected before a run, a read-only file system was a ValueError (exit 2 on the command
    line), but a WriteError (exit 1) when found at the end of the run."""
    def refuse(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(_io.tempfile, "TemporaryFile", refuse)
    with pytest.raises(_io.WriteError) as info:
        _io.check_writable(tmp_path / "out.json")
    assert info.value.errno == code
    assert str(info.value).startswith(f"cannot write {str(tmp_path / 'out.json')!r}: {os.strerror(code)}")
    with pytest.raises(ValueError, match="is a directory"):  # not a file to write: still a bad argument
        _io.check_writable(tmp_path)


def test_the_depth_of_json_holding_a_long_string_is_found_in_little_memory():
    """The bound check itself matched a string character by character in one alternation:
    1.3 GB and 14 s for a 10 MB string (a MemoryError under this limit)."""
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (600 << 20, 600 << 20)); "
            "from floss_ref.runs.io import json_depth; "
            "sys.exit(json_depth('[' + chr(34) + 'x' * 10_000_000 + chr(34) + ']') != 1)")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=root, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1"))
    assert r.returncode == 0, r.stderr
    # escapes inside strings, brackets inside strings
    assert _io.json_depth(json.dumps(["x\\", {"a": "]]\"[[", "b": [[]]}, "\\\"{"])) == 4
