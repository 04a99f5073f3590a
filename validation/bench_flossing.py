"""Speed of one flossing-gradient evaluation (issue "Core", App. F / Table 1 costs).

Measures, side by side in one run, with BLAS limited to one thread (threadpoolctl):

1. one network, N = 80, k = 75, T = 300, t_ONS = 1: LAPACK QR path and hand-written
   Householder path (target: LAPACK path <= 0.2 s);
2. one network vs an ensemble of R = 16 networks, N = 32, k = 32, T = 300 (target: the
   ensemble costs <= 3x the single network, i.e. it is vectorised, not a loop), for
   both QR paths.  With LAPACK the ensemble is bound by one LAPACK QR and one triangular
   solve per network and step (about 20 + 10 us at 32 x 32), which alone exceed twice a
   whole single-network step (about 150 us, mostly interpreter overhead).

Figures are medians over ``--repeat`` runs; the machine is shared, so compare ratios
measured in the same run.

    python validation/bench_flossing.py [--repeat 7]
"""

import argparse
import time

import numpy as np
from threadpoolctl import threadpool_limits

from floss_ref import VanillaRNN, flossing_grad


def median_time(fn, repeat):
    fn()  # warm-up
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), float(np.min(times)), float(np.max(times))


def case(N, k, T, ensemble, qr_method, seed=0):
    rng = np.random.default_rng(seed)
    net = VanillaRNN.random(N, g=1.0, ensemble=ensemble, seed=rng)
    h0 = rng.standard_normal(ensemble + (N,))
    xs = rng.standard_normal((T,) + ensemble + (1,))
    return lambda: flossing_grad(net, h0, xs, k=k, t_ons=1, seed=1, qr_method=qr_method, blas_threads=None)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeat", type=int, default=7)
    args = p.parse_args()
    with threadpool_limits(1):
        print(f"flossing gradient, BLAS on 1 thread, median (min..max) of {args.repeat} runs")
        print(f"{'case':<52} {'median s':>9} {'min':>7} {'max':>7}")
        results = {}
        for label, fn in [
            ("N=80 k=75 T=300 one network, LAPACK QR", case(80, 75, 300, (), "lapack")),
            ("N=80 k=75 T=300 one network, Householder QR", case(80, 75, 300, (), "householder")),
            ("N=32 k=32 T=300 one network, LAPACK QR", case(32, 32, 300, (), "lapack")),
            ("N=32 k=32 T=300 ensemble R=16, LAPACK QR", case(32, 32, 300, (16,), "lapack")),
            ("N=32 k=32 T=300 one network, Householder QR", case(32, 32, 300, (), "householder")),
            ("N=32 k=32 T=300 ensemble R=16, Householder QR", case(32, 32, 300, (16,), "householder")),
        ]:
            results[label] = median_time(fn, args.repeat)
            print(f"{label:<52} {results[label][0]:9.4f} {results[label][1]:7.4f} {results[label][2]:7.4f}")
    t80 = results["N=80 k=75 T=300 one network, LAPACK QR"][0]
    print(f"N=80 k=75 T=300 LAPACK: {t80:.3f} s (target <= 0.2 s): {'PASS' if t80 <= 0.2 else 'FAIL'}")
    for method in ("LAPACK", "Householder"):
        ratio = (results[f"N=32 k=32 T=300 ensemble R=16, {method} QR"][0]
                 / results[f"N=32 k=32 T=300 one network, {method} QR"][0])
        print(f"ensemble R=16 / one network (N=32 k=32 T=300), {method} QR: {ratio:.2f}x "
              f"(target <= 3x): {'PASS' if ratio <= 3 else 'FAIL'}  [per network: {ratio / 16:.3f}x]")

if __name__ == "__main__":
    main()
