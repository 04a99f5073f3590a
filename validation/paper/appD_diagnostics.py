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
    python validation/paper/appD_diagnostics.py --paper

Writes into ``--out`` (default validation/out/appD_diagnostics/) appD_<scale>.txt (the printed
output, its first line the provenance), appD_<scale>.png, appD_<scale>.csv (per network and
diagnostic epoch: |dL/dh_0|, accuracy, sigma_i) and appD_<scale>_summary.csv (per network: the
medians the table prints and the test accuracy).  The committed evidence of REPRODUCTION.md is
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
from floss_ref.runs.run import TrainConfig  # noqa: E402

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


def main(argv=None):
    p = _common.parser(NAME, __doc__)
    p.add_argument("--seeds", type=int, default=None, help="number of seeds (network realizations)")
    args = p.parse_args(argv)
    s = SCALE[args.scale]
    seeds = args.seeds or s["seeds"]
    cfgs = [TrainConfig(protocol=pr, seed=seed, **s["base"]) for pr in PROTOCOLS for seed in range(seeds)]
    tasks = sweep_tasks(cfgs)
    out = _common.out_dir(args, NAME)
    with _common.Tee(os.path.join(out, f"appD_{args.scale}.txt"), f"validation/paper/{NAME}.py", argv):
        return _main(args, s, cfgs, tasks, out)


def _main(args, s, cfgs, tasks, out):
    start = time.perf_counter()
    res = _common.sweep(args, NAME, tasks, {})

    fig, axes = _common.figure(3)
    rows, medians, per_network = [], {}, []
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
        early = diag < 500
        ratio = np.median(sv[:, early, 0] / sv[:, early, s["sv"][2] - 1])
        medians[protocol] = (np.median(h0[:, 500:]), ratio,
                             np.median([float(r['summary/test_accuracy']) for r in runs]))
        print(f"{protocol:>9} {np.median(h0[:, :100]):>29.3g} {np.median(h0[:, 500:]):>13.3g} {ratio:>30.3g} "
              f"{np.median([float(r['summary/test_accuracy']) for r in runs]):>9.3f}")
        for seed, r in enumerate(runs):
            per_network.append([protocol, seed, float(np.median(h0[seed, :100])), float(np.median(h0[seed, 500:])),
                                float(np.median(sv[seed, early, 0] / sv[seed, early, s["sv"][2] - 1])),
                                float(r["summary/test_accuracy"])])
            for j, e in enumerate(diag):
                rows.append([protocol, seed, int(e), float(r["history/h0_grad_norm"][e]),
                             float(r["history/accuracy"][e]), *[float(sv[seed, j, i - 1]) for i in s["sv"]]])
    _common.write_csv(os.path.join(out, f"appD_{args.scale}.csv"),
                      ["protocol", "seed", "epoch", "h0_grad_norm", "accuracy",
                       *[f"sigma_{i}" for i in s["sv"]]], rows)
    _common.write_csv(os.path.join(out, f"appD_{args.scale}_summary.csv"),
                      ["protocol", "seed", "median_h0_grad_norm_first_100", "median_h0_grad_norm_after_500",
                       f"median_sigma_1_over_sigma_{s['sv'][2]}_before_500", "test_accuracy"], per_network)
    axes[0][0].set(xlabel="epoch", ylabel=r"$|dL/dh_0|$", yscale="log", title="Fig. 8A: median, 25-75 %")
    axes[0][1].set(xlabel="epoch", ylabel=f"accuracy (moving mean, {width})", ylim=(0.4, 1.02),
                   title="accuracy: mean, 25-75 %")
    axes[0][2].set(xlabel="epoch", ylabel=r"$\sigma_i(dL/dW)$ (median over runs)", yscale="log",
                   title="Fig. 10A")
    for ax in axes[0]:
        ax.legend(fontsize=7)
    fig.suptitle(f"binary temporal XOR d = {cfgs[0].delay}, N = {cfgs[0].N}; flossing at epochs "
                 f"{', '.join(map(str, cfgs[-1].flossing_epochs()))} (during)")
    _common.save(fig, os.path.join(out, f"appD_{args.scale}.png"))
    verdicts = _common.Verdicts()
    if {"none", "during"} <= set(medians):
        (h0_n, ratio_n, acc_n), (h0_d, ratio_d, acc_d) = medians["none"], medians["during"]
        verdicts.check("after flossing |dL/dh_0| is boosted (median after epoch 500, at least 10x)",
                       h0_d >= 10 * h0_n, f"{h0_d:.3g} vs {h0_n:.3g}")
        verdicts.check("flossing raises the subordinate singular values of dL/dW (sigma_1/sigma_j lower)",
                       ratio_d < ratio_n, f"{ratio_d:.3g} vs {ratio_n:.3g}")
        verdicts.check("with flossing the accuracy leaves chance", acc_d > acc_n, f"{acc_d:.3f} vs {acc_n:.3f}")
    print(f"time: {time.perf_counter() - start:.0f} s")
    return verdicts.exit_code()


if __name__ == "__main__":
    sys.exit(main())
