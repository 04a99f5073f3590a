"""Speed of one flossing-gradient evaluation (App. F / Table 1 costs).

Measures, side by side in one run, with BLAS limited to one thread (threadpoolctl):

1. one network, N = 80, k = 75, T = 300, t_ONS = 1: LAPACK QR path and hand-written
   Householder path;
2. one network vs an ensemble of 16 networks, N = 32, k = 32, T = 300, for both QR
   paths (a loop over the networks would cost 16x).  With LAPACK the ensemble still pays
   one LAPACK QR and one triangular solve per network and step; a single network at
   this size pays mostly interpreter overhead.

Figures are medians of wall and CPU time over ``--repeat`` runs, with the load average;
the machine is shared, so compare ratios measured in the same run.  The first line of
the output says where and when it was measured (``validation/results/bench/`` holds the
committed outputs that the README's speed table quotes).

``--against DIR`` instead compares case 1 (LAPACK) of this checkout with the floss_ref
package of another checkout in DIR (e.g. ``git worktree add /tmp/old <commit>``): each
repeat runs one fresh process per checkout, alternating, each timing 3 gradients after a
warm-up with BLAS on one thread; the medians of CPU time and wall time of the two and
their ratios are printed with the load average.

    python validation/bench/bench_flossing.py [--repeat 7]
    python validation/bench/bench_flossing.py --against /tmp/old [--repeat 7]
"""

import argparse
import os
import subprocess
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

FOLDER = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [FOLDER, os.path.dirname(FOLDER)]  # this folder's scripts, and validation/ (_common)
import _common  # noqa: E402

from floss_ref import VanillaRNN, flossing_grad  # noqa: E402

if hasattr(sys.stdout, "reconfigure"):  # whole lines at once, also into a log file
    sys.stdout.reconfigure(line_buffering=True)


def median_time(fn, repeat):
    """(median wall, min wall, max wall, median CPU) seconds of ``repeat`` calls after a warm-up."""
    fn()  # warm-up
    walls, cpus = [], []
    for _ in range(repeat):
        start, cpu = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    return float(np.median(walls)), float(np.min(walls)), float(np.max(walls)), float(np.median(cpus))


def case(N, k, T, ensemble, qr_method, seed=0):
    rng = np.random.default_rng(seed)
    net = VanillaRNN.random(N, g=1.0, ensemble=ensemble, seed=rng)
    h0 = rng.standard_normal(ensemble + (N,))
    xs = rng.standard_normal((T,) + ensemble + (1,))
    return lambda: flossing_grad(net, h0, xs, k=k, t_ons=1, seed=1, qr_method=qr_method, blas_threads=None)


# one timing in a fresh process: the package is imported from sys.argv[1]
_TIMING = """
import sys, time
sys.path.insert(0, sys.argv[1])
import numpy as np
from threadpoolctl import threadpool_limits
import floss_ref
from floss_ref import VanillaRNN, flossing_grad
assert floss_ref.__file__.startswith(sys.argv[1]), floss_ref.__file__
rng = np.random.default_rng(0)
net = VanillaRNN.random(80, g=1.0, seed=rng)
h0, xs = rng.standard_normal(80), rng.standard_normal((300, 1))
with threadpool_limits(1):
    flossing_grad(net, h0, xs, k=75, seed=1, blas_threads=None)
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(3):
        flossing_grad(net, h0, xs, k=75, seed=1, blas_threads=None)
    print((time.process_time() - cpu) / 3, (time.perf_counter() - wall) / 3)
"""


def compare_against(other, repeat):
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository
    other = os.path.abspath(other)
    if not os.path.isfile(os.path.join(other, "floss_ref", "__init__.py")):
        sys.exit(f"--against: {other!r} holds no floss_ref package")
    times = {here: [], other: []}
    for _ in range(repeat):
        for path in (here, other):  # interleaved
            out = subprocess.run([sys.executable, "-c", _TIMING, path], capture_output=True, text=True, check=True)
            times[path].append([float(v) for v in out.stdout.split()])
    med = {path: np.median(np.array(t), axis=0) for path, t in times.items()}
    print(f"flossing gradient N=80 k=75 T=300 t_ONS=1 LAPACK, BLAS 1 thread, medians of {repeat} interleaved "
          f"processes x 3 gradients; load average {os.getloadavg()[0]:.2f}")
    for label, path in (("this checkout", here), ("--against", other)):
        print(f"  {label:<14} {path}: CPU {med[path][0]:.4f} s, wall {med[path][1]:.4f} s")
    print(f"  ratio this / against: CPU {med[here][0] / med[other][0]:.3f}, wall {med[here][1] / med[other][1]:.3f}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--against", metavar="DIR", help="compare with the floss_ref package of the checkout in DIR")
    args = p.parse_args(argv)
    if args.against:
        return compare_against(args.against, args.repeat)
    print(_common.provenance())
    with threadpool_limits(1):
        print(f"flossing gradient, BLAS on 1 thread, wall median (min..max) and CPU median of {args.repeat} runs")
        print(f"{'case':<52} {'median s':>9} {'min':>7} {'max':>7} {'CPU s':>7}")
        results = {}
        for label, fn in [
            ("N=80 k=75 T=300 one network, LAPACK QR", case(80, 75, 300, (), "lapack")),
            ("N=80 k=75 T=300 one network, Householder QR", case(80, 75, 300, (), "householder")),
            ("N=32 k=32 T=300 one network, LAPACK QR", case(32, 32, 300, (), "lapack")),
            ("N=32 k=32 T=300 ensemble of 16, LAPACK QR", case(32, 32, 300, (16,), "lapack")),
            ("N=32 k=32 T=300 one network, Householder QR", case(32, 32, 300, (), "householder")),
            ("N=32 k=32 T=300 ensemble of 16, Householder QR", case(32, 32, 300, (16,), "householder")),
        ]:
            results[label] = median_time(fn, args.repeat)
            print(f"{label:<52} {results[label][0]:9.4f} {results[label][1]:7.4f} {results[label][2]:7.4f} "
                  f"{results[label][3]:7.4f}")
    for method in ("LAPACK", "Householder"):
        t80 = results[f"N=80 k=75 T=300 one network, {method} QR"]
        print(f"N=80 k=75 T=300 {method}: {t80[0]:.3f} s wall, {t80[3]:.3f} s CPU; load average "
              f"{os.getloadavg()[0]:.2f}")
    for method in ("LAPACK", "Householder"):
        ratio = (results[f"N=32 k=32 T=300 ensemble of 16, {method} QR"][0]
                 / results[f"N=32 k=32 T=300 one network, {method} QR"][0])
        print(f"ensemble of 16 / one network (N=32 k=32 T=300), {method} QR: {ratio:.2f}x "
              f"[per network: {ratio / 16:.3f}x]")
    print("verdict: none (measurements)")

if __name__ == "__main__":
    main()
