"""Stand-ins for a file that a reader must refuse, for the tests of every file reader: a
FIFO (opening it for reading blocks until a writer comes), a character device and a
directory, each put where a regular file is expected; JSON nested too deep; and a guard
that turns a reader that hangs into a failing test instead of a hanging one."""

import os
import threading

import pytest

SPECIAL = ("FIFO", "character device", "directory")


def make_special(path, kind):
    """Put a ``kind`` (one of SPECIAL) at ``path``; returns ``path``.  The character device
    is /dev/null, through a symbolic link (making a device node needs root)."""
    path = os.fspath(path)
    if kind == "FIFO":
        os.mkfifo(path)
    elif kind == "character device":
        os.symlink(os.devnull, path)
    elif kind == "directory":
        os.mkdir(path)
    else:
        raise ValueError(f"kind must be one of {SPECIAL}, got {kind!r}")
    return path


def refused_within(fn, seconds=15, fifo=None):
    """The exception ``fn()`` raises (None if it returns), failing the test if ``fn`` has not
    returned after ``seconds``; a reader blocked on the FIFO ``fifo`` is then released (a
    writer opens and closes it) so that no thread is left behind."""
    out = []

    def run():
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001  (handed to the test)
            out.append(exc)
        else:
            out.append(None)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        if fifo is not None:
            try:
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            except OSError:
                pass
            thread.join(5)
        pytest.fail(f"the call had not returned after {seconds} s (blocked on a special file?)")
    return out[0]


def deep_json(depth, inner="1"):
    """JSON text of ``depth`` nested lists around ``inner``."""
    return "[" * depth + inner + "]" * depth


def deep_list(depth):
    """``depth`` nested lists around 1, built without recursion (json.loads of such text
    would itself overflow the stack)."""
    value = 1
    for _ in range(depth):
        value = [value]
    return value


def npy_member(header_dict_text, data=b""):
    """An .npy archive member with the header one gives it (and ``data`` after it)."""
    header = header_dict_text.encode("latin1")
    header += b" " * (63 - (len(header) + 10) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + data
