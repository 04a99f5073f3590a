"""The cross-cutting regression tests of the failures found by adversarial testing (issue
"Reliability", rows F1-F15): no hang, no silent wrong answer, no lost or half-written file.

Each test names its row.  Every one of them failed on the main branch before the fix:
a hang or traceback, a silently wrong number, or a file lost or trusted by its name.
The rows that test one module live in that module's test file under the same names
(``test_F<row>_...``; tests/README.md lists where); here are the ones that span several:
the fuzz of every file loader, sizes refused by several constructors, and the sweep
options and interrupts of the validation scripts.
"""

import functools
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from floss_ref import VanillaRNN, LSTM
from floss_ref.runs.run import TrainConfig

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VALIDATION = os.path.join(ROOT, "validation")
RELIABILITY = os.path.join(VALIDATION, "reliability")
sys.path[:0] = [RELIABILITY, VALIDATION]
import _file_families  # noqa: E402
import fuzz_files  # noqa: E402
import reliability_checks  # noqa: E402
sys.path.remove(RELIABILITY)
sys.path.remove(VALIDATION)


# ---- F7: no orphans when a validation script is interrupted (the sweep's own case: test_sweep.py) -----

def test_F7_a_validation_script_interrupted_prints_one_line(tmp_path):
    """SIGINT to a validation script's sweep: a one-line message, no traceback."""
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{VALIDATION!r}, {RELIABILITY!r}, {ROOT!r}]
        import argparse, _common
        from floss_ref.runs.sweep import SweepTask
        args = argparse.Namespace(results={str(tmp_path / 'results')!r}, scale="quick", jobs=2, scheduler=None,
                                  out=None)
        tasks = [SweepTask(f"t{{i}}", "reliability_checks:sleep_task",
                           {{"dir": {str(tmp_path)!r}, "i": i, "seconds": 600}}) for i in range(2)]
        if __name__ == "__main__":  # spawned workers import this file again
            _common.sweep(args, "orphans", tasks, {{}})
    """))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([VALIDATION, RELIABILITY, ROOT]))
    driver = subprocess.Popen([sys.executable, str(script)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, preexec_fn=reliability_checks.default_sigint)
    deadline = time.monotonic() + 120
    while not all((tmp_path / f"pid{i}").exists() for i in range(2)) and time.monotonic() < deadline:
        time.sleep(0.2)
    pids = [int((tmp_path / f"pid{i}").read_text()) for i in range(2)]
    driver.send_signal(signal.SIGINT)
    _, err = driver.communicate(timeout=60)
    assert driver.returncode == 1
    assert "Traceback" not in err and "interrupted; the finished tasks are saved" in err
    deadline = time.monotonic() + 10
    while any(reliability_checks.alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(reliability_checks.alive(p) for p in pids)


# ---- F8: sizes that cannot fit are refused up front ---------------------------------------

@pytest.mark.parametrize("make, match", [
    (lambda: TrainConfig(epochs=99999999999999), "epochs = 99999999999999.*GiB of memory"),
    (lambda: TrainConfig(N=3000000), "N = 3000000.*GiB of memory"),
    (lambda: TrainConfig(batch=999999999999), "batch = 999999999999.*GiB of memory"),
    (lambda: VanillaRNN.random(10 ** 6), "N = 1000000 with n_in = 1 would need about"),
    (lambda: LSTM.random(10 ** 6), "N = 1000000 with n_in = 1 would need about"),
])
def test_F8_sizes_beyond_memory_are_refused_before_allocating(make, match):
    start = time.monotonic()
    with pytest.raises(ValueError, match=match):
        make()
    assert time.monotonic() - start < 30  # refused up front (it took 28 s and 8 GB before)


# ---- the fuzz of validation/reliability/fuzz_files.py, on a sample -------------------------------------

def test_byte_flips_and_truncations_are_refused_or_harmless(tmp_path):
    ckpt, result = fuzz_files.make_files(str(tmp_path))
    work = tmp_path / "work"
    work.mkdir()
    for name, (path, load) in fuzz_files.loaders(ckpt, result).items():
        _, counts, examples = fuzz_files.fuzz(name, path, load, 150, 0, str(work), tail=300, middle=30)
        for kind, c in counts.items():
            assert c["altered"] == 0 and c["traceback"] == 0, (name, kind, examples)
            assert c["refused"] > 0


# ---- the hostile-file families of fuzz_files.py --families, on a sample --------------------------------

def test_a_fuzz_case_that_blocks_is_killed_and_counted_as_a_failure(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    start = time.monotonic()
    outcome = _file_families.in_child(functools.partial(open, fifo, "rb"), timeout=1)
    assert outcome == ("timeout", None) and time.monotonic() - start < 10
    assert _file_families.refusal(outcome, ["fifo"], ("ValueError",))[0] is False


def test_hostile_file_families_on_a_sample(tmp_path):
    fx = _file_families.Fixture(str(tmp_path), fuzz_files.CONFIG, fuzz_files.TASK, fuzz_files.SETTINGS)
    places = {p.name: p for p in _file_families.PLACES}
    for name in ("checkpoint read by Run.load", "manifest.json of a sweep resumed by run_sweep",
                 "lock of a checkpoint, <checkpoint>.lock", "spectrum --out .json"):
        for kind in ("FIFO", "symlink to /dev/zero", "dangling symlink"):
            passed, detail = _file_families.special_case(fx, places[name], kind)
            assert passed, (name, kind, detail)
    for place in _file_families.json_places(fx):
        for label, text, field in _file_families.hostile_documents(place):
            if label.startswith(("nested 3000 deep (lists", "duplicate key", "NaN")):
                for _, attempt in place.attempts:
                    passed, detail = _file_families.json_case(fx, place, text, attempt, place.field or field)
                    assert passed, (place.name, label, detail)


# ---- F13: validation scripts refuse bad sweep options in one line -------------------------

@pytest.mark.parametrize("args, match, code", [
    (["--jobs", "-1"], "argument --jobs: must be >= 0", 2),
    (["--scheduler", "127.0.0.1:8786"], "scheduler must be an address like 'tcp://host:8786'", 1),
    (["--scheduler", "tls://127.0.0.1:1"], "cannot reach the Dask scheduler", 1),
])
def test_F13_validation_script_sweep_options_fail_in_one_line(tmp_path, args, match, code):
    r = subprocess.run([sys.executable, os.path.join(VALIDATION, "paper", "fig5_k_delay.py"), "--quick", "--out", str(tmp_path),
                        *args], capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, PYTHONPATH=ROOT))
    assert r.returncode == code, r.stderr
    assert match in r.stderr and "Traceback" not in r.stderr, r.stderr
