"""RNN cells as differentiable maps (protocol in :mod:`floss_ref.core.maps`).

``vanilla``: Eq. 9 with tanh or ReLU (state h, N x N Jacobian).
``lstm``:    App. B Eqs. 12-17 (state (h, c), 2N x 2N Jacobian).
``gru``:     gated recurrent unit, Cho et al. 2014 (state h, N x N Jacobian).

Every cell has ``N`` units and a readout reads ``state[..., :N]``.
"""

from floss_ref.core.cells.gru import GRU
from floss_ref.core.cells.lstm import LSTM
from floss_ref.core.cells.vanilla import VanillaRNN

CELLS = {"vanilla": VanillaRNN, "lstm": LSTM, "gru": GRU}


def get_cell(name):
    """The cell class registered under ``name`` in :data:`CELLS`.

    Raises
    ------
    ValueError
        ``name`` is not a registered cell; the message lists the names that are.

    Examples
    --------
    >>> get_cell("lstm").__name__
    'LSTM'
    """
    if not isinstance(name, str) or name not in CELLS:
        raise ValueError(f"unknown cell {name!r}; choose one of {', '.join(repr(c) for c in CELLS)}")
    return CELLS[name]


def check_cell_options(name, options, labels=None):
    """Refuse an option that the cell ``name`` does not take.

    options : dict
        Keyword options for the cell's ``random`` beyond N, n_in, g, ensemble and seed.
    labels : dict, optional
        How to name an option in the message (e.g. a configuration field), by option.

    Raises
    ------
    ValueError
        An option does not apply to this cell; the message names the option, the cell
        and the options the cell does take.
    """
    cls = get_cell(name)
    labels = labels or {}
    for option in options:
        if option not in cls.random_options:
            taken = ", ".join(labels.get(o, o) for o in cls.random_options) or "none"
            raise ValueError(f"{labels.get(option, option)} does not apply to the {name!r} cell "
                             f"(its options: {taken})")


def make_cell(name, N, n_in=1, g=1.0, *, ensemble=(), seed=None, **options):
    """A random network of the cell registered as ``name``, with that cell's options.

    Parameters
    ----------
    name : {"vanilla", "lstm", "gru"}
    N, n_in : int
        Units and input channels.
    g : float or array of shape ``nets``
    ensemble : tuple of int
        The ensemble axes ``*nets``.
    seed : int, numpy.random.Generator or None
    **options
        Options of that cell's ``random`` (``VanillaRNN.random_options`` etc.); an option
        another cell takes (e.g. ``nonlinearity`` for an LSTM) is refused by name.

    Examples
    --------
    >>> make_cell("vanilla", 8, nonlinearity="relu", seed=0).nonlinearity
    'relu'
    >>> make_cell("lstm", 8, nonlinearity="relu")
    Traceback (most recent call last):
    ...
    ValueError: nonlinearity does not apply to the 'lstm' cell (its options: input_scale, forget_gain, gains)
    """
    check_cell_options(name, options)
    return get_cell(name).random(N, n_in, g, ensemble=ensemble, seed=seed, **options)


__all__ = ["VanillaRNN", "LSTM", "GRU", "CELLS", "get_cell", "make_cell", "check_cell_options"]
