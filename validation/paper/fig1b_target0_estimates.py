"""Is the per-epoch lambda_1 estimate of Fig. 1B biased near lambda_1 = 0?

After flossing towards target 0, the held-out networks of fig1b_clipping.py end with
lambda_1 slightly below 0.  This script floses three of them as there (N = 32, 100 Adam
epochs, lr 0.005, T = 500 per epoch with 100 transient, clip 1) and compares, at the
final parameters:

* two long estimates (20000 steps after 1000 transient);
* the training-style estimate (500 steps, 100 transient, fresh h0 ~ N(0, 1) and Q0),
  averaged over 40 trajectories, with its standard error;
* the same with h0 first relaxed for 1000 steps, and with h0 and Q both relaxed.

If the training-style mean agrees with the long estimates, the networks are simply not
yet at 0, rather than flossed to a biased estimate.

    python validation/paper/fig1b_target0_estimates.py [--nets 0 2 9] [--trajectories 40]
"""

import argparse
import os
import sys

import numpy as np

FOLDER = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [FOLDER, os.path.dirname(FOLDER)]  # this folder's scripts, and validation/ (_common)
import _common  # noqa: E402,F401  (puts the checkout on sys.path: runs without installing)

from floss_ref import VanillaRNN, floss, lyapunov_spectrum  # noqa: E402
from floss_ref._threads import limit_blas  # noqa: E402

if hasattr(sys.stdout, "reconfigure"):  # whole lines at once, also into a log file
    sys.stdout.reconfigure(line_buffering=True)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--nets", type=int, nargs="+", default=[0, 2, 9],
                   help="held-out network indices as in fig1b_clipping.py (gains from seed 777, seed 1000 + n)")
    p.add_argument("--trajectories", type=int, default=40)
    args = p.parse_args(argv)
    gains = np.random.default_rng(777).uniform(0.0, 1.0, size=max(args.nets) + 1)
    print(f"{'net':>3} {'g':>5} {'long (2 x 20000 steps)':>23} {'training-style mean (s.e.)':>27} "
          f"{'h0 relaxed':>11} {'h0, Q relaxed':>14}")
    with limit_blas(1):
        for n in args.nets:
            rng = np.random.default_rng(1000 + n)
            net = VanillaRNN.random(32, 1, float(gains[n]), seed=rng)
            floss(net, epochs=100, k=1, T=500, transient=100, target=0.0, lr=0.005, clip_norm=1.0,
                  inputs="gaussian", seed=rng)
            r = np.random.default_rng(5)

            def lam1(h0, xs, transient):
                return lyapunov_spectrum(net, h0, xs, k=1, transient=transient, seed=r).exponents[0]

            long = [lam1(r.standard_normal(32), r.standard_normal((21000, 1)), 1000) for _ in range(2)]
            plain, relaxed, both = [], [], []
            for _ in range(args.trajectories):
                xs, h0 = r.standard_normal((500, 1)), r.standard_normal(32)
                plain.append(lam1(h0, xs, 100))
                h_rel = lyapunov_spectrum(net, h0, r.standard_normal((1000, 1)), k=1, seed=r).h
                relaxed.append(lam1(h_rel, xs, 100))
                both.append(lam1(h0, np.concatenate([r.standard_normal((1000, 1)), xs]), 1100))
            se = np.std(plain, ddof=1) / np.sqrt(len(plain))
            print(f"{n:>3} {gains[n]:>5.2f} {long[0]:>11.4f} {long[1]:>11.4f} {np.mean(plain):>17.4f} ({se:.4f}) "
                  f"{np.mean(relaxed):>11.4f} {np.mean(both):>14.4f}")


if __name__ == "__main__":
    main()
