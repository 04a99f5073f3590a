"""floss_ref: a NumPy reference implementation of gradient flossing (Engelken, NeurIPS 2023).

Hand-written forward and reverse passes for RNN dynamics, tangent propagation
Q <- D_s Q, Householder QR and its analytic pullback; the Lyapunov spectrum (Benettin),
the flossing loss sum_i lambda_i^2 and its exact gradient.

The QR decomposition and its derivatives live in :mod:`floss_ref.qr`
(``from floss_ref.qr import qr, qr_vjp``).
"""

from .cells import CELLS, GRU, LSTM, VanillaRNN, get_cell
from .errors import NumericalBreakdownError, SingularRError
from .driver import FlossingHistory, floss
from .flossing import FlossingGrad, flossing_grad, flossing_loss, flossing_loss_jvp
from .clv import CovariantVectors, covariant_vectors
from .lyapunov import (ConditioningWarning, ConvergenceWarning, LyapunovResult, RoundoffWarning,
                       finite_time_exponents, lyapunov_spectrum, random_orthonormal)
from .lyapunov_stats import ShortBlocksWarning, entropy_bound, kaplan_yorke_dimension
from .maps import FunctionMap, LinearMap
from .optim import Adam
from .qr import QRFallbackWarning

__version__ = "0.1.0"

__all__ = [
    "Adam", "CELLS", "GRU", "LSTM", "ConditioningWarning", "FlossingGrad", "FlossingHistory", "FunctionMap",
    "LinearMap", "LyapunovResult", "NumericalBreakdownError", "QRFallbackWarning", "RoundoffWarning",
    "SingularRError", "VanillaRNN",
    "ConvergenceWarning", "CovariantVectors", "ShortBlocksWarning", "covariant_vectors", "entropy_bound",
    "finite_time_exponents", "kaplan_yorke_dimension",
    "floss", "flossing_grad", "flossing_loss", "flossing_loss_jvp", "get_cell", "lyapunov_spectrum", "random_orthonormal",
]
