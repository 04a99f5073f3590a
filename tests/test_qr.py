"""Tests for floss_ref.core.qr: the thin QR of the Benettin step (between Eqs. 6 and 7), its
tangent rule and its pullback (Eq. 8 = Eq. 11).

Gradient checks at two levels (docs/derivations.md, section 1): the dot-product test
<A_bar, A_dot> = <Q_bar, Q_dot> + <R_bar, R_dot> between qr_vjp and qr_jvp (round-off
exact), and central finite differences of the forward map.
"""

import doctest
import math
import importlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from floss_ref.errors import NumericalBreakdownError, SingularRError
from floss_ref.core.qr import householder_qr, qr, qr_jvp, qr_vjp

METHODS = ("lapack", "householder", "cholqr2")
# (..., N, k): square, tall, a single column, batched with one and two leading axes
SHAPES = [(1, 1), (5, 5), (7, 3), (9, 1), (80, 75), (3, 6, 4), (2, 3, 5, 5)]


def mT(X):
    """Transpose of the last two axes."""
    return np.swapaxes(X, -1, -2)


def inner(X, Y):
    """<X, Y> = sum(X * Y), summed over all axes (batch included)."""
    return float(np.sum(X * Y))


def eye_like(Q):
    """I_k broadcast to the batch shape of Q : (..., N, k)."""
    return np.broadcast_to(np.eye(Q.shape[-1]), Q.shape[:-2] + (Q.shape[-1],) * 2)


def random_problem(rng, shape):
    """A : (..., N, k) with its QR, a tangent A_dot and cotangents Q_bar, R_bar."""
    A = rng.standard_normal(shape)
    Q, R = qr(A)
    A_dot = rng.standard_normal(shape)
    Q_bar = rng.standard_normal(Q.shape)
    R_bar = rng.standard_normal(R.shape)
    return A, Q, R, A_dot, Q_bar, R_bar


def dot_product_residual(Q, R, A_dot, Q_bar, R_bar):
    """|<A_bar, A_dot> - <Q_bar, Q_dot> - <R_bar, R_dot>| over its Cauchy-Schwarz scale."""
    A_bar = qr_vjp(Q, R, Q_bar, R_bar)
    Q_dot, R_dot = qr_jvp(Q, R, A_dot)
    lhs = inner(A_bar, A_dot)
    rhs = inner(Q_bar, Q_dot) + inner(R_bar, R_dot)
    scale = (np.linalg.norm(Q_bar) * np.linalg.norm(Q_dot)
             + np.linalg.norm(R_bar) * np.linalg.norm(R_dot))
    return abs(lhs - rhs) / scale


# ---------------------------------------------------------------------------------------
# Forward
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
def test_householder_matches_lapack(shape):
    A = np.random.default_rng(0).standard_normal(shape)
    Q_h, R_h = householder_qr(A)
    Q_l, R_l = qr(A, method="lapack")
    # same factorisation (unique for full rank with diag(R) > 0), up to round-off
    np.testing.assert_allclose(Q_h, Q_l, rtol=0, atol=1e-12)
    np.testing.assert_allclose(R_h, R_l, rtol=0, atol=1e-12 * np.abs(A).max())
    Q_q, R_q = qr(A, method="householder")
    np.testing.assert_array_equal(Q_q, Q_h)
    np.testing.assert_array_equal(R_q, R_h)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("shape", SHAPES)
def test_factorisation_properties(method, shape):
    A = np.random.default_rng(1).standard_normal(shape)
    Q, R = qr(A, method=method)
    assert Q.shape == shape and R.shape == shape[:-2] + (shape[-1], shape[-1])
    np.testing.assert_allclose(mT(Q) @ Q, eye_like(Q), rtol=0, atol=1e-13)
    np.testing.assert_allclose(Q @ R, A, rtol=0, atol=1e-13 * np.abs(A).max())
    assert np.all(np.tril(R, -1) == 0)                          # exactly upper triangular
    assert np.all(np.diagonal(R, axis1=-2, axis2=-1) > 0)       # sign convention


@pytest.mark.parametrize("method", METHODS)
def test_sign_convention_for_negative_diagonal(method):
    # -I = (-I)(I): LAPACK's own R would have negative diagonal, ours is the identity
    Q, R = qr(-np.eye(4), method=method)
    np.testing.assert_array_equal(R, np.eye(4))
    np.testing.assert_array_equal(Q, -np.eye(4))


@pytest.mark.parametrize("method", METHODS)
def test_zero_column_keeps_Q_orthonormal(method):
    rng = np.random.default_rng(2)
    A = rng.standard_normal((3, 7, 4))
    A[1, :, 2] = 0.0
    A[2, :, 0] = 0.0
    Q, R = qr(A, method=method)
    np.testing.assert_allclose(mT(Q) @ Q, eye_like(Q), rtol=0, atol=1e-13)
    np.testing.assert_allclose(Q @ R, A, rtol=0, atol=1e-13 * np.abs(A).max())
    diag = np.diagonal(R, axis1=-2, axis2=-1)
    assert np.all(diag >= 0)
    assert abs(diag[1, 2]) <= 1e-14 and abs(diag[2, 0]) <= 1e-14
    if method == "householder":
        assert diag[1, 2] == 0.0 and diag[2, 0] == 0.0


@pytest.mark.parametrize("method", METHODS)
def test_forward_accepts_integers_and_does_not_mutate(method):
    A = np.array([[3, 1], [4, 2], [0, 5]])
    A_copy = A.copy()
    Q, R = qr(A, method=method)
    assert Q.dtype == np.float64 and R.dtype == np.float64
    np.testing.assert_array_equal(A, A_copy)
    np.testing.assert_allclose(Q @ R, A, atol=1e-14 * 5)
    assert R[0, 0] == pytest.approx(5.0)


@pytest.mark.parametrize("method", METHODS)
def test_empty_batch(method):
    Q, R = qr(np.zeros((0, 5, 3)), method=method)
    assert Q.shape == (0, 5, 3) and R.shape == (0, 3, 3)
    assert qr_vjp(Q, R, Q, R).shape == (0, 5, 3)
    Q_dot, R_dot = qr_jvp(Q, R, Q)
    assert Q_dot.shape == (0, 5, 3) and R_dot.shape == (0, 3, 3)


# ---------------------------------------------------------------------------------------
# Tangent rule and pullback (Eq. 8/11)
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES)
def test_dot_product_vjp_against_jvp(shape):
    _, Q, R, A_dot, Q_bar, R_bar = random_problem(np.random.default_rng(3), shape)
    assert dot_product_residual(Q, R, A_dot, Q_bar, R_bar) <= 1e-12


@pytest.mark.parametrize("shape", [(5, 5), (7, 3), (2, 6, 4)])
def test_jvp_structure_and_finite_differences(shape):
    rng = np.random.default_rng(4)
    A, Q, R, A_dot, _, _ = random_problem(rng, shape)
    Q_dot, R_dot = qr_jvp(Q, R, A_dot)
    Omega = mT(Q) @ Q_dot
    np.testing.assert_allclose(Omega, -mT(Omega), atol=1e-13)   # skew-symmetric
    assert np.all(np.tril(R_dot, -1) == 0)                      # upper triangular
    np.testing.assert_allclose(Q_dot @ R + Q @ R_dot, A_dot, atol=1e-12)
    h = 1e-6
    (Q_p, R_p), (Q_m, R_m) = qr(A + h * A_dot), qr(A - h * A_dot)
    np.testing.assert_allclose((Q_p - Q_m) / (2 * h), Q_dot, rtol=0, atol=1e-7)
    np.testing.assert_allclose((R_p - R_m) / (2 * h), R_dot, rtol=0, atol=1e-7)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("shape", [(1, 1), (4, 4), (8, 3), (2, 6, 4)])
def test_vjp_central_finite_differences(method, shape):
    """d/de f(A + e A_dot) at e = 0 equals <A_bar, A_dot> for f = <Q_bar, Q> + <R_bar, R>."""
    rng = np.random.default_rng(5)
    A, Q, R, _, Q_bar, R_bar = random_problem(rng, shape)
    A_bar = qr_vjp(Q, R, Q_bar, R_bar)

    def f(A):
        Q, R = qr(A, method=method)
        return inner(Q_bar, Q) + inner(R_bar, R)

    h = 1e-5
    for _ in range(3):
        A_dot = rng.standard_normal(shape)
        fd = (f(A + h * A_dot) - f(A - h * A_dot)) / (2 * h)
        assert inner(A_bar, A_dot) == pytest.approx(fd, rel=1e-7, abs=1e-9)


@pytest.mark.parametrize("shape", [(1, 1), (6, 6), (9, 4), (3, 7, 5)])
def test_vjp_of_sum_log_diag_is_pinv_transpose(shape):
    """L = sum_i log R_ii (Eq. 7) gives R_bar = diag(1 / R_ii) and A_bar = pinv(A)^T."""
    A = np.random.default_rng(6).standard_normal(shape)
    Q, R = qr(A)
    diag = np.diagonal(R, axis1=-2, axis2=-1)
    R_bar = eye_like(Q) / diag[..., None, :]
    A_bar = qr_vjp(Q, R, None, R_bar)
    np.testing.assert_allclose(A_bar, mT(np.linalg.pinv(A)), rtol=0, atol=1e-11)
    np.testing.assert_allclose(A_bar, qr_vjp(Q, R, np.zeros_like(Q), R_bar), atol=1e-15)


def test_vjp_none_means_zero_and_lower_R_bar_is_ignored():
    _, Q, R, _, Q_bar, R_bar = random_problem(np.random.default_rng(7), (2, 6, 4))
    np.testing.assert_array_equal(qr_vjp(Q, R, None, None), np.zeros(Q.shape))
    np.testing.assert_allclose(qr_vjp(Q, R, Q_bar, None),
                               qr_vjp(Q, R, Q_bar, np.zeros_like(R)), atol=1e-14)
    np.testing.assert_allclose(qr_vjp(Q, R, None, R_bar),
                               qr_vjp(Q, R, np.zeros_like(Q), R_bar), atol=1e-14)
    # the strictly lower triangle of R is identically zero, so it carries no gradient
    np.testing.assert_array_equal(qr_vjp(Q, R, Q_bar, R_bar),
                                  qr_vjp(Q, R, Q_bar, np.triu(R_bar)))


@st.composite
def conditioned_problems(draw):
    """Shapes (batch..., N, k) and A with column scales spanning up to 6 decades."""
    k = draw(st.integers(1, 8))
    N = draw(st.integers(k, 12))
    batch = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    decades = draw(st.floats(0.0, 6.0))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    # orthonormal columns times graded scales: kappa_2(A) = 10**decades exactly
    basis, _ = np.linalg.qr(rng.standard_normal(batch + (N, k)))
    mixing, _ = np.linalg.qr(rng.standard_normal(batch + (k, k)))
    scales = 10.0 ** -np.linspace(0.0, decades, k)
    A = (basis * scales) @ mixing
    return A, rng


@settings(max_examples=100, deadline=None)
@given(conditioned_problems())
def test_dot_product_hypothesis(problem):
    A, rng = problem
    Q, R = qr(A)
    A_dot = rng.standard_normal(A.shape)
    Q_bar = rng.standard_normal(Q.shape)
    R_bar = rng.standard_normal(R.shape)
    # Both rules apply R^{-1}, so round-off grows like eps * kappa_2(R): measured worst
    # case about 2 eps kappa_2(R), i.e. ~5e-12 at kappa = 1e5 and below 1e-12 up to 1e4.
    kappa = float(np.max(np.linalg.cond(R)))
    tolerance = max(1e-12, 10 * np.finfo(np.float64).eps * kappa)
    assert dot_product_residual(Q, R, A_dot, Q_bar, R_bar) <= tolerance
    assert np.all(np.isfinite(qr_vjp(Q, R, Q_bar, R_bar)))


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 9).flatmap(lambda k: st.tuples(
    st.lists(st.integers(1, 3), max_size=2), st.integers(k, 14), st.just(k),
    st.integers(0, 2**32 - 1))))
def test_householder_matches_lapack_hypothesis(case):
    batch, N, k, seed = case
    A = np.random.default_rng(seed).standard_normal(tuple(batch) + (N, k))
    Q_h, R_h = householder_qr(A)
    Q_l, R_l = qr(A)
    np.testing.assert_allclose(mT(Q_h) @ Q_h, eye_like(Q_h), rtol=0, atol=1e-13)
    assert np.all(np.diagonal(R_h, axis1=-2, axis2=-1) > 0)
    # Q is as well determined as kappa_2(A) allows
    tolerance = 1e-13 * max(1.0, float(np.max(np.linalg.cond(A))))
    np.testing.assert_allclose(Q_h, Q_l, rtol=0, atol=tolerance)
    np.testing.assert_allclose(R_h, R_l, rtol=0, atol=tolerance * np.abs(A).max())


def test_docstring_examples():
    # the package re-exports the function qr, which shadows the submodule attribute
    module = importlib.import_module("floss_ref.core.qr")
    result = doctest.testmod(module, extraglobs={"np": np})
    assert result.attempted > 0 and result.failed == 0


# ---------------------------------------------------------------------------------------
# Bad input and breakdown
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("A, error, words", [
    (np.ones((2, 3)), ValueError, "N >= k"),                     # wide
    (np.ones((4, 3, 5)), ValueError, "N >= k"),
    (np.ones(3), ValueError, "dimension"),                       # 1-D
    (np.ones((3, 0)), ValueError, "column"),
    (np.array([[1.0, np.nan], [0.0, 1.0]]), ValueError, "NaN"),
    (np.array([[1.0, 0.0], [np.inf, 1.0]]), ValueError, "infinite"),
    ("abc", TypeError, "A must be"),
    ([["a", "b"], ["c", "d"]], TypeError, "A must be"),
    (np.ones((2, 2), dtype=complex), TypeError, "A must be"),
    (None, TypeError, "A must be"),
])
def test_forward_rejects_bad_input(method, A, error, words):
    with pytest.raises(error, match=words):
        qr(A, method=method)
    with pytest.raises(error, match=words):
        householder_qr(A)


@pytest.mark.parametrize("method", ["svd", "LAPACK"])
def test_unknown_method(method):
    with pytest.raises(ValueError, match="method"):
        qr(np.eye(3), method=method)


@pytest.mark.parametrize("method", [None, np.array(["householder"]), ["lapack"], b"lapack"])
def test_a_method_that_is_no_string_is_refused_by_name(method):
    """An array holding a method's name compared equal to it, element-wise: it was taken as that method."""
    with pytest.raises(TypeError, match="method must be one of .*a string"):
        qr(np.eye(3), method=method)


@pytest.mark.parametrize("qr_fn", [qr, householder_qr])
def test_a_column_whose_norm_overflows_is_a_breakdown_not_inf(qr_fn):
    """Finite entries of 1.5e308 have a column norm beyond float64: R_11 = inf and Q = NaN came back."""
    with pytest.raises(NumericalBreakdownError, match="QR of A overflowed"):
        qr_fn(np.full((2, 1), 1.5e308))
    Q, R = qr_fn(np.full((2, 1), 1e150))    # the Householder loop squares the entries: 1e300 is fine
    np.testing.assert_allclose(R, [[math.sqrt(2) * 1e150]])


def test_qr_jvp_refuses_a_missing_tangent_and_an_overflow():
    A = np.random.default_rng(3).standard_normal((4, 2))
    Q, R = qr(A)
    with pytest.raises(TypeError, match="A_dot"):
        qr_jvp(Q, R, None)
    with pytest.raises(NumericalBreakdownError, match="qr_jvp overflowed"):
        qr_jvp(Q, R, np.full((4, 2), 1e308))


def _singular_column(kind):
    """A : (2, 6, 4) whose entry [1] has column 2 zero or 1e-20 times the others."""
    A = np.random.default_rng(8).standard_normal((2, 6, 4))
    A[1, :, 2] *= 0.0 if kind == "zero" else 1e-20
    return A


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("kind", ["zero", "tiny"])
def test_singular_R_raises_naming_j(method, kind):
    Q, R = qr(_singular_column(kind), method=method)
    Q_bar, R_bar = np.ones_like(Q), np.ones_like(R)
    expected = r"j = 2 \(0-based\) \(batch index \(1,\)\).*collapsed.*t_ONS.*fewer exponents k"
    with pytest.raises(SingularRError, match=expected):
        qr_vjp(Q, R, Q_bar, R_bar)
    with pytest.raises(SingularRError, match="j = 2"):
        qr_jvp(Q, R, np.ones_like(Q))
    with pytest.raises(NumericalBreakdownError):                # SingularRError's base
        qr_vjp(Q, R, None, R_bar)
    if kind == "tiny":
        with pytest.raises(SingularRError, match=r"\|R\[2, 2\]\| / \|R\[0, 0\]\|"):
            qr_vjp(Q, R, Q_bar, R_bar)


def test_rtol_controls_the_singularity_test():
    rng = np.random.default_rng(9)
    A = rng.standard_normal((6, 4))
    A[:, 3] *= 1e-9                                             # |R_44 / R_11| ~ 1e-9
    Q, R = qr(A)
    Q_bar, R_bar = rng.standard_normal(Q.shape), rng.standard_normal(R.shape)
    assert np.all(np.isfinite(qr_vjp(Q, R, Q_bar, R_bar)))     # default rtol ~ 1e-15
    with pytest.raises(SingularRError, match="j = 3"):
        qr_vjp(Q, R, Q_bar, R_bar, rtol=1e-6)
    A[:, 3] *= 1e-12                                            # ratio ~ 1e-21
    Q, R = qr(A)
    assert np.all(np.isfinite(qr_vjp(Q, R, Q_bar, R_bar, rtol=0)))
    with pytest.raises(ValueError, match="rtol"):
        qr_vjp(Q, R, Q_bar, R_bar, rtol=-1.0)
    with pytest.raises(TypeError, match="rtol"):
        qr_vjp(Q, R, Q_bar, R_bar, rtol="small")


def test_vjp_overflow_raises_instead_of_returning_inf():
    # R_22 / R_11 = 1e-10 passes the singularity test, but a cotangent of 1e300 outside
    # span(Q) is amplified by 1 / R_22 beyond the float64 range
    Q, R = qr(np.array([[1.0, 0.0], [0.0, 1e-10], [0.0, 0.0]]))
    Q_bar = np.zeros(Q.shape)
    Q_bar[2, 1] = 1e300
    with pytest.raises(NumericalBreakdownError, match="overflow"):
        qr_vjp(Q, R, Q_bar, None)


@pytest.mark.parametrize("args, error, words", [
    (dict(Q=np.eye(3)[:, :2], R=np.eye(3)), ValueError, "R must have trailing shape"),
    (dict(Q=np.ones((2, 4, 3)), R=np.ones((3, 3, 3))), ValueError, "batch"),
    (dict(Q_bar=np.ones((4, 3))), ValueError, "Q_bar must have the shape"),
    (dict(R_bar=np.ones((2, 2))), ValueError, "R_bar must have the shape"),
    (dict(Q_bar=np.full((5, 3), np.nan)), ValueError, "Q_bar contains NaN"),
    (dict(R_bar="zero"), TypeError, "R_bar must be"),
    (dict(Q=np.ones(5)), ValueError, "Q must have at least 2"),
    (dict(Q=np.ones((2, 3))), ValueError, "N >= k"),
])
def test_vjp_rejects_bad_input(args, error, words):
    Q, R = qr(np.random.default_rng(10).standard_normal((5, 3)))
    kwargs = dict(Q=Q, R=R, Q_bar=np.ones((5, 3)), R_bar=np.ones((3, 3)))
    kwargs.update(args)
    with pytest.raises(error, match=words):
        qr_vjp(**kwargs)


def test_jvp_rejects_bad_tangent():
    Q, R = qr(np.random.default_rng(11).standard_normal((5, 3)))
    with pytest.raises(ValueError, match="A_dot"):
        qr_jvp(Q, R, np.ones((5, 2)))
    with pytest.raises(ValueError, match="A_dot contains NaN"):
        qr_jvp(Q, R, np.full((5, 3), np.inf))


# ---------------------------------------------------------------------------------------
# The fast paths of the hot loops (issue "Speed"): same results as the plain forms
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(5, 5), (80, 75), (3, 6, 4)])
@pytest.mark.parametrize("with_Q_bar", [True, False])
def test_vjp_with_diagonal_R_bar_given_by_its_diagonal(shape, with_Q_bar):
    """The Benettin adjoint passes R_bar = diag(d) as d (R R_bar^T is then a column
    scaling of R); the result must be that of the full matrix diag(d)."""
    from floss_ref.core.qr import default_rtol, qr_vjp_unchecked
    rng = np.random.default_rng(12)
    _, Q, R, _, Q_bar, _ = random_problem(rng, shape)
    Q_bar = Q_bar if with_Q_bar else None
    d = rng.standard_normal(R.shape[:-1])
    full = qr_vjp(Q, R, Q_bar, d[..., :, None] * np.eye(R.shape[-1]))
    fast = qr_vjp_unchecked(Q, R, Q_bar, None, default_rtol(None, *Q.shape[-2:]), R_bar_diag=d)
    np.testing.assert_allclose(fast, full, rtol=0, atol=1e-13 * np.abs(full).max())


def test_vjp_does_not_depend_on_memory_order():
    """LAPACK's Q is Fortran-ordered; the pullback's triangular solve and products must
    give the same cotangent for C- and Fortran-ordered factors."""
    _, Q, R, _, Q_bar, R_bar = random_problem(np.random.default_rng(13), (9, 6))
    ref = qr_vjp(np.ascontiguousarray(Q), np.ascontiguousarray(R), Q_bar, R_bar)
    got = qr_vjp(np.asfortranarray(Q), np.asfortranarray(R), np.asfortranarray(Q_bar), R_bar)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-14 * np.abs(ref).max())
