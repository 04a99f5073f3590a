"""floss_ref.core.maps: a FunctionMap checks what the user's functions return, and a correct
one gives the Henon map's exponents (regression tests of the issue "Reliability", row F2)."""

import numpy as np
import pytest

import henon
from floss_ref import FunctionMap, lyapunov_spectrum


# F2: FunctionMap checks what the user's functions return

@pytest.mark.parametrize("step, tangent, match", [
    (henon.step, lambda h, x, Q: henon.tangent(h, x, Q)[..., :1], r"tangent\(h, x, Q\) returned shape \(2, 1\)"),
    (henon.step, lambda h, x, Q: np.concatenate([henon.tangent(h, x, Q), Q[:1]], axis=-2), r"tangent.*shape \(3, 2\)"),
    (lambda h, x: np.zeros(3), henon.tangent, r"step\(h, x\) returned shape \(3,\)"),
    (henon.step, lambda h, x, Q: None, r"tangent\(h, x, Q\) must return a real array.*NoneType"),
    (henon.step, lambda h, x, Q: 1.0, r"tangent\(h, x, Q\) returned shape \(\)"),
    (henon.step, lambda h, x, Q: [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]], r"tangent.*shape \(3, 2\)"),
    (henon.step, lambda h, x, Q: henon.tangent(h, x, Q) + 0j, r"tangent.*real floating-point.*complex"),
    (lambda h, x: "abc", henon.tangent, r"step\(h, x\) must return a real array"),
])
def test_F2_function_map_outputs_of_the_wrong_shape_or_kind_are_refused(step, tangent, match):
    with pytest.raises((ValueError, TypeError), match=match):
        lyapunov_spectrum(FunctionMap(step, tangent, 2), np.array([0.1, 0.1]), T=50, k=2, seed=0)


def test_F2_a_correct_function_map_still_gives_the_henon_exponents():
    res = lyapunov_spectrum(FunctionMap(henon.step, henon.tangent, 2), np.array([0.1, 0.1]), T=20000, k=2,
                            transient=1000, seed=0, stderr=False)
    np.testing.assert_allclose(res.exponents, [0.42, -1.62], atol=0.01)


def test_linear_map_without_states_is_refused():
    from floss_ref import LinearMap
    with pytest.raises(ValueError, match="n >= 1"):
        LinearMap(np.zeros((0, 0)))


# ---- bad input found by tests/test_properties.py ---------------------------------------------------------


def test_a_ragged_return_value_is_refused_naming_the_function():
    system = FunctionMap(lambda h, x: h, lambda h, x, Q: [[1.0], [2.0, 3.0]], 2)
    with pytest.raises(ValueError, match=r"FunctionMap: tangent\(h, x, Q\) must return an array .* ragged"):
        lyapunov_spectrum(system, np.ones(2), T=3, k=1, seed=0)
