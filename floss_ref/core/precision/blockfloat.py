"""Exact products of float64 matrices in block floating point, on exact float64 GEMMs.

This is the arithmetic engine behind :mod:`floss_ref.core.precision.condition`: it multiplies
a long chain of float64 Jacobians ``D_{t-1} ... D_tau Q`` keeping ``prec`` bits, two orders of
magnitude faster than a plain ``mpmath.matrix`` product.

Representation
--------------
A matrix X is stored as K *limbs* of L bits that share one exponent E::

    X = 2^E * sum_{j=0}^{K-1} X_j 2^{-L j},      X_j integer matrices, |X_j| <= 2^(L-1)

(balanced digits: every digit lies in [-2^(L-1), 2^(L-1)], so dropping the low limbs
rounds to nearest up to a factor 1 + 2^(1-L)).  The limbs are held in int64 (running
product) or float64 (the Jacobian) arrays with the limb index in the middle, ``(n, K, m)``,
so that ``X_j`` is ``limbs[:, j, :]`` and the limbs of a running product reshape to one
``(n, K m)`` matrix without a copy.

Why exact
---------
L is the largest limb size with ``n 2^(2L-2) <= 2^53``: every entry of a limb product
``D_i @ P_j`` is a sum of n products of integers below 2^(L-1) in magnitude, so every
partial sum is an integer below 2^53 and float64 BLAS computes it exactly, in any
summation order and with or without FMA.  One GEMM of the stacked limbs,
``(K_D n, n) @ (n, K_P m)``, gives all ``K_D K_P`` limb products; their sums along
anti-diagonals ``i + j = const`` are collected in int64 (no overflow for fewer than 1024
limbs), a carry pass restores balanced digits, and the result is *exactly* ``D @ P``.
Only then is it rounded, by keeping the ``K_P`` limbs from the leading non-zero one.
For N = 80, L = 24 bits.

Precision kept
--------------
After rounding, the entry of largest magnitude is at least half the weight of the leading
limb and the error of every entry is at most half the weight of the first dropped limb,
so every entry is correct to ``L (K - 1)`` bits relative to the largest entry
(normwise, the same as a floating-point matrix product in which each entry is rounded to
that many bits, because a product's rounding error is normwise anyway).
:func:`limbs_for` picks K so that ``L (K - 1) >= prec``.

A float64 Jacobian enters exactly when its entries span fewer than ``L K`` bits (from the
largest entry down to the last bit of the smallest), as for the RNN Jacobians
``W diag(phi')`` met here (some 100 bits at most); otherwise its digits below
``2^-(L K)`` of the largest entry are rounded off, an error of the same size as the
rounding of the running product.  :attr:`BlockFloat.exact` records which case occurred.

Speed (N = 80, m = 80, 256 bits; see ``validation/bench/bench_precision.py``): the K_D x K_P
limb products are one float64 GEMM of about 4 n by n by 12 m, 3.5 ms with the carries,
against 0.35 s for the same product with ``mpmath.matrix`` (about 100x).
The conversion to mpmath numbers (:func:`to_mpmath_columns`) is done only at the
horizons where singular values are wanted.
"""

import dataclasses

import numpy as np

from floss_ref.errors import NumericalBreakdownError

FLOAT64_MANTISSA_BITS = 53
MAX_LIMBS = 1023  # int64 anti-diagonal sums of K products below 2^53 stay below 2^63


@dataclasses.dataclass
class BlockFloat:
    """A matrix in block floating point: ``value = 2^exponent * sum_j limbs[:, j, :] 2^(-L j)``.

    Attributes
    ----------
    limbs : (n, K, m) ndarray, int64 or float64
        Balanced digits, |limbs| <= 2^(L-1).
    exponent : int
        Weight of the leading limb (a Python int: products of hundreds of Jacobians
        leave the float64 exponent range).
    limb_bits : int
        L.
    exact : bool
        Whether the stored value equals the matrix it was made from (no digit dropped).
    """

    limbs: np.ndarray
    exponent: int
    limb_bits: int
    exact: bool


def limb_bits_for(n):
    """The largest limb size L (bits) with ``n 2^(2L-2) <= 2^53``: exact float64 GEMMs.

    n : int, the inner dimension of the products (the state size).
    """
    L = (FLOAT64_MANTISSA_BITS + 2 - (n - 1).bit_length()) // 2
    if L < 2:
        raise ValueError(f"state size n = {n} is too large for exact float64 limb products")
    return L


def limbs_for(prec, limb_bits):
    """Number of limbs K with ``L (K - 1) >= prec``: at least ``prec`` bits relative to the
    largest entry survive every rounding."""
    K = -(-prec // limb_bits) + 1
    if K > MAX_LIMBS:
        raise ValueError(f"prec = {prec} bits needs {K} limbs of {limb_bits} bits; at most "
                         f"{MAX_LIMBS} are supported (prec <= {limb_bits * (MAX_LIMBS - 1)})")
    return K


def from_float(A, limb_bits, max_limbs):
    """Split a float64 matrix into balanced limbs, exactly when ``max_limbs`` suffice.

    Each limb is ``rint`` of the scaled remainder; ``X - rint(X)`` and the scaling by
    2^L are exact in float64, so the digits are exact until the remainder is zero.  (The
    first scaling, to put the largest entry just below 2^(L-1), is exact too unless the
    entries span more than the float64 exponent range, which ``exact`` then reports.)

    A : (n, m) ndarray, float64, finite
    returns BlockFloat with float64 limbs (n, K, m), K <= max_limbs
    """
    amax = float(np.max(np.abs(A)))
    if amax == 0.0:
        raise NumericalBreakdownError(
            "a Jacobian is exactly zero: the product of Jacobians vanishes and has no "
            "condition number (for ReLU networks: every unit is inactive at some step)")
    _, e = np.frexp(amax)  # amax = f 2^e, 1/2 <= f < 1
    shift = limb_bits - 1 - int(e)
    X = np.ldexp(A, shift)  # |X| < 2^(L-1)
    scaled_exactly = np.array_equal(np.ldexp(X, -shift), A)  # false only if entries underflowed
    digits = []
    while len(digits) < max_limbs:
        d = np.rint(X)
        digits.append(d)
        X = (X - d) * 2.0 ** limb_bits  # |X - d| <= 1/2
        if not X.any():
            break
    return BlockFloat(limbs=np.stack(digits, axis=1), exponent=-shift, limb_bits=limb_bits,
                      exact=scaled_exactly and not X.any())


def matmul(D, P, keep):
    """``D @ P`` computed exactly, then rounded to ``keep`` limbs from the leading one.

    D : BlockFloat with float64 limbs (n, K_D, n)
    P : BlockFloat (n, K_P, m)
    keep : int, number of limbs of the result
    returns BlockFloat with int64 limbs (n, keep, m)
    """
    L = P.limb_bits
    n, K_D, _ = D.limbs.shape
    _, K_P, m = P.limbs.shape
    # one GEMM for all K_D x K_P limb products: entries are exact integers below 2^53
    D_stack = D.limbs.transpose(1, 0, 2).reshape(K_D * n, n)
    P_stack = P.limbs.reshape(n, K_P * m).astype(np.float64)
    products = (D_stack @ P_stack).reshape(K_D, n, K_P, m).astype(np.int64)
    # the exact product needs `pad` more leading limbs once carries are propagated:
    # its digits sum to at most min(K_D, K_P) 2^53 times the weight of limb 0
    pad = -(-(FLOAT64_MANTISSA_BITS + 2 + min(K_D, K_P).bit_length()) // L)
    C = np.zeros((n, pad + K_D + K_P - 1, m), dtype=np.int64)
    for i in range(K_D):
        C[:, pad + i:pad + i + K_P, :] += products[i]  # digit i + j collects D_i P_j
    _carry(C, L)
    leading = np.flatnonzero(np.any(C != 0, axis=(0, 2)))
    if leading.size == 0:
        raise NumericalBreakdownError(
            "the product of Jacobians became exactly zero (a rank-deficient Jacobian "
            "annihilated the tangent vectors)")
    k0 = int(leading[0])
    kept = C[:, k0:k0 + keep, :]
    if kept.shape[1] < keep:
        kept = np.concatenate([kept, np.zeros((n, keep - kept.shape[1], m), np.int64)], axis=1)
    return BlockFloat(limbs=np.ascontiguousarray(kept),
                      exponent=D.exponent + P.exponent + L * (pad - k0), limb_bits=L,
                      exact=D.exact and P.exact and not C[:, k0 + keep:, :].any())


def _carry(C, L):
    """Propagate carries from the last limb to the first, in place: afterwards
    ``-2^(L-1) <= C[:, j, :] < 2^(L-1)`` for j >= 1, and the value is unchanged.

    C : (n, K, m) int64
    """
    half = 1 << (L - 1)
    for j in range(C.shape[1] - 1, 0, -1):
        carry = (C[:, j, :] + half) >> L  # nearest multiple of 2^L, in units of 2^L
        C[:, j, :] -= carry << L
        C[:, j - 1, :] += carry


def to_mpmath_columns(P, ctx):
    """The columns of the block-float matrix as lists of mpmath numbers at ``ctx.prec`` bits.

    Each entry's limbs are joined into one Python integer (exact), then rounded once to
    ``ctx.prec`` bits by ``ctx.ldexp``.

    P : BlockFloat (n, K, m)
    ctx : mpmath context (e.g. ``mpmath.MPContext()`` with ``prec`` set)
    returns : list of m lists of n mpf
    """
    n, K, m = P.limbs.shape
    L = P.limb_bits
    mantissa = P.limbs[:, 0, :].astype(object)
    for j in range(1, K):
        mantissa = mantissa * (1 << L) + P.limbs[:, j, :].astype(object)
    scale = P.exponent - L * (K - 1)
    return [[ctx.ldexp(ctx.mpf(int(v)), scale) for v in column] for column in mantissa.T]
