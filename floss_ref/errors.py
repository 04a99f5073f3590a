"""Exceptions raised by floss_ref.

Bad input raises the built-in ``ValueError`` / ``TypeError`` with a message naming the
argument.  Numerical breakdown during a computation (a singular R in the QR pullback, a
trajectory that overflows, a NaN appearing) raises :class:`NumericalBreakdownError` or
one of its subclasses, so callers can tell "you passed something wrong" apart from
"the maths broke down on this input".
"""


class NumericalBreakdownError(FloatingPointError):
    """A computation produced a non-finite or meaningless result (overflow, NaN)."""


class SingularRError(NumericalBreakdownError):
    """The triangular factor R of a QR decomposition is singular or nearly so.

    Raised by the QR pullback, which needs R^{-1}: with R_jj == 0 (or tiny relative to
    R_11) the tangent directions have collapsed onto fewer than k dimensions and the
    derivative of Q does not exist (or is dominated by round-off).
    """


class TrainingDivergedError(NumericalBreakdownError):
    """A training run's task loss rose above the divergence bound
    (:data:`floss_ref.runs.run.DIVERGED_LOSS`): the forward pass grew without limit.

    Also raised, with a non-finite loss, when the forward pass overflows.

    Attributes
    ----------
    loss : float
        The task loss that stopped the run (inf or NaN after an overflow).
    epoch : int or None
        The training epoch whose batch gave it (None outside a training run).
    """

    def __init__(self, message, *, loss, epoch=None):
        super().__init__(message)
        self.loss = float(loss)
        self.epoch = None if epoch is None else int(epoch)

    def __reduce__(self):  # pickled whole (a sweep's worker process sends it back): class, args, attributes
        return _diverged, (type(self), self.args, self.loss, self.epoch), self.__dict__


def _diverged(cls, args, loss, epoch):
    exc = cls(args[0] if args else "", loss=loss, epoch=epoch)
    exc.args = tuple(args)
    return exc
