"""floss_ref: a NumPy reference implementation of gradient flossing (Engelken, NeurIPS 2023).

Hand-written forward and reverse passes for RNN dynamics, tangent propagation
Q <- D_s Q, Householder QR and its analytic pullback; the Lyapunov spectrum (Benettin),
the flossing loss sum_i lambda_i^2 and its exact gradient.

The layout shows the architecture:

``floss_ref.core``
    the reference a reader studies (cells, QR, the Benettin loop, flossing, error bars,
    covariant vectors, arbitrary precision); it imports nothing from the rest.
``floss_ref.experiments``
    the paper's tasks, the BPTT model, Adam, the flossing loop, training protocols and
    the Sec. 7 controls.
``floss_ref.runs``
    the machinery: checkpointed runs, resumable sweeps, file I/O.
``floss_ref.kit``
    the checking kit (gradcheck, reference vectors).
``floss_ref.cli``
    the command line.

The QR decomposition and its derivatives live in :mod:`floss_ref.core.qr`
(``from floss_ref.core.qr import qr, qr_vjp``).  Short module paths such as
``floss_ref.qr`` and ``floss_ref.training`` import as aliases of the modules in these
subpackages (:data:`floss_ref._moved.MOVED`).
"""

from floss_ref import _moved

_moved.install()

from floss_ref.core.cells import CELLS, GRU, LSTM, VanillaRNN, get_cell
from floss_ref.errors import NumericalBreakdownError, SingularRError, TrainingDivergedError
from floss_ref.experiments.driver import FlossingHistory, floss
from floss_ref.core.flossing import FlossingGrad, flossing_grad, flossing_loss, flossing_loss_jvp
from floss_ref.core.clv import CovariantVectors, covariant_vectors
from floss_ref.core.lyapunov import (ConditioningWarning, ConvergenceWarning, LyapunovResult, RoundoffWarning,
                       finite_time_exponents, lyapunov_spectrum, random_orthonormal)
from floss_ref.core.lyapunov_stats import ShortBlocksWarning, entropy_bound, kaplan_yorke_dimension
from floss_ref.core.maps import FunctionMap, LinearMap
from floss_ref.experiments.optim import Adam
from floss_ref.core.qr import QRFallbackWarning

__version__ = "0.1.0"

__all__ = [
    "Adam", "CELLS", "GRU", "LSTM", "ConditioningWarning", "FlossingGrad", "FlossingHistory", "FunctionMap",
    "LinearMap", "LyapunovResult", "NumericalBreakdownError", "QRFallbackWarning", "RoundoffWarning",
    "SingularRError", "TrainingDivergedError", "VanillaRNN",
    "ConvergenceWarning", "CovariantVectors", "ShortBlocksWarning", "covariant_vectors", "entropy_bound",
    "finite_time_exponents", "kaplan_yorke_dimension",
    "floss", "flossing_grad", "flossing_loss", "flossing_loss_jvp", "get_cell", "lyapunov_spectrum", "random_orthonormal",
]
