"""Cost of the LSTM / GRU flossing gradient relative to the vanilla one.

One flossing gradient (:func:`floss_ref.flossing_grad`) of an LSTM and of a GRU with
N = 32 units, k = 32 exponents and T = 300 steps, against a vanilla RNN with the same N
and k.  The LSTM's tangent space is 2N-dimensional, so its QRs are of 2N x k blocks
instead of N x k ones.  A measurement, with no target (verdict: none).

The cells are timed side by side: every repeat times vanilla, LSTM and GRU once each, in
a fresh random order, so that load from other processes on the machine hits all of them
alike; the ratio reported is that of the medians.  BLAS runs single-threaded
(``threadpoolctl.threadpool_limits(1)``).

    python validation/bench/bench_lstm.py [--N 32] [--k 32] [--T 300] [--repeats 9]
"""

import argparse
import os
import sys
import platform
import statistics
import time

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

FOLDER = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [FOLDER, os.path.dirname(FOLDER)]  # this folder's scripts, and validation/ (_common)
import _common  # noqa: E402

from floss_ref import flossing_grad  # noqa: E402
from floss_ref.core.cells import GRU, LSTM, VanillaRNN  # noqa: E402

if hasattr(sys.stdout, "reconfigure"):  # whole lines at once, also into a log file
    sys.stdout.reconfigure(line_buffering=True)

def problem(cell, N, k, T, seed):
    """A network of the given cell, an initial state, inputs and Q0 for one gradient."""
    rng = np.random.default_rng(seed)
    system = {"vanilla": lambda: VanillaRNN.random(N, g=1.0, seed=rng),
              "lstm": lambda: LSTM.random(N, g=1.0, seed=rng),
              "gru": lambda: GRU.random(N, g=1.0, seed=rng)}[cell]()
    h0 = 0.5 * rng.standard_normal(system.state_size)
    xs = rng.standard_normal((T, 1))
    return system, h0, xs


def time_once(system, h0, xs, k):
    """(wall, CPU) seconds of one flossing gradient."""
    start, cpu = time.perf_counter(), time.process_time()
    flossing_grad(system, h0, xs, k=k, transient=0, seed=0, blas_threads=None)
    return time.perf_counter() - start, time.process_time() - cpu


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--N", type=int, default=32)
    parser.add_argument("--k", type=int, default=32)
    parser.add_argument("--T", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args(argv)
    print(_common.provenance())
    cells = ("vanilla", "lstm", "gru")
    problems = {c: problem(c, args.N, args.k, args.T, seed=i) for i, c in enumerate(cells)}
    order_rng = np.random.default_rng(12345)
    times = {c: [] for c in cells}
    with threadpool_limits(1):
        for c in cells:                                   # warm-up, not recorded
            time_once(*problems[c], args.k)
        for _ in range(args.repeats):
            for c in order_rng.permutation(cells):
                times[c].append(time_once(*problems[c], args.k))
        blas = [(i["internal_api"], i["num_threads"]) for i in threadpool_info()]
    med = {c: statistics.median(w for w, _ in t) for c, t in times.items()}
    cpu = {c: statistics.median(p for _, p in t) for c, t in times.items()}
    print(f"flossing_grad, N = {args.N}, k = {args.k}, T = {args.T}, {args.repeats} repeats, "
          f"BLAS {blas} inside the timed region, numpy {np.__version__}, {platform.processor() or platform.machine()}")
    print(f"{'cell':8s} {'state size':>10s} {'median s':>9s} {'min s':>7s} {'max s':>7s} {'CPU s':>7s} "
          f"{'/ vanilla':>9s}")
    for c in cells:
        n = problems[c][0].state_size
        walls = [w for w, _ in times[c]]
        print(f"{c:8s} {n:10d} {med[c]:9.3f} {min(walls):7.3f} {max(walls):7.3f} {cpu[c]:7.3f} "
              f"{med[c] / med['vanilla']:9.2f}")
    for c in ("lstm", "gru"):
        print(f"{c.upper()} / vanilla: {med[c] / med['vanilla']:.2f}x wall, {cpu[c] / cpu['vanilla']:.2f}x CPU")
    print("verdict: none (measurements)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
