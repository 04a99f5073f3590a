"""floss_ref.core.qr_fast, the fast paths of the thin QR: LAPACK's QR called directly and
Cholesky QR twice (with its fallback to LAPACK) give the factors of the plain forms, with
diag(R) > 0."""

import numpy as np
import pytest

from floss_ref.core.qr import householder_qr, qr
from floss_ref.core.qr_fast import cholqr2, lapack_qr

# (..., N, k): the shapes of test_qr.py
SHAPES = [(1, 1), (5, 5), (7, 3), (9, 1), (80, 75), (3, 6, 4), (2, 3, 5, 5)]


def test_lapack_qr_and_cholqr2_agree_with_householder_qr():
    """Both paths called directly on a random 8 x 5 block: householder_qr's factors to
    round-off, and diag(R) > 0."""
    A = np.random.default_rng(10).standard_normal((8, 5))
    Q_h, R_h = householder_qr(A)
    for Q, R in (lapack_qr(A), cholqr2(A)):
        np.testing.assert_allclose(Q, Q_h, rtol=0, atol=1e-13)
        np.testing.assert_allclose(R, R_h, rtol=0, atol=1e-13)
        assert np.all(np.diagonal(R) > 0)


# ---------------------------------------------------------------------------------------
# qr_method="lapack": geqrf / orgqr called directly (issue "Speed")
# ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("shape", SHAPES + [(16, 32, 32)])
def test_direct_lapack_calls_match_numpy_qr(shape):
    """qr(A, "lapack") calls geqrf / orgqr directly (per matrix of a batch); it must give
    np.linalg.qr's factorisation with the sign convention, to round-off."""
    from floss_ref.core.qr import positive_diagonal
    A = np.random.default_rng(11).standard_normal(shape)
    Q, R = qr(A)
    Q_np, R_np = positive_diagonal(*np.linalg.qr(A, mode="reduced"))
    np.testing.assert_allclose(Q, Q_np, rtol=0, atol=1e-13)
    np.testing.assert_allclose(R, R_np, rtol=0, atol=1e-13 * np.abs(A).max())
    assert np.all(np.tril(R, -1) == 0) and np.all(np.diagonal(R, axis1=-2, axis2=-1) > 0)


# ---------------------------------------------------------------------------------------
# qr_method="cholqr2": Cholesky QR twice, with its fallback to LAPACK
# ---------------------------------------------------------------------------------------

def _with_condition(rng, N, k, cond):
    """An N x k matrix with singular values spaced geometrically from 1 to 1/cond."""
    U = np.linalg.qr(rng.standard_normal((N, k)))[0]
    V = np.linalg.qr(rng.standard_normal((k, k)))[0]
    return (U * np.geomspace(1.0, 1.0 / cond, k)) @ V.T


@pytest.mark.parametrize("cond", [1.0, 1e3, 1e5])
@pytest.mark.parametrize("N, k", [(80, 75), (40, 10), (32, 32)])
def test_cholqr2_matches_lapack_without_fallback(N, k, cond):
    import warnings
    from floss_ref.core.qr import QRFallbackWarning
    A = _with_condition(np.random.default_rng(13), N, k, cond)
    with warnings.catch_warnings():
        warnings.simplefilter("error", QRFallbackWarning)     # a fallback here would fail the test
        Q, R = qr(A, method="cholqr2")
    Q_l, R_l = qr(A)
    np.testing.assert_allclose(Q.T @ Q, np.eye(k), rtol=0, atol=1e-14)            # orthonormal to round-off
    np.testing.assert_allclose(Q @ R, A, rtol=0, atol=1e-14)
    np.testing.assert_allclose(Q, Q_l, rtol=0, atol=1e-15 * cond * k)             # the same factors
    np.testing.assert_allclose(R, R_l, rtol=0, atol=1e-15 * cond * k)
    assert np.all(np.tril(R, -1) == 0) and np.all(np.diagonal(R) > 0)


@pytest.mark.parametrize("cond", [1e8, 1e12, np.inf])
def test_cholqr2_falls_back_to_lapack_with_a_warning(cond):
    from floss_ref.core.qr import QRFallbackWarning
    rng = np.random.default_rng(14)
    A = _with_condition(rng, 30, 8, 1e3)
    if np.isinf(cond):
        A[:, 3] = A[:, 1]                                      # rank deficient
    else:
        A = _with_condition(rng, 30, 8, cond)
    with pytest.warns(QRFallbackWarning, match="30 x 8 block"):
        Q, R = qr(A, method="cholqr2")
    Q_l, R_l = qr(A)
    np.testing.assert_array_equal(Q, Q_l)                      # LAPACK's factors themselves
    np.testing.assert_array_equal(R, R_l)


def test_cholqr2_batch_falls_back_per_block():
    from floss_ref.core.qr import QRFallbackWarning
    rng = np.random.default_rng(15)
    A = np.stack([_with_condition(rng, 12, 5, 10.0), _with_condition(rng, 12, 5, 1e10)])
    with pytest.warns(QRFallbackWarning) as record:
        Q, R = qr(A, method="cholqr2")
    assert len([w for w in record if issubclass(w.category, QRFallbackWarning)]) == 1
    Q_l, R_l = qr(A)
    np.testing.assert_allclose(Q[0], Q_l[0], rtol=0, atol=1e-14)
    np.testing.assert_array_equal(Q[1], Q_l[1])


def test_cholqr2_in_the_flossing_gradient_matches_lapack():
    """The pullback does not depend on how Q and R were computed: the flossing loss and
    gradient with qr_method="cholqr2" equal those with "lapack" to round-off."""
    from floss_ref import VanillaRNN, flossing_grad
    rng = np.random.default_rng(16)
    net = VanillaRNN.random(24, 1, 1.0, seed=rng)
    h0, xs = rng.standard_normal(24), rng.standard_normal((60, 1))
    a = flossing_grad(net, h0, xs, k=12, seed=1, qr_method="lapack")
    b = flossing_grad(net, h0, xs, k=12, seed=1, qr_method="cholqr2")
    assert b.loss == pytest.approx(a.loss, rel=1e-12)
    np.testing.assert_allclose(b.exponents, a.exponents, rtol=0, atol=1e-13)
    for name in a.grads:
        np.testing.assert_allclose(b.grads[name], a.grads[name], rtol=0, atol=1e-10 * np.abs(a.grads[name]).max())
