"""Join the results of sweeps that ran apart into one results directory.

    python validation/merge_results.py SOURCE [SOURCE ...] TARGET

Each SOURCE is a results directory of the same sweep settings as TARGET (for example the
same script and folder run from another worktree, or on another machine, with its share
of the seeds or delays).  Its finished tasks are checked (hash, task, settings) and copied
into TARGET, whose manifest gains SOURCE's entries (those of tasks still to finish too:
run the merge again when they have); tasks already in TARGET must be bit for bit the same.
Nothing else is changed, and a merge stopped part way is completed by running it again
(:func:`floss_ref.runs.sweep.merge_results`).  Prints one line per
SOURCE: how many tasks were copied and how many were already there.

Exit codes: 0 merged; 1 a directory was refused (other settings, a task that differs,
a damaged file, TARGET held by a running sweep), named in one line; 2 bad arguments.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from floss_ref.runs.sweep import SweepError, merge_results  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(prog="merge_results", description=__doc__.split("\n\n")[0])
    p.add_argument("dirs", nargs="+", metavar="DIR", help="one or more SOURCE directories, then the TARGET")
    args = p.parse_args(argv)
    if len(args.dirs) < 2:
        p.error("give at least one SOURCE directory and the TARGET directory")
    *sources, target = args.dirs
    for d in sources:
        if not os.path.isdir(d):
            p.error(f"SOURCE {d!r} is not a directory")
    if os.path.exists(target) and not os.path.isdir(target):
        p.error(f"TARGET {target!r} exists and is not a directory")
    for n, d in enumerate(sources):
        try:
            done = merge_results(d, target)
        except SweepError as exc:
            before = f" (the SOURCEs before it are merged: {', '.join(sources[:n])})" if n else ""
            print(f"merge_results: {d} -> {target}: {' '.join(str(exc).split())}{before}", file=sys.stderr)
            return 1
        print(f"{d} -> {target}: {len(done['copied'])} task(s) copied, {len(done['present'])} already there")
    return 0


if __name__ == "__main__":
    sys.exit(main())
