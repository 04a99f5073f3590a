"""RNN cells as differentiable maps (protocol in :mod:`floss_ref.maps`).

``vanilla``: Eq. 9 with tanh or ReLU (state h, N x N Jacobian).
``lstm``:    App. B Eqs. 12-17 (state s = (h, c), 2N x 2N Jacobian).
``gru``:     gated recurrent unit, Cho et al. 2014 (state h, N x N Jacobian).

Every cell has ``N`` units and a readout reads ``state[..., :N]``.
"""

from .gru import GRU
from .lstm import LSTM
from .vanilla import VanillaRNN

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


__all__ = ["VanillaRNN", "LSTM", "GRU", "CELLS", "get_cell"]
