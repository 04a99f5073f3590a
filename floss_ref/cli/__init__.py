"""The command line, ``python -m floss_ref {spectrum,floss,train,demo,...}``:
:mod:`~floss_ref.cli.main` builds the parser, :mod:`~floss_ref.cli.train` the training
commands, :mod:`~floss_ref.cli.options` the shared options, :mod:`~floss_ref.cli.plotting`
the figures of a run.
"""

from floss_ref.cli.main import cmd_floss, cmd_gradcheck, cmd_spectrum, cmd_vectors, main, make_parser

# the names of the flat layout's floss_ref.cli module, which floss_ref.cli.main now holds
__all__ = ["main", "make_parser", "cmd_spectrum", "cmd_floss", "cmd_vectors", "cmd_gradcheck"]
