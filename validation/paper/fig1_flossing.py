"""Fig. 1B-D: gradient flossing controls Lyapunov exponents.

B: lambda_1 of random vanilla networks (N = 32, W_ij ~ N(0, g^2/N), g ~ U(0, 1), Gaussian
input) flossed towards a target in {-1, -0.5, 0} (loss (lambda_1 - target)^2, Adam, one
trajectory per epoch); lambda_1 measured afterwards on a fresh trajectory.  Each epoch's
gradient is clipped to norm 1 (--clip-norm; "none" is plain Adam): the gradient of a
finite-time exponent has rare spikes 100-1000 times its typical norm which, unclipped,
stall or reverse the approach to target -1 in 40-50 % of the networks
(validation/paper/fig1b_clipping.py measures this on held-out networks).  The fourth panel
shows the per-epoch gradient norms before clipping.
C: flossing loss sum_{i<=k} lambda_i^2 over epochs for k = 1, 16, 32.
D: the full spectrum (k = N) after flossing k exponents, next to the spectrum before.

Paper: the targets are reached within 100 epochs; flossing drives the k flossed
exponents to ~0 while the others stay spread.  (validation/paper/fig1b_targets.py is the
acceptance check of B alone; this script draws B-D from the same kind of networks.)

    python validation/paper/fig1_flossing.py --quick
    python validation/paper/fig1_flossing.py --paper
    python validation/paper/fig1_flossing.py --quick --clip-norm none     # panel B with plain Adam

Writes into ``--out`` (default validation/out/fig1_flossing/) fig1_<scale>.txt (the printed
output, its first line the provenance), fig1_<scale>.png, fig1b_<scale>.csv, fig1c_<scale>.csv
(loss per epoch and network) and fig1d_<scale>.csv (the spectrum of each network before and after
flossing k exponents); with --clip-norm other than 1, <scale> becomes e.g. quick_clipnone.  The
committed evidence of REPRODUCTION.md is made with ``--out validation/results/fig1_flossing
--results validation/out/fig1_flossing/results_quick_evidence`` (a new directory, so that no task
finished by older code is reused; the sweep's per-task files stay out of the repository).
"""

import os
import sys
import time

import numpy as np

FOLDER = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [FOLDER, os.path.dirname(FOLDER)]  # this folder's scripts, and validation/ (_common)
import _common  # noqa: E402

from floss_ref.runs.sweep import SweepTask  # noqa: E402

NAME = "fig1_flossing"
TARGETS = (-1.0, -0.5, 0.0)
KS = (1, 16, 32)
CLIP_B = 1.0
SCALE = {
    # B: the settings of fig1b_targets.py (lr 0.005, T 500, 100 epochs, clip 1); C/D: the flossing
    # settings of the training runs (T = 55, 16 transient, lr 1e-3)
    # panel B: the paper has 10 networks (--paper); the quick set floss 3 (fig1b_targets.py runs all 10)
    "quick": dict(N=32, seeds=2, seeds_b=3, b=dict(epochs=100, T=500, transient=100, lr=0.005),
                  cd=dict(epochs=500, T=55, transient=16, lr=1e-3), spectrum_T=1100),
    "paper": dict(N=32, seeds=10, seeds_b=10, b=dict(epochs=100, T=500, transient=100, lr=0.005),
                  cd=dict(epochs=2000, T=55, transient=16, lr=1e-3), spectrum_T=5500),
}


def make_tasks(scale, seeds, seeds_b, clip_norm=CLIP_B):
    s = SCALE[scale]
    # g ~ U(0, 1), one per network; network `seed` has the same gain at every count
    gains = np.random.default_rng(2023).uniform(0.0, 1.0, size=max(seeds, seeds_b))
    tasks = []
    for seed, g in enumerate(gains):
        common = dict(N=s["N"], g=float(g), seed=seed, inputs="gaussian", spectrum_T=s["spectrum_T"])
        if seed < seeds_b:
            for target in TARGETS:
                b = dict(common, k=1, target=target, spectrum_k=1, **s["b"])
                if clip_norm is not None:
                    b["clip_norm"] = clip_norm
                tasks.append(SweepTask(f"B_target{target:+.1f}_s{seed}", "floss", b))
        if seed >= seeds:
            continue
        for k in KS:
            tasks.append(SweepTask(f"CD_k{k}_s{seed}", "floss",
                                   dict(common, k=k, target=0.0, spectrum_k=s["N"], **s["cd"])))
    return tasks


def main(argv=None):
    p = _common.parser(NAME, __doc__)
    p.add_argument("--seeds", type=int, default=None, help="number of networks (default: 10 for panel B, "
                   "5 / 10 for C and D at quick / paper scale)")
    p.add_argument("--clip-norm", type=_common.clip_norm, default=CLIP_B,
                   help=f"clip each epoch's flossing gradient in panel B to this norm, or 'none' (default {CLIP_B})")
    args = p.parse_args(argv)
    s = SCALE[args.scale]
    seeds = args.seeds or s["seeds"]
    seeds_b = args.seeds or s["seeds_b"]
    tag = args.scale if args.clip_norm == CLIP_B else f"{args.scale}_clip{_common.clip_label(args.clip_norm)}"
    if args.results is None:
        args.results = os.path.join(_common.out_dir(args, NAME), f"results_{tag}")
    tasks = make_tasks(args.scale, seeds, seeds_b, args.clip_norm)
    out = _common.out_dir(args, NAME)
    with _common.Tee(os.path.join(out, f"fig1_{tag}.txt"), f"validation/paper/{NAME}.py", argv):
        return _main(args, tasks, out, s, seeds, seeds_b, tag)


def _main(args, tasks, out, s, seeds, seeds_b, tag):
    start = time.perf_counter()
    res = _common.sweep(args, NAME, tasks, {})

    fig, axes = _common.figure(4)
    # B
    ax = axes[0][0]
    rows = []
    verdicts = _common.Verdicts()
    print(f"{'target':>7} {'median |l1 - target|':>21} {'max':>7}  (lambda_1 on a fresh trajectory)")
    for target, color in zip(TARGETS, ("C0", "C1", "C2")):
        runs = [res[f"B_target{target:+.1f}_s{seed}"] for seed in range(seeds_b)]
        curves = np.array([r["exponents"][:, 0] for r in runs])
        _common.band(ax, np.arange(1, curves.shape[1] + 1), curves, color, f"target {target:g}")
        ax.axhline(target, color=color, ls="--", lw=0.8)
        after = np.array([float(r["spectrum_after"][0]) for r in runs])
        err = np.abs(after - target)
        print(f"{target:>7.2f} {np.median(err):>21.4f} {err.max():>7.4f}")
        verdicts.check(f"Fig. 1B: lambda_1 reaches the target {target:g} (median abs error <= 0.05)",
                       np.median(err) <= 0.05, f"{np.median(err):.4f}")
        rows += [[target, seed, float(runs[seed]["spectrum_before"][0]), after[seed], err[seed]]
                 for seed in range(seeds_b)]
    _common.write_csv(os.path.join(out, f"fig1b_{tag}.csv"),
                      ["target", "seed", "lambda1_before", "lambda1_after", "abs_error"], rows)
    ax.set(xlabel="flossing epoch", ylabel=r"$\lambda_1$ (per-epoch estimate)", title="B: median, 25-75 %")
    ax.legend(fontsize=8)
    axg = axes[0][3]
    for target, color in zip(TARGETS, ("C0", "C1", "C2")):
        norms = np.array([res[f"B_target{target:+.1f}_s{seed}"]["grad_norm"] for seed in range(seeds_b)])
        _common.band(axg, np.arange(1, norms.shape[1] + 1), norms, color, f"target {target:g}")
    if args.clip_norm is not None:
        axg.axhline(args.clip_norm, color="k", ls=":", lw=0.8, label="clip")
    axg.set(xlabel="flossing epoch", ylabel="gradient norm before clipping", yscale="log",
            title="B: flossing gradient norms")
    axg.legend(fontsize=7)
    # C and D
    rows_c, rows_d = [], []
    axc, axd = axes[0][1], axes[0][2]
    before = np.array([res[f"CD_k{KS[0]}_s{seed}"]["spectrum_before"] for seed in range(seeds)])
    i = np.arange(1, s["N"] + 1)
    _common.band(axd, i, before, "grey", "before", faint=False)
    print(f"{'k':>3} {'final loss median':>18} {'max |lambda_i|, i<=k':>21} {'median lambda_(k+1..N)':>23}")
    for k, color in zip(KS, ("C0", "C1", "C2")):
        runs = [res[f"CD_k{k}_s{seed}"] for seed in range(seeds)]
        loss = np.array([r["loss"] for r in runs])
        _common.band(axc, np.arange(1, loss.shape[1] + 1), loss, color, f"k = {k}")
        spectra = np.array([r["spectrum_after"] for r in runs])
        _common.band(axd, i, spectra, color, f"after flossing k = {k}")
        rest = spectra[:, k:]
        print(f"{k:>3} {np.median(loss[:, -1]):>18.3g} {np.max(np.abs(spectra[:, :k])):>21.3f} "
              f"{np.median(rest) if rest.size else float('nan'):>23.3f}")
        rows_c += [[k, e + 1, *loss[:, e]] for e in range(0, loss.shape[1], max(1, loss.shape[1] // 200))]
        verdicts.check(f"Fig. 1C: flossing k = {k} lowers the loss (median of the last vs the first 10 epochs)",
                       np.median(loss[:, -10:]) < np.median(loss[:, :10]),
                       f"{np.median(loss[:, -10:]):.3g} vs {np.median(loss[:, :10]):.3g}")
        rows_d += [[k, seed, *spectra[seed]] for seed in range(seeds)]
    rows_d += [[0, seed, *before[seed]] for seed in range(seeds)]
    _common.write_csv(os.path.join(out, f"fig1c_{tag}.csv"),
                      ["k", "epoch", *[f"seed{j}" for j in range(seeds)]], rows_c)
    _common.write_csv(os.path.join(out, f"fig1d_{tag}.csv"),
                      ["k (0 = before)", "seed", *[f"lambda{j}" for j in i]], rows_d)
    axc.set(xlabel="flossing epoch", ylabel=r"flossing loss $\sum_{i\leq k}\lambda_i^2$", yscale="log",
            title="C: median, 25-75 %")
    axc.legend(fontsize=8)
    axd.axhline(0.0, color="k", lw=0.6)
    axd.set(xlabel="index i", ylabel=r"$\lambda_i$", title=f"D: spectra (N = {s['N']})")
    axd.legend(fontsize=7)
    _common.save(fig, os.path.join(out, f"fig1_{tag}.png"))
    print(f"time: {time.perf_counter() - start:.0f} s")
    return verdicts.exit_code()


if __name__ == "__main__":
    sys.exit(main())
