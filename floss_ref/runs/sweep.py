"""Sweeps of independent runs (training configurations x seeds) on local processes or on
a Dask cluster, with results saved as they arrive.

A sweep is a list of :class:`SweepTask` (a unique name, a kind from :data:`KINDS` and
JSON-able parameters).  Each task is a pure function of its parameters: the random
streams come from the seed in the parameters and BLAS runs on one thread in every
worker, so a task gives the same arrays bit for bit wherever it runs.

Results directory::

    results/
        manifest.json          settings of the sweep + kind and parameters of each task
        <task name>.npz        one file per finished task, written atomically

* A driver holds the directory's writer lock (``.lock``, :func:`floss_ref.runs.io.writer_lock`)
  for the whole sweep: another driver on the same directory is refused with
  :class:`SweepError` naming the holder's pid and host.  Readers take no lock.
* The manifest is written when a sweep starts, before the first result.  A directory whose manifest holds other
  settings, or another task under the same name, is refused (:class:`SweepError`): the
  results of different settings are never mixed.  New tasks may be added to a directory
  with the same settings (e.g. more seeds).
* A task whose file exists is finished and is not run again (resume after an
  interruption).  Files are renamed into place only when complete
  (:func:`floss_ref.runs.io.atomic_savez`), so a killed sweep leaves no partial result.
* A task that raises, or whose worker process dies, is retried up to ``retries`` more
  times; tasks still failing are reported by name in :class:`SweepError` after all other
  tasks have finished.  A :class:`floss_ref.errors.NumericalBreakdownError` is not retried
  on the local engines: the same seed breaks down the same way.

Engines: ``scheduler=None`` runs on ``jobs`` local worker processes (spawned, BLAS limited
to one thread each, one task at a time each, so a dead process is blamed on its task;
``jobs=0`` runs serially in this process).  A worker dies with its driver, even a driver
killed by SIGKILL and even inside a C call that holds the GIL: on Linux the kernel kills it
(``prctl(PR_SET_PDEATHSIG, SIGKILL)``); elsewhere a watchdog thread exits once the driver is
gone, which needs the GIL.  With
``scheduler="tcp://host:port"`` the tasks go to a running dask.distributed scheduler
(``pip install floss_ref[cluster]``); an unreachable address raises
:class:`SweepError` after ``connect_timeout`` seconds.
"""

import concurrent.futures
import contextlib
import ctypes
import dataclasses
import importlib
import json
import multiprocessing
import os
import re
import signal
import threading
import time
import traceback

import numpy as np

from floss_ref import _validate
from floss_ref.experiments.config import stored_fields
from floss_ref.runs.io import (JSON_MAX_DEPTH, FileFormatError, FileLockedError, WriteError, atomic_savez, atomic_write,
                               brief, content_hash, json_depth, json_field, parse_json, read_json, read_npz,
                               writer_lock)
from floss_ref._threads import limit_blas
from floss_ref.errors import NumericalBreakdownError

MANIFEST = "manifest.json"
LOCK = ".lock"  # the writer lock of a results directory, held by its sweep driver
FORMAT = "floss_ref.sweep/1"  # a file format's name, fixed: it is not the module's path
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.=+-]*")
MAX_NAME = 200  # the file name <name>.npz and its temporary file stay within 255 bytes
_FUNCTION = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_BLAS_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
# how deep a task's params and the settings may nest: the manifest holds them 3 levels down
# and must stay within what its reader accepts (floss_ref.runs.io.JSON_MAX_DEPTH)
MAX_NESTING = JSON_MAX_DEPTH - 4


class SweepError(RuntimeError):
    """A sweep cannot start (bad results directory, unreachable scheduler) or some of its
    tasks failed after their retries (``failures`` maps task name -> error text)."""

    def __init__(self, message, failures=None):
        super().__init__(message)
        self.failures = dict(failures or {})


@dataclasses.dataclass(frozen=True)
class SweepTask:
    """One independent unit of a sweep.

    Attributes
    ----------
    name : str
        Unique within the sweep; the result file is ``<name>.npz`` (letters, digits and
        ``_ . = + -``).
    kind : str
        A key of :data:`KINDS`, or ``"module:function"`` naming a function importable in
        the workers that maps the params dict to a dict of arrays.
    params : dict
        JSON-able parameters of the kind's function.
    """

    name: str
    kind: str
    params: dict

    def __post_init__(self):
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name) or len(self.name) > MAX_NAME:
            raise ValueError(f"task name must be 1 to {MAX_NAME} letters, digits and _ . = + - (not starting "
                             f"with one of the last four), got {self.name!r}")
        if not isinstance(self.kind, str) or not (self.kind in KINDS or _FUNCTION.match(self.kind)):
            raise ValueError(f"kind must be one of {sorted(KINDS)} or 'module:function', got {self.kind!r}")
        if not isinstance(self.params, dict):
            raise TypeError(f"params of task {self.name!r} must be a dict, got {type(self.params).__name__}")
        object.__setattr__(self, "params", _json_copy(f"params of task {self.name!r}", self.params))

    def describe(self):
        return {"kind": self.kind, "params": self.params}


def _json_copy(name, value):
    """``value`` through JSON and back, refusing what is not JSON-able (TypeError), or holds
    NaN or an infinity, or nests deeper than MAX_NESTING levels (ValueError): a file holding
    it could not be read back (:func:`floss_ref.runs.io.parse_json` refuses NaN and Infinity)."""
    try:
        text = json.dumps(value, allow_nan=False)
    except RecursionError:
        text = None
    except ValueError as exc:
        if "Out of range float values" in str(exc):
            raise ValueError(f"{name} must be JSON-able: it holds NaN or an infinity, which JSON does not have") \
                from None
        raise TypeError(f"{name} must be JSON-able: {exc}") from None
    except TypeError as exc:
        raise TypeError(f"{name} must be JSON-able: {exc}") from None
    if text is None or json_depth(text) > MAX_NESTING:
        raise ValueError(f"{name} nest deeper than {MAX_NESTING} levels of lists and dicts; the sweep's files "
                         "could not be read back")
    return json.loads(text)


# ---- the task kinds ---------------------------------------------------------------------

# Named kinds: the experiments of floss_ref itself, each a function params -> dict of arrays
# in the module that owns the experiment.  Any other "module:function" works the same way.
KINDS = {"train": "floss_ref.runs.run:train_result", "floss": "floss_ref.experiments.driver:floss_result",
         "control": "floss_ref.runs.run:control_result"}


def run_task(task):
    """Run one task in this process with BLAS on one thread; returns (arrays, seconds)."""
    start = time.perf_counter()
    module, name = KINDS.get(task.kind, task.kind).split(":")
    fn = getattr(importlib.import_module(module), name)
    with limit_blas(1):
        arrays = {key: np.asarray(v) for key, v in fn(task.params).items()}
    return arrays, time.perf_counter() - start


# a numerical breakdown repeats exactly (same seed, same result): reported at once, not retried
NOT_RETRIED = " (a numerical breakdown: not retried, since the same seed breaks down the same way)"


# ---- results directory ------------------------------------------------------------------

# the task kinds whose parameters are a TrainConfig (plus extras such as curve_every)
CONFIG_KINDS = ("train", "control")


def _canonical(desc):
    """A task description as it reads today: a training task stored before a TrainConfig
    field was renamed or added describes its configuration as it ran
    (:func:`floss_ref.experiments.config.stored_fields`)."""
    if isinstance(desc, dict) and desc.get("kind") in CONFIG_KINDS and isinstance(desc.get("params"), dict):
        return {**desc, "params": stored_fields(desc["params"])}
    return desc


def result_path(results_dir, name):
    return os.path.join(os.fspath(results_dir), name + ".npz")


def _make_results_dir(results_dir):
    if os.path.exists(results_dir) and not os.path.isdir(results_dir):
        raise SweepError(f"results directory {results_dir!r} exists and is not a directory")
    try:
        os.makedirs(results_dir, exist_ok=True)
    except OSError as exc:
        raise SweepError(str(WriteError(results_dir, exc))) from None


def _open_results(results_dir, settings, tasks):
    """Check (or start) the results directory's manifest; returns the manifest.  Called with
    the directory's lock held, before any result is written: the settings are fixed first."""
    results_dir = os.fspath(results_dir)
    path = os.path.join(results_dir, MANIFEST)
    entries = {t.name: t.describe() for t in tasks}
    if os.path.lexists(path):
        try:
            manifest = _read_manifest(path)
        except FileFormatError as exc:
            raise SweepError(f"{exc}; use another directory") from None
        if manifest["format"] != FORMAT:
            raise SweepError(f"{path!r} is not a sweep manifest of format {FORMAT!r}")
        if manifest["settings"] != settings:
            changed = sorted(k for k in set(settings) | set(manifest["settings"])
                             if settings.get(k) != manifest["settings"].get(k))
            named = ", ".join(k if len(k) <= 100 else brief(k) for k in changed[:20])  # keys of a hostile file
            raise SweepError(f"results directory {results_dir!r} holds results of different settings "
                             f"(differing: {named}{' ...' if len(changed) > 20 else ''}); use another directory")
        clash = sorted(n for n, d in entries.items() if n in manifest["tasks"] and _canonical(manifest["tasks"][n]) != _canonical(d))
        if clash:
            raise SweepError(f"results directory {results_dir!r} holds tasks of the same name but other "
                             f"parameters: {', '.join(clash[:5])}{' ...' if len(clash) > 5 else ''}; "
                             "use another directory")
        if set(entries) <= set(manifest["tasks"]):
            return manifest
        manifest["tasks"].update(entries)
    else:
        stray = [f for f in os.listdir(results_dir) if f.endswith(".npz")]
        if stray:
            raise SweepError(f"results directory {results_dir!r} holds result files but no manifest; "
                             "use another directory")
        manifest = {"format": FORMAT, "settings": settings, "tasks": entries}
    text = json.dumps(manifest, indent=1, sort_keys=True).encode()
    try:
        atomic_write(path, lambda f: f.write(text))
    except WriteError as exc:
        raise SweepError(str(exc)) from None
    return manifest


def _read_manifest(path):
    """The manifest at ``path``, read within bounds (:func:`floss_ref.runs.io.read_json`) and
    checked field by field: ``format`` a string, ``settings`` an object, ``tasks`` an
    object whose entries have a ``kind`` string and a ``params`` object.  Raises
    FileFormatError naming the file and the field."""
    source = f"sweep manifest {path!r} is damaged"
    try:
        manifest = read_json(path, what="sweep manifest")
    except FileNotFoundError:  # a dangling symbolic link (the caller saw a directory entry)
        raise FileFormatError(f"{path!r} cannot be read as a sweep manifest: it does not exist (a symbolic link to "
                              "a missing file?); the file was left as it is") from None
    if not isinstance(manifest, dict):
        raise FileFormatError(f"{source}: it is not a JSON object")
    json_field(manifest, "format", str, source)
    json_field(manifest, "settings", dict, source)
    for name, entry in json_field(manifest, "tasks", dict, source).items():
        json_field(manifest["tasks"], name, dict, source, where="tasks.")
        json_field(entry, "kind", str, source, where=f"tasks.{name}.")
        json_field(entry, "params", dict, source, where=f"tasks.{name}.")
    return manifest


# the hash covers the task's arrays, its description and the settings, not the wall time
# (which differs between otherwise bit-identical runs)
_UNHASHED = ("meta/sha256", "meta/seconds")
RESULT_READ_LIMIT = 1 << 30  # bytes a result file may declare (committed results are KB)


def load_result(results_dir, name, task=None, settings=None):
    """The arrays of one finished task (dict of ndarray; ``meta/seconds`` is its wall time).

    The file is read with :func:`floss_ref.runs.io.read_npz` (nothing inflated before its
    directory and headers are checked); its content hash (``meta/sha256``) is verified,
    and with ``task`` / ``settings`` given, that it is the result of that task under those
    settings.  Results written before hashes were stored (no ``meta/sha256``) are
    checked by their task description only.

    Raises
    ------
    ValueError
        ``name`` has a path separator, is ``..`` or is an absolute path.
    floss_ref.runs.io.FileFormatError (a ValueError)
        The file cannot be read, its hash does not match, or it belongs to another task.
    """
    _check_result_name(name)
    path = result_path(results_dir, name)
    arrays = read_npz(path, what="sweep result", limit=RESULT_READ_LIMIT)

    def refuse(detail):
        raise FileFormatError(f"{path!r} is not a valid result of task {name!r}: {detail}; "
                              "delete it to run the task again")

    stored = arrays.get("meta/sha256")
    if stored is not None:
        body = {k: v for k, v in arrays.items() if k not in _UNHASHED}
        if stored.shape != () or stored.dtype.kind != "U" or str(stored) != content_hash(body):
            refuse("its content does not match the hash stored with it (altered or corrupted)")
    def member(key):
        """The JSON in the text member ``key`` (None if it is not text), within bounds."""
        value = arrays[key]
        if value.shape != () or value.dtype.kind != "U":
            return None
        try:
            return parse_json(str(value), source=f"its member {key!r}")
        except FileFormatError as exc:
            refuse(str(exc).replace("; it was left as it is", ""))

    if task is not None:
        desc = member("meta/task") if "meta/task" in arrays else None
        if desc is None or _canonical(desc) != _canonical(task.describe()):
            refuse("it was written by another task (meta/task differs)")
    if settings is not None and "meta/settings" in arrays:
        if member("meta/settings") != settings:
            refuse("it was written under other sweep settings (meta/settings differs)")
    return arrays


def _check_result_name(name):
    """Refuse a result name that would reach outside its directory (ValueError naming it)."""
    if not isinstance(name, str):
        raise TypeError(f"result name must be a str, got {type(name).__name__}")
    seps = {"/", os.sep} | ({os.altsep} if os.altsep else set())
    if (not name or "\0" in name or os.path.isabs(name) or any(c in name for c in seps)
            or name in (".", "..")):
        raise ValueError(f"result name {name!r} is not a file name inside the results directory (no path "
                         "separators, '..' or absolute paths)")


def load_results(results_dir, names=None):
    """The arrays of the finished tasks: dict name -> dict of ndarray (missing ones left out)."""
    results_dir = os.fspath(results_dir)
    if names is None:
        names = sorted(f[:-4] for f in os.listdir(results_dir) if f.endswith(".npz") and not f.startswith("."))
    for n in names:
        _check_result_name(n)
    return {n: load_result(results_dir, n) for n in names if os.path.exists(result_path(results_dir, n))}


def _save(results_dir, task, arrays, seconds, settings):
    out = dict(arrays)
    out["meta/seconds"] = np.array(seconds)
    out["meta/task"] = np.array(json.dumps(task.describe()))
    out["meta/settings"] = np.array(json.dumps(settings))
    out["meta/sha256"] = np.array(content_hash({k: v for k, v in out.items() if k not in _UNHASHED}))
    atomic_savez(result_path(results_dir, task.name), out)


def _check_finished(results_dir, tasks, settings):
    """The tasks whose result file exists, after checking each file; refuses the sweep
    (SweepError) if any file is unreadable or not the result of its task."""
    done, bad = [], []
    for t in tasks:
        if os.path.exists(result_path(results_dir, t.name)):
            try:
                load_result(results_dir, t.name, t, settings)
            except FileFormatError as exc:
                bad.append(str(exc))
            else:
                done.append(t)
    if bad:
        raise SweepError(f"{len(bad)} result file(s) in {results_dir!r} cannot be trusted:\n  " + "\n  ".join(bad[:5])
                         + ("\n  ..." if len(bad) > 5 else ""))
    return done


def _arrays_only(result):
    """A result's arrays without its metadata (``meta/...``: task, settings, hash, time)."""
    return {k: v for k, v in result.items() if not k.startswith("meta/")}


def merge_results(source_dir, target_dir):
    """Copy the finished tasks of one results directory into another of the same settings.

    Two sweeps of one experiment can run apart (two machines, two worktrees, each its share
    of the tasks) and be joined afterwards.  A results directory's manifest is then the
    union of task entries, and each finished task brings its result file.

    Every result file of ``source_dir`` is checked first (:func:`load_result`: its hash,
    its task and the settings).  The manifests must have the same format and settings, and
    a task named in both must have the same description; a task finished in both must
    have the same arrays (same content hash), since a task gives the same arrays bit for
    bit wherever it runs (on one BLAS build; another build may differ in the last bits, and is
    then refused).  Only then is anything written: the target's manifest gains the
    entries of the copied tasks (atomically, before their files), then each file is copied
    atomically.  A stop in between leaves the target as an interrupted sweep leaves it, and
    running the merge again completes it.  Tasks of ``source_dir`` that have no result
    file yet are not copied, but their entries join the target's manifest as a sweep's do
    when it starts (so that the target counts the tasks planned, not only those finished);
    merging again once they finish copies them.

    The target's writer lock is held throughout (a running sweep there refuses the merge);
    the source is only read, so its sweep may still be running.

    Returns
    -------
    dict with keys ``copied`` and ``present`` (sorted task names: copied now, or already in
    the target with the same content).

    Raises
    ------
    SweepError
        Either directory or manifest cannot be read, the settings differ, a task's
        description or content differs between the two, a result file of the source cannot
        be trusted, or the target cannot be written.
    """
    source_dir, target_dir = os.fspath(source_dir), os.fspath(target_dir)
    if os.path.realpath(source_dir) == os.path.realpath(target_dir):
        raise SweepError(f"source and target are the same results directory {source_dir!r}")
    src_path = os.path.join(source_dir, MANIFEST)
    try:
        source = _read_manifest(src_path)
    except (FileFormatError, OSError) as exc:
        raise SweepError(f"source {source_dir!r} is not a results directory: {exc}") from None
    if source["format"] != FORMAT:
        raise SweepError(f"{src_path!r} is not a sweep manifest of format {FORMAT!r}")
    settings = source["settings"]
    finished = {}
    for name, entry in sorted(source["tasks"].items()):
        if not os.path.exists(result_path(source_dir, name)):
            continue
        try:
            task = SweepTask(name, entry["kind"], entry["params"])
            finished[name] = load_result(source_dir, name, task, settings)
        except (ValueError, TypeError) as exc:  # FileFormatError is a ValueError
            raise SweepError(f"the result of task {name!r} in {source_dir!r} cannot be trusted: {exc}") from None
    _make_results_dir(target_dir)
    with _directory_lock(target_dir):
        tgt_path = os.path.join(target_dir, MANIFEST)
        if os.path.lexists(tgt_path):
            try:
                target = _read_manifest(tgt_path)
            except (FileFormatError, OSError) as exc:
                raise SweepError(f"target {target_dir!r}: {exc}") from None
            if target["format"] != FORMAT or target["settings"] != settings:
                raise SweepError(f"results directories {source_dir!r} and {target_dir!r} hold results of "
                                 "different settings (or formats); they cannot be merged")
        else:
            if any(f.endswith(".npz") for f in os.listdir(target_dir)):
                raise SweepError(f"results directory {target_dir!r} holds result files but no manifest")
            target = {"format": FORMAT, "settings": settings, "tasks": {}}
        clash = sorted(n for n in source["tasks"] if n in target["tasks"]
                       and _canonical(target["tasks"][n]) != _canonical(source["tasks"][n]))
        if clash:
            raise SweepError(f"{source_dir!r} and {target_dir!r} hold tasks of the same name but other parameters: "
                             f"{', '.join(clash[:5])}{' ...' if len(clash) > 5 else ''}")
        copied, present, differ = [], [], []
        for name, arrays in finished.items():
            if not os.path.exists(result_path(target_dir, name)):
                copied.append(name)
                continue
            try:
                theirs = load_result(target_dir, name, SweepTask(name, source["tasks"][name]["kind"],
                                                                 source["tasks"][name]["params"]), settings)
            except (FileFormatError, OSError) as exc:
                raise SweepError(f"the result of task {name!r} in the target cannot be trusted: {exc}") from None
            # the task's arrays, not its metadata: load_result checked that both hold this task (as it reads
            # today), and a description stored under an older field name is the same task
            (present if content_hash(_arrays_only(arrays)) == content_hash(_arrays_only(theirs)) else differ
             ).append(name)
        if differ:
            raise SweepError(f"{len(differ)} task(s) finished in both {source_dir!r} and {target_dir!r} with "
                             f"different arrays (a task should give the same arrays bit for bit): "
                             f"{', '.join(differ[:5])}{' ...' if len(differ) > 5 else ''}; nothing was merged")
        new_entries = {n: e for n, e in source["tasks"].items() if n not in target["tasks"]}
        if new_entries:   # the entries first: a stop before the files leaves an interrupted sweep
            target["tasks"].update(new_entries)
            text = json.dumps(target, indent=1, sort_keys=True).encode()
            try:
                atomic_write(tgt_path, lambda f: f.write(text))
            except WriteError as exc:
                raise SweepError(str(exc)) from None
        for name in copied:
            try:
                with open(result_path(source_dir, name), "rb") as f:
                    data = f.read()
            except OSError as exc:
                raise SweepError(f"the result of task {name!r} in {source_dir!r} cannot be read any more ({exc}); "
                                 "the tasks before it are merged") from None
            try:
                atomic_write(result_path(target_dir, name), lambda f: f.write(data))
            except WriteError as exc:
                raise SweepError(f"{exc} (copying task {name!r}; the tasks before it are merged)") from None
            try:
                copy = load_result(target_dir, name)
            except (FileFormatError, OSError):
                copy = {}
            if content_hash(_arrays_only(copy)) != content_hash(_arrays_only(finished[name])):
                os.remove(result_path(target_dir, name))
                raise SweepError(f"the copy of task {name!r} in {target_dir!r} differs from the file checked in "
                                 f"{source_dir!r} (was the source changed during the merge?); the copy was "
                                 "removed, the tasks before it are merged")
    return {"copied": copied, "present": present}


# ---- engines ----------------------------------------------------------------------------

def _worker_init(parent):
    for var in _BLAS_ENV:
        os.environ[var] = "1"
    # a driver killed by SIGKILL cannot tell its workers: the kernel does (Linux), or a thread
    # notices (elsewhere, and as a second line); the thread needs the GIL, the kernel does not
    if not _killed_with_parent(parent):
        threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()


_PR_SET_PDEATHSIG = 1   # <linux/prctl.h>


def _killed_with_parent(parent):
    """Ask the kernel to SIGKILL this process when the thread that started it ends (Linux
    ``prctl(PR_SET_PDEATHSIG)``), which holds even inside a C call that keeps the GIL.
    The driver starts each worker from the thread that uses it and shuts it down before that
    thread ends.  False where prctl is not available."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):   # not Linux, or no prctl in the C library
        return False
    if os.getppid() != parent:   # the driver died before the request was made
        os._exit(1)
    return True


def _exit_with_parent(parent, every=0.5):
    """Exit this process as soon as the process ``parent`` is gone (it was reparented)."""
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(1)


_ENV_LOCK = threading.Lock()  # the driver threads change os.environ around each spawn


def _new_pool():
    """A pool of one spawned worker process whose BLAS uses one thread."""
    with _ENV_LOCK:
        saved = {var: os.environ.get(var) for var in _BLAS_ENV}
        for var in _BLAS_ENV:  # a spawned child reads these before importing numpy
            os.environ[var] = "1"
        try:
            pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_init,
                initargs=(os.getpid(),))
            pool.submit(int).result()  # start the process now, while the variables are set
            return pool
        finally:
            for var, value in saved.items():
                if value is None:
                    os.environ.pop(var, None)
                else:
                    os.environ[var] = value


def _kill_pools(pools):
    """Stop the pools' worker processes now (they may be in the middle of a task).

    Every process is killed first; the executors are then shut down on daemon threads, so
    that a ``shutdown`` that blocks (it takes the executor's locks and writes to its wake-up
    pipe) cannot leave other workers running.  A test once saw the driver hang after Ctrl-C
    with a worker left, under heavy load; this ordering is the suspected fix.
    """
    for pool in pools:
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            try:
                process.kill()
            except (OSError, ValueError, AttributeError):
                pass
    for pool in pools:
        threading.Thread(target=pool.shutdown, kwargs={"wait": False, "cancel_futures": True}, daemon=True).start()


def _error_text(exc):
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def _local(todo, jobs, retries, on_done, log):
    """Run tasks on ``jobs`` worker processes; returns {name: error text}.

    Each worker process is driven by its own thread and runs one task at a time, so a
    process that dies is blamed on exactly the task it was running; it is replaced by a
    fresh process for the next attempt.  An interrupt (Ctrl-C) stops the workers at once;
    finished results are kept.
    """
    queue = list(reversed(todo))
    lock = threading.Lock()
    failures = {}
    pools = {}
    stop = threading.Event()

    broken = []  # why driver threads died (error texts)
    done = set()

    def drive(slot):
        try:
            run_slot(slot)
        except BaseException as exc:  # noqa: BLE001  (reported after the other threads end)
            with lock:
                broken.append(_error_text(exc))

    def deliver(task, arrays, seconds):
        _deliver(task, arrays, seconds, on_done, failures, lock)
        with lock:
            done.add(task.name)

    def run_slot(slot):
        pool = None
        try:
            pool = pools[slot] = _new_pool()
            while not stop.is_set():
                with lock:
                    if not queue:
                        return
                    task = queue.pop()
                for attempt in range(retries + 1):
                    if stop.is_set():
                        return
                    try:
                        arrays, seconds = pool.submit(run_task, task).result()
                    except concurrent.futures.process.BrokenProcessPool:
                        error = "its worker process died"
                        pool.shutdown(wait=False)
                        if stop.is_set():
                            return
                        pool = pools[slot] = _new_pool()
                    except NumericalBreakdownError as exc:
                        with lock:
                            failures[task.name] = _error_text(exc) + NOT_RETRIED
                        break
                    except Exception as exc:  # noqa: BLE001  (any task error is retried or reported)
                        error = _error_text(exc)
                    else:
                        deliver(task, arrays, seconds)
                        break
                    if attempt < retries and log is not None:
                        log(f"{task.name}: attempt {attempt + 1} of {retries + 1} failed ({error.splitlines()[-1]}); "
                            "retrying")
                else:
                    with lock:
                        failures[task.name] = error
        finally:
            if pool is not None:
                pool.shutdown(wait=False, cancel_futures=True)

    threads = [threading.Thread(target=drive, args=(i,), daemon=True) for i in range(jobs)]
    for t in threads:
        t.start()
    try:
        for t in threads:
            while t.is_alive():
                t.join(0.2)
    except BaseException:  # KeyboardInterrupt, SystemExit: stop the workers, keep what is saved
        stop.set()
        _kill_pools(list(pools.values()))
        raise
    if broken:  # a pool that could not start, or a driver thread that died: its tasks are named
        cause = "; ".join(sorted(set(b.splitlines()[-1] for b in broken)))
        for task in todo:
            if task.name not in done and task.name not in failures:
                failures[task.name] = f"not run: a sweep driver thread failed ({cause})"
    return failures


def _deliver(task, arrays, seconds, on_done, failures, lock):
    """Save one result; a failure to save (disk full, ...) is reported by the task's name
    and does not stop the other tasks."""
    with lock:
        try:
            on_done(task, arrays, seconds)
        except Exception as exc:  # noqa: BLE001
            failures[task.name] = "saving the result failed: " + _error_text(exc)


SCHEMES = ("tcp", "tls")


def connect(scheduler, timeout=10.0):
    """A dask.distributed Client of the scheduler at ``scheduler`` (e.g. "tcp://host:8786").

    The whole start-up has a hard deadline: the address is first probed (connect, Dask
    handshake, and an ``identity`` request the scheduler must answer) within ``timeout``
    seconds, so a port that accepts connections but never answers, or speaks another
    protocol (HTTP, no TLS on a ``tls://`` address), is refused in time.  ``tls://``
    takes its certificates from Dask's configuration (``distributed.comm.tls``).

    Raises ValueError for an address without a scheme, SweepError if dask.distributed is
    not installed or the scheduler does not answer as one within ``timeout`` seconds.
    """
    if not isinstance(scheduler, str) or "://" not in scheduler or scheduler.split("://")[0] not in SCHEMES:
        raise ValueError(f"scheduler must be an address like 'tcp://host:8786' (schemes: "
                         f"{', '.join(s + '://' for s in SCHEMES)}), got {scheduler!r}")
    timeout = _validate.real("connect_timeout", timeout, minimum=0.0, strict_min=True)
    try:
        from distributed import Client
        from distributed.security import Security
    except ImportError:
        raise SweepError("a scheduler address needs dask.distributed: pip install 'floss_ref[cluster]'") from None
    security = Security()
    deadline = time.monotonic() + timeout
    error = _probe(scheduler, timeout, security)
    if error is not None:
        raise SweepError(f"cannot reach the Dask scheduler at {scheduler!r} within {timeout:g} s: {error}")
    left = max(deadline - time.monotonic(), 1.0)
    client = _within(lambda: Client(scheduler, timeout=f"{left}s", set_as_default=False, security=security), left + 5)
    if isinstance(client, BaseException) or client is None:
        raise SweepError(f"cannot reach the Dask scheduler at {scheduler!r} within {timeout:g} s: "
                         f"{'no answer' if client is None else _error_text(client)}")
    return client


def _within(fn, seconds):
    """fn() run on a daemon thread: its value or exception, or None after ``seconds``."""
    out = []

    def run():
        try:
            out.append(fn())
        except BaseException as exc:  # noqa: BLE001  (handed to the caller)
            out.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    return out[0] if out else None


def _probe(scheduler, timeout, security):
    """None if a Dask scheduler answers at ``scheduler`` within ``timeout`` s, else why not."""
    import asyncio
    import socket
    import urllib.parse

    start = time.monotonic()
    try:
        parts = urllib.parse.urlsplit(scheduler)
        host, port = parts.hostname, parts.port
    except ValueError as exc:
        return f"not a host:port address ({exc})"
    if not host or port is None:
        return "the address has no host:port"
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        return f"nothing accepts connections there ({exc.strerror or exc})"
    timeout = max(timeout - (time.monotonic() - start), 0.1)

    async def ask():
        from distributed.comm import connect as comm_connect

        comm = await comm_connect(scheduler, timeout=timeout, **security.get_connection_args("client"))
        try:
            await comm.write({"op": "identity", "reply": True})
            return await comm.read()
        finally:
            comm.abort()

    def run():
        return asyncio.run(asyncio.wait_for(ask(), timeout))

    answer = _within(run, timeout + 2)
    if answer is None or isinstance(answer, (TimeoutError, asyncio.TimeoutError)):
        return "no answer (a port that accepts connections but does not speak Dask's protocol?)"
    if isinstance(answer, BaseException):
        if isinstance(answer, TypeError) and "ssl" in str(answer).lower():
            return ("a tls:// address needs TLS certificates in Dask's configuration "
                    "(distributed.comm.tls.ca-file, .client.cert, .client.key)")
        return f"not a Dask scheduler ({_error_text(answer)[:200]})"
    if not isinstance(answer, dict) or answer.get("type") != "Scheduler":
        return f"the other side is not a Dask scheduler (it answered {str(answer)[:80]!r})"
    return None


def _dask(todo, client, retries, on_done):
    """Run tasks on a dask.distributed cluster; returns {name: error text}."""
    from distributed import as_completed

    futures = {client.submit(run_task, t, key=f"floss_ref-sweep-{t.name}-{os.getpid()}-{time.time_ns()}",
                             retries=retries, pure=False): t for t in todo}
    failures = {}
    lock = threading.Lock()
    for fut in as_completed(list(futures), loop=client.loop):
        task = futures[fut]
        try:
            arrays, seconds = fut.result()
        except Exception as exc:  # noqa: BLE001  (task errors and KilledWorker are reported by name)
            if type(exc).__name__ == "KilledWorker":
                failures[task.name] = (f"the workers running it died ({_error_text(exc)}); Dask gives up on a "
                                       "task after distributed.scheduler.allowed-failures worker deaths")
            else:
                failures[task.name] = _error_text(exc)
        else:
            _deliver(task, arrays, seconds, on_done, failures, lock)
        fut.release()
    return failures


def run_sweep(tasks, results_dir, *, settings, jobs=2, scheduler=None, client=None, retries=2,
              connect_timeout=10.0, log=None):
    """Run every task not finished yet, saving each result as it arrives.

    Parameters
    ----------
    tasks : sequence of SweepTask
    results_dir : str or os.PathLike
        Created if missing; refused if it holds results of other settings.
    settings : dict
        JSON-able description of the sweep (script, scale, ...), stored in the manifest.
    jobs : int
        Local worker processes (0: serially in this process).  Ignored with a scheduler.
    scheduler : str, optional
        Address of a dask.distributed scheduler, e.g. "tcp://10.0.0.1:8786".
    client : distributed.Client, optional
        An existing client, instead of ``scheduler``.
    retries : int
        Extra attempts of a task that fails or whose worker dies (a numerical breakdown is
        not retried on the local engines: the same seed breaks down the same way).
    connect_timeout : float
        Seconds to wait for the scheduler.
    log : callable, optional
        Called with one line of text per finished task (e.g. ``print``).

    Returns
    -------
    dict name -> dict of ndarray
        The results of all tasks (finished now or before).

    Raises
    ------
    SweepError
        Bad results directory, unreachable scheduler, or tasks failed after their
        retries (named in the message and in ``.failures``; the other results are saved).
    """
    tasks = list(tasks)
    for t in tasks:
        if not isinstance(t, SweepTask):
            raise TypeError(f"tasks must be SweepTask objects, got {type(t).__name__}")
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ValueError(f"task names must be unique; repeated: {', '.join(dup)}")
    settings = _json_copy("settings", settings)
    if not isinstance(settings, dict):
        raise TypeError(f"settings must be a JSON-able dict, got {type(settings).__name__}")
    jobs = _validate.integer("jobs", jobs, minimum=0)
    retries = _validate.integer("retries", retries, minimum=0)
    if scheduler is not None and client is not None:
        raise ValueError("give a scheduler address or a client, not both")
    if scheduler is not None:  # connect before touching the directory: fail fast
        client = connect(scheduler, connect_timeout)
    results_dir = os.fspath(results_dir)
    try:
        _make_results_dir(results_dir)
        with _directory_lock(results_dir):
            return _run_locked(tasks, results_dir, settings, jobs, client, retries, log)
    finally:
        if scheduler is not None:
            client.close()


@contextlib.contextmanager
def _directory_lock(results_dir):
    """The writer lock of ``results_dir`` (``<results_dir>/.lock``), held by this driver from
    before the manifest is read to the end of the sweep; another driver is refused."""
    try:
        with writer_lock(results_dir, os.path.join(results_dir, LOCK), what="results directory"):
            yield
    except FileLockedError as exc:
        raise SweepError(f"{exc} (another sweep driver)") from None
    except WriteError as exc:
        raise SweepError(str(exc)) from None


def _run_locked(tasks, results_dir, settings, jobs, client, retries, log):
    names = [t.name for t in tasks]
    _open_results(results_dir, settings, tasks)
    finished = {t.name for t in _check_finished(results_dir, tasks, settings)}
    todo = [t for t in tasks if t.name not in finished]
    done_count = [len(tasks) - len(todo)]

    def on_done(task, arrays, seconds):
        _save(results_dir, task, arrays, seconds, settings)
        done_count[0] += 1
        if log is not None:
            log(f"[{done_count[0]}/{len(tasks)}] {task.name} done in {seconds:.1f} s")

    if log is not None and len(todo) < len(tasks):
        log(f"{len(tasks) - len(todo)} of {len(tasks)} tasks already done in {results_dir}")
    if not todo:
        failures = {}
    elif client is not None:
        failures = _dask(todo, client, retries, on_done)
    elif jobs == 0:
        failures = _serial(todo, retries, on_done, log)
    else:
        failures = _local(todo, min(jobs, len(todo)), retries, on_done, log)
    if failures:
        lines = "\n".join(f"  {name}: {err.splitlines()[-1] if err else ''}" for name, err in sorted(failures.items()))
        raise SweepError(f"{len(failures)} of {len(tasks)} tasks failed "
                         f"(the other results are saved in {results_dir}):\n{lines}", failures)
    results = load_results(results_dir, names)
    missing = [n for n in names if n not in results]
    if missing:  # never fewer results than tasks without saying so
        raise SweepError(f"{len(missing)} of {len(tasks)} tasks have no result in {results_dir} although no "
                         f"failure was reported: {', '.join(missing[:10])}{' ...' if len(missing) > 10 else ''}",
                         {n: "no result" for n in missing})
    return results


def _serial(todo, retries, on_done, log):
    failures = {}
    lock = threading.Lock()
    for task in todo:
        for attempt in range(retries + 1):
            try:
                arrays, seconds = run_task(task)
            except NumericalBreakdownError as exc:
                failures[task.name] = _error_text(exc) + NOT_RETRIED
                break
            except Exception as exc:  # noqa: BLE001  (retried, then reported by name)
                error = _error_text(exc)
                if attempt < retries and log is not None:
                    log(f"{task.name}: attempt {attempt + 1} of {retries + 1} failed ({error.splitlines()[-1]}); "
                        "retrying")
            else:
                _deliver(task, arrays, seconds, on_done, failures, lock)
                break
        else:
            failures[task.name] = error
    return failures
