"""Error bars of Lyapunov exponents and covariant Lyapunov vectors: the figures they must reach.

1. Calibration of the batch-means standard errors.  A chaotic random network (N = 32,
   g = 1.5, autonomous, seed 1) runs 200 independent trajectories (own h_0 and Q_0) of
   ``T`` steps (200 transient); each gives lambda_1 .. lambda_4 with a 95 % interval
   (Student t).  The long-run values come from 10 further trajectories of 10^5 steps
   (10^6 steps in all, their mean).  Target: the fraction of intervals covering the
   long-run value is within 0.90-0.98 for lambda_1 and lambda_4.
2. Finite-time exponents of the same network over windows of tau = 25, 100, 400 steps:
   histograms, and the spread times sqrt(tau), constant for a chaotic network (target:
   within 20 % of each other).
3. Covariant vectors of the Henon map (a = 1.4, b = 0.3), 10^5 steps: growth rates
   (target: within 2e-3 of 0.4192 and -1.6232) and the distribution of the angle between
   the two vectors.
4. Speed: covariant vectors of a network N = 80, k = 20 over 10^4 steps on one core
   (target: under 10 s of CPU).

Prints PASS/FAIL per target and exits with 1 if any fails.  Writes
validation/out/lyapunov_errors/lyapunov_errors_<scale>.png.

    python validation/paper/lyapunov_errors.py [--quick | --paper]

``--quick`` (default) uses T = 5000 steps per calibration trajectory, ``--paper``
T = 20000; the rest is the same at both scales.
"""

import os
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # validation/
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)
import _common  # noqa: E402

from floss_ref import FunctionMap, VanillaRNN, covariant_vectors, lyapunov_spectrum  # noqa: E402
from floss_ref.core.lyapunov import finite_time_exponents  # noqa: E402
from floss_ref.core.lyapunov_stats import confidence_halfwidth  # noqa: E402

SCALE = {"quick": dict(T=5000), "paper": dict(T=20_000)}
N, G, K, TRANSIENT = 32, 1.5, 4, 200
A_HENON, B_HENON = 1.4, 0.3
HENON_EXPONENTS = (0.4192, -1.6232)
LONG_RUN = (10, 100_000)        # trajectories x steps of the long-run reference values
HENON_STEPS = 100_000
CLV_STEPS = 10_000              # the speed target's horizon (N = 80, k = 20)
FTE_STEPS = 6400                # steps of each of the 64 finite-time trajectories


def network():
    return VanillaRNN.random(N, g=G, seed=1)


def calibration(T, rng):
    net = network()
    start = time.perf_counter()
    n_long, T_long = LONG_RUN
    ref = lyapunov_spectrum(net, rng.standard_normal((n_long, N)), T=T_long, k=K, transient=1000, seed=rng)
    long_run = ref.exponents.mean(axis=0)
    long_se = ref.exponents.std(axis=0, ddof=1) / np.sqrt(n_long)
    res = lyapunov_spectrum(net, rng.standard_normal((200, N)), T=T, k=K, transient=TRANSIENT, seed=rng)
    half = confidence_halfwidth(res.stderr, res.n_blocks)
    covered = np.abs(res.exponents - long_run) <= half
    return dict(long_run=long_run, long_se=long_se, exponents=res.exponents, half=half,
                coverage=covered.mean(axis=0), n_blocks=res.n_blocks, block_steps=res.block_steps,
                r1=res.lag1_autocorr, seconds=time.perf_counter() - start)


def finite_time(rng):
    net = network()
    h0 = rng.standard_normal((64, N))
    windows = {tau: finite_time_exponents(net, h0, k=1, window=tau, T=TRANSIENT + FTE_STEPS, transient=TRANSIENT,
                                          seed=np.random.default_rng(5))[..., 0].ravel()
               for tau in (25, 100, 400)}
    scaled = {tau: float(np.std(w) * np.sqrt(tau)) for tau, w in windows.items()}
    return windows, scaled


def henon():
    def step(h, x):
        return np.stack([1 - A_HENON * h[..., 0] ** 2 + h[..., 1], B_HENON * h[..., 0]], axis=-1)

    def tangent(h, x, Q):
        u = h[..., 0, None]
        return np.stack([-2 * A_HENON * u * Q[..., 0, :] + Q[..., 1, :], B_HENON * Q[..., 0, :]], axis=-2)

    T = HENON_STEPS
    res = covariant_vectors(FunctionMap(step, tangent, 2), np.array([0.1, 0.1]), T=T, k=2,
                            times=range(1000, T - 1000, 10), transient=1000, seed=0)
    cos = np.abs(np.sum(res.vectors[..., 0] * res.vectors[..., 1], axis=-1))
    return res, np.arccos(np.clip(cos, 0.0, 1.0))


def clv_speed():
    net = VanillaRNN.random(80, g=1.5, seed=1)
    h0 = np.random.default_rng(0).standard_normal(80)
    cpu, wall = time.process_time(), time.perf_counter()
    covariant_vectors(net, h0, T=CLV_STEPS, k=20, times=range(CLV_STEPS // 5, CLV_STEPS - CLV_STEPS // 5 + 1,
                                                                CLV_STEPS // 10),
                      transient=CLV_STEPS // 5, seed=0, blas_threads=None)
    return time.process_time() - cpu, time.perf_counter() - wall


def verdict(ok):
    return "PASS" if ok else "FAIL"


def main(argv=None):
    args = _common.scale_parser("lyapunov_errors", __doc__).parse_args(argv)
    args.out = _common.out_dir(args, "lyapunov_errors")
    T = SCALE[args.scale]["T"]
    rng = np.random.default_rng(2026)
    failures = 0
    with threadpool_limits(1):
        print(f"1. calibration: N = {N}, g = {G}, 200 trajectories of {T} steps ({TRANSIENT} transient), "
              "95 % Student-t intervals from batch means", flush=True)
        cal = calibration(T, rng)
        print(f"   long-run values (10 x 10^5 steps): {np.round(cal['long_run'], 5)} "
              f"+- {np.round(cal['long_se'], 5)}")
        print(f"   {cal['n_blocks']} blocks of {cal['block_steps']} steps, lag-1 autocorrelation {cal['r1']:.3f}; "
              f"median half-width {np.round(np.median(cal['half'], axis=0), 5)}; {cal['seconds']:.0f} s")
        for i in (0, K - 1):
            ok = 0.90 <= cal["coverage"][i] <= 0.98
            failures += not ok
            print(f"   coverage of lambda_{i + 1}: {cal['coverage'][i]:.3f} (target 0.90-0.98): {verdict(ok)}")
        print("2. finite-time exponents, lambda_1 over windows of tau steps (64 trajectories x 6400 steps)",
              flush=True)
        windows, scaled = finite_time(rng)
        for tau in windows:
            print(f"   tau = {tau:3d}: {windows[tau].size} windows, mean {windows[tau].mean():+.4f}, "
                  f"std {windows[tau].std():.4f}, std * sqrt(tau) = {scaled[tau]:.4f}")
        spread = max(scaled.values()) / min(scaled.values()) - 1
        failures += spread > 0.2
        print(f"   std * sqrt(tau) varies by {100 * spread:.1f} % (target <= 20 %): {verdict(spread <= 0.2)}")
        print("3. covariant vectors of the Henon map, 10^5 steps", flush=True)
        res, angle = henon()
        err = np.abs(res.rates - np.array(HENON_EXPONENTS))
        ok = bool(np.all(err <= 2e-3))
        failures += not ok
        print(f"   rates {np.round(res.rates, 5)} (QR exponents {np.round(res.exponents, 5)}), |rate - "
              f"{HENON_EXPONENTS}| = {np.round(err, 5)} (target <= 2e-3): {verdict(ok)}")
        print(f"   angle between the two vectors ({angle.size} times): min {angle.min():.2e} rad, "
              f"1 % quantile {np.quantile(angle, 0.01):.4f}, median {np.median(angle):.3f}; "
              f"fraction below 0.01 rad {np.mean(angle < 0.01):.4f}")
        print("4. covariant vectors, N = 80, k = 20, 10^4 steps, one core", flush=True)
        cpu, wall = clv_speed()
        failures += cpu > 10
        print(f"   CPU {cpu:.2f} s, wall {wall:.2f} s, load average {os.getloadavg()[0]:.2f} "
              f"(target CPU < 10 s): {verdict(cpu <= 10)}")
    plot(args, T, cal, windows, angle)
    print("all targets met" if not failures else f"{failures} target(s) missed")
    return 1 if failures else 0


def plot(args, T, cal, windows, angle):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    os.makedirs(args.out, exist_ok=True)
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    ax = axes[0]
    for i, colour in ((0, "tab:blue"), (K - 1, "tab:orange")):
        order = np.argsort(cal["exponents"][:, i])
        y = np.arange(order.size)
        ax.errorbar(cal["exponents"][order, i] - cal["long_run"][i], y, xerr=cal["half"][order, i], fmt=".",
                    ms=2, lw=0.5, color=colour, label=f"lambda_{i + 1}: coverage {cal['coverage'][i]:.2f}")
    ax.axvline(0, color="k", lw=1)
    ax.set(xlabel="estimate - long-run value", ylabel="trajectory (sorted)",
           title=f"A  95 % intervals, 200 trajectories of {T} steps")
    ax.legend(fontsize=7)
    ax = axes[1]
    for tau, w in windows.items():
        ax.hist(w, bins=40, density=True, histtype="step", label=f"tau = {tau}")
    ax.set(xlabel="finite-time lambda_1", ylabel="density", title="B  finite-time exponents (N = 32, g = 1.5)")
    ax.legend(fontsize=7)
    ax = axes[2]
    ax.hist(angle, bins=60, color="tab:green")
    ax.set(xlabel="angle between the two CLVs (rad)", ylabel="count", title="C  Henon map, 10^5 steps")
    fig.tight_layout()
    path = os.path.join(args.out, f"lyapunov_errors_{args.scale}.png")
    fig.savefig(path, dpi=90)
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
