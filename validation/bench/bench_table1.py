"""Table 1 (App. F): how the cost of one flossing gradient grows with T, k and N.

The paper's Table 1 gives the amortized cost of a gradient flossing epoch as
O(N^2 T_f (1 + k/t_ONS + k)): linear in T_f, linear in k while k << N (the N^2 k of the
tangent steps dominates the N k^2 / t_ONS of the QRs), quadratic in N at fixed k.  This
script times one flossing gradient (:func:`floss_ref.flossing_grad`, vanilla tanh RNN,
t_ONS = 1, BLAS on one thread) on three lines through that space and fits the log-log
slope of the CPU time along each:

* T = 50, 100, 200, 400 at N = 128, k = 16;
* k = 8, 16, 32, 64 at N = 256, T = 100;
* N = 128, 256, 512 at k = 16, T = 100.

Each point is the median CPU time of ``--repeat`` gradients after a warm-up.  The slopes
are compared with Table 1's (T: 1, k: 1, N: 2) by the criterion of validation/CRITERIA.md.
The output (with its provenance line) and ``table1.json`` go to ``--out``
(default validation/out/bench_table1; the committed copy is validation/results/bench/).

    python validation/bench/bench_table1.py [--repeat 3] [--out DIR]
"""

import argparse
import json
import os
import sys
import time

import numpy as np

FOLDER = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [FOLDER, os.path.dirname(FOLDER)]  # this folder's scripts, and validation/ (_common)
import _common  # noqa: E402

from floss_ref import VanillaRNN, flossing_grad  # noqa: E402

LINES = {
    "T": dict(values=(50, 100, 200, 400), fixed=dict(N=128, k=16), table1=1.0),
    "k": dict(values=(8, 16, 32, 64), fixed=dict(N=256, T=100), table1=1.0),
    "N": dict(values=(128, 256, 512), fixed=dict(k=16, T=100), table1=2.0),
}
TOLERANCE = 0.3   # CRITERIA.md: a slope within 0.3 of Table 1's


def cpu_seconds(N, k, T, repeat):
    rng = np.random.default_rng(0)
    net = VanillaRNN.random(N, g=1.0, seed=rng)
    h0, xs = rng.standard_normal(N), rng.standard_normal((T, 1))

    def one():
        flossing_grad(net, h0, xs, k=k, T=T, seed=1, cond_warn=None, blas_threads=1)

    one()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.process_time()
        one()
        times.append(time.process_time() - start)
    return float(np.median(times))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeat", type=_common.int_at_least(1), default=3)
    p.add_argument("--out", default=os.path.join(os.path.dirname(FOLDER), "out", "bench_table1"))
    args = p.parse_args(argv)
    with _common.Tee(os.path.join(args.out, "bench_table1.txt"), "validation/bench/bench_table1.py",
                     ["--repeat", str(args.repeat)]):
        out = {"repeat": args.repeat, "lines": {}}
        passed = 0
        for name, line in LINES.items():
            points = []
            for value in line["values"]:
                size = dict(line["fixed"], **{name: value})
                seconds = cpu_seconds(size["N"], size["k"], size["T"], args.repeat)
                points.append(dict(size, cpu_seconds=seconds))
                print(f"  {name} = {value:>4}: N = {size['N']}, k = {size['k']}, T = {size['T']}: "
                      f"{seconds * 1e3:.1f} ms CPU")
            slope = float(np.polyfit(np.log([pt[name] for pt in points]),
                                     np.log([pt["cpu_seconds"] for pt in points]), 1)[0])
            ok = abs(slope - line["table1"]) <= TOLERANCE
            passed += ok
            print(f"{'PASS' if ok else 'FAIL'}: cost against {name}: fitted slope {slope:.2f}, Table 1 "
                  f"{line['table1']:g} (within {TOLERANCE})")
            out["lines"][name] = dict(points=points, slope=slope, table1=line["table1"], fixed=line["fixed"])
        with open(os.path.join(args.out, "table1.json"), "w") as f:
            json.dump(out, f, indent=1)
        print(f"verdict: {passed} of {len(LINES)} slopes within {TOLERANCE} of Table 1's")
    return 0 if passed == len(LINES) else 1


if __name__ == "__main__":
    raise SystemExit(main())
