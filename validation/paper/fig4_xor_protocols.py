"""Fig. 4: binary temporal XOR and spatial XOR with no flossing, preflossing, and flossing
during training: accuracy over epochs at one delay (A, B) and test accuracy vs delay (C, D).

Paper (N = 80, g = 1, B = 16, T = 300, 10^4 epochs, E_f = 500 on k = 75): temporal XOR at
d = 70 stays at chance (50 %) without flossing and with preflossing only, and exceeds 80 %
with flossing during training; spatial XOR with preflossing fails for d > 60.

    python validation/paper/fig4_xor_protocols.py --quick
    python validation/paper/fig4_xor_protocols.py --paper --scheduler tcp://host:8786
    python validation/paper/fig4_xor_protocols.py --paper --tasks binary_xor --delays 70 --seeds 3   # one point
    python validation/paper/fig4_xor_protocols.py --paper --timing    # App. F: one run on one core, timed
    python validation/paper/fig4_xor_protocols.py --paper --settings authors --init orthogonal \
        --tasks spatial_xor --delays 60 70 --seeds 3 --epochs 5000   # Fig. 14B/D (App. G: 5000 epochs)
    python validation/paper/fig4_xor_protocols.py --paper --settings authors --tasks binary_xor --delays 70 \
        --protocols during throughout --seeds 5 --curve-every 10   # Figs. 9 and 12: 10-epoch curves

``--timing`` runs one preflossing run (d = 70, seed 0) of the chosen scale in this process
with BLAS on one thread and prints the seconds of the 500 preflossing epochs and of the
training epochs separately (the first training epoch, ~10 ms, is counted with the
preflossing), next to the authors' ~37 s and ~1680 s (App. F).

Writes validation/out/fig4_xor_protocols/{fig4_<scale>.png, fig4_final_<scale>.csv,
fig4_summary_<scale>.csv, fig4_curves_<scale>.csv}.
"""

import os
import sys
import time

import numpy as np

FOLDER = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [FOLDER, os.path.dirname(FOLDER)]  # this folder's scripts, and validation/ (_common)
import _common  # noqa: E402

from floss_ref.runs.run import AUTHORS_SETTINGS, TrainConfig, sweep_tasks  # noqa: E402

NAME = "fig4_xor_protocols"
PROTOCOLS = ("none", "prefloss", "during")
# App. D.2 / Fig. 12: flossing every 100 epochs throughout training (--protocols throughout)
ALL_PROTOCOLS = PROTOCOLS + ("throughout",)
TASKS = ("binary_xor", "spatial_xor")
SCALE = {
    # N = 32, one delay and 2 seeds keep the whole quick set inside 30 min; at d = 30 plain
    # BPTT is at chance at this size but flossing during training is not
    # diag_every = epochs: the spectrum at the first and last epoch (two spectra per run), so
    # that fig13's quick runs at d = 30 are these runs (see shared_sweep)
    "quick": dict(base=dict(N=32, T=100, epochs=6000, k=32, floss_epochs=300, diag_every=6000),  # = epochs
                  delays={"binary_xor": (30,), "spatial_xor": (30,)}, seeds=2,
                  headline={"binary_xor": 30, "spatial_xor": 30}),
    "paper": dict(base=dict(N=80, T=300, epochs=10_000, k=75, floss_epochs=500, diag_every=0),
                  delays={"binary_xor": (10, 20, 30, 40, 50, 60, 70), "spatial_xor": (20, 40, 60, 70, 80)},
                  seeds=5, headline={"binary_xor": 70, "spatial_xor": 70}),
}


def configs(scale, tasks, delays, seeds, protocols, extra=None):
    s = SCALE[scale]
    out = []
    for task in tasks:
        for d in delays or s["delays"][task]:
            for protocol in protocols:
                for seed in range(seeds or s["seeds"]):
                    out.append(TrainConfig(task=task, delay=d, protocol=protocol, seed=seed,
                                           **{**s["base"], **(extra or {})}))  # extra overrides the base
    return out


def setting_fields(args):
    """TrainConfig fields of --settings and --xor-lags, and a label naming them."""
    fields = {"ours": {}, "authors": dict(AUTHORS_SETTINGS),
              "input-scale": {"input_scale": AUTHORS_SETTINGS["input_scale"]}}[args.settings]
    if args.xor_lags != "half":
        fields["xor_lags"] = args.xor_lags
    label = f"{args.settings}_lags-{args.xor_lags}"
    if args.init != "gaussian":
        fields["init"] = args.init
        label += f"_init-{args.init}"
    epochs = getattr(args, "epochs", None)   # only this script has --epochs
    if epochs is not None:
        fields["epochs"] = epochs
        label += f"_epochs{epochs}"
    every = getattr(args, "curve_every", None)   # only this script has --curve-every
    if every is not None:
        label += f"_curve{every}"
    return fields, label


def curve_every(scale, every=None):
    """Epochs per stored curve point: ``every`` (--curve-every) if given, else 100 at paper
    scale (100-epoch block means, small enough to commit) and every epoch at quick scale."""
    if every is not None:
        return every
    return 100 if scale == "paper" else None


def sweep_settings(args):
    """(settings stored in the manifest, label of the results directory) for --settings,
    --xor-lags and --init at ``args.scale``."""
    _, label = setting_fields(args)
    settings = {} if label == "ours_lags-half" else {"settings": args.settings, "xor_lags": args.xor_lags}
    if args.init != "gaussian":
        settings["init"] = args.init
    if getattr(args, "epochs", None) is not None:
        settings["epochs"] = args.epochs
    if getattr(args, "curve_every", None) is not None:
        settings["curve_every"] = args.curve_every
    return settings, (None if args.scale == "quick" and not settings else label)


def shared_sweep(args, name, cfgs, tasks, settings, label=None):
    """Sweep ``tasks`` (one per configuration in ``cfgs``) for the script ``name``, training
    each configuration once for every figure it appears in.

    A configuration that this script runs by default at ``args.scale`` under the same
    --settings / --xor-lags / --init (all tasks, delays, protocols and seeds of the scale),
    with the same sweep task, is read from this script's results directory, or run into
    it; the others go to ``name``'s own directory.  With ``--results``, the shared ones go
    to its subdirectory ``fig4_xor_protocols``.  Returns the results of all, by task name.
    """
    fields, _ = setting_fields(args)
    ours = configs(args.scale, TASKS, None, None, PROTOCOLS, fields)
    own_task = dict(zip(ours, sweep_tasks(ours, curve_every=curve_every(args.scale, getattr(args, "curve_every", None)))))
    shared = [i for i, (c, t) in enumerate(zip(cfgs, tasks))
              if c in own_task and own_task[c].describe() == t.describe()]
    rest = [i for i in range(len(tasks)) if i not in shared]
    results = {}
    if shared:
        here_settings, here_label = sweep_settings(args)
        where = os.path.join(args.results, NAME) if args.results else _common.results_dir(args, NAME, here_label)
        print(f"{name}: {len(shared)} of {len(tasks)} tasks are {NAME} runs (the same configuration): "
              f"read from or run into {where}", flush=True)
        results.update(_common.sweep(args, NAME, [tasks[i] for i in shared], here_settings, results=where))
    if rest or not shared:
        results.update(_common.sweep(args, name, [tasks[i] for i in rest], settings, label=label))
    return results


def main(argv=None):
    p = _common.parser(NAME, __doc__)
    p.add_argument("--tasks", nargs="+", choices=TASKS, default=list(TASKS))
    p.add_argument("--delays", nargs="+", type=int, default=None, help="override the delays of the scale")
    p.add_argument("--seeds", type=int, default=None, help="number of seeds (network realizations)")
    p.add_argument("--protocols", nargs="+", choices=ALL_PROTOCOLS, default=list(PROTOCOLS),
                   help="default: none prefloss during; 'throughout' floss every 100 epochs (Fig. 12)")
    p.add_argument("--init", choices=("gaussian", "orthogonal"), default="gaussian",
                   help="initial W: Gaussian (default) or orthogonal (App. G, Fig. 14)")
    p.add_argument("--epochs", type=_common.int_at_least(1), default=None,
                   help="training epochs instead of the scale's (Fig. 14B/D: 5000 at paper scale); the "
                        "results directory's name says so")
    p.add_argument("--curve-every", type=_common.int_at_least(1), default=None,
                   help="store the training curves as means over blocks of this many epochs (default: 100 at "
                        "--paper, every epoch at --quick); the results directory's name says so (Figs. 9 and "
                        "12: 10)")
    p.add_argument("--settings", choices=("ours", "authors", "input-scale"), default="ours",
                   help="'ours' (TrainConfig defaults); 'authors': where the paper is silent, the "
                        "authors' code's input scaling 1/n_in, readout init, per-array clipping and one h0 "
                        "per batch slot (floss_ref.runs.run.AUTHORS_SETTINGS); 'input-scale': only the "
                        "input scaling of those four")
    p.add_argument("--xor-lags", choices=("half", "double"), default="half",
                   help="binary XOR lags (d/2, d) as in Eq. 20 (default) or (d, 2d) as in App. H's table "
                        "and the authors' code")
    p.add_argument("--timing", action="store_true", help="time one preflossing run here instead of the sweep")
    p.add_argument("--report-only", action="store_true",
                   help="run nothing: report and draw the finished tasks found in the results directory")
    args = p.parse_args(argv)
    if args.timing:
        return timing(args.scale)
    if args.xor_lags != "half" and "spatial_xor" in args.tasks:
        p.error("--xor-lags double applies to binary_xor only: add --tasks binary_xor")
    fields, _ = setting_fields(args)
    cfgs = configs(args.scale, args.tasks, args.delays, args.seeds, args.protocols, fields)
    if args.curve_every is not None:
        epochs = fields.get("epochs", SCALE[args.scale]["base"]["epochs"])
        if epochs % args.curve_every:
            p.error(f"--curve-every {args.curve_every} must divide the {epochs} training epochs")
    tasks = sweep_tasks(cfgs, curve_every=curve_every(args.scale, args.curve_every))
    settings, label = sweep_settings(args)
    results = _common.sweep(args, NAME, tasks, settings, label=label)   # --report-only: the finished ones
    out = _common.out_dir(args, NAME)
    by = report(args, cfgs, tasks, results, out, suffix="" if not settings else "_" + label)
    return verdicts(args, by).exit_code()


def draw_fine_curves(by, png, window=1000):
    """Per network, the accuracy as stored (block means finer than 100 epochs, e.g. with
    ``--curve-every 10``), with a dotted line at the start of each flossing episode: the
    resolution at which Fig. 12's drop after every episode and recovery between them can
    show.  Top row: all epochs; bottom row: ``window`` epochs around the network's highest
    block mean.  Drawn only when some run stores such curves; returns the number drawn."""
    runs = [(task, d, protocol, seed, r) for (task, d, protocol), rs in sorted(by.items()) for seed, _, r in rs
            if "curve/accuracy" in r and int(r["summary/epochs"]) // np.size(r["curve/accuracy"]) < 100]
    if not runs:
        return 0
    fig, axes = _common.figure(len(runs), 2, size=(4.2, 2.8))
    for col, (task, d, protocol, seed, r) in enumerate(runs):
        x, y = _common.training_curve(r, "accuracy", 1)
        starts = np.asarray(r["history/floss_epochs"]) if "history/floss_epochs" in r else np.array([])
        peak = int(x[np.argmax(y)]) // 100 * 100
        lo = int(np.clip(peak - window // 2, 0, max(0, x[-1] - window)))
        for row, (a, b) in enumerate(((0, x[-1]), (lo, lo + window))):
            ax = axes[row][col]
            for e in starts[(starts >= a) & (starts <= b)]:
                ax.axvline(e, color="grey", ls=":", lw=0.5)
            keep = (x >= a) & (x <= b)
            ax.plot(x[keep], y[keep], color=_common.COLORS.get(protocol, "k"), lw=0.8)
            ax.axhline(0.5, color="grey", ls="-", lw=0.5)
            ax.set(xlabel="epoch", ylabel=f"batch accuracy ({int(x[0])}-epoch means)", ylim=(0.4, 1.02),
                   title=f"{protocol}, seed {seed}" + ("" if row == 0 else f", epochs {a}-{b}"))
    fig.suptitle(f"{runs[0][0]}, d = {runs[0][1]}: dotted lines, flossing episodes", fontsize=9)
    _common.save(fig, png)
    return len(runs)


def verdicts(args, by):
    """The claims of Fig. 4 at the headline delay of each task run."""
    v = _common.Verdicts()
    for task in sorted({task for task, _, _ in by}, key=TASKS.index):
        headline = SCALE[args.scale]["headline"][task]
        _, d = _common.delays_and_headline(by, task, headline)
        if d != headline:   # e.g. the short delays of Fig. 4C/D, where plain BPTT is expected to learn
            print(f"{task}: the claims are checked at d = {headline}, which this run does not hold: no check")
            continue
        med = {p: np.median([a for _, a, _ in by[(task, d, p)]]) for p in ALL_PROTOCOLS if (task, d, p) in by}
        if "none" in med:
            v.check(f"{task}, d = {d}: without flossing, accuracy near chance (median <= 0.6)", med["none"] <= 0.6,
                    f"{med['none']:.3f}")
        if "during" in med and task == "binary_xor":
            v.check(f"{task}, d = {d}: flossing during training, accuracy > 80 % (median)", med["during"] > 0.8,
                    f"{med['during']:.3f}")
        if {"during", "throughout"} <= set(med):
            v.check(f"{task}, d = {d}: flossing throughout training ends below flossing during the first "
                    f"epochs only (Fig. 12, median)", med["throughout"] < med["during"],
                    f"{med['throughout']:.3f} vs {med['during']:.3f}")
        if {"during", "none"} <= set(med) and task == "spatial_xor":
            v.check(f"{task}, d = {d}: flossing during training beats no flossing (median above it and above "
                    f"chance, > 0.6)", med["during"] > max(med["none"], 0.6),
                    f"{med['during']:.3f} vs {med['none']:.3f}")
    return v


def timing(scale):
    from floss_ref._threads import limit_blas
    from floss_ref.runs.run import Run

    config = TrainConfig(task="binary_xor", delay=70, protocol="prefloss", seed=0, **SCALE[scale]["base"])
    run = Run(config)
    with limit_blas(1):
        start = time.perf_counter()
        run.train(until=1, blas_threads=1)  # the preflossing episode and the first training epoch
        floss_seconds = time.perf_counter() - start
        start = time.perf_counter()
        run.train(blas_threads=1)  # the other epochs
        train_seconds = time.perf_counter() - start
    print(f"one {scale}-scale run (N = {config.N}, B = {config.batch}, T = {config.T}), one core: "
          f"{config.floss_epochs} preflossing epochs (k = {run.k}, T_f = {config.floss_T}) {floss_seconds:.1f} s "
          f"(authors ~37 s), {config.epochs} training epochs {train_seconds:.1f} s (authors ~1680 s), "
          f"total {floss_seconds + train_seconds:.1f} s; test accuracy {run.summary()['test_accuracy']:.3f}")


def report(args, cfgs, tasks, results, out, suffix=""):
    rows, curves = [], []
    by = {}
    for c, t in zip(cfgs, tasks):
        if t.name not in results:  # not finished yet (--report-only)
            continue
        r = results[t.name]
        acc = float(r["summary/test_accuracy"])
        rows.append([c.task, c.delay, c.protocol, c.seed, c.N, c.T, c.epochs, acc,
                     float(r["summary/test_loss"]), float(r["meta/seconds"])])
        by.setdefault((c.task, c.delay, c.protocol), []).append((c.seed, acc, r))
    _common.write_csv(os.path.join(out, f"fig4_final_{args.scale}{suffix}.csv"),
                      ["task", "delay", "protocol", "seed", "N", "T", "epochs", "test_accuracy", "test_loss",
                       "seconds"], rows)
    print(f"{'task':>12} {'d':>3} {'protocol':>9} {'median':>7} {'25%':>6} {'75%':>6} {'min':>6} {'max':>6}  n")
    summary = []
    for (task, d, protocol), runs in sorted(by.items()):
        accs = [a for _, a, _ in runs]
        med, lo, hi, mean = _common.stats(accs)
        summary.append([task, d, protocol, len(accs), med, lo, hi, mean, min(accs), max(accs)])
        print(f"{task:>12} {d:>3} {protocol:>9} {med:>7.3f} {lo:>6.3f} {hi:>6.3f} {min(accs):>6.3f} "
              f"{max(accs):>6.3f}  {len(accs)}")
    _common.write_csv(os.path.join(out, f"fig4_summary_{args.scale}{suffix}.csv"),
                      ["task", "delay", "protocol", "n", "median", "p25", "p75", "mean", "min", "max"], summary)

    task_names = sorted({task for task, _, _ in by}, key=TASKS.index)
    fig, axes = _common.figure(2, len(task_names))
    width = max(1, cfgs[0].epochs // 100)
    for row, task in enumerate(task_names):
        delays, head = _common.delays_and_headline(by, task, SCALE[args.scale]["headline"][task])
        ax = axes[row][0]
        for protocol in ALL_PROTOCOLS:
            runs = by.get((task, head, protocol))
            if not runs:
                continue
            drawn = [_common.training_curve(r, "accuracy", width) for _, _, r in runs]
            x = drawn[0][0]
            curves_p = np.array([y for _, y in drawn])
            _common.band(ax, x, curves_p, _common.COLORS[protocol], protocol, center="mean")
            for e in range(0, curves_p.shape[1], max(1, curves_p.shape[1] * width // cfgs[0].epochs)):
                curves.append([task, head, protocol, x[e], *curves_p[:, e]])
        ax.axhline(0.5, color="grey", ls=":", lw=1)
        any_run = next(r for (t, d, _), runs in by.items() if t == task and d == head for _, _, r in runs)
        ax.set(xlabel="epoch", ylabel=f"accuracy ({_common.curve_label(any_run, 'accuracy', width)})", ylim=(0.4, 1.02),
               title=f"{task}, d = {head}, N = {cfgs[0].N}")
        ax.legend(fontsize=8)
        ax = axes[row][1]
        for protocol in ALL_PROTOCOLS:
            pts = [(d, by[(task, d, protocol)]) for d in delays if (task, d, protocol) in by]
            if not pts:
                continue
            x = np.array([d for d, _ in pts])
            accs = [np.array([a for _, a, _ in runs]) for _, runs in pts]
            mean = np.array([a.mean() for a in accs])
            lo = np.array([np.percentile(a, 25) for a in accs])
            hi = np.array([np.percentile(a, 75) for a in accs])
            color = _common.COLORS[protocol]
            ax.fill_between(x, lo, hi, color=color, alpha=0.2, lw=0)
            ax.plot(x, mean, color=color, lw=1.8, marker="o", ms=3, label=protocol)
            for d, a in zip(x, accs):
                ax.scatter(np.full(a.size, d), a, color=color, alpha=0.35, s=8)
        ax.axhline(0.5, color="grey", ls=":", lw=1)
        ax.set(xlabel="delay d", ylabel="test accuracy", ylim=(0.4, 1.02), title=f"{task}: test accuracy vs delay")
        ax.legend(fontsize=8)
    png = os.path.join(out, f"fig4_{args.scale}{suffix}.png")
    _common.save(fig, png)
    draw_fine_curves(by, os.path.join(out, f"fig4_fine_{args.scale}{suffix}.png"))
    if curves:
        n = max(len(r) for r in curves) - 4
        _common.write_csv(os.path.join(out, f"fig4_curves_{args.scale}{suffix}.csv"),
                          ["task", "delay", "protocol", "epoch", *[f"run{i}" for i in range(n)]], curves)
    return by


if __name__ == "__main__":
    sys.exit(main())
