"""App. D (Figs. 8, 10): gradient diagnostics over training, with and without flossing.

Binary temporal XOR; for each epoch |dL/dh_0| (Eq. 18) and, every few epochs, the
singular values sigma_i of dL/dW (i = 1 and two subordinate ones), next to the accuracy.
Protocols: no flossing, flossing during training (episodes at epochs 0, 100, ..., 400).

Paper (N = 80, T = 300, d = 70, E_f = 500 on k = 75): after flossing |dL/dh_0| is boosted
by orders of magnitude and the accuracy leaves chance when it becomes macroscopically
large (Fig. 8); at flossing epochs the subordinate singular values sigma_20, sigma_40 of
dL/dW peak while sigma_1 barely changes, i.e. flossing raises the effective rank of the
weight gradient (Fig. 10).

    python validation/paper/appD_diagnostics.py --quick
    python validation/paper/appD_diagnostics.py --paper --settings authors --out validation/results/appD_diagnostics

At the paper's size it also measures, per network, what the paper's words on Figs. 8 and
10 describe (the row "App. D (Figs. 8, 10) at paper scale" of CRITERIA.md): how many of
the five episodes are followed by a spike of abs(dL/dh_0) (its maximum over the 20 training
epochs from the episode's on is above 1e-2 and, after the first episode, at least 10 times
the median of the 20 epochs before the episode); the median abs(dL/dh_0) after epoch 500;
the peak of sigma_i at the episodes of epochs 100-400 (sigma_i at the episode's epoch over
the larger of sigma_i 20 epochs before and 20 epochs after, median over the four); and,
over the epochs below 1000 (Fig. 10's 10^3 epochs), the medians of sigma_1 and of
sigma_40/sigma_1.  The same numbers are taken at the same epochs of the networks without
flossing, as a control.

Writes into ``--out`` (default validation/out/appD_diagnostics/) appD_<stem>.txt (the printed
output, its first line the provenance), appD_<stem>.png, appD_<stem>.csv (per network and
diagnostic epoch: |dL/dh_0|, accuracy, sigma_i), appD_<stem>_summary.csv (per network: the
medians the table prints and the test accuracy) and appD_<stem>_episodes.csv (per network: the
numbers of the paper-scale criterion above); <stem> is the scale, with ``_authors`` appended
under ``--settings authors``.  At ``--paper --settings authors`` the sweep's results go to
``validation/results/appD_diagnostics/authors/`` (committed, so that the same command resumes
and the report reads them).  The committed evidence of REPRODUCTION.md is
made with ``--out validation/results/appD_diagnostics --results
validation/out/appD_diagnostics/results_quick_evidence`` (a new directory, so that no task
finished by older code is reused; the sweep's per-task files stay out of the repository).
"""

import os
import sys
import time

import numpy as np

FOLDER = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [FOLDER, os.path.dirname(FOLDER)]  # this folder's scripts, and validation/ (_common)
import _common  # noqa: E402

from floss_ref.runs.run import sweep_tasks  # noqa: E402
from floss_ref.runs.run import AUTHORS_SETTINGS, TrainConfig  # noqa: E402

NAME = "appD_diagnostics"
PROTOCOLS = ("none", "during")
SCALE = {
    "quick": dict(base=dict(task="binary_xor", delay=30, N=32, T=100, epochs=3000, k=32, floss_epochs=300,
                            diag_every=20),
                  seeds=2, sv=(1, 8, 16)),
    "paper": dict(base=dict(task="binary_xor", delay=70, N=80, T=300, epochs=10_000, k=75, floss_epochs=500,
                            diag_every=20),
                  seeds=10, sv=(1, 20, 40)),
}
SPIKE = 1e-2        # abs(dL/dh_0) above this after an episode is a spike ("surpassing values larger than 10^-2")
SPIKE_RISE = 10     # ... and at least this many times the median of the window before the episode
SPIKE_WINDOW = 20   # training epochs after (and before) an episode in which the spike is looked for
SMALL = 1e-6        # "diminishes to extremely small values (<10^-6)" (App. D)
LATE = 500          # the median abs(dL/dh_0) "after epoch 500" starts here
FIG10_EPOCHS = 1000  # Fig. 10's horizon ("epochs = 10^3"): the singular values are compared below it


def episode_spikes(h0, episodes):
    """Each episode's outcome in abs(dL/dh_0) (``h0``, one value per epoch): a list of
    (kind, peak, rise) for the episodes within ``h0``, peak the largest value in the
    SPIKE_WINDOW epochs from the episode on, rise peak over the median of the SPIKE_WINDOW
    epochs before it (inf for the episode at epoch 0); kind "spike" (peak > SPIKE and rise
    >= SPIKE_RISE), "low" (peak <= SPIKE) or "flat" (above SPIKE, rising less)."""
    out = []
    for e in episodes:
        if e >= h0.size:
            continue
        top = float(np.nanmax(h0[e:e + SPIKE_WINDOW]))
        before = h0[max(e - SPIKE_WINDOW, 0):e]
        rise = float(top / np.median(before)) if before.size else float("inf")
        out.append(("low" if not top > SPIKE else "spike" if rise >= SPIKE_RISE else "flat", top, rise))
    return out


def episode_measures(history, episodes, sv):
    """The numbers of the paper-scale criterion for one network (see the module docstring).

    ``history``: the run's arrays (``history/h0_grad_norm`` per epoch, ``history/diag_epochs``,
    ``history/grad_W_sv``); ``episodes``: the epochs of the flossing episodes (the same epochs
    are measured for a network without flossing); ``sv``: the 1-based indices i of sigma_i.
    Returns a dict of floats.
    """
    h0 = np.asarray(history["history/h0_grad_norm"], dtype=float)
    diag = [int(e) for e in history["history/diag_epochs"]]
    sigma = np.asarray(history["history/grad_W_sv"], dtype=float)
    at = {e: j for j, e in enumerate(diag)}
    nan = float("nan")

    out = {"spikes": float(sum(kind == "spike" for kind, _, _ in episode_spikes(h0, episodes))),
           "episodes": float(len(episodes)),
           "median_h0_after_500": float(np.median(h0[LATE:])) if h0.size > LATE else nan}
    later = [e for e in episodes if e > 0 and {e - SPIKE_WINDOW, e, e + SPIKE_WINDOW} <= set(at)]
    for i in sv:
        peaks = [sigma[at[e], i - 1] / max(sigma[at[e - SPIKE_WINDOW], i - 1], sigma[at[e + SPIKE_WINDOW], i - 1])
                 for e in later]
        out[f"peak_sigma_{i}"] = float(np.median(peaks)) if peaks else nan
    early = [j for j, e in enumerate(diag) if e < FIG10_EPOCHS]
    out["median_sigma_1_before_1000"] = float(np.median(sigma[early, 0])) if early else nan
    out[f"median_sigma_{sv[-1]}_over_sigma_1_before_1000"] = (
        float(np.median(sigma[early, sv[-1] - 1] / sigma[early, 0])) if early else nan)
    return out


def episode_table(networks, episodes, sv):
    """(header, rows) of appD_<stem>_episodes.csv: one row per network of ``networks``, an
    iterable of (protocol, seed, result arrays), with its :func:`episode_measures` and test
    accuracy (header None if there is no network)."""
    header, rows = None, []
    for protocol, seed, arrays in networks:
        m = episode_measures(arrays, episodes, sv)
        header = ["protocol", "seed", *m, "test_accuracy"]
        rows.append([protocol, seed, *m.values(), float(arrays["summary/test_accuracy"])])
    return header, rows


def paper_criterion(header, rows, sv):
    """The two parts of the criterion "App. D (Figs. 8, 10) at paper scale" (CRITERIA.md), from
    the rows of appD_<stem>_episodes.csv: a list of (claim, holds, numbers)."""
    col = {name: i for i, name in enumerate(header)}
    by = {}
    for row in rows:
        by.setdefault(row[0], []).append([float(v) for v in row[2:]])
    none, during = (np.array(by[p]) for p in ("none", "during"))

    def get(a, name):
        return a[:, col[name] - 2]

    j = sv[-1]
    subordinate = list(sv[1:])
    spiking = int(np.sum(get(during, "spikes") >= get(during, "episodes") - 1))
    small = int(np.sum(get(none, "median_h0_after_500") < SMALL))

    def most(n):   # "8 of 10": at least 80 % of the networks
        return int(np.ceil(0.8 * n))

    lowest = np.min([get(during, f"peak_sigma_{i}") for i in subordinate], axis=0)
    peak_1 = get(during, "peak_sigma_1")
    peaked = (lowest >= 2) & (peak_1 < 2)   # sigma_1: "only a slight peak", below the subordinate ones' bar
    ratio_n = float(np.median(get(none, f"median_sigma_{j}_over_sigma_1_before_1000")))
    ratio_d = float(np.median(get(during, f"median_sigma_{j}_over_sigma_1_before_1000")))
    s1_n = float(np.median(get(none, "median_sigma_1_before_1000")))
    s1_d = float(np.median(get(during, "median_sigma_1_before_1000")))
    fig8 = spiking >= most(len(during)) and small >= most(len(none))
    fig10 = (int(peaked.sum()) >= most(len(during)) and ratio_n <= ratio_d / 10
             and 0.1 <= s1_n / s1_d <= 10)
    return [
        ("Fig. 8: a spike (> 1e-2, 10x the level before) after at least 4 of 5 episodes in 8 of 10 flossed networks, and median "
         "abs(dL/dh_0) after epoch 500 < 1e-6 in 8 of 10 unflossed ones", fig8,
         f"{spiking} of {len(during)} flossed, {small} of {len(none)} unflossed"),
        (f"Fig. 10: sigma_{'/'.join(map(str, subordinate))} peak (x2) at the episodes, sigma_1 less (< x2), in 8 of "
         f"10 flossed networks; below epoch 1000 unflossed sigma_{j}/sigma_1 at most 1/10 of the flossed and sigma_1 "
         "within a factor 10", fig10,
         f"{int(peaked.sum())} of {len(during)} peaked (sigma_{'/'.join(map(str, subordinate))} at least x2 in "
         f"{int(np.sum(lowest >= 2))}, sigma_1 below x2 in {int(np.sum(peak_1 < 2))}); "
         f"sigma_{j}/sigma_1 unflossed {ratio_n:.2g} vs flossed {ratio_d:.2g}; "
         f"sigma_1 unflossed {s1_n:.2g} vs flossed {s1_d:.2g}"),
    ]


def _print_spikes(runs, floss_at):
    """Per episode, over the flossed networks: how many spike, how many peak at or below
    SPIKE (with the range of their peaks) and how many pass it but rise less than
    SPIKE_RISE-fold (with the range of their rises)."""
    if not runs:
        return
    outcomes = [episode_spikes(np.asarray(r["history/h0_grad_norm"], dtype=float), floss_at) for r in runs]
    print(f"episodes of the {len(runs)} flossed networks: spike (> {SPIKE:g}, >= {SPIKE_RISE}x the {SPIKE_WINDOW} "
          "epochs before) / low (peak <= that) / flat (above it, rising less)")
    for j, e in enumerate(floss_at[:min(len(o) for o in outcomes)]):
        got = [o[j] for o in outcomes]
        low = [peak for kind, peak, _ in got if kind == "low"]
        flat = [rise for kind, _, rise in got if kind == "flat"]
        print(f"  epoch {e:>5}: {sum(k == 'spike' for k, _, _ in got)} spike, {len(low)} low"
              + (f" (peaks {min(low):.1e}-{max(low):.1e})" if low else "")
              + f", {len(flat)} flat" + (f" (rises {min(flat):.1f}-{max(flat):.1f}x)" if flat else ""))


def _late_network(ax, res, cfgs, tasks, sv, width):
    """Fig. 11: the flossed network whose accuracy (moving mean) leaves chance last (> 0.6
    for the first time latest, or never): sigma_i of dL/dW and abs(dL/dh_0), with its
    accuracy on the right axis."""
    flossed = [(c, res[t.name]) for c, t in zip(cfgs, tasks) if c.protocol == "during"]

    def leaves(r):
        above = np.flatnonzero(_common.smooth(r["history/accuracy"], width) > 0.6)
        return above[0] if above.size else np.inf

    config, r = max(flossed, key=lambda cr: leaves(cr[1]))
    diag = r["history/diag_epochs"]
    for i, ls in zip(sv, ("-", "--", ":")):
        ax.plot(diag, r["history/grad_W_sv"][:, i - 1], color="k", ls=ls, lw=1.2, label=f"$\\sigma_{{{i}}}$")
    ax.plot(np.arange(1, len(r["history/h0_grad_norm"]) + 1), r["history/h0_grad_norm"], color="tab:purple",
            lw=0.6, alpha=0.6, label=r"$|dL/dh_0|$")
    ax.set(xlabel="epoch", yscale="log", title=f"Fig. 11: flossed, last to leave chance (seed {config.seed})")
    ax.legend(fontsize=7, loc="lower left")
    twin = ax.twinx()
    twin.plot(np.arange(1, len(r["history/accuracy"]) + 1), _common.smooth(r["history/accuracy"], width),
              color=_common.COLORS["during"], lw=1.2)
    twin.set(ylabel="accuracy (green, moving mean)", ylim=(0.4, 1.02))


def main(argv=None):
    p = _common.parser(NAME, __doc__)
    p.add_argument("--seeds", type=int, default=None, help="number of seeds (network realizations)")
    p.add_argument("--settings", choices=("ours", "authors"), default="ours",
                   help="'ours' (TrainConfig defaults) or 'authors': where the paper is silent, the authors' "
                        "code's input scaling, readout init, per-array clipping and one h0 per batch slot "
                        "(floss_ref.runs.run.AUTHORS_SETTINGS)")
    args = p.parse_args(argv)
    if args.seeds is not None and args.seeds < 1:
        p.error(f"--seeds must be at least 1, got {args.seeds}")
    s = SCALE[args.scale]
    seeds = args.seeds or s["seeds"]
    fields = dict(AUTHORS_SETTINGS) if args.settings == "authors" else {}
    cfgs = [TrainConfig(protocol=pr, seed=seed, **s["base"], **fields) for pr in PROTOCOLS for seed in range(seeds)]
    tasks = sweep_tasks(cfgs)
    out = _common.out_dir(args, NAME)
    stem = args.scale + ("" if args.settings == "ours" else f"_{args.settings}")
    with _common.Tee(os.path.join(out, f"appD_{stem}.txt"), f"validation/paper/{NAME}.py", argv):
        return _main(args, s, cfgs, tasks, out, stem)


def _main(args, s, cfgs, tasks, out, stem):
    start = time.perf_counter()
    label = None if args.settings == "ours" else args.settings
    res = _common.sweep(args, NAME, tasks, {"settings": label} if label else {}, label=label)

    fig, axes = _common.figure(3, 2)
    horizon = min(FIG10_EPOCHS, cfgs[0].epochs)   # the second row: the first 10^3 epochs, as Figs. 8A and 10A
    rows, medians, per_network, networks = [], {}, [], []
    width = max(1, cfgs[0].epochs // 100)
    print(f"{'protocol':>9} {'median |dL/dh0| first 100 ep':>29} {'after ep 500':>13} "
          f"{'median sigma_1/sigma_' + str(s['sv'][2]) + ' (ep < 500)':>30} {'test acc':>9}")
    for protocol in PROTOCOLS:
        runs = [res[t.name] for c, t in zip(cfgs, tasks) if c.protocol == protocol]
        color = _common.COLORS[protocol]
        h0 = np.array([r["history/h0_grad_norm"] for r in runs])
        acc = np.array([_common.smooth(r["history/accuracy"], width) for r in runs])
        x = np.arange(1, h0.shape[1] + 1)
        _common.band(axes[0][0], x, h0, color, protocol)
        _common.band(axes[0][1], x, acc, color, protocol, center="mean")
        diag = runs[0]["history/diag_epochs"]
        sv = np.array([r["history/grad_W_sv"] for r in runs])  # (n_runs, D, N)
        for i, ls in zip(s["sv"], ("-", "--", ":")):
            mid = np.median(sv[:, :, i - 1], axis=0)
            axes[0][2].plot(diag, mid, color=color, ls=ls, lw=1.4, label=f"{protocol}: $\\sigma_{{{i}}}$")
            first = diag < horizon
            axes[1][1].plot(diag[first], mid[first], color=color, ls=ls, lw=1.4, label=f"{protocol}: $\\sigma_{{{i}}}$")
        for n, curve in enumerate(h0[:, :horizon]):   # Fig. 8A: one network solid, the others faint
            axes[1][0].plot(x[:horizon], curve, color=color, lw=1.2 if n == 0 else 0.6, alpha=1 if n == 0 else 0.3,
                            label=f"{protocol} (seed 0 solid)" if n == 0 else None)
        early = diag < 500
        ratio = np.median(sv[:, early, 0] / sv[:, early, s["sv"][2] - 1])
        medians[protocol] = (np.median(h0[:, 500:]), ratio,
                             np.median([float(r['summary/test_accuracy']) for r in runs]))
        print(f"{protocol:>9} {np.median(h0[:, :100]):>29.3g} {np.median(h0[:, 500:]):>13.3g} {ratio:>30.3g} "
              f"{np.median([float(r['summary/test_accuracy']) for r in runs]):>9.3f}")
        for seed, r in enumerate(runs):
            networks.append((protocol, seed, r))
            per_network.append([protocol, seed, float(np.median(h0[seed, :100])), float(np.median(h0[seed, 500:])),
                                float(np.median(sv[seed, early, 0] / sv[seed, early, s["sv"][2] - 1])),
                                float(r["summary/test_accuracy"])])
            for j, e in enumerate(diag):
                rows.append([protocol, seed, int(e), float(r["history/h0_grad_norm"][e]),
                             float(r["history/accuracy"][e]), *[float(sv[seed, j, i - 1]) for i in s["sv"]]])
    # the "during" schedule, measured in both protocols
    floss_at = cfgs[-1].flossing_epochs()
    episode_header, episodes = episode_table(networks, floss_at, s["sv"])
    _print_spikes([r for protocol, _, r in networks if protocol == "during"], floss_at)
    _common.write_csv(os.path.join(out, f"appD_{stem}_episodes.csv"), episode_header, episodes)
    _common.write_csv(os.path.join(out, f"appD_{stem}.csv"),
                      ["protocol", "seed", "epoch", "h0_grad_norm", "accuracy",
                       *[f"sigma_{i}" for i in s["sv"]]], rows)
    _common.write_csv(os.path.join(out, f"appD_{stem}_summary.csv"),
                      ["protocol", "seed", "median_h0_grad_norm_first_100", "median_h0_grad_norm_after_500",
                       f"median_sigma_1_over_sigma_{s['sv'][2]}_before_500", "test_accuracy"], per_network)
    _late_network(axes[1][2], res, cfgs, tasks, s["sv"], width)
    axes[1][0].set(xlabel="epoch", ylabel=r"$|dL/dh_0|$", yscale="log", title="Fig. 8A: each network, first epochs")
    axes[1][1].set(xlabel="epoch", ylabel=r"$\sigma_i(dL/dW)$ (median over runs)", yscale="log",
                   title="Fig. 10A: first epochs")
    axes[0][0].set(xlabel="epoch", ylabel=r"$|dL/dh_0|$", yscale="log", title="Fig. 8A: median, 25-75 %")
    axes[0][1].set(xlabel="epoch", ylabel=f"accuracy (moving mean, {width} epochs)", ylim=(0.4, 1.02),
                   title="accuracy: mean, 25-75 %")
    axes[0][2].set(xlabel="epoch", ylabel=r"$\sigma_i(dL/dW)$ (median over runs)", yscale="log",
                   title="Fig. 10A")
    for ax in [*axes[0], axes[1][0], axes[1][1]]:
        ax.legend(fontsize=7)
    fig.suptitle(f"binary temporal XOR d = {cfgs[0].delay}, N = {cfgs[0].N}; flossing at epochs "
                 f"{', '.join(map(str, cfgs[-1].flossing_epochs()))} (during)")
    _common.save(fig, os.path.join(out, f"appD_{stem}.png"))
    verdicts = _common.Verdicts()
    if {"none", "during"} <= set(medians):
        (h0_n, ratio_n, acc_n), (h0_d, ratio_d, acc_d) = medians["none"], medians["during"]
        verdicts.check("after flossing |dL/dh_0| is boosted (median after epoch 500, at least 10x)",
                       h0_d >= 10 * h0_n, f"{h0_d:.3g} vs {h0_n:.3g}")
        verdicts.check("flossing raises the subordinate singular values of dL/dW (sigma_1/sigma_j lower)",
                       ratio_d < ratio_n, f"{ratio_d:.3g} vs {ratio_n:.3g}")
        verdicts.check("with flossing the accuracy leaves chance", acc_d > acc_n, f"{acc_d:.3f} vs {acc_n:.3f}")
    if args.scale == "paper" and {"none", "during"} <= {row[0] for row in episodes}:
        for claim, ok, detail in paper_criterion(episode_header, episodes, s["sv"]):
            verdicts.check(claim, ok, detail)
    print(f"time: {time.perf_counter() - start:.0f} s")
    return verdicts.exit_code()


if __name__ == "__main__":
    sys.exit(main())
