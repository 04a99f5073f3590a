"""How fast NumPy can do the rows of ``bench_vs_jax.py`` at best: the kernels alone.

For the rows whose speed target floss_ref misses, this script times a *floor*: the same
algorithm as floss_ref and the JAX side (tanh RNN with bias, a Householder QR with
diag(R) > 0 after every step, the pullback of Eq. 8 with the diagonal R_bar of the
exponents; BPTT with the BCE), written as the shortest sequence of NumPy / LAPACK calls
we know, with nothing else: no argument checks, no finiteness or singularity checks, no
tape objects, no workspace logic, LAPACK's geqrf / orgqr / trtrs called directly.  It is
not a usable implementation (it reports no breakdown), only a measurement of what the
Python interpreter and these kernels cost per step.  Each floor first agrees with
floss_ref (the same tolerance rule as ``bench_vs_jax.py``); then floss_ref, the floor and
JAX are timed interleaved in one process, pinned to one core, one BLAS / XLA thread, and
the CPU and wall medians printed with the ratios to JAX and the target of issue 13.

If the floor's ratio to JAX is above a row's target, no NumPy code running this algorithm
step by step reaches the target on this machine: the per-step kernels and the calls into
them already cost more.  (Other algorithms are another question: the note on issue 13
lists those we measured, e.g. Cholesky-QR2, and why they lost.)

Rows: ``floss80`` (N = 80, k = 75, T = 300, t_ONS = 1), ``floss32`` (N = 32, k = 32,
one network), ``floss32_ens16`` (16 such networks; JAX: vmap), ``bptt`` (N = 80,
B = 16, T = 300; also the T np.tanh calls of its forward alone), and ``floss512``
(N = 512, k = 256, T = 100: floss_ref and the floor as fractions of one core's DGEMM peak,
measured in the same run, counting the flops as ``bench_vs_jax.py --scaling`` does; no
JAX).  The whole epoch (target <= 1.0) is bounded below by the BPTT floor: sampling,
clipping and Adam only add to it.

    python validation/bench/bench_floor.py [--repeat 7] [--rows floss80,floss32,floss32_ens16,bptt,floss512]

JAX is the optional extra of ``bench_vs_jax.py`` (``pip install ".[bench]"``); without it
the script says so and exits with 0.
"""

import os
import sys
import warnings

FOLDER = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [FOLDER, os.path.dirname(FOLDER)]  # this folder's scripts, and validation/ (_common)
import bench_vs_jax as bench  # noqa: E402  (sets XLA_FLAGS before JAX is imported)

import numpy as np  # noqa: E402
from scipy.linalg import lapack  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

import _common  # noqa: E402

ROWS = ("floss80", "floss32", "floss32_ens16", "bptt", "floss512")
SHAPES = {"floss80": (80, 75, 300, ()), "floss32": (32, 32, 300, ()), "floss32_ens16": (32, 32, 300, (16,)),
          "floss512": (512, 256, 100, ())}


# ---- the floors -------------------------------------------------------------------------

def _masks(k):
    """(upper incl. diagonal as 0/1 floats, lower incl. diagonal as bools), k x k."""
    return np.triu(np.ones((k, k))), np.tril(np.ones((k, k), dtype=bool))


def _qr(A, lwork, upper):
    """Thin QR by geqrf + orgqr with diag(R) > 0 (no checks); Q Fortran-ordered."""
    k = A.shape[1]
    packed, tau, _, _ = lapack.dgeqrf(A, lwork=lwork)
    R = packed[:k] * upper
    Q, _, _ = lapack.dorgqr(packed, tau, lwork=lwork, overwrite_a=1)
    sign = np.copysign(1.0, R.diagonal())
    Q *= sign
    R *= sign[:, None]
    return Q, R


def floss_floor_one(W, V, b, h0, xs, Q0):
    """Loss sum lambda_i^2 and its gradient for one vanilla tanh network, t_ONS = 1."""
    N, k = Q0.shape
    T = xs.shape[0]
    lwork = max(k, N) * 64
    upper, lower = _masks(k)
    W_T = W.T
    U = xs @ V.T + b                      # the input drive of every step, one GEMM
    phis, dphis = np.empty((T, N)), np.empty((T, N))
    Qs, Rs, DQs = [Q0], [], []
    log_r = np.empty((T, k))
    h, Q = h0, Q0
    for s in range(T):
        phi = np.tanh(h, out=phis[s])
        dphi = np.subtract(1.0, phi * phi, out=dphis[s])
        DQ = dphi[:, None] * Q
        Q, R = _qr(W @ DQ, lwork, upper)
        h = W @ phi + U[s]
        DQs.append(DQ)
        Qs.append(Q)
        Rs.append(R)
        log_r[s] = R.diagonal()
    np.log(log_r, out=log_r)
    lam = log_r.sum(axis=0) / T
    gamma_bar = 2.0 * lam / T             # dL / d log R_ii, the same at every step
    Q_bar, h_bar = np.zeros((N, k)), np.zeros(N)
    H_bar = np.empty((T, N))              # dL/dh_{s+1}: the inputs' and the trajectory's cotangents
    W_bar = np.zeros((N, N))
    for s in range(T - 1, -1, -1):
        R, Q = Rs[s], Qs[s + 1]
        M = R * (gamma_bar / R.diagonal()) - Q_bar.T @ Q   # R R_bar^T - Q_bar^T Q, R_bar diagonal
        B = Q_bar + Q @ np.where(lower, M, M.T)             # copyltu(M) in one call
        A_bar = lapack.dtrtrs(R.T, B.T, lower=1, trans=1)[0].T   # B R^{-T}; R.T, B.T: F-ordered views
        W_bar += A_bar @ DQs[s].T
        P = W_T @ A_bar
        Q_bar = dphis[s][:, None] * P
        H_bar[s] = h_bar
        phi_bar = W_T @ h_bar - 2.0 * phis[s] * (P * Qs[s]).sum(axis=1)
        h_bar = phi_bar * dphis[s]
    W_bar += H_bar.T @ phis
    return float(lam @ lam), lam, {"W": W_bar, "V": H_bar.T @ xs, "b": H_bar.sum(axis=0)}, h_bar


def floss_floor_batch(W, V, b, h0, xs, Q0, per_network_qr=False):
    """The same for an ensemble: W (E, N, N), V (E, N, 1), b (E, N), h0 (E, N), xs (T, E, 1),
    Q0 (E, N, k); batched NumPy calls, one trtrs per network (faster here than a batched
    np.linalg.solve); the QRs batched by np.linalg.qr, or one geqrf + orgqr per network."""
    E, N, k = Q0.shape
    T = xs.shape[0]
    lwork = max(k, N) * 64
    upper, lower = _masks(k)
    W_T = np.swapaxes(W, -1, -2)
    U = np.einsum("tei,eni->ten", xs, V) + b
    phis, dphis = np.empty((T, E, N)), np.empty((T, E, N))
    Qs, Rs, DQs = [Q0], [], []
    log_r = np.empty((T, E, k))
    h, Q = h0, Q0
    for s in range(T):
        phi = np.tanh(h, out=phis[s])
        dphi = np.subtract(1.0, phi * phi, out=dphis[s])
        DQ = dphi[..., None] * Q
        A = W @ DQ
        if per_network_qr:
            Q, R = np.empty((E, N, k)), np.empty((E, k, k))
            for e in range(E):
                Q[e], R[e] = _qr(A[e].T.copy().T, lwork, upper)
        else:
            Q, R = np.linalg.qr(A)
            sign = np.copysign(1.0, np.diagonal(R, axis1=-2, axis2=-1))
            Q *= sign[:, None, :]
            R *= sign[:, :, None]
        h = (W @ phi[..., None])[..., 0] + U[s]
        DQs.append(DQ)
        Qs.append(Q)
        Rs.append(R)
        log_r[s] = np.diagonal(R, axis1=-2, axis2=-1)
    np.log(log_r, out=log_r)
    lam = log_r.sum(axis=0) / T
    gamma_bar = 2.0 * lam / T
    Q_bar, h_bar = np.zeros((E, N, k)), np.zeros((E, N))
    H_bar = np.empty((T, E, N))
    W_bar = np.zeros((E, N, N))
    A_bar = np.empty((E, N, k))
    for s in range(T - 1, -1, -1):
        R, Q = Rs[s], Qs[s + 1]
        d = np.diagonal(R, axis1=-2, axis2=-1)
        M = R * (gamma_bar / d)[:, None, :] - np.swapaxes(Q_bar, -1, -2) @ Q
        B = Q_bar + Q @ np.where(lower, M, np.swapaxes(M, -1, -2))
        for e in range(E):
            A_bar[e] = lapack.dtrtrs(R[e].T, B[e].T, lower=1, trans=1)[0].T
        W_bar += A_bar @ np.swapaxes(DQs[s], -1, -2)
        P = W_T @ A_bar
        Q_bar = dphis[s][..., None] * P
        H_bar[s] = h_bar
        phi_bar = (W_T @ h_bar[..., None])[..., 0] - 2.0 * phis[s] * (P * Qs[s]).sum(axis=-1)
        h_bar = phi_bar * dphis[s]
    W_bar += np.einsum("ten,tem->enm", H_bar, phis)
    return (np.sum(lam * lam, axis=-1), lam,
            {"W": W_bar, "V": np.einsum("ten,tei->eni", H_bar, xs), "b": H_bar.sum(axis=0)}, h_bar)


def bptt_floor(W, V, b, w_out, offset, h0, xs, ys, mask):
    """Mean BCE of the readout over the scored steps and its gradient (shared h0)."""
    T, B, _ = xs.shape
    N = W.shape[0]
    W_T = np.ascontiguousarray(W.T)
    hs = np.matmul(xs, V.T)
    hs += b
    phis = np.empty((T, B, N))
    h = np.broadcast_to(h0, (B, N))
    recurrent = np.empty((B, N))
    for s in range(T):
        np.tanh(h, out=phis[s])
        np.matmul(phis[s], W_T, out=recurrent)
        hs[s] += recurrent
        h = hs[s]
    r = hs @ w_out + offset
    weight = mask[:, None] / (B * mask.sum())
    L = float(np.sum((np.logaddexp(0.0, r) - ys * r) * weight))
    r_bar = (1.0 / (1.0 + np.exp(-r)) - ys) * weight
    hs_bar = r_bar[..., None] * w_out
    slopes = 1.0 - phis * phis
    G = np.empty((T, B, N))
    G[T - 1] = hs_bar[T - 1]
    back = np.empty((B, N))
    for s in range(T - 1, 0, -1):
        np.matmul(G[s], W, out=back)
        back *= slopes[s]
        np.add(hs_bar[s - 1], back, out=G[s - 1])
    h0_bar = ((G[0] @ W) * slopes[0]).sum(axis=0)
    rows = G.reshape(T * B, N)
    grads = {"W": rows.T @ phis.reshape(T * B, N), "V": rows.T @ xs.reshape(T * B, -1), "b": rows.sum(axis=0),
             "w_out": hs.reshape(T * B, N).T @ r_bar.reshape(-1), "offset": r_bar.sum(), "h0": h0_bar}
    return L, grads


# ---- rows: (floss_ref, floor, JAX) on the same inputs, and the floor's agreement ----------

def make_row(name):
    """Returns (ours, floor, theirs, check) for one row; check() -> (errors, kappa).
    ``floss512`` has no JAX side (theirs is None): its figure is the fraction of DGEMM peak."""
    ours, theirs = (None, None) if name == "floss512" else bench.make_row(name)[:2]
    if name == "bptt":
        from floss_ref.experiments.bptt import loss_and_grad
        run, config = bench._training_setup()
        model = run.model
        batch = run.task.sample(config.T, config.batch, np.random.default_rng(1))
        p = model.params
        if p["h0"].ndim != 1:
            raise SystemExit("bptt floor: written for one h0 shared by the batch")
        mask = np.asarray(batch.mask, dtype=float)
        args = (p["W"], p["V"], p["b"], p["w_out"], float(p["offset"]), p["h0"], batch.xs, batch.ys, mask)

        def floor():
            return bptt_floor(*args)

        def check():
            a, (L, g) = loss_and_grad(model, batch, "bce"), floor()
            errs = {"loss": bench._rel(L, a.loss)}
            errs.update({n: bench._rel(g[n], a.grads[n]) for n in a.grads})
            return errs, 1.0
        return ours, floor, theirs, check

    from floss_ref import flossing_grad, lyapunov_spectrum
    from floss_ref.core.cells.vanilla import VanillaRNN
    from floss_ref.kit.vectors import random_orthonormal
    N, k, T, ensemble = SHAPES[name]
    rng = np.random.default_rng(0)          # the draws of bench_vs_jax._flossing_row, in its order
    net = VanillaRNN.random(N, 1, 1.0, ensemble=ensemble, seed=rng)
    h0 = 0.5 * rng.standard_normal(ensemble + (N,))
    xs = rng.standard_normal((T,) + ensemble + (1,))
    Q0 = random_orthonormal(N, k, ensemble, rng)
    if ours is None:
        def ours():
            return flossing_grad(net, h0, xs, k=k, t_ons=1, Q0=Q0, blas_threads=None)
    p = net.params
    Q0_F = np.asfortranarray(Q0) if not ensemble else Q0
    fn = floss_floor_batch if ensemble else floss_floor_one
    args = (p["W"], p["V"], p["b"], h0, xs, Q0_F)

    def floor():
        return fn(*args)

    def check():
        kappa = lyapunov_spectrum(net, h0, xs, k=k, t_ons=1, Q0=Q0, stderr=False, cond_warn=1e300,
                                  blas_threads=None).max_cond
        a = flossing_grad(net, h0, xs, k=k, t_ons=1, Q0=Q0, blas_threads=None)
        L, lam, grads, h0_bar = floor()
        errs = {"loss": bench._rel(L, a.loss), "exponents": bench._rel(lam, a.exponents),
                "h0": bench._rel(h0_bar, a.h0_bar)}
        errs.update({n: bench._rel(grads[n], a.grads[n]) for n in grads})
        return errs, kappa
    return ours, floor, theirs, check


LABELS = {"floss80": bench.LABELS["floss80"], "floss32": bench.LABELS["floss32"],
          "floss32_ens16": bench.LABELS["floss32_ens16"], "bptt": bench.LABELS["bptt"],
          "floss512": "flossing gradient N = 512, k = 256, T = 100, t_ONS = 1"}
PEAK_TARGET = 0.65                        # issue 13: >= 65 % of one core's DGEMM peak at N = 512


def tanh_alone():
    """The T np.tanh calls of the BPTT forward alone, (B, N) each, into a preallocated array."""
    run, config = bench._training_setup()
    x = np.random.default_rng(4).standard_normal((config.T, config.batch, config.N))
    out = np.empty_like(x)

    def call():
        for s in range(config.T):
            np.tanh(x[s], out=out[s])
    return call


def compare(rows, repeat, tol):
    import jax
    print(f"JAX {jax.__version__} ({jax.default_backend()}); ratios to JAX, CPU-time medians of {repeat} "
          "interleaved repeats (wall ratio in brackets)")
    print(f"{'row':<60} {'floss_ref':>10} {'floor':>9} {'JAX':>9} {'floss_ref/JAX':>14} {'floor/JAX':>13} "
          f"{'target':>7} {'agreement':>10} {'load':>5}")
    failed = []
    for name in rows:
        ours, floor, theirs, check = make_row(name)
        if theirs is None:
            failed += _peak_row(name, ours, floor, check, repeat, tol)
            continue
        theirs()                              # compile outside the timing
        fns = [ours, floor, theirs] + ([tanh_alone()] if name == "bptt" else [])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            errs, kappa = check()
            worst = max(errs.values())
            row_tol = max(tol, bench.COND_FACTOR * bench.EPS * kappa)
            (c_o, w_o), (c_f, w_f), (c_j, w_j), *tanh = bench.interleaved(fns, repeat)
        target = bench.TARGETS[name]
        verdict = "floor above target: not reachable this way" if c_f / c_j > target else "floor below target"
        print(f"{LABELS[name]:<60} {c_o:9.4f}s {c_f:8.4f}s {c_j:8.4f}s {c_o / c_j:6.2f} [{w_o / w_j:4.2f}] "
              f"{c_f / c_j:5.2f} [{w_f / w_j:4.2f}] {'<= ' + format(target, 'g'):>7} {worst:10.1e} "
              f"{os.getloadavg()[0]:5.2f}  {verdict}")
        if tanh:
            print(f"{'':<60} of which the T np.tanh calls of the forward alone: {tanh[0][0]:.4f}s CPU = "
                  f"{tanh[0][0] / c_j:.2f} of JAX's whole forward + reverse")
        if worst > row_tol:
            failed.append(f"{name}: tolerance {row_tol:.1e} (kappa {kappa:.1e}); "
                          + ", ".join(f"{k} {v:.1e}" for k, v in errs.items()))
    for line in failed:
        print(f"DISAGREEMENT (floor vs floss_ref): {line}")
    return not failed


def _peak_row(name, ours, floor, check, repeat, tol):
    """floss_ref and the floor as fractions of one core's DGEMM peak (measured before and after)."""
    N, k, T, _ = SHAPES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        errs, kappa = check()
        peak_before = bench.dgemm_peak()
        (c_o, w_o), (c_f, w_f) = bench.interleaved([ours, floor], max(3, repeat // 2), min_seconds=0.5)
    peak = (peak_before + bench.dgemm_peak()) / 2
    flops = bench.flossing_flops(N, k, T)
    worst, row_tol = max(errs.values()), max(tol, bench.COND_FACTOR * bench.EPS * kappa)
    f_o, f_f = flops / c_o / 1e9 / peak, flops / c_f / 1e9 / peak
    verdict = ("floor below target: not reachable this way" if f_f < PEAK_TARGET else "floor reaches target")
    print(f"{LABELS[name]:<60} {c_o:9.4f}s {c_f:8.4f}s  DGEMM peak {peak:.1f} GFLOP/s; of peak: floss_ref "
          f"{f_o:.1%}, floor {f_f:.1%} (target >= {PEAK_TARGET:.0%})  agreement {worst:.1e}  load "
          f"{os.getloadavg()[0]:.2f}  {verdict}")
    return [f"{name}: tolerance {row_tol:.1e}; " + ", ".join(f"{k} {v:.1e}" for k, v in errs.items())] \
        if worst > row_tol else []


def main(argv=None):
    p = bench.timing_parser("bench_floor", __doc__, ROWS)
    args = p.parse_args(argv)
    rows, cpu, allowed = bench.timing_options(p, args, ROWS)
    print(_common.provenance())
    try:
        import jax  # noqa: F401
    except ImportError:
        print('JAX is not installed: this comparison needs the optional extra, pip install ".[bench]"; '
              "nothing measured")
        print("verdict: none (measurements)")
        return 0
    print(f"pinned to core {cpu} (sched_setaffinity); NumPy BLAS 1 thread (threadpoolctl); XLA one thread")
    os.sched_setaffinity(0, {cpu})
    try:
        with threadpool_limits(1):
            ok = compare(rows, args.repeat, args.tol)
    finally:
        os.sched_setaffinity(0, allowed)
    print("verdict: none (measurements)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
