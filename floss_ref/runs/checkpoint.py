"""Checkpoint files of training runs: written atomically, read back with validation.

A checkpoint is an ``.npz`` archive (no pickles) holding the run's arrays and one JSON
header with the format tag, the run's configuration and scalar state (epoch, random
generator state).  Writing goes to a temporary file in the target's directory, which is
flushed to disk and then renamed over the target with ``os.replace``: a reader (or a run
killed mid-write) sees either the old file or the new one, never a partial file.  A
checkpoint path that is a symbolic link is written through: the file it points to is
replaced and the link stays a link.  A write that fails raises
:class:`floss_ref.runs.io.WriteError` naming the file and the cause.

Reading refuses, with :class:`CheckpointError` and without touching the file,

* anything but a regular file (a FIFO, a device, a directory: refused without blocking),
* a file that is not a readable archive (truncated, corrupted: the zip CRC of every
  array is checked while reading),
* arrays missing, extra, or of the wrong shape or dtype, found from the archive's
  directory and the array headers before any data is inflated (so a file declaring a
  huge array, or a deflate bomb, costs nothing),
* an archive without the header or with another format tag, a header that is not JSON
  within bounds (:func:`floss_ref.runs.io.parse_json`), or whose fields are not of their
  types (``format`` a string, ``config`` and ``meta`` objects),
* a checkpoint written by a different configuration (the differing fields are named).

The run state in the header (epoch, random generator state) is checked by the caller
(:meth:`floss_ref.runs.run.Run.load`), which knows what a consistent state is.
"""

import json
import math
import os
import zipfile

import numpy as np

from floss_ref.runs.io import (FileFormatError, atomic_savez, atomic_write, brief, json_field, open_regular,
                               parse_json, read_npz)

FORMAT = "floss_ref.checkpoint/1"  # a file format's name, fixed: it is not the module's path
_HEADER = "__header__"


class CheckpointError(ValueError):
    """A checkpoint file cannot be used: unreadable, or from another configuration."""


def save_checkpoint(path, config, arrays, meta):
    """Write a checkpoint atomically.

    Parameters
    ----------
    path : str or os.PathLike
    config : dict
        JSON-able configuration; :func:`load_checkpoint` refuses any other.
    arrays : dict of ndarray
        The state; names may contain ``/``.
    meta : dict
        JSON-able scalar state (epoch, random generator state, ...).
    """
    if _HEADER in arrays:
        raise ValueError(f"array name {_HEADER!r} is reserved")
    try:  # no NaN or Infinity tokens: the reader refuses them (floss_ref.runs.io.parse_json)
        header = json.dumps({"format": FORMAT, "config": config, "meta": meta}, allow_nan=False)
    except ValueError as exc:
        raise ValueError(f"the configuration and run state of a checkpoint must be JSON without NaN or "
                         f"infinities: {exc}") from None
    atomic_savez(path, {_HEADER: np.array(header), **arrays})


def load_checkpoint(path, config, expected, read_as=None):
    """Read and validate a checkpoint written by :func:`save_checkpoint`.

    The archive's directory and every array header are checked against ``expected``
    before any data is inflated (:func:`floss_ref.runs.io.read_npz`), so a corrupted or
    hostile file is refused without a traceback and without the allocation it declares.

    Parameters
    ----------
    path : str or os.PathLike
    config : dict
        The configuration of the run being resumed; must equal the stored one.
    expected : dict
        name -> (shape, dtype) of every array the run needs.
    read_as : callable dict -> dict, optional
        How a stored configuration reads today, applied before the comparison (a
        TrainConfig passes :func:`floss_ref.experiments.config.stored_fields`, so that a
        checkpoint written before a field was renamed or added still resumes).

    Returns
    -------
    arrays : dict of ndarray
    meta : dict

    Raises
    ------
    CheckpointError
    """
    path = os.fspath(path)
    wanted = {_HEADER: ((), None),
              **{name: (tuple(shape), np.dtype(dtype)) for name, (shape, dtype) in expected.items()}}
    try:
        with open_regular(path, what="checkpoint") as f, zipfile.ZipFile(f) as archive:
            has_header = _HEADER + ".npy" in archive.namelist()
    except FileFormatError as exc:  # not a regular file
        raise CheckpointError(str(exc)) from None
    except Exception:  # noqa: BLE001  (unreadable: read_npz below says why)
        has_header = True
    if not has_header:
        raise CheckpointError(f"{path!r} is not a floss_ref checkpoint (no header); the file was left as it is")
    try:
        arrays = read_npz(path, what="checkpoint", expected=wanted, limit=_limit(expected))
    except FileFormatError as exc:
        raise CheckpointError(str(exc)) from None
    header = arrays.pop(_HEADER)
    if header.dtype.kind != "U":
        raise CheckpointError(f"{path!r} has an unreadable header (it is not text); the file was left as it is")
    source = f"{path!r} (checkpoint header)"
    try:
        header = parse_json(str(header), source=source)
        if not isinstance(header, dict):
            raise FileFormatError(f"{source}: the header must be an object")
        if json_field(header, "format", str, source) != FORMAT:
            raise CheckpointError(f"{path!r} is not a floss_ref checkpoint of format {FORMAT!r}")
        stored = json_field(header, "config", dict, source)
        meta = json_field(header, "meta", dict, source)  # its fields: Run.load checks them
    except FileFormatError as exc:
        text = str(exc)
        raise CheckpointError(text if text.endswith("left as it is") else text + "; the file was left as it is") \
            from None
    _check_config(path, stored, config, read_as)
    return arrays, meta


def _limit(expected):
    """Bytes a checkpoint of these arrays may declare: their sizes plus room for the header."""
    return sum(math.prod(shape) * np.dtype(dtype).itemsize for shape, dtype in expected.values()) + (64 << 20)


def _check_config(path, stored, config, read_as=None):
    """Refuse a checkpoint of another configuration, naming the fields that differ."""
    wanted = json.loads(json.dumps(config))  # compare in the same JSON form as stored
    if isinstance(stored, dict) and read_as is not None:
        stored = read_as(stored)
    if stored == wanted:
        return
    if not isinstance(stored, dict):
        raise CheckpointError(f"{path!r} holds no configuration")
    # brief: a field of a hostile file can hold megabytes, and the file any number of fields
    diffs = [f"{key if key in wanted else brief(key)}: {brief(stored.get(key, '<absent>'))} in the checkpoint, "
             f"{brief(wanted.get(key, '<absent>'))} now"
             for key in sorted(set(stored) | set(wanted)) if stored.get(key) != wanted.get(key)]
    if len(diffs) > 20:
        diffs[20:] = [f"and {len(diffs) - 20} more"]
    raise CheckpointError(f"{path!r} was written by a different configuration ({'; '.join(diffs)}); "
                          "it was left as it is: use the same settings to resume, or another "
                          "checkpoint path to start a new run")


def save_history(path, config, history, epochs_done):
    """Write a training history with its configuration, atomically, as ``.npz`` (the
    arrays plus ``config_json``) or ``.json`` (``config``, ``epochs_done``, ``history``
    with NaN written as null and +-infinity as the strings ``"inf"`` and ``"-inf"``: JSON has
    no such numbers, and a strict reader, floss_ref's own included, refuses ``Infinity``).

    path : str or os.PathLike, ending in .npz or .json
    config : dict (JSON-able)
    history : dict of ndarray
    epochs_done : int
    """
    path = os.fspath(path)
    if path.endswith(".npz"):
        arrays = dict(history)
        arrays["config_json"] = np.array(json.dumps(config))
        atomic_savez(path, arrays)
    elif path.endswith(".json"):
        doc = {"config": config, "epochs_done": epochs_done,
               "history": {name: _json_ready(v) for name, v in history.items()}}
        text = json.dumps(doc, allow_nan=False).encode()   # strict JSON: no NaN or Infinity tokens
        atomic_write(path, lambda f: f.write(text))
    else:
        raise ValueError(f"history path must end in .json or .npz, got {path!r}")


def _json_ready(v):
    """ndarray -> nested lists with NaN as null and +-inf as "inf" / "-inf" (JSON has
    neither)."""
    v = np.asarray(v)
    if v.dtype.kind == "f":
        out = np.where(np.isnan(v), None, v.astype(object))
        out = np.where(np.isposinf(v), "inf", out)
        return np.where(np.isneginf(v), "-inf", out).tolist()
    return v.tolist()
