"""Byte-flip and truncation fuzz of the two kinds of file floss_ref reads back: a training
checkpoint (``Run.load``) and a sweep result (``sweep.load_result``); with ``--families``,
hostile files in place of every file floss_ref reads or writes (``_file_families.py``).

Every damaged copy is loaded the way a resumed run or sweep loads it, and the outcome is
counted:

* refused   -- a ``ValueError`` (``CheckpointError`` / ``FileFormatError``) naming the file;
* identical -- it loaded, and every array and the run state equal the original bit for bit
  (the byte was one the reader does not use, e.g. a timestamp in the zip directory);
* altered   -- it loaded with different data: a silent wrong answer;
* traceback -- any other exception.

The figure the reliability issue asks for: 0 altered and 0 tracebacks.

The families (``--families special,json,writers,disk`` or ``all``): special files (FIFOs,
device nodes, directories, symbolic links), hostile JSON (nested 3000 and 100000 deep, beyond
the size bound, 10 MB strings, duplicate keys, NaN, wrong types), concurrent writers and
writers killed by SIGKILL, and a full or read-only disk.  Each prints one line per case,
then its count: cases tried, passed, and the failures again, one per line.  The script
exits with 1 if any byte flip altered a file or raised a traceback, or if any case of a
family failed.

Usage::

    python validation/reliability/fuzz_files.py                 # 5000 sampled flips of each file + truncations
    python validation/reliability/fuzz_files.py --flips all     # every byte of each file
    python validation/reliability/fuzz_files.py --flips 300 --seed 1
    python validation/reliability/fuzz_files.py --families all  # the hostile-file families (no flips)

The committed outputs: ``--flips all > validation/results/fuzz_files/fuzz_all.txt``, and
``--families all``, which writes its output to
``validation/results/fuzz_files/fuzz_families.txt`` as well (``--out``).
"""

import argparse
import collections
import contextlib
import json
import os
import sys
import tempfile
import time
import warnings

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # light on a busy machine
    os.environ.setdefault(_var, "1")

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
    p.add_argument("--flips", default=None, help="byte flips per file: a number (sampled) or 'all' (default 5000; "
                   "none with --families unless given)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--tail", type=int, default=2048, help="truncate at every length within this many bytes of "
                   "the end (default 2048; and at every length in the first 64)")
    p.add_argument("--middle", type=int, default=500, help="truncations sampled in between (default 500)")
    p.add_argument("--families", default=None, help="hostile-file families to try, comma-separated: special, "
                   "json, writers, disk, or all")
    p.add_argument("--out", default=None, help="also write the output to this file (with --families, default "
                   "validation/results/fuzz_files/fuzz_families.txt; '-' for none)")
    p.add_argument("--mount", choices=("direct", "unshare", "namespace"), default="direct",
                   help="how the disk family mounts its tmpfs: here, else in `unshare -rm` (direct, default), "
                        "only in `unshare -rm` (unshare), or it already runs there (namespace)")
    args = p.parse_args(argv)
    flips = args.flips if args.flips is not None else (None if args.families else "5000")
    if flips is not None and flips != "all" and not (flips.isdigit() and int(flips) >= 1):
        p.error(f"--flips must be a positive integer or 'all', got {flips!r}")
    families = []
    if args.families:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from _file_families import FAMILIES
        families = list(FAMILIES) if args.families == "all" else [f.strip() for f in args.families.split(",")]
        unknown = sorted(set(families) - set(FAMILIES))
        if unknown:
            p.error(f"--families: unknown {', '.join(unknown)}; choose from {', '.join(FAMILIES)} or all")
    out = args.out
    if out is None and families:
        out = os.path.join(HERE, "results", "fuzz_files", "fuzz_families.txt")
    sys.path.insert(0, HERE)
    from _common import Tee
    with Tee(out) if out not in (None, "-") else contextlib.nullcontext():
        return _run(args, flips, families)


def _run(args, flips, families):
    from _common import provenance
    print(provenance(), flush=True)
    wanted = []
    if flips is not None:
        wanted.append(("0 altered and 0 tracebacks", _flips(flips, args)))
    if families:
        from _file_families import run_families
        start = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            done = run_families(families, tmp, CONFIG, TASK, SETTINGS, mount_mode=args.mount)
        tried = sum(f.tried for f in done)
        bad = sum(len(f.failures) for f in done)
        print(f"\nfamilies: {tried} cases tried, {tried - bad} passed, {bad} failed, in "
              f"{time.perf_counter() - start:.0f} s")
        for f in done:
            print(f"{f.title.split(' (')[0]}: {f.tried} tried, {f.tried - len(f.failures)} passed, "
                  f"{len(f.failures)} failed" + (f", {len(f.skipped)} skipped" if f.skipped else ""))
        wanted.append(("every case of the families passed", bad == 0))
    ok = all(passed for _, passed in wanted)
    print(f"verdict: {'PASS' if ok else 'FAIL'} ({' and '.join(claim for claim, _ in wanted)} wanted)")
    return 0 if ok else 1


def _flips(flips, args):
    """The byte flips and truncations; True if 0 altered and 0 tracebacks."""
    total = collections.Counter()
    with tempfile.TemporaryDirectory() as tmp:
        ckpt, result = make_files(tmp)
        work = os.path.join(tmp, "work")
        os.makedirs(work)
        for name, (path, load) in loaders(ckpt, result).items():
            start = time.perf_counter()
            size, counts, examples = fuzz(name, path, load, flips, args.seed, work, args.tail, args.middle)
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
    return bad == 0


if __name__ == "__main__":
    sys.exit(main())
