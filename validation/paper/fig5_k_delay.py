"""Fig. 5: binary temporal XOR with flossing before and during training, for different
numbers k of flossed Lyapunov exponents: test accuracy vs delay for each k (A), vs k for
each delay (B), and the median over seeds on the (k, d) plane (C).

Paper (N = 80, g = 1, B = 16, T = 300, 10^4 epochs, E_f = 500): the longer the delay, the
more exponents must be flossed to reach 100 % test accuracy.

    python validation/paper/fig5_k_delay.py --quick
    python validation/paper/fig5_k_delay.py --paper --settings authors --jobs 2   # 36 new runs, ~3.5 core-h
    python validation/paper/fig5_k_delay.py --quick --protocol prefloss --ks 1 4 16 32   # Fig. 7D: preflossing only

``--protocol prefloss`` floss only before training (App. C, Fig. 7D: k up to N); its results
go to their own directory and its outputs carry the suffix ``_prefloss``.

Writes validation/out/fig5_k_delay/{fig5_<scale>.png, fig5_final_<scale>.csv,
fig5_summary_<scale>.csv}.
"""

import math
import os
import sys

import numpy as np

FOLDER = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [FOLDER, os.path.dirname(FOLDER)]  # this folder's scripts, and validation/ (_common)
import _common  # noqa: E402
import fig4_xor_protocols as fig4  # noqa: E402

from floss_ref.runs.run import sweep_tasks  # noqa: E402
from floss_ref.runs.run import TrainConfig  # noqa: E402

NAME = "fig5_k_delay"
SCALE = {
    # diag_every as in fig4's quick runs, so that the k = 32 arm is fig4's run (see below)
    "quick": dict(base=dict(task="binary_xor", protocol="during", N=32, T=100, epochs=6000,
                            floss_epochs=300, diag_every=fig4.SCALE["quick"]["base"]["diag_every"]),
                  ks=(1, 32), delays=(30,), seeds=2),
    # k = 75 is fig4's paper-scale "during" arm; d = 30, 50, 70 span the delays from where
    # plain BPTT still trains (d = 30) to where preflossing fails (d = 70) in fig4's runs
    "paper": dict(base=dict(task="binary_xor", protocol="during", N=80, T=300, epochs=10_000,
                            floss_epochs=500, diag_every=0),
                  ks=(1, 4, 16, 40, 75), delays=(30, 50, 70), seeds=3),
}


def main(argv=None):
    p = _common.parser(NAME, __doc__)
    p.add_argument("--ks", nargs="+", type=int, default=None, help="override the k values of the scale")
    p.add_argument("--delays", nargs="+", type=int, default=None, help="override the delays of the scale")
    p.add_argument("--seeds", type=int, default=None, help="number of seeds (network realizations)")
    p.add_argument("--settings", choices=("ours", "authors"), default="ours",
                   help="our choices where the paper is silent (default) or the authors' code's "
                        "(as fig4_xor_protocols --settings)")
    p.add_argument("--protocol", choices=("during", "prefloss"), default="during",
                   help="flossing before and during training (Fig. 5, default) or before only (Fig. 7D)")
    args = p.parse_args(argv)
    s = SCALE[args.scale]
    ks, delays, seeds = args.ks or s["ks"], args.delays or s["delays"], args.seeds or s["seeds"]
    args.xor_lags, args.init = "half", "gaussian"
    fields, _ = fig4.setting_fields(args)
    base = dict(s["base"], protocol=args.protocol, **fields)
    cfgs = [TrainConfig(delay=d, k=k, seed=seed, **base) for d in delays for k in ks for seed in range(seeds)]
    tasks = sweep_tasks(cfgs, curve_every=fig4.curve_every(args.scale))
    prefloss = args.protocol == "prefloss"
    # a configuration that fig4 also runs (at --quick: k = 32, d = 30; at --paper: k = 75)
    # is trained once for both
    settings, label = fig4.sweep_settings(args)
    if prefloss:
        settings, label = dict(settings, protocol="prefloss"), "_".join(filter(None, (label, "prefloss")))
    results = fig4.shared_sweep(args, NAME, cfgs, tasks, settings, label=label)
    out = _common.out_dir(args, NAME)
    suffix = "_prefloss" if prefloss else ""

    acc = {}
    rows = []
    for c, t in zip(cfgs, tasks):
        a = float(results[t.name]["summary/test_accuracy"])
        acc.setdefault((c.delay, c.k), []).append(a)
        rows.append([c.delay, c.k, c.seed, c.N, c.epochs, a, float(results[t.name]["meta/seconds"])])
    _common.write_csv(os.path.join(out, f"fig5_final_{args.scale}{suffix}.csv"),
                      ["delay", "k", "seed", "N", "epochs", "test_accuracy", "seconds"], rows)
    summary = []
    print(f"{'d':>3} " + " ".join(f"{'k=' + str(k):>7}" for k in ks) + "   (median test accuracy)")
    for d in delays:
        line = []
        for k in ks:
            med, lo, hi, mean = _common.stats(acc[(d, k)])
            summary.append([d, k, len(acc[(d, k)]), med, lo, hi, mean])
            line.append(f"{med:>7.3f}")
        print(f"{d:>3} " + " ".join(line))
    _common.write_csv(os.path.join(out, f"fig5_summary_{args.scale}{suffix}.csv"),
                      ["delay", "k", "n", "median", "p25", "p75", "mean"], summary)
    verdicts = _common.Verdicts()
    if len(ks) > 1 and len(delays) > 1:
        # k*(d): the fewest flossed exponents whose median test accuracy reaches 0.95 (the
        # criterion of validation/CRITERIA.md, "Fig. 5 / Figs. 7A-C"), over every delay run
        k_star = [next((k for k in ks if np.median(acc[(d, k)]) >= 0.95), math.inf) for d in delays]
        named = ", ".join(f"d = {d}: {'none' if k == math.inf else k}" for d, k in zip(delays, k_star))
        verdicts.check("harder tasks need more flossed exponents: k*(d), the fewest k with median test accuracy "
                       ">= 0.95, does not fall as d grows and is larger at the longest delay than at the shortest",
                       all(a <= b for a, b in zip(k_star, k_star[1:])) and k_star[0] < k_star[-1], named)
    elif len(ks) > 1:
        d = delays[0]
        few, many = np.median(acc[(d, min(ks))]), np.median(acc[(d, max(ks))])
        verdicts.check(f"at the one delay d = {d}, k = {max(ks)} beats k = {min(ks)} by at least 0.1 in median test "
                       "accuracy (one delay cannot show that harder tasks need more exponents)", many >= few + 0.1,
                       f"{many:.3f} vs {few:.3f}")

    import matplotlib
    cmap = matplotlib.colormaps["viridis"]
    fig, axes = _common.figure(3)
    for ax, outer, inner, label_o, label_i in ((axes[0][0], ks, delays, "k", "delay d"),
                                               (axes[0][1], delays, ks, "d", "flossed exponents k")):
        for j, o in enumerate(outer):
            color = cmap(j / max(1, len(outer) - 1))
            vals = [np.array(acc[(i, o)] if label_o == "k" else acc[(o, i)]) for i in inner]
            x = np.array(inner)
            ax.fill_between(x, [np.percentile(v, 25) for v in vals], [np.percentile(v, 75) for v in vals],
                            color=color, alpha=0.15, lw=0)
            ax.plot(x, [v.mean() for v in vals], color=color, marker="o", ms=3, lw=1.6, label=f"{label_o} = {o}")
            for xi, v in zip(x, vals):
                ax.scatter(np.full(v.size, xi), v, color=color, alpha=0.35, s=8)
        ax.axhline(0.5, color="grey", ls=":", lw=1)
        ax.set(xlabel=label_i, ylabel="test accuracy", ylim=(0.4, 1.02))
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))   # outside: no dot hidden
    grid = np.array([[np.median(acc[(d, k)]) for k in ks] for d in delays])
    ax = axes[0][2]
    im = ax.imshow(grid, origin="lower", aspect="auto", vmin=0.5, vmax=1.0, cmap="viridis")
    ax.set_xticks(range(len(ks)), [str(k) for k in ks])
    ax.set_yticks(range(len(delays)), [str(d) for d in delays])
    ax.set(xlabel="flossed exponents k", ylabel="delay d", title="median test accuracy")
    fig.colorbar(im, ax=ax)
    when = "before training only" if prefloss else "before + during training"
    fig.suptitle(f"binary temporal XOR, flossing {when}, N = {cfgs[0].N}")
    _common.save(fig, os.path.join(out, f"fig5_{args.scale}{suffix}.png"))
    return verdicts.exit_code()


if __name__ == "__main__":
    sys.exit(main())
