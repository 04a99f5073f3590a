"""floss_ref.core.precision.blockfloat: exact limbs and exact block-floating-point products,
the rounding of what is kept, and the conversion to mpmath."""

from fractions import Fraction

import mpmath
import numpy as np
import pytest

from floss_ref.errors import NumericalBreakdownError
from floss_ref.core.precision import blockfloat


def exact_value(B):
    """The block-float matrix as a numpy object array of Fractions (exact)."""
    n, K, m = B.limbs.shape
    L = B.limb_bits
    out = np.empty((n, m), dtype=object)
    for i in range(n):
        for j in range(m):
            total = sum(Fraction(int(B.limbs[i, k, j])) * Fraction(2) ** (-L * k) for k in range(K))
            out[i, j] = total * Fraction(2) ** B.exponent
    return out


def as_fractions(A):
    return np.vectorize(Fraction, otypes=[object])(A)


def wide_range_matrix(rng, shape):
    """Float64 entries spanning ~40 binary orders of magnitude, like W diag(phi') with saturated units."""
    return rng.standard_normal(shape) * 2.0 ** rng.integers(-40, 1, shape)


@pytest.mark.parametrize("n", [1, 2, 3, 12, 80, 1000])
def test_limb_bits_is_the_largest_exact_size(n):
    L = blockfloat.limb_bits_for(n)
    assert n * 2 ** (2 * L - 2) <= 2 ** 53 < n * 2 ** (2 * L)


def test_from_float_is_exact_and_balanced():
    rng = np.random.default_rng(0)
    A = wide_range_matrix(rng, (7, 5))
    B = blockfloat.from_float(A, 24, 20)
    assert B.exact
    assert np.max(np.abs(B.limbs)) <= 2 ** 23
    assert np.array_equal(exact_value(B), as_fractions(A))


def test_from_float_truncation_is_within_the_last_limb():
    rng = np.random.default_rng(1)
    A = wide_range_matrix(rng, (6, 6))
    B = blockfloat.from_float(A, 24, 2)  # 48 bits: fewer than the entries span
    assert not B.exact
    err = np.abs((exact_value(B) - as_fractions(A)).astype(float))
    assert np.max(err) <= 2.0 ** -24 * np.max(np.abs(A))


def test_matmul_keeping_every_limb_is_exact():
    rng = np.random.default_rng(2)
    n, m, L = 9, 4, blockfloat.limb_bits_for(9)
    D = blockfloat.from_float(wide_range_matrix(rng, (n, n)), L, 10)
    P = blockfloat.from_float(rng.standard_normal((n, m)), L, 10)
    full = blockfloat.matmul(D, P, 40)
    assert full.exact
    assert np.array_equal(exact_value(full), exact_value(D).dot(exact_value(P)))


def test_matmul_rounding_error_is_below_prec_bits_of_the_largest_entry():
    rng = np.random.default_rng(3)
    n, m = 30, 5
    L = blockfloat.limb_bits_for(n)
    K = blockfloat.limbs_for(100, L)
    P = blockfloat.from_float(rng.standard_normal((n, m)), L, K)
    exact = exact_value(P)
    for _ in range(5):
        Dm = wide_range_matrix(rng, (n, n))
        P = blockfloat.matmul(blockfloat.from_float(Dm, L, K), P, K)
        exact = as_fractions(Dm).dot(exact)
        err = np.abs((exact_value(P) - exact).astype(float))
        assert np.max(err) <= 2.0 ** -100 * np.max(np.abs(exact.astype(float)))
        assert np.max(np.abs(P.limbs)) <= 2 ** (L - 1)


def test_matmul_of_zero_jacobian_raises():
    with pytest.raises(NumericalBreakdownError):
        blockfloat.from_float(np.zeros((3, 3)), 24, 4)


def test_to_mpmath_columns_round_once():
    rng = np.random.default_rng(4)
    A = rng.standard_normal((5, 3))
    ctx = mpmath.MPContext()
    ctx.prec = 53
    cols = blockfloat.to_mpmath_columns(blockfloat.from_float(A, 24, 5), ctx)
    assert np.array_equal(np.array([[float(v) for v in c] for c in cols]).T, A)


def test_from_float_reports_entries_lost_in_scaling():
    A = np.array([[1e300, 0.0], [0.0, 5e-324]])  # 2000 binary orders apart
    assert not blockfloat.from_float(A, 24, 1000).exact
