"""Atomic output files and early checks of output paths.

Writing goes to a temporary file in the target's directory, which is flushed to disk and
then renamed over the target with ``os.replace``: a reader, or a run killed mid-write,
sees either the old file or the new one, never a partial file.
"""

import json
import os
import secrets
import tempfile

import numpy as np


def check_writable(path):
    """Raise ``ValueError`` now if ``path`` could not be written later.

    Creates and removes a temporary file in the target directory, so a run does not
    discover an unwritable output path only after hours of work.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise ValueError(f"cannot write {path!r}: it is a directory")
    if not os.path.isdir(directory):
        raise ValueError(f"cannot write {path!r}: directory {directory!r} does not exist")
    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        raise ValueError(f"cannot write {path!r}: {exc.strerror or exc}") from None
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise ValueError(f"cannot write {path!r}: the existing file is read-only")


def atomic_write(path, write):
    """Call ``write(f)`` on a temporary binary file, then rename it over ``path``.

    The previous content of ``path`` stays intact if anything fails before the rename.
    """
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    # 0o666 minus the umask, like any new file (tempfile.mkstemp would make it 0o600)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def atomic_savez(path, arrays):
    """``np.savez(path, **arrays)``, atomically (see :func:`atomic_write`)."""
    atomic_write(path, lambda f: np.savez(f, **arrays))


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
        atomic_savez(path, {k: np.asarray(v) for k, v in results.items()})
    else:
        text = json.dumps(_jsonable(results), indent=1).encode()
        atomic_write(path, lambda f: f.write(text))
