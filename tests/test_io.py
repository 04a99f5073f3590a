"""floss_ref.runs.io: atomic writes that leave no stale temporary file, and the guarded NPZ
reader that refuses a file before it allocates what the file declares (regression tests of
the issue "Reliability", rows F3 and F5)."""

import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from floss_ref.runs import io as _io


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

# an .npy member with the header one gives it (the same four lines as in test_checkpoint.py)
def _npy_member(header_dict_text, data=b""):
    header = header_dict_text.encode("latin1")
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + data


def test_F5_a_deflate_bomb_is_refused_from_the_directory(tmp_path):
    path = tmp_path / "bomb.npz"
    member = _npy_member("{'descr': '<f8', 'fortran_order': False, 'shape': (50000000,), }", bytes(400_000_000))
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("a.npy", member)
    del member
    assert path.stat().st_size < 2_000_000
    with pytest.raises(_io.FileFormatError, match="declare .* bytes, more than the 1000000 allowed"):
        _io.read_npz(path, limit=1_000_000)
    with pytest.raises(_io.FileFormatError, match="more than an array of shape"):
        _io.read_npz(path, expected={"a": ((10,), np.float64)})
