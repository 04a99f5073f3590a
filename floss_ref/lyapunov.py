"""Lyapunov spectrum by the QR (Benettin) algorithm: Eqs. 6-7 and 26-28, Algorithm 2.

    Q~_{s+1} = D_s Q_s                          tangent step, D_s = dh_{s+1}/dh_s
    Q_{s+1} R_{s+1} = Q~_{s+1}                  thin QR, diag(R) > 0, every t_ONS steps
    lambda_i = 1/(T - T_tr) * sum_s log R^s_ii  natural log, per time step

References: G. Benettin, L. Galgani, A. Giorgilli, J.-M. Strelcyn, Meccanica 15 (1980);
K. Geist, U. Parlitz, W. Lauterborn, Prog. Theor. Phys. 83 (1990).

Schedule.  Re-orthonormalisation happens after the steps ``t_ONS, 2 t_ONS, ...``, after
step ``transient`` (so that the averaging window starts exactly there) and after the last
step T.  Only the QRs after the transient enter the average; before it h relaxes onto
the attractor and Q aligns with the Oseledets directions.  Between two QRs the tangent
block is conditioned like R_11 / R_kk (Eq. 28); when that exceeds ``cond_warn`` a
:class:`ConditioningWarning` says that digits of the smaller exponents are being lost.
"""

import dataclasses
import warnings

import numpy as np

from . import _validate
from ._progress import progress_bar
from ._threads import limit_blas
from .errors import NumericalBreakdownError
from .qr import qr_unchecked


class ConditioningWarning(RuntimeWarning):
    """R_11 / R_kk between two QRs (Eq. 28) is large: re-orthonormalise more often."""


@dataclasses.dataclass
class LyapunovResult:
    """Result of :func:`lyapunov_spectrum`.

    Attributes
    ----------
    exponents : (*S, k) ndarray
        lambda_1 >= ... >= lambda_k (per time step, natural log), in QR order.
    history : (n_qr, *S, k) ndarray or None
        Running estimate after each QR in the averaging window (App. K convergence).
    history_steps : (n_qr,) ndarray or None
        The time step of each row of ``history``.
    h : (*S, n) ndarray
        State after the last step.
    Q : (*S, n, k) ndarray
        Orthonormal tangent block after the last step.
    max_cond : float
        Largest R_11 / R_kk seen at any QR (Eq. 28).
    """

    exponents: np.ndarray
    history: np.ndarray
    history_steps: np.ndarray
    h: np.ndarray
    Q: np.ndarray
    max_cond: float


def random_orthonormal(n, k, shape=(), seed=None):
    """A random n x k block with orthonormal columns (Haar distributed), one per index of ``shape``.

    returns Q : (*shape, n, k)
    """
    n = _validate.integer("n", n, minimum=1)
    k = _validate.integer("k", k, minimum=1, maximum=n)
    rng = _validate.rng(seed)
    Q, R = np.linalg.qr(rng.standard_normal(tuple(shape) + (n, k)))
    return Q * np.sign(np.diagonal(R, axis1=-2, axis2=-1))[..., None, :]


def qr_schedule(T, t_ons, transient):
    """The set of step counts after which the tangent block is re-orthonormalised.

    Multiples of ``t_ons``, plus ``transient`` (if > 0) and ``T``.
    """
    times = set(range(t_ons, T + 1, t_ons))
    times.add(T)
    if transient > 0:
        times.add(transient)
    return times


def check_trajectory(system, h0, xs, T):
    """Validate a map and the trajectory it is to run: initial state(s) and inputs.

    Returns ``(n, h0, xs, T)`` with ``n = system.state_size`` and the arrays as float64.
    """
    for attr in ("state_size", "step", "tangent"):
        if not hasattr(system, attr):
            raise TypeError(f"system must follow the map protocol (floss_ref.maps): it has no {attr!r}")
    n = system.state_size
    h0 = _validate.float_array("h0", h0, min_ndim=1)
    if h0.shape[-1] != n:
        hint = ""
        if h0.shape[-1] == getattr(system, "N", None):
            hint = (f"; this cell's state is (h, c) concatenated ({n} entries for N = {system.N} "
                    "units): build it with np.concatenate([h, c], axis=-1)")
        raise ValueError(f"h0 must have trailing shape (..., {n}), got shape {h0.shape}{hint}")
    if xs is None:
        if T is None:
            raise ValueError("give either the inputs xs : (T, *S, d) or the number of steps T")
        T = _validate.integer("T", T, minimum=1)
    else:
        xs = _validate.float_array("xs", xs, min_ndim=2)
        if T is not None and T != xs.shape[0]:
            raise ValueError(f"T = {T} but xs has {xs.shape[0]} steps; give one or make them agree")
        T = xs.shape[0]
        d = getattr(system, "d", None)
        if d is not None and xs.shape[-1] != d:
            raise ValueError(f"xs must have shape (T, ..., d) with d = {d} inputs, got {xs.shape}")
    return n, h0, xs, T


def check_run_arguments(system, h0, xs, k, T, t_ons, transient, Q0, seed):
    """Validate the arguments shared by the spectrum and flossing loops.

    Returns ``(h0, xs, T, k, t_ons, transient, Q0)``, with Q0 drawn at random if not given.
    """
    n, h0, xs, T = check_trajectory(system, h0, xs, T)
    k = _validate.integer("k", k, minimum=1, maximum=n)
    t_ons = _validate.integer("t_ons", t_ons, minimum=1)
    transient = _validate.integer("transient", transient, minimum=0)
    if transient >= T:
        raise ValueError(f"T = {T} steps is not longer than the transient ({transient} steps): "
                         "nothing would be left to average; increase T or reduce transient")
    if Q0 is None:
        Q0 = random_orthonormal(n, k, h0.shape[:-1], seed)
    else:
        Q0 = _validate.float_array("Q0", Q0, min_ndim=2, tail=(n, k))
        gram = np.swapaxes(Q0, -1, -2) @ Q0
        if not np.allclose(gram, np.eye(k), atol=1e-10):
            raise ValueError("Q0 must have orthonormal columns (Q0^T Q0 = I)")
    return h0, xs, T, k, t_ons, transient, Q0


def check_state(h, s):
    """Raise if the trajectory left the floating-point range at step s."""
    if not np.all(np.isfinite(h)):
        raise NumericalBreakdownError(
            f"the state overflowed or became NaN at step {s}: the network diverges "
            "(lower the gain g, or for ReLU networks use a negative weight mean)")


def check_tangent(Q_tilde, s):
    """Raise if the tangent block left the floating-point range before a QR."""
    if not np.all(np.isfinite(Q_tilde)):
        raise NumericalBreakdownError(
            f"the tangent vectors overflowed at step {s} before re-orthonormalisation; "
            "use a smaller t_ons")


def check_diagonal(r, s):
    """Raise if a diagonal entry of R is zero: log R_jj = -inf (tangent vectors collapsed)."""
    if not np.all(r > 0.0):
        j = int(np.argmin(np.min(r.reshape(-1, r.shape[-1]), axis=0)))
        raise NumericalBreakdownError(
            f"R_jj = 0 for j = {j + 1} at step {s}: the tangent vectors collapsed onto fewer "
            "than k directions (a Jacobian of lower rank, e.g. dead ReLU units, or underflow "
            "between QRs); use fewer exponents k or a smaller t_ons")


def lyapunov_spectrum(system, h0, xs=None, *, k, T=None, t_ons=1, transient=0, Q0=None,
                      seed=None, history=False, qr_method="lapack", cond_warn=1e8,
                      progress=False, blas_threads=1):
    """The first k Lyapunov exponents of a map along one trajectory (Algorithm 2).

    The recurrence, in plain Python::

        h, Q, S = h0, Q0, 0
        for s in range(T):
            h, cache = system.step(h, xs[s])       # h_{s+1}
            Q = system.tangent(cache, Q)           # Q~_{s+1} = D_s Q_s  (Eq. 6)
            if s + 1 in schedule:                  # every t_ONS steps
                Q, R = qr(Q)                       # Eq. 7
                if s + 1 > transient:
                    S += log(diag(R))
        lambda = S / (T - transient)               # Eq. 3

    Parameters
    ----------
    system : map
        Anything following the map protocol of :mod:`floss_ref.maps` (an RNN cell, a
        :class:`~floss_ref.maps.FunctionMap`, ...).
    h0 : (*S, n) array_like
        Initial state(s); leading axes S are independent trajectories (or ensemble
        members, see :mod:`floss_ref.cells._linear`).
    xs : (T, *S, d) array_like or None
        Inputs; ``xs[s]`` drives step s.  None for an autonomous map (then give T).
    k : int
        Number of exponents, 1 <= k <= n.
    T : int, optional
        Number of steps (needed only when xs is None).
    t_ons : int
        Steps between re-orthonormalisations (t_ONS).
    transient : int
        Steps discarded before averaging (their QRs still run).
    Q0 : (*S, n, k) array_like, optional
        Initial orthonormal block; random (from ``seed``) if not given.
    seed : int, numpy.random.Generator or None
        For Q0.
    history : bool
        Also return the running estimate after each QR in the averaging window.
    qr_method : {"lapack", "householder"}
    cond_warn : float
        Warn (:class:`ConditioningWarning`) when R_11 / R_kk at a QR exceeds this.
    progress : bool
        Show a progress bar over the T steps.
    blas_threads : int or None
        BLAS threads during the loop (default 1, fastest for small matrices; None: leave
        the BLAS configuration alone).

    Returns
    -------
    LyapunovResult

    Raises
    ------
    NumericalBreakdownError
        If the trajectory or the tangent vectors overflow, or R_jj = 0.

    Examples
    --------
    A linear map, whose exponents are the logs of its eigenvalue moduli:

    >>> import numpy as np
    >>> from floss_ref import LinearMap, lyapunov_spectrum
    >>> A = np.array([[2.0, 1.0], [0.0, 0.5]])
    >>> res = lyapunov_spectrum(LinearMap(A), np.zeros(2), T=200, k=2, seed=0)
    >>> np.allclose(res.exponents, np.log([2.0, 0.5]), atol=1e-2)
    True
    """
    h, xs, T, k, t_ons, transient, Q = check_run_arguments(system, h0, xs, k, T, t_ons, transient, Q0, seed)
    _validate.choice("qr_method", qr_method, ("lapack", "householder"))
    # overflow and NaN are detected and reported by the loop itself (check_state, ...)
    with limit_blas(blas_threads), np.errstate(over="ignore", invalid="ignore"):
        return _spectrum_loop(system, h, xs, T, k, t_ons, transient, Q, history, qr_method,
                              cond_warn, progress)


def _spectrum_loop(system, h, xs, T, k, t_ons, transient, Q, history, qr_method, cond_warn, progress):
    schedule = qr_schedule(T, t_ons, transient)
    log_sum = np.zeros(h.shape[:-1] + (k,))
    hist, hist_steps = [], []
    max_cond, warned = 1.0, False
    bar = progress_bar(T, progress, "Lyapunov spectrum", "step")
    for s in range(T):
        if bar is not None:
            bar.update(1)
        h, cache = system.step(h, None if xs is None else xs[s])
        Q = system.tangent(cache, Q)
        check_state(h, s)
        if s + 1 in schedule:
            check_tangent(Q, s)
            Q, R = qr_unchecked(Q, qr_method)
            r = np.diagonal(R, axis1=-2, axis2=-1)
            check_diagonal(r, s)
            cond = float(np.max(r[..., 0] / r[..., -1]))
            max_cond = max(max_cond, cond)
            if cond > cond_warn and not warned:
                warnings.warn(f"R_11/R_kk = {cond:.3g} at step {s} (Eq. 28): the smallest exponents "
                              "lose about log10 of that many digits; use a smaller t_ons",
                              ConditioningWarning, stacklevel=3)
                warned = True
            if s + 1 > transient:
                log_sum += np.log(r)
                if history:
                    hist.append(log_sum / (s + 1 - transient))
                    hist_steps.append(s + 1)
    if bar is not None:
        bar.close()
    return LyapunovResult(
        exponents=log_sum / (T - transient),
        history=np.array(hist) if history else None,
        history_steps=np.array(hist_steps) if history else None,
        h=h, Q=Q, max_cond=max_cond)
