"""Fig. 2: condition number of the long-term Jacobian, 256-bit products against Eq. 10.

    kappa_2(T_t(h_tau) Q_tau) = sigma_1 / sigma_m  ~  exp((lambda_1 - lambda_m)(t - tau))   (Eq. 10)

Setting (paper, Fig. 2): vanilla tanh networks, g = 1, N = 80, inputs Bernoulli{0, 1} as
in the delayed XOR task, T = 500 (horizons up to 500), flossing of k = 15 exponents for
E_f = 500 Adam epochs (lr 1e-3, T = 500 steps per epoch, 50 of them transient).

For every network, before and after flossing:

* lambda_1..lambda_k from the float64 QR algorithm on a long trajectory
  (:func:`floss_ref.lyapunov_spectrum`, ``--T-lyap`` steps after 500 transient steps);
* direct products T_t(h_tau) Q_tau at 256 bits
  (:func:`floss_ref.core.precision.long_term_jacobian_svd`), each from its own h_tau (a fresh
  h_0 relaxed for 200 steps), its own input stream and its own random Q_tau.

Panels
------
A  log10 kappa_2 against t - tau (m = 15, 25 horizons), products (thin lines, the first
   ``--trajectories`` of them) and Eq. 10 (dashed).  Acceptance: the slope of
   ln kappa_2 fitted over 100 <= t - tau <= 500 agrees with lambda_1 - lambda_15 within
   5%, at initialisation and after flossing, for each network.  One trajectory's slope
   fluctuates with its finite-time exponents: its standard deviation is about 0.008 at
   initialisation (5-7% of lambda_1 - lambda_15) and 0.005-0.012 after flossing (20-35% of
   the much smaller lambda_1 - lambda_15).  The slope compared is therefore the mean over
   trajectories of each one's least-squares slope (over horizons 100, 150, ..., 500 for
   the trajectories beyond the plotted ones), with trajectories added until its standard
   error is below 2% of lambda_1 - lambda_15 (at most ``--max-trajectories``); and the
   exponents come from 2 10^5 steps.  Printed with it: the single-trajectory standard
   deviation, the product's slope minus that of the float64 QR prediction on the same
   trajectories, and the offset ln kappa_2 - (lambda_1 - lambda_15)(t - tau) at
   t - tau = 100.  ``--late-windows`` adds, for the flossed networks, the slopes over
   [500, 1000] and [1000, 2000]: there the exponents are nearly degenerate, kappa_2 of the
   product converges to its asymptotic growth over about a thousand steps, and its slope
   over [100, 500] still exceeds that of its own QR prediction by several percent.
B  kappa_2 against m at a fixed horizon (``--horizon-b``), precision raised
   automatically where m needs more than 256 bits.
C  simulated against predicted ln kappa_2 over networks, numbers of flossed exponents k
   (0 = not flossed) and m in {5, 15, 30}, at horizons 100 .. 500.

Flossed networks are cached in ``validation/out/`` (keyed by every setting that made
them and by a hash of floss_ref's source, so that a code change is never served an old
network), so panels run separately share them.  Outputs, in ``--out`` (default
``validation/out/``): fig2.txt (the printed output, its first line the provenance), fig2a.csv
(ln kappa_2 per network, trajectory and horizon), fig2a_slopes.csv (per network and state: the
mean slope against lambda_1 - lambda_15), fig2b.csv, fig2c.csv and fig2{a,b,c}.png.  The
committed evidence of REPRODUCTION.md is made with ``--out
validation/results/fig2_condition_number`` (as fig6_lstm_relu.py's ``--out-dir``).

    python validation/paper/fig2_condition_number.py --panel A --quick      # minutes
    python validation/paper/fig2_condition_number.py --panel all            # paper size, about an hour
    python validation/paper/fig2_condition_number.py --panel A              # paper size, about 20 minutes
"""

import argparse
import sys
import csv
import math
import os
import time

import numpy as np
from threadpoolctl import threadpool_limits

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # validation/
sys.path.insert(0, HERE)
import _common  # noqa: E402  (puts the checkout on sys.path: runs without installing)

from floss_ref import VanillaRNN, floss, lyapunov_spectrum  # noqa: E402
from floss_ref.core.precision import eq10_log_kappa, long_term_jacobian_svd  # noqa: E402
from floss_ref.runs.io import atomic_savez  # noqa: E402

if hasattr(sys.stdout, "reconfigure"):  # whole lines at once, also into a log file
    sys.stdout.reconfigure(line_buffering=True)

OUT = os.path.join(HERE, "out")  # validation/out: the cache of flossed networks
DEST = OUT                       # where the tables and figures go (--out)
FIT_RANGE = (100, 500)
SLOPE_TOLERANCE = 0.05
SE_TARGET = 0.02  # standard error of the mean slope, relative to lambda_1 - lambda_m
RELAX_STEPS = 200
LYAP_TRANSIENT = 500


def settings(args):
    """Paper-size settings, or the --quick ones."""
    quick = args.quick
    return dict(
        N=args.N, g=1.0, m=15, k_floss=15, lr=1e-3,
        networks=args.networks or (2 if quick else 3),
        trajectories=args.trajectories or (4 if quick else 8),
        trajectories_bc=args.trajectories or (2 if quick else 4),
        max_trajectories=args.max_trajectories or (48 if quick else 400),
        epochs=args.epochs if args.epochs is not None else (150 if quick else 500),
        T_floss=300 if quick else 500, floss_transient=50,
        T=300 if quick else 500,
        T_lyap=args.T_lyap or (20000 if quick else 200000),
        horizon_b=args.horizon_b or (50 if quick else 100),
        ms_b=(1, 2, 5, 10, 15, 20, 30, 40) if quick else (1, 2, 5, 10, 15, 20, 30, 40, 50, 60, 70, 80),
        ks_c=(0, 5, 15) if quick else (0, 1, 5, 10, 15, 20, 30, 40),
        ms_c=(5, 15, 30),
        late_windows=args.late_windows, late_trajectories=8 if quick else 32,
        seed=args.seed)


# ---- networks ----------------------------------------------------------------------

def networks(cfg, k_floss):
    """The cfg["networks"] networks, flossed on k_floss exponents (0: as initialised)."""
    n_nets, N = cfg["networks"], cfg["N"]
    init = VanillaRNN.random(N, g=cfg["g"], ensemble=(n_nets,), seed=cfg["seed"])
    if k_floss == 0:
        return [_single(init, r) for r in range(n_nets)]
    key = (f"fig2_nets_N{N}_nets{n_nets}_k{k_floss}_E{cfg['epochs']}_T{cfg['T_floss']}"
           f"_tr{cfg['floss_transient']}_lr{cfg['lr']}_s{cfg['seed']}_code{_common.code_hash()}.npz")
    path = os.path.join(OUT, key)
    if os.path.exists(path):
        with np.load(path) as f:
            params = {name: f[name] for name in ("W", "V", "b")}
        print(f"  loaded flossed networks from {path}")
    else:
        start = time.perf_counter()
        hist = floss(init, epochs=cfg["epochs"], k=k_floss, T=cfg["T_floss"],
                     transient=cfg["floss_transient"], lr=cfg["lr"], inputs="bernoulli",
                     seed=cfg["seed"] + 1000 + k_floss, progress=True)
        params = init.params
        atomic_savez(path, params)   # a stopped run leaves no partial cache file
        print(f"  flossed {n_nets} networks on k = {k_floss} exponents for {cfg['epochs']} epochs "
              f"in {time.perf_counter() - start:.0f} s; last-epoch loss {np.round(hist.loss[-1], 4)}")
    return [_single(VanillaRNN(params), r) for r in range(n_nets)]


def _single(ensemble, r):
    return VanillaRNN({name: p[r] for name, p in ensemble.params.items()})


def spectrum(net, cfg, seed, k, T):
    """lambda_1..lambda_k of one network, float64 QR algorithm on a trajectory of T steps."""
    rng = np.random.default_rng(seed)
    xs = rng.integers(0, 2, (T + LYAP_TRANSIENT, 1)).astype(float)
    return lyapunov_spectrum(net, rng.standard_normal(cfg["N"]), xs, k=k,
                             transient=LYAP_TRANSIENT, seed=rng).exponents


def trajectory(net, cfg, rng, T):
    """h_tau after RELAX_STEPS driven steps from a random h_0, and T further inputs."""
    xs = rng.integers(0, 2, (RELAX_STEPS + T, 1)).astype(float)
    h = rng.standard_normal(cfg["N"])
    for s in range(RELAX_STEPS):
        h, _ = net.step(h, xs[s])
    return h, xs[RELAX_STEPS:]


def log_kappa_runs(net, cfg, m, horizons, rng, count, auto_prec=False):
    """ln kappa_2 of the product and its QR prediction at the horizons, for ``count``
    trajectories: two (count, H) arrays, and the most bits used."""
    rows, rows_qr, precs = [], [], []
    for _ in range(count):
        h, xs = trajectory(net, cfg, rng, int(max(horizons)))
        res = long_term_jacobian_svd(net, h, xs, m=m, horizons=horizons, seed=rng, auto_prec=auto_prec)
        rows.append(res.log_kappa)
        rows_qr.append(res.log_kappa_qr)
        precs.append(res.prec)
    return np.array(rows), np.array(rows_qr), max(precs)


def fit_slope(horizons, log_kappa):
    """Least-squares slope of ln kappa_2 against t - tau over FIT_RANGE."""
    sel = (horizons >= FIT_RANGE[0]) & (horizons <= FIT_RANGE[1])
    return np.polyfit(horizons[sel], log_kappa[..., sel].T, 1)[0]


# ---- panel A -----------------------------------------------------------------------

def panel_a(cfg):
    m, T = cfg["m"], cfg["T"]
    horizons = np.linspace(T / 25, T, 25).round().astype(int)
    fit_horizons = np.arange(FIT_RANGE[0], min(T, FIT_RANGE[1]) + 1, 50)
    print(f"\nFig. 2A: kappa_2 vs horizon, N = {cfg['N']}, m = {m}, {cfg['networks']} networks; "
          f"lambda from {cfg['T_lyap']} steps; slope of ln kappa_2 fitted over {FIT_RANGE[0]} <= t - tau <= "
          f"{fit_horizons[-1]} per trajectory and averaged, adding trajectories until its standard error "
          f"is below {SE_TARGET:.0%} of lambda_1 - lambda_{m} (at most {cfg['max_trajectories']})")
    print(f"{'net':>4} {'state':>8} {'l1 - l15':>9} {'slope +- s.e.':>16} {'rel.err':>8} {'traj':>5} "
          f"{'1-traj. sd':>10} {'prod-QR':>8} {'offset@100':>11} {'log10 k@T':>10} {'s/traj':>7}")
    rows, curves, summary, flossed_nets, ok = [], [], [], [], True
    for state, k_floss in (("init", 0), ("flossed", cfg["k_floss"])):
        for r, net in enumerate(networks(cfg, k_floss)):
            lam = spectrum(net, cfg, cfg["seed"] + 10 * r + 1, m, cfg["T_lyap"])
            delta = lam[0] - lam[m - 1]
            rng = np.random.default_rng(cfg["seed"] + 10 * r + 2)
            start = time.perf_counter()
            lk, lk_qr, _ = log_kappa_runs(net, cfg, m, horizons, rng, cfg["trajectories"])
            slopes, slopes_qr = list(fit_slope(horizons, lk)), list(fit_slope(horizons, lk_qr))
            while (len(slopes) < cfg["max_trajectories"]
                   and np.std(slopes, ddof=1) / math.sqrt(len(slopes)) > SE_TARGET * delta):
                more, more_qr, _ = log_kappa_runs(net, cfg, m, fit_horizons, rng, 8)
                slopes += list(fit_slope(fit_horizons, more))
                slopes_qr += list(fit_slope(fit_horizons, more_qr))
            per_traj = (time.perf_counter() - start) / len(slopes)
            slopes, slopes_qr = np.array(slopes), np.array(slopes_qr)
            slope, se = slopes.mean(), slopes.std(ddof=1) / math.sqrt(len(slopes))
            rel = slope / delta - 1
            ok &= abs(rel) <= SLOPE_TOLERANCE
            mean = lk.mean(axis=0)
            i100 = int(np.argmin(np.abs(horizons - 100)))
            offset = mean[i100] - delta * horizons[i100]
            print(f"{r:>4} {state:>8} {delta:>9.4f} {slope:>9.4f}+-{se:.4f} {rel:>+8.1%} {len(slopes):>5} "
                  f"{slopes.std(ddof=1):>10.4f} {np.mean(slopes - slopes_qr) / delta:>+8.1%} {offset:>11.2f} "
                  f"{mean[-1] / math.log(10):>10.1f} {per_traj:>7.1f}")
            curves.append((state, r, lk, eq10_log_kappa(lam, m, horizons)))
            for b, row in enumerate(lk):
                for h, v in zip(horizons, row):
                    rows.append([state, r, b, h, v, delta * h])
            summary.append([state, r, delta, slope, se, len(slopes), offset])
            if state == "flossed":
                flossed_nets.append((r, net, delta))
    print(f"acceptance: |slope / (lambda_1 - lambda_15) - 1| <= {SLOPE_TOLERANCE:.0%} for every network "
          f"and state: {'PASS' if ok else 'FAIL'}")
    print("  (prod-QR: mean slope of the product minus that of the float64 QR prediction on the same "
          "trajectories, relative to lambda_1 - lambda_15; offset@100: ln kappa_2 - (lambda_1 - lambda_15) "
          "(t - tau) at t - tau = 100, mean over the plotted trajectories)")
    inits = [c for c in curves if c[0] == "init"]
    flossed = [c for c in curves if c[0] == "flossed"]
    q = len(horizons) // 4
    for (_, r, lk0, _), (_, _, lk1, _) in zip(inits, flossed):
        print(f"  net {r}: flossing lowers kappa_2 by 10^{(lk0.mean(0)[q] - lk1.mean(0)[q]) / math.log(10):.1f} "
              f"at t - tau = {horizons[q]} and by 10^{(lk0.mean(0)[-1] - lk1.mean(0)[-1]) / math.log(10):.1f} "
              f"at {horizons[-1]}")
    write_csv("fig2a.csv", ["state", "network", "trajectory", "horizon", "ln_kappa", "eq10_ln_kappa"], rows)
    write_csv("fig2a_slopes.csv", ["state", "network", "lambda1_minus_lambda15", "mean_slope", "standard_error",
                                   "trajectories", "offset_at_100"], summary)
    plot_a(horizons, curves, cfg)
    if cfg["late_windows"]:
        late_windows(cfg, flossed_nets)
    return ok


def late_windows(cfg, flossed_nets):
    """After flossing: the slope over later windows, to see the finite-time correction decay."""
    m, count = cfg["m"], cfg["late_trajectories"]
    windows = ((100, 500), (500, 1000), (1000, 2000))
    horizons = np.arange(100, 2001, 100)
    print(f"\nFig. 2A after flossing, later windows: {count} products of 2000 steps per network; slope "
          f"relative to lambda_1 - lambda_{m} (rel.err +- standard error) and the product's slope minus its "
          f"QR prediction's (excess)")
    print(f"{'net':>4} " + " ".join(f"{f'[{a}, {b}] rel.err':>20} {'excess':>7}" for a, b in windows))
    rows = []
    for r, net, delta in flossed_nets:
        rng = np.random.default_rng(cfg["seed"] + 10 * r + 5)
        lk, lk_qr, _ = log_kappa_runs(net, cfg, m, horizons, rng, count, auto_prec=True)
        cells = []
        for a, b in windows:
            sel = (horizons >= a) & (horizons <= b)
            sp = np.polyfit(horizons[sel], lk[:, sel].T, 1)[0]
            sq = np.polyfit(horizons[sel], lk_qr[:, sel].T, 1)[0]
            rel, se, excess = sp.mean() / delta - 1, sp.std(ddof=1) / math.sqrt(count) / delta, np.mean(sp - sq) / delta
            cells.append(f"{rel:>+12.1%} +- {se:>4.1%} {excess:>+7.1%}")
            rows.append([r, a, b, delta, sp.mean(), se * delta, np.mean(sq)])
        print(f"{r:>4} " + " ".join(cells))
    write_csv("fig2a_late_windows.csv", ["network", "from", "to", "lambda1_minus_lambda15", "mean_slope",
                                         "standard_error", "mean_qr_slope"], rows)


def plot_a(horizons, curves, cfg):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    colors = {"init": "tab:blue", "flossed": "tab:orange"}
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for state, r, lk, eq10 in curves:
        for row in lk:
            ax.plot(horizons, row / math.log(10), color=colors[state], alpha=0.25, lw=0.8)
        ax.plot(horizons, eq10 / math.log(10), "--", color=colors[state], lw=1.2,
                label=f"{state}, Eq. 10" if r == 0 else None)
        ax.plot([], [], color=colors[state], label=f"{state}, 256-bit product" if r == 0 else None)
    ax.set_xlabel(r"horizon $t-\tau$")
    ax.set_ylabel(r"$\log_{10}\kappa_2(\mathbf{T}_t\mathbf{Q}_\tau)$")
    ax.set_title(f"Fig. 2A: N = {cfg['N']}, m = {cfg['m']}, k = {cfg['k_floss']} flossed")
    ax.legend(fontsize=8)
    save(fig, "fig2a.png")


# ---- panel B -----------------------------------------------------------------------

def panel_b(cfg):
    h_b = cfg["horizon_b"]
    ms = [m for m in cfg["ms_b"] if m <= cfg["N"]]
    print(f"\nFig. 2B: kappa_2 vs m at t - tau = {h_b}, N = {cfg['N']}, {cfg['networks']} networks x "
          f"{cfg['trajectories_bc']} trajectories (precision raised where needed)")
    print(f"{'net':>4} {'state':>8} {'m':>3} {'log10 k sim':>12} {'log10 k Eq.10':>14} {'bits':>5} {'seconds':>8}")
    rows, points = [], []
    for state, k_floss in (("init", 0), ("flossed", cfg["k_floss"])):
        for r, net in enumerate(networks(cfg, k_floss)):
            lam = spectrum(net, cfg, cfg["seed"] + 10 * r + 1, max(ms), cfg["T_lyap"] // 10)
            for m in ms:
                start = time.perf_counter()
                rng = np.random.default_rng(cfg["seed"] + 10 * r + 3)
                lk, _, prec = log_kappa_runs(net, cfg, m, [h_b], rng, cfg["trajectories_bc"], auto_prec=True)
                sim, pred = lk[:, 0].mean(), float(eq10_log_kappa(lam, m, [h_b])[0])
                print(f"{r:>4} {state:>8} {m:>3} {sim / math.log(10):>12.2f} {pred / math.log(10):>14.2f} "
                      f"{prec:>5} {time.perf_counter() - start:>8.1f}")
                rows.append([state, r, m, h_b, sim, pred, prec])
                points.append((state, r, m, sim, pred))
    for state in ("init", "flossed"):
        usable = [max((m for s, r_, m, sim, _ in points if s == state and r_ == r and sim <= 5 * math.log(10)),
                      default=0) for r in range(cfg["networks"])]
        print(f"  {state}: largest m with kappa_2 <= 1e5 at t - tau = {h_b}: {usable}")
    write_csv("fig2b.csv", ["state", "network", "m", "horizon", "ln_kappa", "eq10_ln_kappa", "prec_bits"], rows)
    plot_b(points, cfg)


def plot_b(points, cfg):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    colors = {"init": "tab:blue", "flossed": "tab:orange"}
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for state in colors:
        for r in range(cfg["networks"]):
            pts = sorted((m, sim, pred) for s, r_, m, sim, pred in points if s == state and r_ == r)
            if not pts:
                continue
            m, sim, pred = map(np.array, zip(*pts))
            ax.plot(m, sim / math.log(10), "o", color=colors[state], ms=4,
                    label=f"{state}, 256-bit product" if r == 0 else None)
            ax.plot(m, pred / math.log(10), "--", color=colors[state], lw=1,
                    label=f"{state}, Eq. 10" if r == 0 else None)
    ax.axhline(5, color="grey", ls=":", lw=1)
    ax.set_xlabel("tangent space dimensions m")
    ax.set_ylabel(r"$\log_{10}\kappa_2$")
    ax.set_title(f"Fig. 2B: t - tau = {cfg['horizon_b']}, N = {cfg['N']}")
    ax.legend(fontsize=8)
    save(fig, "fig2b.png")


# ---- panel C -----------------------------------------------------------------------

def panel_c(cfg):
    T = cfg["T"]
    horizons = np.arange(100, T + 1, 100)
    ms = [m for m in cfg["ms_c"] if m <= cfg["N"]]
    print(f"\nFig. 2C: simulated vs Eq. 10, N = {cfg['N']}, k flossed in {cfg['ks_c']}, m in {ms}, "
          f"horizons {horizons.tolist()}, {cfg['networks']} networks x {cfg['trajectories_bc']} trajectories")
    print(f"{'k':>3} {'net':>4} {'m':>3} {'l1 - lm':>8} {'slope':>8} {'rel.err':>8} "
          f"{'log10 k sim@T':>14} {'log10 k Eq.10@T':>16}")
    rows, points = [], []
    for k_floss in cfg["ks_c"]:
        for r, net in enumerate(networks(cfg, k_floss)):
            lam = spectrum(net, cfg, cfg["seed"] + 10 * r + 1, max(ms), cfg["T_lyap"] // 10)
            for m in ms:
                rng = np.random.default_rng(cfg["seed"] + 10 * r + 4)
                lk, _, _ = log_kappa_runs(net, cfg, m, horizons, rng, cfg["trajectories_bc"], auto_prec=True)
                mean = lk.mean(axis=0)
                pred = eq10_log_kappa(lam, m, horizons)
                delta = lam[0] - lam[m - 1]
                slope = fit_slope(horizons, mean) if len(horizons) > 1 else math.nan
                print(f"{k_floss:>3} {r:>4} {m:>3} {delta:>8.4f} {slope:>8.4f} {slope / delta - 1:>+8.1%} "
                      f"{mean[-1] / math.log(10):>14.1f} {pred[-1] / math.log(10):>16.1f}")
                for h, sim, p in zip(horizons, mean, pred):
                    rows.append([k_floss, r, m, h, sim, p])
                    points.append((k_floss, m, sim, p))
    sim, pred = np.array([p[2] for p in points]), np.array([p[3] for p in points])
    ratio = (sim - pred) / math.log(10)
    print(f"  over {len(points)} points: log10 kappa_sim - log10 kappa_Eq10 median {np.median(ratio):+.2f}, "
          f"range {ratio.min():+.2f} .. {ratio.max():+.2f}; correlation of ln kappa {np.corrcoef(sim, pred)[0, 1]:.4f}")
    write_csv("fig2c.csv", ["k_flossed", "network", "m", "horizon", "ln_kappa", "eq10_ln_kappa"], rows)
    plot_c(points, cfg)


def plot_c(points, cfg):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ks = sorted(set(p[0] for p in points))
    cmap = plt.get_cmap("viridis", len(ks))
    markers = {m: mk for m, mk in zip(sorted(set(p[1] for p in points)), "os^Dv")}
    for i, k in enumerate(ks):
        for m, mk in markers.items():
            sel = [(s, p) for kk, mm, s, p in points if kk == k and mm == m]
            if sel:
                s, p = map(np.array, zip(*sel))
                ax.plot(p / math.log(10), s / math.log(10), mk, color=cmap(i), ms=4, alpha=0.8,
                        label=f"k = {k}" if m == min(markers) else None)
    lim = max(max(p[2], p[3]) for p in points) / math.log(10)
    ax.plot([0, lim], [0, lim], "k:", lw=1)
    ax.set_xlabel(r"$\log_{10}\kappa_2$ from Eq. 10")
    ax.set_ylabel(r"$\log_{10}\kappa_2$ from 256-bit products")
    ax.set_title(f"Fig. 2C: N = {cfg['N']}; markers m = {', '.join(map(str, markers))}")
    ax.legend(fontsize=7, title="flossed", title_fontsize=7)
    save(fig, "fig2c.png")


# ---- output ------------------------------------------------------------------------

def write_csv(name, header, rows):
    path = os.path.join(DEST, name)
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([header] + rows)
    print(f"  wrote {path}")


def save(fig, name):
    path = os.path.join(DEST, name)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"  wrote {path}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--panel", choices=("A", "B", "C", "all"), default="A")
    p.add_argument("--quick", action="store_true", help="fewer networks, trajectories and epochs")
    p.add_argument("--N", type=int, default=80)
    p.add_argument("--networks", type=int, help="networks per setting (default 3; quick 2)")
    p.add_argument("--trajectories", type=int,
                   help="products per network and setting (default 8 for panel A, 4 for B and C; quick 4, 2)")
    p.add_argument("--epochs", type=int, help="flossing epochs (default 500; quick 150)")
    p.add_argument("--max-trajectories", type=int,
                   help="panel A: most products per network for the slope (default 400; quick 48)")
    p.add_argument("--T-lyap", type=int, help="steps of the float64 spectrum for panel A (default 200000; "
                   "quick 20000; panels B and C use a tenth, with more exponents)")
    p.add_argument("--horizon-b", type=int, help="horizon of panel B (default 100; quick 50)")
    p.add_argument("--late-windows", action="store_true",
                   help="panel A: also fit the flossed networks' slopes over [500, 1000] and [1000, 2000]")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=OUT, help=f"directory for the tables, figures and printed output (default {OUT})")
    args = p.parse_args(argv)
    global DEST
    DEST = args.out
    os.makedirs(OUT, exist_ok=True)
    os.makedirs(DEST, exist_ok=True)
    with _common.Tee(os.path.join(DEST, "fig2.txt"), "validation/paper/fig2_condition_number.py", argv):
        return _main(args)


def _main(args):
    cfg = settings(args)
    start = time.perf_counter()
    ok = True
    with threadpool_limits(1):
        if args.panel in ("A", "all"):
            ok = panel_a(cfg)
        if args.panel in ("B", "all"):
            panel_b(cfg)
        if args.panel in ("C", "all"):
            panel_c(cfg)
    print(f"total {time.perf_counter() - start:.0f} s")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
