"""floss_ref against an independent JAX implementation of the same maths, side by side.

The JAX side is written here from the equations (not from floss_ref): the vanilla tanh RNN
with bias (Eq. 9) and the LSTM (App. B), the tangent block Q~ = D_s Q (by hand for the
vanilla cell, by ``jax.jvp`` over the columns for the LSTM), a QR every t_ONS steps with
diag(R) > 0, the loss sum_i lambda_i^2 and its gradient by ``jax.grad`` (``jax.jit`` over
``lax.scan``); BPTT with the binary cross-entropy on the readout; and a training epoch
(the same task sampler, the gradient, the run's global-norm clipping at 0.03 and Adam at
lr 1e-3) with the update inside the jitted function.  Before any timing, each row checks that both give the same
loss and gradients: max |a - b| / max |b| per array <= max(``--tol``, 1e3 eps kappa), with
``--tol`` 1e-8 by default and kappa the largest R_11 / R_kk between QRs (Eq. 28) along the
row's trajectory: the smallest exponents of an ill-conditioned tangent block, and their
gradients, lose about log10(kappa) digits in any float64 code.

Timing.  Both run in this one process, pinned to one core (``os.sched_setaffinity``),
NumPy's BLAS limited to one thread (threadpoolctl) and XLA to one thread
(``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1``, set
before JAX is imported).  Each repeat times floss_ref and then JAX on the same inputs
(interleaved), a block of calls long enough to be well above the timer's resolution; the
medians of CPU time (``time.process_time``) and wall time over ``--repeat`` repeats are
printed with their ratios and the load average.  JAX's compile time is reported apart
(the first call), never in the medians.

Scaling (``--scaling``): the flossing gradient of floss_ref alone for N in
{32, 64, 128, 256, 512}, k = N / 2, T = 100, with ``qr_method`` "lapack" and "cholqr2"
(Cholesky QR twice, level-3 BLAS; its fallbacks to LAPACK are counted) timed interleaved,
and the fraction of one core's DGEMM peak
(a 1024 x 1024 product, measured in the same run, between the sizes) that each reaches,
counting 6 N^2 k + 9 N k^2 - 4 k^3 / 3 flops per step (the GEMMs, the Householder QR and
its Q, the triangular solve; nothing for diagonal or elementwise work).

Paper-scale run (``--paper-run``): one training run of 500 preflossing + 10^4 training
epochs (N = 80, B = 16, T = 300, binary XOR d = 70) on one core, its wall time next to
the paper's ~37 s + ~1680 s (App. F).

JAX is an optional extra (``pip install ".[bench]"``); without it the script says so and
exits with 0 (``--scaling`` and ``--paper-run`` need only floss_ref).

    python validation/bench/bench_vs_jax.py [--repeat 7] [--rows floss80,bptt,...] [--scaling] [--paper-run]
"""

import argparse
import os
import statistics
import sys
import time
import warnings

# one XLA thread; must be in the environment before jax is imported
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "")
                           + " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip()

import numpy as np  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # validation/
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.dirname(HERE))
sys.path.insert(2, os.path.join(HERE, "independent"))  # _jax_cells
import _common  # noqa: E402
from _jax_cells import lstm_step  # noqa: E402

from floss_ref import LSTM, VanillaRNN, flossing_grad, lyapunov_spectrum  # noqa: E402
from floss_ref.core.lyapunov import random_orthonormal  # noqa: E402

if hasattr(sys.stdout, "reconfigure"):  # whole lines at once, also into a log file
    sys.stdout.reconfigure(line_buffering=True)

ROWS = ("floss80", "floss80_tons5", "floss32", "floss32_ens16", "bptt", "epoch", "lstm32")
TARGETS = {"floss80": 0.8, "floss80_tons5": 1.0, "floss32": 2.0, "floss32_ens16": 0.5, "bptt": 1.0,
           "epoch": 1.0, "lstm32": 2.0}
PAPER_SECONDS = (37.0, 1680.0)   # App. F: preflossing, 10^4 training epochs (Julia)
EPS = float(np.finfo(np.float64).eps)
COND_FACTOR = 1e3                # agreement tolerance max(--tol, COND_FACTOR eps kappa) (module docstring)


# ---- the JAX side -----------------------------------------------------------------------

def _jax():
    import jax
    jax.config.update("jax_enable_x64", True)
    return jax


def jax_flossing(cell, T, t_ons):
    """jit(value_and_grad) of L(params, h0) = sum_i lambda_i^2 for one network, with Q0 and
    the inputs as arguments; QR after every t_ons steps, no transient."""
    jax = _jax()
    jnp, lax = jax.numpy, jax.lax

    if cell == "vanilla":
        def step_and_tangent(p, h, x, Q):
            phi = jnp.tanh(h)
            Q_tilde = p["W"] @ ((1.0 - phi * phi)[:, None] * Q)        # W diag(phi'(h)) Q
            return p["W"] @ phi + p["V"] @ x + p["b"], Q_tilde
    else:
        def step_and_tangent(p, h, x, Q):
            def along(q):
                return jax.jvp(lambda hh: lstm_step(p, hh, x), (h,), (q,))[1]
            return lstm_step(p, h, x), jax.vmap(along, in_axes=1, out_axes=1)(Q)

    def loss(p, h0, xs, Q0):
        def block(carry, xs_block):
            def one(c, x):
                return step_and_tangent(p, c[0], x, c[1]), None
            (h, Q), _ = lax.scan(one, carry, xs_block)
            Q, R = jnp.linalg.qr(Q)
            d = jnp.diagonal(R)
            sign = jnp.where(d < 0, -1.0, 1.0)
            return (h, Q * sign), jnp.log(jnp.abs(d))
        _, log_r = lax.scan(block, (h0, Q0), xs.reshape((T // t_ons, t_ons) + xs.shape[1:]))
        lam = log_r.sum(axis=0) / T
        return jnp.sum(lam * lam), lam

    return jax.value_and_grad(loss, argnums=(0, 1), has_aux=True)


def jax_bptt(N):
    """value_and_grad of the mean BCE of the readout of a vanilla tanh RNN over the scored steps."""
    jax = _jax()
    jnp, lax = jax.numpy, jax.lax

    def loss(p, xs, ys, mask):
        B = xs.shape[1]

        def one(h, x):
            h = jnp.tanh(h) @ p["W"].T + x @ p["V"].T + p["b"]
            return h, h
        _, hs = lax.scan(one, jnp.broadcast_to(p["h0"], (B, N)), xs)
        r = hs @ p["w_out"] + p["offset"]
        per = jnp.logaddexp(0.0, r) - ys * r
        return jnp.sum(per * mask[:, None]) / (B * jnp.sum(mask))

    return jax.value_and_grad(loss)


def jax_epoch(N, lr, clip, beta1=0.9, beta2=0.999, eps=1e-8):
    """One update: BPTT gradient, global-norm clipping at ``clip``, Adam; state in, state out."""
    jax = _jax()
    jnp = jax.numpy
    grad_fn = jax_bptt(N)

    def update(p, m, v, t, xs, ys, mask):
        L, g = grad_fn(p, xs, ys, mask)
        norm = jnp.sqrt(sum(jnp.sum(x * x) for x in jax.tree_util.tree_leaves(g)))
        scale = jnp.where(norm > clip, clip / norm, 1.0)
        t = t + 1
        m = {n: beta1 * m[n] + (1 - beta1) * g[n] * scale for n in p}
        v = {n: beta2 * v[n] + (1 - beta2) * (g[n] * scale) ** 2 for n in p}
        p = {n: p[n] - lr * (m[n] / (1 - beta1 ** t)) / (jnp.sqrt(v[n] / (1 - beta2 ** t)) + eps) for n in p}
        return p, m, v, t, L

    return update


# ---- rows: each returns (floss_ref call, jax call, check) on the same inputs ------------

def _rel(a, b):
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def _flossing_row(cell, N, k, T, t_ons, ensemble=(), qr_method="lapack"):
    jax = _jax()
    rng = np.random.default_rng(0)
    if cell == "vanilla":
        net = VanillaRNN.random(N, 1, 1.0, ensemble=ensemble, seed=rng)
    else:
        net = LSTM.random(N, 1, 1.0, ensemble=ensemble, seed=rng)
    n = net.state_size
    h0 = 0.5 * rng.standard_normal(ensemble + (n,))
    xs = rng.standard_normal((T,) + ensemble + (1,))
    Q0 = random_orthonormal(n, k, ensemble, rng)

    def ours():
        return flossing_grad(net, h0, xs, k=k, t_ons=t_ons, Q0=Q0, qr_method=qr_method, blas_threads=None)

    f = jax_flossing(cell, T, t_ons)
    if ensemble:
        f = jax.vmap(f, in_axes=(0, 0, 1, 0))
    f = jax.jit(f)
    args = ({name: jax.numpy.asarray(p) for name, p in net.params.items()}, jax.numpy.asarray(h0),
            jax.numpy.asarray(xs), jax.numpy.asarray(Q0))

    def theirs():
        return jax.block_until_ready(f(*args))

    def check():
        # the digits two float64 codes can share shrink with the conditioning of the tangent
        # blocks between QRs (Eq. 28): the largest R_11 / R_kk along this trajectory
        cond = lyapunov_spectrum(net, h0, xs, k=k, t_ons=t_ons, Q0=Q0, stderr=False, cond_warn=1e300,
                                 blas_threads=None).max_cond
        a = ours()
        (L, lam), (grads, h0_bar) = theirs()
        errs = {"loss": _rel(a.loss, L), "exponents": _rel(a.exponents, lam), "h0": _rel(a.h0_bar, h0_bar)}
        errs.update({name: _rel(a.grads[name], grads[name]) for name in a.grads})
        return errs, cond

    return ours, theirs, check


def _training_setup():
    from floss_ref.runs.run import Run, TrainConfig
    config = TrainConfig(task="binary_xor", delay=70, N=80, T=300, batch=16, epochs=10 ** 4, diag_every=0)
    return Run(config), config


def _bptt_row():
    jax = _jax()
    from floss_ref.experiments.bptt import Workspace, loss_and_grad
    run, config = _training_setup()
    model = run.model
    batch = run.task.sample(config.T, config.batch, np.random.default_rng(1))
    work = Workspace()

    def ours():
        return loss_and_grad(model, batch, "bce", work)

    f = jax.jit(jax_bptt(config.N))
    p = {name: jax.numpy.asarray(v) for name, v in model.params.items()}
    args = (p, jax.numpy.asarray(batch.xs), jax.numpy.asarray(batch.ys), jax.numpy.asarray(batch.mask, dtype=float))

    def theirs():
        return jax.block_until_ready(f(*args))

    def check():
        a = ours()
        L, grads = theirs()
        errs = {"loss": _rel(a.loss, L)}
        errs.update({name: _rel(a.grads[name], grads[name]) for name in a.grads})
        return errs, 1.0

    return ours, theirs, check


def _epoch_row():
    jax = _jax()
    jnp = jax.numpy
    from floss_ref.experiments.optim import Adam
    run, config = _training_setup()
    update = jax.jit(jax_epoch(config.N, lr=config.lr, clip=config.clip_norm))   # the run's lr and clipping
    start = {name: v.copy() for name, v in run.model.params.items()}
    state = {"p": {n: jnp.asarray(v) for n, v in start.items()}, "m": {n: jnp.zeros(v.shape) for n, v in start.items()},
             "v": {n: jnp.zeros(v.shape) for n, v in start.items()}, "t": jnp.asarray(0)}
    rng = np.random.default_rng(2)

    def ours():
        run.train_epoch()

    def theirs():
        batch = run.task.sample(config.T, config.batch, rng)   # the same sampler, in NumPy
        out = update(state["p"], state["m"], state["v"], state["t"], batch.xs, batch.ys,
                     np.asarray(batch.mask, dtype=float))
        state["p"], state["m"], state["v"], state["t"], _ = jax.block_until_ready(out)

    def check():
        # one update from the starting parameters on the same batch: floss_ref's Adam vs JAX's,
        # on a fresh run (the same seed gives the same starting parameters)
        from floss_ref.experiments.bptt import loss_and_grad
        model = _training_setup()[0].model
        batch = run.task.sample(config.T, config.batch, np.random.default_rng(3))
        res = loss_and_grad(model, batch, "bce")
        Adam(model.params, lr=config.lr, clip_norm=config.clip_norm, clip_mode=config.clip_mode).step(res.grads)
        zeros = {n: jnp.zeros(v.shape) for n, v in start.items()}
        p, _, _, _, _ = update({n: jnp.asarray(v) for n, v in start.items()}, zeros, zeros, jnp.asarray(0),
                               batch.xs, batch.ys, np.asarray(batch.mask, dtype=float))
        return {n: _rel(model.params[n] - start[n], np.asarray(p[n]) - start[n]) for n in start}, 1.0

    if config.clip_mode != "global":
        raise SystemExit(f"epoch row: the JAX update clips the global norm, the run clips {config.clip_mode!r}")
    return ours, theirs, check


def make_row(name, qr_method="lapack"):
    flossing = {"floss80": ("vanilla", 80, 75, 300, 1), "floss80_tons5": ("vanilla", 80, 75, 300, 5),
                "floss32": ("vanilla", 32, 32, 300, 1), "floss32_ens16": ("vanilla", 32, 32, 300, 1, (16,)),
                "lstm32": ("lstm", 32, 32, 300, 1)}
    if name in flossing:
        return _flossing_row(*flossing[name], qr_method=qr_method)
    if name == "bptt":
        return _bptt_row()
    if name == "epoch":
        return _epoch_row()
    raise ValueError(f"unknown row {name!r}; choose from {', '.join(ROWS)}")


LABELS = {
    "floss80": "flossing gradient N = 80, k = 75, T = 300, t_ONS = 1",
    "floss80_tons5": "same, t_ONS = 5",
    "floss32": "N = 32, k = 32, T = 300, one network",
    "floss32_ens16": "ensemble of 16 such networks (JAX: vmap)",
    "bptt": "BPTT forward + reverse, N = 80, B = 16, T = 300, BCE",
    "epoch": "whole training epoch (sampling, clip, Adam)",
    "lstm32": "LSTM flossing gradient N = 32 (state 64), k = 32, T = 300",
}


# ---- timing -----------------------------------------------------------------------------

def _clock(fn, calls):
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.process_time() - cpu) / calls, (time.perf_counter() - wall) / calls


def interleaved(fns, repeat, min_seconds=0.2):
    """Per function: median CPU and wall seconds per call over ``repeat`` rounds, each round
    timing every function once in turn (a block of calls of at least ``min_seconds``)."""
    calls = []
    for fn in fns:
        fn()
        t = _clock(fn, 1)[1]
        calls.append(max(1, int(min_seconds / max(t, 1e-6))))
    samples = [[] for _ in fns]
    for _ in range(repeat):
        for i, fn in enumerate(fns):
            samples[i].append(_clock(fn, calls[i]))
    return [(statistics.median(c for c, _ in s), statistics.median(w for _, w in s)) for s in samples]


def dgemm_peak(n=1024, repeat=5):
    """GFLOP/s of one n x n x n DGEMM on this (one-thread) BLAS: the median of ``repeat``."""
    rng = np.random.default_rng(0)
    A, B = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    A @ B
    cpus = [_clock(lambda: A @ B, 1)[0] for _ in range(repeat)]
    return 2.0 * n ** 3 / statistics.median(cpus) / 1e9


def flossing_flops(N, k, T):
    """Flops of one flossing gradient of the vanilla cell (module docstring)."""
    return T * (6.0 * N * N * k + 9.0 * N * k * k - 4.0 * k ** 3 / 3.0)


# ---- main ------------------------------------------------------------------------------

def compare(rows, repeat, tol, qr_method):
    jax = _jax()
    print(f"JAX {jax.__version__} ({jax.default_backend()}), XLA_FLAGS={os.environ['XLA_FLAGS']!r}")
    print(f"ratio = floss_ref / JAX; medians of {repeat} interleaved repeats; agreement max|a-b|/max|b| <= {tol:g}")
    print(f"{'row':<60} {'floss_ref CPU':>13} {'JAX CPU':>9} {'ratio CPU':>9} {'wall':>6} {'target':>7} "
          f"{'compile':>8} {'agreement':>10} {'load':>5}")
    failed = []
    for name in rows:
        ours, theirs, check = make_row(name, qr_method)
        start = time.perf_counter()
        theirs()
        compile_s = time.perf_counter() - start
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")   # conditioning warnings of the chaotic rows
            errs, cond = check()
            worst = max(errs.values())
            row_tol = max(tol, COND_FACTOR * EPS * cond)
            (c_ours, w_ours), (c_jax, w_jax) = interleaved([ours, theirs], repeat)
        ratio_cpu, ratio_wall = c_ours / c_jax, w_ours / w_jax
        flag = ""
        if abs(ratio_cpu / ratio_wall - 1.0) > 0.2:
            flag = " (CPU and wall ratios differ by > 20 %: rerun)"
        ok = "yes" if ratio_cpu <= TARGETS[name] else "NO"
        print(f"{LABELS[name]:<60} {c_ours:12.4f}s {c_jax:8.4f}s {ratio_cpu:9.2f} {ratio_wall:6.2f} "
              f"{'<= ' + format(TARGETS[name], 'g'):>7} {compile_s:7.2f}s {worst:10.1e} {os.getloadavg()[0]:5.2f}"
              f"  met: {ok}{flag}")
        if cond > 1.0:
            print(f"{'':<60} agreement tolerance max({tol:g}, {COND_FACTOR:g} eps kappa) = {row_tol:.1e} with kappa = "
                  f"max R_11/R_kk = {cond:.2e}")
        if worst > row_tol:
            failed.append(f"{name}: tolerance {row_tol:.1e}; " + ", ".join(f"{k} {v:.1e}" for k, v in errs.items()))
    for line in failed:
        print(f"DISAGREEMENT: {line}")
    return not failed


def scaling(repeat, qr_methods):
    """The flossing gradient for N in 32 .. 512, k = N / 2, T = 100, with each QR method of
    ``qr_methods`` timed interleaved, as fractions of the DGEMM peak measured around it."""
    from floss_ref import flossing_grad as fg
    from floss_ref.core.qr import QRFallbackWarning
    print(f"scaling: floss_ref flossing gradient, vanilla tanh, k = N/2, T = 100, t_ONS = 1, qr_method "
          f"{' vs '.join(qr_methods)} interleaved; flops 6 N^2 k + 9 N k^2 - 4 k^3/3 per step; peak = 1024^3 DGEMM "
          "measured before and after each size")
    print(f"{'N':>5} {'k':>4} {'peak':>6} " + " ".join(f"{m + ' CPU s':>13} {'wall s':>7} {'GFLOP/s':>8} {'of peak':>8}"
                                                for m in qr_methods) + f" {'fallbacks':>9} {'load':>5}")
    for N in (32, 64, 128, 256, 512):
        k, T = N // 2, 100
        rng = np.random.default_rng(0)
        net = VanillaRNN.random(N, 1, 1.0, seed=rng)
        h0, xs = rng.standard_normal(N), rng.standard_normal((T, 1))
        calls = [lambda m=m: fg(net, h0, xs, k=k, seed=1, qr_method=m, blas_threads=None) for m in qr_methods]
        peak_before = dgemm_peak()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", QRFallbackWarning)
            warnings.simplefilter("ignore", RuntimeWarning)       # conditioning warnings
            times = interleaved(calls, repeat, min_seconds=0.5)
        fallbacks = sum(issubclass(w.category, QRFallbackWarning) for w in caught)
        peak = statistics.median([peak_before, dgemm_peak()])
        flops = flossing_flops(N, k, T)
        cells = " ".join(f"{cpu:13.4f} {wall:7.4f} {flops / cpu / 1e9:8.2f} {flops / cpu / 1e9 / peak:8.1%}"
                         for cpu, wall in times)
        print(f"{N:5d} {k:4d} {peak:6.1f} {cells} {fallbacks:9d} {os.getloadavg()[0]:5.2f}")


def paper_run():
    from floss_ref.runs.run import Run, TrainConfig
    config = TrainConfig(task="binary_xor", delay=70, N=80, T=300, batch=16, epochs=10 ** 4, protocol="prefloss")
    run = Run(config)
    cpu, wall = time.process_time(), time.perf_counter()
    run.train_epoch()                   # epoch 0: the preflossing episode, then one training epoch
    cpu_0, wall_0 = time.process_time() - cpu, time.perf_counter() - wall
    run.train()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"paper-scale run (binary XOR d = 70, N = 80, B = 16, T = 300, preflossing {config.floss_epochs} epochs "
          f"(k = {run.k}, T_f = {config.floss_T}) + {config.epochs} training epochs, defaults otherwise), one core: "
          f"preflossing (with training epoch 0) {wall_0:.1f} s wall, {cpu_0:.1f} s CPU; training epochs 1-"
          f"{config.epochs - 1} {wall - wall_0:.1f} s wall, {cpu - cpu_0:.1f} s CPU; total {wall:.1f} s wall; "
          f"load average {os.getloadavg()[0]:.2f}; the paper (App. F): ~{PAPER_SECONDS[0]:.0f} s + "
          f"~{PAPER_SECONDS[1]:.0f} s")


def timing_parser(prog, doc, rows):
    """The options every side-by-side benchmark here shares: --repeat, --rows, --tol, --cpu."""
    p = argparse.ArgumentParser(prog=prog, description=doc.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=doc)
    p.add_argument("--repeat", type=int, default=7, help="interleaved repeats per row (default 7)")
    p.add_argument("--rows", default=",".join(rows), help=f"comma-separated subset of {','.join(rows)}")
    p.add_argument("--tol", type=float, default=1e-8, help="agreement tolerance (default 1e-8; module docstring)")
    p.add_argument("--cpu", type=int, default=None, help="the core to pin to (default: the last one allowed)")
    return p


def timing_options(p, args, rows_all):
    """Checks the shared options (refused by name through ``p.error``); returns the rows
    asked for, the core to pin to and the cores allowed now."""
    if args.repeat < 1:
        p.error(f"--repeat must be >= 1, got {args.repeat}")
    rows = [r for r in args.rows.split(",") if r]
    unknown = [r for r in rows if r not in rows_all]
    if unknown:
        p.error(f"--rows: unknown {', '.join(unknown)}; choose from {', '.join(rows_all)}")
    allowed = sorted(os.sched_getaffinity(0))
    cpu = allowed[-1] if args.cpu is None else args.cpu
    if cpu not in allowed:
        p.error(f"--cpu {cpu} is not one of the cores this process may use: {allowed}")
    return rows, cpu, allowed


def main(argv=None):
    p = timing_parser("bench_vs_jax", __doc__, ROWS)
    p.add_argument("--qr-method", default="lapack", choices=("lapack", "householder", "cholqr2"),
                   help="floss_ref's qr_method in the flossing rows (default lapack); the scaling times "
                        "lapack and cholqr2 side by side")
    p.add_argument("--scaling", action="store_true", help="also the scaling over N and the fraction of DGEMM peak")
    p.add_argument("--only-scaling", action="store_true", help="only the scaling (no JAX needed)")
    p.add_argument("--paper-run", action="store_true", help="also time one paper-scale training run (~2 min)")
    args = p.parse_args(argv)
    rows, cpu, allowed = timing_options(p, args, ROWS)
    os.sched_setaffinity(0, {cpu})
    try:
        return _run(args, rows, cpu)
    finally:
        os.sched_setaffinity(0, allowed)   # as it was (the tests call main in-process)


def _run(args, rows, cpu):
    print(_common.provenance())
    print(f"pinned to core {cpu} (sched_setaffinity); NumPy BLAS 1 thread (threadpoolctl); "
          f"floss_ref qr_method={args.qr_method!r}")
    ok = True
    with threadpool_limits(1):
        if not args.only_scaling:
            try:
                import jax  # noqa: F401
            except ImportError:
                print('JAX is not installed: this comparison needs the optional extra, pip install ".[bench]"; '
                      "nothing compared")
                rows = []
            if rows:
                ok = compare(rows, args.repeat, args.tol, args.qr_method)
        if args.scaling or args.only_scaling:
            scaling(max(3, args.repeat // 2), ("lapack", "cholqr2"))
        if args.paper_run:
            paper_run()
    print("verdict: none (measurements)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
