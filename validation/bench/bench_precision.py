"""Speed and accuracy of floss_ref.core.precision: the figures it must reach.

1. Product step, N = 80, m = 80 (and m = 15), 256 bits: the block-float limb product
   (:mod:`floss_ref.core.precision.blockfloat`, one exact float64 GEMM of stacked limbs)
   against a plain ``mpmath.matrix`` product of the same size and, for reference, an
   exact fixed-point product on Python integers in numpy object arrays.  Timed side by
   side: each repeat times every method once, in a fresh random order; medians.
   Target: limb product >= 8x faster than mpmath.matrix at m = 80.
2. The Fig. 2A paper-size curve: N = 80, m = 15, kappa_2 at 25 horizons up to 500, at
   256 bits, end to end (trajectory, float64 QR pass, product, 25 SVDs in mpmath): its
   time, a measurement without a target (it depends on the machine and its load).
3. The precision budget: for m = 15, 40, 80 on a g = 1, N = 80 network, every horizon
   the module accepts at 256 bits (``required_prec <= 256``, dense near the limit) is
   recomputed at 512 bits (``check=True``).  Target: >= 10 agreeing digits of sigma_m
   everywhere.  Also prints the guard bits kept and how far the measured kappa_2 lies
   above the QR prediction.
4. Gradient check at T = 300 (N = 12, k = 6): the float64 adjoint against central
   differences of the mpmath loss at 256 bits, and against the best float64 central
   difference over steps 1e-2 .. 1e-9.

BLAS is single-threaded (``threadpoolctl.threadpool_limits(1)``).  Results go to
``validation/out/bench_precision.csv``.

    python validation/bench/bench_precision.py [--repeats 5] [--quick] [--sections 1 2 3 4]
"""

import argparse
import sys
import csv
import math
import os
import platform
import statistics
import time

import mpmath
import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

FOLDER = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [FOLDER, os.path.dirname(FOLDER)]  # this folder's scripts, and validation/ (_common)
import _common  # noqa: E402

from floss_ref import VanillaRNN, flossing_grad, flossing_loss, random_orthonormal  # noqa: E402
from floss_ref.core.precision import (guard_bits, long_term_jacobian_svd, product_svd, required_prec,  # noqa: E402
                                 trajectory_jacobians)
from floss_ref.core.precision import blockfloat  # noqa: E402
from floss_ref.core.precision.reference import flossing_directional_derivative_mp  # noqa: E402

if hasattr(sys.stdout, "reconfigure"):  # whole lines at once, also into a log file
    sys.stdout.reconfigure(line_buffering=True)

PREC = 256
TARGET_SPEEDUP = 8.0
TARGET_DIGITS = 10.0
OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "out")  # validation/out


def rnn_jacobians(N, T, seed):
    """Jacobians of a g = 1 tanh network driven by Bernoulli inputs, after 200 steps of relaxation."""
    rng = np.random.default_rng(seed)
    net = VanillaRNN.random(N, g=1.0, seed=rng)
    xs = rng.integers(0, 2, (T + 200, 1)).astype(float)
    h = rng.standard_normal(N)
    for s in range(200):
        h, _ = net.step(h, xs[s])
    return net, h, xs[200:], trajectory_jacobians(net, h, xs[200:])


# ---- 1. one product step ----------------------------------------------------------------

def step_methods(D, P, prec):
    """Three ways to compute one step D @ P at ``prec`` bits, each a zero-argument callable.

    D : (n, n) float64 Jacobian;  P : BlockFloat running product with full-length mantissas,
    handed to each method in its own format (mpmath matrix, Python ints, limbs).
    """
    ctx = mpmath.MPContext()
    ctx.prec = prec
    D_mp = ctx.matrix(D.tolist())
    P_mp = ctx.matrix([list(row) for row in zip(*blockfloat.to_mpmath_columns(P, ctx))])
    K = P.limbs.shape[1]
    # fixed point on Python ints: D = D_int 2^-e_D exactly, P = P_int 2^(scale) exactly
    D_int, e_D = exact_integers(D)
    P_int = P.limbs[:, 0, :].astype(object)
    for j in range(1, K):
        P_int = P_int * (1 << P.limb_bits) + P.limbs[:, j, :].astype(object)

    def mp_step():
        return D_mp * P_mp

    def int_step():
        return (D_int.dot(P_int)) >> e_D  # exact product, then truncated to P's scale

    def limb_step():
        return blockfloat.matmul(blockfloat.from_float(D, P.limb_bits, K), P, K)

    return {"mpmath.matrix": mp_step, "python-int objects": int_step, "blockfloat limbs": limb_step}


def exact_integers(A):
    """``A = A_int 2^-e`` exactly, with Python-int entries A_int and the smallest such e."""
    ratios = [v.as_integer_ratio() for v in A.ravel().tolist()]
    e = max(den.bit_length() - 1 for _, den in ratios)  # every denominator is a power of 2
    ints = np.array([num * (2 ** e // den) for num, den in ratios], dtype=object)
    return ints.reshape(A.shape), e


def bench_step(m, repeats, rows):
    net, h, xs, Ds = rnn_jacobians(80, 11, seed=1)
    L = blockfloat.limb_bits_for(80)
    K = blockfloat.limbs_for(PREC, L)
    P = blockfloat.from_float(random_orthonormal(80, m, seed=2), L, K)
    for s in range(10):  # a few steps, so that P's entries use all their bits
        P = blockfloat.matmul(blockfloat.from_float(Ds[s], L, K), P, K)
    methods = step_methods(Ds[10], P, PREC)
    times = {name: [] for name in methods}
    order = np.random.default_rng(3)
    for name, f in methods.items():  # warm-up
        f()
    for _ in range(repeats):
        for i in order.permutation(len(methods)):
            name = list(methods)[i]
            inner = 1 if name != "blockfloat limbs" else 20
            start = time.perf_counter()
            for _ in range(inner):
                methods[name]()
            times[name].append((time.perf_counter() - start) / inner)
    med = {name: statistics.median(t) for name, t in times.items()}
    base = med["mpmath.matrix"]
    print(f"\n1. one product step D @ P, N = 80, m = {m}, {PREC} bits (median of {repeats})")
    print(f"   {'method':<22}{'seconds':>12}{'speed-up vs mpmath':>22}")
    for name, t in med.items():
        print(f"   {name:<22}{t:>12.5f}{base / t:>21.1f}x")
        rows.append(["step", f"m={m}", name, f"{t:.6g}", f"{base / t:.4g}"])
    return base / med["blockfloat limbs"]


# ---- 2. the Fig. 2A curve ------------------------------------------------------------

def bench_curve(repeats, rows):
    net, h, xs, _ = rnn_jacobians(80, 500, seed=4)
    horizons = np.linspace(20, 500, 25).astype(int)
    times = []
    for r in range(repeats):
        start = time.perf_counter()
        res = long_term_jacobian_svd(net, h, xs, m=15, horizons=horizons, seed=5)
        times.append(time.perf_counter() - start)
    start = time.perf_counter()
    checked = long_term_jacobian_svd(net, h, xs, m=15, horizons=horizons, seed=5, check=True)
    t_check = time.perf_counter() - start
    t = statistics.median(times)
    print(f"\n2. Fig. 2A curve: N = 80, m = 15, 25 horizons up to 500, {PREC} bits, one core")
    print(f"   median of {repeats}: {t:.2f} s; "
          f"with the 512-bit check: {t_check:.2f} s")
    print(f"   kappa_2 at 500 steps = 10^{res.log_kappa[-1] / math.log(10):.1f}; digits of sigma_m "
          f"at 500 agreeing with 512 bits: {checked.agreeing_digits[-1, -1]:.1f}")
    rows.append(["curve", "N=80,m=15,H=25", "seconds", f"{t:.4g}", ""])
    rows.append(["curve", "N=80,m=15,H=25", "seconds with check", f"{t_check:.4g}", ""])
    return t


# ---- 3. the precision budget ---------------------------------------------------------

def bench_budget(ms, quick, rows):
    net, h, xs, Ds = rnn_jacobians(80, 1500, seed=6)
    print(f"\n3. precision budget at {PREC} bits, digits = {TARGET_DIGITS:.0f}, recomputed at {2 * PREC} bits")
    print(f"   {'m':>3}{'last accepted':>14}{'guard bits':>11}{'horizons':>9}{'min agreeing':>13}"
          f"{'min estimate':>13}{'kappa - QR pred. (bits)':>24}")
    worst = math.inf
    for m in ms:
        Q0 = random_orthonormal(80, m, seed=7)
        bits = required_prec(Ds, Q0, np.arange(1, Ds.shape[0] + 1))
        accepted = np.flatnonzero(bits <= PREC) + 1
        last = int(accepted[-1])  # bits_needed fluctuates with kappa_2: test accepted horizons only
        step = max(1, len(accepted) // (6 if quick else 15))
        horizons = sorted(set(accepted[::step].tolist()) | set(accepted[-5:].tolist()))
        res = product_svd(Ds, Q0, horizons, check=True)
        agree = res.agreeing_digits[:, -1]
        gap = np.max(res.log_kappa - res.log_kappa_qr) / math.log(2.0)
        print(f"   {m:>3}{last:>14}{guard_bits(last, 80, m):>11.1f}{len(horizons):>9}{agree.min():>13.1f}"
              f"{res.digits_estimate.min():>13.1f}{gap:>24.1f}")
        try:
            required = required_prec(Ds, Q0, [last + 1])[0]
            product_svd(Ds, Q0, [last + 1])
            refusal = "NOT refused"
        except ValueError as exc:
            refusal = f"refused ({str(exc).split(' of precision')[0].split('needs ')[1]})"
        print(f"       horizon {last + 1}: {refusal}, required_prec = {required}")
        rows.append(["budget", f"m={m}", "last accepted horizon", str(last), ""])
        rows.append(["budget", f"m={m}", "min agreeing digits of sigma_m", f"{agree.min():.3g}", ""])
        worst = min(worst, agree.min())
    return worst


# ---- 4. gradient check at T = 300 ----------------------------------------------------

def bench_gradient(rows):
    rng = np.random.default_rng(8)
    net = VanillaRNN.random(12, g=1.0, seed=rng)
    xs = rng.integers(0, 2, (300, 1)).astype(float)
    h0 = rng.standard_normal(12)
    Q0 = random_orthonormal(12, 6, seed=rng)
    kw = dict(k=6, Q0=Q0, t_ons=1, transient=0)
    grad = flossing_grad(net, h0, xs, **kw)
    print("\n4. gradient of the flossing loss, N = 12, k = 6, T = 300: digits agreeing with the adjoint")
    print(f"   {'direction':<16}{'adjoint':>22}{'mp central diff.':>22}{'digits':>8}{'best float64 FD':>17}")
    directions = [("random (W,V,b,h0)", {key: rng.standard_normal(net.params[key].shape) for key in ("W", "V", "b")}
                   | {"h0": rng.standard_normal(12)})]
    for i, j in ((0, 0), (3, 5), (11, 2)):
        unit = np.zeros((12, 12))
        unit[i, j] = 1.0
        directions.append((f"W[{i},{j}]", {"W": unit}))
    worst = math.inf
    for name, u in directions:
        adjoint = sum(np.sum(grad.grads[key] * u[key]) for key in ("W", "V", "b") if key in u)
        if "h0" in u:
            adjoint += np.sum(grad.h0_bar * u["h0"])
        fd = float(flossing_directional_derivative_mp(net, h0, xs, direction=u, **kw))
        digits = -math.log10(abs(adjoint - fd) / abs(fd))
        best64 = max(-math.log10(abs(float64_difference(net, h0, xs, u, step, kw) - fd) / abs(fd))
                     for step in 10.0 ** -np.arange(2, 10))
        print(f"   {name:<16}{adjoint:>22.15g}{fd:>22.15g}{digits:>8.1f}{best64:>17.1f}")
        rows.append(["gradient", name, "digits adjoint vs mp", f"{digits:.3g}", f"float64 FD {best64:.3g}"])
        worst = min(worst, digits)
    return worst


def float64_difference(net, h0, xs, u, step, kw):
    values = []
    for sign in (1, -1):
        params = {key: net.params[key] + sign * step * u[key] if key in u else net.params[key]
                  for key in net.params}
        shifted = VanillaRNN(params)
        h = h0 + sign * step * u["h0"] if "h0" in u else h0
        values.append(flossing_loss(shifted, h, xs, **kw)[0])
    return float((values[0] - values[1]) / (2 * step))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="3 repeats, section 3 for m = 80 only, fewer horizons")
    parser.add_argument("--sections", nargs="+", type=int, choices=(1, 2, 3, 4), default=[1, 2, 3, 4],
                        help="the sections to run (default all); 1 and 2 time code and need the machine to "
                             "themselves, 3 and 4 count digits and can run beside other work")
    args = parser.parse_args(argv)
    sections = sorted(set(args.sections))
    repeats = 3 if args.quick else args.repeats
    blas = [(i["internal_api"], i["version"], i.get("architecture")) for i in threadpool_info()]
    print(_common.provenance())
    print(f"python {platform.python_version()}, numpy {np.__version__}, mpmath {mpmath.__version__} "
          f"(backend {mpmath.libmp.BACKEND}), BLAS {blas}")
    rows, summary, passed = [], [], True
    with threadpool_limits(1):
        if 1 in sections:
            speedup = bench_step(80, repeats, rows)
            bench_step(15, repeats, rows)
            ok = speedup >= TARGET_SPEEDUP
            summary.append(f"limb product vs mpmath.matrix at m = 80: {speedup:.0f}x  (target >= "
                           f"{TARGET_SPEEDUP:.0f}x)  {'PASS' if ok else 'FAIL'}")
            passed &= ok
        if 2 in sections:
            seconds = bench_curve(repeats, rows)
            summary.append(f"Fig. 2A paper-size curve: {seconds:.1f} s (a measurement; load average "
                           f"{os.getloadavg()[0]:.2f})")
        if 3 in sections:
            digits = bench_budget((15, 40, 80) if not args.quick else (80,), args.quick, rows)
            ok = digits >= TARGET_DIGITS
            summary.append(f"min agreeing digits of sigma_m on accepted horizons: {digits:.1f}  (target >= "
                           f"{TARGET_DIGITS:.0f})  {'PASS' if ok else 'FAIL'}")
            passed &= ok
        if 4 in sections:
            grad_digits = bench_gradient(rows)
            ok = grad_digits >= 8
            summary.append(f"min digits adjoint vs mp differences at T = 300: {grad_digits:.1f}  (target >= 8)  "
                           f"{'PASS' if ok else 'FAIL'}")
            passed &= ok
    os.makedirs(OUT, exist_ok=True)
    name = "bench_precision" + ("" if sections == [1, 2, 3, 4] else "_sections_" + "_".join(map(str, sections)))
    path = os.path.join(OUT, name + ".csv")
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([["section", "case", "quantity", "value", "note"]] + rows)
    print("\nSummary")
    for line in summary:
        print("   " + line)
    print(f"   wrote {path}")
    print(f"verdict: {'PASS' if passed else 'FAIL'}")
    return 0 if passed else 1


if __name__ == "__main__":
    raise SystemExit(main())
