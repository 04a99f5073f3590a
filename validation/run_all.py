"""Run every validation script at one scale, one after the other, and report their verdicts.

    python validation/run_all.py --scale quick                 # every script
    python validation/run_all.py --scale paper --scheduler tcp://host:8786
    python validation/run_all.py --scale quick --scripts fig4 fig5

Each script prints its own PASS/FAIL lines for the claims it checks and exits with 1 on a
FAIL.  The report lists, per script, the verdict read from its output (PASS: every check
passed; FAIL: a check failed, or the script exited with an error; none: the script reports
measurements or observations, not a claim), its exit code and its time.  Scripts that
exist at one size only run at --quick and are skipped at --paper (said in the report).
Each script's output goes to validation/out/run_all_<scale>/<script>.log; sweep results
stay in each script's results directory, so running this again resumes.
"""

import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# name: (file, arguments at --quick, arguments at --paper or None: one size only, takes --jobs)
SCRIPTS = {
    "fig1": ("fig1_flossing.py", ["--quick"], ["--paper"], True),
    "fig1b": ("fig1b_targets.py", [], None, False),
    "fig1b_clipping": ("fig1b_clipping.py", ["--quick"], ["--paper"], True),
    "fig1b_target0": ("fig1b_target0_estimates.py", [], None, False),
    "fig2": ("fig2_condition_number.py", ["--panel", "all", "--quick"], ["--panel", "all"], False),
    "fig3": ("fig3_copy_xor.py", ["--quick"], ["--paper"], True),
    "fig4": ("fig4_xor_protocols.py", ["--quick"], ["--paper"], True),
    "fig5": ("fig5_k_delay.py", ["--quick"], ["--paper"], True),
    "fig6": ("fig6_lstm_relu.py", [], None, False),
    "appD": ("appD_diagnostics.py", ["--quick"], ["--paper"], True),
    "appK": ("appK_convergence.py", ["--quick"], ["--paper"], True),
    "lyapunov_errors": ("lyapunov_errors.py", ["--quick"], ["--paper"], False),
    "clv_flossing": ("clv_flossing.py", ["--quick"], ["--paper"], False),
    "demo": ("demo_seeds.py", ["--seeds", "0", "1", "2"], None, False),
    "bench_flossing": ("bench_flossing.py", [], None, False),
    "bench_training": ("bench_training.py", [], None, False),
    "bench_lstm": ("bench_lstm.py", [], None, False),
    "bench_precision": ("bench_precision.py", ["--quick"], None, False),
}


def verdict(log_text, code):
    """PASS / FAIL / none from a script's output and exit code."""
    if code != 0:
        return "FAIL"
    fails = re.findall(r"\bFAIL\b", log_text)
    passes = re.findall(r"\bPASS\b", log_text)
    if fails:
        return "FAIL"
    return "PASS" if passes else "none"


def _children_cpu():
    """User + system CPU seconds of the finished child processes (the scripts and, through
    them, their sweep workers)."""
    t = os.times()
    return t.children_user + t.children_system


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", choices=("quick", "paper"), default="quick")
    p.add_argument("--scripts", nargs="+", choices=tuple(SCRIPTS), default=None, help="default: all")
    p.add_argument("--jobs", type=int, default=2, help="local worker processes per sweep")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address, e.g. tcp://10.0.0.1:8786")
    args = p.parse_args(argv)
    logs = os.path.join(HERE, "out", f"run_all_{args.scale}")
    os.makedirs(logs, exist_ok=True)
    sys.path.insert(0, HERE)
    import _common
    print(_common.provenance(), flush=True)
    report, start_all = [], time.perf_counter()
    for name in args.scripts or SCRIPTS:
        script, quick, paper, sweep = SCRIPTS[name]
        extra = quick if args.scale == "quick" else paper
        if extra is None:
            report.append((name, "skipped (one size only: run with --scale quick)", "-", 0.0, 0.0))
            continue
        cmd = [sys.executable, os.path.join(HERE, script), *extra]
        if sweep:
            cmd += ["--jobs", str(args.jobs)] + (["--scheduler", args.scheduler] if args.scheduler else [])
        log = os.path.join(logs, f"{name}.log")
        print(f"{name}: {' '.join(cmd[1:])}", flush=True)
        start, cpu_start = time.perf_counter(), _children_cpu()
        with open(log, "w") as f:
            code = subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONUNBUFFERED="1"))
        seconds, cpu = time.perf_counter() - start, _children_cpu() - cpu_start
        with open(log) as f:
            v = verdict(f.read(), code)
        print(f"{name}: {v} (exit {code}) in {seconds:.0f} s wall, {cpu:.0f} s CPU, load average "
              f"{os.getloadavg()[0]:.2f}, log {log}", flush=True)
        report.append((name, v, code, seconds, cpu))
    print(f"\n{'script':<18} {'verdict':<46} {'exit':>4} {'wall':>7} {'CPU':>7}")
    for name, v, code, seconds, cpu in report:
        print(f"{name:<18} {v:<46} {code!s:>4} {seconds:>6.0f}s {cpu:>6.0f}s")
    failed = [name for name, v, *_ in report if v == "FAIL"]
    total_cpu = sum(r[4] for r in report)
    print(f"all done in {time.perf_counter() - start_all:.0f} s wall ({total_cpu:.0f} s CPU of the scripts and "
          f"their workers); load average at the end {os.getloadavg()[0]:.2f}; FAIL: {', '.join(failed) or 'none'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
