"""Shared pieces of the figure scripts: the scale options, the sweep call, CSV output and
the paper's plotting convention (median or mean as a solid line, 25-75 % percentile band,
individual runs faint).

Every figure script takes ``--quick`` (default; the whole set fits in 30 minutes on two
cores) or ``--paper`` (the paper's N = 80, T = 300, 10^4 epochs, 5-20 seeds: the size for a
cluster), ``--jobs`` local worker processes or ``--scheduler tcp://host:port`` for a Dask
cluster, and ``--results`` for the sweep's results directory (default
``validation/out/<script>/results_<scale>``; a finished task found there is not run again).
"""

import argparse
import csv
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # run from a checkout without installing
if hasattr(sys.stdout, "reconfigure"):  # whole lines at once, also into a log file
    sys.stdout.reconfigure(line_buffering=True)

from floss_ref.cli.options import float_range, int_at_least  # noqa: E402
from floss_ref.runs.sweep import SweepError, load_results, run_sweep  # noqa: E402

SCALES = ("quick", "paper")
COLORS = {"none": "tab:blue", "prefloss": "tab:orange", "during": "tab:green", "throughout": "tab:red"}


def provenance():
    """One line saying where and when a measurement was made: the floss_ref version and
    commit, Python, NumPy and its BLAS, the machine, the UTC time and the load average.
    Committed outputs under validation/results/ start with it."""
    import datetime
    import platform
    import subprocess

    import floss_ref
    from threadpoolctl import threadpool_info

    try:
        commit = subprocess.run(["git", "-C", HERE, "describe", "--always", "--dirty"], capture_output=True,
                                text=True, timeout=10).stdout.strip() or "unknown"
    except OSError:
        commit = "unknown"
    blas = ", ".join(f"{os.path.basename(os.path.dirname(i['filepath']))}: {i['internal_api']} {i.get('version')} "
                     f"{i.get('architecture')}" for i in threadpool_info() if i.get("user_api") == "blas") or "unknown"
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (f"floss_ref {floss_ref.__version__} (commit {commit}), Python {platform.python_version()}, "
            f"NumPy {np.__version__}, BLAS ({blas}), {platform.machine()} with {os.cpu_count()} cores, "
            f"{now}, load average {os.getloadavg()[0]:.2f}")


def code_hash():
    """A short hash of floss_ref's source (every ``.py`` file of the package, by path and
    content): a cache of computed results keyed by it is not reused after the code changes,
    committed or not."""
    import hashlib

    import floss_ref

    root = os.path.dirname(os.path.abspath(floss_ref.__file__))
    digest = hashlib.sha256()
    for directory, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(f for f in files if f.endswith(".py")):
            path = os.path.join(directory, name)
            digest.update(os.path.relpath(path, root).encode())
            with open(path, "rb") as f:
                digest.update(f.read())
    return digest.hexdigest()[:12]


def parser(name, doc):
    """An ArgumentParser with the options every figure script shares: the scale, the
    sweep's workers and results directory, the output directory."""
    p = scale_parser(name, doc)
    p.add_argument("--jobs", type=int_at_least(0), default=2, help="local worker processes (default 2; 0: serial)")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address, e.g. tcp://10.0.0.1:8786")
    p.add_argument("--results", default=None, help="results directory of the sweep")
    return p


def scale_parser(name, doc):
    """An ArgumentParser with --quick / --paper (--scale) and --out, for every script with
    two sizes; the sweep scripts add their options in :func:`parser`."""
    p = argparse.ArgumentParser(prog=name, description=doc.split("\n\n")[0])
    scale = p.add_mutually_exclusive_group()
    scale.add_argument("--quick", dest="scale", action="store_const", const="quick",
                       help="small sizes, the whole set in <= 30 min on 2 cores (default)")
    scale.add_argument("--paper", dest="scale", action="store_const", const="paper",
                       help="the paper's sizes (N = 80, T = 300, 10^4 epochs): run on a cluster")
    scale.add_argument("--scale", dest="scale", choices=SCALES, help="same as --quick / --paper")
    p.set_defaults(scale="quick")
    p.add_argument("--out", default=None, help="directory for PNG and CSV (default validation/out/<script>)")
    return p


def clip_norm(text):
    """argparse type of a gradient-clipping option: a positive number or 'none'."""
    if text.strip().lower() == "none":
        return None
    return float_range(0.0, strict=True)(text)


def delays_and_headline(by, task, wanted):
    """The delays run for ``task`` (keys ``(task, d, protocol)`` of ``by``), sorted, and the
    delay whose training curves to draw: ``wanted`` if it was run, else the longest of
    those with the most protocols finished (partial results of a running sweep)."""
    delays = sorted({d for (t, d, _) in by if t == task})
    if wanted in delays:
        return delays, wanted
    count = {d: sum(1 for (t, dd, _) in by if t == task and dd == d) for d in delays}
    return delays, max(delays, key=lambda d: (count[d], d))


def clip_label(clip):
    """How a clip norm appears in names and tables: 'none' or the number (%g)."""
    return "none" if clip is None else format(clip, "g")


def out_dir(args, name):
    path = args.out or os.path.join(HERE, "out", name)
    os.makedirs(path, exist_ok=True)
    return path


def results_dir(args, name, label=None):
    """Where a sweep's results go: ``--results`` if given; else, at paper scale with a
    ``label``, ``validation/results/<script>/<label>`` (committed, so that figures can be
    redrawn and sweeps resumed from the repository); else under ``validation/out``."""
    if args.results:
        return args.results
    if args.scale == "paper" and label:
        return os.path.join(HERE, "results", name, label)
    return os.path.join(out_dir(args, name), f"results_{args.scale}" + (f"_{label}" if label else ""))


def sweep(args, name, tasks, settings, label=None, results=None):
    """Run the tasks through floss_ref.runs.sweep, in ``results`` (default: :func:`results_dir`);
    exits with the error text on SweepError.  With ``args.report_only`` (a script's
    --report-only) nothing runs: the finished tasks found there are returned."""
    results = results or results_dir(args, name, label)
    if getattr(args, "report_only", False):
        finished = load_results(results, [t.name for t in tasks])
        print(f"{name}: {len(finished)} of {len(tasks)} tasks finished")
        return finished
    settings = {"script": name, "scale": args.scale, **settings}
    print(provenance(), flush=True)
    print(f"{name}: {len(tasks)} tasks -> {results}", flush=True)
    try:
        return run_sweep(tasks, results, settings=settings, jobs=args.jobs, scheduler=args.scheduler,
                         log=lambda line: print(line, flush=True))
    except (SweepError, ValueError, TypeError) as exc:  # bad --jobs / --scheduler, untrusted results, ...
        sys.exit(f"{name}: {exc}")
    except KeyboardInterrupt:
        # the workers are stopped; leave without the interpreter's exit handlers, which
        # join the process pools' threads and could wait on them
        print(f"{name}: interrupted; the finished tasks are saved in {results}: run the same command to resume",
              file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(1)


class Verdicts:
    """The script's own verdicts on the claims it checks: ``check`` prints one line
    ``PASS: <claim>: <numbers>`` or ``FAIL: ...``; ``exit_code`` prints the closing line
    ``verdict: PASS`` (or FAIL, with the count) and returns the exit code (1 on any FAIL),
    which ``run_all.py`` reports."""

    def __init__(self):
        self.results = []

    def check(self, claim, ok, detail=""):
        ok = bool(ok)
        self.results.append(ok)
        print(f"{'PASS' if ok else 'FAIL'}: {claim}" + (f": {detail}" if detail else ""), flush=True)
        return ok

    def exit_code(self, why_none="this script reports observations, not a claim"):
        """``why_none``: what the closing line says when nothing was checked."""
        failed = self.results.count(False)
        if not self.results:
            print(f"verdict: none ({why_none})")
            return 0
        print(f"verdict: {'FAIL' if failed else 'PASS'} ({len(self.results) - failed} of {len(self.results)} "
              "checks passed)")
        return 1 if failed else 0


def write_csv(path, header, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for row in rows:
            w.writerow([f"{v:.6g}" if isinstance(v, (float, np.floating)) else v for v in row])
    print(f"wrote {path}")


def stats(values):
    """(median, 25th percentile, 75th percentile, mean) of a 1-D sample (NaNs dropped)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return (np.nan,) * 4
    return float(np.median(v)), float(np.percentile(v, 25)), float(np.percentile(v, 75)), float(np.mean(v))


def band(ax, x, runs, color, label, center="median", faint=True):
    """Solid centre line (median or mean over runs), 25-75 % band, individual runs faint.

    runs : (n_runs, len(x)) array
    """
    runs = np.asarray(runs, dtype=float)
    mid = np.nanmedian(runs, axis=0) if center == "median" else np.nanmean(runs, axis=0)
    lo, hi = np.nanpercentile(runs, 25, axis=0), np.nanpercentile(runs, 75, axis=0)
    if faint:
        for r in runs:
            ax.plot(x, r, color=color, alpha=0.25, lw=0.6)
    ax.fill_between(x, lo, hi, color=color, alpha=0.2, lw=0)
    ax.plot(x, mid, color=color, lw=1.8, label=label)


def training_curve(result, key, width):
    """(epochs, values) of a training curve of a "train" sweep result: the per-epoch
    ``history/<key>`` smoothed over ``width`` epochs, or the stored block means
    ``curve/<key>`` (results saved with ``curve_every``), drawn at each block's end."""
    if "history/" + key in result:
        y = smooth(result["history/" + key], width)
        return np.arange(1, y.size + 1), y
    y = np.asarray(result["curve/" + key], dtype=float)
    every = int(result["summary/epochs"]) // y.size
    return np.arange(1, y.size + 1) * every, y


def curve_label(result, key, width):
    """How :func:`training_curve` draws ``key`` of ``result``, for an axis label."""
    if "history/" + key in result:
        return f"moving mean, {width} epochs"
    every = int(result["summary/epochs"]) // np.asarray(result["curve/" + key]).size
    return f"means of {every}-epoch blocks"


def smooth(y, width):
    """Moving average over ``width`` entries (shorter windows at the start)."""
    y = np.asarray(y, dtype=float)
    if width <= 1 or y.size < width:
        return y
    c = np.cumsum(np.insert(y, 0, 0.0))
    out = np.empty_like(y)
    out[width - 1:] = (c[width:] - c[:-width]) / width
    out[:width - 1] = c[1:width] / np.arange(1, width)
    return out


def figure(ncols, nrows=1, size=(4.2, 3.2)):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows), squeeze=False)
    return fig, axes


def save(fig, path, dpi=90):
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    print(f"wrote {path}")



class Tee:
    """Within ``with Tee(path):`` everything printed goes to stdout and, when the block
    ends, to ``path`` as well (written atomically), so that a script's output can be
    committed beside its other results.

    With ``command`` (how the script is called, e.g. ``"validation/paper/fig1_flossing.py"``)
    the output starts with the provenance line (:func:`provenance`) and the line
    ``command: <command> <arguments>``, the arguments ``argv`` (default: ``sys.argv[1:]``)."""

    def __init__(self, path, command=None, argv=None):
        self.path = path
        self.command, self.argv = command, argv

    def __enter__(self):
        import io

        self._stdout, self._copy = sys.stdout, io.StringIO()
        outer, copy = self._stdout, self._copy

        class _Both:
            def write(self, text):
                copy.write(text)
                return outer.write(text)

            def flush(self):
                outer.flush()

        sys.stdout = _Both()
        if self.command is not None:
            print(provenance())
            print(f"command: {self.command} " + " ".join(sys.argv[1:] if self.argv is None else self.argv))
        return self

    def __exit__(self, *exc):
        from floss_ref.runs.io import atomic_write

        sys.stdout = self._stdout
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        text = self._copy.getvalue().encode()
        atomic_write(self.path, lambda f: f.write(text))
        return False
