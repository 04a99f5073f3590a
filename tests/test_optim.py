"""floss_ref.experiments.optim: Adam (the paper's optimiser) against its defining recurrence,
gradient clipping per array, and gradient norms and clipping per network of an ensemble."""

import numpy as np
import pytest

from floss_ref import Adam, NumericalBreakdownError, VanillaRNN
from floss_ref.core.cells import get_cell
from floss_ref.experiments.optim import clip_per_network, gradient_norms


def test_first_step_moves_each_parameter_by_lr_against_the_gradient_sign():
    p = {"w": np.array([1.0, -2.0, 3.0])}
    Adam(p, lr=0.1).step({"w": np.array([0.5, -4.0, 1e-3])})
    # m_hat = g, v_hat = g^2 after one step: update = lr * g / (|g| + eps)
    g = np.array([0.5, -4.0, 1e-3])
    np.testing.assert_allclose(p["w"], np.array([1.0, -2.0, 3.0]) - 0.1 * g / (np.abs(g) + 1e-8), rtol=1e-12)


def test_matches_reference_recurrence_over_several_steps():
    rng = np.random.default_rng(0)
    p = {"a": rng.standard_normal(4)}
    ref = p["a"].copy()
    opt = Adam(p, lr=0.01, beta1=0.8, beta2=0.9)
    m = v = np.zeros(4)
    for t in range(1, 6):
        g = rng.standard_normal(4)
        opt.step({"a": g})
        m = 0.8 * m + 0.2 * g
        v = 0.9 * v + 0.1 * g * g
        ref = ref - 0.01 * (m / (1 - 0.8 ** t)) / (np.sqrt(v / (1 - 0.9 ** t)) + 1e-8)
    np.testing.assert_allclose(p["a"], ref, rtol=1e-13)


def test_gradient_norm_clipping():
    p1, p2 = {"w": np.zeros(2)}, {"w": np.zeros(2)}
    g = np.array([3.0, 4.0])  # norm 5
    norm = Adam(p1, lr=0.1, clip_norm=0.5).step({"w": g})
    Adam(p2, lr=0.1).step({"w": g * 0.1})
    assert norm == pytest.approx(5.0)
    np.testing.assert_allclose(p1["w"], p2["w"], rtol=1e-12)
    # the clipped gradient enters the moments
    opt = Adam({"w": np.zeros(2)}, clip_norm=0.5)
    opt.step({"w": g})
    np.testing.assert_allclose(opt.m["w"], 0.1 * g * 0.1)


def test_state_round_trip():
    rng = np.random.default_rng(1)
    p = {"w": rng.standard_normal(3)}
    opt = Adam(p, lr=0.05)
    for _ in range(3):
        opt.step({"w": rng.standard_normal(3)})
    q = {"w": p["w"].copy()}
    opt2 = Adam(q, lr=0.05)
    opt2.load_state_dict(opt.state_dict())
    g = rng.standard_normal(3)
    opt.step({"w": g})
    opt2.step({"w": g})
    np.testing.assert_array_equal(p["w"], q["w"])


def test_bad_input():
    with pytest.raises(ValueError, match="lr must be > 0"):
        Adam({"w": np.zeros(1)}, lr=0.0)
    with pytest.raises(ValueError, match="beta1 and beta2 must be < 1"):
        Adam({"w": np.zeros(1)}, beta1=1.0)
    with pytest.raises(TypeError, match="non-empty dict"):
        Adam([np.zeros(1)])
    opt = Adam({"w": np.zeros(2)})
    with pytest.raises(ValueError, match="grads must have keys"):
        opt.step({"v": np.zeros(2)})
    with pytest.raises(NumericalBreakdownError, match="NaN"):
        opt.step({"w": np.array([np.nan, 0.0])})
    with pytest.raises(ValueError, match="optimiser state has no entry"):
        opt.load_state_dict({"t": 1})


# ---- clipping per array and per network -------------------------------------------------

def test_per_array_clipping_clips_each_array_on_its_own():
    params = {"a": np.zeros(2), "b": np.zeros(2)}
    grads = {"a": np.array([3.0, 4.0]), "b": np.array([0.003, 0.004])}     # norms 5 and 0.005
    opt = Adam(params, lr=1.0, clip_norm=0.03, clip_mode="per_array")
    norm = opt.step(grads)
    assert norm == pytest.approx(np.sqrt(25 + 0.005 ** 2))
    # Adam's first step moves by lr * sign(g) whatever the scale: compare the moments instead
    np.testing.assert_allclose(opt.m["a"], 0.1 * grads["a"] * 0.03 / 5)    # clipped to 0.03
    np.testing.assert_allclose(opt.m["b"], 0.1 * grads["b"])              # below 0.03: untouched
    glob = Adam({"a": np.zeros(2), "b": np.zeros(2)}, lr=1.0, clip_norm=0.03)
    glob.step(grads)
    np.testing.assert_allclose(glob.m["b"], 0.1 * grads["b"] * 0.03 / norm)
    with pytest.raises(ValueError, match="clip_mode"):
        Adam(params, clip_mode="each")


def test_gradient_norms_and_clipping_are_per_network():
    net = VanillaRNN.random(5, n_in=2, ensemble=(3,), seed=0)
    rng = np.random.default_rng(1)
    grads = {name: rng.standard_normal(p.shape) for name, p in net.params.items()}
    grads["W"][1] *= 100.0                        # member 1 far above the others
    norms = gradient_norms(net, grads)
    for r in range(3):
        one = np.sqrt(sum(np.sum(g[r] ** 2) for g in grads.values()))
        assert norms[r] == pytest.approx(one, rel=1e-14)
    clip = 2.0 * max(norms[0], norms[2])          # only member 1 is clipped
    clipped, before = clip_per_network(net, grads, clip)
    np.testing.assert_array_equal(before, norms)
    after = gradient_norms(net, clipped)
    assert after[1] == pytest.approx(clip, rel=1e-14)
    for name in grads:
        np.testing.assert_array_equal(clipped[name][[0, 2]], grads[name][[0, 2]])
        np.testing.assert_allclose(clipped[name][1], grads[name][1] * clip / norms[1], rtol=1e-15)
    single = VanillaRNN.random(5, seed=0)
    g1 = {name: np.ones_like(p) for name, p in single.params.items()}
    assert gradient_norms(single, g1) == pytest.approx(np.sqrt(sum(p.size for p in single.params.values())))


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gradient_norms_of_gated_ensembles(cell):
    """Gated cells have b : (*E, G, 1): two trailing axes per network, declared in param_core_ndim."""
    net = get_cell(cell).random(4, ensemble=(2,), seed=0)
    grads = {name: np.ones_like(p) for name, p in net.params.items()}
    grads["b"][1] = 0.0
    norms = gradient_norms(net, grads)
    per_net = sum(p[0].size for p in net.params.values())
    np.testing.assert_allclose(norms, np.sqrt([per_net, per_net - net.params["b"][1].size]), rtol=1e-15)


# ---- bad input found by tests/test_properties.py ---------------------------------------------------------


@pytest.mark.parametrize("grads, error, words", [
    (3, TypeError, "grads must be a dict"),
    ({"W": np.array(["a", "b"])}, TypeError, r"grads\['W'\] must be a real floating-point array"),
    ({"W": np.ones(2) + 1j}, TypeError, r"grads\['W'\] must be a real floating-point array"),
    ({"W": [[1.0], [2.0, 3.0]]}, ValueError, r"grads\['W'\] must be an array of numbers of one shape"),
    ({"W": np.ones(1)}, ValueError, r"grads\['W'\] must have the shape of params\['W'\]"),   # broadcast silently
    ({"W": np.ones(3)}, ValueError, r"grads\['W'\] must have the shape of params\['W'\]"),
    ({"V": np.ones(2)}, ValueError, "grads must have keys"),
])
def test_a_bad_gradient_is_refused_naming_grads(grads, error, words):
    params = {"W": np.ones(2)}
    opt = Adam(params)
    with pytest.raises(error, match=words):
        opt.step(grads)
    np.testing.assert_array_equal(params["W"], np.ones(2))
    assert opt.t == 0


@pytest.mark.parametrize("params, error, words", [
    ({"W": [1.0, 2.0]}, TypeError, r"params\['W'\] must be a floating-point numpy array"),  # was never updated
    ({"W": np.arange(3)}, TypeError, r"params\['W'\] must be a floating-point numpy array"),
    ({"W": np.array([1.0, np.nan])}, ValueError, r"params\['W'\] contains NaN"),
    ([np.ones(2)], TypeError, "params must be a non-empty dict"),
])
def test_parameters_adam_cannot_update_in_place_are_refused_by_name(params, error, words):
    with pytest.raises(error, match=words):
        Adam(params)


def test_an_update_beyond_float64_is_a_breakdown_not_inf():
    params = {"W": np.ones(2)}
    opt = Adam(params, lr=1.7e308)
    opt.step({"W": np.ones(2)})                        # W = 1 - 1.7e308: finite
    with pytest.raises(NumericalBreakdownError, match="Adam step 2 took W beyond the float64 range"):
        opt.step({"W": np.ones(2)})
