"""Run every validation script at one scale and report their verdicts.

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

Scripts that use one core run two at a time; the sweep scripts (whose workers use both
cores), the demo (two trainings at once) and the benchmarks (which must have the machine
to themselves) run alone.  ``--serial`` runs one script at a time.  The CPU time of each
script includes its workers'.
"""

import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# name: (file, arguments at --quick, arguments at --paper or None: one size only, takes --jobs,
#        one core: may run beside another one-core script)
SCRIPTS = {
    "fig1": ("paper/fig1_flossing.py", ["--quick"], ["--paper"], True, False),
    "fig1b_clipping": ("paper/fig1b_clipping.py", ["--quick"], ["--paper"], True, False),
    "fig3": ("paper/fig3_copy_xor.py", ["--quick"], ["--paper"], True, False),
    "fig4": ("paper/fig4_xor_protocols.py", ["--quick"], ["--paper"], True, False),
    "fig5": ("paper/fig5_k_delay.py", ["--quick"], ["--paper"], True, False),
    "appD": ("paper/appD_diagnostics.py", ["--quick"], ["--paper"], True, False),
    "sec7_control": ("paper/sec7_control.py", ["--quick"], ["--paper"], True, False),
    "fig13": ("paper/fig13_trained_exponents.py", ["--quick"], ["--paper"], True, False),
    "demo": ("paper/demo_seeds.py", ["--seeds", "0", "1"], None, False, False),  # two trainings at once
    # the one-core scripts, longest first so that two of them finish close together
    "fig2": ("paper/fig2_condition_number.py", ["--panel", "all", "--quick"], ["--panel", "all"], False, True),
    # bench_precision's digit counts (sections 3, 4); its timings (1, 2) run alone below
    "precision_digits": ("bench/bench_precision.py", ["--quick", "--sections", "3", "4"], None, False, True),
    "fig1b_target0": ("paper/fig1b_target0_estimates.py", [], None, False, True),
    "clv_flossing": ("paper/clv_flossing.py", ["--quick"], ["--paper"], False, True),
    "fig6": ("paper/fig6_lstm_relu.py", [], None, False, True),
    "fig1b": ("paper/fig1b_targets.py", [], None, False, True),
    "lyapunov_errors": ("paper/lyapunov_errors.py", ["--quick"], ["--paper"], False, True),
    "appK": ("paper/appK_convergence.py", ["--quick"], ["--paper"], False, True),  # one vectorised computation
    # reads the committed paper-scale sweep results, trains nothing
    "fig9": ("paper/fig9_gradient_precedes.py", [], None, False, True),
    # benchmarks last, each alone on the machine
    "bench_flossing": ("bench/bench_flossing.py", [], None, False, False),
    "bench_training": ("bench/bench_training.py", [], None, False, False),
    "bench_lstm": ("bench/bench_lstm.py", [], None, False, False),
    "bench_precision": ("bench/bench_precision.py", ["--quick", "--sections", "1", "2"], None, False, False),
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


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", choices=("quick", "paper"), default="quick")
    p.add_argument("--scripts", nargs="+", choices=tuple(SCRIPTS), default=None, help="default: all")
    p.add_argument("--jobs", type=int, default=2, help="local worker processes per sweep")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address, e.g. tcp://10.0.0.1:8786")
    p.add_argument("--serial", action="store_true",
                   help="one script at a time (default: two one-core scripts side by side)")
    args = p.parse_args(argv)
    logs = os.path.join(HERE, "out", f"run_all_{args.scale}")
    os.makedirs(logs, exist_ok=True)
    sys.path.insert(0, HERE)
    import _common
    print(_common.provenance(), flush=True)
    report, start_all = [], time.perf_counter()
    running = {}  # pid: (name, Popen, log file, start)

    def wait_one():
        """Wait for one of the running scripts to end; report it."""
        while True:
            for pid in running:
                done, status, usage = os.wait4(pid, os.WNOHANG)  # usage: the script and its workers
                if done:
                    break
            else:
                time.sleep(0.5)
                continue
            break
        name, proc, f, start = running.pop(pid)
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        f.close()
        seconds, cpu = time.perf_counter() - start, usage.ru_utime + usage.ru_stime
        with open(f.name) as log:
            v = verdict(log.read(), code)
        print(f"{name}: {v} (exit {code}) in {seconds:.0f} s wall, {cpu:.0f} s CPU, load average "
              f"{os.getloadavg()[0]:.2f}, log {f.name}", flush=True)
        report.append((name, v, code, seconds, cpu))

    for name in args.scripts or SCRIPTS:
        script, quick, paper, sweep, one_core = SCRIPTS[name]
        extra = quick if args.scale == "quick" else paper
        if extra is None:
            report.append((name, "skipped (one size only: run with --scale quick)", "-", 0.0, 0.0))
            continue
        cmd = [sys.executable, os.path.join(HERE, script), *extra]
        if sweep:
            cmd += ["--jobs", str(args.jobs)] + (["--scheduler", args.scheduler] if args.scheduler else [])
        # a one-core script may start beside one other one-core script; any other runs alone
        pair = one_core and not args.serial and all(SCRIPTS[n][4] for n, *_ in running.values())
        while running and (not pair or len(running) >= 2):
            wait_one()
        log = os.path.join(logs, f"{name}.log")
        print(f"{name}: {' '.join(cmd[1:])}", flush=True)
        f = open(log, "w")
        proc = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONUNBUFFERED="1"))
        running[proc.pid] = (name, proc, f, time.perf_counter())
    while running:
        wait_one()
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
