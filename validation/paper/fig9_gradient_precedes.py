"""Figs. 8C/D and 9: does the rise of |dL/dh_0| precede the rise of accuracy, network by
network?  Computed from committed sweep results alone (no training here).

Paper (binary temporal XOR, d = 70, flossing during training, N = 80, 10^4 epochs): "the
moments where gradient norm |dL/dh_0| becomes macroscopically large coincides with the
moment the accuracy is beyond chance level" (Fig. 8D) and "Increase of gradient norm
precedes epoch when accuracy exceeds chance level" (Fig. 9).

The committed results (``validation/results/fig4_xor_protocols/<label>/``) store the
training curves as means over blocks of 100 epochs (``curve/accuracy`` and
``curve/log10_h0_grad_norm``, the mean of log10 |dL/dh_0| over the block).  Per network:

* ``e_acc``: the first block whose mean accuracy exceeds ``--chance-margin`` above 0.5
  (default 0.55);
* ``e_grad``, by two definitions, both reported:

  - *rise* (defined first, before looking at the curves): the first block where
    log10 |dL/dh_0| lies ``--rise`` decades (default 2, a 100-fold rise) above its running
    minimum over the blocks before.  It misses a gradient that is large from the first
    block on (flossing before epoch 0 raises it at once);
  - *level* (chosen after seeing the first): the first block where |dL/dh_0| >= 10^``--level``
    (default -4; the networks that never learn stay at 1e-8 to 1e-14, those that learn reach
    1e-3 to 1e-1).

A network is *consistent* with the claim when e_grad <= e_acc (the rise comes in the same
block or earlier), and *contradicts* it when e_grad > e_acc.  The resolution is one block
of 100 epochs: "precedes" within a block cannot be told from "coincides".  Networks that
never leave chance are counted apart (with or without a rise of the gradient).

    python validation/paper/fig9_gradient_precedes.py                        # all committed labels
    python validation/paper/fig9_gradient_precedes.py --labels authors_lags-half --tasks spatial_xor

Writes validation/out/fig9_gradient_precedes/{fig9_<label>.png, fig9_<label>.csv}.
"""

import argparse
import os
import sys

import numpy as np

FOLDER = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [FOLDER, os.path.dirname(FOLDER)]  # this folder's scripts, and validation/ (_common)
import _common  # noqa: E402

from floss_ref.runs.sweep import load_results  # noqa: E402

NAME = "fig9_gradient_precedes"
RESULTS = os.path.join(_common.HERE, "results", "fig4_xor_protocols")
BLOCK = 100  # epochs per stored curve point (curve_every of the paper-scale sweeps)


def first_block(mask):
    """Index of the first True entry, or None."""
    idx = np.flatnonzero(mask)
    return int(idx[0]) if idx.size else None


def events(accuracy, log_grad, margin, rise, level):
    """(e_acc, e_grad by rise, e_grad by level) in blocks for one network (None: never)."""
    e_acc = first_block(accuracy > margin)
    running_min = np.minimum.accumulate(log_grad)
    return e_acc, first_block(log_grad >= running_min + rise), first_block(log_grad >= level)


def classify(e_acc, e_grad):
    if e_acc is None:
        return "chance, gradient rose" if e_grad is not None else "chance, no rise"
    if e_grad is None:
        return "contradicts (no rise)"
    return "consistent" if e_grad <= e_acc else "contradicts"


def parse_name(name):
    """(task, delay, protocol, seed) from a sweep task name like spatial_xor_d60_during_k75_N80_s3."""
    parts = name.split("_")
    i = next(j for j, p in enumerate(parts) if p.startswith("d") and p[1:].isdigit())
    return "_".join(parts[:i]), int(parts[i][1:]), parts[i + 1], int(parts[-1][1:])


def main(argv=None):
    p = argparse.ArgumentParser(prog=NAME, description=__doc__.split("\n\n")[0])
    p.add_argument("--labels", nargs="+", default=None,
                   help="results directories under validation/results/fig4_xor_protocols (default: every one "
                        "holding paper-scale results)")
    p.add_argument("--tasks", nargs="+", default=("binary_xor", "spatial_xor"))
    p.add_argument("--protocols", nargs="+", default=("none", "prefloss", "during"))
    p.add_argument("--chance-margin", type=float, default=0.55, help="accuracy that counts as beyond chance")
    p.add_argument("--rise", type=float, default=2.0, help="decades above the running minimum of |dL/dh_0|")
    p.add_argument("--level", type=float, default=-4.0, help="log10 of the level of |dL/dh_0| that counts as large")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    labels = args.labels or sorted(d for d in os.listdir(RESULTS) if not d.startswith("quick")
                                   and os.path.isdir(os.path.join(RESULTS, d)))
    out = _common.out_dir(args, NAME)
    print(_common.provenance(), flush=True)
    print(f"e_acc: first 100-epoch block with mean accuracy > {args.chance_margin}; e_grad by rise: first block with "
          f"log10 |dL/dh_0| >= running minimum + {args.rise:g}; by level: first block with log10 |dL/dh_0| >= "
          f"{args.level:g}")
    totals = {"rise": {}, "level": {}}
    rows_all = []
    for label in labels:
        results = load_results(os.path.join(RESULTS, label))
        rows = []
        for name, r in sorted(results.items()):
            if "curve/accuracy" not in r:
                continue
            task, d, protocol, seed = parse_name(name)
            if task not in args.tasks or protocol not in args.protocols:
                continue
            acc, g = r["curve/accuracy"], r["curve/log10_h0_grad_norm"]
            e_acc, e_rise, e_level = events(acc, g, args.chance_margin, args.rise, args.level)
            verdict = {"rise": classify(e_acc, e_rise), "level": classify(e_acc, e_level)}
            rows.append((task, d, protocol, seed, e_acc, e_rise, e_level, verdict, acc, g))
            for key in totals:
                totals[key].setdefault((task, protocol), []).append(verdict[key])
        if not rows:
            continue
        rows_all += rows
        print(f"\n{label}: {len(rows)} networks")
        print(f"{'task':12s} {'d':>3s} {'protocol':9s} {'seed':>4s} {'e_rise':>7s} {'e_level':>7s} {'e_acc':>6s}  "
              "verdict by rise / by level")
        with open(os.path.join(out, f"fig9_{label}.csv"), "w") as f:
            f.write("task,delay,protocol,seed,e_grad_rise_epoch,e_grad_level_epoch,e_acc_epoch,verdict_rise,"
                    "verdict_level\n")
            for task, d, protocol, seed, e_acc, e_rise, e_level, verdict, _, _ in rows:
                ep = [("" if e is None else str(e * BLOCK)) for e in (e_rise, e_level, e_acc)]
                print(f"{task:12s} {d:3d} {protocol:9s} {seed:4d} {ep[0]:>7s} {ep[1]:>7s} {ep[2]:>6s}  "
                      f"{verdict['rise']} / {verdict['level']}")
                f.write(f"{task},{d},{protocol},{seed},{ep[0]},{ep[1]},{ep[2]},{verdict['rise']},{verdict['level']}\n")
        plot(rows, os.path.join(out, f"fig9_{label}.png"), label, args)
    failed = False
    for key, what in (("rise", f"a rise of {args.rise:g} decades (defined first)"),
                      ("level", f"the level 1e{args.level:g} (chosen after seeing the first)")):
        print(f"\nsummary, e_grad by {what}:")
        ok = True
        for (task, protocol), verdicts in sorted(totals[key].items()):
            counts = {v: verdicts.count(v) for v in sorted(set(verdicts))}
            left = [v for v in verdicts if not v.startswith("chance")]
            ok &= all(v == "consistent" for v in left)
            e_index = 5 if key == "rise" else 6
            strict = sum(1 for r in rows_all if (r[0], r[2]) == (task, protocol) and r[4] is not None
                         and r[e_index] is not None and r[e_index] < r[4])
            print(f"  {task} {protocol}: " + ", ".join(f"{v} {c}" for v, c in counts.items())
                  + f" (of the consistent: {strict} in an earlier block, the rest in the same block)")
        print(f"verdict by {key}: {'PASS' if ok else 'FAIL'}: every network that left chance had its |dL/dh_0| "
              "become large in the same 100-epoch block or earlier (resolution one block)")
        failed |= not ok
    return 1 if failed else 0


def plot(rows, path, label, args):
    """Per network, as Fig. 8C/D: |dL/dh_0| (top) and accuracy (bottom) against epochs, one
    colour per network, the events marked."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted({(r[0], r[2]) for r in rows})
    fig, axes = plt.subplots(2, len(keys), figsize=(4 * len(keys), 6), squeeze=False, sharex=True)
    for col, (task, protocol) in enumerate(keys):
        sel = [r for r in rows if (r[0], r[2]) == (task, protocol)]
        colors = plt.cm.viridis(np.linspace(0, 0.9, len(sel)))
        for c, (_, d, _, seed, e_acc, _, e_grad, _, acc, g) in zip(colors, sel):
            epochs = (np.arange(acc.size) + 0.5) * BLOCK
            axes[0, col].plot(epochs, g, color=c, lw=0.8, label=f"d={d} s{seed}")
            axes[1, col].plot(epochs, acc, color=c, lw=0.8)
            for e, ax in ((e_grad, axes[0, col]), (e_acc, axes[1, col])):
                if e is not None:
                    ax.axvline((e + 0.5) * BLOCK, color=c, lw=0.5, ls=":")
        axes[0, col].set_title(f"{task}, {protocol}", fontsize=9)
        axes[0, col].set_ylabel("log10 |dL/dh_0| (100-epoch mean)")
        axes[1, col].set_ylabel("accuracy (100-epoch mean)")
        axes[1, col].axhline(args.chance_margin, color="k", lw=0.5, ls="--")
        axes[0, col].axhline(args.level, color="k", lw=0.5, ls="--")
        axes[1, col].set_xlabel("epoch")
        axes[1, col].set_xscale("log")
    axes[0, 0].legend(fontsize=5, ncol=2)
    fig.suptitle(f"Figs. 8C/D, 9 from {label}: dotted lines mark e_grad by level (top) and e_acc (bottom)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
