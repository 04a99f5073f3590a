"""Core-hours of the committed sweep results: the wall time of each finished task
(``meta/seconds``, one task per core), summed per results directory and per
(task, protocol) within it.

Each task ran on one core with BLAS on one thread, so its wall time is its core time up to
the sharing of the machine (the paper-scale sweeps ran two tasks at a time on 2 cores,
next to other work, and a task paused with SIGSTOP counts its pause: these are upper
bounds of the core time an idle machine needs).

    python validation/bench/core_hours.py                 # every directory under validation/results
    python validation/bench/core_hours.py --markdown      # the table for REPRODUCTION.md
"""

import argparse
import os
import sys

import numpy as np

FOLDER = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [FOLDER, os.path.dirname(FOLDER)]  # this folder's scripts, and validation/ (_common)
import _common  # noqa: E402

from floss_ref.runs.sweep import MANIFEST, load_results  # noqa: E402

RESULTS = os.path.join(_common.HERE, "results")


def sweep_dirs(root):
    """Every directory under ``root`` holding a sweep manifest, relative to root."""
    out = []
    for path, _, files in os.walk(root):
        if MANIFEST in files:
            out.append(os.path.relpath(path, root))
    return sorted(out)


def group_of(name):
    """The name without its seed (``..._s3``): tasks differing only in seed form a group."""
    head, _, tail = name.rpartition("_s")
    return head if tail.isdigit() else name


def main(argv=None):
    p = argparse.ArgumentParser(prog="core_hours", description=__doc__.split("\n\n")[0])
    p.add_argument("--root", default=RESULTS)
    p.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = p.parse_args(argv)
    print(_common.provenance(), flush=True)
    total = 0.0
    rows = []
    for rel in sweep_dirs(args.root):
        results = load_results(os.path.join(args.root, rel))
        seconds = {n: float(r["meta/seconds"]) for n, r in results.items() if "meta/seconds" in r}
        if not seconds:
            continue
        groups = {}
        for n, s in seconds.items():
            groups.setdefault(group_of(n), []).append(s)
        hours = sum(seconds.values()) / 3600
        total += hours
        rows.append((rel, len(seconds), hours, groups))
    if args.markdown:
        print("| results directory | tasks | core-hours | median per task (h) |")
        print("|---|---|---|---|")
        for rel, n, hours, groups in rows:
            med = np.median([s for g in groups.values() for s in g]) / 3600
            print(f"| `{rel}` | {n} | {hours:.2f} | {med:.3f} |")
        print(f"| all | {sum(r[1] for r in rows)} | {total:.2f} | |")
    else:
        for rel, n, hours, groups in rows:
            print(f"{rel}: {n} tasks, {hours:.2f} core-hours")
            for g, s in sorted(groups.items()):
                print(f"    {g}: {len(s)} tasks, {sum(s) / 3600:.2f} h (median {np.median(s):.0f} s)")
        print(f"all: {total:.2f} core-hours")
    return 0


if __name__ == "__main__":
    sys.exit(main())
