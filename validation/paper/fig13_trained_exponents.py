"""Fig. 13: the Lyapunov exponents lambda_1 and lambda_10 of trained networks against the
delay d, spatial delayed XOR, without flossing and with flossing during training.

Paper (App. D, Fig. 13; N = 80, g = 1, B = 16, T = 300, 10^4 epochs, E_f = 500 on k = 75):
"Lyapunov exponents of successfully trained networks can be approximated by the empirical
fit lambda_1(d) = -0.2 exp(-0.03 d)", and "the same fit ... also describes lambda_10".

The runs are those of ``fig4_xor_protocols.py`` (spatial XOR, protocols none and during)
with one change: the spectrum (k = 10) is measured at the first and the last training
epoch (``diag_every = epochs``), on that epoch's training batch (16 trajectories of T
steps, the first T/10 left out).  Each network is coloured by its final test accuracy, as
in the paper; the verdict compares the networks with test accuracy >= 0.9 to the fit:
their median absolute deviation from it, next to their spread around their own median.

    python validation/paper/fig13_trained_exponents.py --quick           # N = 32, d = 10, 20, 30, 2 seeds
    python validation/paper/fig13_trained_exponents.py --paper --settings authors   # d = 20-80, 3 seeds

Writes validation/out/fig13_trained_exponents/{fig13_<scale>.png, fig13_<scale>.csv}.
"""

import os
import sys

import numpy as np

FOLDER = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [FOLDER, os.path.dirname(FOLDER)]  # this folder's scripts, and validation/ (_common)
import _common  # noqa: E402
import fig4_xor_protocols as fig4  # noqa: E402

from floss_ref.runs.run import sweep_tasks  # noqa: E402

NAME = "fig13_trained_exponents"
PROTOCOLS = ("none", "during")
SCALE = {"quick": dict(delays=(10, 20, 30), seeds=2), "paper": dict(delays=(20, 40, 50, 60, 70, 80), seeds=3)}
SOLVED = 0.9
MAX_DEVIATION = 0.05   # median |lambda - fit| of the trained networks (CRITERIA.md)


def fit(d):
    """The paper's empirical fit of lambda_1 (and lambda_10) of trained networks."""
    return -0.2 * np.exp(-0.03 * np.asarray(d, dtype=float))


def follows_fit(rows, key):
    """The criterion of validation/CRITERIA.md for ``key`` ("lambda_1" or "lambda_10") of
    ``rows`` (dicts with ``delay`` and ``key``): (median |key - fit|, median |key - its
    median|, whether the first is below MAX_DEVIATION and no larger than the second), or
    None for fewer than 3 rows."""
    if len(rows) < 3:
        return None
    lam = np.array([r[key] for r in rows])
    dev = float(np.median(np.abs(lam - fit([r["delay"] for r in rows]))))
    spread = float(np.median(np.abs(lam - np.median(lam))))
    return dev, spread, dev < MAX_DEVIATION and dev <= spread


def main(argv=None):
    p = _common.parser(NAME, __doc__)
    p.add_argument("--delays", nargs="+", type=int, default=None)
    p.add_argument("--seeds", type=int, default=None)
    p.add_argument("--settings", choices=("ours", "authors", "input-scale"), default="ours",
                   help="as in fig4_xor_protocols.py")
    args = p.parse_args(argv)
    args.xor_lags, args.init = "half", "gaussian"
    fields, label = fig4.setting_fields(args)
    s = SCALE[args.scale]
    epochs = fig4.SCALE[args.scale]["base"]["epochs"]
    fields = dict(fields, diag_every=epochs)   # the spectrum at epochs 0 and E - 1
    cfgs = fig4.configs(args.scale, ["spatial_xor"], args.delays or s["delays"], args.seeds or s["seeds"],
                        PROTOCOLS, fields)
    tasks = sweep_tasks(cfgs, curve_every=fig4.curve_every(args.scale))
    # a configuration that fig4 also runs (at --quick: d = 30) is trained once for both
    results = fig4.shared_sweep(args, NAME, cfgs, tasks, {"settings": args.settings},
                                label=label if args.scale == "paper" else None)
    out = _common.out_dir(args, NAME)
    rows = []
    for c, t in zip(cfgs, tasks):
        r = results[t.name]
        lam = r["history/exponents"][-1]            # the last training epoch
        rows.append(dict(protocol=c.protocol, delay=c.delay, seed=c.seed, acc=float(r["summary/test_accuracy"]),
                         lambda_1=float(lam[0]), lambda_10=float(lam[min(9, lam.size - 1)])))
    _common.write_csv(os.path.join(out, f"fig13_{args.scale}.csv"),
                      ["protocol", "delay", "seed", "test_accuracy", "lambda_1", "lambda_10"],
                      [[r["protocol"], r["delay"], r["seed"], r["acc"], r["lambda_1"], r["lambda_10"]] for r in rows])
    print(f"spatial XOR, N = {cfgs[0].N}, {epochs} epochs, settings {label}: exponents after the last epoch")
    print(f"{'protocol':>9} {'d':>3} {'seed':>4} {'acc':>6} {'lambda_1':>9} {'lambda_10':>9} {'fit':>8}")
    for r in rows:
        print(f"{r['protocol']:>9} {r['delay']:>3} {r['seed']:>4} {r['acc']:>6.3f} {r['lambda_1']:>9.4f} "
              f"{r['lambda_10']:>9.4f} {fit(r['delay']):>8.4f}")
    plot(rows, cfgs[0], os.path.join(out, f"fig13_{args.scale}.png"))
    solved = [r for r in rows if r["acc"] >= SOLVED]
    v = _common.Verdicts()
    for key in ("lambda_1", "lambda_10"):
        result = follows_fit(solved, key)
        if result is None:
            print(f"{key}: fewer than 3 networks reached test accuracy {SOLVED}: no verdict")
            continue
        dev, spread, holds = result
        print(f"{key} of the {len(solved)} networks with test accuracy >= {SOLVED}: median |{key} - fit| = {dev:.4f}, "
              f"median |{key} - its median| = {spread:.4f}")
        v.check(f"{key} of successfully trained networks follows -0.2 exp(-0.03 d) (median deviation from the fit "
                f"below {MAX_DEVIATION} and below their own spread around the median)", holds,
                f"{dev:.4f} vs spread {spread:.4f}")
    return v.exit_code()


def plot(rows, config, path):
    import matplotlib.pyplot as plt

    fig, axes = _common.figure(2, 2)
    d_fine = np.linspace(min(r["delay"] for r in rows), max(r["delay"] for r in rows), 100)
    for row, key in enumerate(("lambda_1", "lambda_10")):
        for col, protocol in enumerate(PROTOCOLS):
            ax = axes[row][col]
            sel = [r for r in rows if r["protocol"] == protocol]
            sc = ax.scatter([r["delay"] for r in sel], [r[key] for r in sel], c=[r["acc"] for r in sel],
                            cmap="coolwarm", vmin=0.5, vmax=1.0, s=25)
            if protocol == "during":
                ax.plot(d_fine, fit(d_fine), "k--", lw=1, label="-0.2 exp(-0.03 d)")
                ax.legend(fontsize=7)
            ax.set_xlabel("delay d")
            ax.set_ylabel(key.replace("lambda_", "lambda_"))
            ax.set_title(f"{'ABCD'[2 * row + col]}: {key}, {protocol}", fontsize=9)
    fig.colorbar(sc, ax=axes, label="test accuracy", shrink=0.6)
    fig.suptitle(f"Fig. 13: exponents of trained networks, spatial XOR, N = {config.N}", fontsize=9)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
