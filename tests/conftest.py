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


# a small training run (N = 12, 8 epochs, with flossing episodes and diagnostics) shared by the
# tests of runs, BPTT, the train/demo command and the plots: TrainConfig(task=..., delay=..., **SMALL)
SMALL = dict(N=12, T=24, batch=4, epochs=8, diag_every=3, floss_epochs=3, floss_T=12,
             floss_transient=2, k=4, diag_k=3, test_batch=8)
