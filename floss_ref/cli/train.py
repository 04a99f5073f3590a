"""Command line for training: ``python -m floss_ref train ...`` and ``python -m floss_ref demo``.

:func:`register` adds both subcommands to an argparse subparsers object.  Option names
follow the paper's symbols as in :mod:`floss_ref.cli` (``--N``, ``--g``, ``--T``, ``--k``),
with the network options shared with every subcommand
(:func:`floss_ref.cli.options.add_network_options`).  The handlers raise ValueError /
TypeError for bad arguments and NumericalBreakdownError for a breakdown; the one error
policy of :func:`floss_ref.cli.main` turns them into a one-line message and exit code 2
or 1.  Every output path is checked before training.
"""

import argparse
import importlib.util
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from floss_ref.runs.io import check_writable
from floss_ref._progress import progress_bar
from floss_ref._threads import limit_blas
from floss_ref.cli.options import MAX_EPOCHS, add_network_options, cell_options, float_range, int_at_least
from floss_ref.core.cells import get_cell

MAX_SEQUENCE = 10 ** 6          # T and batch sizes of the train command
MAX_TRAIN_BYTES = 8 * 2 ** 30   # refuse a run whose BPTT arrays would exceed 8 GiB
from floss_ref.experiments.config import LSTM_GAINS
from floss_ref.experiments.tasks import FLOSSING_INPUTS, TASKS
from floss_ref.runs.run import PROTOCOLS, SETTING_CHOICES, Run, TrainConfig, train

DEFAULTS = TrainConfig()

# The demo: binary temporal XOR at a delay that plain BPTT does not bridge in the demo's
# budget, trained twice from the same initial network on the same batches, once without
# flossing and once with flossing during training.  See validation/paper/demo_seeds.py.
DEMO = dict(task="binary_xor", delay=30, N=32, T=100, batch=16, epochs=6000, k=32,
            floss_epochs=300, floss_at=(0, 100, 200, 300, 400), diag_every=100)
DEMO_PROTOCOLS = ("none", "during")


def _epoch_list(text):
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated epochs like 0,100,200, got {text!r}") from None


def _show_progress(args):
    """A live bar on a terminal, a line every few seconds in a log (floss_ref._progress)."""
    return not args.quiet


def _check_size(config):
    """Refuse a run whose BPTT arrays (states, nonlinearities, cotangents of every step of
    the batch and of the held-out batch) would not fit in MAX_TRAIN_BYTES."""
    n = get_cell(config.cell).state_per_unit * config.N
    need = 8 * 6 * config.T * max(config.batch, config.test_batch) * n
    if need > MAX_TRAIN_BYTES:
        raise ValueError(f"T = {config.T}, batch = {config.batch}, test batch = {config.test_batch} and N = "
                         f"{config.N} need about {need / 2 ** 30:.0f} GiB of arrays (limit "
                         f"{MAX_TRAIN_BYTES / 2 ** 30:.0f} GiB); use a shorter T, smaller batches or fewer units")


def _check_plot_path(path):
    check_writable(path)
    if not os.fspath(path).endswith(".png"):
        raise ValueError(f"plot path must end in .png, got {path!r}")
    if importlib.util.find_spec("matplotlib") is None:
        raise ValueError("plotting needs matplotlib, which is not installed (pip install matplotlib)")


def register(subparsers):
    """Add the ``train`` and ``demo`` subcommands to ``subparsers``."""
    _add_train(subparsers)
    _add_demo(subparsers)


def _add_train(subparsers):
    p = subparsers.add_parser(
        "train", help="train an RNN on a delayed task, with or without gradient flossing",
        description="Train a network on one of the paper's delayed tasks (App. H) with BPTT and Adam, "
                    "with a flossing protocol (Sections 6-7).  Same seed, same result, bit for bit; "
                    "a run with --checkpoint can be killed and continued with --resume.")
    task = p.add_argument_group("task")
    task.add_argument("--task", choices=sorted(TASKS), default=DEFAULTS.task,
                      help=f"task (default: {DEFAULTS.task})")
    task.add_argument("--delay", type=int_at_least(1), default=DEFAULTS.delay,
                      help=f"delay d (default: {DEFAULTS.delay})")
    task.add_argument("--T", type=int_at_least(1, MAX_SEQUENCE), default=DEFAULTS.T,
                      help=f"sequence length T (default: {DEFAULTS.T})")
    task.add_argument("--batch", type=int_at_least(1, MAX_SEQUENCE), default=DEFAULTS.batch,
                      help=f"batch size B (default: {DEFAULTS.batch})")
    add_network_options(p, N=DEFAULTS.N, g=DEFAULTS.g)
    opt = p.add_argument_group("training")
    opt.add_argument("--epochs", type=int_at_least(1, MAX_EPOCHS), default=DEFAULTS.epochs,
                     help=f"training epochs E (default: {DEFAULTS.epochs})")
    opt.add_argument("--lr", type=float_range(0.0, strict=True), default=DEFAULTS.lr,
                     help=f"Adam learning rate (default: {DEFAULTS.lr})")
    opt.add_argument("--clip-norm", type=float_range(0.0), default=DEFAULTS.clip_norm,
                     help=f"clip the training gradient to this norm, 0 for none (default: {DEFAULTS.clip_norm}; "
                          "global or per array: --clip-mode)")
    paper = p.add_argument_group(
        "settings where the paper's text and the authors' code differ (default: the first choice)")
    for name, choices in SETTING_CHOICES.items():
        paper.add_argument("--" + name.replace("_", "-"), choices=choices, default=getattr(DEFAULTS, name),
                           help=f"see floss_ref.runs.run.TrainConfig (default: {getattr(DEFAULTS, name)})")
    paper.add_argument("--forget-gain", type=float_range(0.0), default=None,
                       help="lstm cell: recurrent gain of the forget gate (default: g, as the other gates)")
    paper.add_argument("--lstm-gains", choices=LSTM_GAINS, default=DEFAULTS.lstm_gains,
                       help="lstm cell: one gain g for every gate (shared, Fig. 6 caption) or App. B's per-gate "
                            f"gains and biases (app_b) (default: {DEFAULTS.lstm_gains})")
    _add_flossing_options(p)
    _add_output_options(p)
    p.set_defaults(handler=cmd_train)


def _add_flossing_options(p):
    fl = p.add_argument_group("flossing")
    fl.add_argument("--protocol", choices=PROTOCOLS, default="none",
                    help="none | prefloss (before training) | during (before training and at --floss-at) | "
                         "throughout (every --floss-every epochs) (default: none)")
    fl.add_argument("--k", type=int_at_least(1), default=None, help="flossed exponents k (default: min(75, state size))")
    fl.add_argument("--floss-epochs", type=int_at_least(1), default=DEFAULTS.floss_epochs,
                    help=f"flossing epochs E_f per episode (default: {DEFAULTS.floss_epochs})")
    fl.add_argument("--floss-T", type=int_at_least(1), default=DEFAULTS.floss_T,
                    help=f"steps per flossing sequence (default: {DEFAULTS.floss_T})")
    fl.add_argument("--floss-transient", type=int_at_least(0), default=DEFAULTS.floss_transient,
                    help=f"steps left out of the exponents' average (default: {DEFAULTS.floss_transient})")
    fl.add_argument("--floss-inputs", choices=FLOSSING_INPUTS, default=None,
                    help="inputs of a flossing episode (default: the task's own distribution: uniform for copy "
                         "and xor, bernoulli for the binary tasks and with --task-inputs bernoulli)")
    fl.add_argument("--floss-lr", type=float_range(0.0, strict=True), default=DEFAULTS.floss_lr,
                    help=f"flossing Adam learning rate (default: {DEFAULTS.floss_lr})")
    fl.add_argument("--floss-at", type=_epoch_list, default=DEFAULTS.floss_at,
                    help="epochs of the episodes for --protocol during (default: 0,100,200,300,400)")
    fl.add_argument("--floss-every", type=int_at_least(1), default=DEFAULTS.floss_every,
                    help=f"period P for --protocol throughout (default: {DEFAULTS.floss_every})")


def _add_output_options(p):
    out = p.add_argument_group("diagnostics and output")
    out.add_argument("--diag-every", type=int_at_least(0), default=DEFAULTS.diag_every,
                     help="record Lyapunov exponents and singular values of dL/dW every this many epochs, "
                          f"0 for never (default: {DEFAULTS.diag_every})")
    out.add_argument("--diag-k", type=int_at_least(1), default=None, help="exponents recorded (default: min(10, state size))")
    out.add_argument("--test-batch", type=int_at_least(1), default=DEFAULTS.test_batch,
                     help=f"sequences scored after training (default: {DEFAULTS.test_batch})")
    out.add_argument("--checkpoint", help="checkpoint file (.npz), written atomically during the run")
    out.add_argument("--checkpoint-every", type=int_at_least(1), default=100, help="epochs between checkpoints (default: 100)")
    out.add_argument("--resume", action="store_true", help="continue the run saved in --checkpoint")
    out.add_argument("--out", help="write the history and the configuration to this .json or .npz file")
    out.add_argument("--plot", help="write a figure of the history to this .png file")
    out.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_demo(subparsers):
    p = subparsers.add_parser(
        "demo", help="the same network trained with and without gradient flossing (a few minutes)",
        description=f"Train one network twice on the binary temporal XOR task (d = {DEMO['delay']}, "
                    f"N = {DEMO['N']}, T = {DEMO['T']}, {DEMO['epochs']} epochs): without flossing and "
                    "with flossing during training.  Prints a comparison and writes a figure.")
    p.add_argument("--seed", type=int_at_least(0), default=0, help="random seed (default: 0)")
    p.add_argument("--plot", default="demo.png", help="figure file (default: demo.png)")
    p.add_argument("--jobs", type=int_at_least(1), default=2, help="parallel processes (default: 2)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(handler=cmd_demo)


def _config_from_args(args):
    return TrainConfig(
        task=args.task, delay=args.delay, cell=args.cell, **cell_options(args),
        **{name: getattr(args, name) for name in (*SETTING_CHOICES, "forget_gain", "lstm_gains", "floss_inputs")},
        N=args.N, g=args.g, T=args.T, batch=args.batch, epochs=args.epochs, lr=args.lr,
        clip_norm=None if args.clip_norm == 0 else args.clip_norm, seed=args.seed, protocol=args.protocol, k=args.k,
        floss_epochs=args.floss_epochs, floss_T=args.floss_T, floss_transient=args.floss_transient,
        floss_lr=args.floss_lr, floss_at=args.floss_at, floss_every=args.floss_every,
        diag_every=args.diag_every, diag_k=args.diag_k, test_batch=args.test_batch)


def _summary_lines(run, seconds):
    summary = run.summary()
    c = run.config
    lines = [f"{c.task} d={c.delay}, {c.cell} N={c.N}, T={c.T}, B={c.batch}, protocol {c.protocol}: "
             f"{summary['epochs']} epochs, {seconds:.1f} s this session",
             f"  last-epoch loss {summary['final_loss']:.4g}, test loss {summary['test_loss']:.4g}"]
    if run.task.binary:
        lines.append(f"  last-epoch accuracy {summary['final_accuracy']:.3f}, "
                     f"test accuracy {summary['test_accuracy']:.3f}")
    return lines


def cmd_train(args):
    """Handler of ``train``."""
    config = _config_from_args(args)
    _check_size(config)
    if args.out is not None:
        if not args.out.endswith((".json", ".npz")):  # also refuses an empty --out
            raise ValueError(f"--out must end in .json or .npz, got {args.out!r}")
        check_writable(args.out)
        if args.checkpoint is not None and os.path.abspath(args.out) == os.path.abspath(args.checkpoint):
            raise ValueError("--out and --checkpoint name the same file; give two paths")
    if args.plot is not None:
        _check_plot_path(args.plot)
    start = time.perf_counter()
    try:
        run = train(config, checkpoint=args.checkpoint, checkpoint_every=args.checkpoint_every,
                    resume=args.resume, progress=_show_progress(args))
    except KeyboardInterrupt:
        where = (f"; continue from the last checkpoint with --resume --checkpoint {args.checkpoint}"
                 if args.checkpoint else "")
        print(f"interrupted{where}", file=sys.stderr)
        return 130
    seconds = time.perf_counter() - start
    for line in _summary_lines(run, seconds):
        print(line)
    if args.out is not None:
        run.save_history(args.out)
        print(f"wrote {args.out}")
    if args.plot is not None:
        from floss_ref.cli.plotting import plot_history
        plot_history([run.history], [config.protocol], args.plot,
                     title=f"{config.task}, d = {config.delay}, N = {config.N}")
        print(f"wrote {args.plot}")
    return 0


# ---- demo -------------------------------------------------------------------------------

def demo_configs(seed):
    """The two configurations of the demo: without and with flossing during training."""
    return [TrainConfig(protocol=p, seed=seed, **DEMO) for p in DEMO_PROTOCOLS]


def _train_one(config, progress, position):
    """Worker: train ``config`` to the end; returns (history, summary, seconds)."""
    start = time.perf_counter()
    with limit_blas(1):
        run = Run(config)
        bar = progress_bar(config.epochs, progress, f"{config.protocol:>6}", "epoch", leave=True,
                           position=position)
        while not run.done:
            run.train_epoch()
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
    return run.history, run.summary(), time.perf_counter() - start


def run_demo(seed, jobs=2, progress=False):
    """Train the demo's two configurations (in ``jobs`` processes).

    Returns a list of (config, history, summary, seconds).
    """
    configs = demo_configs(seed)
    if jobs == 1:
        results = [_train_one(c, progress, i) for i, c in enumerate(configs)]
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(_train_one, c, progress, i) for i, c in enumerate(configs)]
            results = [f.result() for f in futures]
    return [(c, *r) for c, r in zip(configs, results)]


def demo_verdict(results):
    """True if flossing learned the task (accuracy >= 0.9) and plain BPTT did not (<= 0.6)."""
    acc = {c.protocol: summary["test_accuracy"] for c, _, summary, _ in results}
    return acc["during"] >= 0.9 and acc["none"] <= 0.6


def demo_table(results):
    """The comparison table as lines of text."""
    lines = [f"{'protocol':<10} {'test acc':>8} {'test loss':>10} {'|dL/dh0| last 100':>18} "
             f"{'lambda_1':>9} {'time':>7}"]
    for c, h, summary, seconds in results:
        h0 = float(np.median(h["h0_grad_norm"][-100:]))
        lam1 = h["exponents"][-1, 0]
        lines.append(f"{c.protocol:<10} {summary['test_accuracy']:>8.3f} {summary['test_loss']:>10.4f} {h0:>18.2e} "
                     f"{lam1:>+9.3f} {seconds:>6.0f}s")
    return lines


def cmd_demo(args):
    """Handler of ``demo``."""
    _check_plot_path(args.plot)
    c = demo_configs(args.seed)[0]
    print(f"binary temporal XOR y_s = x_(s-{c.delay // 2}) xor x_(s-{c.delay}), vanilla RNN N = {c.N}, "
          f"T = {c.T}, B = {c.batch}, {c.epochs} epochs, seed {args.seed}")
    print(f"trained twice from the same initial network on the same batches: without flossing, and "
          f"with {c.floss_epochs}-epoch flossing episodes (k = {c.k}) before epochs "
          f"{', '.join(str(e) for e in c.floss_at)}")
    start = time.perf_counter()
    results = run_demo(args.seed, jobs=args.jobs, progress=_show_progress(args))
    for line in demo_table(results):
        print(line)
    ok = demo_verdict(results)
    print(f"{time.perf_counter() - start:.0f} s in total.  "
          + ("As expected: with flossing the task is learned, without it the accuracy stays near chance."
             if ok else "Unexpected for this seed: the usual gap between the two runs did not appear."))
    from floss_ref.cli.plotting import plot_history
    plot_history([h for _, h, _, _ in results], [c.protocol for c, _, _, _ in results], args.plot,
                 title=f"binary temporal XOR, d = {c.delay}, N = {c.N}, seed {args.seed}")
    print(f"wrote {args.plot}")
    return 0
