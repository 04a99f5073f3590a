"""floss_ref.runs.run: training runs, their protocols and diagnostics, history files, and
where a breakdown is reported."""

import json
import math
import os

import numpy as np
import pytest

from conftest import SMALL
from floss_ref import NumericalBreakdownError, lyapunov_spectrum
from floss_ref.core.cells import VanillaRNN
from floss_ref.experiments.bptt import Model, loss_and_grad
from floss_ref.runs.run import Run, TrainConfig, sweep_tasks


# ---- training runs --------------------------------------------------------------------

def test_training_learns_an_easy_task():
    run = Run(TrainConfig(task="binary_xor", delay=2, N=16, T=30, batch=16, epochs=300, lr=1e-2,
                          clip_norm=1.0, diag_every=0, seed=1)).train()
    h = run.history
    assert h["loss"][-20:].mean() < 0.1 * h["loss"][:5].mean()
    assert run.summary()["test_accuracy"] > 0.95


def test_same_seed_bit_identical_other_seed_different():
    config = TrainConfig(task="copy", delay=3, protocol="during", floss_at=(0, 4), **SMALL)
    a, b = Run(config).train(), Run(config).train()
    for name in a.history:
        assert np.array_equal(a.history[name], b.history[name], equal_nan=True), name
    for name in a.model.params:
        assert np.array_equal(a.model.params[name], b.model.params[name])
    c = Run(TrainConfig(task="copy", delay=3, protocol="during", floss_at=(0, 4), seed=1, **SMALL)).train()
    assert not np.array_equal(a.history["loss"], c.history["loss"])


def test_protocols_share_initial_network_and_data_and_differ_only_by_flossing():
    runs = {p: Run(TrainConfig(task="binary_xor", delay=2, protocol=p, floss_at=(0, 5), **SMALL))
            for p in ("none", "prefloss", "during")}
    for p in runs:
        assert np.array_equal(runs[p].model.params["W"], runs["none"].model.params["W"])
    for run in runs.values():
        run.train()
    h = {p: run.history for p, run in runs.items()}
    # epoch 0 is flossed in both flossing protocols, identically
    assert h["prefloss"]["loss"][0] == h["during"]["loss"][0] != h["none"]["loss"][0]
    assert np.array_equal(h["during"]["floss_epochs"], [0, 5])
    assert np.all(np.isfinite(h["during"]["floss_loss"])) and h["during"]["floss_loss"].shape == (2, 3)
    assert h["none"]["floss_loss"].shape == (0, 3)
    # the second episode changes the trajectory from epoch 5 on only
    assert np.array_equal(h["prefloss"]["loss"][:5], h["during"]["loss"][:5])
    assert h["prefloss"]["loss"][5] != h["during"]["loss"][5]


def test_preflossing_moves_the_exponents_towards_zero():
    config = dict(task="binary_xor", delay=2, N=16, T=40, batch=4, epochs=1, diag_every=1, diag_k=4,
                  k=4, floss_epochs=60, floss_lr=1e-2, floss_T=30, floss_transient=5)
    plain = Run(TrainConfig(**config)).train()
    flossed = Run(TrainConfig(protocol="prefloss", **config)).train()
    f = flossed.history["floss_loss"][0]
    assert f[-5:].mean() < 0.5 * f[:5].mean()
    assert np.sum(flossed.history["exponents"][0] ** 2) < 0.5 * np.sum(plain.history["exponents"][0] ** 2)


def test_diagnostics_match_independent_computations():
    config = TrainConfig(task="binary_xor", delay=2, **SMALL)
    run = Run(config)
    batch = run.task.sample(config.T, config.batch, np.random.default_rng(0))
    run.rng = np.random.default_rng(0)  # so that epoch 0 sees `batch`
    model_before = {k: p.copy() for k, p in run.model.params.items()}
    run.train(until=1)
    g = loss_and_grad(Model(VanillaRNN({k: model_before[k] for k in ("W", "V", "b")}),
                            model_before["w_out"], model_before["offset"], model_before["h0"]),
                      batch, "bce")
    h = run.history
    assert h["loss"][0] == g.loss and h["accuracy"][0] == g.accuracy
    assert h["h0_grad_norm"][0] == pytest.approx(np.linalg.norm(g.grads["h0"]), rel=1e-14)
    np.testing.assert_allclose(h["grad_W_sv"][0], np.linalg.svd(g.grads["W"], compute_uv=False), rtol=1e-12)
    cell = VanillaRNN({k: model_before[k] for k in ("W", "V", "b")})
    h0 = np.broadcast_to(model_before["h0"], (config.batch, config.N))
    lam = lyapunov_spectrum(cell, h0, batch.xs, k=3, transient=config.T // 10,
                            seed=np.random.default_rng([config.seed, 3, 0])).exponents.mean(axis=0)
    np.testing.assert_allclose(h["exponents"][0], lam, rtol=1e-12)
    assert np.all(np.diff(lam) <= 0)


def test_test_metrics_after_the_last_epoch():
    run = Run(TrainConfig(task="spatial_xor", delay=1, **SMALL))
    run.train(until=7)
    assert math.isnan(run.summary()["test_accuracy"])
    run.train()
    s = run.summary()
    assert 0.0 <= s["test_accuracy"] <= 1.0 and s["test_loss"] > 0


def test_too_many_exponents_refused_when_the_run_is_built():
    with pytest.raises(ValueError, match="k = 20 exceeds the state size n = 12"):
        Run(TrainConfig(task="copy", delay=2, **dict(SMALL, k=20)))


def test_history_files(tmp_path):
    run = Run(TrainConfig(task="copy", delay=2, **SMALL)).train()
    run.save_history(tmp_path / "h.json")
    doc = json.loads((tmp_path / "h.json").read_text())
    assert doc["config"]["delay"] == 2 and doc["epochs_done"] == 8
    assert doc["history"]["loss"] == pytest.approx(run.history["loss"].tolist())
    assert all(a is None for a in doc["history"]["accuracy"])  # NaN for MSE tasks
    run.save_history(tmp_path / "h.npz")
    with np.load(tmp_path / "h.npz") as z:
        assert np.array_equal(z["exponents"], run.history["exponents"], equal_nan=True)
        assert json.loads(str(z["config_json"]))["task"] == "copy"
    with pytest.raises(ValueError, match=".json or .npz"):
        run.save_history(tmp_path / "h.txt")


# ---- regression tests of the issue "Reliability", row F14: breakdowns say where -------------

def test_F14_diverging_training_stops_with_the_epoch():
    config = TrainConfig(task="binary_xor", delay=10, N=16, T=60, batch=4, epochs=50, nonlinearity="relu",
                         g=3.0, diag_every=0, lr=1.0, clip_norm=None, seed=0)
    with pytest.raises(NumericalBreakdownError, match=r"training diverged.*\(in training epoch \d+\)"):
        Run(config).train()


def _diverging_linear(**kw):
    # a linear network with g = 3: rho(W) ~ 3, so the task loss passes 1e10 within T = 60 steps
    return dict(dict(task="copy", delay=2, N=8, T=60, batch=2, epochs=5, nonlinearity="linear", g=3.0,
                     diag_every=0, seed=0), **kw)


def test_a_diverged_run_raises_with_its_loss_and_epoch_by_default():
    from floss_ref.errors import TrainingDivergedError
    from floss_ref.runs.run import DIVERGED_LOSS, train_result

    with pytest.raises(TrainingDivergedError, match=r"\(in training epoch 0\)") as info:
        train_result(_diverging_linear())
    assert info.value.epoch == 0 and info.value.loss > DIVERGED_LOSS
    assert isinstance(info.value, NumericalBreakdownError)   # callers catching the base class still see it


def test_a_diverged_run_is_recorded_as_a_result_when_asked():
    from floss_ref.errors import TrainingDivergedError
    from floss_ref.runs.run import DIVERGED_LOSS, train_result

    with pytest.raises(TrainingDivergedError) as info:
        train_result(_diverging_linear())
    out = train_result(dict(_diverging_linear(), on_divergence="record"))
    assert int(out["summary/diverged_epoch"]) == info.value.epoch == 0
    assert float(out["summary/diverged_loss"]) == info.value.loss > DIVERGED_LOSS   # deterministic: the same loss
    assert int(out["summary/epochs"]) == 0
    assert np.isnan(out["summary/test_loss"]) and np.isnan(out["history/loss"]).all()


def test_a_finished_run_records_no_divergence_when_asked():
    from floss_ref.runs.run import train_result

    out = train_result(dict(_diverging_linear(g=0.5, T=20), on_divergence="record"))
    assert int(out["summary/diverged_epoch"]) == -1 and np.isnan(out["summary/diverged_loss"])
    assert int(out["summary/epochs"]) == 5 and np.isfinite(out["summary/test_loss"])
    plain = train_result(_diverging_linear(g=0.5, T=20))   # the option changes nothing else
    assert all(np.array_equal(plain[key], out[key], equal_nan=True) for key in plain)
    assert set(out) - set(plain) == {"summary/diverged_epoch", "summary/diverged_loss"}


def test_an_overflowing_forward_pass_is_recorded_as_diverged_too():
    from floss_ref.errors import TrainingDivergedError
    from floss_ref.runs.run import train_result

    long = _diverging_linear(T=300)   # 3^300 overflows float64: the loss is not finite, not merely large
    with pytest.raises(TrainingDivergedError, match=r"not finite.*\(in training epoch 0\)") as info:
        train_result(long)
    assert info.value.epoch == 0 and not np.isfinite(info.value.loss)
    out = train_result(dict(long, on_divergence="record"))
    assert int(out["summary/diverged_epoch"]) == 0 and not np.isfinite(out["summary/diverged_loss"])


def test_on_divergence_refuses_other_values():
    from floss_ref.runs.run import train_result

    with pytest.raises(ValueError, match="on_divergence must be one of 'raise', 'record'; got 'ignore'"):
        train_result(dict(_diverging_linear(), on_divergence="ignore"))
    with pytest.raises(ValueError, match="on_divergence must be one of"):   # before a sweep's manifest holds it
        sweep_tasks([TrainConfig(**_diverging_linear())], on_divergence="ignore")


def test_F14_breakdown_during_a_flossing_episode_names_the_epoch(monkeypatch):
    import floss_ref.runs.run as training

    def broken(*args, **kwargs):
        raise NumericalBreakdownError("R_jj = 0 for j = 3 at step 17")

    monkeypatch.setattr(training, "floss", broken)
    config = TrainConfig(task="binary_xor", delay=2, N=6, T=10, batch=2, epochs=3, protocol="prefloss",
                         floss_epochs=2, floss_T=8, floss_transient=1, k=2, diag_every=0, seed=0)
    with pytest.raises(NumericalBreakdownError,
                       match=r"at step 17 \(in the flossing episode before training epoch 0\)"):
        Run(config).train()


# ---- regression tests of the issue "Reliability", row F16: one writer at a time ------------

from floss_ref.runs.io import FileLockedError  # noqa: E402
from floss_ref.runs.run import checkpoint_lock, train  # noqa: E402
from hostile_files import LockHolder  # noqa: E402

F16_CONFIG = dict(task="binary_xor", delay=2, N=4, T=10, batch=2, epochs=3, diag_every=0)


def test_F16_a_checkpoint_written_by_another_process_is_refused_naming_its_pid(tmp_path):
    path = tmp_path / "run.npz"
    config = TrainConfig(**F16_CONFIG)
    with LockHolder(path, str(path) + ".lock") as holder:
        for call in (lambda: train(config, checkpoint=path), lambda: Run(config).train(checkpoint=path)):
            with pytest.raises(FileLockedError, match=rf"checkpoint '.*run.npz' is being written by pid "
                                                      rf"{holder.pid} on host "):
                call()
        assert not path.exists()
        holder.kill()  # a crash (SIGKILL) of the holder releases its lock
        run = train(config, checkpoint=path)
    assert run.epoch == 3 and path.exists()
    assert sorted(os.listdir(tmp_path)) == ["run.npz"]  # the lock file went with its writer


def test_F16_a_resume_is_refused_while_another_process_writes_and_readers_take_no_lock(tmp_path):
    path = tmp_path / "run.npz"
    config = TrainConfig(**F16_CONFIG)
    Run(config).train(until=1, checkpoint=path)
    with LockHolder(path, str(path) + ".lock") as holder:
        with pytest.raises(FileLockedError, match=f"pid {holder.pid}"):
            train(config, checkpoint=path, resume=True)
        assert Run.load(path, config).epoch == 1  # reading is not writing
    assert train(config, checkpoint=path, resume=True).epoch == 3


def test_F16_two_writers_in_one_process_are_refused_too(tmp_path):
    path = tmp_path / "run.npz"
    with checkpoint_lock(path):
        with pytest.raises(FileLockedError, match=f"pid {os.getpid()}"):
            train(TrainConfig(**F16_CONFIG), checkpoint=path)
    train(TrainConfig(**F16_CONFIG), checkpoint=path)


def test_F16_results_are_bit_identical_with_the_lock(tmp_path):
    config = TrainConfig(**F16_CONFIG)
    a = train(config, checkpoint=tmp_path / "a.npz")
    b = Run(config).train()
    for key in a.history:
        np.testing.assert_array_equal(a.history[key], b.history[key])
