"""The hostile-file families of ``fuzz_files.py --families``, tried against every file
floss_ref reads or writes: a training checkpoint (``Run.load``, ``train --resume``,
``train --checkpoint``) and its lock, a sweep's results directory, ``manifest.json``, result
``.npz`` files and lock, reference vectors (``cases.json`` and the case files, read by
:func:`floss_ref.kit.vectors.load` and written by ``vectors --out``), and the ``--out``
files of ``train`` and ``spectrum``.

* ``special``: a FIFO, a character device (nodes of /dev/null and /dev/zero), a directory,
  a symbolic link to each of these, and a dangling symbolic link, in place of each file.
* ``json``: JSON nested 3000 and 100000 deep, beyond the size bound (17 MiB), a 10 MB
  string and a 10 MB key, duplicate keys, NaN and Infinity tokens and 1e400, and members of
  the wrong type, in each JSON document: checkpoint header, manifest, result metadata (its
  hash recomputed, so that only the content is hostile) and ``cases.json``.
* ``writers``: two ``train --checkpoint`` processes on one file and two sweep drivers with
  different settings on one new directory, each pair started together; a second writer
  while a first holds the lock; a writer killed by SIGKILL mid-run, then the next one.
* ``disk``: a full tmpfs (mounted with ``size=64k``, if mounting is permitted), a read-only
  tmpfs and a directory of mode 0555.

Each case runs in a child process (forked; the command line as ``floss_ref.cli.main.main``)
with a deadline of :data:`TIMEOUT` seconds: a case that has not ended by then fails.  What
passes: a refusal with the documented exception (``ValueError`` and its subclasses for a
file that is read, ``WriteError`` / ``FileLockedError`` (``OSError``) for one that is
written, ``SweepError`` from a sweep) whose message names the file, and the field where
there is one, in at most :data:`MAX_MESSAGE` characters; on the command line, exit code 1
or 2 and one line on stderr naming the file.  Never a traceback, a hang, a special file
replaced, or a file half written.  A dangling symbolic link in place of an output is
written through, as documented (the link stays, the file it names appears).
"""

import collections
import contextlib
import copy
import ctypes
import dataclasses
import errno
import functools
import io
import itertools
import json
import os
import pickle
import select
import shutil
import signal
import stat
import subprocess
import sys
import time
import traceback
import warnings

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))  # validation/reliability/
ROOT = os.path.dirname(os.path.dirname(HERE))

from floss_ref.cli.main import main as cli_main, make_parser  # noqa: E402
from floss_ref.cli.train import _config_from_args  # noqa: E402
from floss_ref.kit import vectors  # noqa: E402
from floss_ref.runs.io import content_hash  # noqa: E402
from floss_ref.runs.run import Run, TrainConfig, train  # noqa: E402
from floss_ref.runs.sweep import SweepTask, load_result, load_results, run_sweep  # noqa: E402

FAMILIES = ("special", "json", "writers", "disk")
TIMEOUT = 20.0      # seconds a refusal may take; a case still running then fails
MAX_MESSAGE = 4000  # characters of a clear error message (a config diff of every field fits)
CASE = "vanilla_tanh_T20_tons1_tr0"  # the reference case written and read (0.1 s)
# a run long enough (about 6 s on one core) that two writers started together overlap
LONG = TrainConfig(task="binary_xor", delay=2, N=16, T=100, batch=8, epochs=4000, diag_every=0, seed=3)
SPECTRUM = ["spectrum", "--N", "4", "--T", "30", "--transient", "5", "--quiet"]
ENV = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")


# ---- one case in a child process ----------------------------------------------------------

Raised = collections.namedtuple("Raised", "type classes message where")


def in_child(fn, *, timeout=TIMEOUT, drop_dac_override=False):
    """``fn()`` run in a forked child process within ``timeout`` seconds.

    Returns (kind, value): ("returned", what fn returned), ("raised", a :class:`Raised`),
    ("timeout", None) after ``timeout`` s (the child is then killed), or ("died", why).
    What the child prints is captured and dropped.  With ``drop_dac_override`` the child
    gives up CAP_DAC_OVERRIDE first, so that a root process obeys a directory's mode.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: reports through the pipe, never returns
        os.close(read_end)
        try:
            data = pickle.dumps(_run_captured(fn, drop_dac_override))
        except BaseException as exc:  # noqa: BLE001  (an unpicklable result)
            data = pickle.dumps(("died", f"the result could not be sent ({type(exc).__name__})"))
        try:
            with os.fdopen(write_end, "wb") as f:
                f.write(data)
        finally:
            os._exit(0)
    os.close(write_end)
    chunks, timed_out = [], False
    deadline = time.monotonic() + timeout
    with os.fdopen(read_end, "rb", buffering=0) as f:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([f], [], [], left)[0]:
                timed_out = True
                break
            chunk = f.read(1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    if timed_out:
        os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    if timed_out:
        return "timeout", None
    try:
        return pickle.loads(b"".join(chunks))
    except Exception:  # noqa: BLE001
        return "died", f"the child ended without a result (wait status {status})"


def _run_captured(fn, drop_dac_override):
    if drop_dac_override:
        drop_capabilities(1, 2)  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return "returned", fn()
        except BaseException as exc:  # noqa: BLE001  (what the case judges)
            frames = traceback.extract_tb(exc.__traceback__)
            where = f"{os.path.relpath(frames[-1].filename, ROOT)}:{frames[-1].lineno} ({frames[-1].name})" \
                if frames else "?"
            return "raised", Raised(type(exc).__name__, [c.__name__ for c in type(exc).__mro__], str(exc), where)


def drop_capabilities(*bits):
    """Remove capabilities (numbers from linux/capability.h) from this process's effective
    and permitted sets (capset(2); this thread only, which in a forked child is all)."""
    libc = ctypes.CDLL(None, use_errno=True)

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]

    header, data = Header(0x20080522, 0), (Data * 2)()  # _LINUX_CAPABILITY_VERSION_3
    if libc.capget(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capget failed")
    for bit in bits:
        data[bit // 32].effective &= ~(1 << bit % 32)
        data[bit // 32].permitted &= ~(1 << bit % 32)
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")


def api(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` for :func:`in_child`: the child returns only the type name
    of what fn returned."""
    return functools.partial(_type_of_call, fn, args, kwargs)


def _type_of_call(fn, args, kwargs):
    return type(fn(*args, **kwargs)).__name__


def cli(argv):
    """``python -m floss_ref *argv`` for :func:`in_child`: the child returns (exit code,
    stderr); an exception escaping ``main`` is a traceback."""
    return functools.partial(_cli_in_child, list(argv))


def _cli_in_child(argv):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            code = cli_main(argv)
        except SystemExit as exc:
            code = exc.code
    return code, err.getvalue()


# ---- judging an outcome ----------------------------------------------------------------------

def clip(text, n=170):
    """``text`` on one line, cut to ``n`` characters."""
    return " ".join(str(text)[:n + 100].split())[:n] + ("..." if len(str(text)) > n else "")


def _not_a_refusal(kind, value):
    if kind == "timeout":
        return f"still running after {TIMEOUT:g} s (blocked?)"
    if kind == "died":
        return f"the child died: {value}"
    if kind == "raised":  # from the command line: an exception escaping main
        return f"traceback: {value.type} at {value.where}: {clip(value.message)}"
    return f"no error: it returned {clip(value)}"


def _names_all(prefix, message, names, field):
    """(passed, detail): ``message`` names every one of ``names`` and the ``field``, briefly."""
    missing = [repr(n) for n in names if n not in message]
    if field is not None and field not in message:
        missing.append(f"the field {field!r}")
    if missing:
        return False, f"the message does not name {', '.join(missing)}: {prefix}{clip(message)}"
    if len(message) > MAX_MESSAGE:
        return False, f"a message of {len(message)} characters: {prefix}{clip(message)}"
    return True, prefix + clip(message)


def refusal(outcome, names, classes, field=None):
    """(passed, detail) of an API call that must raise one of ``classes`` (class names, any
    in the exception's MRO) with a message naming ``names`` (and ``field``)."""
    kind, value = outcome
    if kind == "raised" and not set(classes) & set(value.classes):
        return False, (f"{value.type} instead of {' or '.join(classes)}, at {value.where}: "
                       f"{clip(value.message)}")
    if kind != "raised":
        return False, _not_a_refusal(kind, value)
    return _names_all(f"{value.type}: ", value.message, names, field)


def cli_refusal(outcome, names, codes=(1, 2), field=None):
    """(passed, detail) of a command that must exit with one of ``codes`` and print one
    line on stderr naming ``names`` (and ``field``), no traceback."""
    kind, value = outcome
    if kind != "returned":
        return False, _not_a_refusal(kind, value)
    code, err = value
    lines = err.strip().splitlines()
    if "Traceback" in err or code not in codes or len(lines) != 1:
        return False, f"exit code {code} (wanted {' or '.join(map(str, codes))}), {len(lines)} lines: {clip(err)}"
    return _names_all(f"exit {code}: ", lines[0], names, field)


# ---- counting ----------------------------------------------------------------------------------

class Family:
    """The cases of one family: each prints one line (``ok`` or ``FAIL``, the case, what
    happened); :meth:`summary` prints the counts and the failures again."""

    def __init__(self, title):
        self.title, self.tried, self.failures, self.skipped = title, 0, [], []
        print(f"\n== {title}", flush=True)

    def case(self, name, check, *args):
        """Run ``check(*args)`` -> (passed, detail) and count it; an error of the harness
        itself is a failure too."""
        self.tried += 1
        try:
            passed, detail = check(*args)
        except Exception as exc:  # noqa: BLE001  (the fuzz harness failed: counted, not hidden)
            passed, detail = False, f"the case could not be run: {type(exc).__name__}: {clip(exc)}"
        print(f"  {'ok  ' if passed else 'FAIL'} {name}: {detail}", flush=True)
        if not passed:
            self.failures.append(f"{name}: {detail}")
        return passed

    def skip(self, name, reason):
        self.skipped.append(name)
        print(f"  SKIPPED {name}: {reason}", flush=True)

    def summary(self):
        print(f"{self.title}: {self.tried} cases tried, {self.tried - len(self.failures)} passed, "
              f"{len(self.failures)} failed" + (f", {len(self.skipped)} skipped" if self.skipped else ""), flush=True)
        for line in self.failures:
            print(f"    FAIL {line}")


# ---- the valid files the cases start from -----------------------------------------------------

class Fixture:
    """A checkpoint of ``config`` at epoch 4, the results directory of ``task`` under
    ``settings``, and one reference case, in ``base``; :meth:`work` gives each case an
    empty directory of its own."""

    def __init__(self, base, config, task, settings):
        self.base, self.config, self.task, self.settings = base, config, task, settings
        made = os.path.join(base, "fixture")
        os.makedirs(made)
        self.ckpt = os.path.join(made, "run.npz")
        Run(config).train(until=4, checkpoint=self.ckpt)
        self.results = os.path.join(made, "results")
        run_sweep([task], self.results, settings=settings, jobs=0)
        self.vectors = os.path.join(made, "vectors")
        vectors.write(self.vectors, [CASE])
        self.train_argv = train_argv(config)
        self._serial = itertools.count()

    def work(self):
        path = os.path.join(self.base, "cases", str(next(self._serial)))
        os.makedirs(path)
        return path


def train_argv(config):
    """The ``train`` command line of ``config`` (checked: it builds the same configuration)."""
    c = config
    argv = ["train", "--task", c.task, "--delay", str(c.delay), "--N", str(c.N), "--T", str(c.T), "--batch",
            str(c.batch), "--epochs", str(c.epochs), "--protocol", c.protocol, "--diag-every", str(c.diag_every),
            "--test-batch", str(c.test_batch), "--seed", str(c.seed), "--quiet"]
    if c.protocol != "none":
        argv += ["--floss-at", ",".join(map(str, c.floss_at)), "--k", str(c.k), "--floss-epochs", str(c.floss_epochs),
                 "--floss-T", str(c.floss_T), "--floss-transient", str(c.floss_transient)]
    if c.diag_every:
        argv += ["--diag-k", str(c.diag_k)]
    built = _config_from_args(make_parser().parse_args(argv))
    if built != config:
        raise RuntimeError(f"the command line {argv} builds {built}, not {config}")
    return argv


def tree(directory):
    """Relative path -> ("dir",) or (file type, size, content hash) of everything below ``directory``."""
    out = {}
    for parent, dirs, files in os.walk(directory):
        for name in dirs:
            out[os.path.relpath(os.path.join(parent, name), directory)] = ("dir",)
        for name in files:
            path = os.path.join(parent, name)
            mode = os.lstat(path).st_mode
            if stat.S_ISREG(mode):
                with open(path, "rb") as f:
                    out[os.path.relpath(path, directory)] = ("file", os.path.getsize(path), hash(f.read()))
            else:
                out[os.path.relpath(path, directory)] = (stat.S_IFMT(mode),)
    return out


def leftovers(before, after):
    """What changed between two :func:`tree` listings, in words ('' if nothing but new empty
    directories)."""
    changed = [f"{name} changed" for name in before if name in after and after[name] != before[name]]
    changed += [f"{name} removed" for name in before if name not in after]
    changed += [f"{name} appeared" for name in after if name not in before and after[name] != ("dir",)]
    return ", ".join(sorted(changed))


# ---- a. special files ------------------------------------------------------------------------------

SPECIAL = ("FIFO", "/dev/null (a device node)", "/dev/zero (a device node)", "directory", "symlink to a FIFO",
           "symlink to /dev/null", "symlink to /dev/zero", "symlink to a directory", "dangling symlink")
DIRECTORY_KINDS = ("directory", "symlink to a directory")  # what a directory place should hold


def make_special(kind, path, aside):
    """Put ``kind`` (one of SPECIAL) at ``path``; the files that symbolic links point to go
    into the directory ``aside``."""
    target = os.path.join(aside, f"target{len(os.listdir(aside))}")
    if kind == "FIFO":
        os.mkfifo(path)
    elif kind == "/dev/null (a device node)":
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    elif kind == "/dev/zero (a device node)":
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 5))
    elif kind == "directory":
        os.mkdir(path)
    elif kind == "symlink to a FIFO":
        os.mkfifo(target)
        os.symlink(target, path)
    elif kind == "symlink to /dev/null":
        os.symlink("/dev/null", path)
    elif kind == "symlink to /dev/zero":
        os.symlink("/dev/zero", path)
    elif kind == "symlink to a directory":
        os.mkdir(target)
        os.symlink(target, path)
    elif kind == "dangling symlink":
        os.symlink(target, path)
    else:
        raise ValueError(f"kind must be one of {SPECIAL}, got {kind!r}")


def identity(path):
    """What is at ``path`` (not following a link): its type, the link's target, a directory's entries."""
    mode = os.lstat(path).st_mode
    link = os.readlink(path) if stat.S_ISLNK(mode) else None
    entries = sorted(os.listdir(path)) if os.path.isdir(path) else None
    return stat.S_IFMT(mode), link, entries


@dataclasses.dataclass
class Place:
    """Where a file is read or written: ``prepare(fx, work)`` lays out the valid files and
    returns the path the special file takes; ``attempt(fx, work, path)`` reads or writes
    it and judges the outcome -> (passed, detail)."""

    name: str
    prepare: object
    attempt: object
    output: bool = False     # written: a dangling symlink may be written through
    directory: bool = False  # a directory belongs there (its directory kinds are not hostile)


def _copy_of(source, name=None):
    """``prepare`` of a place inside a copy of the fixture directory ``source`` (an attribute
    of Fixture): the copy, without its member ``name`` (default: the sweep task's result)."""
    def prepare(fx, work):
        member = name or fx.task.name + ".npz"
        copy_dir = os.path.join(work, os.path.basename(getattr(fx, source)))
        shutil.copytree(getattr(fx, source), copy_dir)
        os.remove(os.path.join(copy_dir, member))
        return os.path.join(copy_dir, member)
    return prepare


def _in_work(name, make_dirs=()):
    """``prepare`` of a place ``work/name`` (after creating the directories ``make_dirs``)."""
    def prepare(fx, work):
        for d in make_dirs:
            os.makedirs(os.path.join(work, d))
        return os.path.join(work, name)
    return prepare


def _read_checkpoint(fx, work, path):
    return refusal(in_child(api(Run.load, path, fx.config)), ["run.npz"], ("ValueError",))


def _resume_checkpoint(fx, work, path):
    return cli_refusal(in_child(cli(fx.train_argv + ["--checkpoint", path, "--resume"])), ["run.npz"], codes=(2,))


def _resume_sweep(fx, work, path):
    out = in_child(api(run_sweep, [fx.task], os.path.dirname(path), settings=fx.settings, jobs=0))
    return refusal(out, [os.path.basename(path)], ("SweepError",))


def _read_result(fx, work, path):
    out = in_child(api(load_result, os.path.dirname(path), fx.task.name, fx.task, fx.settings))
    return refusal(out, [os.path.basename(path)], ("ValueError",))


def _read_vectors(fx, work, path):
    return refusal(in_child(api(vectors.load, os.path.dirname(path))), [os.path.basename(path)], ("ValueError",))


def _new_checkpoint_cli(fx, work, path):
    return cli_refusal(in_child(cli(fx.train_argv + ["--checkpoint", path])), ["run.npz"])


def _new_checkpoint_api(fx, work, path):
    out = in_child(api(Run(fx.config).train, until=2, checkpoint=path))
    return refusal(out, [os.path.basename(path)], ("ValueError", "OSError"))


def _history_cli(fx, work, path):
    return cli_refusal(in_child(cli(fx.train_argv + ["--out", path])), [os.path.basename(path)])


def _spectrum_cli(fx, work, path):
    return cli_refusal(in_child(cli(SPECTRUM + ["--out", path])), [os.path.basename(path)])


def _new_sweep(fx, work, path):
    out = in_child(api(run_sweep, [fx.task], path, settings=fx.settings, jobs=0))
    return refusal(out, [os.path.basename(path)], ("SweepError",))


def _new_sweep_in(fx, work, path):
    out = in_child(api(run_sweep, [fx.task], os.path.dirname(path), settings=fx.settings, jobs=0))
    return refusal(out, [os.path.basename(path)], ("SweepError",))


def _checkpoint_beside(fx, work, path):
    out = in_child(api(Run(fx.config).train, until=2, checkpoint=path[:-len(".lock")]))
    return refusal(out, [os.path.basename(path)], ("OSError",))


def _vectors_cli(fx, work, path):
    return cli_refusal(in_child(cli(["vectors", "--out", path, "--cases", CASE])), [os.path.basename(path)])


def _vectors_write(fx, work, path):
    out = in_child(api(vectors.write, os.path.dirname(path), [CASE]))
    return refusal(out, [os.path.basename(path)], ("OSError",))


PLACES = [
    Place("checkpoint read by Run.load", _in_work("run.npz"), _read_checkpoint),
    Place("checkpoint read by train --resume", _in_work("run.npz"), _resume_checkpoint),
    Place("manifest.json of a sweep resumed by run_sweep", _copy_of("results", "manifest.json"), _resume_sweep),
    Place("result .npz read by load_result", _copy_of("results"), _read_result),
    Place("result .npz of a sweep resumed by run_sweep", _copy_of("results"), _resume_sweep,
          output=True),
    Place("cases.json read by vectors.load", _copy_of("vectors", "cases.json"), _read_vectors),
    Place("case .npz read by vectors.load", _copy_of("vectors", CASE + ".npz"), _read_vectors),
    Place("checkpoint of a new run, train --checkpoint", _in_work("run.npz"), _new_checkpoint_cli, output=True),
    Place("checkpoint of a new run, Run.train(checkpoint=)", _in_work("run.npz"), _new_checkpoint_api, output=True),
    Place("history, train --out .json", _in_work("history.json"), _history_cli, output=True),
    Place("spectrum --out .json", _in_work("spectrum.json"), _spectrum_cli, output=True),
    Place("spectrum --out .npz", _in_work("spectrum.npz"), _spectrum_cli, output=True),
    Place("results directory of a new sweep, run_sweep", _in_work("results"), _new_sweep, directory=True),
    Place("lock of a new sweep, <results>/.lock", _in_work(os.path.join("results", ".lock"), ["results"]),
          _new_sweep_in),
    Place("lock of a checkpoint, <checkpoint>.lock", _in_work("run.npz.lock"), _checkpoint_beside),
    Place("directory of vectors --out", _in_work("vectors"), _vectors_cli, directory=True),
    Place("cases.json written by vectors.write", _in_work(os.path.join("vectors", "cases.json"), ["vectors"]),
          _vectors_write, output=True),
    Place("case .npz written by vectors.write", _in_work(os.path.join("vectors", CASE + ".npz"), ["vectors"]),
          _vectors_write, output=True),
]


def special_case(fx, place, kind):
    work = fx.work()
    aside = os.path.join(work, "aside")
    os.mkdir(aside)
    path = place.prepare(fx, work)
    make_special(kind, path, aside)
    before = identity(path)
    start = time.monotonic()
    passed, detail = place.attempt(fx, work, path)
    seconds = time.monotonic() - start
    if kind == "dangling symlink" and place.output and not passed and os.path.isfile(path):
        if detail.startswith(("no error", "exit code 0")):  # the writer succeeded
            passed, detail = True, "written through, as documented: the link stays, the file it names was written"
    if passed and identity(path) != before:
        passed, detail = False, f"the {kind} was replaced or changed: now {identity(path)}; " + detail
    return passed, f"{detail} ({seconds:.1f} s)"


def family_special(fx):
    family = Family("a. special files in place of each file (FIFO, device nodes, directory, symbolic links)")
    probe = os.path.join(fx.base, "probe-node")
    try:
        os.mknod(probe, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        kinds = SPECIAL
    except OSError as exc:
        kinds = tuple(k for k in SPECIAL if "device node" not in k)
        family.skip("device nodes", f"mknod is not permitted here ({exc.strerror}): only the symbolic links to "
                                    "/dev/null and /dev/zero are tried")
    for place in PLACES:
        for kind in kinds:
            if place.directory and kind in DIRECTORY_KINDS:
                continue  # a directory is what belongs there
            family.case(f"{place.name} <- {kind}", special_case, fx, place, kind)
    family.summary()
    return family


# ---- b. hostile JSON ---------------------------------------------------------------------------------

RAW = "@@raw@@"
DUPLICATE = "@@duplicate@@"


def _member(doc, where):
    for key in where:
        doc = doc[key]
    return doc


def with_raw(doc, where, raw):
    """The JSON text of ``doc`` with the member at ``where`` (a tuple of keys; () for the
    whole document) replaced by the raw JSON text ``raw``."""
    if not where:
        return raw
    doc = copy.deepcopy(doc)
    _member(doc, where[:-1])[where[-1]] = RAW
    return json.dumps(doc).replace(json.dumps(RAW), raw, 1)


def with_value(doc, where, value):
    return with_raw(doc, where, json.dumps(value))


def with_duplicate(doc, where, first):
    """The JSON text of ``doc`` in which the key at ``where`` appears twice: first with the
    value ``first``, then with its own (which a parser that keeps the last one reads)."""
    doc = copy.deepcopy(doc)
    parent = _member(doc, where[:-1])
    rebuilt = {DUPLICATE: 0, **parent}
    parent.clear()
    parent.update(rebuilt)
    return json.dumps(doc).replace(f'"{DUPLICATE}": 0', f"{json.dumps(where[-1])}: {json.dumps(first)}", 1)


def deep_lists(depth):
    return "[" * depth + "1" + "]" * depth


def deep_objects(depth):
    return '{"a": ' * depth + "1" + "}" * depth


def dotted(where):
    """A member's path for a case's name (a 10 MB key shown in brief)."""
    return clip(".".join(where), 60) if where else "the document"


@dataclasses.dataclass
class JsonPlace:
    """A JSON document floss_ref reads.  ``write(fx, work, text) -> path`` puts a file
    holding ``text`` where the reader looks; ``attempts`` are (label, attempt(fx, path,
    field) -> (passed, detail)).  The fields of the valid ``doc`` that the hostile
    documents change: ``deep`` (an object to nest into), ``strings`` (a 10 MB string
    each: (where, value)), ``duplicates``, ``number`` (NaN and Infinity), and
    ``wrong_types`` ((where, value, what the message must name))."""

    name: str
    doc: dict
    write: object
    attempts: list
    deep: tuple
    strings: list
    duplicates: list
    number: tuple
    wrong_types: list
    field: str = None  # what every refusal names (a member of an archive), if not the field itself


def hostile_documents(place):
    """(label, JSON text, field the refusal must name or None) of each hostile document."""
    doc = place.doc
    yield "nested 3000 deep (lists, the whole document)", deep_lists(3000), None
    yield f"nested 3000 deep (objects, in {dotted(place.deep)})", with_raw(doc, place.deep, deep_objects(3000)), None
    yield "nested 100000 deep (lists, the whole document)", deep_lists(100000), None
    yield (f"nested 100000 deep (objects, in {dotted(place.deep)})",
           with_raw(doc, place.deep, deep_objects(100000)), None)
    yield ("17 MiB, beyond the 16 MiB bound (a long list in 'padding')",
           with_raw(doc, ("padding",), "[" + "0," * (17 << 19) + "0]"), None)
    for where, value in place.strings:
        yield f"a 10 MB string in {dotted(where)}", with_value(doc, where, value), where[-1]
    for where in place.duplicates:
        yield f"duplicate key {dotted(where)}", with_duplicate(doc, where, "not-this"), where[-1]
    for token in ("NaN", "Infinity", "-Infinity", "1e400"):  # the last: read by Python as infinity
        yield f"{token} in {dotted(place.number)}", with_raw(doc, place.number, token), place.number[-1]
    for where, value, field in place.wrong_types:
        yield f"{dotted(where)} = {clip(json.dumps(value), 40)}", with_value(doc, where, value), field


def _rewritten_npz(source, target, member, text, rehash=False):
    """Copy the archive ``source`` to ``target`` with the text member ``member`` set to ``text``
    (and the sweep result's hash recomputed)."""
    with np.load(source) as z:
        arrays = {k: z[k] for k in z.files}
    arrays[member] = np.array(text)
    if rehash:
        arrays["meta/sha256"] = np.array(content_hash({k: v for k, v in arrays.items()
                                                       if k not in ("meta/sha256", "meta/seconds")}))
    np.savez(target, **arrays)
    return target


def _write_header(fx, work, text):
    return _rewritten_npz(fx.ckpt, os.path.join(work, "run.npz"), "__header__", text)


def _write_manifest(fx, work, text):
    results = os.path.join(work, "results")
    shutil.copytree(fx.results, results)
    with open(os.path.join(results, "manifest.json"), "w") as f:
        f.write(text)
    return os.path.join(results, "manifest.json")


def _write_result_member(member):
    def write(fx, work, text):
        results = os.path.join(work, "results")
        shutil.copytree(fx.results, results)
        path = os.path.join(results, fx.task.name + ".npz")
        return _rewritten_npz(path, path, member, text, rehash=True)
    return write


def _write_cases(fx, work, text):
    directory = os.path.join(work, "vectors")
    shutil.copytree(fx.vectors, directory)
    with open(os.path.join(directory, "cases.json"), "w") as f:
        f.write(text)
    return os.path.join(directory, "cases.json")


def _json_load_checkpoint(fx, path, field):
    return refusal(in_child(api(Run.load, path, fx.config)), ["run.npz"], ("ValueError",), field)


def _json_resume(fx, path, field):
    out = in_child(cli(fx.train_argv + ["--checkpoint", path, "--resume"]))
    return cli_refusal(out, ["run.npz"], codes=(2,), field=field)


def _json_sweep(fx, path, field):
    """A refusal names the manifest, or (settings that differ) its results directory."""
    out = in_child(api(run_sweep, [fx.task], os.path.dirname(path), settings=fx.settings, jobs=0))
    return refusal(out, [os.path.dirname(path)], ("SweepError",), field)


def _json_result(fx, path, field):
    out = in_child(api(load_result, os.path.dirname(path), fx.task.name, fx.task, fx.settings))
    return refusal(out, [os.path.basename(path)], ("ValueError",), field)


def _json_vectors(fx, path, field):
    return refusal(in_child(api(vectors.load, os.path.dirname(path))), ["cases.json"], ("ValueError",), field)


TEN_MB = "x" * 10_000_000
KEY_10MB = "k" * 10_000_000  # a member's name of 10 MB


def json_places(fx):
    with np.load(fx.ckpt) as z:
        header = json.loads(str(z["__header__"]))
    with open(os.path.join(fx.results, "manifest.json")) as f:
        manifest = json.load(f)
    with np.load(os.path.join(fx.results, fx.task.name + ".npz")) as z:
        task_doc, settings_doc = json.loads(str(z["meta/task"])), json.loads(str(z["meta/settings"]))
    with open(os.path.join(fx.vectors, "cases.json")) as f:
        cases = json.load(f)
    name = fx.task.name
    return [
        JsonPlace("checkpoint header", header, _write_header,
                  [("Run.load", _json_load_checkpoint), ("train --resume", _json_resume)],
                  deep=("meta", "rng"), strings=[(("format",), TEN_MB), (("config", "task"), TEN_MB)],
                  duplicates=[("format",), ("config", "task"), ("meta", "epoch")], number=("meta", "epoch"),
                  wrong_types=[((), [], "object"), (("format",), 1, "format"), (("config",), [], "config"),
                               (("meta",), "x", "meta"), (("meta", "epoch"), "3", "epoch"),
                               (("meta", "epoch"), 2.0, "epoch"), (("meta", "epoch"), True, "epoch"),
                               (("meta", "rng"), [], "random generator"), (("config", "N"), "8", "N:"),
                               (("config", KEY_10MB), 1, "in the checkpoint")]),
        JsonPlace("sweep manifest", manifest, _write_manifest, [("run_sweep", _json_sweep)],
                  deep=("settings",), strings=[(("format",), TEN_MB), (("settings", "script"), TEN_MB)],
                  duplicates=[("format",), ("settings", "script"), ("tasks", name, "kind")],
                  number=("tasks", name, "params", "lr"),
                  wrong_types=[((), [], "object"), (("format",), 1, "format"), (("settings",), [], "settings"),
                               (("tasks",), [], "tasks"), (("tasks", name), 3, f"tasks.{name}"),
                               (("tasks", name, "kind"), 1, "kind"), (("tasks", name, "params"), "x", "params"),
                               (("settings", KEY_10MB), 1, "differing"), (("tasks", KEY_10MB), 3, "tasks.")]),
        JsonPlace("result metadata meta/task", task_doc, _write_result_member("meta/task"),
                  [("load_result", _json_result)], deep=("params",),
                  strings=[(("kind",), TEN_MB), (("params", "task"), TEN_MB)],
                  duplicates=[("kind",), ("params", "task")], number=("params", "lr"),
                  wrong_types=[((), [], None), (("kind",), 1, None), (("params",), [], None)], field="meta/task"),
        JsonPlace("result metadata meta/settings", settings_doc, _write_result_member("meta/settings"),
                  [("load_result", _json_result)], deep=("deep",), strings=[(("script",), TEN_MB)],
                  duplicates=[("script",)], number=("x",),
                  wrong_types=[((), "x", None), ((), [], None), (("script",), 1, None), ((KEY_10MB,), 1, None)],
                  field="meta/settings"),
        JsonPlace("cases.json", cases, _write_cases, [("vectors.load", _json_vectors)],
                  deep=("conventions",),
                  strings=[(("format",), TEN_MB), (("cases", CASE, "file"), TEN_MB + ".npz")],
                  duplicates=[("format",), ("cases", CASE, "settings", "T")],
                  number=("cases", CASE, "digits", "loss"),
                  wrong_types=[((), [], "format"), (("format",), 1, "format"), (("seed",), "0", "seed"),
                               (("conventions",), [], "conventions"), (("cases",), [], "cases"),
                               (("cases", CASE), 1, f"cases.{CASE}"), (("cases", CASE, "file"), 7, "file"),
                               (("cases", CASE, "file"), "../x.npz", "file"), (("cases", CASE, "sha256"), [], "sha256"),
                               (("cases", CASE, "sha256", "h0"), 1, "sha256.h0"),
                               (("cases", CASE, "settings", "T"), "20", "settings.T"),
                               (("cases", CASE, "settings", "T"), True, "settings.T"),
                               (("cases", CASE, "digits", "loss"), "16", "digits.loss"),
                               (("cases", KEY_10MB), 1, "cases.")]),
    ]


def json_case(fx, place, text, attempt, field):
    path = place.write(fx, fx.work(), text)
    start = time.monotonic()
    passed, detail = attempt(fx, path, field)
    return passed, f"{detail} ({time.monotonic() - start:.1f} s)"


def family_json(fx):
    family = Family("b. hostile JSON in each JSON document (deep, huge, 10 MB strings, duplicate keys, NaN, types)")
    for place in json_places(fx):
        for label, text, field in hostile_documents(place):
            if place.field is not None:
                field = place.field
            for how, attempt in place.attempts:
                family.case(f"{place.name} ({how}): {label}", json_case, fx, place, text, attempt, field)
        if place.field == "meta/task":  # the member itself of another type than text
            family.case("result metadata meta/task (load_result): a number, not text", _result_member_number, fx)
    family.summary()
    return family


def _result_member_number(fx):
    results = os.path.join(fx.work(), "results")
    shutil.copytree(fx.results, results)
    path = os.path.join(results, fx.task.name + ".npz")
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["meta/task"] = np.array(1.0)
    arrays["meta/sha256"] = np.array(content_hash({k: v for k, v in arrays.items()
                                                   if k not in ("meta/sha256", "meta/seconds")}))
    np.savez(path, **arrays)
    return _json_result(fx, path, "meta/task")


# ---- c. concurrent writers -----------------------------------------------------------------------------

SWEEP_DRIVER = """
import json, sys
sys.path.insert(0, {root!r})
from floss_ref.runs.sweep import SweepError, SweepTask, run_sweep
config = json.loads(sys.argv[3])
tasks = [SweepTask(f"t{{i}}", "train", dict(config, seed=i)) for i in range(int(sys.argv[4]))]
try:
    run_sweep(tasks, sys.argv[1], settings={{"driver": sys.argv[2]}}, jobs=0)
except SweepError as exc:
    print(f"sweep driver {{sys.argv[2]}}: {{exc}}", file=sys.stderr)
    sys.exit(1)
"""
SWEEP_CONFIG = dataclasses.replace(LONG, epochs=1500).to_dict()  # about 2 s per task


def start_train(argv):
    return subprocess.Popen([sys.executable, "-m", "floss_ref", *argv], env=ENV, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def start_driver(results, label, tasks=2):
    return subprocess.Popen([sys.executable, "-c", SWEEP_DRIVER.format(root=ROOT), results, label,
                             json.dumps(SWEEP_CONFIG), str(tasks)], env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def finish(processes, timeout=240):
    """(exit code, stderr, seconds from now until it ended) of each process, killing those
    still running after ``timeout`` s (exit code None).  Their output is a few lines: it
    fits in the pipes while they run."""
    start, ended = time.monotonic(), {}
    while len(ended) < len(processes) and time.monotonic() - start < timeout:
        for i, p in enumerate(processes):
            if i not in ended and p.poll() is not None:
                ended[i] = time.monotonic() - start
        time.sleep(0.05)
    out = []
    for i, p in enumerate(processes):
        if i not in ended:
            p.kill()
        _, err = p.communicate()
        out.append((p.returncode if i in ended else None, err, ended.get(i)))
    return out


def wait_for(condition, seconds=120, every=0.05):
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(every)
    return True


def lock_holder(lock_path):
    """The pid written into a writer's lock file, or None."""
    try:
        with open(lock_path) as f:
            return json.load(f).get("pid")
    except (OSError, ValueError, AttributeError):
        return None


def stray_files(directory):
    """Lock and temporary files left in ``directory``."""
    return sorted(n for n in os.listdir(directory) if n.endswith((".lock", ".tmp")))


def two_trainers(fx):
    work = fx.work()
    ckpt = os.path.join(work, "same.npz")
    argv = train_argv(LONG) + ["--checkpoint", ckpt, "--checkpoint-every", "200"]
    first, second = start_train(argv), start_train(argv)
    results = finish([first, second])
    codes = [code for code, _, _ in results]
    if sorted(codes, key=str) != [0, 1]:
        return False, f"exit codes {codes} (wanted one 0 and one 1): {clip(' | '.join(e for _, e, _ in results))}"
    winner, (_, err, seconds) = (first, results[1]) if codes[0] == 0 else (second, results[0])
    wanted = f"is being written by pid {winner.pid}"
    if len(err.strip().splitlines()) != 1 or wanted not in err or "Traceback" in err:
        return False, f"the refused writer printed: {clip(err)} (wanted one line with {wanted!r})"
    if seconds > TIMEOUT:
        return False, f"the refused writer ended only after {seconds:.1f} s"
    problem = _left_clean(ckpt, work, "the checkpoint")
    if problem:
        return False, problem
    return True, (f"one wrote ({LONG.epochs} epochs, loads), the other exit 1 after {seconds:.1f} s (with the "
                  f"interpreter's start): {clip(err.strip())}")


def _epoch_of(ckpt, config):
    return Run.load(ckpt, config).epoch


def _left_clean(ckpt, work, what):
    """None if ``ckpt`` loads at the run's last epoch and ``work`` holds no lock or
    temporary file; otherwise what is wrong."""
    loaded = in_child(functools.partial(_epoch_of, ckpt, LONG))
    if loaded != ("returned", LONG.epochs):
        return f"{what} does not load at epoch {LONG.epochs}: {_not_a_refusal(*loaded)}"
    if stray_files(work):
        return f"left behind: {stray_files(work)}"
    return None


def two_drivers(fx):
    results = os.path.join(fx.work(), "results")
    drivers = [start_driver(results, "A"), start_driver(results, "B")]
    out = finish(drivers)
    codes = [code for code, _, _ in out]
    if sorted(codes, key=str) != [0, 1]:
        return False, f"exit codes {codes} (wanted one 0 and one 1): {clip(' | '.join(e for _, e, _ in out))}"
    won = codes.index(0)
    winner, label, (_, err, seconds) = drivers[won], "AB"[won], out[1 - won]
    if f"is being written by pid {winner.pid}" not in err or "Traceback" in err:
        return False, f"the second driver was not refused by the lock naming pid {winner.pid}: {clip(err)}"
    if seconds > TIMEOUT:
        return False, f"the refused driver ended only after {seconds:.1f} s"
    kept = _settings_in(results)
    if kept != {json.dumps({"driver": label})}:
        return False, f"the directory holds results of the settings {sorted(kept)}, not only driver {label}'s"
    if stray_files(results):
        return False, f"left behind: {stray_files(results)}"
    return True, (f"driver {label} wrote every result, the other exit 1 after {seconds:.1f} s: "
                  f"{clip(err.strip())}")


def _settings_in(results):
    """The settings of the manifest and of every result in ``results`` (JSON texts)."""
    with open(os.path.join(results, "manifest.json")) as f:
        settings = {json.dumps(json.load(f)["settings"])}
    for arrays in load_results(results).values():
        settings.add(json.dumps(json.loads(str(arrays["meta/settings"]))))
    return settings


def second_writer_while_held(fx):
    """A ``train --checkpoint`` process holds the lock; every other writer is refused
    naming it, and a reader is not."""
    work = fx.work()
    ckpt = os.path.join(work, "held.npz")
    holder = start_train(train_argv(LONG) + ["--checkpoint", ckpt, "--checkpoint-every", "100"])
    try:
        if not wait_for(lambda: lock_holder(ckpt + ".lock") == holder.pid and os.path.exists(ckpt)):
            return False, f"the holder did not lock and checkpoint within 120 s: {clip(finish([holder], 1)[0][1])}"
        wanted = f"is being written by pid {holder.pid}"
        checks = [
            ("train()", refusal(in_child(api(train, LONG, checkpoint=ckpt)), [wanted], ("FileLockedError",))),
            ("Run.train", refusal(in_child(api(Run(LONG).train, until=1, checkpoint=ckpt)), [wanted],
                                  ("FileLockedError",))),
            ("train --checkpoint", cli_refusal(in_child(cli(train_argv(LONG) + ["--checkpoint", ckpt])), [wanted],
                                               codes=(1,))),
            ("train --resume", cli_refusal(in_child(cli(train_argv(LONG) + ["--checkpoint", ckpt, "--resume"])),
                                           [wanted], codes=(1,))),
        ]
        reader = in_child(functools.partial(_epoch_of, ckpt, LONG))
        if holder.poll() is not None:
            return False, "the holder ended before every second writer was tried: the case proves nothing"
    finally:
        holder.kill()
        holder.wait()
    bad = [f"{name}: {detail}" for name, (ok, detail) in checks if not ok]
    if reader[0] != "returned":
        bad.append(f"Run.load (a reader takes no lock) failed: {_not_a_refusal(*reader)}")
    if bad:
        return False, "; ".join(bad)
    return True, "train(), Run.train, train --checkpoint and --resume refused naming the holder; Run.load read"


def killed_trainer(fx):
    work = fx.work()
    ckpt = os.path.join(work, "killed.npz")
    argv = train_argv(LONG) + ["--checkpoint", ckpt, "--checkpoint-every", "1"]
    victim = start_train(argv)
    if not wait_for(lambda: os.path.exists(ckpt)):
        victim.kill()
        return False, f"no checkpoint within 120 s: {clip(finish([victim], 1)[0][1])}"
    time.sleep(0.5)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    start = time.monotonic()
    argv[-1] = "1000"  # --checkpoint-every: the rest of the run need not write every epoch
    (code, err, _), = finish([start_train(argv + ["--resume"])])
    if code != 0:
        return False, f"the next writer (--resume) exit {code}: {clip(err)}"
    problem = _left_clean(ckpt, work, "the resumed checkpoint")
    if problem:
        return False, problem
    return True, (f"after SIGKILL of the writer, train --resume took the lock and finished in "
                  f"{time.monotonic() - start:.1f} s; no lock or temporary file left")


def killed_driver(fx):
    results = os.path.join(fx.work(), "results")
    victim = start_driver(results, "A", tasks=3)
    if not wait_for(lambda: lock_holder(os.path.join(results, ".lock")) == victim.pid
                    and os.path.exists(os.path.join(results, "manifest.json"))):
        victim.kill()
        return False, f"the driver did not start within 120 s: {clip(finish([victim], 1)[0][1])}"
    wanted = f"is being written by pid {victim.pid}"
    second = refusal(in_child(api(run_sweep, [SweepTask("t0", "train", dict(SWEEP_CONFIG, seed=0))], results,
                                  settings={"driver": "A"}, jobs=0)), [wanted], ("SweepError",))
    time.sleep(0.5)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    if not second[0]:
        return False, "a second driver while the first ran: " + second[1]
    (code, err, _), = finish([start_driver(results, "A", tasks=3)])
    if code != 0:
        return False, f"the next driver exit {code}: {clip(err)}"
    done = sorted(load_results(results))
    if done != ["t0", "t1", "t2"] or stray_files(results):
        return False, f"results {done}, left behind {stray_files(results)}"
    return True, (f"a second driver was refused ({clip(second[1], 90)}); after SIGKILL of the first, the next "
                  "driver finished all 3 tasks; no lock or temporary file left")


def family_writers(fx):
    family = Family("c. concurrent writers (two processes started together; a writer killed by SIGKILL)")
    family.case("two `python -m floss_ref train --checkpoint same.npz` started together", two_trainers, fx)
    family.case("two sweep drivers, different settings, one new results directory, started together",
                two_drivers, fx)
    family.case("writers while a `train --checkpoint` process holds the lock", second_writer_while_held, fx)
    family.case("`train --checkpoint` killed by SIGKILL mid-run, then `train --resume`", killed_trainer, fx)
    family.case("sweep driver killed by SIGKILL mid-run, then the next driver", killed_driver, fx)
    family.summary()
    return family


# ---- d. full disk, read-only file system, read-only directory -------------------------------------------

def mount_tmpfs(directory, options):
    """Mount a tmpfs at ``directory``; None, or why it cannot be mounted."""
    os.makedirs(directory, exist_ok=True)
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", directory], capture_output=True,
                           text=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"mount could not be run: {exc}"
    return None if r.returncode == 0 else (r.stderr.strip() or f"mount exited with {r.returncode}")


def unmount(directory):
    subprocess.run(["umount", directory], capture_output=True, timeout=30)
    if os.path.ismount(directory):
        subprocess.run(["umount", "-l", directory], capture_output=True, timeout=30)


def fill(directory):
    """Write ``directory``/filler until its file system is full (ENOSPC)."""
    with open(os.path.join(directory, "filler"), "ab", buffering=0) as f:
        for size in (1 << 16, 4096, 1):
            while True:
                try:
                    if f.write(b"\0" * size) == 0:
                        break
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break


def empty(directory):
    for name in os.listdir(directory):
        path = os.path.join(directory, name)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)


@dataclasses.dataclass
class Writer:
    """A writer tried against a full or read-only place: the command line ``argv`` with the
    output's path appended, or the API call ``call(fx, path)`` (a function for
    :func:`in_child`) that must raise one of ``classes``; ``setup(fx, place)`` lays out what
    must exist first (the checkpoint to resume)."""

    name: str
    target: str
    argv: list = None
    call: object = None
    classes: tuple = ("OSError",)
    setup: object = None


def _checkpoint_copy(fx, place):
    shutil.copyfile(fx.ckpt, os.path.join(place, "run.npz"))


def _train_call(fx, path):
    return api(Run(fx.config).train, until=2, checkpoint=path)


def _sweep_call(fx, path):
    return api(run_sweep, [fx.task], path, settings=fx.settings, jobs=0)


def _vectors_call(fx, path):
    return api(vectors.write, path, [CASE])


def writers(fx):
    return [
        Writer("train --checkpoint (a new run)", "new.npz", argv=fx.train_argv + ["--checkpoint"]),
        Writer("train --resume --checkpoint (the next checkpoint)", "run.npz",
               argv=fx.train_argv + ["--resume", "--checkpoint"], setup=_checkpoint_copy),
        Writer("train --out .json", "history.json", argv=fx.train_argv + ["--out"]),
        Writer("train --out .npz", "history.npz", argv=fx.train_argv + ["--out"]),
        Writer("spectrum --out .json", "spectrum.json", argv=SPECTRUM + ["--out"]),
        Writer("spectrum --out .npz", "spectrum.npz", argv=SPECTRUM + ["--out"]),
        Writer("vectors --out", "vectors", argv=["vectors", "--cases", CASE, "--out"]),
        Writer("Run.train(checkpoint=)", "new.npz", call=_train_call),
        Writer("run_sweep (a new results directory)", "results", call=_sweep_call, classes=("SweepError",)),
        Writer("vectors.write", "vectors", call=_vectors_call),
    ]


def write_case(fx, writer, place, drop_dac_override=False):
    """Try ``writer`` on the full or read-only ``place``: one documented error naming the
    output (the command line: exit 1, one line), and nothing in ``place`` changed (new
    empty directories aside)."""
    path = os.path.join(place, writer.target)
    before = tree(place)
    if writer.argv is not None:
        outcome = in_child(cli(writer.argv + [path]), drop_dac_override=drop_dac_override)
        passed, detail = cli_refusal(outcome, [writer.target], codes=(1,))
    else:
        outcome = in_child(writer.call(fx, path), drop_dac_override=drop_dac_override)
        passed, detail = refusal(outcome, [writer.target], writer.classes)
    changed = leftovers(before, tree(place))
    if passed and changed:
        passed, detail = False, f"left behind: {changed}; {detail}"
    return passed, detail


def family_disk(fx, mount_mode):
    """``mount_mode``: "direct" (mount here, else in ``unshare -rm``), "unshare" (only
    there), or "namespace" (this process runs in the namespace ``unshare`` made)."""
    family = Family("d. full disk, read-only file system, read-only directory")
    base = os.path.join(fx.base, "disk")
    os.makedirs(base)
    full, ro = os.path.join(base, "full"), os.path.join(base, "ro")
    why = "not tried here (--mount unshare)" if mount_mode == "unshare" else mount_tmpfs(full, "size=64k")
    if why is None:
        try:
            _full_disk_cases(fx, family, full)
            _read_only_mount_cases(fx, family, ro)
        finally:
            unmount(full)
            unmount(ro)
    elif mount_mode != "namespace" and shutil.which("unshare"):
        print(f"  mount -t tmpfs -o size=64k: {why}; trying in a new mount namespace (unshare -rm)", flush=True)
        _in_namespace(fx, family)
    else:
        where = " in a new mount namespace (unshare -rm)" if mount_mode == "namespace" else ""
        family.skip("full disk (a 64 kB tmpfs) and read-only file system",
                    f"no tmpfs can be mounted{where}: mount -t tmpfs -o size=64k: {why}")
    if mount_mode != "namespace":
        _read_only_directory_cases(fx, family, os.path.join(base, "mode0555"))
    family.summary()
    return family


def _in_namespace(fx, family):
    """Run the tmpfs cases in a child started by ``unshare -rm`` (its own mount namespace,
    as a mapped root), counting its cases in ``family``."""
    script = os.path.join(HERE, "fuzz_files.py")
    r = subprocess.run(["unshare", "-rm", sys.executable, script, "--families", "disk", "--mount", "namespace",
                        "--out", "-"], capture_output=True, text=True, env=ENV, timeout=1800)
    lines = [line for line in r.stdout.splitlines() if line.startswith("  ") and not line.startswith("    ")]
    if r.returncode not in (0, 1) or not lines:
        family.skip("full disk (a 64 kB tmpfs) and read-only file system",
                    f"unshare -rm could not run them either (exit {r.returncode}): {clip(r.stderr or r.stdout, 300)}")
        return
    for line in lines:
        print(line, flush=True)
        if not line.startswith(("  ok   ", "  FAIL ", "  SKIPPED ")):
            continue  # what the child says about its mounts
        if line.startswith("  SKIPPED "):
            family.skipped.append(line)
            continue
        family.tried += 1
        if line.startswith("  FAIL "):
            family.failures.append(line[len("  FAIL "):])


def _full_disk_cases(fx, family, full):
    print("  a 64 kB tmpfs, filled until ENOSPC before each writer", flush=True)
    for writer in writers(fx):
        empty(full)
        if writer.setup is not None:
            writer.setup(fx, full)
        fill(full)
        family.case(f"full disk: {writer.name}", write_case, fx, writer, full)
    # the manifest fits, the result does not: the sweep reports the task by name
    empty(full)
    family.case("full disk after the manifest: run_sweep reports the task whose result cannot be saved",
                _sweep_fills_up, fx, full)
    empty(full)


def _sweep_fills_up(fx, full):
    page = os.sysconf("SC_PAGE_SIZE")
    with open(os.path.join(fx.results, "manifest.json"), "rb") as f:
        manifest_pages = -(-len(f.read()) // page)
    reserve = os.path.join(full, "reserve")
    with open(reserve, "wb") as f:
        f.write(b"\0" * page * (1 + manifest_pages))  # the lock's holder line and the manifest
    fill(full)
    os.remove(reserve)
    results = os.path.join(full, "results")
    outcome = in_child(api(run_sweep, [fx.task], results, settings=fx.settings, jobs=0))
    passed, detail = refusal(outcome, [fx.task.name, "saving the result failed", "No space left on device"],
                             ("SweepError",))
    if not passed:
        return passed, detail
    left = sorted(os.listdir(results))
    if left != ["manifest.json"]:
        return False, f"the results directory holds {left}, wanted only the manifest; {detail}"
    with open(os.path.join(results, "manifest.json")) as f:
        json.load(f)
    return True, detail


def _read_only_mount_cases(fx, family, ro):
    why = mount_tmpfs(ro, "size=1m")
    if why is not None:
        family.skip("read-only file system", f"SKIPPED: a tmpfs cannot be mounted: {why}")
        return
    for writer in writers(fx):
        if writer.setup is not None:
            writer.setup(fx, ro)
    r = subprocess.run(["mount", "-o", "remount,ro", ro], capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        family.skip("read-only file system", f"SKIPPED: remount,ro refused: {r.stderr.strip()}")
        return
    print("  a tmpfs remounted read-only (EROFS)", flush=True)
    for writer in writers(fx):
        family.case(f"read-only file system: {writer.name}", write_case, fx, writer, ro)


def _read_only_directory_cases(fx, family, directory):
    os.makedirs(directory)
    for writer in writers(fx):
        if writer.setup is not None:
            writer.setup(fx, directory)
    os.chmod(directory, 0o555)
    try:
        drop = os.geteuid() == 0
        if drop:
            refused = in_child(functools.partial(_try_create, directory), drop_dac_override=True)
            if refused != ("returned", "refused"):
                family.skip("read-only directory (mode 0555)", "SKIPPED: running as root, and a child without "
                            f"CAP_DAC_OVERRIDE could still write into it ({refused})")
                return
            print("  a directory of mode 0555; running as root, which chmod does not stop: each writer runs in "
                  "a child without CAP_DAC_OVERRIDE", flush=True)
        else:
            print("  a directory of mode 0555", flush=True)
        for writer in writers(fx):
            family.case(f"read-only directory (mode 0555): {writer.name}", write_case, fx, writer, directory, drop)
    finally:
        os.chmod(directory, 0o755)


def _try_create(directory):
    try:
        with open(os.path.join(directory, "probe"), "wb"):
            return "created"
    except PermissionError:
        return "refused"


# ---- all of them --------------------------------------------------------------------------------

def run_families(names, base, config, task, settings, mount_mode="direct"):
    """Run the families ``names`` (of FAMILIES) on files made in ``base``; returns the Family objects."""
    fx = Fixture(base, config, task, settings)
    run = {"special": family_special, "json": family_json, "writers": family_writers}
    done = []
    for name in names:
        if name == "disk":
            done.append(family_disk(fx, mount_mode))
        else:
            done.append(run[name](fx))
    return done
