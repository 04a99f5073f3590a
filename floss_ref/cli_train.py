"""Command line for training: ``python -m floss_ref train ...`` and ``python -m floss_ref demo``.

:func:`register` adds both subcommands to an argparse subparsers object.  Option names
follow the paper's symbols as in :mod:`floss_ref.cli` (``--N``, ``--g``, ``--T``, ``--k``).
Bad arguments print ``error: ...`` to stderr and exit with code 2 (no traceback); a
numerical breakdown exits with code 1; every output path is checked before training.
"""

import argparse
import importlib.util
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from ._threads import limit_blas
from .cells import CELLS
from ._io import check_writable
from .errors import NumericalBreakdownError
from .tasks import TASKS
from .training import PROTOCOLS, Run, TrainConfig, train

DEFAULTS = TrainConfig()

# The demo: binary temporal XOR at a delay that plain BPTT does not bridge in the demo's
# budget, trained twice from the same initial network on the same batches, once without
# flossing and once with flossing during training.  See validation/demo_seeds.py.
DEMO = dict(task="binary_xor", delay=30, N=32, T=100, batch=16, epochs=6000, k=32,
            floss_epochs=300, floss_at=(0, 100, 200, 300, 400), diag_every=100)
DEMO_PROTOCOLS = ("none", "during")


def _error(message, code=2):
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(code)


def _epoch_list(text):
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated epochs like 0,100,200, got {text!r}") from None


def _show_progress(args):
    return not args.quiet and sys.stderr.isatty()


def _check_plot_path(path):
    check_writable(path)
    if not os.fspath(path).endswith(".png"):
        raise ValueError(f"plot path must end in .png, got {path!r}")
    if importlib.util.find_spec("matplotlib") is None:
        raise ValueError("plotting needs matplotlib, which is not installed (pip install matplotlib)")


def register(subparsers):
    """Add the ``train`` and ``demo`` subcommands to ``subparsers``."""
    p = subparsers.add_parser(
        "train", help="train an RNN on a delayed task, with or without gradient flossing",
        description="Train a network on one of the paper's delayed tasks (App. H) with BPTT and Adam, "
                    "with a flossing protocol (Sections 6-7).  Same seed, same result, bit for bit; "
                    "a run with --checkpoint can be killed and continued with --resume.")
    task = p.add_argument_group("task")
    task.add_argument("--task", choices=sorted(TASKS), default=DEFAULTS.task,
                      help=f"task (default: {DEFAULTS.task})")
    task.add_argument("--delay", type=int, default=DEFAULTS.delay, help=f"delay d (default: {DEFAULTS.delay})")
    task.add_argument("--T", type=int, default=DEFAULTS.T, help=f"sequence length T (default: {DEFAULTS.T})")
    task.add_argument("--batch", type=int, default=DEFAULTS.batch, help=f"batch size B (default: {DEFAULTS.batch})")
    net = p.add_argument_group("network")
    net.add_argument("--cell", choices=sorted(CELLS), default=DEFAULTS.cell, help="cell type (default: vanilla)")
    net.add_argument("--N", type=int, default=DEFAULTS.N, help=f"number of units N (default: {DEFAULTS.N})")
    net.add_argument("--g", type=float, default=DEFAULTS.g, help=f"initial gain g (default: {DEFAULTS.g})")
    net.add_argument("--nonlinearity", choices=("tanh", "relu"), default="tanh", help="vanilla only (default: tanh)")
    net.add_argument("--init", choices=("gaussian", "orthogonal"), default="gaussian", help="vanilla only (default: gaussian)")
    net.add_argument("--seed", type=int, default=DEFAULTS.seed, help="random seed (default: 0)")
    opt = p.add_argument_group("training")
    opt.add_argument("--epochs", type=int, default=DEFAULTS.epochs, help=f"training epochs E (default: {DEFAULTS.epochs})")
    opt.add_argument("--lr", type=float, default=DEFAULTS.lr, help=f"Adam learning rate (default: {DEFAULTS.lr})")
    opt.add_argument("--clip", type=float, default=DEFAULTS.clip,
                     help=f"global gradient-norm clip, 0 for none (default: {DEFAULTS.clip})")
    fl = p.add_argument_group("flossing")
    fl.add_argument("--protocol", choices=PROTOCOLS, default="none",
                    help="none | prefloss (before training) | during (before training and at --floss-at) | "
                         "throughout (every --floss-every epochs) (default: none)")
    fl.add_argument("--k", type=int, default=None, help="flossed exponents k (default: min(75, state size))")
    fl.add_argument("--floss-epochs", type=int, default=DEFAULTS.floss_epochs,
                    help=f"flossing epochs E_f per episode (default: {DEFAULTS.floss_epochs})")
    fl.add_argument("--floss-T", type=int, default=DEFAULTS.floss_T,
                    help=f"steps per flossing sequence (default: {DEFAULTS.floss_T})")
    fl.add_argument("--floss-transient", type=int, default=DEFAULTS.floss_transient,
                    help=f"steps left out of the exponents' average (default: {DEFAULTS.floss_transient})")
    fl.add_argument("--floss-lr", type=float, default=DEFAULTS.floss_lr,
                    help=f"flossing Adam learning rate (default: {DEFAULTS.floss_lr})")
    fl.add_argument("--floss-at", type=_epoch_list, default=DEFAULTS.floss_at,
                    help="epochs of the episodes for --protocol during (default: 0,100,200,300,400)")
    fl.add_argument("--floss-every", type=int, default=DEFAULTS.floss_every,
                    help=f"period P for --protocol throughout (default: {DEFAULTS.floss_every})")
    out = p.add_argument_group("diagnostics and output")
    out.add_argument("--diag-every", type=int, default=DEFAULTS.diag_every,
                     help="record Lyapunov exponents and singular values of dL/dW every this many epochs, "
                          f"0 for never (default: {DEFAULTS.diag_every})")
    out.add_argument("--diag-k", type=int, default=None, help="exponents recorded (default: min(10, state size))")
    out.add_argument("--test-batch", type=int, default=DEFAULTS.test_batch,
                     help=f"sequences scored after training (default: {DEFAULTS.test_batch})")
    out.add_argument("--checkpoint", help="checkpoint file (.npz), written atomically during the run")
    out.add_argument("--checkpoint-every", type=int, default=100, help="epochs between checkpoints (default: 100)")
    out.add_argument("--resume", action="store_true", help="continue the run saved in --checkpoint")
    out.add_argument("--history", help="write the history to this .json or .npz file")
    out.add_argument("--plot", help="write a figure of the history to this .png file")
    out.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(handler=cmd_train)

    p = subparsers.add_parser(
        "demo", help="the same network trained with and without gradient flossing (a few minutes)",
        description=f"Train one network twice on the binary temporal XOR task (d = {DEMO['delay']}, "
                    f"N = {DEMO['N']}, T = {DEMO['T']}, {DEMO['epochs']} epochs): without flossing and "
                    "with flossing during training.  Prints a comparison and writes a figure.")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--out", default="demo.png", help="figure file (default: demo.png)")
    p.add_argument("--jobs", type=int, default=2, help="parallel processes (default: 2)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(handler=cmd_demo)


def _config_from_args(args):
    return TrainConfig(
        task=args.task, delay=args.delay, cell=args.cell, nonlinearity=args.nonlinearity, init=args.init,
        N=args.N, g=args.g, T=args.T, batch=args.batch, epochs=args.epochs, lr=args.lr,
        clip=None if args.clip == 0 else args.clip, seed=args.seed, protocol=args.protocol, k=args.k,
        floss_epochs=args.floss_epochs, floss_T=args.floss_T, floss_transient=args.floss_transient,
        floss_lr=args.floss_lr, floss_at=args.floss_at, floss_every=args.floss_every,
        diag_every=args.diag_every, diag_k=args.diag_k, test_batch=args.test_batch)


def _summary_lines(run, seconds):
    s = run.summary()
    c = run.config
    lines = [f"{c.task} d={c.delay}, {c.cell} N={c.N}, T={c.T}, B={c.batch}, protocol {c.protocol}: "
             f"{s['epochs']} epochs, {seconds:.1f} s this session",
             f"  last-epoch loss {s['final_loss']:.4g}, test loss {s['test_loss']:.4g}"]
    if run.task.binary:
        lines.append(f"  last-epoch accuracy {s['final_accuracy']:.3f}, test accuracy {s['test_accuracy']:.3f}")
    return lines


def cmd_train(args):
    """Handler of ``train``."""
    try:
        config = _config_from_args(args)
        if args.checkpoint_every < 1:
            raise ValueError(f"--checkpoint-every must be >= 1, got {args.checkpoint_every}")
        if args.history is not None:
            if not args.history.endswith((".json", ".npz")):
                raise ValueError(f"--history must end in .json or .npz, got {args.history!r}")
            check_writable(args.history)
        if args.plot is not None:
            _check_plot_path(args.plot)
        start = time.perf_counter()
        run = train(config, checkpoint=args.checkpoint, checkpoint_every=args.checkpoint_every,
                    resume=args.resume, progress=_show_progress(args))
        seconds = time.perf_counter() - start
    except (ValueError, TypeError) as exc:  # includes CheckpointError
        _error(str(exc))
    except NumericalBreakdownError as exc:
        _error(f"numerical breakdown: {exc}", code=1)
    except KeyboardInterrupt:
        where = (f"; continue from the last checkpoint with --resume --checkpoint {args.checkpoint}"
                 if args.checkpoint else "")
        _error(f"interrupted{where}", code=130)
    for line in _summary_lines(run, seconds):
        print(line)
    if args.history is not None:
        run.save_history(args.history)
        print(f"wrote {args.history}")
    if args.plot is not None:
        from .plotting import plot_history
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
        bar = None
        if progress:
            from tqdm import tqdm
            bar = tqdm(total=config.epochs, desc=f"{config.protocol:>6}", unit="epoch", position=position,
                       mininterval=0.5)
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
    acc = {c.protocol: s["test_accuracy"] for c, _, s, _ in results}
    return acc["during"] >= 0.9 and acc["none"] <= 0.6


def demo_table(results):
    """The comparison table as lines of text."""
    lines = [f"{'protocol':<10} {'test acc':>8} {'test loss':>10} {'|dL/dh0| last 100':>18} "
             f"{'lambda_1':>9} {'time':>7}"]
    for c, h, s, seconds in results:
        h0 = float(np.median(h["h0_grad_norm"][-100:]))
        lam1 = h["exponents"][-1, 0]
        lines.append(f"{c.protocol:<10} {s['test_accuracy']:>8.3f} {s['test_loss']:>10.4f} {h0:>18.2e} "
                     f"{lam1:>+9.3f} {seconds:>6.0f}s")
    return lines


def cmd_demo(args):
    """Handler of ``demo``."""
    try:
        if args.seed < 0:
            raise ValueError(f"--seed must be >= 0, got {args.seed}")
        if args.jobs < 1:
            raise ValueError(f"--jobs must be >= 1, got {args.jobs}")
        _check_plot_path(args.out)
        c = demo_configs(args.seed)[0]
        print(f"binary temporal XOR y_s = x_(s-{c.delay // 2}) xor x_(s-{c.delay}), vanilla RNN N = {c.N}, "
              f"T = {c.T}, B = {c.batch}, {c.epochs} epochs, seed {args.seed}")
        print(f"trained twice from the same initial network on the same batches: without flossing, and "
              f"with {c.floss_epochs}-epoch flossing episodes (k = {c.k}) before epochs "
              f"{', '.join(str(e) for e in c.floss_at)}")
        start = time.perf_counter()
        results = run_demo(args.seed, jobs=args.jobs, progress=_show_progress(args))
    except (ValueError, TypeError) as exc:
        _error(str(exc))
    except NumericalBreakdownError as exc:
        _error(f"numerical breakdown: {exc}", code=1)
    except KeyboardInterrupt:
        _error("interrupted", code=130)
    for line in demo_table(results):
        print(line)
    ok = demo_verdict(results)
    print(f"{time.perf_counter() - start:.0f} s in total.  "
          + ("As expected: with flossing the task is learned, without it the accuracy stays near chance."
             if ok else "Unexpected for this seed: the usual gap between the two runs did not appear."))
    from .plotting import plot_history
    plot_history([h for _, h, _, _ in results], [c.protocol for c, _, _, _ in results], args.out,
                 title=f"binary temporal XOR, d = {c.delay}, N = {c.N}, seed {args.seed}")
    print(f"wrote {args.out}")
    return 0
