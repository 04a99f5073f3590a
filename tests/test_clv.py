"""floss_ref.core.clv: covariant Lyapunov vectors: the eigenvectors of a non-normal linear map,
the Henon map's vectors and rates, and covariance for a network and an ensemble."""

import numpy as np
import pytest

import henon
from floss_ref import FunctionMap, LinearMap, VanillaRNN
from floss_ref.core.clv import covariant_vectors


def test_clvs_of_a_non_normal_linear_map_are_its_eigenvectors():
    A = np.array([[2.0, 1.0, 0.3], [0.0, 1.0, 0.5], [0.0, 0.0, 0.5]])   # non-normal
    res = covariant_vectors(LinearMap(A), np.zeros(3), T=300, k=3, times=[100, 150, 200], transient=60, seed=0)
    eigvals, eigvecs = np.linalg.eig(A)
    order = np.argsort(-np.abs(eigvals))
    eigvecs = eigvecs[:, order] / np.linalg.norm(eigvecs[:, order], axis=0)
    for v in res.vectors:
        signs = np.sign(np.sum(v * eigvecs, axis=0))
        np.testing.assert_allclose(v * signs, eigvecs, atol=1e-10)
    np.testing.assert_allclose(res.rates, np.log(np.abs(eigvals[order])), atol=1e-10)


def test_clvs_of_the_henon_map():
    T = 20_000
    res = covariant_vectors(henon.henon_map(), np.array([0.1, 0.1]), T=T, k=2, times=range(500, T - 500, 5),
                            transient=500, seed=0)
    np.testing.assert_allclose(res.rates, [0.4192, -1.6232], atol=1e-2)
    np.testing.assert_allclose(res.rates, res.exponents, atol=1e-3)
    v = res.vectors
    cos = np.abs(np.sum(v[..., 0] * v[..., 1], axis=-1))
    angle = np.arccos(np.clip(cos, 0.0, 1.0))
    # the attractor has near-tangencies, but they are rare: few angles are small
    assert np.mean(angle < 0.01) < 0.01
    assert np.median(angle) > 0.5
    # unit columns, and D v_j(t) is parallel to v_j(t + 1) (covariance)
    np.testing.assert_allclose(np.linalg.norm(v, axis=-2), 1.0, atol=1e-12)


def test_clvs_are_covariant_for_a_network_and_an_ensemble():
    net = VanillaRNN.random(10, g=1.5, ensemble=(2,), seed=3)
    h0 = np.random.default_rng(4).standard_normal((2, 10))
    res = covariant_vectors(net, h0, T=600, k=3, times=[300, 301], transient=200, seed=5)
    # propagate h to step 300 and apply D_300 to the vectors at 300
    h = h0
    for _ in range(300):
        h, cache = net.step(h, None)
    _, cache = net.step(h, None)
    moved = net.tangent(cache, res.vectors[0])
    moved /= np.linalg.norm(moved, axis=-2, keepdims=True)
    signs = np.sign(np.sum(moved * res.vectors[1], axis=-2, keepdims=True))
    np.testing.assert_allclose(moved * signs, res.vectors[1], atol=1e-8)
    single = covariant_vectors(VanillaRNN({n: p[1] for n, p in net.params.items()}), h0[1], T=600, k=3,
                               times=[300, 301], transient=200, Q0=None, seed=np.random.default_rng(0))
    np.testing.assert_allclose(np.abs(single.vectors[:, :, :]), np.abs(res.vectors[:, 1]), atol=1e-8)


@pytest.mark.parametrize("kw,match", [
    (dict(k=3, times=[50]), "k must be"),
    (dict(k=2, times=[5]), r"times must lie in .* = \[10, 90\]"),
    (dict(k=2, times=[95]), r"times must lie in .* = \[10, 90\]"),
    (dict(k=2, times=[]), "at least one"),
    (dict(k=2, times=5), "sequence"),
])
def test_clv_bad_input(kw, match):
    with pytest.raises((ValueError, TypeError), match=match):
        covariant_vectors(henon.henon_map(), np.array([0.1, 0.1]), T=100, transient=10, seed=0, **kw)


@pytest.mark.parametrize("times, T, transient_backward", [([20], 20, 0), ([15], 20, 5), ([15, 15], 20, 5)])
def test_empty_averaging_window_is_refused_by_name(times, T, transient_backward):
    """times[0] = T - transient_backward leaves no step to average the rates over (NaN rates,
    or an IndexError at times[0] = T)."""
    with pytest.raises(ValueError, match="times\\[0\\].*transient_backward.*window is empty"):
        covariant_vectors(LinearMap(np.diag([2.0, 0.5])), np.zeros(2), T=T, k=2, times=times,
                          transient_backward=transient_backward, seed=0)


@pytest.mark.parametrize("A", [np.array([[1.0, 1.0], [0.0, 1e-155]]),     # strong contraction: R^-1 C overflows when squared
                               np.array([[1e155, 1.0], [0.0, 1.0]])])     # strong expansion: its squares underflow
def test_strong_contraction_or_expansion_per_step_gives_finite_vectors(A):
    """A ratio of 1e-155 between two directions per step: the column lengths of R^-1 C leave
    the range of their squares; the backward pass rescales by powers of 2 (was NaN)."""
    res = covariant_vectors(LinearMap(A), np.zeros(2), T=30, k=2, times=[10, 20], transient=10, seed=0)
    assert np.all(np.isfinite(res.vectors)) and np.all(np.isfinite(res.rates))
    np.testing.assert_allclose(res.rates, np.log(np.diag(A)), rtol=1e-12, atol=1e-12)
    eigvecs = np.linalg.eig(A)[1][:, np.argsort(-np.abs(np.diag(A)))]
    eigvecs /= np.linalg.norm(eigvecs, axis=0)
    for v in res.vectors:
        np.testing.assert_allclose(np.abs(v), np.abs(eigvecs), atol=1e-12)


def test_stored_factors_beyond_memory_are_refused_by_name():
    with pytest.raises(ValueError, match="covariant vectors from times\\[0\\] = 0 to T = 1000000000000.*GiB"):
        covariant_vectors(LinearMap(np.eye(2)), np.zeros(2), T=10 ** 12, k=2, times=[0], seed=0)


# ---- bad input found by tests/test_properties.py ---------------------------------------------------------


@pytest.mark.parametrize("times", [np.array(2.0), np.array(4), 4, "4"])
def test_times_that_is_no_sequence_is_refused_by_name(times):
    with pytest.raises(TypeError, match="times must be a sequence of time steps"):
        covariant_vectors(LinearMap(np.eye(2)), np.ones(2), T=8, k=1, times=times)


def test_an_unknown_qr_method_is_refused_before_any_work():
    calls = []

    def step(h, x):
        calls.append(1)
        return h

    with pytest.raises(ValueError, match="qr_method must be one of"):
        covariant_vectors(FunctionMap(step, lambda h, x, Q: Q, 2), np.ones(2), T=8, k=1, times=[4], qr_method="qr")
    assert not calls


def test_an_empty_window_names_the_transient_that_set_it():
    """transient_backward defaults to transient: the refusal says so, naming the argument given."""
    with pytest.raises(ValueError, match=r"T - transient_backward \(= transient\) = 4: that window is empty"):
        covariant_vectors(LinearMap(np.eye(2)), np.ones(2), T=8, k=1, times=[4], transient=4)
