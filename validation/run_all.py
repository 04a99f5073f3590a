"""Run every reproduction script at one scale, one after the other, and say which failed.

    python validation/run_all.py --scale quick                 # <= 30 min on 2 cores
    python validation/run_all.py --scale paper --scheduler tcp://host:8786
    python validation/run_all.py --scale quick --figures fig4 fig5

Figures: fig1 fig3 fig4 fig5 appD appK (the sweep scripts of this directory) and, at
--quick only, the standalone checks fig1b (fig1b_targets.py), fig6 (fig6_lstm_relu.py),
demo (demo_seeds.py) and bench (bench_training.py), which have a single size.  Each
script's output goes to validation/out/run_all_<scale>/<figure>.log; the sweep results
stay in each script's results directory, so running this again resumes.
"""

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SWEEPS = {"fig1": "fig1_flossing.py", "fig3": "fig3_copy_xor.py", "fig4": "fig4_xor_protocols.py",
          "fig5": "fig5_k_delay.py", "appD": "appD_diagnostics.py", "appK": "appK_convergence.py"}
STANDALONE = {"fig1b": ["fig1b_targets.py"], "fig6": ["fig6_lstm_relu.py"],
              "demo": ["demo_seeds.py", "--seeds", "0", "1", "2"], "bench": ["bench_training.py"]}
FIGURES = tuple(SWEEPS) + tuple(STANDALONE)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", choices=("quick", "paper"), default="quick")
    p.add_argument("--figures", nargs="+", choices=FIGURES, default=None,
                   help="default: all sweep scripts, plus the standalone ones at --quick")
    p.add_argument("--jobs", type=int, default=2, help="local worker processes per sweep")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address, e.g. tcp://10.0.0.1:8786")
    args = p.parse_args(argv)
    figures = args.figures or (list(SWEEPS) + (list(STANDALONE) if args.scale == "quick" else []))
    if args.scale == "paper":
        bad = [f for f in figures if f in STANDALONE]
        if bad:
            p.error(f"{', '.join(bad)} exist at one size only; run them with --scale quick")
    logs = os.path.join(HERE, "out", f"run_all_{args.scale}")
    os.makedirs(logs, exist_ok=True)
    failed, start_all = [], time.perf_counter()
    for fig in figures:
        if fig in SWEEPS:
            cmd = [sys.executable, os.path.join(HERE, SWEEPS[fig]), f"--{args.scale}", "--jobs", str(args.jobs)]
            if args.scheduler:
                cmd += ["--scheduler", args.scheduler]
        else:
            cmd = [sys.executable, os.path.join(HERE, STANDALONE[fig][0]), *STANDALONE[fig][1:]]
        log = os.path.join(logs, f"{fig}.log")
        start = time.perf_counter()
        print(f"{fig}: {' '.join(cmd[1:])}", flush=True)
        with open(log, "w") as f:
            code = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT)
        print(f"{fig}: {'ok' if code == 0 else f'FAILED (exit {code})'} in {time.perf_counter() - start:.0f} s, "
              f"log {log}", flush=True)
        if code != 0:
            failed.append(fig)
    print(f"all done in {time.perf_counter() - start_all:.0f} s; failed: {', '.join(failed) or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
