"""Did a change cost speed?  Two checkouts of floss_ref timed against each other.

Each repeat runs one fresh process per checkout, alternating (base, change, base, ...), so
that both see the same machine load; each process is pinned to one core with one BLAS
thread and times, by CPU time (``time.process_time``) over at least one second per row:
the flossing gradient at N = 32, k = 32 and at N = 80, k = 75 (T = 300, t_ONS = 1, one
network, LAPACK QR) and BPTT of a training batch (N = 80, B = 16, T = 300, BCE).  Prints
the medians over the repeats and their ratio change / base, with the load average.

    git worktree add --detach /tmp/base <revision>
    python validation/bench/bench_ab.py /tmp/base . [--repeat 7] [--cpu 1]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # validation/
sys.path.insert(0, HERE)
import _common  # noqa: E402

ROWS = r'''
import json, os, sys, time
os.sched_setaffinity(0, {int(sys.argv[1])})
from threadpoolctl import threadpool_limits
threadpool_limits(1)
import numpy as np
from floss_ref import VanillaRNN, flossing_grad, random_orthonormal
from floss_ref.runs.run import Run, TrainConfig
from floss_ref.experiments.bptt import Workspace, loss_and_grad


def seconds_per_call(f):
    f()
    start, calls = time.process_time(), 0
    while time.process_time() - start < 1.0:
        f()
        calls += 1
    return (time.process_time() - start) / calls


out, rng = {}, np.random.default_rng(0)
for N, k in ((32, 32), (80, 75)):
    net = VanillaRNN.random(N, 1, 1.0, seed=rng)
    h0, xs, Q0 = 0.5 * rng.standard_normal(N), rng.standard_normal((300, 1)), random_orthonormal(N, k, (), rng)
    out[f"flossing gradient N = {N}, k = {k}, T = 300"] = seconds_per_call(
        lambda: flossing_grad(net, h0, xs, k=k, t_ons=1, Q0=Q0, qr_method="lapack", blas_threads=None))
config = TrainConfig(task="binary_xor", delay=70, N=80, T=300, batch=16, epochs=10 ** 4, diag_every=0)
run = Run(config)
batch, work = run.task.sample(config.T, config.batch, np.random.default_rng(1)), Workspace()
out["BPTT N = 80, B = 16, T = 300"] = seconds_per_call(lambda: loss_and_grad(run.model, batch, "bce", work))
print(json.dumps(out))
'''


def timings(checkout, cpu):
    env = dict(os.environ, PYTHONPATH=os.path.abspath(checkout))
    done = subprocess.run([sys.executable, "-c", ROWS, str(cpu)], env=env, capture_output=True, text=True,
                          cwd="/")
    if done.returncode:
        raise SystemExit(f"bench_ab: the rows failed in {checkout}:\n{done.stderr}")
    return json.loads(done.stdout)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("base", help="checkout before the change (a directory holding floss_ref/)")
    p.add_argument("change", help="checkout with the change")
    p.add_argument("--repeat", type=int, default=7, help="alternating repeats (default 7)")
    p.add_argument("--cpu", type=int, default=max(os.sched_getaffinity(0)), help="the core to pin to")
    args = p.parse_args(argv)
    for where in (args.base, args.change):
        if not os.path.isfile(os.path.join(where, "floss_ref", "__init__.py")):
            p.error(f"{where!r} holds no floss_ref/__init__.py")
    print(_common.provenance())
    runs = {"base": [], "change": []}
    for _ in range(args.repeat):
        for label in ("base", "change"):
            runs[label].append(timings(getattr(args, label), args.cpu))
    print(f"base {os.path.abspath(args.base)}, change {os.path.abspath(args.change)}; pinned to core {args.cpu}, "
          f"one BLAS thread; CPU-time medians of {args.repeat} alternating processes; load average "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    print(f"{'row':42} {'base':>10} {'change':>10} {'change/base':>12}")
    for row in runs["base"][0]:
        base = statistics.median(r[row] for r in runs["base"])
        change = statistics.median(r[row] for r in runs["change"])
        print(f"{row:42} {base * 1e3:8.2f}ms {change * 1e3:8.2f}ms {change / base:12.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
