"""The fast paths of the thin QR (:func:`floss_ref.core.qr.qr`): LAPACK's Householder QR
called directly, and Cholesky QR twice (CholQR2), with the sign convention of every QR in
floss_ref (:func:`positive_diagonal`: diag(R) >= 0).

These compute the same factors as :func:`floss_ref.core.qr.householder_qr` (up to
round-off); they are here only for speed.  ``qr(A, method=...)`` chooses among them.
"""

import functools
import warnings

import numpy as np
from scipy.linalg.blas import dsyrk as _syrk, dtrmm as _trmm, dtrsm as _trsm
from scipy.linalg.lapack import dgeqrf as _geqrf, dorgqr as _orgqr, dpotrf as _potrf, dtrcon as _trcon

from floss_ref.errors import NumericalBreakdownError

CHOLQR2_MAX_COND = 1e6   # cholqr2 falls back to LAPACK above this estimate of cond(A) (see qr)


class QRFallbackWarning(RuntimeWarning):
    """``qr_method="cholqr2"`` met a block too ill-conditioned for it and used LAPACK's
    Householder QR instead (the same factors up to round-off, only slower)."""


def positive_diagonal(Q, R, in_place=False):
    """The factors of a QR decomposition with the sign convention of this module.

    LAPACK returns R_jj of either sign; D = diag(sign R_jj) is orthogonal and D D = I,
    so A = (Q D)(D R) with diag(D R) = |diag R|.  Zero diagonal entries keep sign +1.
    Every QR in floss_ref (the Benettin loop, random orthonormal blocks, orthogonal
    initialisation) goes through this function.

    Q : (..., N, k), R : (..., k, k) float64
    in_place : bool
        Flip the signs in Q and R themselves (for factors nobody else holds) instead of
        returning new arrays.
    returns Q D, D R
    """
    flip = np.where(R.diagonal(0, -2, -1) < 0, -1.0, 1.0)                   # (..., k)
    if not in_place:
        return Q * flip[..., None, :], R * flip[..., :, None]
    Q *= flip[..., None, :]
    R *= flip[..., :, None]
    return Q, R


def lapack_qr(A):
    """Thin QR of one matrix by LAPACK's geqrf + orgqr, called directly.

    The same two routines as ``np.linalg.qr(A, mode="reduced")``, without its wrapper's
    checks and copies: about 30 % less time for one 80 x 75 block.  Q comes back
    Fortran-ordered.  A : (N, k) float64 -> Q : (N, k), R : (k, k), with the signs of
    :func:`positive_diagonal`.
    """
    N, k = A.shape
    lwork = _qr_lwork(N, k)
    packed, reflector_scales, _, info = _geqrf(A, lwork=lwork)   # the Householder scalars
    R = packed[:k] * _upper_ones(k)      # R is the upper triangle of the packed factor
    Q, _, info_q = _orgqr(packed, reflector_scales, lwork=lwork, overwrite_a=1)
    if info or info_q:  # only an illegal argument (a bug) makes these non-zero
        raise NumericalBreakdownError(f"LAPACK QR failed (geqrf info {info}, orgqr info {info_q})")
    return positive_diagonal(Q, R, in_place=True)  # the factors are ours: no copies


def cholqr2(A):
    """Thin QR by Cholesky QR, twice, with an automatic fallback to LAPACK (no input checks):
    the re-orthonormalisation between Eqs. 6 and 7, ``Q~ = Q R`` with diag(R) > 0.

    One pass: G = A^T A (syrk), G = R^T R (Cholesky, potrf), Q = A R^{-1} (trsm).  In
    floating point Q is orthonormal only to about eps cond(A)^2; a second pass on Q
    makes it orthonormal to round-off when cond(A) < about 1e7 (Yamamoto, Nakatsukasa,
    Yanagisawa, Fukaya, ETNA 44, 2015), and R = R_2 R_1 (trmm).  Cholesky factors have
    positive diagonals, so diag(R) > 0 as everywhere in this module.  A block whose
    estimated cond(R_1) (LAPACK trcon, 1-norm) exceeds ``CHOLQR2_MAX_COND``, or whose
    A^T A is not numerically positive definite, goes to :func:`lapack_qr` instead, with
    a :class:`QRFallbackWarning`.

    A : (..., N, k) float64, N >= k  ->  Q : (..., N, k), R : (..., k, k)
    """
    if A.ndim > 2:  # one block at a time, each with its own fallback
        Q, R = np.empty(A.shape), np.empty(A.shape[:-2] + (A.shape[-1],) * 2)
        for i in np.ndindex(A.shape[:-2]):
            Q[i], R[i] = cholqr2(A[i])
        return Q, R
    first = _cholqr_pass(np.array(A, order="F"))   # our copy: the pass may overwrite it
    if first is not None:
        second = _cholqr_pass(first[0])
        if second is not None:
            (_, R1), (Q, R2) = first, second
            return Q, _trmm(1.0, R2, R1)   # R = R_2 R_1, upper triangular with diag > 0
    warnings.warn(f"cholqr2: a {A.shape[0]} x {A.shape[1]} block with cond(A) above {CHOLQR2_MAX_COND:.0e} "
                  "(or rank deficient) was factorised by LAPACK's Householder QR instead",
                  QRFallbackWarning, stacklevel=3)
    return lapack_qr(A)


def _cholqr_pass(A):
    """(A R^{-1}, R) with R^T R = A^T A, overwriting the Fortran-ordered A; None if potrf
    fails or cond(R) > CHOLQR2_MAX_COND (A is then unchanged)."""
    G = _syrk(1.0, A, trans=1)                    # the upper triangle of A^T A
    R, info = _potrf(G, lower=0, clean=1, overwrite_a=1)
    if info != 0:                                 # not numerically positive definite
        return None
    rcond, info = _trcon(R, norm="1", uplo="U")
    if info != 0 or not rcond * CHOLQR2_MAX_COND >= 1.0:
        return None
    return _trsm(1.0, R, A, side=1, lower=0, overwrite_b=1), R   # A R^{-1}, in place


@functools.lru_cache(maxsize=64)
def _upper_ones(k):
    """(k, k) float mask: 1 on and above the diagonal, 0 below (read-only)."""
    mask = np.triu(np.ones((k, k)))
    mask.flags.writeable = False
    return mask


@functools.lru_cache(maxsize=64)
def _qr_lwork(N, k):
    """The optimal workspace size of geqrf / orgqr for an N x k block (a LAPACK query)."""
    probe = np.zeros((N, k), order="F")
    _, _, work, _ = _geqrf(probe, lwork=-1)
    _, work_q, _ = _orgqr(probe, np.zeros(k), lwork=-1)
    return int(max(work[0], work_q[0], k, 1))
