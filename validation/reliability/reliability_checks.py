"""The reliability figures that need real processes and sockets, measured:

1. a Dask scheduler address that never answers (a blackhole: accepts TCP, says nothing)
   and one where an HTTP server listens, for ``tcp://`` and ``tls://``: the seconds until
   ``floss_ref.runs.sweep.connect`` refuses it (wanted: within ``connect_timeout`` + 5 s);
2. SIGKILL (and SIGINT) of the driver of a 2-worker local sweep: the seconds until no
   worker process is left (wanted: within 10 s).

Usage::

    python validation/reliability/reliability_checks.py [--timeout 5] [--repeats 3]
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # validation/
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)


def blackhole():
    """A listening socket that never accepts or answers (the kernel completes the TCP
    handshake for up to its backlog)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    return s


def http_server():
    """A listening socket answering every connection with an HTTP 200."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)

    def serve():
        while True:
            try:
                c, _ = s.accept()
            except OSError:
                return
            try:
                c.recv(1024)
                c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello")
            except OSError:
                pass

    threading.Thread(target=serve, daemon=True).start()
    return s


def sleep_task(params):
    """A sweep task that writes its process id to a file and sleeps."""
    import numpy as np

    path = os.path.join(params["dir"], f"pid{params['i']}")
    with open(path + ".tmp", "w") as f:        # written whole, then renamed: a reader never sees it half-written
        f.write(str(os.getpid()))
    os.replace(path + ".tmp", path)
    time.sleep(params["seconds"])
    return {"x": np.array([1.0])}


DRIVER = textwrap.dedent("""
    import sys
    sys.path[:0] = [{here!r}, {root!r}]
    from floss_ref.runs.sweep import SweepTask, run_sweep
    tasks = [SweepTask(f"t{{i}}", "reliability_checks:sleep_task", {{"dir": {d!r}, "i": i, "seconds": 600}})
             for i in range(2)]
    if __name__ == "__main__":  # spawned workers import this file again
        run_sweep(tasks, {d!r} + "/results", settings={{"script": "orphans"}}, jobs=2)
""")


def alive(pid):
    """Whether process ``pid`` exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def default_sigint():
    """In a child before exec: SIGINT back to its default disposition.  A process started in
    the background by a non-interactive shell inherits SIGINT ignored, and Python then never
    raises KeyboardInterrupt: the SIGINT measurements would measure nothing."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def kill_driver(sig, directory, wait=10.0):
    """Start a 2-worker sweep of sleeping tasks, send ``sig`` to its driver once both
    workers run, and return (worker pids, seconds until none is left or None)."""
    code = DRIVER.format(here=os.path.join(HERE, "reliability"), root=ROOT, d=directory)
    env = dict(os.environ, PYTHONPATH=os.path.join(HERE, "reliability") + os.pathsep + ROOT)
    driver = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, preexec_fn=default_sigint)
    pids = []
    try:
        deadline = time.monotonic() + 120
        while len(pids) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
            pids = [int(open(os.path.join(directory, f"pid{i}")).read())
                    for i in range(2) if os.path.exists(os.path.join(directory, f"pid{i}"))]
        if len(pids) < 2:
            raise RuntimeError("the workers did not start within 120 s")
        time.sleep(0.5)
        driver.send_signal(sig)
        start = time.monotonic()
        while any(alive(p) for p in pids) and time.monotonic() - start < wait:
            time.sleep(0.05)
        gone = time.monotonic() - start
        return pids, (None if any(alive(p) for p in pids) else gone)
    finally:
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if driver.poll() is None:
            driver.kill()
        driver.wait()


def main(argv=None):
    p = argparse.ArgumentParser(prog="reliability_checks", description=__doc__.split("\n\n")[0])
    p.add_argument("--timeout", type=float, default=5.0, help="connect_timeout in seconds (default 5)")
    p.add_argument("--repeats", type=int, default=3, help="repeats of each measurement (default 3)")
    args = p.parse_args(argv)
    sys.path.insert(0, HERE)
    from _common import provenance
    from floss_ref.runs.sweep import SweepError, connect

    print(provenance(), flush=True)
    ok = True
    for name, make in (("blackhole", blackhole), ("HTTP server", http_server)):
        for scheme in ("tcp", "tls"):
            times = []
            for _ in range(args.repeats):
                s = make()
                start = time.monotonic()
                try:
                    connect(f"{scheme}://127.0.0.1:{s.getsockname()[1]}", timeout=args.timeout)
                    message = "CONNECTED (wrong)"
                except SweepError as exc:
                    message = str(exc)
                times.append(time.monotonic() - start)
                s.close()
            good = max(times) <= args.timeout + 5 and "cannot reach" in message
            ok &= good
            print(f"{name}, {scheme}://, connect_timeout = {args.timeout:g} s: refused after "
                  f"{', '.join(f'{t:.2f}' for t in times)} s ({'ok' if good else 'TOO LATE'}): {message}", flush=True)
    for sig in (signal.SIGKILL, signal.SIGINT):
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as d:
                pids, gone = kill_driver(sig, d)
            good = gone is not None
            ok &= good
            print(f"{signal.Signals(sig).name} of a 2-worker sweep's driver: workers {pids} "
                  + (f"gone after {gone:.2f} s" if good else "STILL ALIVE after 10 s"), flush=True)
    print(f"verdict: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
