"""Covariant Lyapunov vectors by Ginelli's method (Ginelli, Poggi, Turchi, Chate, Livi,
Politi, Phys. Rev. Lett. 99, 130601 (2007)).

The QR loop of :mod:`floss_ref.core.lyapunov` gives orthonormal Gram-Schmidt vectors Q_s; the
covariant vectors v_j(s) are the directions that the dynamics maps onto each other,
D_{s} v_j(s) = c v_j(s + 1), each growing at the rate lambda_j.  They span the same
nested subspaces as Q_s, so v_j(s) = Q_s c_j(s) with c_j(s) in an upper triangular
matrix C_s.  Going backwards in time, with Q_{s+1} R_{s+1} = D_s Q_s::

    C_s = R_{s+1}^{-1} C_{s+1},   then each column normalised to length 1

converges (from any upper triangular start, after a backward transient) to the
coefficients of the covariant vectors, because R^{-1} shrinks the fastest-growing
direction most.  The norms removed at each step give the growth rates.  The derivation
is in ``docs/derivations.md``, section 10.
"""

import dataclasses
import math

import numpy as np
from scipy.linalg import solve_triangular

from floss_ref import _validate
from floss_ref._threads import limit_blas
from floss_ref.errors import NumericalBreakdownError
from floss_ref.core.lyapunov import QR_METHODS, benettin, check_run_arguments, qr_schedule

# Columns of C shorter than this (or not finite) are rescaled by a power of 2 before their
# length is taken (:func:`_unit_columns`): the squares of entries of a column of length
# >= 2^-480 stay in the normal range, or their underflow is below round-off.
MIN_NORM = 2.0 ** -480


@dataclasses.dataclass
class CovariantVectors:
    """Result of :func:`covariant_vectors`.

    Attributes
    ----------
    times : (n_times,) ndarray of int
        The states h_t at which the vectors are given (t steps after h_0).
    vectors : (n_times, *batch, n, k) ndarray
        The first k covariant vectors at each time, unit columns, in the order of the
        exponents (column j grows at rate ``rates[j]``); sign arbitrary.
    rates : (*batch, k) ndarray
        Growth rates of the covariant vectors, per step, averaged over the steps from the
        first requested time to T - transient_backward.
    exponents : (*batch, k) ndarray
        The QR (Gram-Schmidt) exponents over the same steps, for comparison: the rates
        and the exponents agree up to O(1/steps) boundary terms.
    """

    times: np.ndarray
    vectors: np.ndarray
    rates: np.ndarray
    exponents: np.ndarray


def covariant_vectors(system, h0, xs=None, *, k, times, T=None, transient=0, transient_backward=None,
                      Q0=None, seed=None, qr_method="lapack", blas_threads=1):
    """The first k covariant Lyapunov vectors at the requested times (Ginelli's method).

    A forward QR pass (QR after every step) stores R_s from the first requested time on
    and Q_t at the requested times; the backward pass iterates the upper triangular
    coefficients from step T back (module docstring).

    Parameters
    ----------
    system : map (protocol of :mod:`floss_ref.core.maps`)
    h0 : (*batch, n) array_like
    xs : (T, *batch, n_in) array_like or None
    k : int
        1 <= k <= n.
    times : sequence of int
        Times t (states h_t) at which to return the vectors, each in
        [transient, T - transient_backward].
    T : int, optional
        Steps (needed when xs is None).
    transient : int
        Forward transient: steps before Q aligns with the Gram-Schmidt vectors.
    transient_backward : int, optional
        Backward transient: steps the backward iteration runs before its coefficients
        are used (default: ``transient``).
    Q0, seed, qr_method, blas_threads
        As in :func:`floss_ref.lyapunov_spectrum`.

    Returns
    -------
    CovariantVectors

    Raises
    ------
    ValueError
        k out of range, a time outside [transient, T - transient_backward], or an empty
        window for the rates (times[0] = T - transient_backward).
    NumericalBreakdownError
        As in the QR loop (overflow, R_jj = 0), or R_{s+1}^{-1} C_{s+1} overflows in the
        backward pass (R_kk / R_11 below about 1e-308 in one step).

    Examples
    --------
    For a constant upper triangular matrix the covariant vectors are its eigenvectors:

    >>> from floss_ref import LinearMap
    >>> A = np.array([[2.0, 1.0], [0.0, 0.5]])
    >>> res = covariant_vectors(LinearMap(A), np.zeros(2), T=200, k=2, times=[100], transient=50, seed=0)
    >>> v = res.vectors[0]
    >>> bool(np.allclose(np.abs(v[:, 1]), np.abs(np.linalg.eig(A)[1][:, 1])))
    True
    """
    _validate.choice("qr_method", qr_method, QR_METHODS)
    h, xs, T, k, _, transient, Q = check_run_arguments(system, h0, xs, k, T, 1, transient, Q0, seed)
    backward = "transient_backward" if transient_backward is not None else "transient_backward (= transient)"
    transient_backward = transient if transient_backward is None else \
        _validate.integer("transient_backward", transient_backward, minimum=0)
    times = np.unique(np.asarray([_validate.integer("times entry", t, minimum=0) for t in _iterable(times)]))
    if times.size == 0:
        raise ValueError("times must hold at least one time step")
    if times[0] < transient or times[-1] > T - transient_backward:
        raise ValueError(f"times must lie in [transient, T - {backward}] = [{transient}, "
                         f"{T - transient_backward}] (T = {T}); got {times[0]} .. {times[-1]}")
    start, end = int(times[0]), T - transient_backward
    if start == end:
        raise ValueError(f"the rates are averaged from the first time, times[0] = {start}, to T - {backward} "
                         f"= {end}: that window is empty; give a first time before {end} or a shorter "
                         "transient_backward")
    batch = math.prod(h.shape[:-1])
    _validate.memory(f"covariant vectors from times[0] = {start} to T = {T}",
                     8 * batch * ((T - start) * k * k + 2 * len(times) * h.shape[-1] * k),
                     "ask for a later first time (the R factors from times[0] to T are stored) or a smaller T")
    wanted = set(int(t) for t in times)
    Rs, Qs = [], {}
    if 0 in wanted:
        Qs[0] = Q

    def on_qr(s, log_r, steps, Q_next, R):
        if s + 1 > start:
            Rs.append(R)                                  # R_{s+1}, s + 1 = start + 1 .. T
        if s + 1 in wanted:
            Qs[s + 1] = Q_next
        return False

    with limit_blas(blas_threads), np.errstate(over="ignore", invalid="ignore"):
        benettin(system, h, xs, T, Q, transient=0, schedule=qr_schedule(T, 1, 0), qr_method=qr_method,
                 on_qr=on_qr)
        vectors, rates, exponents = _backward(Rs, Qs, times, start, end, T, k)
    return CovariantVectors(times=times, vectors=vectors, rates=rates, exponents=exponents)


def _iterable(times):
    if isinstance(times, (str, bytes)) or not hasattr(times, "__iter__") or getattr(times, "ndim", 1) == 0:
        raise TypeError(f"times must be a sequence of time steps (e.g. [100]), got {type(times).__name__} {times!r}")
    return list(times)


def _backward(Rs, Qs, times, start, end, T, k):
    """The backward iteration C_s = R_{s+1}^{-1} C_{s+1}, columns normalised, from C_T = I.

    Rs[i] is R_{start + 1 + i}.  Returns the vectors Q_t C_t at the times, the growth
    rates over (start, end] and the QR exponents over the same steps."""
    batch = Rs[0].shape[:-2]
    C = np.broadcast_to(np.eye(k), batch + (k, k)).copy()   # any upper triangular start
    log_growth = np.zeros(batch + (k,))
    log_r_sum = np.zeros(batch + (k,))
    out = {T: Qs[T] @ C} if T in Qs else {}                # no backward transient at all
    for s in range(T - 1, start - 1, -1):                  # C_{s+1} -> C_s through R_{s+1}
        R = Rs[s - start]
        C, log_norms = _unit_columns(_solve_upper(R, C), s)   # log_norms : (*batch, k)
        if s + 1 <= end:
            # v_j(s) -> v_j(s + 1) grows by 1 / norm_j (module docstring)
            log_growth -= log_norms
            log_r_sum += np.log(np.diagonal(R, axis1=-2, axis2=-1))
        if s in Qs:
            out[s] = Qs[s] @ C
    vectors = np.array([out[int(t)] for t in times])
    return vectors, log_growth / (end - start), log_r_sum / (end - start)


def _unit_columns(C, s):
    """C with its columns scaled to length 1, and the logs of the lengths removed.

    C : (*batch, k, k), R_{s+1}^{-1} C_{s+1}
    returns C / norms, log(norms) : (*batch, k)

    A column whose length is not finite or below MIN_NORM (one step of R^{-1} stretched one
    direction by more than about 1e150 relative to another, e.g. a map that contracts
    strongly per step) over- or underflows when its entries are squared; such a column is
    first scaled by a power of 2, exactly, so that C / norms is the same bit for bit and
    log(norms) agrees to round-off.  Every other column is computed as
    ``C / np.linalg.norm(C)``.
    """
    norms = np.linalg.norm(C, axis=-2)
    if np.all(norms >= MIN_NORM) and np.all(np.isfinite(norms)):
        return C / norms[..., None, :], np.log(norms)
    if not np.all(np.isfinite(C)):
        raise NumericalBreakdownError(
            f"the covariant-vector coefficients C_s = R_(s+1)^-1 C_(s+1) overflowed at step {s} of the backward "
            "pass: R_kk / R_11 of one step is below the floating-point range")
    _, exps = np.frexp(np.max(np.abs(C), axis=-2))            # max_i |C_ij| < 2^exps_j
    C = np.ldexp(C, -exps[..., None, :])                      # exact: a power of 2 per column
    norms = np.linalg.norm(C, axis=-2)
    if not np.all(norms > 0.0):
        raise NumericalBreakdownError(
            f"a covariant-vector coefficient column C_s = R_(s+1)^-1 C_(s+1) underflowed to zero at step {s} "
            "of the backward pass")
    return C / norms[..., None, :], np.log(norms) + exps * math.log(2.0)


def _solve_upper(R, C):
    """R^{-1} C for upper triangular R (*batch, k, k)."""
    if R.ndim == 2:
        return solve_triangular(R, C, lower=False, check_finite=False)
    return np.linalg.solve(R, C)
