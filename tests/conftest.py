import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def inner(a, b):
    """Euclidean inner product of two arrays or two dicts of arrays."""
    if isinstance(a, dict):
        return sum(float(np.sum(a[key] * b[key])) for key in a if key in b)
    return float(np.sum(np.asarray(a) * np.asarray(b)))


def random_like_params(params, rng):
    return {name: rng.standard_normal(p.shape) for name, p in params.items()}
