"""Atomic output files, early checks of output paths, and a guarded NPZ reader.

Writing goes to a temporary file in the target's directory, which is flushed to disk and
then renamed over the target with ``os.replace``: a reader, or a run killed mid-write,
sees either the old file or the new one, never a partial file.  The temporary files of
writers that were killed (their process no longer exists) are removed by the next write
to the same target.  A write that fails (disk full, read-only file system, permission
denied) raises :class:`WriteError` naming the file and the cause, and leaves no temporary
file.  A symbolic link is written through: the file it points to is replaced, the link
stays.  A FIFO, device or socket in the target's place is never replaced.

Reading trusts nothing in the file.  Only regular files are opened (:func:`open_regular`:
a FIFO, a device or a directory is refused by name, without blocking).
:func:`read_npz` checks the names, sizes, shapes and dtypes of an archive's members from
its directory and the array headers before any data is inflated; :func:`read_json` and
:func:`parse_json` bound a JSON document's size and nesting depth before parsing it and
refuse what strict JSON does not allow (duplicate keys, NaN and Infinity), and
:func:`json_field` checks the type of each member.  A corrupted or hostile file is refused
with :class:`FileFormatError` (a ``ValueError``) instead of a traceback, a hang, or an
allocation of the size it declares; a message quotes what the file holds only in brief
(:func:`brief`).
"""

import ast
import contextlib
import errno
import fcntl
import hashlib
import json
import math
import os
import re
import reprlib
import secrets
import socket
import stat
import tempfile
import time
import zipfile

import numpy as np

# what read_npz inflates at most unless told otherwise: far above any floss_ref file
DEFAULT_READ_LIMIT = 1 << 30
_NPY_HEADER_MAX = 1 << 16
# bounds of a JSON document (manifests, indexes, checkpoint headers, result metadata): far
# above what floss_ref writes (a few levels, at most a few hundred kB), far below what makes
# the parser recurse out of the stack or allocate without bound
JSON_MAX_BYTES = 16 << 20
JSON_MAX_DEPTH = 64


class WriteError(OSError):
    """A file could not be written: disk full (ENOSPC), read-only file system (EROFS),
    permission denied (EACCES), or any other failure of the operating system, or a target
    that is not a regular file.  ``filename`` is the file, ``errno`` the cause's error
    number (None for a refused target); the message names both.  Nothing is left behind:
    the previous content of the file, if any, is intact, and the temporary file is removed.
    """

    def __init__(self, path, cause):
        code = getattr(cause, "errno", None)
        reason = (getattr(cause, "strerror", None) or str(cause)) if isinstance(cause, OSError) else str(cause)
        super().__init__(code, reason)
        self.filename = path
        self.message = f"cannot write {path!r}: {reason}; the previous file, if any, is unchanged"

    def __str__(self):
        return self.message


class FileLockedError(OSError):
    """Another process is writing the same output (a checkpoint, a results directory):
    :func:`writer_lock` found its lock held.  ``filename`` is the output, ``holder`` what
    the holder wrote into the lock file (``{"pid": ..., "host": ...}``, or None if it could
    not be read); the message names both.  An ``OSError`` (errno EAGAIN): the command
    line prints one line and exits with 1."""

    def __init__(self, path, what, holder):
        super().__init__(errno.EAGAIN, "locked by another writer")
        self.filename = path
        self.holder = holder
        if isinstance(holder, dict) and "pid" in holder:
            who = f"pid {holder.get('pid')} on host {holder.get('host', '?')}"
        else:
            who = "another process (its pid could not be read from the lock file)"
        self.message = (f"{what} {path!r} is being written by {who}: only one writer at a time; wait for it "
                        "to finish, stop it, or use another path")

    def __str__(self):
        return self.message


LOCK_INFO_MAX = 4096  # bytes of a lock file read back for the message


@contextlib.contextmanager
def writer_lock(path, lock_path, *, what="file"):
    """Hold the exclusive advisory lock of the output ``path`` (``fcntl.flock`` on the file
    ``lock_path``, created if missing) while the block runs.

    The lock belongs to the open file: it goes away when the block ends or when the process
    dies, even by SIGKILL, so a crashed writer never leaves a stale lock (its lock file
    stays, unlocked, and is taken over by the next writer; a writer that ends normally
    removes it).  The holder writes
    its pid and host name into the lock file, for the message of the writers refused.
    Readers take no lock.

    Raises
    ------
    FileLockedError
        Another process (or another writer in this one) holds the lock; the message names
        ``what`` and ``path`` and the holder's pid and host.
    WriteError
        The lock file cannot be created or locked (read-only directory, ...), or something
        other than a regular file is in its place (a FIFO, a device, a directory, a
        symbolic link: never opened, locked or removed).
    """
    path, lock_path = os.fspath(path), os.fspath(lock_path)
    fd = _take_lock(path, lock_path, what)
    try:
        info = json.dumps({"pid": os.getpid(), "host": socket.gethostname()}).encode()
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, info, 0)
        except OSError:
            pass  # the lock holds without it; only the message of a refused writer is poorer
        yield
    finally:
        try:
            os.unlink(lock_path)  # while still locked: the next writer sees a fresh file
        except OSError:
            pass
        os.close(fd)  # releases the lock


def _take_lock(path, lock_path, what):
    """An open descriptor of ``lock_path`` holding its lock.  A lock file is removed by its
    holder when done, so a writer that locked a file just removed (it opened it before the
    removal) finds that ``lock_path`` no longer names its file, and tries again.  Anything
    but a regular file at ``lock_path`` is refused (WriteError) before it is opened, and
    again after (a file swapped in between)."""
    while True:
        try:
            mode = os.lstat(lock_path).st_mode
        except FileNotFoundError:
            mode = None
        except OSError as exc:
            raise WriteError(lock_path, exc) from None
        if mode is not None and not stat.S_ISREG(mode):
            raise WriteError(lock_path, f"it is {_kind_of(mode)}, not a regular file (a lock file must be one: "
                                        "remove it)")
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
                         | getattr(os, "O_NOFOLLOW", 0), 0o666)
        except OSError as exc:
            raise WriteError(lock_path, exc) from None
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            os.close(fd)
            raise WriteError(lock_path, f"it is {_kind_of(mode)}, not a regular file (a lock file must be one: "
                                        "remove it)")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            try:
                same = os.stat(lock_path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
        except BlockingIOError:
            holder = _lock_holder(fd)
            os.close(fd)
            raise FileLockedError(path, what, holder) from None
        except OSError as exc:
            os.close(fd)
            raise WriteError(lock_path, exc) from None
        if same:
            return fd
        os.close(fd)


def _lock_holder(fd):
    """What the holder of the lock on ``fd`` wrote into it (a dict), or None.  The holder
    writes just after locking: a reader that comes in between retries a few times."""
    for _ in range(20):
        try:
            data = os.pread(fd, LOCK_INFO_MAX, 0)
            holder = json.loads(data.decode("utf-8")) if data else None
        except (OSError, ValueError):
            holder = None
        if isinstance(holder, dict):
            return holder
        time.sleep(0.01)
    return None


def _kind_of(mode):
    """What a file of stat mode ``mode`` is, in words ("a FIFO", ...)."""
    for test, name in ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISLNK, "a symbolic link")):
        if test(mode):
            return name
    return "not a regular file"


def check_writable(path):
    """Refuse now an output ``path`` that could not be written later.

    Creates and removes a temporary file in the target directory, so a run does not
    discover an unwritable output path only after hours of work.

    Raises
    ------
    ValueError
        ``path`` is not a file that can be written: a directory, a FIFO, a device or a
        socket, or in a directory that does not exist.
    WriteError
        The operating system refuses to write there (read-only file system, permission
        denied, ...), as it would at the end of the run; or the existing file is read-only.
    """
    path = os.fspath(path)
    directory = os.path.dirname(_write_target(path))
    if os.path.isdir(path):
        raise ValueError(f"cannot write {path!r}: it is a directory")
    special = _special_target(path)
    if special is not None:
        raise ValueError(f"cannot write {path!r}: it is {special}, not a regular file (it is never replaced)")
    if not os.path.isdir(directory):
        raise ValueError(f"cannot write {path!r}: directory {directory!r} does not exist")
    try:
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        raise WriteError(path, exc) from None
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise WriteError(path, PermissionError(errno.EACCES, "the existing file is read-only"))


def _write_target(path):
    """The file a write of ``path`` replaces: ``path`` itself, or for a symbolic link the
    file it points to (written through, so the link stays a link)."""
    return os.path.realpath(path) if os.path.islink(path) else os.path.abspath(path)


def _special_target(path):
    """What the existing file at ``path`` is in words, if it is neither a regular file nor a
    directory (nor absent): writers refuse to replace a FIFO, a device or a socket."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    return None if stat.S_ISREG(mode) or stat.S_ISDIR(mode) else _kind_of(mode)


def atomic_write(path, write):
    """Call ``write(f)`` on a temporary binary file, then rename it over ``path``.

    The previous content of ``path`` stays intact if anything fails before the rename, and
    the temporary file is removed.  A symbolic link is written through: the file it points
    to is replaced (from a temporary file in that file's directory) and the link stays.

    Raises
    ------
    WriteError
        The operating system refused (disk full, read-only file system, permission denied,
        ...), or ``path`` is a FIFO, a device or a socket (never replaced by a file).
        Anything else ``write`` raises propagates as it is.
    """
    path = os.fspath(path)
    special = _special_target(path)
    if special is not None:
        raise WriteError(path, f"it is {special}, not a regular file (it is never replaced)")
    target = _write_target(path)
    directory = os.path.dirname(target)
    remove_stale_temps(target)
    tmp = os.path.join(directory, f".{os.path.basename(target)}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        # 0o666 minus the umask, like any new file (tempfile.mkstemp would make it 0o600)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        raise WriteError(path, exc) from None
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        except OSError:
            pass  # removed by the next write to this target (remove_stale_temps)
        if isinstance(exc, OSError) and not isinstance(exc, WriteError):
            raise WriteError(path, exc) from None
        raise


def remove_stale_temps(path):
    """Remove the temporary files that killed writers of ``path`` left behind (those whose
    process id no longer exists); returns their names."""
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    pattern = re.compile(r"\." + re.escape(os.path.basename(path)) + r"\.(\d+)\.[0-9a-f]{8}\.tmp\Z")
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    for name in names:
        match = pattern.match(name)
        if match and not _process_exists(int(match.group(1))):
            try:
                os.unlink(os.path.join(directory, name))
                removed.append(name)
            except OSError:
                pass
    return removed


def _process_exists(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # someone else's process (or an id we cannot ask about): leave its file
    return True


def atomic_savez(path, arrays):
    """``np.savez(path, **arrays)``, atomically (see :func:`atomic_write`)."""
    atomic_write(path, lambda f: np.savez(f, **arrays))


def _jsonable(value):
    """``value`` as plain JSON data; NaN and infinities become None (JSON has no such numbers)."""
    if isinstance(value, (np.ndarray, np.generic)):
        return _jsonable(value.tolist())
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def save_results(path, results):
    """Write a dict of arrays and scalars to ``path``: NPZ if it ends in .npz, else JSON.

    In JSON, a value that is NaN or infinite (e.g. a standard error of a single block) is
    written as ``null``: JSON has no such numbers, and a bare ``NaN`` token is refused by
    strict parsers.
    """
    if os.fspath(path).endswith(".npz"):
        atomic_savez(path, {k: np.asarray(v) for k, v in results.items()})
    else:
        text = json.dumps(_jsonable(results), indent=1, allow_nan=False).encode()
        atomic_write(path, lambda f: f.write(text))


# ---- guarded reading ------------------------------------------------------------------

class FileFormatError(ValueError):
    """A file cannot be read as what it should be: truncated, corrupted, not ours, or not
    a regular file."""


def open_regular(path, *, what="file"):
    """The regular file at ``path`` opened for binary reading, after checking its type.

    The type is checked before opening (``os.stat``), so a FIFO (whose opening would block
    until a writer comes), a device or a directory is refused by name; the file is then
    opened with ``O_NONBLOCK`` and checked again (``os.fstat``), so a file swapped in
    between cannot block either.  Symbolic links are followed.

    Raises
    ------
    FileNotFoundError
        Nothing at ``path`` (each caller says what that means).
    FileFormatError
        Not a regular file, or it cannot be opened (the message says why).
    """
    path = os.fspath(path)

    def refuse(detail):
        raise FileFormatError(f"{path!r} cannot be read as a {what}: {detail}; the file was left as it is")

    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise
    except OSError as exc:
        refuse(f"it cannot be examined ({exc.strerror or exc})")
    if not stat.S_ISREG(mode):
        refuse(f"it is {_kind_of(mode)}, not a regular file")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise
    except OSError as exc:
        refuse(f"it cannot be opened ({exc.strerror or exc})")
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        refuse(f"it is {_kind_of(mode)}, not a regular file")
    return os.fdopen(fd, "rb")


def read_npz(path, *, what="file", expected=None, limit=DEFAULT_READ_LIMIT, allowed_kinds="biufU"):
    """The arrays of an ``.npz`` archive, each member checked before it is inflated.

    Parameters
    ----------
    path : str or os.PathLike
    what : str
        What the file should be, for messages ("checkpoint", "sweep result", ...).
    expected : dict, optional
        name -> (shape, dtype) of every member; ``shape`` or ``dtype`` may be None (any).
        Members missing or extra, or of another shape or dtype, are refused from the
        archive's directory and the array headers, before their data is read.
    limit : int
        Most bytes the arrays may hold together (declared sizes, checked first).
    allowed_kinds : str
        NumPy dtype kinds accepted (default: bool, integers, floats, unicode text).

    Returns
    -------
    dict name -> ndarray

    Raises
    ------
    FileFormatError
        Whatever cannot be read: the message names the file and what was wrong.
    """
    path = os.fspath(path)

    def refuse(detail):
        raise FileFormatError(f"{path!r} cannot be read as a {what}: {detail}; the file was left as it is")

    try:
        file = open_regular(path, what=what)
    except FileNotFoundError:
        refuse("it does not exist")
    with file:
        return _read_archive(file, path, refuse, expected, limit, allowed_kinds)


def _read_archive(file, path, refuse, expected, limit, allowed_kinds):
    try:
        archive = zipfile.ZipFile(file)
    except Exception as exc:  # noqa: BLE001  (any failure to parse untrusted bytes is a refusal)
        refuse(f"not a readable zip archive (truncated or corrupted?): {_short(exc)}")
    with archive:
        try:
            infos = archive.infolist()
            _check_entry_count(file, len(infos))
            members = _check_directory(infos, expected, limit)
        except FileFormatError as exc:
            refuse(str(exc))
        arrays = {}
        for name, info in members.items():
            want = None if expected is None else expected[name]
            try:
                arrays[name] = _read_member(archive, info, want, allowed_kinds)
            except FileFormatError as exc:
                refuse(f"member {name!r}: {exc}")
            except Exception as exc:  # noqa: BLE001  (zlib, CRC, header parsing, unsupported compression)
                refuse(f"member {name!r} is corrupted: {_short(exc)}")
    return arrays


def _short(exc):
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 200 else text[:197] + "..."


def _check_entry_count(f, parsed):
    """Refuse a zip directory that lists fewer entries than its end record declares (a
    damaged length field makes the parser skip the rest: members would vanish silently)."""
    size = os.fstat(f.fileno()).st_size
    f.seek(max(0, size - (22 + 0xFFFF)))
    tail = f.read()
    end = tail.rfind(b"PK\x05\x06")
    if end < 0 or len(tail) - end < 22:
        raise FileFormatError("it has no zip end record")
    declared = int.from_bytes(tail[end + 10:end + 12], "little")
    if declared != 0xFFFF and declared != parsed:  # 0xFFFF: a Zip64 archive counts elsewhere
        raise FileFormatError(f"its directory declares {declared} members but {parsed} could be read")


def _check_directory(infos, expected, limit):
    """name -> ZipInfo after checking the archive's directory alone."""
    members = {}
    total = 0
    for info in infos:
        if not info.filename.endswith(".npy"):
            raise FileFormatError(f"member {info.filename[:80]!r} is not an .npy array")
        name = info.filename[:-4]
        if name in members:
            raise FileFormatError(f"member {name!r} appears twice")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise FileFormatError(f"member {name!r} uses an unsupported compression ({info.compress_type})")
        if info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
            raise FileFormatError(f"member {name!r} declares {info.file_size} bytes but stores "
                                  f"{info.compress_size}")
        if info.flag_bits & 0x1:
            raise FileFormatError(f"member {name!r} is encrypted")
        members[name] = info
        total += info.file_size
    if total > limit:
        raise FileFormatError(f"its arrays declare {total} bytes, more than the {limit} allowed")
    if expected is not None:
        missing = sorted(set(expected) - set(members))
        extra = sorted(set(members) - set(expected))
        if missing or extra:
            raise FileFormatError(f"it does not hold the arrays expected (missing {missing[:10]}, "
                                  f"unexpected {extra[:10]})")
        for name, (shape, dtype) in expected.items():
            if shape is not None and dtype is not None:
                most = _NPY_HEADER_MAX + math.prod(shape) * np.dtype(dtype).itemsize
                if members[name].file_size > most:
                    raise FileFormatError(f"member {name!r} declares {members[name].file_size} bytes, "
                                          f"more than an array of shape {tuple(shape)} and dtype {dtype} needs")
    return members


def _read_member(archive, info, want, allowed_kinds):
    """One member's array, its header checked before its data is read."""
    with archive.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version not in ((1, 0), (2, 0), (3, 0)):
            raise FileFormatError(f"unknown .npy format version {version}")
        header = f.read(2 if version == (1, 0) else 4)
        length = int.from_bytes(header, "little")
        if length > _NPY_HEADER_MAX:
            raise FileFormatError(f"its header declares {length} bytes")
        text = f.read(length)
        if len(text) != length:
            raise FileFormatError("its header is truncated")
        shape, fortran, dtype = _parse_header(text.decode("latin1" if version != (3, 0) else "utf8"))
        if dtype.hasobject or dtype.kind not in allowed_kinds:
            raise FileFormatError(f"dtype {dtype} is not accepted (pickled or unsupported data)")
        if want is not None:
            wshape, wdtype = want
            if wshape is not None and shape != tuple(wshape):
                raise FileFormatError(f"shape {shape}, expected {tuple(wshape)}")
            if wdtype is not None and dtype != np.dtype(wdtype):
                raise FileFormatError(f"dtype {dtype}, expected {np.dtype(wdtype)}")
        nbytes = math.prod(shape) * dtype.itemsize
        start = 6 + 2 + (len(header)) + length
        if info.file_size != start + nbytes:
            raise FileFormatError(f"it holds {info.file_size - start} data bytes, its header declares {nbytes}")
        data = f.read(nbytes)
        if len(data) != nbytes or f.read(1):  # reading to the end also checks the CRC
            raise FileFormatError("its data does not match the size its header declares")
    arr = np.frombuffer(data, dtype=dtype)
    arr = arr.reshape(shape[::-1]).T if fortran else arr.reshape(shape)
    return arr.copy()


def _parse_header(text):
    """(shape, fortran_order, dtype) of an .npy header dict, refusing anything else."""
    try:
        header = ast.literal_eval(text)
    except Exception as exc:  # noqa: BLE001  (SyntaxError, ValueError, TokenError, MemoryError ...)
        raise FileFormatError(f"its header is not readable ({type(exc).__name__})") from None
    if not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}:
        raise FileFormatError("its header is not an .npy header")
    shape, fortran, descr = header["shape"], header["fortran_order"], header["descr"]
    if not isinstance(shape, tuple) or not all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x < 2 ** 40
                                               for x in shape) or len(shape) > 32:
        raise FileFormatError(f"its header declares the shape {shape!r}")
    if not isinstance(fortran, bool):
        raise FileFormatError("its header's fortran_order is not a bool")
    if not isinstance(descr, str):
        raise FileFormatError(f"its header declares the dtype {descr!r}")
    try:
        dtype = np.dtype(descr)
    except Exception:  # noqa: BLE001
        raise FileFormatError(f"its header declares an unknown dtype {descr[:40]!r}") from None
    return shape, fortran, dtype


def read_json(path, *, what, max_bytes=JSON_MAX_BYTES, max_depth=JSON_MAX_DEPTH):
    """The JSON document in the regular file at ``path``, within bounds.

    The file is opened with :func:`open_regular`; its size (at most ``max_bytes``) and its
    nesting depth (at most ``max_depth`` levels of lists and objects, :func:`parse_json`)
    are checked before it is parsed.

    Raises
    ------
    FileNotFoundError
        Nothing at ``path``.
    FileFormatError
        Not a regular file, too big, not UTF-8, nested too deep, not JSON, or not strict
        JSON (:func:`parse_json`); the message names the file and ``what`` it should be.
    """
    path = os.fspath(path)
    with open_regular(path, what=what) as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise FileFormatError(f"{path!r} cannot be read as a {what}: it holds {os.path.getsize(path)} bytes, more "
                              f"than the {max_bytes} allowed; the file was left as it is")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FileFormatError(f"{path!r} cannot be read as a {what}: it is not UTF-8 text ({exc.reason} at byte "
                              f"{exc.start}); the file was left as it is") from None
    return parse_json(text, source=f"{path!r} ({what})", max_depth=max_depth, max_bytes=max_bytes)


# an escape sequence; then (escapes removed) a whole string, or one bracket outside strings
_JSON_ESCAPE = re.compile(r"\\.", re.DOTALL)
_JSON_TOKENS = re.compile(r'"[^"]*"|[\[\]{}]')


def json_depth(text):
    """The deepest nesting of lists and objects in JSON ``text`` (brackets inside strings
    do not count), found from the raw text without parsing it.

    The escapes are removed first, so that a string is a quote, anything but a quote, and a
    quote: a repeat of one character class, which the regular expression engine matches
    without keeping a backtracking entry per character (an alternation of escapes and
    characters took 1.3 GB and 14 s for a 10 MB string)."""
    depth = deepest = 0
    for match in _JSON_TOKENS.finditer(_JSON_ESCAPE.sub("", text)):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            deepest = max(deepest, depth)
        elif token in ("]", "}"):
            depth -= 1
    return deepest


def parse_json(text, *, source, max_depth=JSON_MAX_DEPTH, max_bytes=JSON_MAX_BYTES):
    """``json.loads(text)`` within bounds, strictly.

    Text longer than ``max_bytes`` (in UTF-8) or nested deeper than ``max_depth`` levels is
    refused before it is parsed (the parser recurses once per level).  What Python's parser
    accepts but JSON does not is refused too, naming the field: a key that appears twice in
    one object (a reader keeping the first and one keeping the last would disagree), the
    tokens NaN, Infinity and -Infinity (floss_ref writes null for them), and numbers beyond
    the range of float64 (such as 1e400, which Python reads as infinity).

    source : str
        What the text is, for messages (e.g. "'run.npz' (checkpoint header)").

    Raises FileFormatError naming ``source``: too long, nested too deep, not JSON, or not
    strict JSON.
    """
    size = len(text) if len(text) > max_bytes else len(text.encode("utf-8", "surrogatepass"))
    if size > max_bytes:
        raise FileFormatError(f"{source} holds {size} bytes of JSON or more, more than the {max_bytes} allowed: "
                              "not a file floss_ref wrote; it was left as it is")
    depth = json_depth(text)
    if depth > max_depth:
        raise FileFormatError(f"{source} nests deeper than {max_depth} levels ({depth} levels of lists and "
                              "objects): not a file floss_ref wrote; it was left as it is")
    flagged = []  # objects with a duplicate key and stand-ins of NaN / Infinity, found by the parser's hooks

    def pairs_to_object(pairs):
        obj = dict(pairs)
        if len(obj) != len(pairs):
            obj, seen = _Duplicated(obj), set()
            for key, _ in pairs:
                if key in seen:
                    obj.key = key  # the first key seen twice
                    break
                seen.add(key)
            flagged.append(obj)
        return obj

    def constant(token):
        flagged.append(_NonFinite(token))
        return flagged[-1]

    def number(token):
        value = float(token)
        return value if math.isfinite(value) else constant(token)

    try:
        doc = json.loads(text, object_pairs_hook=pairs_to_object, parse_constant=constant, parse_float=number)
    except (ValueError, RecursionError) as exc:  # RecursionError: cannot happen within max_depth
        raise FileFormatError(f"{source} is not readable JSON ({type(exc).__name__}: {str(exc)[:200]}); "
                              "it was left as it is") from None
    if flagged:
        first = flagged[0]
        where = _path_in(doc, first)
        if isinstance(first, _Duplicated):
            problem = f"field {_dotted(where + [first.key])!r} appears twice in one object (duplicate keys)"
        else:
            shown = first.token if len(first.token) <= 40 else brief(first.token)
            if first.token.lstrip("-") in ("NaN", "Infinity"):
                what = "a token JSON does not have (floss_ref writes null)"
            else:
                what = "a number beyond the range of float64"
            problem = f"{'field ' + repr(_dotted(where)) if where else 'the document'} is {shown}, {what}"
        raise FileFormatError(f"{source}: {problem}: not a file floss_ref wrote; it was left as it is")
    return doc


class _Duplicated(dict):
    """An object of a JSON document in which ``key`` appears twice (the last value kept)."""


class _NonFinite:
    """What parse_json's parser makes of the token NaN, Infinity or -Infinity, or of a number
    beyond float64 (``token``: its text)."""

    def __init__(self, token):
        self.token = token


def _path_in(doc, target):
    """The keys and list indices that lead to the object ``target`` in ``doc`` ([] for the
    document itself): found depth first with one iterator per level, so that neither a wide
    list nor a key of megabytes is copied once per member."""
    path, levels = [], [iter([(None, doc)])]
    while levels:
        for key, node in levels[-1]:
            if node is target:
                return path[1:] + [key] if path else []
            if isinstance(node, (dict, list)):
                levels.append(iter(node.items() if isinstance(node, dict) else enumerate(node)))
                path.append(key)
                break
        else:
            levels.pop()
            if path:
                path.pop()
    return ["?"]


def _dotted(keys):
    """Keys and list indices as a field's name: "a.b[2].c", each key in at most 60 characters."""
    text = ""
    for key in keys:
        if isinstance(key, int):
            text += f"[{key}]"
        else:
            text += ("." if text else "") + (key if len(key) <= 60 else key[:57] + "...")
    return text


_BRIEF = reprlib.Repr()
_BRIEF.maxstring = _BRIEF.maxother = 100
_BRIEF.maxlist = _BRIEF.maxtuple = _BRIEF.maxdict = _BRIEF.maxset = 20
_BRIEF.maxlevel = 4


def brief(value):
    """``repr(value)`` for a message, in at most about 100 characters per string and 20 items
    per container: a field of a hostile file can hold megabytes."""
    return _BRIEF.repr(value)


_JSON_TYPES = {dict: "an object", list: "a list", str: "a string", int: "an integer", float: "a number",
               bool: "true or false", type(None): "null"}


def _json_type_name(value):
    for t, name in _JSON_TYPES.items():
        if type(value) is t:
            return "true" if value is True else "false" if value is False else name
    return type(value).__name__


def json_field(doc, key, types, source, where=""):
    """``doc[key]`` after checking that it is present and of one of ``types`` (JSON types:
    dict, list, str, int, float, bool, type(None); an int is accepted as a float, a bool
    never as a number).

    source : str
        The file, for messages.
    where : str
        The path of ``doc`` in the document, prefixed to the field's name (e.g. "tasks.s0.").

    Raises FileFormatError naming the file and the field.
    """
    types = types if isinstance(types, tuple) else (types,)
    if not isinstance(doc, dict) or key not in doc:
        raise FileFormatError(f"{source}: field {brief(where + key)} is missing")
    value = doc[key]
    ok = any(type(value) is t or (t is float and type(value) is int) for t in types)
    if not ok:
        wanted = " or ".join(_JSON_TYPES.get(t, t.__name__) for t in types)
        raise FileFormatError(f"{source}: field {brief(where + key)} must be {wanted}, got {_json_type_name(value)}")
    return value


def content_hash(arrays):
    """SHA-256 of a dict of arrays: names, dtypes, shapes and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(json.dumps([name, a.dtype.str, list(a.shape)]).encode())
        h.update(a.tobytes())
    return h.hexdigest()
