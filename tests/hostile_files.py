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


# ---- a second writer: another process holding an output's lock ------------------------------

_HOLDER = """
import sys, time
from floss_ref.runs.io import writer_lock
with writer_lock(sys.argv[1], sys.argv[2], what="test output"):
    print("locked", flush=True)
    time.sleep(float(sys.argv[3]))
"""


class LockHolder:
    """A subprocess that holds the writer lock ``lock_path`` of ``path`` (through
    :func:`floss_ref.runs.io.writer_lock`) for at most ``seconds``; a context manager that
    waits (bounded) until the lock is taken and kills the process on exit.  ``kill()``
    ends it by SIGKILL, as a crash would."""

    def __init__(self, path, lock_path, seconds=60.0):
        import subprocess
        import sys
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
        self.process = subprocess.Popen([sys.executable, "-c", _HOLDER, os.fspath(path), os.fspath(lock_path),
                                         str(seconds)], stdout=subprocess.PIPE, text=True, env=env)
        self.pid = self.process.pid

    def __enter__(self):
        line = refused_within(lambda: self._ready(), seconds=60)
        if line is not None:
            self.kill()
            raise line
        return self

    def _ready(self):
        line = self.process.stdout.readline()
        if line.strip() != "locked":
            raise RuntimeError(f"the lock holder did not start (it printed {line!r})")

    def kill(self):
        import signal
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def __exit__(self, *exc):
        self.kill()
