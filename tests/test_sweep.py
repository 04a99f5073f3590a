"""Tests of floss_ref.runs.sweep: serial, local-process and Dask engines give the same arrays
bit for bit; results directory rules (manifest, refusal of other settings, resume);
failing tasks and dying workers are retried and reported by name; an unreachable
scheduler is an error, not a hang."""

import errno
import json
import os
import signal
import socket
import sys
import time

import numpy as np
import pytest

from floss_ref.errors import TrainingDivergedError
from floss_ref.runs import io as _io
from floss_ref.runs.sweep import (MANIFEST, SweepError, SweepTask, connect, load_result, load_results, result_path,
                                  run_sweep)
from floss_ref.runs.run import sweep_tasks
from floss_ref.runs.run import TrainConfig
from hostile_files import SPECIAL, deep_json, deep_list, make_special, refused_within

VALIDATION = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "validation")
RELIABILITY = os.path.join(VALIDATION, "reliability")
sys.path[:0] = [RELIABILITY, VALIDATION]
import reliability_checks  # noqa: E402
sys.path.remove(RELIABILITY)
sys.path.remove(VALIDATION)

TINY = dict(task="binary_xor", delay=4, N=6, T=20, batch=4, epochs=6, k=3, floss_epochs=3, floss_T=10,
            floss_transient=2, floss_at=(0, 3), diag_every=3, test_batch=8)
SETTINGS = {"script": "test", "scale": "tiny"}


def tiny_tasks():
    configs = [TrainConfig(protocol=p, seed=s, **TINY) for p in ("none", "during") for s in (0, 1)]
    return sweep_tasks(configs)


# task functions the workers import by "module:function" (this module is on sys.path)

def ok_task(params):
    return {"x": np.arange(params["n"], dtype=float) * params["scale"]}


def fail_task(params):
    raise ValueError(f"deliberate failure {params['n']}")


def die_task(params):
    os._exit(3)


def flaky_task(params):
    """Fails on the first attempt (marker file absent), succeeds on the next."""
    marker = params["marker"]
    if not os.path.exists(marker):
        open(marker, "w").close()
        raise RuntimeError("first attempt fails")
    return {"x": np.array([1.0])}


class DivergedSubclass(TrainingDivergedError):
    """Keeps its class through pickling (test below)."""


def breakdown_task(params):
    """Counts its attempts in a file, then diverges as a training run does."""
    from floss_ref.errors import TrainingDivergedError

    with open(params["count"], "a") as f:
        f.write("x")
    raise TrainingDivergedError("training diverged: the task loss is 1e+26 (in training epoch 0)", loss=1e26, epoch=0)


def ones_task(params):
    """The task of the Reliability rows below: n ones."""
    return {"x": np.full(params["n"], 1.0)}


def assert_same(a, b):
    assert set(a) == set(b)
    for name in a:
        assert set(a[name]) == set(b[name])
        for key in a[name]:
            if key == "meta/seconds":
                continue
            assert a[name][key].dtype == b[name][key].dtype, (name, key)
            np.testing.assert_array_equal(a[name][key], b[name][key], err_msg=f"{name}: {key}")


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    return run_sweep(tiny_tasks(), tmp_path_factory.mktemp("serial"), settings=SETTINGS, jobs=0)


def test_serial_results_hold_the_training_history(serial):
    assert len(serial) == 4
    for name, r in serial.items():
        assert r["history/loss"].shape == (TINY["epochs"],)
        assert np.all(np.isfinite(r["history/loss"]))
        assert 0.0 <= float(r["summary/test_accuracy"]) <= 1.0
        assert json.loads(str(r["meta/task"]))["kind"] == "train"
    # the seeds differ, so the runs do
    a, b = (serial[n]["history/loss"] for n in sorted(serial) if "_none_" in n)
    assert not np.array_equal(a, b)


def test_local_processes_equal_serial_bit_for_bit(serial, tmp_path):
    assert_same(run_sweep(tiny_tasks(), tmp_path, settings=SETTINGS, jobs=2), serial)


def test_dask_local_cluster_equals_serial_bit_for_bit(serial, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        got = run_sweep(tiny_tasks(), tmp_path, settings=SETTINGS, scheduler=cluster.scheduler_address)
    assert_same(got, serial)
    assert_same(load_results(tmp_path), serial)


def test_resume_skips_finished_tasks(serial, tmp_path):
    tasks = tiny_tasks()
    run_sweep(tasks, tmp_path, settings=SETTINGS, jobs=0)
    keep, redo = tasks[0].name, tasks[1].name
    before = os.stat(result_path(tmp_path, keep)).st_mtime_ns
    os.unlink(result_path(tmp_path, redo))
    time.sleep(0.01)
    lines = []
    got = run_sweep(tasks, tmp_path, settings=SETTINGS, jobs=0, log=lines.append)
    assert os.stat(result_path(tmp_path, keep)).st_mtime_ns == before  # not rewritten
    finished = [line for line in lines if line.startswith("[")]  # one "[i/n] name ..." line per task run
    assert len(finished) == 1 and redo in finished[0]
    assert any("3 of 4 tasks already done" in line for line in lines)
    assert_same(got, serial)


def test_more_tasks_may_join_a_directory_of_the_same_settings(tmp_path):
    one = SweepTask("a", "test_sweep:ok_task", {"n": 2, "scale": 1.0})
    two = SweepTask("b", "test_sweep:ok_task", {"n": 3, "scale": 2.0})
    run_sweep([one], tmp_path, settings=SETTINGS, jobs=0)
    got = run_sweep([one, two], tmp_path, settings=SETTINGS, jobs=0)
    np.testing.assert_array_equal(got["b"]["x"], [0.0, 2.0, 4.0])
    with open(os.path.join(tmp_path, MANIFEST)) as f:
        assert set(json.load(f)["tasks"]) == {"a", "b"}


def test_directory_of_other_settings_is_refused(tmp_path):
    task = SweepTask("a", "test_sweep:ok_task", {"n": 2, "scale": 1.0})
    run_sweep([task], tmp_path, settings=SETTINGS, jobs=0)
    with pytest.raises(SweepError, match="different settings.*scale"):
        run_sweep([task], tmp_path, settings={**SETTINGS, "scale": "paper"}, jobs=0)
    other = SweepTask("a", "test_sweep:ok_task", {"n": 2, "scale": 5.0})
    with pytest.raises(SweepError, match="same name but other parameters: a"):
        run_sweep([other], tmp_path, settings=SETTINGS, jobs=0)
    # nothing was overwritten
    np.testing.assert_array_equal(load_results(tmp_path)["a"]["x"], [0.0, 1.0])


def test_result_files_without_manifest_are_refused(tmp_path):
    np.savez(tmp_path / "stray.npz", x=np.zeros(1))
    with pytest.raises(SweepError, match="no manifest"):
        run_sweep([SweepTask("a", "test_sweep:ok_task", {"n": 1, "scale": 1.0})], tmp_path,
                  settings=SETTINGS, jobs=0)


@pytest.mark.parametrize("jobs", [0, 2])
def test_failing_task_is_reported_by_name_and_others_saved(tmp_path, jobs):
    tasks = [SweepTask("good", "test_sweep:ok_task", {"n": 2, "scale": 1.0}),
             SweepTask("bad", "test_sweep:fail_task", {"n": 7})]
    with pytest.raises(SweepError, match=r"1 of 2 tasks failed(.|\n)*bad: ValueError: deliberate failure 7") as info:
        run_sweep(tasks, tmp_path, settings=SETTINGS, jobs=jobs, retries=1)
    assert set(info.value.failures) == {"bad"}
    assert set(load_results(tmp_path)) == {"good"}


def test_failing_task_is_retried(tmp_path):
    marker = str(tmp_path / "marker")
    got = run_sweep([SweepTask("flaky", "test_sweep:flaky_task", {"marker": marker})], tmp_path / "r",
                    settings=SETTINGS, jobs=0, retries=1)
    np.testing.assert_array_equal(got["flaky"]["x"], [1.0])
    with pytest.raises(SweepError, match="flaky2"):
        run_sweep([SweepTask("flaky2", "test_sweep:flaky_task", {"marker": str(tmp_path / "m2")})],
                  tmp_path / "r", settings=SETTINGS, jobs=0, retries=0)


@pytest.mark.parametrize("jobs", [0, 1])
def test_a_numerical_breakdown_is_reported_without_retries(tmp_path, jobs):
    count = tmp_path / "attempts"
    tasks = [SweepTask("diverges", "test_sweep:breakdown_task", {"count": str(count)}),
             SweepTask("good", "test_sweep:ok_task", {"n": 2, "scale": 1.0})]
    with pytest.raises(SweepError, match=r"diverges: floss_ref.errors.TrainingDivergedError: training diverged.*not retried") as info:
        run_sweep(tasks, tmp_path / "r", settings=SETTINGS, jobs=jobs, retries=2)
    assert count.read_text() == "x"                        # one attempt of three allowed
    assert set(info.value.failures) == {"diverges"}
    assert set(load_results(tmp_path / "r")) == {"good"}


def test_a_diverged_error_keeps_its_loss_and_epoch_through_pickling():
    import pickle

    from floss_ref.errors import TrainingDivergedError

    exc = TrainingDivergedError("training diverged", loss=2.5e16, epoch=2)
    exc.args = ("training diverged (in training epoch 2)",)   # as Run.train_epoch extends it
    exc.add_note("a note")
    back = pickle.loads(pickle.dumps(exc))
    assert type(back) is TrainingDivergedError and (back.loss, back.epoch) == (2.5e16, 2)
    assert back.args == exc.args and back.__notes__ == ["a note"]
    assert type(pickle.loads(pickle.dumps(DivergedSubclass("x", loss=1.0)))) is DivergedSubclass


def test_dead_worker_is_blamed_on_its_task_and_others_finish(tmp_path):
    tasks = [SweepTask("dies", "test_sweep:die_task", {}),
             *[SweepTask(f"ok{i}", "test_sweep:ok_task", {"n": i, "scale": 1.0}) for i in range(3)]]
    with pytest.raises(SweepError, match="dies: its worker process died") as info:
        run_sweep(tasks, tmp_path, settings=SETTINGS, jobs=2, retries=1)
    assert set(info.value.failures) == {"dies"}
    assert set(load_results(tmp_path)) == {"ok0", "ok1", "ok2"}


def test_unreachable_scheduler_is_a_clear_error(tmp_path):
    pytest.importorskip("distributed")
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    with pytest.raises(SweepError, match="cannot reach the Dask scheduler"):
        run_sweep(tiny_tasks(), tmp_path / "r", settings=SETTINGS, scheduler=f"tcp://127.0.0.1:{port}",
                  connect_timeout=2.0)
    assert time.monotonic() - start < 30.0  # an error, not a hang
    assert not os.path.exists(tmp_path / "r")  # refused before touching the results directory


@pytest.mark.parametrize("bad, match", [
    (dict(name="a/b"), "task name"), (dict(kind="nope"), "kind must be"),
    (dict(params=[1]), "must be a dict"), (dict(params={"x": object()}), "JSON-able"),
])
def test_bad_tasks_are_refused(bad, match):
    args = dict(name="a", kind="train", params={})
    args.update(bad)
    with pytest.raises((ValueError, TypeError), match=match):
        SweepTask(**args)


def test_bad_sweep_arguments_are_refused(tmp_path):
    task = SweepTask("a", "test_sweep:ok_task", {"n": 1, "scale": 1.0})
    with pytest.raises(ValueError, match="unique"):
        run_sweep([task, task], tmp_path, settings=SETTINGS)
    with pytest.raises(ValueError, match="scheduler must be an address"):
        run_sweep([task], tmp_path, settings=SETTINGS, scheduler="localhost")
    with pytest.raises(ValueError, match="jobs"):
        run_sweep([task], tmp_path, settings=SETTINGS, jobs=-1)
    with pytest.raises(TypeError, match="settings"):
        run_sweep([task], tmp_path, settings={"x": object()})


# ---- regression tests of the issue "Reliability", rows F1, F4, F7, F9, F15 --------------------
# (the rows that span several modules are in test_reliability.py)

F_SETTINGS = {"script": "test_reliability"}


# F1: connecting to a scheduler has a hard deadline

@pytest.mark.parametrize("server", [reliability_checks.blackhole, reliability_checks.http_server])
@pytest.mark.parametrize("scheme", ["tcp", "tls"])
def test_F1_scheduler_that_never_answers_is_refused_within_the_timeout(server, scheme):
    pytest.importorskip("distributed")
    s = server()
    try:
        start = time.monotonic()
        with pytest.raises(SweepError, match="cannot reach the Dask scheduler"):
            connect(f"{scheme}://127.0.0.1:{s.getsockname()[1]}", timeout=2)
        # a guard against the hang itself (over 420 s before the fix), not a speed target
        assert time.monotonic() - start < 2 + 30
    finally:
        s.close()


def test_F1_scheduler_address_without_scheme_is_a_value_error(tmp_path):
    with pytest.raises(ValueError, match="scheduler must be an address like 'tcp://host:8786'"):
        run_sweep([SweepTask("a", "test_sweep:ones_task", {"n": 1})], tmp_path, settings=F_SETTINGS,
                  scheduler="127.0.0.1:8786")
    assert not os.path.exists(tmp_path / "a.npz")


# F4: a result that cannot be saved is reported; the others are kept

@pytest.mark.parametrize("engine", ["serial", "dask"])
def test_F4_a_failed_save_is_reported_by_name_and_other_results_are_kept(tmp_path, monkeypatch, engine):
    import floss_ref.runs.sweep as sweep

    real = sweep._save

    def save(results_dir, task, arrays, seconds, settings):
        if task.name == "bad":
            raise OSError(28, "No space left on device")
        return real(results_dir, task, arrays, seconds, settings)

    monkeypatch.setattr(sweep, "_save", save)
    tasks = [SweepTask("bad", "test_sweep:ones_task", {"n": 1}),
             SweepTask("good", "test_sweep:ones_task", {"n": 2})]
    kwargs = {"jobs": 0}
    if engine == "dask":
        distributed = pytest.importorskip("distributed")
        cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                           dashboard_address=None)
        client = distributed.Client(cluster, set_as_default=False)
        kwargs = {"client": client}
    try:
        with pytest.raises(SweepError, match="bad: saving the result failed") as info:
            run_sweep(tasks, tmp_path, settings=F_SETTINGS, **kwargs)
    finally:
        if engine == "dask":
            client.close()
            cluster.close()
    assert set(info.value.failures) == {"bad"}
    assert os.path.exists(tmp_path / "good.npz") and not os.path.exists(tmp_path / "bad.npz")


def test_F4_over_long_task_names_are_refused_when_the_task_is_made():
    with pytest.raises(ValueError, match="task name must be 1 to 200"):
        SweepTask("x" * 240, "test_sweep:ones_task", {"n": 1})


# F7: no orphans

@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_F7_killing_the_driver_leaves_no_worker_behind(tmp_path, sig):
    pids, gone = reliability_checks.kill_driver(sig, str(tmp_path), wait=10.0)
    assert len(pids) == 2
    assert gone is not None, "worker processes outlived their driver by 10 s"


# F9: results are trusted by their content, not their file name

@pytest.fixture
def finished(tmp_path):
    tasks = [SweepTask(f"s{i}", "test_sweep:ones_task", {"n": i + 1}) for i in range(2)]
    run_sweep(tasks, tmp_path, settings=F_SETTINGS, jobs=0)
    return tmp_path, tasks


def _resume(finished):
    d, tasks = finished
    return run_sweep(tasks, d, settings=F_SETTINGS, jobs=0)


def test_F9_truncated_result_is_refused_by_name(finished):
    d, _ = finished
    p = d / "s0.npz"
    p.write_bytes(p.read_bytes()[:100])
    with pytest.raises(SweepError, match=r"s0.npz' cannot be read as a sweep result"):
        _resume(finished)


def test_F9_forged_numbers_are_refused(finished):
    d, _ = finished
    arrays = _io.read_npz(d / "s1.npz")
    arrays["x"] = arrays["x"] * 2
    _io.atomic_savez(d / "s1.npz", arrays)
    with pytest.raises(SweepError, match="does not match the hash stored with it"):
        _resume(finished)


def test_F9_another_tasks_result_is_refused(finished):
    d, _ = finished
    os.replace(d / "s1.npz", d / "s0.npz")
    with pytest.raises(SweepError, match="s0.*written by another task"):
        _resume(finished)


def test_F9_object_array_result_is_refused(finished):
    d, _ = finished
    np.savez(d / "s0.npz", x=np.array([{"a": 1}], dtype=object))
    with pytest.raises(SweepError, match="not accepted"):
        _resume(finished)


def test_F9_result_of_other_settings_is_refused(finished):
    d, tasks = finished
    arrays = _io.read_npz(d / "s0.npz")
    arrays["meta/settings"] = np.array(json.dumps({"script": "other"}))
    del arrays["meta/sha256"]  # as a pre-hash file would be
    _io.atomic_savez(d / "s0.npz", arrays)
    with pytest.raises(SweepError, match="written under other sweep settings"):
        _resume(finished)


def test_F9_untouched_results_resume_and_load(finished):
    d, tasks = finished
    got = _resume(finished)
    np.testing.assert_array_equal(got["s1"]["x"], [1.0, 1.0])
    assert load_result(d, "s1", tasks[1], F_SETTINGS)["meta/sha256"].dtype.kind == "U"


@pytest.mark.parametrize("manifest", [
    {"format": "floss_ref.sweep/1"},
    {"format": "floss_ref.sweep/1", "settings": F_SETTINGS, "tasks": ["s0", "s1"]},
    {"format": "floss_ref.sweep/1", "settings": "x", "tasks": {}},
])
def test_F9_damaged_manifest_is_refused(finished, manifest):
    d, _ = finished
    (d / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(SweepError, match="is damaged|not a sweep manifest"):
        _resume(finished)


# F15: small ones

@pytest.mark.parametrize("name", ["ok\n", "a/b", "../x", "", ".hidden"])
def test_F15_task_names_are_matched_whole(name):
    with pytest.raises(ValueError, match="task name must be"):
        SweepTask(name, "test_sweep:ones_task", {"n": 1})


def test_F15_retries_are_logged(tmp_path):
    lines = []
    marker = str(tmp_path / "marker")
    run_sweep([SweepTask("flaky", "test_sweep:flaky_task", {"marker": marker})], tmp_path / "r",
              settings=F_SETTINGS, jobs=0, retries=1, log=lines.append)
    assert any("flaky: attempt 1 of 2 failed (RuntimeError: first attempt fails); retrying" in line for line in lines)


def test_F15_dask_killed_worker_is_reported_as_worker_deaths(tmp_path):
    distributed = pytest.importorskip("distributed")
    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, host="127.0.0.1",
                                           dashboard_address=None)
        client = distributed.Client(cluster, set_as_default=False)
        try:
            # (one task: tasks queued on the same worker would be counted as killed too)
            tasks = [SweepTask("dies", "test_sweep:die_task", {})]
            with pytest.raises(SweepError, match="dies: the workers running it died") as info:
                run_sweep(tasks, tmp_path, settings=F_SETTINGS, client=client, retries=0)
        finally:
            client.close()
            cluster.close()
    assert set(info.value.failures) == {"dies"}


# F5 / F9: a manifest or result that is not a regular file, or not JSON within bounds, is refused by name

@pytest.mark.parametrize("kind", SPECIAL)
@pytest.mark.parametrize("file", [MANIFEST, "s0.npz"])
def test_F9_a_manifest_or_result_that_is_not_a_regular_file_is_refused_by_name(finished, kind, file):
    d, _ = finished
    os.remove(d / file)
    path = make_special(d / file, kind)
    exc = refused_within(lambda: _resume(finished), fifo=path if kind == "FIFO" else None)
    assert isinstance(exc, SweepError), repr(exc)
    assert f"{file}' cannot be read as a" in str(exc) and f"it is a {kind}, not a regular file" in str(exc), str(exc)


@pytest.mark.parametrize("text, match", [
    (deep_json(3000), "manifest.json' \\(sweep manifest\\) nests deeper than 64 levels"),
    ('{"format": "floss_ref.sweep/1", "settings": {"script": "test_reliability"}, "tasks": '
     '{"s0": {"kind": 3, "params": {"n": 1}}}}', "field 'tasks.s0.kind' must be a string, got an integer"),
    ('{"format": "floss_ref.sweep/1", "settings": {"script": "test_reliability"}, "tasks": '
     '{"s0": {"kind": "test_sweep:ones_task"}}}', "field 'tasks.s0.params' is missing"),
    ('{"format": ["floss_ref.sweep/1"]}', "field 'format' must be a string, got a list"),
], ids=["deep", "kind", "params", "format"])
def test_F9_a_manifest_nested_too_deep_or_of_the_wrong_types_is_refused(finished, text, match):
    d, _ = finished
    (d / MANIFEST).write_text(text)
    with pytest.raises(SweepError, match=match):
        _resume(finished)


@pytest.mark.parametrize("member", ["meta/task", "meta/settings"])
def test_F9_result_metadata_nested_too_deep_is_refused_even_with_a_matching_hash(finished, member):
    d, _ = finished
    arrays = _io.read_npz(d / "s0.npz")
    arrays[member] = np.array(deep_json(3000))
    arrays["meta/sha256"] = np.array(_io.content_hash({k: v for k, v in arrays.items()
                                                       if k not in ("meta/sha256", "meta/seconds")}))
    _io.atomic_savez(d / "s0.npz", arrays)
    with pytest.raises(SweepError, match=f"s0.npz.*{member}.*nests deeper than 64 levels"):
        _resume(finished)


def test_F9_task_parameters_and_settings_too_deep_to_read_back_are_refused_when_made(tmp_path):
    with pytest.raises(ValueError, match="params of task 'deep' nest deeper than 60 levels"):
        SweepTask("deep", "test_sweep:ones_task", {"n": deep_list(61)})
    with pytest.raises(ValueError, match="params of task 'deeper' nest deeper than 60 levels"):
        SweepTask("deeper", "test_sweep:ones_task", {"n": deep_list(3000)})
    with pytest.raises(ValueError, match="settings nest deeper than 60 levels"):
        run_sweep([SweepTask("a", "test_sweep:ones_task", {"n": 1})], tmp_path / "r",
                  settings={"x": deep_list(61)}, jobs=0)
    SweepTask("ok", "test_sweep:ones_task", {"n": deep_list(59)})


# F3 / F4: a results directory that cannot be written is a SweepError, not an OSError

@pytest.mark.parametrize("where, code", [("open", errno.EACCES), ("open", errno.EROFS), ("makedirs", errno.EACCES),
                                         ("replace", errno.ENOSPC)])
def test_F4_a_results_directory_that_cannot_be_written_is_a_SweepError(tmp_path, monkeypatch, where, code):
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    results = tmp_path / ("new" if where == "makedirs" else "")
    with monkeypatch.context() as m:
        m.setattr(os, where, fail)
        with pytest.raises(SweepError, match=f"cannot write .*{os.strerror(code)}") as info:
            run_sweep([SweepTask("a", "test_sweep:ones_task", {"n": 1})], results, settings=F_SETTINGS, jobs=0)
    assert not isinstance(info.value, OSError)
    assert [f for f in os.listdir(tmp_path) if f.endswith(".tmp")] == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_F4_a_read_only_results_directory_is_a_SweepError(tmp_path):
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(SweepError, match="Permission denied"):
            run_sweep([SweepTask("a", "test_sweep:ones_task", {"n": 1})], tmp_path, settings=F_SETTINGS, jobs=0)
    finally:
        tmp_path.chmod(0o755)


def test_committed_results_directories_stay_readable(tmp_path):
    """The file formats are fixed names, not module paths: every committed results directory
    opens as a sweep (its manifest's format accepted) and its results verify."""
    import json
    import pathlib
    import shutil

    from floss_ref.runs.sweep import FORMAT, _open_results, load_result

    root = pathlib.Path(__file__).resolve().parents[1] / "validation" / "results"
    manifests = sorted(root.rglob("manifest.json"))
    assert manifests and FORMAT == "floss_ref.sweep/1"
    for manifest in manifests:
        copy = tmp_path / manifest.parent.relative_to(root)
        shutil.copytree(manifest.parent, copy)
        settings = json.loads(manifest.read_text())["settings"]
        assert _open_results(copy, settings, [])["format"] == FORMAT, manifest
        first = sorted(copy.glob("*.npz"))[0]
        assert "meta/task" in load_result(copy, first.stem)   # hash-verified where the file has one


# ---- regression tests of the issue "Reliability", rows F16 to F18 ---------------------------

from hostile_files import LockHolder  # noqa: E402
from floss_ref.runs import sweep as _sweep  # noqa: E402


def manifest_probe_task(params):
    """Records whether the manifest held the sweep's settings when the task ran."""
    with open(os.path.join(params["dir"], MANIFEST)) as f:
        settings = json.load(f)["settings"]
    return {"x": np.array([1.0 if settings == params["settings"] else 0.0])}


def test_F16_a_results_directory_held_by_another_driver_is_refused_naming_it(tmp_path):
    tasks = [SweepTask("a", "test_sweep:ones_task", {"n": 1})]
    with LockHolder(tmp_path, tmp_path / ".lock") as holder:
        with pytest.raises(SweepError, match=rf"results directory '.*' is being written by pid {holder.pid} on host"):
            run_sweep(tasks, tmp_path, settings=F_SETTINGS, jobs=0)
        assert not os.path.exists(tmp_path / MANIFEST)
        holder.kill()  # SIGKILL releases the lock
        assert set(run_sweep(tasks, tmp_path, settings=F_SETTINGS, jobs=0)) == {"a"}
    assert sorted(os.listdir(tmp_path)) == ["a.npz", MANIFEST]
    with LockHolder(tmp_path, tmp_path / ".lock"):  # readers take no lock
        assert set(load_results(tmp_path)) == {"a"}
        load_result(tmp_path, "a", tasks[0], F_SETTINGS)


def test_F17_settings_are_in_the_manifest_before_the_first_result_and_a_second_driver_cannot_mix(tmp_path):
    new = tmp_path / "new"
    task = SweepTask("p", "test_sweep:manifest_probe_task", {"dir": str(new), "settings": F_SETTINGS})
    assert run_sweep([task], new, settings=F_SETTINGS, jobs=0)["p"]["x"][0] == 1.0
    other = tmp_path / "other"
    os.mkdir(other)
    with LockHolder(other, other / ".lock") as holder:  # driver A started on a NEW directory
        with pytest.raises(SweepError, match=f"pid {holder.pid}"):
            run_sweep([task], other, settings={"script": "other"}, jobs=0)
    run_sweep([SweepTask("a", "test_sweep:ones_task", {"n": 1})], other, settings=F_SETTINGS, jobs=0)
    with pytest.raises(SweepError, match="different settings"):
        run_sweep([SweepTask("a", "test_sweep:ones_task", {"n": 1})], other, settings={"script": "other"}, jobs=0)


def test_F18_a_pool_that_cannot_start_is_a_SweepError_naming_the_cause(tmp_path, monkeypatch):
    def no_pool(*args, **kwargs):
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(_sweep.concurrent.futures, "ProcessPoolExecutor", no_pool)
    tasks = [SweepTask(f"t{i}", "test_sweep:ones_task", {"n": 1}) for i in range(3)]
    with pytest.raises(SweepError, match="3 of 3 tasks failed") as info:
        refused = refused_within(lambda: run_sweep(tasks, tmp_path, settings=F_SETTINGS, jobs=2), seconds=60)
        raise refused
    assert set(info.value.failures) == {"t0", "t1", "t2"}
    assert "Too many open files" in str(info.value)


class _FakePool:
    def __init__(self, error):
        self.error = error

    def submit(self, *args, **kwargs):
        raise self.error

    def shutdown(self, *args, **kwargs):
        pass


def test_F18_a_submit_that_raises_is_a_SweepError_naming_the_cause(tmp_path, monkeypatch):
    monkeypatch.setattr(_sweep, "_new_pool", lambda: _FakePool(RuntimeError("cannot schedule new futures")))
    tasks = [SweepTask(f"t{i}", "test_sweep:ones_task", {"n": 1}) for i in range(2)]
    with pytest.raises(SweepError, match="cannot schedule new futures") as info:
        run_sweep(tasks, tmp_path, settings=F_SETTINGS, jobs=2, retries=0)
    assert set(info.value.failures) == {"t0", "t1"}


def test_F18_a_driver_thread_that_dies_is_a_SweepError_naming_its_tasks(tmp_path, monkeypatch):
    import concurrent.futures
    calls = []

    def pools():
        calls.append(1)
        if len(calls) > 1:
            raise OSError(errno.EAGAIN, "Resource temporarily unavailable")
        return _FakePool(concurrent.futures.process.BrokenProcessPool("worker died"))

    monkeypatch.setattr(_sweep, "_new_pool", pools)
    tasks = [SweepTask(f"t{i}", "test_sweep:ones_task", {"n": 1}) for i in range(3)]
    with pytest.raises(SweepError, match="Resource temporarily unavailable") as info:
        run_sweep(tasks, tmp_path, settings=F_SETTINGS, jobs=1)
    assert set(info.value.failures) == {"t0", "t1", "t2"}


def test_F18_fewer_results_than_tasks_are_never_returned_silently(tmp_path, monkeypatch):
    monkeypatch.setattr(_sweep, "_serial", lambda todo, retries, on_done, log: {})  # an engine that drops tasks
    tasks = [SweepTask(f"t{i}", "test_sweep:ones_task", {"n": 1}) for i in range(2)]
    with pytest.raises(SweepError, match="2 of 2 tasks have no result .*: t0, t1") as info:
        run_sweep(tasks, tmp_path, settings=F_SETTINGS, jobs=0)
    assert set(info.value.failures) == {"t0", "t1"}


@pytest.mark.parametrize("name", ["../a", "..", "/etc/passwd", "sub/a", os.path.join(os.sep, "tmp", "x")])
def test_F18_result_names_that_reach_outside_the_directory_are_refused(finished, name):
    d, _ = finished
    with pytest.raises(ValueError, match=f"result name {name!r} is not a file name inside the results directory"):
        load_result(d, name)
    with pytest.raises(ValueError, match="result name"):
        load_results(d, [name])


# ---- regression tests of the hostile-file families (validation/reliability/fuzz_files.py --families) ----

def test_a_manifest_that_is_a_dangling_symlink_is_a_SweepError_naming_it(finished):
    """A FileNotFoundError escaped run_sweep (a traceback in the validation scripts)."""
    d, _ = finished
    os.remove(d / MANIFEST)
    os.symlink(d / "gone.json", d / MANIFEST)
    with pytest.raises(SweepError, match=r"manifest.json' cannot be read as a sweep manifest: it does not exist"):
        _resume(finished)
    assert os.path.islink(d / MANIFEST)


@pytest.mark.parametrize("text, match", [
    ('{"format": "floss_ref.sweep/1", "settings": {"script": "x"}, "settings": SETTINGS, "tasks": {}}',
     "field 'settings' appears twice in one object"),
    ('{"format": "floss_ref.sweep/1", "settings": SETTINGS, "tasks": {"s0": {"kind": "test_sweep:ones_task", '
     '"params": {"n": NaN}}}}', "field 'tasks.s0.params.n' is NaN"),
], ids=["duplicate", "nan"])
def test_a_manifest_with_duplicate_keys_or_nan_is_refused_naming_the_field(finished, text, match):
    d, _ = finished
    (d / MANIFEST).write_text(text.replace("SETTINGS", json.dumps(F_SETTINGS)))
    with pytest.raises(SweepError, match=f"manifest.json' \\(sweep manifest\\): {match}"):
        _resume(finished)


def test_result_metadata_beyond_the_size_bound_is_refused_even_with_a_matching_hash(finished):
    """A 17 MiB member was parsed (the bound of 16 MiB held for files, not for members)."""
    d, _ = finished
    arrays = _io.read_npz(d / "s0.npz")
    arrays["meta/settings"] = np.array(json.dumps({**F_SETTINGS, "pad": "0" * (17 << 20)}))
    arrays["meta/sha256"] = np.array(_io.content_hash({k: v for k, v in arrays.items()
                                                       if k not in ("meta/sha256", "meta/seconds")}))
    _io.atomic_savez(d / "s0.npz", arrays)
    with pytest.raises(SweepError, match=r"s0.npz.*meta/settings' holds \d+ bytes of JSON or more, more than the "
                                         r"16777216 allowed"):
        _resume(finished)


def test_settings_that_differ_by_a_huge_key_are_named_in_brief(finished):
    d, _ = finished
    manifest = json.loads((d / MANIFEST).read_text())
    manifest["settings"]["k" * 10_000_000] = 1
    (d / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(SweepError, match="holds results of different settings") as info:
        _resume(finished)
    assert len(str(info.value)) < 500


def test_nan_in_task_parameters_or_settings_is_refused_when_made(tmp_path):
    """Written into the manifest as NaN, which its reader refuses."""
    with pytest.raises(ValueError, match="params of task 'nan' must be JSON-able: it holds NaN or an infinity"):
        SweepTask("nan", "test_sweep:ones_task", {"n": float("nan")})
    with pytest.raises(ValueError, match="settings must be JSON-able: it holds NaN or an infinity"):
        run_sweep([SweepTask("a", "test_sweep:ones_task", {"n": 1})], tmp_path / "r",
                  settings={"x": float("inf")}, jobs=0)
    assert not os.path.exists(tmp_path / "r")


def test_a_lock_that_is_not_a_regular_file_is_a_SweepError_and_left(tmp_path):
    os.mkfifo(tmp_path / ".lock")
    with pytest.raises(SweepError, match=r"\.lock': it is a FIFO, not a regular file"):
        run_sweep([SweepTask("a", "test_sweep:ones_task", {"n": 1})], tmp_path, settings=F_SETTINGS, jobs=0)
    assert os.listdir(tmp_path) == [".lock"]


# ---- a worker dies with its driver, even inside a C call that holds the GIL ----------------

HOG = r'''
import multiprocessing, os, re, sys
from floss_ref.runs import sweep


def hog(parent, watchdog_only):
    if watchdog_only:   # the thread alone, as where prctl is missing
        sweep._killed_with_parent = lambda parent: False
    sweep._worker_init(parent)
    print(os.getpid(), flush=True)
    re.match(r"(a+)+$", "a" * 64 + "b")   # the regex engine holds the GIL for years


if __name__ == "__main__":
    ctx = multiprocessing.get_context("spawn")
    worker = ctx.Process(target=hog, args=(os.getpid(), sys.argv[1] == "watchdog"))
    worker.start()
    worker.join()
'''


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"   # a zombie has ended
    except FileNotFoundError:
        return False


def _driver_killed_while_worker_hogs_the_gil(tmp_path, mode, wait):
    """The worker's pid and whether it is still alive ``wait`` s after its driver's SIGKILL."""
    import subprocess
    script = tmp_path / "hog.py"
    script.write_text(HOG)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH")))))
    driver = subprocess.Popen([sys.executable, str(script), mode], stdout=subprocess.PIPE, text=True, env=env)
    pid = int(driver.stdout.readline())
    try:
        time.sleep(0.5)                      # well inside the regex
        driver.send_signal(signal.SIGKILL)
        driver.wait()
        deadline = time.monotonic() + wait
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        return _alive(pid)
    finally:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_worker_inside_a_c_call_holding_the_gil_dies_with_its_killed_driver(tmp_path):
    assert not _driver_killed_while_worker_hogs_the_gil(tmp_path, "prctl", wait=5.0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_watchdog_thread_alone_would_not_end_such_a_worker(tmp_path):
    """Positive control: without the kernel's signal the worker outlives its driver."""
    assert _driver_killed_while_worker_hogs_the_gil(tmp_path, "watchdog", wait=2.0)


# ---- merging results directories of sweeps that ran apart ---------------------------------

from floss_ref.runs.sweep import merge_results  # noqa: E402

MERGE_SCRIPT = os.path.join(VALIDATION, "merge_results.py")


def _ones(names):
    return [SweepTask(f"m{i}", "test_sweep:ones_task", {"n": i + 1}) for i in names]


def _snapshot(d):
    """Every file of a directory (but the lock) with its bytes."""
    return {f: (d / f).read_bytes() for f in sorted(os.listdir(d)) if f != ".lock"}


def test_merged_halves_equal_one_sweep_of_all_tasks_and_resume_runs_nothing(tmp_path):
    whole = run_sweep(_ones(range(4)), tmp_path / "whole", settings=F_SETTINGS, jobs=0)
    run_sweep(_ones([0, 1]), tmp_path / "a", settings=F_SETTINGS, jobs=0)
    run_sweep(_ones([2, 3]), tmp_path / "b", settings=F_SETTINGS, jobs=0)
    assert merge_results(tmp_path / "b", tmp_path / "a") == {"copied": ["m2", "m3"], "present": []}
    merged = json.loads((tmp_path / "a" / MANIFEST).read_text())
    assert merged == json.loads((tmp_path / "whole" / MANIFEST).read_text())
    lines = []
    again = run_sweep(_ones(range(4)), tmp_path / "a", settings=F_SETTINGS, jobs=0, log=lines.append)
    assert lines == [f"4 of 4 tasks already done in {tmp_path / 'a'}"]
    assert_same(again, whole)
    before = _snapshot(tmp_path / "a")
    assert merge_results(tmp_path / "b", tmp_path / "a") == {"copied": [], "present": ["m2", "m3"]}
    assert _snapshot(tmp_path / "a") == before


def test_merge_copies_finished_tasks_and_the_entries_of_those_still_to_run(tmp_path):
    run_sweep(_ones([0, 1]), tmp_path / "a", settings=F_SETTINGS, jobs=0)
    manifest = json.loads((tmp_path / "a" / MANIFEST).read_text())
    manifest["tasks"]["m9"] = {"kind": "test_sweep:ones_task", "params": {"n": 10}}  # started, not finished
    (tmp_path / "a" / MANIFEST).write_text(json.dumps(manifest))
    assert merge_results(tmp_path / "a", tmp_path / "new")["copied"] == ["m0", "m1"]
    assert sorted(json.loads((tmp_path / "new" / MANIFEST).read_text())["tasks"]) == ["m0", "m1", "m9"]
    assert set(os.listdir(tmp_path / "new")) == {MANIFEST, "m0.npz", "m1.npz"}
    run_sweep(_ones([9]), tmp_path / "a", settings=F_SETTINGS, jobs=0)   # it finishes there; merging again brings it
    assert merge_results(tmp_path / "a", tmp_path / "new") == {"copied": ["m9"], "present": ["m0", "m1"]}
    lines = []
    run_sweep(_ones([0, 1, 9]), tmp_path / "new", settings=F_SETTINGS, jobs=0, log=lines.append)
    assert lines == [f"3 of 3 tasks already done in {tmp_path / 'new'}"]


def test_merge_refuses_an_unfinished_task_of_the_same_name_and_other_parameters(tmp_path):
    run_sweep(_ones([0]), tmp_path / "a", settings=F_SETTINGS, jobs=0)
    run_sweep(_ones([1]), tmp_path / "b", settings=F_SETTINGS, jobs=0)
    manifest = json.loads((tmp_path / "b" / MANIFEST).read_text())
    manifest["tasks"]["m0"] = {"kind": "test_sweep:ones_task", "params": {"n": 7}}   # planned there, other n
    (tmp_path / "b" / MANIFEST).write_text(json.dumps(manifest))
    _refused(tmp_path, "same name but other parameters: m0")


def _refused(tmp_path, match):
    before = _snapshot(tmp_path / "a")
    with pytest.raises(SweepError, match=match):
        merge_results(tmp_path / "b", tmp_path / "a")
    assert _snapshot(tmp_path / "a") == before


def test_merge_of_other_settings_is_refused_and_writes_nothing(tmp_path):
    run_sweep(_ones([0]), tmp_path / "a", settings=F_SETTINGS, jobs=0)
    run_sweep(_ones([1]), tmp_path / "b", settings={"script": "other"}, jobs=0)
    _refused(tmp_path, "different settings")


def test_merge_of_a_task_with_the_same_name_and_other_parameters_is_refused(tmp_path):
    run_sweep(_ones([0]), tmp_path / "a", settings=F_SETTINGS, jobs=0)
    run_sweep([SweepTask("m0", "test_sweep:ones_task", {"n": 5})], tmp_path / "b", settings=F_SETTINGS, jobs=0)
    _refused(tmp_path, "same name but other parameters: m0")


def test_merge_of_a_task_finished_in_both_with_other_arrays_is_refused(tmp_path):
    run_sweep(_ones([0, 1]), tmp_path / "a", settings=F_SETTINGS, jobs=0)
    run_sweep(_ones([1, 2]), tmp_path / "b", settings=F_SETTINGS, jobs=0)
    # a valid, hashed result of task m1 with other numbers (e.g. a task that is not deterministic)
    _sweep._save(str(tmp_path / "b"), _ones([1])[0], {"x": np.full(2, 1.5)}, 1.0, F_SETTINGS)
    _refused(tmp_path, r"1 task\(s\) finished in both .* with different arrays .*: m1; nothing was merged")


def test_merge_of_a_damaged_source_result_is_refused_by_name(tmp_path):
    run_sweep(_ones([0]), tmp_path / "a", settings=F_SETTINGS, jobs=0)
    run_sweep(_ones([1, 2]), tmp_path / "b", settings=F_SETTINGS, jobs=0)
    data = (tmp_path / "b" / "m2.npz").read_bytes()
    (tmp_path / "b" / "m2.npz").write_bytes(data[: len(data) // 2])
    _refused(tmp_path, "the result of task 'm2' in .* cannot be trusted")


def test_merge_into_a_directory_held_by_a_running_sweep_is_refused_naming_it(tmp_path):
    run_sweep(_ones([0]), tmp_path / "a", settings=F_SETTINGS, jobs=0)
    run_sweep(_ones([1]), tmp_path / "b", settings=F_SETTINGS, jobs=0)
    with LockHolder(tmp_path / "a", tmp_path / "a" / ".lock") as holder:
        _refused(tmp_path, f"pid {holder.pid}")
    with LockHolder(tmp_path / "b", tmp_path / "b" / ".lock"):  # the source is only read
        assert merge_results(tmp_path / "b", tmp_path / "a")["copied"] == ["m1"]


def test_merge_of_a_directory_into_itself_or_of_no_results_directory_is_refused(tmp_path):
    run_sweep(_ones([0]), tmp_path / "a", settings=F_SETTINGS, jobs=0)
    with pytest.raises(SweepError, match="same results directory"):
        merge_results(tmp_path / "a", tmp_path / "a")
    os.mkdir(tmp_path / "b")
    _refused(tmp_path, "source .* is not a results directory")


def test_merge_script_exit_codes(tmp_path, capsys):
    import importlib.util
    import subprocess
    spec = importlib.util.spec_from_file_location("merge_results_script", MERGE_SCRIPT)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    run_sweep(_ones([0]), tmp_path / "a", settings=F_SETTINGS, jobs=0)
    run_sweep(_ones([1]), tmp_path / "b", settings=F_SETTINGS, jobs=0)
    run_sweep(_ones([2]), tmp_path / "c", settings={"script": "other"}, jobs=0)
    ok = subprocess.run([sys.executable, MERGE_SCRIPT, str(tmp_path / "b"), str(tmp_path / "a")],
                        capture_output=True, text=True, timeout=300,
                        env=dict(os.environ, PYTHONPATH=os.path.dirname(os.path.abspath(__file__))))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip().endswith("1 task(s) copied, 0 already there")
    capsys.readouterr()
    assert script.main([str(tmp_path / "c"), str(tmp_path / "a")]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "different settings" in err
    for bad in ([tmp_path / "a"], [tmp_path / "missing", tmp_path / "a"]):
        with pytest.raises(SystemExit) as exit_:
            script.main([str(d) for d in bad])
        assert exit_.value.code == 2
        assert capsys.readouterr().err.strip().splitlines()[-1].startswith("merge_results: error:")


def test_a_copy_that_does_not_read_back_as_checked_is_removed_and_the_merge_can_be_run_again(tmp_path, monkeypatch):
    run_sweep(_ones([0]), tmp_path / "a", settings=F_SETTINGS, jobs=0)
    run_sweep(_ones([1]), tmp_path / "b", settings=F_SETTINGS, jobs=0)
    write = _sweep.atomic_write

    def damaging(path, fn):
        if not str(path).endswith(".npz"):
            return write(path, fn)
        import io
        buf = io.BytesIO()
        fn(buf)
        return write(path, lambda f: f.write(buf.getvalue()[:-40]))

    monkeypatch.setattr(_sweep, "atomic_write", damaging)
    with pytest.raises(SweepError, match="the copy of task 'm1' .* differs from the file checked .*; the copy was removed"):
        merge_results(tmp_path / "b", tmp_path / "a")
    assert not os.path.exists(tmp_path / "a" / "m1.npz")
    monkeypatch.setattr(_sweep, "atomic_write", write)
    assert merge_results(tmp_path / "b", tmp_path / "a")["copied"] == ["m1"]
    assert set(load_results(tmp_path / "a")) == {"m0", "m1"}


def test_a_target_file_without_its_manifest_entry_gains_the_entry(tmp_path):
    run_sweep(_ones([0]), tmp_path / "a", settings=F_SETTINGS, jobs=0)
    run_sweep(_ones([1]), tmp_path / "b", settings=F_SETTINGS, jobs=0)
    (tmp_path / "a" / "m1.npz").write_bytes((tmp_path / "b" / "m1.npz").read_bytes())   # a merge stopped here
    assert merge_results(tmp_path / "b", tmp_path / "a") == {"copied": [], "present": ["m1"]}
    assert sorted(json.loads((tmp_path / "a" / MANIFEST).read_text())["tasks"]) == ["m0", "m1"]
