"""The four delayed tasks of App. H: targets, scored steps, seeding and refusals."""

import numpy as np
import pytest

from floss_ref.experiments.tasks import TASKS, Task


def reference_target(name, xs, s, d):
    """The target at step s written out element by element from the task definitions."""
    x = xs[:, 0]
    if name == "copy":
        return x[s - d]
    if name == "xor":
        return abs(x[s - d // 2] - x[s - d])
    if name == "binary_xor":
        return float(int(x[s - d // 2]) ^ int(x[s - d]))
    return float(int(xs[s - d, 0]) ^ int(xs[s - d, 1]) ^ int(xs[s - d, 2]))


@pytest.mark.parametrize("name,delay", [("copy", 3), ("copy", 4), ("xor", 6), ("binary_xor", 4),
                                        ("spatial_xor", 5)])
def test_targets_and_mask_follow_the_definitions(name, delay):
    T, B = 17, 4
    batch = Task(name, delay).sample(T, B, seed=11)
    assert batch.xs.shape == (T, B, TASKS[name].channels)
    assert batch.ys.shape == (T, B) and batch.mask.shape == (T,)
    for s in range(T):
        assert batch.mask[s] == (s >= delay)
        for b in range(B):
            if s >= delay:
                assert batch.ys[s, b] == pytest.approx(reference_target(name, batch.xs[:, b], s, delay), abs=0)
            else:
                assert batch.ys[s, b] == 0.0


def test_input_distributions():
    for name in TASKS:
        xs = Task(name, 2).sample(200, 8, seed=0).xs
        if TASKS[name].binary:
            assert set(np.unique(xs)) == {0.0, 1.0}
            assert 0.4 < xs.mean() < 0.6
        else:
            assert xs.min() >= 0.0 and xs.max() < 1.0
            assert 0.45 < xs.mean() < 0.55
            assert len(np.unique(xs)) == xs.size  # continuous, not bits


def test_binary_targets_are_balanced_bits():
    for name in ("binary_xor", "spatial_xor"):
        batch = Task(name, 4).sample(400, 8, seed=3)
        y = batch.ys[batch.mask]
        assert set(np.unique(y)) == {0.0, 1.0}
        assert 0.45 < y.mean() < 0.55


def test_same_seed_same_batch_other_seed_other_batch():
    task = Task("binary_xor", 6)
    a, b, c = task.sample(50, 3, seed=5), task.sample(50, 3, seed=5), task.sample(50, 3, seed=6)
    assert np.array_equal(a.xs, b.xs) and np.array_equal(a.ys, b.ys)
    assert not np.array_equal(a.xs, c.xs)
    rng1, rng2 = np.random.default_rng(9), np.random.default_rng(9)
    assert np.array_equal(task.sample(20, 2, rng1).xs, task.sample(20, 2, rng2).xs)
    assert np.array_equal(task.sample(20, 2, rng1).xs, task.sample(20, 2, rng2).xs)  # streams advance alike


def test_odd_delay_accepted_where_no_half_delay_is_used():
    assert Task("copy", 7).delay == 7
    assert Task("spatial_xor", 7).delay == 7


@pytest.mark.parametrize("name", ["xor", "binary_xor"])
def test_temporal_xor_refuses_odd_delay(name):
    with pytest.raises(ValueError, match="even delay"):
        Task(name, 5)


@pytest.mark.parametrize("delay", [0, -3])
def test_delay_below_one_refused(delay):
    with pytest.raises(ValueError, match="delay must be >= 1"):
        Task("copy", delay)


def test_non_integer_delay_refused():
    with pytest.raises(TypeError, match="delay"):
        Task("copy", 2.5)


@pytest.mark.parametrize("T", [10, 4])
def test_delay_not_shorter_than_T_refused(T):
    with pytest.raises(ValueError, match="smaller than the sequence length"):
        Task("copy", 10).sample(T, 2, seed=0)


def test_unknown_task_and_bad_sizes_refused():
    with pytest.raises(ValueError, match="task must be one of"):
        Task("parity", 2)
    with pytest.raises(ValueError, match="B must be >= 1"):
        Task("copy", 2).sample(10, 0, seed=0)
    with pytest.raises(ValueError, match="T must be >= 1"):
        Task("copy", 2).sample(0, 1, seed=0)


# ---- input scaling and double lags (the authors' settings) --------------------------------

def test_input_scaling_divides_every_stream_and_keeps_the_targets():
    plain = Task("spatial_xor", 3).sample(20, 4, 7)
    scaled = Task("spatial_xor", 3, input_scale="streams").sample(20, 4, 7)
    np.testing.assert_array_equal(scaled.xs, plain.xs / 3)
    np.testing.assert_array_equal(scaled.ys, plain.ys)


def test_double_lags_are_d_and_2d_scored_from_2d():
    task = Task("binary_xor", 3, lags="double")          # an odd d is fine with lags d, 2d
    batch = task.sample(20, 2, 0)
    x = batch.xs[..., 0]
    assert batch.mask.nonzero()[0].tolist() == list(range(6, 20))
    np.testing.assert_array_equal(batch.ys[6:], np.logical_xor(x[3:17], x[0:14]))
    with pytest.raises(ValueError, match="temporal XOR"):
        Task("copy", 3, lags="double")
    with pytest.raises(ValueError, match="first scored step"):
        Task("binary_xor", 10, lags="double").check_length(20)


# ---- bad input found by tests/test_properties.py ---------------------------------------------------------


@pytest.mark.parametrize("T, B", [(10 ** 12, 3), (10, 10 ** 12)])
def test_a_batch_beyond_memory_is_refused_naming_T_and_B(T, B):
    with pytest.raises(ValueError, match=rf"a batch of T = {T} steps of B = {B} sequences would need .* GiB"):
        Task("copy", 2).sample(T, B)


@pytest.mark.parametrize("arg", ["lags", "input_scale", "inputs"])
def test_a_setting_given_as_an_array_is_refused_by_name(arg):
    value = {"lags": "half", "input_scale": "none", "inputs": "text"}[arg]
    with pytest.raises(TypeError, match=f"{arg} must be one of .*a string"):
        Task("binary_xor", 2, **{arg: np.array([value])})
