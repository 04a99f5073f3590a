"""Speed of one training epoch (N = 80, B = 16, T = 300).

One epoch = draw a fresh batch, BPTT forward and reverse (floss_ref.experiments.bptt.loss_and_grad),
one Adam step with gradient clipping: ``Run.train_epoch`` with diagnostics off.
Measured on one core (threadpoolctl limits BLAS to one thread), as the median over
several repeats of a block of epochs.  Side by side, with the same data, the BPTT of the
vanilla cell's own whole-sequence loops (VanillaRNN.run / run_vjp) against the generic loop over
cell.step / cell.step_vjp, and the 10^4-epoch extrapolation next to the authors'
~1680 s (App. F).

    python validation/bench/bench_training.py [--repeats 7] [--block 20]
"""

import argparse
import sys
import os
import statistics
import time

from threadpoolctl import threadpool_info, threadpool_limits

FOLDER = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [FOLDER, os.path.dirname(FOLDER)]  # this folder's scripts, and validation/ (_common)
import _common  # noqa: E402

from floss_ref.experiments.bptt import LOSSES, Workspace, readout, readout_vjp, run_steps, run_steps_vjp  # noqa: E402
from floss_ref.runs.run import Run, TrainConfig  # noqa: E402

if hasattr(sys.stdout, "reconfigure"):  # whole lines at once, also into a log file
    sys.stdout.reconfigure(line_buffering=True)

PAPER_SECONDS_1E4_EPOCHS = 1680.0  # App. F, Julia, batch 16


def median_seconds(fn, repeats, block):
    """(median, min, max) over ``repeats`` of the mean wall time of ``block`` calls of fn,
    and the median of their mean CPU time."""
    times, cpus = [], []
    for _ in range(repeats):
        start, cpu = time.perf_counter(), time.process_time()
        for _ in range(block):
            fn()
        times.append((time.perf_counter() - start) / block)
        cpus.append((time.process_time() - cpu) / block)
    return statistics.median(times), min(times), max(times), statistics.median(cpus)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--block", type=int, default=20)
    parser.add_argument("--N", type=int, default=80)
    parser.add_argument("--B", type=int, default=16)
    parser.add_argument("--T", type=int, default=300)
    args = parser.parse_args(argv)

    print(_common.provenance())
    config = TrainConfig(task="binary_xor", delay=70, N=args.N, T=args.T, batch=args.B,
                         epochs=10 ** 4, diag_every=0)
    with threadpool_limits(1):
        blas = [(i["internal_api"], i.get("architecture"), i["num_threads"]) for i in threadpool_info()]
        run = Run(config)
        for _ in range(10):
            run.train_epoch()
        epoch, lo, hi, epoch_cpu = median_seconds(run.train_epoch, args.repeats, args.block)

        cell, model = run.model.cell, run.model
        batch = run.task.sample(config.T, config.batch, 0)
        bce, bce_vjp, _ = LOSSES["bce"]

        def bptt(forward, reverse):
            work = Workspace()  # as in Run: no large array allocated per epoch

            def go():
                hs, tape = forward(model.h0, batch.xs, work)
                r = readout(hs, model.w_out, model.offset)
                bce(r, batch.ys, batch.mask)
                hs_bar, _, _ = readout_vjp(hs, model.w_out, bce_vjp(r, batch.ys, batch.mask), work)
                reverse(tape, hs_bar, work)
            return go

        def generic_run(h0, xs, work):
            return run_steps(cell, h0, xs, work)

        def generic_run_vjp(tape, hs_bar, work):
            return run_steps_vjp(cell, tape, hs_bar, work)

        fast = median_seconds(bptt(cell.run, cell.run_vjp), args.repeats, args.block)[0]
        generic = median_seconds(bptt(generic_run, generic_run_vjp), args.repeats, args.block)[0]

    print(f"BLAS: {blas} (limited to 1 thread)")
    print(f"one training epoch, N = {args.N}, B = {args.B}, T = {args.T}: median {epoch * 1e3:.2f} ms "
          f"(min {lo * 1e3:.2f}, max {hi * 1e3:.2f}), CPU {epoch_cpu * 1e3:.2f} ms, over {args.repeats} x "
          f"{args.block} epochs; load average {os.getloadavg()[0]:.2f}")
    print(f"BPTT forward + reverse only: vanilla fast path {fast * 1e3:.2f} ms, generic step loop "
          f"{generic * 1e3:.2f} ms (ratio {generic / fast:.2f})")
    print(f"10^4 epochs: {epoch * 1e4:.0f} s here vs ~{PAPER_SECONDS_1E4_EPOCHS:.0f} s for the authors' "
          f"Julia code (ratio {PAPER_SECONDS_1E4_EPOCHS / (epoch * 1e4):.1f}x)")
    print("verdict: none (measurements)")


if __name__ == "__main__":
    main()
