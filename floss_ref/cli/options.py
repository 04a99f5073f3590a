"""Option types and the network options shared by every subcommand of the command line."""

import argparse

import numpy as np

from floss_ref.core.cells import CELLS, make_cell
from floss_ref.core.cells.vanilla import INITS, NONLINEARITIES


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line, ``<prog>: error: <message>``, with exit
    code 2: the same format as the errors the subcommands raise (:func:`floss_ref.cli.main`)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def int_at_least(minimum, maximum=None):
    """argparse type: an integer >= minimum (and <= maximum, a size limit)."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be <= {maximum} (a size limit of this command), got {value}")
        return value
    return parse


# Size limits of the command line: beyond them memory or time runs out before any result
MAX_N = 4096            # units: a 4096 x 4096 W is 134 MB, its QR loop hours
MAX_STEPS = 10 ** 8     # time steps of one trajectory (inputs alone: 800 MB per channel)
MAX_EPOCHS = 10 ** 8


def float_range(minimum=None, strict=False):
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not np.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be finite, got {text!r}")
        if minimum is not None and (value < minimum or (strict and value == minimum)):
            raise argparse.ArgumentTypeError(f"must be {'>' if strict else '>='} {minimum}, got {value}")
        return value
    return parse


def add_network_options(parser, N=32, g=1.0):
    """Options that build a random network, shared by every subcommand that needs one.
    The cell options (``--nonlinearity``, ``--init``) default to None, "not given": a
    given one that the chosen cell does not take is refused by :func:`floss_ref.core.cells.make_cell`."""
    net = parser.add_argument_group("network")
    net.add_argument("--cell", choices=sorted(CELLS), default="vanilla", help="cell type (default: vanilla)")
    net.add_argument("--N", type=int_at_least(1, MAX_N), default=N, help=f"number of units N (default: {N})")
    net.add_argument("--g", type=float_range(0.0), default=g, help=f"gain g of the initial weights (default: {g})")
    net.add_argument("--nonlinearity", choices=NONLINEARITIES, default=None,
                     help="vanilla cell only (default: tanh; linear: phi = identity, App. E)")
    net.add_argument("--init", choices=INITS, default=None,
                     help="vanilla cell only (default: gaussian)")
    net.add_argument("--seed", type=int_at_least(0), default=0, help="random seed (default: 0)")


def cell_options(args):
    """The cell options given on the command line (see :func:`add_network_options`)."""
    return {name: getattr(args, name) for name in ("nonlinearity", "init") if getattr(args, name) is not None}


def build_network(args):
    """The random network described by :func:`add_network_options`' arguments."""
    return make_cell(args.cell, args.N, 1, args.g, seed=args.seed, **cell_options(args))
