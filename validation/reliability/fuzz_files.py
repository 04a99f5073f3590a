"""Byte-flip and truncation fuzz of the two kinds of file floss_ref reads back: a training
checkpoint (``Run.load``) and a sweep result (``sweep.load_result``).

Every damaged copy is loaded the way a resumed run or sweep loads it, and the outcome is
counted:

* refused   -- a ``ValueError`` (``CheckpointError`` / ``FileFormatError``) naming the file;
* identical -- it loaded, and every array and the run state equal the original bit for bit
  (the byte was one the reader does not use, e.g. a timestamp in the zip directory);
* altered   -- it loaded with different data: a silent wrong answer;
* traceback -- any other exception.

The figure the reliability issue asks for: 0 altered and 0 tracebacks.

Usage::

    python validation/reliability/fuzz_files.py                 # 5000 sampled flips of each file + truncations
    python validation/reliability/fuzz_files.py --flips all     # every byte of each file
    python validation/reliability/fuzz_files.py --flips 300 --seed 1
"""

import argparse
import collections
import json
import os
import sys
import tempfile
import time
import warnings

import numpy as np

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # validation/
sys.path.insert(0, os.path.dirname(HERE))

from floss_ref.runs.sweep import SweepTask, load_result, run_sweep  # noqa: E402
from floss_ref.runs.run import Run, TrainConfig  # noqa: E402

# a small run that crosses flossing and diagnostics, so that every kind of array is present
CONFIG = TrainConfig(task="binary_xor", delay=2, N=8, T=12, batch=2, epochs=6, protocol="during",
                     floss_at=(3,), k=3, floss_epochs=2, floss_T=8, floss_transient=1, diag_every=2,
                     diag_k=2, test_batch=3, seed=1)
SETTINGS = {"script": "fuzz_files"}
TASK = SweepTask("train_small", "train", {**CONFIG.to_dict(), "curve_every": 2})
OUTCOMES = ("refused", "identical", "altered", "traceback")


def run_state(run):
    """Everything a resumed run depends on, as a dict of arrays and JSON text."""
    state = dict(run.state_arrays())
    state["epoch"] = np.array(run.epoch)
    state["rng"] = np.array(json.dumps(run.rng.bit_generator.state, sort_keys=True))
    return state


def same(a, b):
    """Bit for bit: names, dtypes, shapes and bytes."""
    return a.keys() == b.keys() and all(
        a[k].dtype == b[k].dtype and a[k].shape == b[k].shape
        and np.ascontiguousarray(a[k]).tobytes() == np.ascontiguousarray(b[k]).tobytes() for k in a)


def make_files(directory):
    ckpt = os.path.join(directory, "run.npz")
    Run(CONFIG).train(until=4, checkpoint=ckpt)
    results = os.path.join(directory, "results")
    run_sweep([TASK], results, settings=SETTINGS, jobs=0)
    return ckpt, os.path.join(results, TASK.name + ".npz")


def loaders(ckpt, result):
    """name -> (original bytes, load(path) -> comparable state)."""
    def load_ckpt(path):
        return run_state(Run.load(path, CONFIG))

    def load_res(path):
        return load_result(os.path.dirname(path), TASK.name, TASK, SETTINGS)

    return {"checkpoint": (ckpt, load_ckpt), "sweep result": (result, load_res)}


def outcome(load, path, reference):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = load(path)
    except ValueError:
        return "refused", None
    except Exception as exc:  # noqa: BLE001  (what this script counts)
        return "traceback", f"{type(exc).__name__}: {exc}"
    return ("identical", None) if same(got, reference) else ("altered", None)


def fuzz(name, original_path, load, flips, seed, work, tail=2048, middle=500):
    data = open(original_path, "rb").read()
    reference = load(original_path)
    rng = np.random.default_rng(seed)
    n = len(data)
    positions = np.arange(n) if flips == "all" else np.sort(rng.choice(n, size=min(int(flips), n), replace=False))
    path = os.path.join(work, os.path.basename(original_path))
    counts = {"flip": collections.Counter(), "truncate": collections.Counter()}
    examples = []

    def trial(kind, damaged, where):
        with open(path, "wb") as f:
            f.write(damaged)
        result, detail = outcome(load, path, reference)
        counts[kind][result] += 1
        if result in ("altered", "traceback") and len(examples) < 10:
            examples.append(f"{kind} at byte {where}: {result} {detail or ''}")

    for pos in positions:
        damaged = bytearray(data)
        damaged[pos] ^= int(rng.integers(1, 256))  # a non-zero XOR: the byte always changes
        trial("flip", bytes(damaged), int(pos))
    # truncation at every length class: every length in the first 64 bytes (local header)
    # and the last ``tail`` (array ends, central directory, end record), ``middle`` in between
    lengths = set(range(0, min(64, n))) | set(range(max(0, n - tail), n))
    between = np.arange(64, max(64, n - tail))
    if between.size:
        lengths |= set(rng.choice(between, size=min(middle, between.size), replace=False).tolist())
    for length in sorted(lengths):
        trial("truncate", data[:length], length)
    return n, counts, examples


def main(argv=None):
    p = argparse.ArgumentParser(prog="fuzz_files", description=__doc__.split("\n\n")[0])
    p.add_argument("--flips", default="5000", help="byte flips per file: a number (sampled) or 'all' (default 5000)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tail", type=int, default=2048, help="truncate at every length within this many bytes of "
                   "the end (default 2048; and at every length in the first 64)")
    p.add_argument("--middle", type=int, default=500, help="truncations sampled in between (default 500)")
    args = p.parse_args(argv)
    if args.flips != "all" and not (args.flips.isdigit() and int(args.flips) >= 1):
        p.error(f"--flips must be a positive integer or 'all', got {args.flips!r}")
    sys.path.insert(0, HERE)
    from _common import provenance
    print(provenance(), flush=True)
    total = collections.Counter()
    with tempfile.TemporaryDirectory() as tmp:
        ckpt, result = make_files(tmp)
        work = os.path.join(tmp, "work")
        os.makedirs(work)
        for name, (path, load) in loaders(ckpt, result).items():
            start = time.perf_counter()
            size, counts, examples = fuzz(name, path, load, args.flips, args.seed, work, args.tail, args.middle)
            seconds = time.perf_counter() - start
            for kind, c in counts.items():
                total.update(c)
                print(f"{name} ({size} bytes), {kind}: {sum(c.values())} trials: "
                      + ", ".join(f"{o} {c[o]}" for o in OUTCOMES), flush=True)
            for line in examples:
                print("   ", line)
            print(f"    ({seconds:.1f} s)", flush=True)
    bad = total["altered"] + total["traceback"]
    print(f"all files: {sum(total.values())} trials: " + ", ".join(f"{o} {total[o]}" for o in OUTCOMES))
    print(f"verdict: {'PASS' if bad == 0 else 'FAIL'} (0 altered and 0 tracebacks wanted)")
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
