"""App. K (Fig. 16): convergence of Lyapunov exponents for different initial conditions.

One vanilla network (N = 80, g = 1, Gaussian input of standard deviation sigma = 1, the
same input stream for all), ten random initial states h_0 and initial orthonormal blocks
Q_0; the running estimates of lambda_i (i = 1, 20, 60, 80) over simulation time, t_ONS = 1.

Paper: the estimates from the ten initial conditions converge to the same values.  We
report, for each i, the spread (max - min over initial conditions) at the end and at a
tenth of the run, and the log-log slope of the spread against time (about -1 for the
1/t convergence of a time average started from different transients).

    python validation/paper/appK_convergence.py --quick
    python validation/paper/appK_convergence.py --paper

Runs in this process (it is one vectorised computation, no sweep).  Writes into ``--out``
(default validation/out/appK_convergence/): appK_<scale>.txt (the printed output, its first
line the provenance), appK_<scale>.csv (per i: median final estimate, spread at T/10 and T,
slope), appK_<scale>_runs.csv (per initial condition and i: the estimate at T/10 and at T)
and appK_<scale>.png.  The committed evidence of REPRODUCTION.md is made with
``--out validation/results/appK_convergence`` (as fig6_lstm_relu.py's ``--out-dir``).
"""

import os
import sys
import time

import numpy as np

FOLDER = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [FOLDER, os.path.dirname(FOLDER)]  # this folder's scripts, and validation/ (_common)
import _common  # noqa: E402

from floss_ref import VanillaRNN, lyapunov_spectrum  # noqa: E402

NAME = "appK_convergence"
SCALE = {"quick": dict(N=80, T=2000, n_runs=10), "paper": dict(N=80, T=20_000, n_runs=10)}
INDICES = (1, 20, 60, 80)


def main(argv=None):
    p = _common.parser(NAME, __doc__)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    out = _common.out_dir(args, NAME)
    with _common.Tee(os.path.join(out, f"appK_{args.scale}.txt"), f"validation/paper/{NAME}.py", argv):
        return _main(args, out)


def _main(args, out):
    start = time.perf_counter()
    s = SCALE[args.scale]
    N, T, n_runs = s["N"], s["T"], s["n_runs"]
    rng = np.random.default_rng(args.seed)
    net = VanillaRNN.random(N, 1, 1.0, nonlinearity="tanh", seed=rng)
    xs = np.broadcast_to(rng.standard_normal((T, 1, 1)), (T, n_runs, 1))  # sigma = 1, same input for all
    h0 = rng.standard_normal((n_runs, N))
    res = lyapunov_spectrum(net, h0, xs, k=N, history=True, seed=rng)
    hist = res.history  # (T, n_runs, N) running estimates
    t = np.asarray(res.history_steps)

    fig, axes = _common.figure(len(INDICES), size=(3.4, 3.0))
    rows, runs = [], []
    print(f"{'i':>3} {'lambda_i (median)':>18} {'spread at T/10':>15} {'spread at T':>12} {'slope':>7}")
    for ax, i in zip(axes[0], INDICES):
        curves = hist[:, :, i - 1].T  # (n_runs, T)
        spread = curves.max(axis=0) - curves.min(axis=0)
        late = (t >= T // 10) & (spread > 0)  # log of a zero spread (all estimates equal) is undefined
        slope = np.polyfit(np.log(t[late]), np.log(spread[late]), 1)[0]
        print(f"{i:>3} {np.median(curves[:, -1]):>18.4f} {spread[np.searchsorted(t, T // 10)]:>15.4f} "
              f"{spread[-1]:>12.4f} {slope:>7.2f}")
        rows.append([i, float(np.median(curves[:, -1])), float(spread[np.searchsorted(t, T // 10)]),
                     float(spread[-1]), float(slope)])
        tenth = np.searchsorted(t, T // 10)
        runs += [[i, run, float(c[tenth]), float(c[-1])] for run, c in enumerate(curves)]
        for c in curves:
            ax.plot(t, c, lw=0.7, alpha=0.6)
        ax.set(xscale="log", xlabel="simulation steps", ylabel=rf"$\lambda_{{{i}}}$ running estimate",
               title=f"i = {i}")
    _common.write_csv(os.path.join(out, f"appK_{args.scale}.csv"),
                      ["i", "lambda_median_final", "spread_at_T_over_10", "spread_at_T", "loglog_slope"], rows)
    _common.write_csv(os.path.join(out, f"appK_{args.scale}_runs.csv"),
                      ["i", "initial_condition", "lambda_at_T_over_10", "lambda_at_T"], runs)
    fig.suptitle(f"{n_runs} initial conditions, one network N = {N}, g = 1, sigma = 1, t_ONS = 1")
    _common.save(fig, os.path.join(out, f"appK_{args.scale}.png"))
    verdicts = _common.Verdicts()
    slopes = [row[-1] for row in rows]
    verdicts.check("the estimates from different initial conditions converge like 1/t "
                   "(log-log slope of their spread <= -0.7 for every i shown)", max(slopes) <= -0.7,
                   ", ".join(f"{v:.2f}" for v in slopes))
    print(f"time: {time.perf_counter() - start:.1f} s")
    return verdicts.exit_code()


if __name__ == "__main__":
    sys.exit(main())
