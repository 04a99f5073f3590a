"""Figs. 8C/D and 9: does the rise of |dL/dh_0| precede the rise of accuracy, network by
network?  Computed from committed sweep results alone (no training here).

Paper (binary temporal XOR, d = 70, flossing during training, N = 80, 10^4 epochs): "the
moments where gradient norm |dL/dh_0| becomes macroscopically large coincides with the
moment the accuracy is beyond chance level" (Fig. 8D) and "Increase of gradient norm
precedes epoch when accuracy exceeds chance level" (Fig. 9); App. D: "when plotting the
accuracy as a function of epoch aligned with the last epoch with |dL/dh_0| < 0.001, we
observe for this task that the increase of gradient norm |dL/dh_0| reliably precedes the
epoch at which the accuracy surpasses the chance level (See Fig 9B)".

The committed results (``validation/results/fig4_xor_protocols/<label>/``) store the
training curves as means over blocks of epochs (``curve/accuracy`` and
``curve/log10_h0_grad_norm``, the mean of log10 |dL/dh_0| over the block): 100 epochs in the
paper-scale sweeps, 10 in the ``*_curve10`` ones.  The block size of each result is
``summary/epochs / curve size`` (it must divide exactly).  Per network, in blocks (printed
as the epoch where the block starts):

* ``e_acc``: the first block whose mean accuracy exceeds ``--chance-margin`` (default 0.55);
* ``e_grad``, by three definitions, all reported:

  - *rise* (defined first, before looking at the curves): the first block where
    log10 |dL/dh_0| lies ``--rise`` decades (default 2, a 100-fold rise) above its running
    minimum over the blocks before.  It misses a gradient that is large from the first
    block on (flossing before epoch 0 raises it at once);
  - *level*: the first block where |dL/dh_0| >= 10^``--level`` (default -3, the paper's
    0.001 of Fig. 9B; the networks that never learn stay at 1e-8 to 1e-14, those that learn
    reach 1e-3 to 1e-1; -4, chosen after seeing the curves, was the default before);
  - *last* (the paper's alignment, App. D): the block after the last block before e_acc
    whose mean log10 |dL/dh_0| is < ``--last-level`` (default -3, the paper's 0.001); 0 if
    there is none; undefined for a network that never leaves chance.  By construction
    e_grad <= e_acc, so only "earlier" against "same block" tells anything.

A network is *consistent* with the claim when e_grad <= e_acc (the rise comes in the same
block or earlier), and *contradicts* it when e_grad > e_acc.  The resolution is one block:
"precedes" within a block cannot be told from "coincides".  Networks that never leave chance
are counted apart (with or without a rise of the gradient).

The criterion fixed before the 10-epoch runs (validation/CRITERIA.md, row "Fig. 9, 10-epoch
curves"; binary XOR d = 70, flossing during training, seeds 0-4 of ``authors_lags-half_curve10``)
is graded by :func:`grade_last` whenever those networks are in the selection: t_acc = e_acc and
t_grad = e_grad by *last*, at the criterion's own 0.55 and -3 whatever the options say;
reproduced if at least 4 of the 5 leave chance and t_grad < t_acc in every one that does;
partly if in at least half of those; not reproduced otherwise.  The script exits 1 when that
grade is "not reproduced" or when the rise or level verdict is FAIL, else 0.

    python validation/paper/fig9_gradient_precedes.py                        # all committed labels
    python validation/paper/fig9_gradient_precedes.py --labels authors_lags-half --tasks spatial_xor
    python validation/paper/fig9_gradient_precedes.py --labels authors_lags-half_curve10 --tasks binary_xor \\
        --protocols during                                                   # the Fig. 9 criterion

Writes validation/out/fig9_gradient_precedes/{fig9_<label>.png, fig9_<label>.csv}, and for
labels with curves finer than 100 epochs fig9ab_<label>.png (Fig. 9A/B: the curves aligned
per network).
"""

import argparse
import os
import sys

import numpy as np

FOLDER = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [FOLDER, os.path.dirname(FOLDER)]  # this folder's scripts, and validation/ (_common)
import _common  # noqa: E402

from floss_ref.runs.sweep import load_results, result_path  # noqa: E402

NAME = "fig9_gradient_precedes"
RESULTS = os.path.join(_common.HERE, "results", "fig4_xor_protocols")
DEFINITIONS = ("rise", "level", "last")

# the criterion fixed before the 10-epoch runs (validation/CRITERIA.md, row "Fig. 9, 10-epoch curves")
CRITERION = dict(label="authors_lags-half_curve10", task="binary_xor", delay=70, protocol="during",
                 seeds=(0, 1, 2, 3, 4), block=10, margin=0.55, level=-3.0)


def block_epochs(arrays, where):
    """Epochs per stored curve point of one result: ``summary/epochs`` divided by the number
    of curve points.  ``where`` (the file) names the result in the error.

    Raises
    ------
    ValueError
        The curves are empty or of different lengths, or their length does not divide the
        epochs.
    """
    epochs = int(arrays["summary/epochs"])
    n = int(np.asarray(arrays["curve/accuracy"]).size)
    n_grad = int(np.asarray(arrays["curve/log10_h0_grad_norm"]).size)
    if n == 0 or n_grad != n:
        raise ValueError(f"{where}: curve/accuracy has {n} points and curve/log10_h0_grad_norm {n_grad}; "
                         "expected the same non-zero number")
    if epochs <= 0 or epochs % n:
        raise ValueError(f"{where}: {n} curve points do not divide summary/epochs = {epochs} into whole blocks")
    return epochs // n


def first_block(mask):
    """Index of the first True entry, or None."""
    idx = np.flatnonzero(mask)
    return int(idx[0]) if idx.size else None


def events(accuracy, log_grad, margin, rise, level):
    """(e_acc, e_grad by rise, e_grad by level) in blocks for one network (None: never)."""
    e_acc = first_block(accuracy > margin)
    running_min = np.minimum.accumulate(log_grad)
    return e_acc, first_block(log_grad >= running_min + rise), first_block(log_grad >= level)


def last_below(log_grad, e_acc, level):
    """e_grad by the paper's alignment (App. D, Fig. 9B), in blocks: the block after the
    last block before ``e_acc`` whose mean log10 |dL/dh_0| is below ``level``; 0 if no block
    before ``e_acc`` is below it; None if ``e_acc`` is None (the network never leaves
    chance).  Always <= e_acc."""
    if e_acc is None:
        return None
    below = np.flatnonzero(np.asarray(log_grad)[:e_acc] < level)
    return int(below[-1]) + 1 if below.size else 0


def classify(e_acc, e_grad):
    if e_acc is None:
        return "chance, gradient rose" if e_grad is not None else "chance, no rise"
    if e_grad is None:
        return "contradicts (no rise)"
    return "consistent" if e_grad <= e_acc else "contradicts"


def grade_last(networks, expected=None):
    """The Fig. 9 criterion (validation/CRITERIA.md, "Fig. 9, 10-epoch curves") over a set
    of networks, each a pair (t_acc, t_grad) in blocks, t_acc None for a network that never
    leaves chance (t_grad by :func:`last_below`).

    Returns (counts, verdict): counts has ``networks``, ``left`` (left chance), ``precedes``
    (t_grad < t_acc), ``coincides`` (t_grad == t_acc) and ``later`` (t_grad > t_acc or
    missing; none by the definition of t_grad); verdict is "reproduced" (at least 4 of 5,
    i.e. four fifths, leave chance, and every one of them precedes), "partly" (at least
    half of those that leave chance precede) or "not reproduced" (fewer than half, or
    none leaves chance).  With ``expected`` given and a different number of networks, the
    verdict is "not graded yet (<n> of <expected> networks)".
    """
    networks = list(networks)
    left = [(a, g) for a, g in networks if a is not None]
    counts = dict(networks=len(networks), left=len(left),
                  precedes=sum(1 for a, g in left if g is not None and g < a),
                  coincides=sum(1 for a, g in left if g is not None and g == a),
                  later=sum(1 for a, g in left if g is None or g > a))
    if expected is not None and len(networks) != expected:
        return counts, f"not graded yet ({len(networks)} of {expected} networks)"
    if left and 5 * len(left) >= 4 * len(networks) and counts["precedes"] == len(left):
        verdict = "reproduced"
    elif left and 2 * counts["precedes"] >= len(left):
        verdict = "partly"
    else:
        verdict = "not reproduced"
    return counts, verdict


def parse_name(name):
    """(task, delay, protocol, seed) from a sweep task name like spatial_xor_d60_during_k75_N80_s3."""
    parts = name.split("_")
    i = next(j for j, p in enumerate(parts) if p.startswith("d") and p[1:].isdigit())
    return "_".join(parts[:i]), int(parts[i][1:]), parts[i + 1], int(parts[-1][1:])


def epoch(e, block):
    """A block index as the epoch where the block starts ('' for None)."""
    return "" if e is None else str(e * block)


def grade_criterion(rows):
    """Grade the Fig. 9 criterion on the rows of its networks (their own 0.55 and -3, 10-epoch
    blocks): print each network and the grade; returns the verdict."""
    c = CRITERION
    sel = sorted((r for r in rows if r["label"] == c["label"] and r["task"] == c["task"] and r["d"] == c["delay"]
                  and r["protocol"] == c["protocol"] and r["seed"] in c["seeds"]), key=lambda r: r["seed"])
    print(f"\nFig. 9 criterion (validation/CRITERIA.md, 'Fig. 9, 10-epoch curves'): {c['label']}, {c['task']} "
          f"d = {c['delay']}, {c['protocol']}, seeds {c['seeds'][0]}-{c['seeds'][-1]}; t_acc: first "
          f"{c['block']}-epoch block with mean accuracy > {c['margin']}; t_grad: the block after the last block "
          f"before t_acc with mean log10 |dL/dh_0| < {c['level']:g} (0 if none); precedes if t_grad < t_acc")
    wrong = [r for r in sel if r["block"] != c["block"]]
    if wrong:
        print(f"  not graded: {len(wrong)} network(s) have {sorted({r['block'] for r in wrong})}-epoch blocks, "
              f"the criterion {c['block']}-epoch ones")
        return "not graded"
    networks = []
    for r in sel:
        t_acc = first_block(r["acc"] > c["margin"])
        t_grad = last_below(r["g"], t_acc, c["level"])
        networks.append((t_acc, t_grad))
        if t_acc is None:
            what = "never leaves chance"
        else:
            what = ("precedes" if t_grad < t_acc else "coincides") + (
                f" by {t_acc - t_grad} blocks ({(t_acc - t_grad) * r['block']} epochs)" if t_grad < t_acc else "")
        print(f"  seed {r['seed']}: t_acc = block {t_acc} (epoch {epoch(t_acc, r['block']) or '-'}), t_grad = block "
              f"{t_grad} (epoch {epoch(t_grad, r['block']) or '-'}): {what}")
    counts, verdict = grade_last(networks, expected=len(c["seeds"]))
    print(f"  {counts['networks']} networks, {counts['left']} leave chance; of those t_grad < t_acc in "
          f"{counts['precedes']}, t_grad = t_acc in {counts['coincides']}, later or missing in {counts['later']}")
    print(f"verdict (Fig. 9 criterion): {verdict}")
    return verdict


def main(argv=None):
    p = argparse.ArgumentParser(prog=NAME, description=__doc__.split("\n\n")[0])
    p.add_argument("--labels", nargs="+", default=None,
                   help="results directories under validation/results/fig4_xor_protocols (default: every one "
                        "holding paper-scale results)")
    p.add_argument("--tasks", nargs="+", default=("binary_xor", "spatial_xor"))
    p.add_argument("--protocols", nargs="+", default=("none", "prefloss", "during"))
    p.add_argument("--chance-margin", type=float, default=0.55, help="accuracy that counts as beyond chance")
    p.add_argument("--rise", type=float, default=2.0, help="decades above the running minimum of |dL/dh_0|")
    p.add_argument("--level", type=float, default=-3.0,
                   help="log10 of the level of |dL/dh_0| that counts as large (default -3, the paper's 0.001)")
    p.add_argument("--last-level", type=float, default=-3.0,
                   help="log10 of the level of |dL/dh_0| of the 'last' definition (the paper's 0.001: -3)")
    p.add_argument("--window", type=float, default=1000.0,
                   help="epochs shown either side of the alignment in the Fig. 9A/B panels")
    p.add_argument("--root", default=RESULTS, help="the folder holding the label directories")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    labels = args.labels or sorted(d for d in os.listdir(args.root) if not d.startswith("quick")
                                   and os.path.isdir(os.path.join(args.root, d)))
    out = _common.out_dir(args, NAME)
    print(_common.provenance(), flush=True)
    print(f"e_acc: first block with mean accuracy > {args.chance_margin}; e_grad by rise: first block with "
          f"log10 |dL/dh_0| >= running minimum + {args.rise:g}; by level: first block with log10 |dL/dh_0| >= "
          f"{args.level:g}; by last: the block after the last block before e_acc with log10 |dL/dh_0| < "
          f"{args.last_level:g} (0 if none).  Blocks: summary/epochs / curve points per result; printed as the "
          "epoch where the block starts")
    totals = {key: {} for key in DEFINITIONS}
    rows_all = []
    for label in labels:
        folder = os.path.join(args.root, label)
        if not os.path.isdir(folder):
            print(f"\n{label}: no results directory {folder}")
            continue
        results = load_results(folder)
        rows = []
        for name, arr in sorted(results.items()):
            if "curve/accuracy" not in arr:
                continue
            task, d, protocol, seed = parse_name(name)
            if task not in args.tasks or protocol not in args.protocols:
                continue
            block = block_epochs(arr, result_path(folder, name))
            acc, g = arr["curve/accuracy"], arr["curve/log10_h0_grad_norm"]
            e_acc, e_rise, e_level = events(acc, g, args.chance_margin, args.rise, args.level)
            e_last = last_below(g, e_acc, args.last_level)
            e = {"rise": e_rise, "level": e_level, "last": e_last}
            verdict = {key: classify(e_acc, e[key]) for key in ("rise", "level")}
            verdict["last"] = "chance" if e_acc is None else classify(e_acc, e_last)
            rows.append(dict(label=label, task=task, d=d, protocol=protocol, seed=seed, block=block, e_acc=e_acc,
                             e=e, verdict=verdict, acc=acc, g=g))
            for key in DEFINITIONS:
                totals[key].setdefault((task, protocol, block), []).append((verdict[key], e_acc, e[key]))
        if not rows:
            continue
        rows_all += rows
        print(f"\n{label}: {len(rows)} networks, blocks of {'/'.join(map(str, sorted({r['block'] for r in rows})))} "
              "epochs; e_* in epochs (start of the block)")
        print(f"{'task':12s} {'d':>3s} {'protocol':9s} {'seed':>4s} {'block':>5s} {'e_rise':>7s} {'e_level':>7s} "
              f"{'e_last':>7s} {'e_acc':>6s}  verdict by rise / by level / by last")
        with open(os.path.join(out, f"fig9_{label}.csv"), "w") as f:
            f.write("task,delay,protocol,seed,e_grad_rise_epoch,e_grad_level_epoch,e_acc_epoch,verdict_rise,"
                    "verdict_level,e_grad_last_epoch,verdict_last,block_epochs\n")
            for r in rows:
                ep = [epoch(x, r["block"]) for x in (r["e"]["rise"], r["e"]["level"], r["e"]["last"], r["e_acc"])]
                v = r["verdict"]
                print(f"{r['task']:12s} {r['d']:3d} {r['protocol']:9s} {r['seed']:4d} {r['block']:5d} {ep[0]:>7s} "
                      f"{ep[1]:>7s} {ep[2]:>7s} {ep[3]:>6s}  {v['rise']} / {v['level']} / {v['last']}")
                f.write(f"{r['task']},{r['d']},{r['protocol']},{r['seed']},{ep[0]},{ep[1]},{ep[3]},{v['rise']},"
                        f"{v['level']},{ep[2]},{v['last']},{r['block']}\n")
        plot(rows, os.path.join(out, f"fig9_{label}.png"), label, args)
        fine = [r for r in rows if r["block"] < 100]
        if fine:
            plot_aligned(fine, os.path.join(out, f"fig9ab_{label}.png"), label, args)
    failed = False
    for key, what in (("rise", f"a rise of {args.rise:g} decades (defined first)"),
                      ("level", f"the level 1e{args.level:g} (the paper's 1e-3 by default)"),
                      ("last", f"the block after the last one below 1e{args.last_level:g} before e_acc (the "
                               "paper's alignment; e_grad <= e_acc by construction)")):
        print(f"\nsummary, e_grad by {what}:")
        ok = True
        for (task, protocol, block), entries in sorted(totals[key].items()):
            verdicts = [v for v, _, _ in entries]
            counts = {v: verdicts.count(v) for v in sorted(set(verdicts))}
            left = [v for v in verdicts if not v.startswith("chance")]
            ok &= all(v == "consistent" for v in left)
            strict = sum(1 for _, e_acc, e_grad in entries if e_acc is not None and e_grad is not None
                         and e_grad < e_acc)
            print(f"  {task} {protocol}, {block}-epoch blocks: " + ", ".join(f"{v} {c}" for v, c in counts.items())
                  + f" (of the consistent: {strict} in an earlier block, the rest in the same block)")
        if key == "last":   # cannot fail: it tells earlier from same block only (the counts above)
            continue
        print(f"verdict by {key}: {'PASS' if ok else 'FAIL'}: every network that left chance had its |dL/dh_0| "
              "become large in the same block or earlier (resolution one block)")
        failed |= not ok
    c = CRITERION
    if c["label"] in labels and c["task"] in args.tasks and c["protocol"] in args.protocols:
        failed |= grade_criterion(rows_all) == "not reproduced"
    return 1 if failed else 0


def plot(rows, path, label, args):
    """Per network, as Fig. 8C/D: |dL/dh_0| (top) and accuracy (bottom) against epochs, one
    colour per network, the events marked."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted({(r["task"], r["protocol"]) for r in rows})
    blocks = "/".join(map(str, sorted({r["block"] for r in rows})))
    fig, axes = plt.subplots(2, len(keys), figsize=(4 * len(keys), 6), squeeze=False, sharex=True)
    for col, (task, protocol) in enumerate(keys):
        sel = [r for r in rows if (r["task"], r["protocol"]) == (task, protocol)]
        colors = plt.cm.viridis(np.linspace(0, 0.9, len(sel)))
        for c, r in zip(colors, sel):
            acc, g, block = r["acc"], r["g"], r["block"]
            epochs = (np.arange(acc.size) + 0.5) * block
            axes[0, col].plot(epochs, g, color=c, lw=0.8, label=f"d={r['d']} s{r['seed']}")
            axes[1, col].plot(epochs, acc, color=c, lw=0.8)
            for e, ax in ((r["e"]["level"], axes[0, col]), (r["e_acc"], axes[1, col])):
                if e is not None:
                    ax.axvline((e + 0.5) * block, color=c, lw=0.5, ls=":")
        axes[0, col].set_title(f"{task}, {protocol}", fontsize=9)
        axes[0, col].set_ylabel(f"log10 |dL/dh_0| ({blocks}-epoch mean)")
        axes[1, col].set_ylabel(f"accuracy ({blocks}-epoch mean)")
        axes[1, col].axhline(args.chance_margin, color="k", lw=0.5, ls="--")
        axes[0, col].axhline(args.level, color="k", lw=0.5, ls="--")
        axes[1, col].set_xlabel("epoch")
        axes[1, col].set_xscale("log")
    axes[0, 0].legend(fontsize=5, ncol=2)
    fig.suptitle(f"Figs. 8C/D, 9 from {label}: dotted lines mark e_grad by level (top) and e_acc (bottom)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_aligned(rows, path, label, args):
    """Fig. 9A/B-like panels, one faint line per network that leaves chance: A (top),
    log10 |dL/dh_0| against epochs relative to e_acc; B (bottom), accuracy against epochs
    relative to e_grad by 'last'."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted({(r["task"], r["protocol"]) for r in rows})
    blocks = "/".join(map(str, sorted({r["block"] for r in rows})))
    fig, axes = plt.subplots(2, len(keys), figsize=(max(7.0, 5.0 * len(keys)), 7.0), squeeze=False)
    for col, (task, protocol) in enumerate(keys):
        sel = [r for r in rows if (r["task"], r["protocol"]) == (task, protocol)]
        left = [r for r in sel if r["e_acc"] is not None]
        colors = plt.cm.viridis(np.linspace(0, 0.9, max(len(left), 1)))
        for c, r in zip(colors, left):
            x = np.arange(r["acc"].size) * r["block"]   # the epoch where each block starts
            lab = f"d={r['d']} s{r['seed']}"
            axes[0, col].plot(x - r["e_acc"] * r["block"], r["g"], color=c, lw=0.8, alpha=0.6, label=lab)
            axes[1, col].plot(x - r["e"]["last"] * r["block"], r["acc"], color=c, lw=0.8, alpha=0.6, label=lab)
        ds = ", ".join(f"d = {d}" for d in sorted({r["d"] for r in sel}))
        axes[0, col].set_title(f"A: {task} {ds}, {protocol}: {len(left)} of {len(sel)} networks leave chance",
                               fontsize=8)
        axes[0, col].axhline(args.last_level, color="k", lw=0.5, ls="--")
        axes[0, col].set_ylabel(f"log10 |dL/dh_0| ({blocks}-epoch mean)", fontsize=8)
        axes[0, col].set_xlabel("epochs relative to e_acc (first block with mean accuracy "
                                f"> {args.chance_margin})", fontsize=8)
        axes[1, col].set_title(f"B: {task} {ds}, {protocol}: accuracy aligned to e_grad by last\n(the block after "
                               f"the last one before e_acc with |dL/dh_0| < 1e{args.last_level:g})", fontsize=8)
        axes[1, col].axhline(args.chance_margin, color="k", lw=0.5, ls="--")
        axes[1, col].set_ylabel(f"accuracy ({blocks}-epoch mean)", fontsize=8)
        axes[1, col].set_xlabel("epochs relative to e_grad by last", fontsize=8)
        for ax in axes[:, col]:
            ax.axvline(0, color="k", lw=0.5, ls=":")
            ax.set_xlim(-args.window, args.window)
        if left:
            axes[0, col].legend(fontsize=6)
    fig.suptitle(f"Fig. 9A/B from {label}: one faint line per network that leaves chance ({blocks}-epoch means, "
                 "no median or mean)\nA: log10 |dL/dh_0| aligned to e_acc (the paper aligns on the last epoch with "
                 "accuracy <= 50 %)\nB: accuracy aligned to e_grad by last (the paper's alignment)", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
