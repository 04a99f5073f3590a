import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# Property-based tests (tests/test_properties.py).  "ci", the default, draws the same examples on every
# run (derandomize), writes no example database and has no deadline or timing health check, so that a
# loaded machine changes the run time but never the verdict.  "thorough" draws many more examples, for
# the twin tests marked slow (deselected in CI with -m "not slow"); HYPOTHESIS_PROFILE=thorough makes
# every property test use it.
settings.register_profile("ci", max_examples=40, derandomize=True, database=None, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow], print_blob=True)
settings.register_profile("thorough", max_examples=300, database=None, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow], print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


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
