"""Atomic output files, early checks of output paths, and a guarded NPZ reader.

Writing goes to a temporary file in the target's directory, which is flushed to disk and
then renamed over the target with ``os.replace``: a reader, or a run killed mid-write,
sees either the old file or the new one, never a partial file.  The temporary files of
writers that were killed (their process no longer exists) are removed by the next write
to the same target.

Reading (:func:`read_npz`) trusts nothing in the file: the names, sizes, shapes and
dtypes of its members are checked from the archive's directory and the array headers
before any data is inflated, so a corrupted or hostile file is refused with
:class:`FileFormatError` (a ``ValueError``) instead of a traceback or an allocation of
the size it declares.
"""

import ast
import hashlib
import json
import math
import os
import re
import secrets
import tempfile
import zipfile

import numpy as np

# what read_npz inflates at most unless told otherwise: far above any floss_ref file
DEFAULT_READ_LIMIT = 1 << 30
_NPY_HEADER_MAX = 1 << 16


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
    remove_stale_temps(path)
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


# ---- guarded reading ------------------------------------------------------------------

class FileFormatError(ValueError):
    """A file cannot be read as what it should be: truncated, corrupted, or not ours."""


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
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        refuse("it does not exist")
    except Exception as exc:  # noqa: BLE001  (any failure to parse untrusted bytes is a refusal)
        refuse(f"not a readable zip archive (truncated or corrupted?): {_short(exc)}")
    with archive:
        try:
            infos = archive.infolist()
            _check_entry_count(path, len(infos))
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


def _check_entry_count(path, parsed):
    """Refuse a zip directory that lists fewer entries than its end record declares (a
    damaged length field makes the parser skip the rest: members would vanish silently)."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
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


def content_hash(arrays):
    """SHA-256 of a dict of arrays: names, dtypes, shapes and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(json.dumps([name, a.dtype.str, list(a.shape)]).encode())
        h.update(a.tobytes())
    return h.hexdigest()
