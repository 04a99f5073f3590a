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

* The manifest is written when a sweep starts.  A directory whose manifest holds other
  settings, or another task under the same name, is refused (:class:`SweepError`): the
  results of different settings are never mixed.  New tasks may be added to a directory
  with the same settings (e.g. more seeds).
* A task whose file exists is finished and is not run again (resume after an
  interruption).  Files are renamed into place only when complete
  (:func:`floss_ref._io.atomic_savez`), so a killed sweep leaves no partial result.
* A task that raises, or whose worker process dies, is retried up to ``retries`` more
  times; tasks still failing are reported by name in :class:`SweepError` after all other
  tasks have finished.

Engines: ``scheduler=None`` runs on ``jobs`` local worker processes (spawned, BLAS limited
to one thread each, one task at a time each, so a dead process is blamed on its task;
``jobs=0`` runs serially in this process).  With
``scheduler="tcp://host:port"`` the tasks go to a running dask.distributed scheduler
(``pip install floss_ref[cluster]``); an unreachable address raises
:class:`SweepError` after ``connect_timeout`` seconds.
"""

import concurrent.futures
import dataclasses
import importlib
import json
import multiprocessing
import os
import re
import threading
import time
import traceback

import numpy as np

from . import _validate
from ._io import atomic_savez, atomic_write
from ._threads import limit_blas

MANIFEST = "manifest.json"
FORMAT = "floss_ref.sweep/1"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.=+-]*$")
_FUNCTION = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_BLAS_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


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
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ValueError(f"task name must be letters, digits and _ . = + - (not starting with one of "
                             f"the last four), got {self.name!r}")
        if not isinstance(self.kind, str) or not (self.kind in KINDS or _FUNCTION.match(self.kind)):
            raise ValueError(f"kind must be one of {sorted(KINDS)} or 'module:function', got {self.kind!r}")
        if not isinstance(self.params, dict):
            raise TypeError(f"params of task {self.name!r} must be a dict, got {type(self.params).__name__}")
        try:
            object.__setattr__(self, "params", json.loads(json.dumps(self.params)))
        except (TypeError, ValueError) as exc:
            raise TypeError(f"params of task {self.name!r} must be JSON-able: {exc}") from None

    def describe(self):
        return {"kind": self.kind, "params": self.params}


# ---- the task kinds ---------------------------------------------------------------------

# Named kinds: the experiments of floss_ref itself, each a function params -> dict of arrays
# in the module that owns the experiment.  Any other "module:function" works the same way.
KINDS = {"train": "floss_ref.training:train_result", "floss": "floss_ref.driver:floss_result"}


def run_task(task):
    """Run one task in this process with BLAS on one thread; returns (arrays, seconds)."""
    start = time.perf_counter()
    module, name = KINDS.get(task.kind, task.kind).split(":")
    fn = getattr(importlib.import_module(module), name)
    with limit_blas(1):
        arrays = {key: np.asarray(v) for key, v in fn(task.params).items()}
    return arrays, time.perf_counter() - start


# ---- results directory ------------------------------------------------------------------

def result_path(results_dir, name):
    return os.path.join(os.fspath(results_dir), name + ".npz")


def _open_results(results_dir, settings, tasks):
    """Create or check the results directory and its manifest; returns the manifest."""
    results_dir = os.fspath(results_dir)
    if os.path.exists(results_dir) and not os.path.isdir(results_dir):
        raise SweepError(f"results directory {results_dir!r} exists and is not a directory")
    os.makedirs(results_dir, exist_ok=True)
    path = os.path.join(results_dir, MANIFEST)
    entries = {t.name: t.describe() for t in tasks}
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            try:
                manifest = json.load(f)
            except ValueError as exc:
                raise SweepError(f"{path!r} is not a sweep manifest: {exc}") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise SweepError(f"{path!r} is not a sweep manifest of format {FORMAT!r}")
        if manifest["settings"] != settings:
            changed = sorted(k for k in set(settings) | set(manifest["settings"])
                             if settings.get(k) != manifest["settings"].get(k))
            raise SweepError(f"results directory {results_dir!r} holds results of different settings "
                             f"(differing: {', '.join(changed)}); use another directory")
        clash = sorted(n for n, d in entries.items() if n in manifest["tasks"] and manifest["tasks"][n] != d)
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
    atomic_write(path, lambda f: f.write(text))
    return manifest


def load_result(results_dir, name):
    """The arrays of one finished task (dict of ndarray; ``meta/seconds`` is its wall time)."""
    with np.load(result_path(results_dir, name)) as z:
        return {key: z[key] for key in z.files}


def load_results(results_dir, names=None):
    """The arrays of the finished tasks: dict name -> dict of ndarray (missing ones left out)."""
    results_dir = os.fspath(results_dir)
    if names is None:
        names = sorted(f[:-4] for f in os.listdir(results_dir) if f.endswith(".npz") and not f.startswith("."))
    return {n: load_result(results_dir, n) for n in names if os.path.exists(result_path(results_dir, n))}


def _save(results_dir, task, arrays, seconds):
    out = dict(arrays)
    out["meta/seconds"] = np.array(seconds)
    out["meta/task"] = np.array(json.dumps(task.describe()))
    atomic_savez(result_path(results_dir, task.name), out)


# ---- engines ----------------------------------------------------------------------------

def _worker_init():
    for var in _BLAS_ENV:
        os.environ[var] = "1"


_ENV_LOCK = threading.Lock()  # the driver threads change os.environ around each spawn


def _new_pool():
    """A pool of one spawned worker process whose BLAS uses one thread."""
    with _ENV_LOCK:
        saved = {var: os.environ.get(var) for var in _BLAS_ENV}
        for var in _BLAS_ENV:  # a spawned child reads these before importing numpy
            os.environ[var] = "1"
        try:
            pool = concurrent.futures.ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_worker_init)
            pool.submit(int).result()  # start the process now, while the variables are set
            return pool
        finally:
            for var, value in saved.items():
                if value is None:
                    os.environ.pop(var, None)
                else:
                    os.environ[var] = value


def _error_text(exc):
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def _local(todo, jobs, retries, on_done):
    """Run tasks on ``jobs`` worker processes; returns {name: error text}.

    Each worker process is driven by its own thread and runs one task at a time, so a
    process that dies is blamed on exactly the task it was running; it is replaced by a
    fresh process for the next attempt.
    """
    queue = list(reversed(todo))
    lock = threading.Lock()
    failures = {}

    def drive():
        pool = _new_pool()
        try:
            while True:
                with lock:
                    if not queue:
                        return
                    task = queue.pop()
                for _ in range(retries + 1):
                    try:
                        arrays, seconds = pool.submit(run_task, task).result()
                    except concurrent.futures.process.BrokenProcessPool:
                        error = "its worker process died"
                        pool.shutdown(wait=False)
                        pool = _new_pool()
                    except Exception as exc:  # noqa: BLE001  (any task error is retried or reported)
                        error = _error_text(exc)
                    else:
                        with lock:
                            try:
                                on_done(task, arrays, seconds)
                            except Exception as exc:  # noqa: BLE001  (e.g. disk full: reported by name)
                                failures[task.name] = "saving the result failed: " + _error_text(exc)
                        break
                else:
                    with lock:
                        failures[task.name] = error
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    threads = [threading.Thread(target=drive, daemon=True) for _ in range(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return failures


def connect(scheduler, timeout=10.0):
    """A dask.distributed Client of the scheduler at ``scheduler`` (e.g. "tcp://host:8786").

    Raises SweepError if dask.distributed is not installed or the scheduler does not
    answer within ``timeout`` seconds.
    """
    if not isinstance(scheduler, str) or "://" not in scheduler:
        raise ValueError(f"scheduler must be an address like 'tcp://host:8786', got {scheduler!r}")
    try:
        from distributed import Client
    except ImportError:
        raise SweepError("a scheduler address needs dask.distributed: pip install 'floss_ref[cluster]'") from None
    try:
        return Client(scheduler, timeout=f"{timeout}s", set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise SweepError(f"cannot reach the Dask scheduler at {scheduler!r} within {timeout:g} s: {exc}") from None


def _dask(todo, client, retries, on_done):
    """Run tasks on a dask.distributed cluster; returns {name: error text}."""
    from distributed import as_completed

    futures = {client.submit(run_task, t, key=f"floss_ref-sweep-{t.name}-{os.getpid()}-{time.time_ns()}",
                             retries=retries, pure=False): t for t in todo}
    failures = {}
    for fut in as_completed(list(futures), loop=client.loop):
        task = futures[fut]
        try:
            arrays, seconds = fut.result()
        except Exception as exc:  # noqa: BLE001  (task errors and KilledWorker are reported by name)
            failures[task.name] = _error_text(exc)
        else:
            on_done(task, arrays, seconds)
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
        Extra attempts of a task that fails or whose worker dies.
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
    try:
        settings = json.loads(json.dumps(settings))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"settings must be a JSON-able dict: {exc}") from None
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
        _open_results(results_dir, settings, tasks)
        todo = [t for t in tasks if not os.path.exists(result_path(results_dir, t.name))]
        done_count = [len(tasks) - len(todo)]

        def on_done(task, arrays, seconds):
            _save(results_dir, task, arrays, seconds)
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
            failures = _serial(todo, retries, on_done)
        else:
            failures = _local(todo, min(jobs, len(todo)), retries, on_done)
    finally:
        if scheduler is not None:
            client.close()
    if failures:
        lines = "\n".join(f"  {name}: {err.splitlines()[-1] if err else ''}" for name, err in sorted(failures.items()))
        raise SweepError(f"{len(failures)} of {len(tasks)} tasks failed after {retries} retries "
                         f"(the other results are saved in {results_dir}):\n{lines}", failures)
    return load_results(results_dir, names)


def _serial(todo, retries, on_done):
    failures = {}
    for task in todo:
        for attempt in range(retries + 1):
            try:
                arrays, seconds = run_task(task)
            except Exception as exc:  # noqa: BLE001  (retried, then reported by name)
                error = _error_text(exc)
            else:
                on_done(task, arrays, seconds)
                break
        else:
            failures[task.name] = error
    return failures
