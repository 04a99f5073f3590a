"""The command line, ``python -m floss_ref {spectrum,floss,train,demo,...}``:
:mod:`~floss_ref.cli.main` builds the parser, :mod:`~floss_ref.cli.train` the training
commands, :mod:`~floss_ref.cli.options` the shared options, :mod:`~floss_ref.cli.plotting`
the figures of a run.
"""

from floss_ref.cli.main import main

__all__ = ["main"]
