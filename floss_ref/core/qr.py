"""Thin QR decomposition (Benettin step between Eqs. 6 and 7) and its pullback (Eq. 8/11).

The Benettin / QR algorithm (Eqs. 6-7, Algorithm 2) re-orthonormalises the tangent directions
with a thin QR decomposition, ``Q~ = Q R``, and reads the Lyapunov exponents off
``log R_ii``.  Gradient flossing (Algorithm 1) backpropagates through that QR, so this
module holds the forward map and both of its derivatives side by side:

``qr(A)`` / ``householder_qr(A)``
    A : (..., N, k) with N >= k  ->  Q : (..., N, k), R : (..., k, k).
``qr_jvp(Q, R, A_dot)``
    tangent rule, A_dot -> (Q_dot, R_dot).
``qr_vjp(Q, R, Q_bar, R_bar)``
    pullback (adjoint) rule, (Q_bar, R_bar) -> A_bar, paper Eq. 8 (= Eq. 11).

Conventions
-----------
* Thin ("reduced") QR: ``Q^T Q = I_k`` and ``R`` upper triangular, for every leading
  (batch) index ``...``.
* Sign convention, used throughout floss_ref: **the diagonal of R is non-negative**, and
  positive whenever A has full column rank.  This makes the decomposition unique for
  full-rank A, so ``log R_ii`` (Eq. 7) is defined.  The factors are differentiable there
  because Gram-Schmidt builds them (with positive diagonal) smoothly from a full-rank A:
  no norm it divides by vanishes.  Uniqueness says that the factors LAPACK or Householder
  return after the sign fix are those same smooth functions.  If a column of A lies in the
  span of the previous ones (e.g. a zero column), then ``R_jj = 0`` and Q still has
  orthonormal columns, but from its j-th column on Q (and R from row j on) is not unique
  -- ``"lapack"`` and ``"householder"`` may then differ.  The derivatives do not exist
  there and ``qr_jvp`` / ``qr_vjp`` raise :class:`floss_ref.errors.SingularRError`.
* A cotangent ``X_bar`` is dL/dX for a scalar loss L, with the shape of X.  Inner
  products are ``<X, Y> = sum(X * Y)``.

The LAPACK and Cholesky-QR fast paths of the forward map live in
:mod:`floss_ref.core.qr_fast`; this module holds the definitions a reader follows.

Derivations
-----------
``docs/derivations.md``, section 4: the tangent rule from ``dA = dQ R + Q dR`` with
``Q^T dQ`` skew-symmetric and ``dR R^{-1}`` upper triangular, the pullback as its adjoint.
The same results, in other notations, are in

* S. F. Walter and L. Lehmann, "Algorithmic differentiation of linear algebra functions
  with application in optimum experimental design (extended version)", arXiv:1001.1654;
* M. Seeger, A. Hetzel, Z. Dai, E. Meissner, N. D. Lawrence, "Auto-differentiating
  linear algebra", arXiv:1710.08717;
* H.-J. Liao, J.-G. Liu, L. Wang, T. Xiang, "Differentiable programming tensor
  networks", Phys. Rev. X 9, 031041 (2019), arXiv:1903.09650 -- the form with
  ``copyltu`` quoted in the paper as Eq. 8 / Eq. 11.
"""

import functools

import numpy as np
from scipy.linalg.lapack import dtrtrs as _trtrs

from floss_ref import _validate
from floss_ref.core.qr_fast import (CHOLQR2_MAX_COND, QRFallbackWarning, cholqr2, lapack_qr,  # noqa: F401
                                    positive_diagonal)
from floss_ref.errors import NumericalBreakdownError, SingularRError

METHODS = ("lapack", "householder", "cholqr2")


# ---------------------------------------------------------------------------------------
# Forward: thin QR with non-negative diag(R), the step between Eq. 6 and Eq. 7
# ---------------------------------------------------------------------------------------

def qr(A, method="lapack"):
    """Thin QR decomposition ``A = Q R`` with non-negative diagonal of R.

    In the Benettin loop ``A = Q~_{s+1} = D_s Q_s`` (Eq. 6) and ``log R_ii`` feeds the
    Lyapunov exponents (Eq. 7).

    Parameters
    ----------
    A : (..., N, k) array_like
        Real, finite, N >= k >= 1.  Leading axes are a batch.
    method : {"lapack", "householder", "cholqr2"}
        ``"lapack"``: LAPACK geqrf/orgqr (called directly for one matrix,
        ``np.linalg.qr(A, mode="reduced")`` for a batch) followed by flipping the signs
        of the columns of Q / rows of R whose R_jj < 0.
        ``"householder"``: :func:`householder_qr`, the same factorisation written out in
        NumPy (slower, for reading and cross-checking).
        ``"cholqr2"``: Cholesky QR twice (:func:`cholqr2`): all level-3 BLAS, faster
        than LAPACK's Householder QR on large isolated blocks (15-25 % at 512 x 256 on
        one core; not for N <= 80); in the flossing loop it gained only at N = 256
        (``validation/bench/bench_vs_jax.py --only-scaling``).  Accurate (orthogonality to round-off) while cond(A) stays
        below about 1e7; when LAPACK's estimate of cond(A) exceeds ``CHOLQR2_MAX_COND``
        (1e6), or the Cholesky factorisation breaks down (rank deficiency), that block
        is factorised by ``"lapack"`` instead and a :class:`QRFallbackWarning` says so.

    Returns
    -------
    Q : (..., N, k) ndarray
        Orthonormal columns, ``Q^T Q = I_k``.
    R : (..., k, k) ndarray
        Upper triangular, ``R_jj >= 0`` (``> 0`` when A has full column rank).

    Raises
    ------
    TypeError
        ``A`` is not a real numeric array, or ``method`` is not a string.
    ValueError
        ``A`` has fewer than 2 dimensions, N < k, no columns, non-finite entries, or
        ``method`` is unknown.
    NumericalBreakdownError
        The norm of a column of A overflows (finite entries near 1e308): R is not finite.

    Examples
    --------
    >>> A = np.random.default_rng(0).standard_normal((5, 3))
    >>> Q, R = qr(A)
    >>> np.allclose(Q @ R, A), np.allclose(Q.T @ Q, np.eye(3)), bool(np.all(np.diag(R) > 0))
    (True, True, True)
    """
    _validate.choice("method", method, METHODS)
    A = _tall_matrix("A", A)
    with np.errstate(over="ignore", invalid="ignore"):     # an overflow is refused by _finite_factors
        return _finite_factors(*qr_unchecked(A, method))


def householder_qr(A):
    """Thin QR ``A = Q R`` by Householder reflections, vectorised over leading axes.

    Column j = 0, ..., k-1 of the working copy of A, restricted to rows j..N-1, is
    ``x``; the reflector ``H_j = I - 2 u u^T`` with unit ``u`` parallel to
    ``x - ||x|| e_1`` maps it to ``||x|| e_1``, so ``R_jj = ||x|| >= 0`` directly (no sign
    fix needed).  ``x_0 - ||x||`` is evaluated as ``-||x_{1:}||^2 / (x_0 + ||x||)`` when
    ``x_0 > 0`` to avoid cancellation (Parlett's choice, Golub & Van Loan, Matrix
    Computations, section 5.1.3).  If ``x`` is already ``||x|| e_1`` (this includes a
    zero column) the reflector is the identity, ``u = 0``.

    Then ``Q = H_0 H_1 ... H_{k-1} [I_k; 0]`` is accumulated backwards, applying
    ``H_{k-1}`` first: ``H_j`` touches only rows ``j:``, where the columns ``< j`` of
    ``[I_k; 0]`` are still zero, so only the block ``Q[j:, j:]`` changes.  No N x N
    matrix is ever formed; the cost is O(N k^2) per matrix, the Python loop runs over
    the k columns only.

    Parameters
    ----------
    A : (..., N, k) array_like
        Real, finite, N >= k >= 1.

    Returns
    -------
    Q : (..., N, k) ndarray
        Orthonormal columns (also when A is rank deficient).
    R : (..., k, k) ndarray
        Upper triangular with ``R_jj >= 0``; ``R_jj = 0`` exactly for a column of A that
        is exactly zero.

    Raises
    ------
    TypeError, ValueError, NumericalBreakdownError
        As for :func:`qr`.

    Examples
    --------
    >>> A = np.random.default_rng(0).standard_normal((2, 6, 4))
    >>> Q, R = householder_qr(A)
    >>> Q.shape, R.shape, np.allclose(Q @ R, A)
    ((2, 6, 4), (2, 4, 4), True)
    """
    A = _tall_matrix("A", A)
    with np.errstate(over="ignore", invalid="ignore"):     # an overflow is refused by _finite_factors
        return _finite_factors(*_householder_qr(A))


# ---------------------------------------------------------------------------------------
# Derivatives (Eqs. 8, 11).  Both need R^{-1} and refuse a (numerically) singular R.
# ---------------------------------------------------------------------------------------

def qr_jvp(Q, R, A_dot, rtol=None):
    """Forward-mode derivative of the thin QR: ``A_dot -> (Q_dot, R_dot)``::

        Delta = Q^T A_dot R^{-1},   Delta_low = tril(Delta, -1)
        Omega = Delta_low - Delta_low^T                    (Q^T Q_dot, skew-symmetric)
        R_dot = (Delta - Omega) R                          (upper triangular)
        Q_dot = (I - Q Q^T) A_dot R^{-1} + Q Omega

    Derivation: docs/derivations.md, section 4.

    Parameters
    ----------
    Q : (..., N, k) array_like
        Q factor from :func:`qr` (orthonormal columns).
    R : (..., k, k) array_like
        R factor from :func:`qr` (upper triangular, invertible).
    A_dot : (..., N, k) array_like
        Tangent of A.
    rtol : float, optional
        Refuse R with ``|R_jj| <= rtol * |R_11|``.  Default ``max(N, k) * eps``.

    Returns
    -------
    Q_dot : (..., N, k) ndarray
        Tangent of Q; ``Q^T Q_dot`` is skew-symmetric.
    R_dot : (..., k, k) ndarray
        Tangent of R, upper triangular.

    Raises
    ------
    SingularRError
        R is singular or nearly so (see :func:`qr_vjp`).
    NumericalBreakdownError
        The result overflowed (a huge A_dot with a barely invertible R).
    TypeError, ValueError
        Bad input (kind, shape, non-finite entries).
    """
    Q, R = _check_factors(Q, R)
    if A_dot is None:
        raise TypeError("A_dot must be a real array shaped like Q (the tangent of A), got None")
    A_dot = _cotangent("A_dot", A_dot, Q)
    with np.errstate(over="ignore", invalid="ignore"):     # an overflow is refused below
        Q_dot, R_dot = qr_jvp_unchecked(Q, R, A_dot, default_rtol(rtol, *Q.shape[-2:]))
    if not (np.isfinite(Q_dot).all() and np.isfinite(R_dot).all()):
        raise NumericalBreakdownError(
            "qr_jvp overflowed: Q_dot or R_dot has non-finite entries although R passed the singularity check; "
            "A_dot is too large for this R (scale it down)")
    return Q_dot, R_dot


def qr_vjp(Q, R, Q_bar, R_bar, rtol=None):
    """Pullback of the thin QR (paper Eq. 8 = Eq. 11): ``(Q_bar, R_bar) -> A_bar``::

        M     = R R_bar^T - Q_bar^T Q                                   (k x k)
        A_bar = [Q_bar + Q copyltu(M)] R^{-T},   copyltu(M)_ij = M_{max(i,j), min(i,j)}

    (The paper writes the left-hand side of Eq. 8 as ``Q_bar``; it is the cotangent of
    the input, ``A_bar`` here.)  ``R^{-T}`` is applied by a triangular solve.

    Only the upper triangle of ``R_bar`` enters: R is upper triangular, so its strictly
    lower part cannot depend on A, and ``R tril(R_bar, -1)^T`` is strictly upper triangular,
    which ``copyltu`` discards.  The pullback is the adjoint of :func:`qr_jvp`.

    Derivation: docs/derivations.md, section 4.

    Parameters
    ----------
    Q : (..., N, k) array_like
        Q factor from :func:`qr`.
    R : (..., k, k) array_like
        R factor from :func:`qr`.
    Q_bar : (..., N, k) array_like or None
        Cotangent dL/dQ; None means zero.
    R_bar : (..., k, k) array_like or None
        Cotangent dL/dR; None means zero.  For the Lyapunov exponents (Eq. 7),
        ``L = sum_i c_i log R_ii`` gives ``R_bar = diag(c_i / R_ii)``.
    rtol : float, optional
        Relative threshold for a singular R: raise if any ``R_jj == 0`` or
        ``|R_jj| <= rtol * |R_11|``.  Default ``max(N, k) * eps`` with ``eps`` the float64
        machine epsilon (about ``1.8e-14`` for N = 80), i.e. refuse only an R that is
        singular to working precision.  ``rtol = 0`` refuses only exact zeros.

    Returns
    -------
    A_bar : (..., N, k) ndarray
        Cotangent dL/dA, finite.

    Raises
    ------
    SingularRError
        Some ``R_jj`` is zero or tiny relative to ``R_11``: the tangent directions have
        collapsed and the derivative does not exist (or is round-off).  The message names
        j (0-based) and the ratio ``|R_jj| / |R_11|``.
    NumericalBreakdownError
        The result overflowed (huge cotangents with a barely invertible R).
    TypeError, ValueError
        Bad input (kind, shape, non-finite entries).

    Examples
    --------
    Gradient of ``sum_i log R_ii`` (Eq. 7): ``A_bar = Q R^{-T} = pinv(A)^T``.

    >>> A = np.random.default_rng(1).standard_normal((6, 4))
    >>> Q, R = qr(A)
    >>> A_bar = qr_vjp(Q, R, None, np.diag(1.0 / np.diag(R)))
    >>> np.allclose(A_bar, np.linalg.pinv(A).T)
    True
    """
    Q, R = _check_factors(Q, R)
    Q_bar = _cotangent("Q_bar", Q_bar, Q)
    R_bar = _cotangent("R_bar", R_bar, R)
    rtol = default_rtol(rtol, *Q.shape[-2:])
    with np.errstate(over="ignore", invalid="ignore"):     # an overflow is refused by qr_vjp_unchecked
        return qr_vjp_unchecked(Q, R, Q_bar, R_bar, rtol)


# ---------------------------------------------------------------------------------------
# The loops' entry points without input checks, and the Householder loop written out
# ---------------------------------------------------------------------------------------

def qr_unchecked(A, method="lapack"):
    """:func:`qr` without input validation, for loops whose A is known to be a finite
    float64 ``(..., N, k)`` array with N >= k (the Benettin loop checks Q~ itself)."""
    if method == "householder":
        return _householder_qr(A)
    if method == "cholqr2":
        return cholqr2(A)
    if A.ndim == 2:
        return lapack_qr(A)  # signs fixed inside
    return positive_diagonal(*np.linalg.qr(A, mode="reduced"))


def qr_jvp_unchecked(Q, R, A_dot, rtol):
    """:func:`qr_jvp` without validation of kinds and shapes and without the check of its
    result, for loops that pass the factors of :func:`qr_unchecked` and tangents they
    computed, and check what comes out themselves.  The singular-R check still runs."""
    _check_invertible(R, rtol)

    Y = _right_solve(A_dot, R, transpose=False)         # A_dot R^{-1}
    Delta = np.swapaxes(Q, -1, -2) @ Y                  # (..., k, k)
    Delta_low = np.tril(Delta, -1)                      # strictly lower triangular
    Omega = Delta_low - np.swapaxes(Delta_low, -1, -2)  # Q^T Q_dot: skew-symmetric
    upper = Delta - Omega                               # R_dot R^{-1}: upper triangular
    R_dot = upper @ R                                   # upper @ upper: upper triangular
    Q_dot = Y - Q @ upper                               # = (I - Q Q^T) Y + Q Omega
    return Q_dot, R_dot


def qr_vjp_unchecked(Q, R, Q_bar, R_bar, rtol, R_bar_diag=None):
    """:func:`qr_vjp` without validation of kinds and shapes, for loops that pass the
    factors of :func:`qr_unchecked` and cotangents they computed.  The numerical checks
    (singular R, overflow) still run; ``rtol`` must be a float (see :func:`qr_vjp`).

    R_bar_diag : (..., k) ndarray, optional
        A diagonal R_bar given by its diagonal (then ``R_bar`` must be None): the
        Lyapunov exponents' ``R_bar = diag(c_i / R_ii)``.
    """
    _check_invertible(R, rtol)

    lower = _lower_mask(R.shape[-1])                    # (k, k), True on and below the diagonal
    # M = R R_bar^T - Q_bar^T Q  (k x k), a None cotangent contributes nothing
    if R_bar_diag is not None:
        M = R * R_bar_diag[..., None, :]                # R_bar diagonal: R R_bar^T scales R's columns
    else:
        M = np.zeros(R.shape)
    if R_bar is not None:
        # masking R_bar to its upper triangle is harmless but not needed: its strictly lower
        # part would add R tril(R_bar, -1)^T, strictly upper triangular, which copyltu discards
        M += R @ np.swapaxes(np.where(lower.T, R_bar, 0.0), -1, -2)
    if Q_bar is not None:
        M -= Q_bar.swapaxes(-1, -2) @ Q
    copyltu_M = np.where(lower, M, M.swapaxes(-1, -2))              # symmetric
    bracket = Q @ copyltu_M                             # (..., N, k)
    if Q_bar is not None:
        bracket += Q_bar
    A_bar = _right_solve(bracket, R, transpose=True)    # bracket R^{-T}
    if not np.isfinite(A_bar).all():
        raise NumericalBreakdownError(
            "qr_vjp overflowed: A_bar has non-finite entries although R passed the "
            f"singularity check (rtol = {rtol:.3e}); the cotangents are too large for this "
            "R.  Use a larger rtol or re-orthonormalise more often (smaller t_ONS).")
    return A_bar


def _householder_qr(A):
    """:func:`householder_qr` without input checks; ``A : (..., N, k)`` float64."""
    N, k = A.shape[-2:]
    work = A.copy()                      # reduced in place to R (upper k x k block)
    U = np.zeros(A.shape)                # column j: unit Householder vector u_j in rows j:
    for j in range(k):
        x = work[..., j:, j]                                        # (..., N-j)
        # scalars per batch entry are kept as (..., 1) so they broadcast against x
        tail_sq = np.einsum("...i,...i->...", x[..., 1:], x[..., 1:])[..., None]
        x0 = x[..., :1]
        norm_x = np.sqrt(x0 * x0 + tail_sq)
        # v = x - ||x|| e_1; first entry without cancellation when x0 > 0
        v0 = np.divide(-tail_sq, x0 + norm_x, out=x0 - norm_x, where=x0 > 0)
        norm_v = np.sqrt(v0 * v0 + tail_sq)
        # norm_v == 0 iff x = ||x|| e_1 already: then H_j = I (u = 0)
        inv_norm_v = np.divide(1.0, norm_v, out=np.zeros_like(norm_v), where=norm_v > 0)
        u = U[..., j:, j]
        u[...] = x
        u[..., :1] = v0
        u *= inv_norm_v
        # H_j x = ||x|| e_1: the new diagonal entry, non-negative by construction
        work[..., j, j] = norm_x[..., 0]
        if j + 1 < k:
            trailing = work[..., j:, j + 1:]                        # (..., N-j, k-j-1)
            trailing -= 2.0 * u[..., :, None] * (u[..., None, :] @ trailing)
    R = np.triu(work[..., :k, :])                                   # upper triangular

    Q = np.zeros(A.shape)
    Q[..., np.arange(k), np.arange(k)] = 1.0                        # [I_k; 0]
    for j in range(k - 1, -1, -1):
        u = U[..., j:, j]
        block = Q[..., j:, j:]                                      # (..., N-j, k-j)
        block -= 2.0 * u[..., :, None] * (u[..., None, :] @ block)
    return Q, R


# ---------------------------------------------------------------------------------------
# Input checks and the triangular solves shared by the functions above
# ---------------------------------------------------------------------------------------

def _finite_factors(Q, R):
    """The factors of a finite A, refused if they are not finite: the norm of a column of A
    overflowed (entries near 1e308; for the Householder loop, which squares the entries, near 1e154)."""
    if not (np.isfinite(R).all() and np.isfinite(Q).all()):
        raise NumericalBreakdownError(
            "the QR of A overflowed: Q or R has non-finite entries although A is finite (the norm of a column of "
            "A, or the sum of its squares for the Householder loop, exceeds the float64 range, about 1.8e308); "
            "scale A down")
    return Q, R


def _tall_matrix(name, A):
    """Check ``A : (..., N, k)`` is a finite real array with N >= k >= 1; return float64."""
    A = _validate.float_array(name, A, min_ndim=2)
    N, k = A.shape[-2:]
    if k < 1:
        raise ValueError(f"{name} must have at least one column (k >= 1), got shape {A.shape}")
    if N < k:
        raise ValueError(
            f"{name} must be tall or square, (..., N, k) with N >= k, got N = {N} < k = {k} "
            f"(shape {A.shape}); the thin QR of a wide matrix has no unique R")
    return A


def _check_invertible(R, rtol):
    """Raise SingularRError unless every ``|R_jj| > rtol * |R_11|`` (and ``R_jj != 0``).

    ``R : (..., k, k)``.  In the Benettin loop ``R_11`` is normally the largest diagonal
    entry and ``R_11 / R_kk`` estimates ``kappa_2(Q~)`` (Eq. 28), so this refuses a Q~
    whose condition number is beyond about ``1 / rtol``.
    """
    diag = np.abs(R.diagonal(0, -2, -1))                            # (..., k)
    bad = diag <= rtol * diag[..., :1]                              # catches R_jj == 0 too
    if not bad.any():
        return
    where = tuple(int(i) for i in np.argwhere(bad)[0])              # first offender
    batch, j = where[:-1], where[-1]
    r00, rjj = diag[batch + (0,)], diag[where]
    if rjj == 0:
        what = f"R[{j}, {j}] = 0"
    else:
        what = (f"|R[{j}, {j}]| / |R[0, 0]| = {rjj:.3e} / {r00:.3e} = {rjj / r00:.3e} "
                f"<= rtol = {rtol:.3e}")
    at = f" (batch index {batch})" if batch else ""
    n_bad = int(bad.sum())
    raise SingularRError(
        f"R is singular to working precision at column j = {j} (0-based){at}: {what}; "
        f"{n_bad} diagonal entr{'y' if n_bad == 1 else 'ies'} of R fail this test.  The k "
        f"tangent directions have collapsed onto fewer than k dimensions, so the derivative "
        f"of Q does not exist or is dominated by round-off.  Re-orthonormalise more often "
        f"(smaller t_ONS) or floss fewer exponents k.")


def _right_solve(X, R, transpose):
    """``X R^{-1}`` (or ``X R^{-T}`` if ``transpose``) by triangular solves.

    ``X : (..., N, k)``, ``R : (..., k, k)`` upper triangular, already checked invertible.
    ``Y = X R^{-1}`` solves ``R^T Y^T = X^T``; ``Y = X R^{-T}`` solves ``R Y^T = X^T``.
    One LAPACK trtrs call per matrix of the batch (NumPy has no batched triangular
    solve).  trtrs is called directly: ``R^T`` and ``X^T`` are Fortran-ordered views of
    the C-ordered arrays, so nothing is copied, and R^T is lower triangular; its
    ``trans`` flag turns the solve with ``R^T`` into the one with R.
    """
    X_T = X.swapaxes(-1, -2)                                        # (..., k, N)
    R_T = R.swapaxes(-1, -2)                                        # lower triangular
    trans = 1 if transpose else 0          # op(R^T) = R solves R Y^T = X^T
    if R.ndim == 2:                        # one matrix: no batch loop, no copy of the result
        return _trtrs_checked(R_T, X_T, trans).T
    Y_T = np.empty(X_T.shape)
    for b in np.ndindex(R.shape[:-2]):
        Y_T[b] = _trtrs_checked(R_T[b], X_T[b], trans)
    return np.swapaxes(Y_T, -1, -2)


def _trtrs_checked(L, B, trans):
    """LAPACK trtrs with lower triangular L: op(L) Y = B."""
    Y, info = _trtrs(L, B, lower=1, trans=trans)
    if info != 0:  # R was checked invertible; info > 0 would mean R_jj == 0
        raise SingularRError(f"triangular solve failed (LAPACK trtrs info = {info})")
    return Y


@functools.lru_cache(maxsize=16)
def _lower_mask(k):
    """(k, k) boolean mask of the lower triangle including the diagonal (read-only)."""
    mask = np.tri(k, dtype=bool)
    mask.flags.writeable = False
    return mask


def default_rtol(rtol, N, k):
    """The singularity threshold of the pullbacks: ``rtol`` checked, or its default
    ``max(N, k) * eps`` (float64 machine epsilon)."""
    if rtol is None:
        return max(N, k) * np.finfo(np.float64).eps
    return _validate.real("rtol", rtol, minimum=0.0)


def _check_factors(Q, R):
    """Validate a thin-QR pair ``Q : (..., N, k)``, ``R : (..., k, k)``; return float64."""
    Q = _tall_matrix("Q", Q)
    k = Q.shape[-1]
    R = _validate.float_array("R", R, min_ndim=2, tail=(k, k))
    if R.shape[:-2] != Q.shape[:-2]:
        raise ValueError(f"Q and R must have the same leading (batch) shape, got Q {Q.shape} "
                         f"and R {R.shape}")
    return Q, R


def _cotangent(name, value, like):
    """Validate a cotangent: None (meaning zero) or a finite array shaped like ``like``."""
    if value is None:
        return None
    value = _validate.float_array(name, value)
    if value.shape != like.shape:
        raise ValueError(f"{name} must have the shape of the corresponding output, "
                         f"{like.shape}, got {value.shape}")
    return value
