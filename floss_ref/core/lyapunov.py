"""The Benettin (QR) loop, its tangent and its adjoint, and the Lyapunov spectrum:
Eqs. 6-7 and 26-28, Algorithms 1 and 2.

    Q~_{s+1} = D_s Q_s                          tangent step, D_s = dh_{s+1}/dh_s
    Q_{s+1} R_{s+1} = Q~_{s+1}                  thin QR, diag(R) > 0, every t_ONS steps
    gamma_i = sum_s log R^s_ii                  over the QRs after the transient T_tr
    lambda_i = gamma_i / (T - T_tr)             natural log, per time step

This module owns the loop, once: :func:`benettin` runs it (and can record a tape),
:func:`benettin_jvp` carries tangents of h_0 and of the parameters through it (forward
mode), and :func:`benettin_vjp` pulls a cotangent of gamma back through the recorded
tape (reverse mode, Algorithm 1).  :func:`lyapunov_spectrum` is gamma / (T - T_tr), and
:mod:`floss_ref.core.flossing` builds the flossing loss on gamma.

Derivation: docs/derivations.md, section 5.

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
import math
import warnings

import numpy as np

from floss_ref import _validate
from floss_ref._progress import progress_bar
from floss_ref._threads import limit_blas
from floss_ref.errors import NumericalBreakdownError
from floss_ref.core.lyapunov_stats import MIN_BLOCKS, BatchMeans, ensemble_mean
from floss_ref.core.qr import (METHODS as QR_METHODS, default_rtol, positive_diagonal, qr_jvp_unchecked, qr_unchecked,
                               qr_vjp_unchecked)


# Q0^T Q0 may differ from I by this much (entrywise): a block orthonormalised in float64
# is orthonormal to ~1e-15; 1e-10 still accepts one stored to 10 digits (e.g. in text)
ORTHONORMAL_ATOL = 1e-10
# where a spectrum is measured on a trajectory with no transient of its own (the training
# diagnostics, the spectra before and after flossing in Fig. 1), its first
# T // TRANSIENT_FRACTION steps are left out: there h relaxes from h_0 and Q aligns
TRANSIENT_FRACTION = 10


class ConvergenceWarning(RuntimeWarning):
    """The step budget ran out before every standard error fell below ``tol``."""


class ConditioningWarning(RuntimeWarning):
    """R_11 / R_kk between two QRs (Eq. 28) is large: re-orthonormalise more often."""


class RoundoffWarning(ConditioningWarning):
    """Some exponents are at round-off level: the tangent directions collapsed numerically
    (the Jacobian products have lower rank than k)."""


@dataclasses.dataclass
class LyapunovResult:
    """Result of :func:`lyapunov_spectrum`.

    Attributes
    ----------
    exponents : (*batch, k) ndarray
        lambda_1 .. lambda_k (per time step, natural log) in QR order: column j of Q
        converges to the j-th Oseledets direction, so the exponents decrease in the limit
        T -> inf; over a finite T two nearly equal exponents may come out in either order
        (within their standard errors).
    history : (n_qr, *batch, k) ndarray or None
        Running estimate after each QR in the averaging window (App. K convergence).
    history_steps : (n_qr,) ndarray or None
        The time step of each row of ``history``.
    h : (*batch, n) ndarray
        State after the last step.
    Q : (*batch, n, k) ndarray
        Orthonormal tangent block after the last step.
    max_cond : float
        Largest R_11 / R_kk seen at any QR (Eq. 28).
    stderr : (*batch, k) ndarray or None
        Standard error of each exponent by batch means over ``n_blocks`` blocks of
        ``block_steps`` steps (NaN with fewer than 16 blocks; None if not asked for).
        The 95 % interval is ``exponents +- confidence_halfwidth(stderr, n_blocks)``.
    n_blocks, block_steps : int
    lag1_autocorr : float
        Lag-1 autocorrelation of consecutive block estimates (near 0 for independent
        blocks; a :class:`~floss_ref.core.lyapunov_stats.ShortBlocksWarning` above
        max(0.2, 3/sqrt(n_blocks))).
    steps : int
        Steps run (fewer than T when ``tol`` stopped the run).
    converged : bool or None
        With ``tol``: whether every standard error fell below it; None without ``tol``.
    roundoff : (*batch, k) bool ndarray or None
        Exponents at round-off level: lambda_1 - lambda_i > -log(n eps) / t_ONS, so that
        R_ii / R_11 was at the size of round-off at the QRs.  Their values are not
        exponents (the Jacobian products have lower numerical rank than k, e.g. dead ReLU
        units); a :class:`RoundoffWarning` names them.
    """

    exponents: np.ndarray
    history: np.ndarray
    history_steps: np.ndarray
    h: np.ndarray
    Q: np.ndarray
    max_cond: float
    stderr: np.ndarray = None
    n_blocks: int = 0
    block_steps: int = 0
    lag1_autocorr: float = float("nan")
    steps: int = 0
    converged: bool = None
    roundoff: np.ndarray = None

    def across(self, axis=0):
        """Mean and standard error of the exponents across independent trajectories or
        networks (the leading axis ``axis`` of ``exponents``): std / sqrt(count).

        returns mean, stderr : ``exponents`` without ``axis``
        """
        return ensemble_mean(self.exponents, axis=axis)


def random_orthonormal(n, k, shape=(), seed=None):
    """A random n x k block with orthonormal columns (Haar distributed), one per index of ``shape``.

    returns Q : (*shape, n, k)
    """
    n = _validate.integer("n", n, minimum=1)
    k = _validate.integer("k", k, minimum=1, maximum=n)
    shape = _validate.shape("shape", shape)
    rng = _validate.rng(seed)
    # the Gaussian draw and the two QR factors
    _validate.memory(f"a block of n = {n} by k = {k} for each index of shape = {shape}",
                     3 * 8 * math.prod(shape) * n * k, "use a smaller n, k or shape")
    Q, _ = positive_diagonal(*np.linalg.qr(rng.standard_normal(shape + (n, k))))
    return Q


@dataclasses.dataclass(frozen=True)
class QRSchedule:
    """The step counts after which the tangent block is re-orthonormalised: the multiples
    of ``t_ons`` up to T, plus ``transient`` (if > 0) and ``T``.

    ``s in schedule`` is computed from these three numbers, so the schedule takes the
    same memory for T = 10 and for T = 10**12 (a step budget with ``tol``).
    """

    T: int
    t_ons: int
    transient: int

    def __contains__(self, s):
        if s == self.T or (self.transient > 0 and s == self.transient):
            return True
        return 1 <= s <= self.T and s % self.t_ons == 0


def qr_schedule(T, t_ons, transient):
    """The :class:`QRSchedule` of a run of T steps: a QR after every ``t_ons``-th step, after
    step ``transient`` (if > 0) and after step ``T``."""
    return QRSchedule(T, t_ons, transient)


def check_trajectory(system, h0, xs, T):
    """Validate a map and the trajectory it is to run: initial state(s) and inputs.

    Returns ``(n, h0, xs, T)`` with ``n = system.state_size`` and the arrays as float64.
    """
    for attr in ("state_size", "step", "tangent"):
        if not hasattr(system, attr):
            raise TypeError(f"system must follow the map protocol (floss_ref.core.maps): it has no {attr!r}")
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
            raise ValueError("give either the inputs xs : (T, *batch, n_in) or the number of steps T")
        T = _validate.integer("T", T, minimum=1)
    else:
        xs = _validate.float_array("xs", xs, min_ndim=2)
        if T is not None:  # an integer even though xs fixes it: T=20.0 is refused, not compared
            T = _validate.integer("T", T, minimum=1)
        if T is not None and T != xs.shape[0]:
            raise ValueError(f"T = {T} but xs has {xs.shape[0]} steps; give one or make them agree")
        T = xs.shape[0]
        n_in = getattr(system, "n_in", None)
        if n_in is not None and xs.shape[-1] != n_in:
            raise ValueError(f"xs must have shape (T, ..., n_in) with n_in = {n_in} inputs, got {xs.shape}")
    # the leading axes of h0, xs and the map's ensemble broadcast the NumPy way (README)
    nets = tuple(getattr(system, "ensemble_shape", ()))
    shapes = {"h0": h0.shape[:-1], "the ensemble": nets}
    if xs is not None:
        shapes["xs"] = xs.shape[1:-1]
    try:
        batch = np.broadcast_shapes(*shapes.values())
    except ValueError:
        raise ValueError("the leading (batch / ensemble) axes do not broadcast: " + ", ".join(
            f"{name} {shape}" for name, shape in shapes.items()) + "; give h0 : (*batch, n) and xs : "
            "(T, *batch, n_in) whose *batch broadcast against the map's ensemble axes") from None
    if math.prod(batch) == 0:
        raise ValueError(f"the leading (batch / ensemble) axes {batch} of h0, xs and the ensemble hold no "
                         "trajectory (an axis of length 0)")
    if h0.shape[:-1] != batch:
        h0 = np.array(np.broadcast_to(h0, batch + (n,)))
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
        raise ValueError(f"T = {T} steps{' (the length of xs)' if xs is not None else ''} is not longer than the "
                         f"transient ({transient} steps): nothing would be left to average; increase T or reduce "
                         "transient")
    if Q0 is None:
        Q0 = random_orthonormal(n, k, h0.shape[:-1], seed)
    else:
        Q0 = _validate.float_array("Q0", Q0, min_ndim=2, tail=(n, k))
        if Q0.shape[:-2] != h0.shape[:-1]:   # one block for every trajectory: broadcast, as h0 is
            try:
                Q0 = np.array(np.broadcast_to(Q0, h0.shape[:-1] + (n, k)))
            except ValueError:
                raise ValueError(f"Q0 must have shape (*batch, n, k) with *batch = {h0.shape[:-1]} (the leading axes "
                                 f"of h0, xs and the ensemble) or broadcasting to it, got shape {Q0.shape}") from None
        gram = np.swapaxes(Q0, -1, -2) @ Q0
        if not np.allclose(gram, np.eye(k), atol=ORTHONORMAL_ATOL):
            raise ValueError("Q0 must have orthonormal columns (Q0^T Q0 = I)")
    return h0, xs, T, k, t_ons, transient, Q0


def check_state(h, s):
    """Raise if the trajectory left the floating-point range at step s."""
    if not np.isfinite(h).all():
        raise NumericalBreakdownError(
            f"the state overflowed or became NaN at step {s}: the network diverges "
            "(lower the gain g, or for ReLU networks use a negative weight mean)")


def check_tangent(Q_tilde, s):
    """Raise if the tangent block left the floating-point range before a QR."""
    if not np.isfinite(Q_tilde).all():
        raise NumericalBreakdownError(
            f"the tangent vectors overflowed at step {s} before re-orthonormalisation; "
            "use a smaller t_ons")


def check_diagonal(r, s):
    """Raise if a diagonal entry of R is zero, log R_jj = -inf (tangent vectors collapsed), or
    not finite: the norm of a finite tangent vector overflowed in the QR."""
    if r.min() > 0.0 and r.max() < np.inf:    # the common case: two reductions, no temporary array
        return
    if not np.isfinite(r).all():
        raise NumericalBreakdownError(
            f"R_jj is not finite at step {s}: the norm of a tangent vector overflowed in the QR (its entries "
            "are finite but near 1e308); use a smaller t_ons")
    j = int(np.argmin(np.min(r.reshape(-1, r.shape[-1]), axis=0)))
    raise NumericalBreakdownError(
        f"R_jj = 0 for j = {j + 1} at step {s}: the tangent vectors collapsed onto fewer "
        "than k directions (a Jacobian of lower rank, e.g. dead ReLU units, or underflow "
        "between QRs); use fewer exponents k or a smaller t_ons")


# ---- the loop ---------------------------------------------------------------------------

@dataclasses.dataclass
class TapeStep:
    """What the adjoint of step s needs: the step's cache, the tangent block Q_s it
    acted on, and the QR factors Q_{s+1}, R_{s+1} of Q~_{s+1} (R is None at a step
    without QR, where Q_{s+1} = Q~_{s+1})."""

    cache: object
    Q: np.ndarray
    Q_next: np.ndarray
    R: np.ndarray


@dataclasses.dataclass
class BenettinPass:
    """Result of :func:`benettin`.

    Attributes
    ----------
    gamma : (*batch, k) ndarray
        gamma_i = sum of log R_ii over the QRs after the transient (Algorithm 2).
    h : (*batch, n) ndarray
        State after the last step.
    Q : (*batch, n, k) ndarray
        Orthonormal tangent block after the last step.
    max_cond : float
        Largest R_11 / R_kk seen at any QR (Eq. 28); NaN if not tracked.
    gamma_history : (n_qr, *batch, k) ndarray or None
        gamma after each QR in the averaging window.
    history_steps : (n_qr,) ndarray or None
        The step count of each row of ``gamma_history``.
    tape : list of TapeStep or None
        One entry per step, for :func:`benettin_vjp`.
    steps : int
        Steps run: T, or fewer if ``on_qr`` stopped the loop.
    """

    gamma: np.ndarray
    h: np.ndarray
    Q: np.ndarray
    max_cond: float
    gamma_history: np.ndarray = None
    history_steps: np.ndarray = None
    tape: list = None
    steps: int = None


def benettin(system, h0, xs, T, Q0, *, transient, schedule, qr_method="lapack", cond_warn=None,
             record=False, history=False, progress=False, on_qr=None):
    """The Benettin loop, forward (Algorithm 2), on validated arguments::

        h, Q, gamma = h0, Q0, 0
        for s in range(T):
            h_next, cache = system.step(h, xs[s])       # h_{s+1}                 (Eq. 9)
            Q_tilde = system.tangent(cache, Q)          # Q~_{s+1} = D_s Q_s      (Eq. 6)
            if s + 1 in schedule:                       # every t_ONS steps
                Q_next, R = qr(Q_tilde)                 #                         (Eq. 7)
                if s + 1 > transient:
                    gamma += log(diag(R))
            else:
                Q_next = Q_tilde
            h, Q = h_next, Q_next

    Parameters
    ----------
    system : map (protocol of :mod:`floss_ref.core.maps`)
    h0 : (*batch, n) ndarray
    xs : (T, *batch, n_in) ndarray or None
    T : int
    Q0 : (*batch, n, k) ndarray, orthonormal columns
    transient : int
        T_tr: QRs after steps <= T_tr do not enter gamma.
    schedule : QRSchedule (or any container of int)
        Step counts after which a QR runs (:func:`qr_schedule`).
    qr_method : {"lapack", "householder", "cholqr2"}
    cond_warn : float or None
        Track R_11 / R_kk at every QR (Eq. 28) and warn (:class:`ConditioningWarning`,
        once) when it exceeds this; None: no tracking (``max_cond`` is NaN).
    record : bool
        Keep the tape for :func:`benettin_vjp`.
    history : bool
        Keep gamma after each QR in the averaging window.
    progress : bool
    on_qr : callable or None
        ``on_qr(s, log_r, steps, Q_next, R)`` after every QR in the averaging window,
        with the QR's ``log_r = log diag R : (*batch, k)``, the number of steps since the
        previous QR (or the transient) and the factors; returning True stops the loop
        after that step (``BenettinPass.steps``).

    Returns
    -------
    BenettinPass

    Raises
    ------
    NumericalBreakdownError
        The state or the tangent block overflows, or R_jj = 0 (with the step).
    """
    h, Q = h0, Q0
    gamma = np.zeros(h.shape[:-1] + (Q.shape[-1],))
    tape = [] if record else None
    gamma_history, history_steps = [], []
    max_cond, warned = (1.0 if cond_warn is not None else np.nan), False
    last_qr, steps = 0, T
    bar = progress_bar(T, progress, "Benettin loop", "step")
    for s in range(T):
        if bar is not None:
            bar.update(1)
        h_next, cache = system.step(h, None if xs is None else xs[s])
        Q_tilde = system.tangent(cache, Q)
        check_state(h_next, s)
        R = None
        if s + 1 in schedule:
            check_tangent(Q_tilde, s)
            Q_next, R = qr_unchecked(Q_tilde, qr_method)
            r = R.diagonal(0, -2, -1)
            check_diagonal(r, s)
            if cond_warn is not None:
                max_cond, warned = _track_conditioning(r, s, max_cond, cond_warn, warned)
            stop = False
            if s + 1 > transient:
                log_r = np.log(r)
                gamma += log_r
                if history:
                    gamma_history.append(gamma.copy())
                    history_steps.append(s + 1)
                if on_qr is not None:
                    stop = on_qr(s, log_r, s + 1 - max(last_qr, transient), Q_next, R)
            last_qr = s + 1
        else:
            Q_next, stop = Q_tilde, False
        if record:
            tape.append(TapeStep(cache, Q, Q_next, R))
            if s == 0:  # the first entry's size gives the tape's, before the bulk of it exists
                _check_tape_memory(tape[0], T)
        h, Q = h_next, Q_next
        if stop:
            steps = s + 1
            break
    if bar is not None:
        bar.close()
    # a QR whose R is finite can still return a Q that is not (LAPACK's reflectors overflow for columns
    # of norm near 1.8e308); the next tangent step would carry it into Q~, which is checked, so only the
    # last Q needs a look
    if not np.isfinite(Q).all():
        raise NumericalBreakdownError(
            f"the QR after step {steps - 1} returned a Q that is not finite: the norm of a tangent vector came "
            "close to the float64 limit (1.8e308); use a smaller t_ons")
    return BenettinPass(gamma=gamma, h=h, Q=Q, max_cond=max_cond,
                        gamma_history=np.array(gamma_history) if history else None,
                        history_steps=np.array(history_steps) if history else None, tape=tape,
                        steps=steps)


def _nbytes(obj):
    """Bytes of the arrays held by ``obj`` (an array, or tuples, lists and dicts of them)."""
    if isinstance(obj, np.ndarray):
        return obj.nbytes
    if isinstance(obj, (tuple, list)):
        return sum(_nbytes(item) for item in obj)
    if isinstance(obj, dict):
        return sum(_nbytes(item) for item in obj.values())
    return 0


def _check_tape_memory(first, T):
    """Refuse (ValueError) a tape of T steps like ``first`` (a TapeStep) that would not fit
    in memory: each step keeps its cache, Q_{s+1} and R_{s+1} (Q_s is the previous Q_{s+1})."""
    k = first.Q_next.shape[-1]
    per_step = _nbytes(first.cache) + first.Q_next.nbytes + first.Q_next[..., :k, :].nbytes
    _validate.memory(f"the tape of the reverse pass over T = {T} steps ({per_step} bytes per step)",
                     per_step * T, "use a shorter trajectory T, fewer exponents k or a smaller batch")


def _track_conditioning(r, s, max_cond, cond_warn, warned):
    """Update the largest R_11 / R_kk (Eq. 28) with the QR after step s; warn once."""
    cond = float((r[..., 0] / r[..., -1]).max())
    if cond > cond_warn and not warned:
        warnings.warn(f"R_11/R_kk = {cond:.3g} at step {s} (Eq. 28): the smallest exponents "
                      "lose about log10 of that many digits; use a smaller t_ons",
                      ConditioningWarning, stacklevel=4)  # the caller of lyapunov_spectrum
        warned = True
    return max(max_cond, cond), warned


def benettin_jvp(system, h0, xs, T, Q0, h0_dot, params_dot, *, transient, schedule, qr_method="lapack"):
    """Tangent (forward-mode derivative) of gamma along a perturbation of h_0 and of the
    parameters.

    Derivation: docs/derivations.md, section 5.

    The loop of :func:`benettin`, each line followed by its tangent rule::

        h_dot, Q_dot, gamma_dot = h0_dot, 0, 0           # Q0 is fixed
        for s in range(T):
            h_next_dot = system.step_jvp(cache, h_dot, params_dot)
            Q_tilde_dot = system.tangent_jvp(cache, Q, h_dot, Q_dot, params_dot)
            if s + 1 in schedule:
                Q_next_dot, R_dot = qr_jvp(Q_next, R, Q_tilde_dot)
                if s + 1 > transient:
                    gamma_dot += diag(R_dot) / diag(R)
            else:
                Q_next_dot = Q_tilde_dot

    Arguments as in :func:`benettin`, plus h0_dot : (*batch, n) and params_dot, a dict
    of perturbations of ``system.params`` (missing keys are zero).

    Returns
    -------
    gamma : (*batch, k) ndarray
    gamma_dot : (*batch, k) ndarray

    Raises
    ------
    NumericalBreakdownError
        As :func:`benettin`, or a tangent h_dot, Q_dot or gamma_dot that is not finite
        (with the step).
    """
    h, Q, h_dot = h0, Q0, h0_dot
    rtol = default_rtol(None, system.state_size, Q0.shape[-1])
    Q_dot = np.zeros_like(Q0)
    gamma = np.zeros(h.shape[:-1] + (Q.shape[-1],))
    gamma_dot = np.zeros_like(gamma)
    for s in range(T):
        h_next, cache = system.step(h, None if xs is None else xs[s])
        h_next_dot = system.step_jvp(cache, h_dot, params_dot)
        Q_tilde = system.tangent(cache, Q)
        Q_tilde_dot = system.tangent_jvp(cache, Q, h_dot, Q_dot, params_dot)
        check_state(h_next, s)
        if s + 1 in schedule:
            check_tangent(Q_tilde, s)
            Q_next, R = qr_unchecked(Q_tilde, qr_method)
            r = R.diagonal(0, -2, -1)
            check_diagonal(r, s)
            Q_next_dot, R_dot = qr_jvp_unchecked(Q_next, R, Q_tilde_dot, rtol)
            if s + 1 > transient:
                gamma += np.log(r)
                gamma_dot += np.diagonal(R_dot, axis1=-2, axis2=-1) / r
        else:
            Q_next, Q_next_dot = Q_tilde, Q_tilde_dot
        _check_finite("tangent", s, h_dot=h_next_dot, Q_dot=Q_next_dot, gamma_dot=gamma_dot)
        h, Q, h_dot, Q_dot = h_next, Q_next, h_next_dot, Q_next_dot
    return gamma, gamma_dot


def benettin_vjp(system, forward, gamma_bar, *, transient):
    """Adjoint of :func:`benettin`: pull a cotangent of gamma back to h_0 and the
    parameters, through every step, tangent step and QR of the recorded tape
    (Algorithm 1).

    Derivation: docs/derivations.md, section 5.

    The forward loop and this reverse loop, side by side::

        forward (s = 0 .. T-1)                      reverse (s = T-1 .. 0)
        h_next, cache = step(h, x_s)                R_bar = diag(gamma_bar / diag R)   (s+1 > T_tr,
        Q_tilde = tangent(cache, Q)                          else 0; R_bar is diagonal)
        Q_next, R = qr(Q_tilde)   (scheduled)       Q_tilde_bar = qr_vjp(Q_next, R, Q_next_bar, R_bar)
          (else Q_next = Q_tilde)                     (else Q_tilde_bar = Q_next_bar)
        gamma += log diag R   (s+1 > T_tr)          h_bar_tangent, Q_bar, p_bar_tangent
                                                        = tangent_vjp(cache, Q, Q_tilde_bar)
                                                    h_bar_step, p_bar_step = step_vjp(cache, h_next_bar)
                                                    h_bar = h_bar_step + h_bar_tangent
                                                    params_bar += p_bar_tangent + p_bar_step
                                                    h_next_bar, Q_next_bar = h_bar, Q_bar

    ``h_next_bar`` and ``Q_next_bar`` are the cotangents of h_{s+1} and Q_{s+1}; ``h_bar``
    and ``Q_bar`` those of h_s and Q_s.  Both start at zero (neither the final state nor
    the final Q enters gamma).  The transient's QRs have R_bar = 0, but the gradient
    still flows through them, through Q and h.

    Parameters
    ----------
    system : differentiable map (``params``, ``step_vjp``, ``tangent_vjp``)
    forward : BenettinPass
        From :func:`benettin` with ``record=True``.
    gamma_bar : (*batch, k) ndarray
        dL/dgamma.
    transient : int
        As given to :func:`benettin`.

    Returns
    -------
    h0_bar : (*batch, n) ndarray
    params_bar : dict of ndarray, shaped like ``system.params``

    Raises
    ------
    SingularRError
        A near-singular R in a QR pullback (with its step).
    NumericalBreakdownError
        A cotangent that is not finite although the forward pass was (the reverse loop
        then runs again with checks to name the cotangent and the step).
    """
    h0_bar, params_bar = _reverse(system, forward, gamma_bar, transient)
    if not (np.all(np.isfinite(h0_bar)) and all(np.all(np.isfinite(g)) for g in params_bar.values())):
        _reverse(system, forward, gamma_bar, transient, check=True)  # again, to name the quantity and the step
    return h0_bar, params_bar


def _reverse(system, forward, gamma_bar, transient, check=False):
    """The reverse loop of :func:`benettin_vjp`; with ``check``, a NumericalBreakdownError
    names the first cotangent (in reverse order) that is not finite and its step."""
    tape = forward.tape
    k = forward.Q.shape[-1]
    rtol = default_rtol(None, system.state_size, k)
    params_bar = {name: np.zeros_like(p) for name, p in system.params.items()}
    h_next_bar = np.zeros_like(forward.h)
    Q_next_bar = np.zeros_like(forward.Q)
    for s in range(len(tape) - 1, -1, -1):
        step = tape[s]
        if step.R is None:
            Q_tilde_bar = Q_next_bar
        else:
            # R_bar = diag(gamma_bar / diag R) after the transient, else 0: passed by its diagonal
            r_bar = gamma_bar / step.R.diagonal(0, -2, -1) if s + 1 > transient else None
            Q_tilde_bar = _qr_vjp_at(step, Q_next_bar, r_bar, rtol, s)
        h_bar_tangent, Q_bar, p_bar_tangent = system.tangent_vjp(step.cache, step.Q, Q_tilde_bar)
        h_bar_step, p_bar_step = system.step_vjp(step.cache, h_next_bar)
        h_bar = h_bar_step + h_bar_tangent
        # the parameters act at every step: their cotangents accumulate over the loop
        for p_bar in (p_bar_tangent, p_bar_step):
            for name, g in p_bar.items():
                params_bar[name] += g
        if check:
            _check_finite("cotangent", s, h_bar=h_bar, Q_bar=Q_bar,
                          **{f"{name}_bar": g for name, g in params_bar.items()})
        h_next_bar, Q_next_bar = h_bar, Q_bar
    return h_next_bar, params_bar


def _check_finite(kind, s, **values):
    """Raise NumericalBreakdownError naming the first of ``values`` (the tangents or
    cotangents of step s) that is not finite."""
    for name, value in values.items():
        if not np.all(np.isfinite(value)):
            where = "reverse pass" if kind == "cotangent" else "tangent (forward-mode) pass"
            raise NumericalBreakdownError(
                f"the {kind} {name} overflowed or became NaN in the {where} at step {s}, although the "
                "forward pass stayed finite: the second-order terms of the derivative left the floating-point "
                "range (e.g. a huge state such as |h_0| ~ 1e150 that saturates the gates); start from a "
                "moderate state (h_0 ~ N(0, 1))")


def _qr_vjp_at(step, Q_next_bar, r_bar, rtol, s):
    """qr_vjp of one tape step with R_bar = diag(r_bar) (None: 0); a breakdown names the step."""
    try:
        return qr_vjp_unchecked(step.Q_next, step.R, Q_next_bar, None, rtol, R_bar_diag=r_bar)
    except NumericalBreakdownError as exc:
        exc.args = (f"{exc.args[0]} (QR after step {s})",) + exc.args[1:]
        raise


# ---- the spectrum ------------------------------------------------------------------------

def lyapunov_spectrum(system, h0, xs=None, *, k, T=None, t_ons=1, transient=0, Q0=None,
                      seed=None, history=False, qr_method="lapack", cond_warn=1e8,
                      stderr=True, tol=None, progress=False, blas_threads=1):
    """The first k Lyapunov exponents of a map along one trajectory (Algorithm 2).

    The recurrence, in plain Python::

        h, Q, gamma = h0, Q0, 0
        for s in range(T):
            h, cache = system.step(h, xs[s])       # h_{s+1}
            Q = system.tangent(cache, Q)           # Q~_{s+1} = D_s Q_s  (Eq. 6)
            if s + 1 in schedule:                  # every t_ONS steps
                Q, R = qr(Q)                       # Eq. 7
                if s + 1 > transient:
                    gamma += log(diag(R))
        lambda = gamma / (T - transient)           # Eq. 3

    Parameters
    ----------
    system : map
        Anything following the map protocol of :mod:`floss_ref.core.maps` (an RNN cell, a
        :class:`~floss_ref.core.maps.FunctionMap`, ...).
    h0 : (*batch, n) array_like
        Initial state(s); leading axes *batch are independent trajectories (or ensemble
        members, see :mod:`floss_ref.core.cells._linear`).
    xs : (T, *batch, n_in) array_like or None
        Inputs; ``xs[s]`` drives step s.  None for an autonomous map (then give T).
    k : int
        Number of exponents, 1 <= k <= n.
    T : int, optional
        Number of steps (needed only when xs is None).
    t_ons : int
        Steps between re-orthonormalisations (t_ONS).
    transient : int
        Steps discarded before averaging (their QRs still run).
    Q0 : (*batch, n, k) array_like, optional
        Initial orthonormal block; random (from ``seed``) if not given.
    seed : int, numpy.random.Generator or None
        For Q0.
    history : bool
        Also return the running estimate after each QR in the averaging window.
    qr_method : {"lapack", "householder", "cholqr2"}
    cond_warn : float or None
        Warn (:class:`ConditioningWarning`) when R_11 / R_kk at a QR exceeds this
        (a finite number >= 1; None: no warning).
    stderr : bool
        Also estimate the standard error of each exponent by batch means
        (:class:`~floss_ref.core.lyapunov_stats.BatchMeans`; ``docs/derivations.md``,
        section 9).  A :class:`~floss_ref.core.lyapunov_stats.ShortBlocksWarning` says when
        the blocks are too short to be independent.
    tol : float, optional
        Convergence stop: end the run as soon as every standard error is below ``tol``
        (checked whenever a block completes, from 16 blocks on).  T (or the length of
        xs) is then the step budget; if it runs out first, a
        :class:`ConvergenceWarning` says so and ``converged`` is False.
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
    _validate.choice("qr_method", qr_method, QR_METHODS)
    history, stderr = _validate.flag("history", history), _validate.flag("stderr", stderr)
    progress = _validate.flag("progress", progress)
    h, xs, T, k, t_ons, transient, Q = check_run_arguments(system, h0, xs, k, T, t_ons, transient, Q0, seed)
    if cond_warn is not None:
        cond_warn = _validate.real("cond_warn", cond_warn, minimum=1.0)
    if tol is not None:
        tol = _validate.real("tol", tol, minimum=0.0, strict_min=True)
    if history:  # one row of gamma per QR in the window, copied twice (the array and the running mean)
        rows = (T - transient) // t_ons + 2
        _validate.memory(f"history=True over T = {T} steps ({rows} QRs)", 3 * rows * 8 * math.prod(h.shape[:-1]) * k,
                         "pass history=False, a larger t_ons or a smaller T")
    blocks = BatchMeans(h.shape[:-1] + (k,)) if stderr or tol is not None else None

    def on_qr(s, log_r, steps, Q_next, R):
        # a block completed: stop once every standard error is below tol
        if not blocks.add(log_r, steps) or tol is None:
            return False
        return bool(np.all(blocks.stderr() < tol))

    # overflow and NaN are detected and reported by the loop itself (check_state, ...)
    with limit_blas(blas_threads), np.errstate(over="ignore", invalid="ignore"):
        run = benettin(system, h, xs, T, Q, transient=transient, schedule=qr_schedule(T, t_ons, transient),
                       qr_method=qr_method, cond_warn=cond_warn, history=history, progress=progress,
                       on_qr=None if blocks is None else on_qr)
    if history:  # running estimate lambda = gamma / (steps averaged so far)
        steps = run.history_steps.reshape((-1,) + (1,) * (run.gamma_history.ndim - 1))
        running = run.gamma_history / (steps - transient)
    result = LyapunovResult(exponents=run.gamma / (run.steps - transient), history=running if history else None,
                            history_steps=run.history_steps, h=run.h, Q=run.Q, max_cond=run.max_cond,
                            steps=run.steps)
    result.roundoff = _roundoff(result.exponents, h.shape[-1], t_ons)
    if blocks is not None:
        result.stderr, result.n_blocks, result.block_steps = blocks.stderr(), blocks.n_blocks, blocks.block_steps
        result.lag1_autocorr = blocks.check_independence(stacklevel=3)
    if tol is not None:
        result.converged = bool(np.all(result.stderr < tol))
        if not result.converged:
            largest = (f"largest {np.max(result.stderr):.3g}" if blocks.n_blocks >= MIN_BLOCKS else
                       f"none yet: {MIN_BLOCKS} blocks are needed")
            warnings.warn(f"the standard errors did not fall below tol = {tol:g} within the step budget of "
                          f"{T} steps ({largest}, {blocks.n_blocks} blocks); "
                          "give a longer trajectory (T or xs)", ConvergenceWarning, stacklevel=2)
    return result


def _roundoff(exponents, n, t_ons):
    """Mask of the exponents at round-off level (LyapunovResult.roundoff); warns once."""
    floor = -math.log(n * np.finfo(np.float64).eps) / t_ons
    mask = (exponents[..., :1] - exponents) > floor
    if np.any(mask):
        cols = np.flatnonzero(np.any(mask.reshape(-1, mask.shape[-1]), axis=0)) + 1
        which = f"lambda_{cols[0]}" + (f"..lambda_{cols[-1]}" if cols[-1] != cols[0] else "")
        warnings.warn(f"{which} (as low as {np.min(exponents[mask]):.3g}) lie more than "
                      f"-log(n eps) / t_ONS = {floor:.3g} below lambda_1: they are at round-off level, not exponents "
                      "(the Jacobian products have numerical rank below k, e.g. dead ReLU units); use fewer "
                      "exponents k", RoundoffWarning, stacklevel=3)
    return mask


@_validate.renamed_keywords(tau="window")
def finite_time_exponents(system, h0, xs=None, *, k, window, T=None, t_ons=1, transient=0, Q0=None,
                          seed=None, qr_method="lapack", blas_threads=1):
    """Finite-time Lyapunov exponents: the first k exponents over consecutive windows of
    ``window`` steps (T_w) after the transient, along one run of the Benettin loop::

        lambda_i^win(w) = (1/T_w) sum of log R_ii over the QRs in steps
                          (T_tr + w T_w, T_tr + (w + 1) T_w]

    Their mean over the windows is the exponent of :func:`lyapunov_spectrum`; their spread
    shrinks like 1/sqrt(T_w) once T_w is long compared with the correlation time of the
    increments (central limit theorem; ``docs/derivations.md``, section 9).  A trailing
    part of fewer than T_w steps is left out.

    Parameters
    ----------
    window : int
        T_w, the window length in steps, a multiple of ``t_ons`` (so that windows end on
        QRs); with a transient, ``transient`` must be a multiple of ``t_ons`` too.
    Other arguments as in :func:`lyapunov_spectrum`; T (or xs) must hold at least one
    window after the transient.

    Returns
    -------
    (n_windows, *batch, k) ndarray
    """
    _validate.choice("qr_method", qr_method, QR_METHODS)
    h, xs, T, k, t_ons, transient, Q = check_run_arguments(system, h0, xs, k, T, t_ons, transient, Q0, seed)
    window = _validate.integer("window", window, minimum=1)
    if window % t_ons or transient % t_ons:
        raise ValueError(f"window ({window}) and transient ({transient}) must be multiples of t_ons ({t_ons}), "
                         "so that every window ends on a QR")
    n_windows = (T - transient) // window
    if n_windows < 1:
        raise ValueError(f"T - transient = {T - transient} steps hold no window of {window} steps; "
                         "increase T or reduce window")
    _validate.memory(f"{n_windows} windows of window = {window} steps in T - transient = {T - transient} steps "
                     f"(k = {k}, batch {h.shape[:-1]})", 2 * n_windows * 8 * math.prod(h.shape[:-1]) * k,
                     "use a longer window or a smaller T")
    windows, current, filled = [], np.zeros(h.shape[:-1] + (k,)), [0]

    def on_qr(s, log_r, steps, Q_next, R):
        current[...] += log_r
        filled[0] += steps
        if filled[0] == window:
            windows.append(current / window)
            current[...] = 0.0
            filled[0] = 0
        return len(windows) == n_windows

    with limit_blas(blas_threads), np.errstate(over="ignore", invalid="ignore"):
        benettin(system, h, xs, T, Q, transient=transient, schedule=qr_schedule(T, t_ons, transient),
                 qr_method=qr_method, on_qr=on_qr)
    return np.array(windows)
