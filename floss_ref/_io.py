"""Atomic result files: write to a temporary file in the target directory, then
``os.replace`` it over the target, so a reader never sees a half-written file and an
interrupted run leaves any previous file intact."""

import json
import os
import tempfile

import numpy as np


def check_writable(path):
    """Fail now, not after the run, if ``path`` cannot be written.

    Raises ValueError naming the path and the reason.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise ValueError(f"output path {path!r} is a directory; give a file name")
    if not os.path.isdir(directory):
        raise ValueError(f"cannot write {path!r}: directory {directory!r} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".probe-")
    except OSError as exc:
        raise ValueError(f"cannot write {path!r}: {exc.strerror}") from None
    os.close(fd)
    os.remove(tmp)


def _atomic(path, write):
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def _jsonable(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value


def save_results(path, results):
    """Write a dict of arrays and scalars to ``path``: NPZ if it ends in .npz, else JSON."""
    if os.fspath(path).endswith(".npz"):
        _atomic(path, lambda f: np.savez(f, **{k: np.asarray(v) for k, v in results.items()}))
    else:
        text = json.dumps(_jsonable(results), indent=1).encode()
        _atomic(path, lambda f: f.write(text))
