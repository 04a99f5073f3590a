"""Does the demo's comparison hold across seeds?  (target: at least 4 of 5 seeds)

Runs ``python -m floss_ref demo``'s two trainings (no flossing / flossing during training,
same initial network, same batches) for seeds 0-4 and prints one line per seed: test
accuracy of each on a held-out batch of 256 sequences, and whether the demo's claim holds
(with flossing >= 90 %, without <= 60 %).  Takes about 5 x the demo's time.

    python validation/paper/demo_seeds.py [--seeds 0 1 2 3 4] [--jobs 2]

One size only (the demo's; no --quick / --paper): the claim is about that configuration.
Prints PASS when the comparison holds for all seeds but at most one, and exits with 1
otherwise.
"""

import argparse
import os
import sys
import time

FOLDER = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [FOLDER, os.path.dirname(FOLDER)]  # this folder's scripts, and validation/ (_common)
import _common  # noqa: E402

from floss_ref.cli.train import DEMO, demo_verdict, run_demo  # noqa: E402

if hasattr(sys.stdout, "reconfigure"):  # whole lines at once, also into a log file
    sys.stdout.reconfigure(line_buffering=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args(argv)
    print(_common.provenance())
    print(f"demo settings: {DEMO}")
    print(f"{'seed':>4} {'acc none':>9} {'acc during':>11} {'holds':>6} {'time':>7}")
    held = 0
    start_all = time.perf_counter()
    for seed in args.seeds:
        start = time.perf_counter()
        results = run_demo(seed, jobs=args.jobs)
        acc = {c.protocol: s["test_accuracy"] for c, _, s, _ in results}
        ok = demo_verdict(results)
        held += ok
        print(f"{seed:>4} {acc['none']:>9.3f} {acc['during']:>11.3f} {'yes' if ok else 'NO':>6} "
              f"{time.perf_counter() - start:>6.0f}s", flush=True)
    print(f"the comparison holds for {held} of {len(args.seeds)} seeds "
          f"({time.perf_counter() - start_all:.0f} s in total)")
    ok = held >= len(args.seeds) - 1
    print(f"{'PASS' if ok else 'FAIL'}: with flossing the demo task is learned and without it not, for all "
          f"seeds but at most one: {held} of {len(args.seeds)}")
    print(f"verdict: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
