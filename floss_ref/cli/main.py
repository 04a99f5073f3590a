"""Command line: ``python -m floss_ref {spectrum,floss,...} --help``.

Options are named after the paper's symbols (``--N``, ``--g``, ``--k``, ``--T``,
``--t-ons``, ``--epochs``).  Bad arguments print a one-line message and exit with code 2;
a numerical breakdown (overflow, collapsed tangent vectors), an output that cannot be
written (disk full, read-only file system, permission denied:
:class:`floss_ref.runs.io.WriteError`) or any other failure of the operating system
prints a one-line message and exits with code 1.
"""

import os
import sys
import time

import numpy as np

from floss_ref.runs import io as _io
from floss_ref.cli import train as cli_train
from floss_ref import __version__
from floss_ref.cli.options import MAX_EPOCHS, MAX_STEPS, Parser, add_network_options, build_network, float_range, int_at_least
from floss_ref.errors import NumericalBreakdownError
from floss_ref.experiments.driver import floss
from floss_ref.experiments.tasks import FLOSSING_INPUTS, draw_inputs
from floss_ref.core.lyapunov import lyapunov_spectrum


def _add_run_options(parser, k, T, transient):
    run = parser.add_argument_group("Lyapunov spectrum")
    run.add_argument("--k", type=int_at_least(1), default=None,
                     help="number of exponents k (default: " + ("the state size n, all of them)" if k == "n"
                                                                else f"min({k}, state size n))"))
    run.set_defaults(default_k=k)
    run.add_argument("--T", type=int_at_least(1, MAX_STEPS), default=T, help=f"time steps T (default: {T})")
    run.add_argument("--t-ons", type=int_at_least(1), default=1, help="steps between QRs t_ONS (default: 1)")
    run.add_argument("--transient", type=int_at_least(0), default=transient,
                     help=f"initial steps left out of the average (default: {transient})")
    run.add_argument("--inputs", choices=FLOSSING_INPUTS, default="gaussian",
                     help="input x_s: N(0,1), Bernoulli{0,1} or none (default: gaussian)")
    parser.add_argument("--out", help="write results to this file (.json or .npz)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar, only the table")


def _check_common(args, system):
    n = system.state_size
    if args.k is None:  # a default that works for every network size
        args.k = n if args.default_k == "n" else min(args.default_k, n)
    if args.k > n:
        raise ValueError(f"--k must be <= the state size {n} of this network, got {args.k}")
    if args.transient >= args.T:
        raise ValueError(f"--T ({args.T}) must be longer than --transient ({args.transient})")
    if args.out is not None:
        if not args.out.endswith((".json", ".npz")):
            raise ValueError(f"--out must be a file name ending in .json or .npz, got {args.out!r}")
        _io.check_writable(args.out)


def _run_spectrum(system, args, T, seed):
    rng = np.random.default_rng(seed)
    xs = draw_inputs(args.inputs, T, (), getattr(system, "n_in", 1), rng)
    h0 = rng.standard_normal(system.state_size)
    return lyapunov_spectrum(system, h0, xs, k=args.k, T=T, t_ons=args.t_ons,
                             transient=args.transient, seed=rng, progress=not args.quiet)


def _spectrum(system, args, T, seed):
    return _run_spectrum(system, args, T, seed).exponents


def _fmt(lam, width=8):
    shown = ", ".join(f"{v:+.4f}" for v in lam[:width])
    return "[" + shown + (", ..." if lam.size > width else "") + "]"


def _fmt_se(se, width=8):
    shown = ", ".join(f"{v:.4f}" for v in se[:width])
    return "[" + shown + (", ..." if se.size > width else "") + "]"


def cmd_spectrum(args):
    system = build_network(args)
    _check_common(args, system)
    start = time.perf_counter()
    res = _run_spectrum(system, args, args.T, args.seed + 1)
    lam, se = res.exponents, res.stderr
    seconds = time.perf_counter() - start
    print(f"{args.cell} network, N = {args.N}, g = {args.g}, T = {args.T}, t_ONS = {args.t_ons}, "
          f"transient = {args.transient}: {seconds:.2f} s")
    print(f"lambda_1..{args.k} = {_fmt(lam, 10)}")
    print(f"standard errors  = {_fmt_se(se, 10)}  (batch means: {res.n_blocks} blocks of {res.block_steps} steps)")
    print(f"lambda_1 = {lam[0]:+.4f} +- {se[0]:.4f}   lambda_k = {lam[-1]:+.4f} +- {se[-1]:.4f}   "
          f"sum = {lam.sum():+.4f}")
    if args.out is not None:
        _io.save_results(args.out, {"exponents": lam, "stderr": se, "n_blocks": res.n_blocks,
                                    "block_steps": res.block_steps, "N": args.N, "g": args.g, "k": args.k,
                                    "T": args.T, "t_ons": args.t_ons, "seed": args.seed})
        print(f"wrote {args.out}")
    return 0


def cmd_floss(args):
    system = build_network(args)
    _check_common(args, system)
    if args.T_eval <= args.transient:
        raise ValueError(f"--T-eval ({args.T_eval}) must be longer than --transient ({args.transient})")
    before = _spectrum(system, args, args.T_eval, args.seed + 1)
    hist = floss(system, epochs=args.epochs, k=args.k, T=args.T, t_ons=args.t_ons,
                 transient=args.transient, target=args.target, lr=args.lr, clip_norm=args.clip_norm,
                 inputs=args.inputs, seed=args.seed + 2, progress=not args.quiet)
    after = _spectrum(system, args, args.T_eval, args.seed + 3)
    print(f"flossed {args.k} exponents of a {args.cell} network (N = {args.N}, g = {args.g}) "
          f"towards {args.target} for {args.epochs} epochs (T = {args.T}, Adam lr = {args.lr}"
          f"{'' if args.clip_norm is None else f', gradient clipped at {args.clip_norm}'}): {hist.seconds:.1f} s")
    print(f"gradient norm per epoch: median {np.median(hist.grad_norm):.3g}, max {np.max(hist.grad_norm):.3g}")
    print(f"spectrum on a fresh trajectory of {args.T_eval} steps:")
    print(f"  before: {_fmt(before)}")
    print(f"  after:  {_fmt(after)}")
    print(f"  sum_i (lambda_i - target)^2: before {np.sum((before - args.target) ** 2):.4g}, "
          f"after {np.sum((after - args.target) ** 2):.4g}")
    if args.out is not None:
        results = {"exponents_before": before, "exponents_after": after,
                   "loss_per_epoch": hist.loss, "exponents_per_epoch": hist.exponents,
                   "grad_norm_per_epoch": hist.grad_norm, "N": args.N, "g": args.g, "k": args.k,
                   "T": args.T, "epochs": args.epochs, "lr": args.lr, "seed": args.seed}
        if args.clip_norm is not None:  # no key: no clipping
            results["clip_norm"] = args.clip_norm
        _io.save_results(args.out, results)
        print(f"wrote {args.out}")
    return 0


def make_parser():
    parser = Parser(prog="python -m floss_ref",
                    description="Gradient flossing reference implementation (Engelken, NeurIPS 2023).")
    parser.add_argument("--version", action="version", version=f"floss_ref {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("spectrum", help="Lyapunov spectrum of a random network",
                       description="Compute the first k Lyapunov exponents of a random network (Algorithm 2).")
    add_network_options(p, N=80)
    _add_run_options(p, k="n", T=1000, transient=100)
    p.set_defaults(handler=cmd_spectrum)

    p = sub.add_parser("floss", help="floss a random network and show its spectrum before and after",
                       description="Gradient flossing (Algorithm 1): push the first k Lyapunov exponents "
                                   "towards a target with Adam, then compare the spectrum before and after.")
    add_network_options(p, N=32)
    _add_run_options(p, k=16, T=100, transient=20)
    p.add_argument("--epochs", type=int_at_least(1, MAX_EPOCHS), default=200, help="flossing epochs E_f (default: 200)")
    p.add_argument("--lr", type=float_range(0.0, strict=True), default=1e-2, help="Adam learning rate (default: 0.01)")
    p.add_argument("--target", type=float_range(), default=0.0, help="target exponent (default: 0)")
    p.add_argument("--clip-norm", type=float_range(0.0, strict=True), default=None,
                   help="clip each epoch's flossing gradient to this L2 norm (default: no clipping)")
    p.add_argument("--T-eval", type=int_at_least(1, MAX_STEPS), default=1000,
                   help="steps of the trajectory on which the spectrum is measured before and after (default: 1000)")
    p.set_defaults(handler=cmd_floss)

    p = sub.add_parser("gradcheck", help="check the derivatives of a differentiable map (yours)",
                       description="Check a differentiable map's step, tangent, pullbacks and flossing gradient "
                                   "(floss_ref.kit.gradcheck): MAP is module:factory, factory() returns the map. "
                                   "Exit code 0 if every check passes, 1 if one fails.")
    p.add_argument("map", metavar="MAP", help="module:factory, e.g. mycells:make_cell (the module must be importable)")
    p.add_argument("--T", type=int_at_least(2, MAX_STEPS), default=20,
                   help="steps of the short flossing horizon (default: 20)")
    p.add_argument("--k", type=int_at_least(1), default=None,
                   help="exponents of the flossing check (default: min(2, n))")
    p.add_argument("--long-horizon", type=int_at_least(2, MAX_STEPS), default=None,
                   help="also check the flossing gradient over this many steps against 256-bit differences")
    p.add_argument("--seed", type=int_at_least(0), default=0, help="random seed (default: 0)")
    p.set_defaults(handler=cmd_gradcheck)

    p = sub.add_parser("vectors", help="write the reference vectors (test cases of the flossing gradient)",
                       description="Write the reference test cases of floss_ref.kit.vectors (NPZ per case plus "
                                   "cases.json with conventions, hashes and the digits that agree with 256 bits).")
    p.add_argument("--out", required=True, help="directory to write (created if missing)")
    p.add_argument("--cases", nargs="+", default=None, help="case names (default: all 48)")
    p.set_defaults(handler=cmd_vectors)

    cli_train.register(sub)        # train, demo
    return parser


def cmd_vectors(args):
    from floss_ref.kit import vectors

    if not args.out:
        raise ValueError("--out must name a directory")
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise ValueError(f"--out {args.out!r} exists and is not a directory")
    index = vectors.write(args.out, args.cases, log=print)
    print(f"wrote {len(index['cases'])} cases and cases.json to {args.out}")
    return 0


class CommandFailed(Exception):
    """A subcommand failed at run time for a reason its message gives in full (exit code 1)."""


def cmd_gradcheck(args):
    """Handler of ``gradcheck``.  A module that cannot be imported (missing, a syntax error,
    an exception or ``sys.exit`` while it runs) is a bad MAP (exit 2); a factory, or a map,
    that raises is a failure of the code checked (exit 1); both print one line."""
    import importlib
    import re

    from floss_ref.kit.gradcheck import gradcheck

    if not re.fullmatch(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*", args.map):
        raise ValueError(f"MAP must be module:factory (e.g. mycells:make_cell), got {args.map!r}")
    module_name, factory_name = args.map.split(":")
    sys.path.insert(0, ".")  # a module in the current directory, as python -m would find it
    try:
        module = importlib.import_module(module_name)
    except (Exception, SystemExit) as exc:  # noqa: BLE001  (ImportError, SyntaxError, whatever the module raises)
        raise ValueError(f"cannot import {module_name!r} for MAP {args.map!r}: {type(exc).__name__}: {exc}") from None
    finally:
        sys.path.remove(".")
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        raise ValueError(f"{module_name!r} has no callable {factory_name!r} (MAP {args.map!r})")
    try:
        system = factory()
    except Exception as exc:  # noqa: BLE001  (the user's code: reported, not traced back)
        raise CommandFailed(f"{factory_name}() of {module_name!r} raised {type(exc).__name__}: {exc}") from None
    try:
        report = gradcheck(system, T=args.T, k=args.k, seed=args.seed, long_horizon=args.long_horizon)
    except (ValueError, TypeError, NumericalBreakdownError, MemoryError):
        raise  # a map that returns the wrong thing, or a breakdown: the usual exit codes
    except Exception as exc:  # noqa: BLE001  (the map's own code raised)
        raise CommandFailed(f"the map raised {type(exc).__name__} during the checks: {exc}") from None
    print(report.table())
    return 0 if report.passed else 1


def _one_line(exc):
    return " ".join(str(exc).split())


def main(argv=None):
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        return args.handler(args)
    except (ValueError, TypeError) as exc:
        print(f"{parser.prog} {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except NumericalBreakdownError as exc:
        print(f"{parser.prog} {args.command}: numerical breakdown: {_one_line(exc)}", file=sys.stderr)
        return 1
    except CommandFailed as exc:
        print(f"{parser.prog} {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except OSError as exc:  # floss_ref.runs.io.WriteError ("cannot write ..."), or any other failure of the system
        print(f"{parser.prog} {args.command}: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    except MemoryError:
        print(f"{parser.prog} {args.command}: out of memory: the sizes asked for do not fit in this machine's "
              "memory; use smaller N, T, batch or epochs", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
