"""Fig. 3: delayed copy and (continuous) temporal XOR with and without preflossing: test
loss over epochs at one delay (A, B) and final test loss vs delay (C, D).

Paper (N = 80, g = 1, B = 16, T = 300, 10^4 epochs, E_f = 500 preflossing epochs on k = 75
by the caption; the text says k = 40 for the copy task): without flossing the copy task
fails beyond d ~ 20, with preflossing it trains reliably to d = 40; preflossing also helps
temporal XOR.

    python validation/paper/fig3_copy_xor.py --quick
    python validation/paper/fig3_copy_xor.py --paper --scheduler tcp://host:8786
    python validation/paper/fig3_copy_xor.py --quick --nonlinearity linear   # App. E: linear networks
    python validation/paper/fig3_copy_xor.py --paper --tasks copy --delays 20 30 40 50 --seeds 3 --k 40 --settings authors

``--k`` overrides the number of flossed exponents of the scale (the paper's text: k = 40 for
the copy task; its caption: k = 75, the default of ``--paper``).  ``--settings authors``
takes the authors' code's choices where the paper is silent (``AUTHORS_SETTINGS``: input
divided by the number of streams, their readout init, per-array clipping at 0.03, one h_0
per batch slot), as in ``fig4_xor_protocols.py``.  ``--inputs`` chooses the input
convention: ``text`` (default) draws the task's inputs from U(0, 1) as the paper's text
says, and flossing episodes draw from the same; ``bernoulli`` draws Bernoulli{0, 1} inputs
for training and flossing, as the authors' code does for every task; ``mixed`` trains on
U(0, 1) and flosses on Bernoulli inputs, the convention of the runs in ``authors_k40``
(neither source's).  Each choice gets a results directory of its own
(``<settings>_k<k>_inputs-<inputs>``; ``mixed`` keeps the names without ``_inputs-``).

Writes validation/out/fig3_copy_xor/{fig3_<scale>.png, fig3_final_<scale>.csv,
fig3_summary_<scale>.csv}; with ``--nonlinearity linear``, ``--settings authors`` or ``--k``
the same names end in the results directory's label (``_linear``, ``_authors_k40``, ...).  App. E: preflossing helps
linear networks on the copy task, and not on XOR (which no linear network computes).

A linear network whose forward pass grows without bound (task loss above
``floss_ref.runs.run.DIVERGED_LOSS``) is recorded as diverged, with the epoch, instead of
failing the sweep; the tables count diverged networks and average the test MSE over the
others, and no verdict is drawn for a (task, d) where a network diverged.
"""

import os
import sys

import numpy as np

FOLDER = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [FOLDER, os.path.dirname(FOLDER)]  # this folder's scripts, and validation/ (_common)
import _common  # noqa: E402

from floss_ref.runs.run import sweep_tasks  # noqa: E402
from floss_ref.runs.run import AUTHORS_SETTINGS, TrainConfig  # noqa: E402

NAME = "fig3_copy_xor"
PROTOCOLS = ("none", "prefloss")
TASKS = ("copy", "xor")
SCALE = {
    "quick": dict(base=dict(N=32, T=100, epochs=4000, k=32, floss_epochs=300, diag_every=0),
                  delays={"copy": (20, 30), "xor": (20, 30)}, seeds=2,
                  headline={"copy": 20, "xor": 20}),
    "paper": dict(base=dict(N=80, T=300, epochs=10_000, k=75, floss_epochs=500, diag_every=0),
                  delays={"copy": (10, 20, 30, 40, 50, 60), "xor": (10, 20, 30, 40, 50, 60)}, seeds=5,
                  headline={"copy": 40, "xor": 40}),
}


# the input conventions (--inputs): TrainConfig fields
INPUTS = {"text": {"task_inputs": "text"}, "bernoulli": {"task_inputs": "bernoulli"},
          "mixed": {"task_inputs": "text", "floss_inputs": "bernoulli"}}


def configs(scale, tasks, delays, seeds, nonlinearity="tanh", k=None, fields=None, first_seed=0):
    s = SCALE[scale]
    base = dict(s["base"], **({"k": k} if k is not None else {}), **(fields or {}))
    return [TrainConfig(task=task, delay=d, protocol=p, seed=seed, nonlinearity=nonlinearity, **base)
            for task in tasks for d in (delays or s["delays"][task]) for p in PROTOCOLS
            for seed in range(first_seed, first_seed + (seeds or s["seeds"]))]


def main(argv=None):
    p = _common.parser(NAME, __doc__)
    p.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    p.add_argument("--delays", nargs="+", type=int, default=None, help="override the delays of the scale")
    p.add_argument("--seeds", type=int, default=None, help="number of seeds (network realizations)")
    p.add_argument("--first-seed", type=int, default=0,
                   help="the first seed (default 0): --first-seed 3 --seeds 2 runs seeds 3 and 4, in a results "
                        "directory of their own (label ending _seeds3-4), the same networks a 5-seed sweep has")
    p.add_argument("--nonlinearity", choices=("tanh", "linear"), default="tanh",
                   help="tanh (Fig. 3, default) or linear networks (App. E: flossing helps copy, not XOR)")
    p.add_argument("--k", type=int, default=None,
                   help="flossed exponents (default: the scale's, 75 at --paper as in the caption; the text "
                        "says 40 for the copy task)")
    p.add_argument("--settings", choices=("ours", "authors"), default="ours",
                   help="'ours' (TrainConfig defaults) or 'authors': where the paper is silent, the authors' "
                        "code's input scaling, readout init, per-array clipping and one h0 per batch slot")
    p.add_argument("--inputs", choices=tuple(INPUTS), default="text",
                   help="input convention: text (U(0, 1) for training and flossing, the default), bernoulli "
                        "(Bernoulli{0, 1} for both, the authors' code) or mixed (U(0, 1) training, Bernoulli "
                        "flossing)")
    p.add_argument("--report-only", action="store_true",
                   help="run nothing: report and draw the finished tasks found in the results directory")
    args = p.parse_args(argv)
    linear = args.nonlinearity == "linear"
    if args.first_seed < 0:
        p.error(f"--first-seed must be >= 0, got {args.first_seed}")
    if args.seeds is not None and args.seeds < 1:
        p.error(f"--seeds must be >= 1, got {args.seeds}")
    if args.k is not None and not 1 <= args.k <= SCALE[args.scale]["base"]["N"]:
        p.error(f"--k must be between 1 and N = {SCALE[args.scale]['base']['N']}, got {args.k}")
    fields = dict(AUTHORS_SETTINGS) if args.settings == "authors" else {}
    fields.update(INPUTS[args.inputs])
    cfgs = configs(args.scale, args.tasks, args.delays, args.seeds, args.nonlinearity, args.k, fields,
                   args.first_seed)
    tasks = sweep_tasks(cfgs, on_divergence="record" if linear else None)
    settings = {"nonlinearity": "linear"} if linear else {}
    parts = ["linear"] if linear else []
    if args.settings != "ours":
        settings["settings"] = args.settings
        parts.append(args.settings)
    if args.k is not None:
        settings["k"] = args.k
        parts.append(f"k{args.k}")
    if args.inputs != "mixed":
        settings["inputs"] = args.inputs
        parts.append(f"inputs-{args.inputs}")
    if args.first_seed:
        seeds = [c.seed for c in cfgs]
        settings["seeds"] = [min(seeds), max(seeds)]
        parts.append(f"seeds{min(seeds)}-{max(seeds)}")
    label = "_".join(parts) or None
    results = _common.sweep(args, NAME, tasks, settings, label=label)   # --report-only: the finished ones
    if not results:
        return 0
    out = _common.out_dir(args, NAME)
    suffix = f"_{label}" if label else ""

    by, rows, diverged = {}, [], {}
    for c, t in zip(cfgs, tasks):
        if t.name not in results:  # not finished yet (--report-only)
            continue
        r = results[t.name]
        loss = float(r["summary/test_loss"])
        row = [c.task, c.delay, c.protocol, c.seed, c.N, c.T, c.epochs, loss, float(r["meta/seconds"])]
        if linear:   # a result without the entry finished (it ran before divergence was recorded)
            row.append(int(r.get("summary/diverged_epoch", -1)))
        rows.append(row)
        if linear and row[-1] >= 0:   # stopped by the divergence bound: counted, not averaged
            diverged.setdefault((c.task, c.delay, c.protocol), []).append(c.seed)
            continue
        by.setdefault((c.task, c.delay, c.protocol), []).append((loss, r["history/loss"]))
    _common.write_csv(os.path.join(out, f"fig3_final_{args.scale}{suffix}.csv"),
                      ["task", "delay", "protocol", "seed", "N", "T", "epochs", "test_loss", "seconds"]
                      + (["diverged_epoch"] if linear else []), rows)
    summary = []
    print(f"{'task':>5} {'d':>3} {'protocol':>9} {'mean':>8} {'median':>8} {'20%':>8} {'80%':>8}  n"
          + ("  diverged" if linear else ""))
    for key in sorted(set(by) | set(diverged)):
        task, d, protocol = key
        v = np.array([x for x, _ in by.get(key, [])])
        stats = [v.mean(), np.median(v), np.percentile(v, 20), np.percentile(v, 80)] if v.size else [np.nan] * 4
        row = [task, d, protocol, v.size, *stats] + ([len(diverged.get(key, []))] if linear else [])
        summary.append(row)
        print(f"{task:>5} {d:>3} {protocol:>9} {row[4]:>8.4f} {row[5]:>8.4f} {row[6]:>8.4f} {row[7]:>8.4f}  {v.size}"
              + (f"  {row[8]}" if linear else ""))
    _common.write_csv(os.path.join(out, f"fig3_summary_{args.scale}{suffix}.csv"),
                      ["task", "delay", "protocol", "n", "mean", "median", "p20", "p80"]
                      + (["n_diverged"] if linear else []), summary)
    verdicts = _common.Verdicts()
    for task, d in sorted({(task, d) for task, d, _ in set(by) | set(diverged)}):
        stopped = {p: diverged[(task, d, p)] for p in PROTOCOLS if (task, d, p) in diverged}
        if stopped:
            print(f"linear networks, {task}, d = {d}: no verdict, networks diverged ("
                  + "; ".join(f"{p}: seeds {', '.join(map(str, s))}" for p, s in stopped.items()) + ")")
            continue
        if (task, d, "none") in by and (task, d, "prefloss") in by:
            none = np.mean([x for x, _ in by[(task, d, "none")]])
            pre = np.mean([x for x, _ in by[(task, d, "prefloss")]])
            if linear and task == "xor":  # App. E: a linear network cannot compute XOR, flossed or not
                verdicts.check(f"linear networks, {task}, d = {d}: preflossing does not help (mean test loss "
                               "not below 0.9x that without flossing)", pre >= 0.9 * none,
                               f"{pre:.4g} vs {none:.4g} without flossing")
            else:
                verdicts.check(f"{'linear networks, ' if linear else ''}{task}, d = {d}: preflossing lowers the "
                               "mean test loss", pre < none, f"{pre:.4g} vs {none:.4g} without flossing")

    ran = set(by) | set(diverged)   # (task, d, protocol) with finished tasks

    def label(protocol, *where):   # a protocol's legend entry, with its diverged networks counted
        n = sum(len(diverged.get((t, d, protocol), [])) for t, d in where)
        return protocol + (f" ({n} {'run' if n == 1 else 'runs'} diverged, not shown)" if n else "")

    names = [t for t in TASKS if t in args.tasks and any(key[0] == t for key in ran)]
    fig, axes = _common.figure(2, len(names))
    width = max(1, cfgs[0].epochs // 100)
    for row, task in enumerate(names):
        delays, head = _common.delays_and_headline(ran, task, SCALE[args.scale]["headline"][task])
        ax = axes[row][0]
        for protocol in PROTOCOLS:
            runs = by.get((task, head, protocol))
            if runs:
                curves = np.array([_common.smooth(h, width) for _, h in runs])
                _common.band(ax, np.arange(1, curves.shape[1] + 1), curves, _common.COLORS[protocol],
                             label(protocol, (task, head)))
            elif (task, head, protocol) in diverged:   # a legend entry for a protocol whose every network diverged
                ax.plot([], [], color=_common.COLORS[protocol], label=label(protocol, (task, head)))
        ax.set(xlabel="epoch", ylabel=f"loss (moving mean, {width} epochs)",
               title=f"{task}, d = {head}, N = {cfgs[0].N}, k = {cfgs[0].k}{', linear' if linear else ''}: "
                     "median, 25-75 %")
        _log_axis_or_note(ax)
        ax = axes[row][1]
        for protocol in PROTOCOLS:
            pts = [(d, np.array([x for x, _ in by[(task, d, protocol)]])) for d in delays
                   if (task, d, protocol) in by]
            if not pts:   # every network of this protocol diverged: its legend entry only
                if any((task, d, protocol) in diverged for d in delays):
                    ax.plot([], [], color=_common.COLORS[protocol], marker="o", ms=3,
                            label=label(protocol, *((task, d) for d in delays)))
                continue
            x = np.array([d for d, _ in pts])
            color = _common.COLORS[protocol]
            ax.fill_between(x, [np.percentile(v, 20) for _, v in pts], [np.percentile(v, 80) for _, v in pts],
                            color=color, alpha=0.2, lw=0)
            ax.plot(x, [v.mean() for _, v in pts], color=color, marker="o", ms=3, lw=1.8,
                    label=label(protocol, *((task, d) for d in delays)))
            for d, v in pts:
                ax.scatter(np.full(v.size, d), v, color=color, alpha=0.35, s=8)
        ax.set(xlabel="delay d", ylabel="final test loss (MSE)", title=f"{task}: mean, 20-80 %, dots = runs")
        _log_axis_or_note(ax)
    _common.save(fig, os.path.join(out, f"fig3_{args.scale}{suffix}.png"))
    return verdicts.exit_code("no check: no task and delay has both protocols finished without a diverged network")


def _log_axis_or_note(ax):
    """A log y axis, or, where every network diverged and nothing is drawn, a note; and the legend."""
    if any(len(line.get_xdata()) for line in ax.get_lines()):
        ax.set_yscale("log")
    else:
        ax.text(0.5, 0.5, "every network diverged", transform=ax.transAxes, ha="center", va="center")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)


if __name__ == "__main__":
    sys.exit(main())
