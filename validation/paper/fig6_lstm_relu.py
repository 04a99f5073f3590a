"""Fig. 6 in miniature: gradient flossing of LSTM and ReLU networks towards lambda_1 = 0.

App. B.1: 10 random networks of N = 32 units whose recurrent weight scale is drawn
g ~ U(0, 1) are flossed for 100 epochs with the loss (lambda_1 - 0)^2 (k = 1).

* LSTM (Eqs. 12-17): :meth:`floss_ref.core.cells.LSTM.random` with that g (Fig. 6A, B).
* ReLU (Eq. 9, phi = max(x, 0)): W_ij ~ N(-0.1, g^2/N), V_ij ~ N(0, 1) (Fig. 6C, D);
  ``--relu-mean`` changes gbar = -0.1; by default (``--relu-mean-scale 1/N``) the mean of
  each entry is gbar / N, as in the authors' code (``J = g randn(N, N)/sqrt(N) + gbar/N``).
  ``--relu-mean-scale entry`` reads App. B literally (mean gbar per entry): a row sums to
  -0.1 N, and at g ~ U(0, 1) 9 of 10 networks are silent (lambda_1 = -inf) before flossing,
  unlike the finite, partly positive lambda_1 of App. B.1 and Fig. 6C
  (validation/REPRODUCTION.md, Fig. 6).

Each network is flossed on its own (Adam, one fresh trajectory per epoch, Gaussian
input x ~ N(0, 1)), so that a numerical breakdown of one network (a step at which every
ReLU unit is silent makes the Jacobian product exactly zero: lambda_1 = -inf) is
reported for that network without stopping the others.  lambda_1 is measured before and
after flossing on fresh trajectories of ``--T-eval`` steps.

Outputs, in ``--out-dir``:
  fig6_lstm_relu.png           lambda_1 per network and median lambda_1^2 with its 25-75%
                               band over epochs, as in the paper's Fig. 6 A-D
  fig6_lstm_relu.csv           cell, network, g, epoch, lambda_1 (the estimate on that
                               epoch's flossing trajectory, before its update)
  fig6_lstm_relu_summary.csv   per network: g, lambda_1 before and after, status
and the table on stdout.  Target: median |lambda_1| <= 0.05 after 100 epochs
for the 10 networks of each cell.

    python validation/paper/fig6_lstm_relu.py [--epochs 100] [--seed 0] [--out-dir validation/out]
    python validation/paper/fig6_lstm_relu.py --cells lstm --target -1     # App. B's remark

``--target`` floss towards another lambda_1.  App. B remarks that for LSTMs a target of
-1 "is achieved after 100 gradient flossing steps only for a subset of random network
realizations"; for a target other than 0 the script prints in how many networks
|lambda_1 - target| <= 0.05, an observation (verdict: none).

One size only (the figure's: N = 32, 10 networks; no --quick / --paper).  Prints PASS or
FAIL per cell and exits with 1 on a FAIL.  With the defaults (standard Adam, lr 1e-3; the
authors' W mean -0.1/N) neither cell reaches the target in the median within 100 epochs; the
tuned lr 0.01 and App. B's literal W mean are in validation/REPRODUCTION.md, Fig. 6.
"""

import argparse
import sys
import csv
import os
import time

import numpy as np

FOLDER = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [FOLDER, os.path.dirname(FOLDER)]  # this folder's scripts, and validation/ (_common)
import _common  # noqa: E402

from floss_ref import Adam, floss, lyapunov_spectrum  # noqa: E402
from floss_ref.core.cells import LSTM, VanillaRNN  # noqa: E402
from floss_ref.core.cells.lstm import GAINS as LSTM_GAINS  # noqa: E402
from floss_ref.errors import NumericalBreakdownError  # noqa: E402

if hasattr(sys.stdout, "reconfigure"):  # whole lines at once, also into a log file
    sys.stdout.reconfigure(line_buffering=True)

TARGET_MEDIAN_ABS = 0.05
CELLS = ("lstm", "relu")
PANELS = {"lstm": "AB", "relu": "CD"}                      # the paper's panel letters
OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "out")  # validation/out


# The random streams of one run, each keyed by (seed, stream, cell, network): building a
# network, measuring lambda_1 before and after, and flossing draw from separate streams, so
# that a change of the learning rate or of the target, or a breakdown of one network, leaves
# every network and every measurement trajectory of the others as it was.
GAINS, BUILD, BEFORE, FLOSS, AFTER = range(5)


def stream(args, kind, cell=None, network=None):
    key = [args.seed, kind] + ([] if cell is None else [CELLS.index(cell), network])
    return np.random.default_rng(key)


def make_network(cell, N, g, args, rng):
    if cell == "lstm":
        return LSTM.random(N, g=g, gains=args.lstm_gains, seed=rng)
    return VanillaRNN.random(N, g=g, nonlinearity="relu", mean=args.relu_mean,
                             mean_scale=args.relu_mean_scale, seed=rng)


def lambda_1(net, T, transient, rng):
    """lambda_1 on a fresh trajectory (fresh state, inputs and Q0); -inf on a collapse."""
    xs = rng.standard_normal((T, net.n_in))
    s0 = rng.standard_normal(net.state_size)
    try:
        return float(lyapunov_spectrum(net, s0, xs, k=1, transient=transient, seed=rng, stderr=False).exponents[0])
    except NumericalBreakdownError:
        return -np.inf


def floss_one(net, args, rng):
    """Floss one network epoch by epoch; returns (lambda_1 per epoch, status)."""
    lam = np.full(args.epochs, np.nan)
    opt = Adam(net.params, lr=args.lr)                     # one optimiser across the epochs
    for epoch in range(args.epochs):
        try:
            hist = floss(net, epochs=1, k=1, T=args.T, transient=args.transient, target=args.target,
                         seed=rng, optimizer=opt)
        except NumericalBreakdownError as exc:
            return lam, f"breakdown at epoch {epoch}: {str(exc).split(':')[0]}"
        lam[epoch] = hist.exponents[0, 0]
    return lam, "ok"


def run(args):
    gains = stream(args, GAINS).uniform(0.0, args.g_max, args.networks)  # Fig. 6: g ~ U(0, 1)
    curves, summary = {}, []
    for cell in args.cells:
        curves[cell] = np.full((args.networks, args.epochs), np.nan)
        for r, g in enumerate(gains):
            net = make_network(cell, args.N, g, args, stream(args, BUILD, cell, r))
            before = lambda_1(net, args.T_eval, args.transient_eval, stream(args, BEFORE, cell, r))
            curves[cell][r], status = floss_one(net, args, stream(args, FLOSS, cell, r))
            after = (lambda_1(net, args.T_eval, args.transient_eval, stream(args, AFTER, cell, r))
                     if status == "ok" else -np.inf)
            summary.append({"cell": cell, "network": r, "g": g, "lambda1_before": before,
                            "lambda1_after": after, "status": status})
    return gains, curves, summary


def write_outputs(args, gains, curves, summary):
    os.makedirs(args.out_dir, exist_ok=True)
    stem = os.path.join(args.out_dir, "fig6_lstm_relu")
    with open(stem + ".csv", "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["cell", "network", "g", "epoch", "lambda1"])
        for cell, lam in curves.items():
            for r in range(lam.shape[0]):
                for e in range(lam.shape[1]):
                    out.writerow([cell, r, f"{gains[r]:.6f}", e, f"{lam[r, e]:.6f}"])
    with open(stem + "_summary.csv", "w", newline="") as fh:
        out = csv.DictWriter(fh, fieldnames=list(summary[0]))
        out.writeheader()
        out.writerows(summary)
    plot(args, curves, stem + ".png")
    return stem


def plot(args, curves, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(curves), figsize=(4.5 * len(curves), 6.5), squeeze=False)
    epochs = np.arange(args.epochs)
    mean = f"{args.relu_mean:g}" + ("" if args.relu_mean_scale == "entry" else "/N")
    titles = {"lstm": "LSTM", "relu": f"ReLU (mean of W = {mean})"}
    for col, (cell, lam) in enumerate(curves.items()):
        top, bottom = axes[0, col], axes[1, col]
        colours = plt.cm.viridis(np.linspace(0, 0.9, lam.shape[0]))
        for r in range(lam.shape[0]):
            top.plot(epochs, lam[r], color=colours[r], lw=1)
        top.axhline(args.target, color="k", ls="--", lw=2.5, label="target")
        top.set(title=f"{PANELS[cell][0]}  {titles[cell]}", xlabel="epoch", ylabel=r"$\lambda_1$")
        top.legend(loc="lower right")
        sq = (lam - args.target) ** 2
        alive = ~np.all(np.isnan(sq), axis=0)             # epochs some network reached
        if alive.any():
            med = np.full(args.epochs, np.nan)
            lo, hi = med.copy(), med.copy()
            med[alive] = np.nanmedian(sq[:, alive], axis=0)
            lo[alive], hi[alive] = np.nanpercentile(sq[:, alive], [25, 75], axis=0)
            bottom.fill_between(epochs, lo, hi, alpha=0.3, color="C0", label="25-75%")
            bottom.plot(epochs, med, color="C0", lw=2, label="median")
            bottom.set_yscale("log")
            bottom.legend(loc="upper right")
        else:
            for ax in (top, bottom):
                ax.text(0.5, 0.75, "every network broke down\n(lambda_1 = -inf, see the table)",
                        ha="center", transform=ax.transAxes)
        for ax in (top, bottom):
            ax.set_xlim(0, args.epochs - 1)
        bottom.set(title=f"{PANELS[cell][1]}  {titles[cell]}", xlabel="epoch",
                   ylabel=r"$\lambda_1^2$" if args.target == 0 else r"$(\lambda_1 - \mathrm{target})^2$")
    init = "App. B per-gate gains" if args.lstm_gains == "app_b" and "lstm" in curves else f"g ~ U(0, {args.g_max:g})"
    fig.suptitle(f"Gradient flossing towards $\\lambda_1 = {args.target:g}$\nN = {args.N}, "
                 f"{args.networks} networks, {init}, Adam lr = {args.lr:g}, no clipping; lambda_1 per "
                 "network (top), median and 25-75 % band (bottom)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--N", type=int, default=32)
    parser.add_argument("--networks", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--T", type=int, default=100, help="steps per flossing epoch")
    parser.add_argument("--transient", type=int, default=20, help="steps left out of each epoch's average")
    parser.add_argument("--lr", type=float, default=1e-3,
                        help="Adam learning rate (default 1e-3, the paper's standard Adam; 0.01 is the tuned rate of "
                             "REPRODUCTION.md's Fig. 6 rows)")
    parser.add_argument("--T-eval", type=int, default=1000, help="steps of the before/after measurement")
    parser.add_argument("--transient-eval", type=int, default=100)
    parser.add_argument("--relu-mean", type=float, default=-0.1, help="gbar of the ReLU W entries (App. B: -0.1)")
    parser.add_argument("--relu-mean-scale", choices=("entry", "1/N"), default="1/N",
                        help="mean of each W entry: gbar/N (authors' code; default) or gbar (App. B read literally, "
                             "which silences the networks: see the module docstring)")
    parser.add_argument("--cells", nargs="+", choices=CELLS, default=list(CELLS))
    parser.add_argument("--g-max", type=float, default=1.0,
                        help="gains drawn g ~ U(0, g_max) (default 1, Fig. 6); larger values give ReLU networks "
                             "that start with lambda_1 > 0")
    parser.add_argument("--lstm-gains", choices=LSTM_GAINS, default="shared",
                        help="LSTM initialisation: one gain g for every gate (shared, the Fig. 6 caption; default) "
                             "or App. B's per-gate gains (app_b: g_ih, g_ix, g_fx, g_ch, g_cx, g_ox ~ U(0, 1), "
                             "g_fh = 0)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--target", type=float, default=0.0,
                        help="target of lambda_1 (default 0, Fig. 6; other targets are observed, not judged)")
    parser.add_argument("--out-dir", default=OUT, help=f"default: {OUT}")
    args = parser.parse_args(argv)
    if not args.g_max > 0:
        parser.error(f"--g-max must be > 0, got {args.g_max}")

    with _common.Tee(os.path.join(args.out_dir, "fig6_lstm_relu.txt"), "validation/paper/fig6_lstm_relu.py", argv):
        return _main(args)


def _main(args):
    start = time.perf_counter()
    gains, curves, summary = run(args)
    stem = write_outputs(args, gains, curves, summary)
    init = "LSTM gains " + args.lstm_gains + ", " if "lstm" in args.cells else ""
    print(f"Fig. 6 in miniature: N = {args.N}, {args.networks} networks, g ~ U(0, {args.g_max:g}), {init}k = 1, "
          f"target {args.target:g}, {args.epochs} epochs of T = {args.T} (transient {args.transient}), Adam lr = {args.lr:g}; "
          f"lambda_1 measured on fresh trajectories of {args.T_eval} steps; {time.perf_counter() - start:.0f} s")
    print(f"{'cell':5s} {'net':>3s} {'g':>6s} {'lambda_1 before':>16s} {'lambda_1 after':>15s}  status")
    for row in summary:
        print(f"{row['cell']:5s} {row['network']:3d} {row['g']:6.3f} {row['lambda1_before']:16.4f} "
              f"{row['lambda1_after']:15.4f}  {row['status']}")
    if args.target != 0.0:
        for cell in args.cells:
            after = np.array([row["lambda1_after"] for row in summary if row["cell"] == cell])
            reached = int(np.sum(np.abs(after - args.target) <= TARGET_MEDIAN_ABS))
            print(f"{cell}: {reached} of {after.size} networks within {TARGET_MEDIAN_ABS} of the target "
                  f"{args.target:g} (lambda_1 after: median {np.median(after):.4f}, "
                  f"{np.min(after):.4f} .. {np.max(after):.4f}); an observation")
        print("verdict: none")
        print(f"wrote {stem}.png, {stem}.csv, {stem}_summary.csv")
        return 0
    failed = 0
    for cell in args.cells:
        after = np.array([row["lambda1_after"] for row in summary if row["cell"] == cell])
        med = float(np.median(np.abs(after)))
        n_bad = int(np.sum(~np.isfinite(after)))
        ok = med <= TARGET_MEDIAN_ABS
        failed += not ok
        print(f"{'PASS' if ok else 'FAIL'}: Fig. 6: flossing drives lambda_1 of the {cell} networks to 0 "
              f"(median abs(lambda_1) <= {TARGET_MEDIAN_ABS}): {med:.4f}"
              + (f"; {n_bad} of {after.size} networks broke down (lambda_1 = -inf)" if n_bad else ""))
    print(f"verdict: {'FAIL' if failed else 'PASS'}")
    code = 1 if failed else 0
    print(f"wrote {stem}.png, {stem}.csv, {stem}_summary.csv")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
