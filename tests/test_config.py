"""floss_ref.experiments.config: what a TrainConfig fixes, the input conventions of the
task and of its flossing episodes, App. B's LSTM initialisation, how configurations
stored before a field was renamed or added are read, the protocols' schedules, the
refusal of bad values, and the authors' settings."""

import numpy as np
import pytest

from floss_ref import LSTM
from floss_ref.experiments.config import ADDED_FIELDS, TrainConfig, stored_fields
from floss_ref.experiments.tasks import Task
from floss_ref.runs import run as run_module
from floss_ref.runs.run import AUTHORS_SETTINGS, Run, sweep_tasks
from floss_ref.runs.sweep import _canonical

TINY = dict(N=6, T=24, batch=2, epochs=3, k=3, floss_epochs=2, floss_T=8, floss_transient=2, diag_every=0,
            test_batch=2)


@pytest.mark.parametrize("task, task_inputs, expected", [
    ("copy", "text", "uniform"), ("xor", "text", "uniform"), ("binary_xor", "text", "bernoulli"),
    ("spatial_xor", "text", "bernoulli"), ("copy", "bernoulli", "bernoulli"), ("xor", "bernoulli", "bernoulli")])
def test_flossing_draws_the_task_inputs_by_default(task, task_inputs, expected):
    c = TrainConfig(task=task, delay=4, task_inputs=task_inputs, **TINY)
    assert c.floss_inputs == expected == c.make_task().input_distribution


def test_a_flossing_episode_uses_the_configured_inputs(monkeypatch):
    seen = []
    real = run_module.floss

    def spy(*args, **kwargs):
        seen.append(kwargs["inputs"])
        return real(*args, **kwargs)

    monkeypatch.setattr(run_module, "floss", spy)
    Run(TrainConfig(task="copy", delay=4, protocol="prefloss", **TINY)).train()
    Run(TrainConfig(task="copy", delay=4, protocol="prefloss", floss_inputs="bernoulli", **TINY)).train()
    assert seen == ["uniform", "bernoulli"]


def test_bernoulli_task_inputs_give_bits_and_the_same_targets_rule():
    batch = Task("copy", 3, inputs="bernoulli").sample(T=12, B=4, seed=0)
    assert set(np.unique(batch.xs)) <= {0.0, 1.0}
    assert np.array_equal(batch.ys[3:], batch.xs[:9, :, 0])
    text = Task("copy", 3).sample(T=12, B=4, seed=0)
    assert not set(np.unique(text.xs)) <= {0.0, 1.0}


def test_unknown_conventions_are_refused_by_name():
    with pytest.raises(ValueError, match="task_inputs"):
        TrainConfig(task="copy", task_inputs="gaussian")
    with pytest.raises(ValueError, match="floss_inputs"):
        TrainConfig(task="copy", floss_inputs="poisson")
    with pytest.raises(ValueError, match="lstm_gains"):
        TrainConfig(cell="lstm", lstm_gains="paper")
    with pytest.raises(ValueError, match="lstm_gains does not apply to the 'vanilla' cell"):
        TrainConfig(lstm_gains="app_b")
    with pytest.raises(TypeError, match="it is called 'clip_norm'"):
        TrainConfig(clip=0.1)


def test_app_b_lstm_initialisation():
    """App. B: g_fh = 0, per-gate gains in [0, 1) drawn per network, b_f ~ U(0, 1), the other
    biases 0; g_oh (not named by App. B) is g, so the output gate's rows are the default's."""
    N, g = 50, 0.8
    shared = LSTM.random(N, 2, g, seed=3)
    app_b = LSTM.random(N, 2, g, gains="app_b", seed=3)
    W, V, b = (app_b.params[k] for k in ("W", "V", "b"))
    assert np.all(W[N:2 * N] == 0.0)                                        # g_fh = 0
    np.testing.assert_array_equal(W[3 * N:], shared.params["W"][3 * N:])     # g_oh = g
    np.testing.assert_array_equal(b, shared.params["b"])                     # b_f ~ U(0, 1), others 0
    assert b[1, 0] > 0 and np.all(b[[0, 2, 3]] == 0)
    Z = shared.params["W"] / g                                               # the same normal draws
    for gate in (0, 2):                                                      # i, c~: ratio = one gain in [0, 1)
        ratio = W[gate * N:(gate + 1) * N] / Z[gate * N:(gate + 1) * N]
        assert np.allclose(ratio, ratio[0, 0]) and 0 <= ratio[0, 0] < 1
    for gate in range(4):                                                    # input gains in [0, 1)
        ratio = V[gate * N:(gate + 1) * N] / shared.params["V"][gate * N:(gate + 1) * N]
        assert np.allclose(ratio, ratio[0, 0]) and 0 <= ratio[0, 0] < 1
    nets = LSTM.random(4, 1, 1.0, gains="app_b", ensemble=(5,), seed=0)
    gains = nets.params["W"][:, 0, 0] / LSTM.random(4, 1, 1.0, ensemble=(5,), seed=0).params["W"][:, 0, 0]
    assert np.unique(np.round(gains, 12)).size == 5                         # each network its own gains
    with pytest.raises(ValueError, match="forget_gain cannot be combined"):
        LSTM.random(4, gains="app_b", forget_gain=0.5)
    with pytest.raises(ValueError, match="gains"):
        LSTM.random(4, gains="per_gate")


def test_an_app_b_lstm_run_trains():
    r = Run(TrainConfig(task="binary_xor", delay=4, cell="lstm", lstm_gains="app_b", protocol="prefloss",
                        **TINY)).train()
    assert np.isfinite(r.summary()["test_loss"])


def test_configurations_stored_before_a_field_was_renamed_or_added_read_as_they_ran():
    """A result stored with 'clip' and without the added fields describes the same run as
    today's configuration for a binary task (whose flossing always drew bits); a copy
    task's old results (Bernoulli flossing) are not today's default (U(0, 1) flossing)."""
    for task, same in (("binary_xor", True), ("copy", False)):
        new = sweep_tasks([TrainConfig(task=task, delay=4, **TINY)])[0].describe()
        old = {**new, "params": {k: v for k, v in new["params"].items() if k not in ADDED_FIELDS}}
        old["params"]["clip"] = old["params"].pop("clip_norm")
        assert (_canonical(old) == _canonical(new)) is same
        assert stored_fields(old["params"])["floss_inputs"] == "bernoulli"


# ---- schedules and refusals -----------------------------------------------------------------

def test_flossing_schedules_of_the_protocols():
    base = dict(task="copy", delay=2, T=10, epochs=450)
    assert TrainConfig(**base).flossing_epochs() == ()
    assert TrainConfig(protocol="prefloss", **base).flossing_epochs() == (0,)
    assert TrainConfig(protocol="during", **base).flossing_epochs() == (0, 100, 200, 300, 400)
    assert TrainConfig(protocol="during", floss_at=[250, 50], **base).flossing_epochs() == (0, 50, 250)
    assert TrainConfig(protocol="throughout", floss_every=150, **base).flossing_epochs() == (0, 150, 300)
    assert TrainConfig(diag_every=200, **base).diagnostic_epochs() == (0, 200, 400, 449)


@pytest.mark.parametrize("kwargs,match", [
    (dict(task="parity"), "task must be one of"),
    (dict(protocol="sometimes"), "protocol must be one of"),
    (dict(task="binary_xor", delay=3), "even delay"),
    (dict(delay=0), "delay must be >= 1"),
    (dict(delay=300, T=300), "smaller than the sequence length"),
    (dict(batch=0), "batch must be >= 1"),
    (dict(epochs=0), "epochs must be >= 1"),
    (dict(T=0), "T must be >= 1"),
    (dict(floss_epochs=0), "floss_epochs must be >= 1"),
    (dict(protocol="during", epochs=300), "floss_at holds epoch 400"),
    (dict(floss_at=(-1,)), "floss_at entry must be >= 0"),
    (dict(floss_T=10, floss_transient=10), "floss_transient"),
    (dict(lr=0.0), "lr must be > 0"),
    (dict(cell="transformer"), "cell must be one of"),
])
def test_config_refuses_bad_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


# Reliability row F8 (sizes beyond memory refused up front: test_reliability.py)
def test_F8_the_default_run_fits_comfortably():
    assert TrainConfig().estimated_bytes() < 2 ** 30


# ---- the authors' settings ---------------------------------------------------------------------

def test_authors_settings_train_and_defaults_are_the_paper_text():
    assert TrainConfig().input_scale == "none" and TrainConfig().h0_mode == "shared"
    config = TrainConfig(task="spatial_xor", delay=2, N=6, T=12, batch=3, epochs=4, k=2, floss_epochs=2,
                         floss_T=6, floss_transient=1, protocol="prefloss", diag_every=2, **AUTHORS_SETTINGS)
    run = Run(config).train()
    assert run.model.h0.shape == (3, 6) and float(run.model.offset) != 0.0
    assert np.isfinite(run.summary()["test_loss"])
    with pytest.raises(ValueError, match="input_scale"):
        TrainConfig(input_scale="third")


def test_a_checkpoint_stored_before_a_field_was_renamed_or_added_resumes(tmp_path):
    """Run.load reads a stored configuration as it ran (stored_fields); the generic checkpoint
    reader compares configurations as they are."""
    import json

    from floss_ref.runs import io as _io
    from floss_ref.runs.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

    config = TrainConfig(task="binary_xor", delay=4, protocol="prefloss", **dict(TINY, epochs=4))
    Run(config).train(until=2, checkpoint=tmp_path / "new.npz")
    arrays = _io.read_npz(tmp_path / "new.npz")
    header = json.loads(str(arrays.pop("__header__")))
    old = {("clip" if k == "clip_norm" else k): v for k, v in header["config"].items() if k not in ADDED_FIELDS}
    save_checkpoint(tmp_path / "old.npz", old, arrays, header["meta"])
    resumed = Run.load(tmp_path / "old.npz", config)
    assert resumed.epoch == 2
    for name, p in Run.load(tmp_path / "new.npz", config).model.params.items():
        assert np.array_equal(resumed.model.params[name], p)
    expected = {name: (a.shape, a.dtype) for name, a in arrays.items()}
    with pytest.raises(CheckpointError, match="different configuration"):
        load_checkpoint(tmp_path / "old.npz", config.to_dict(), expected)


# ---- bad input found by tests/test_properties.py ---------------------------------------------------------


@pytest.mark.parametrize("field", ["test_batch", "floss_T", "floss_epochs", "epochs", "T", "batch", "N"])
def test_a_run_beyond_memory_is_refused_naming_the_field_that_makes_it_large(field):
    fields = dict(TINY, protocol="during", floss_at=(0,))
    if field == "T":
        fields["delay"] = 2
    fields[field] = 10 ** 12
    with pytest.raises(ValueError, match=rf"{field} = 1000000000000.*GiB"):
        TrainConfig(**fields)


@pytest.mark.parametrize("field, value, error", [
    ("floss_at", np.array(0), TypeError), ("g", 1e101, ValueError), ("forget_gain", 1e308, ValueError),
    ("task", np.array(["copy"]), TypeError), ("protocol", None, TypeError),
])
def test_a_bad_field_is_refused_by_name(field, value, error):
    fields = dict(TINY, **{field: value})
    if field == "forget_gain":
        fields["cell"] = "lstm"
    with pytest.raises(error, match=field):
        TrainConfig(**fields)
