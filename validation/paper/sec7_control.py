"""Sec. 7 control: regularising the spectral radius of W, or the norms of the one-step
Jacobians D_s, in place of flossing, at the Fig. 4 point.

Paper (Sec. 7): "merely regularizing the spectral radius of the recurrent weight matrix W
or the individual one-step Jacobians D_s numerically or based on mean-field theory does not
yield such a training improvement."  The paper gives no formula; ours are in
``floss_ref/experiments/controls.py`` (``(rho(W) - 1)^2`` and the mean of ``(log sigma_1(D_s))^2``).

Four arms on binary temporal XOR with the schedule of "flossing during training" (episodes
of E_f epochs before epochs 0, 100, ..., 400): no episodes (none), flossing (during), and
the same episodes minimising each control objective instead (same E_f, trajectory length
T_f, transient and Adam learning rate).  The claim holds if both controls end well below
flossing (median test accuracy).

    python validation/paper/sec7_control.py --quick       # N = 32, d = 30, 2 seeds (as fig4 --quick)
    python validation/paper/sec7_control.py --paper --settings authors   # d = 70, 3 seeds, lags (d/2, d)

Writes validation/out/sec7_control/{sec7_<scale>.png, sec7_<scale>.csv}.

What one episode does to the network (``--effect``): no training.  For each seed, the
initial network of the "during" arm (``Run(config)``, bit for bit the committed runs'
network) is copied three times and each copy gets the first episode only (the one before
training epoch 0) of one kind: flossing (``Run._floss_episode``), ``spectral_radius`` and
``jacobian_norm`` (``ControlRun._floss_episode``).  Measured for each: rho(W) (largest
|eigenvalue| of the recurrent W) before and after; ||W_after - W_before||_F / ||W_before||_F;
lambda_1 before and after (``lyapunov_spectrum``, k = 1, on the same fresh inputs and
initial states before and after, drawn as a flossing episode draws them:
4 trajectories of 1000 steps after 100 steps of transient, averaged); and the
episode's objective at its first and last epoch (``history["floss_loss"][0][[0, -1]]``).

A weight on the spectral-radius objective, w (rho - 1)^2, should not matter: Adam's step
lr m_hat / (sqrt(v_hat) + eps) is unchanged when every gradient is multiplied by w > 0
(m_hat and sqrt(v_hat) both scale by w), except in the entries of W whose sqrt(v_hat) is
not large against eps = 1e-8 (gradients of ~1e-8 and below).  This is measured, not assumed: the
episode is run again, by a local copy of ``regularize``'s Adam loop with loss and
gradient multiplied by w = 100 and w = 1e4 (the loop with w = 1 is checked to reproduce
``regularize`` bit for bit, else the script stops), and the table gives for each w the
largest |rho_w - rho_1| over the episode's epochs and the final rho.  For those rows
loss_first / loss_last are the weighted objective w (rho - 1)^2.

    python validation/paper/sec7_control.py --paper --settings authors --effect --out validation/results/sec7_control

writes <out>/sec7_effect_<scale>.{csv,txt} (the .txt is the printed output) and exits
with 0: it reports a measurement, not a claim.
"""

import os
import sys

import numpy as np

FOLDER = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [FOLDER, os.path.dirname(FOLDER)]  # this folder's scripts, and validation/ (_common)
import _common  # noqa: E402
import fig4_xor_protocols as fig4  # noqa: E402

from threadpoolctl import threadpool_limits  # noqa: E402

from floss_ref.core.lyapunov import lyapunov_spectrum  # noqa: E402
from floss_ref.experiments.controls import OBJECTIVES, spectral_radius_loss_grad  # noqa: E402
from floss_ref.experiments.optim import Adam  # noqa: E402
from floss_ref.experiments.tasks import draw_inputs  # noqa: E402
from floss_ref.runs.io import FileFormatError  # noqa: E402
from floss_ref.runs.sweep import SweepTask, load_result, result_path  # noqa: E402
from floss_ref.runs.run import ControlRun, Run, TrainConfig, sweep_tasks  # noqa: E402

NAME = "sec7_control"
ARMS = ("none", "during") + OBJECTIVES
SCALE = {"quick": dict(delay=30, seeds=2), "paper": dict(delay=70, seeds=3)}

# --effect: the episode kinds (flossing is the "during" arm's episode), the weights tried on
# (rho - 1)^2 beside the runs' own weight 1, and the trajectories on which lambda_1 is measured
EFFECT_KINDS = ("flossing",) + OBJECTIVES
EXTRA_WEIGHTS = (100.0, 1e4)
PROBE_TRAJECTORIES, PROBE_TRANSIENT, PROBE_STEPS = 4, 100, 1000
PROBE_STREAM = 5  # random stream [seed, 5] of the probe; a run's own streams are [seed, 0..4]


def tasks_for(args, fields):
    """(arm, TrainConfig, SweepTask) for every arm and seed."""
    base = fig4.SCALE[args.scale]["base"]
    d = args.delay or SCALE[args.scale]["delay"]
    out = []
    for arm in ARMS:
        for seed in range(args.seeds or SCALE[args.scale]["seeds"]):
            config = TrainConfig(task="binary_xor", delay=d, protocol="none" if arm == "none" else "during",
                                 seed=seed, **base, **fields)
            task = sweep_tasks([config], curve_every=fig4.curve_every(args.scale))[0]
            if arm in OBJECTIVES:
                task = SweepTask(task.name.replace("_during_", f"_{arm}_"), "control",
                                 {**task.params, "objective": arm})
            out.append((arm, config, task))
    return out


def main(argv=None):
    p = _common.parser(NAME, __doc__)
    p.add_argument("--delay", type=int, default=None, help="override the delay of the scale")
    p.add_argument("--seeds", type=int, default=None)
    p.add_argument("--settings", choices=("ours", "authors", "input-scale"), default="ours",
                   help="as in fig4_xor_protocols.py")
    p.add_argument("--xor-lags", choices=("half", "double"), default="half", help="as in fig4_xor_protocols.py")
    p.add_argument("--effect", action="store_true",
                   help="train nothing: measure what the first episode of each kind does to the initial network "
                        "(rho(W), ||dW||, lambda_1, objective; see the module docstring)")
    args = p.parse_args(argv)
    args.init = "gaussian"
    fields, label = fig4.setting_fields(args)
    if args.effect:
        out = _common.out_dir(args, NAME)
        with _common.Tee(os.path.join(out, f"sec7_effect_{args.scale}.txt"), "python validation/paper/sec7_control.py",
                         argv):
            effect(args, fields, label, out)
        return 0
    runs = tasks_for(args, fields)
    settings = {"settings": args.settings, "xor_lags": args.xor_lags}
    # the none and during arms are fig4's runs of the same configuration: trained once for both
    results = fig4.shared_sweep(args, NAME, [c for _, c, _ in runs], [t for _, _, t in runs], settings,
                                label=label if args.scale == "paper" else None)
    out = _common.out_dir(args, NAME)
    by = {}
    rows = []
    for arm, config, task in runs:
        r = results[task.name]
        acc = float(r["summary/test_accuracy"])
        by.setdefault(arm, []).append((acc, r))
        rows.append([arm, config.delay, config.seed, acc, float(r["summary/test_loss"]), float(r["meta/seconds"])])
    _common.write_csv(os.path.join(out, f"sec7_{args.scale}.csv"),
                      ["arm", "delay", "seed", "test_accuracy", "test_loss", "seconds"], rows)
    d = runs[0][1].delay
    print(f"binary XOR, d = {d}, N = {runs[0][1].N}, {runs[0][1].epochs} epochs, settings {label}: "
          "median test accuracy [min, max]")
    med = {}
    for arm in ARMS:
        accs = [a for a, _ in by[arm]]
        med[arm] = float(np.median(accs))
        print(f"  {arm:16s} {med[arm]:.3f} [{min(accs):.3f}, {max(accs):.3f}]  n = {len(accs)}")
    plot(by, runs[0][1], os.path.join(out, f"sec7_{args.scale}.png"))
    v = _common.Verdicts()
    for arm in OBJECTIVES:
        v.check(f"regularising {arm} in place of flossing gives no such improvement (median accuracy at least "
                f"0.1 below flossing)", med[arm] < med["during"] - 0.1,
                f"{med[arm]:.3f} vs {med['during']:.3f} (none {med['none']:.3f})")
    return v.exit_code()


def plot(by, config, path):
    fig, axes = _common.figure(1, 1)
    ax = axes[0][0]
    width = max(1, config.epochs // 100)
    colors = dict(_common.COLORS, spectral_radius="tab:purple", jacobian_norm="tab:brown")
    for arm in ARMS:
        drawn = [_common.training_curve(r, "accuracy", width) for _, r in by[arm]]
        x = drawn[0][0]
        _common.band(ax, x, np.array([y for _, y in drawn]), colors.get(arm, "k"), arm, center="mean")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.set_title(f"Sec. 7 control: binary XOR, d = {config.delay}, N = {config.N}", fontsize=9)
    ax.legend(fontsize=7)
    _common.save(fig, path, dpi=120)


# ---- --effect: what one episode does to the network ----------------------------------------

def spectral_radius(W):
    """rho(W) = max |eigenvalue| of W : (N, N)."""
    return float(np.max(np.abs(np.linalg.eigvals(W))))


def weighted_spectral_radius_episode(cell, *, epochs, lr, weight):
    """The Adam loop of ``regularize(objective="spectral_radius")``, with the loss and its
    gradient multiplied by ``weight``: ``epochs`` steps of a fresh Adam(lr) on ``cell.params``
    (updated in place), every parameter but W with a zero gradient.

    returns losses : (epochs,) weight (rho - 1)^2 before each update, rhos : (epochs + 1,)
    rho(W) before each update and after the last
    """
    opt = Adam(cell.params, lr=lr)
    losses, rhos = np.empty(epochs), np.empty(epochs + 1)
    for e in range(epochs):
        rhos[e] = spectral_radius(cell.params["W"])
        loss, W_bar = spectral_radius_loss_grad(cell.params["W"])
        grads = {name: np.zeros_like(p) for name, p in cell.params.items()}
        grads["W"] = weight * W_bar
        opt.step(grads)
        losses[e] = weight * loss
    rhos[epochs] = spectral_radius(cell.params["W"])
    return losses, rhos


def lambda1_probe(run):
    """Inputs and initial states on which lambda_1 is measured, drawn as a flossing episode
    draws them (its input distribution and scale, h0 ~ N(0, 1)) from the run's seed.

    returns h0 : (B, n), xs : (T, B, n_in) or None, seed of Q0
    """
    c, cell = run.config, run.model.cell
    rng = np.random.default_rng([c.seed, PROBE_STREAM])
    T, B = PROBE_TRANSIENT + PROBE_STEPS, PROBE_TRAJECTORIES
    xs = draw_inputs(c.floss_inputs, T, (B,), cell.n_in, rng)
    if xs is not None:
        xs = xs * run.task.input_scale
    h0 = rng.standard_normal((B, cell.state_size))
    return h0, xs, int(rng.integers(2 ** 31))


def lambda1(cell, probe):
    """lambda_1 of ``cell`` on the probe's trajectories, averaged over them."""
    h0, xs, q_seed = probe
    res = lyapunov_spectrum(cell, h0, xs, k=1, T=PROBE_TRANSIENT + PROBE_STEPS, transient=PROBE_TRANSIENT,
                            seed=q_seed, stderr=False)
    return float(np.mean(res.exponents[:, 0]))


def committed_first_episode(args, label, task_name):
    """``history/floss_loss[0]`` of the task's result in this script's or fig4's results
    directory (where the sweep reads it from), or None if there is none."""
    folders = [_common.results_dir(args, NAME, label if args.scale == "paper" else None),
               _common.results_dir(args, fig4.NAME, fig4.sweep_settings(args)[1])]
    for folder in folders:
        if os.path.exists(result_path(folder, task_name)):
            try:
                return load_result(folder, task_name)["history/floss_loss"][0]
            except (FileFormatError, KeyError):
                return None
    return None


def effect_of_episodes(config):
    """The first episode of each kind (and the weighted spectral-radius episodes), each from
    a fresh copy of ``config``'s initial network.

    returns rows : list of dict (kind, weight, rho_before, rho_after, dW_rel, lambda1_before,
    lambda1_after, loss_first, loss_last, max_rho_diff: max |rho_w - rho_1| over the episode),
    floss_loss : dict kind -> (E_f,) the episode's objective at each epoch (weight 1)
    """
    reference = Run(config)
    W_before = reference.model.cell.params["W"].copy()
    probe = lambda1_probe(reference)
    rho_before, lambda1_before = spectral_radius(W_before), lambda1(reference.model.cell, probe)

    def measured(kind, weight, cell, losses, max_rho_diff=np.nan):
        W = cell.params["W"]
        return dict(kind=kind, weight=weight, rho_before=rho_before, rho_after=spectral_radius(W),
                    dW_rel=float(np.linalg.norm(W - W_before) / np.linalg.norm(W_before)),
                    lambda1_before=lambda1_before, lambda1_after=lambda1(cell, probe),
                    loss_first=float(losses[0]), loss_last=float(losses[-1]), max_rho_diff=max_rho_diff)

    rows, floss_loss = [], {}
    for kind in EFFECT_KINDS:
        run = Run(config) if kind == "flossing" else ControlRun(config, kind)
        if not np.array_equal(run.model.cell.params["W"], W_before):
            raise RuntimeError(f"seed {config.seed}: the {kind} run's initial W differs from Run(config)'s")
        run._floss_episode(0)
        floss_loss[kind] = run.history["floss_loss"][0].copy()
        rows.append(measured(kind, 1.0, run.model.cell, floss_loss[kind],
                             0.0 if kind == "spectral_radius" else np.nan))
        if kind == "spectral_radius":
            regularized_W = run.model.cell.params["W"]
    rhos = {}
    for weight in (1.0,) + EXTRA_WEIGHTS:
        cell = ControlRun(config, "spectral_radius").model.cell
        losses, rhos[weight] = weighted_spectral_radius_episode(cell, epochs=config.floss_epochs,
                                                                lr=config.floss_lr, weight=weight)
        if weight == 1.0:
            if not (np.array_equal(losses, floss_loss["spectral_radius"])
                    and np.array_equal(cell.params["W"], regularized_W)):
                raise RuntimeError(f"seed {config.seed}: the local Adam loop with weight 1 does not reproduce "
                                   "regularize(objective='spectral_radius') bit for bit; its weighted runs "
                                   "would not measure the weight alone")
            continue
        rows.append(measured("spectral_radius", weight, cell, losses,
                             float(np.max(np.abs(rhos[weight] - rhos[1.0])))))
    return rows, floss_loss


def effect(args, fields, label, out):
    """--effect: :func:`effect_of_episodes` for every seed; prints a table and writes the CSV."""
    runs = tasks_for(args, fields)
    seeds = sorted({config.seed for _, config, _ in runs})
    task_names = {(arm, config.seed): task.name for arm, config, task in runs}
    configs = {config.seed: config for arm, config, _ in runs if arm == "during"}
    c = configs[seeds[0]]
    print(f"Sec. 7 control, the first episode only (before training epoch 0): binary XOR, d = {c.delay}, "
          f"N = {c.N}, g = {c.g:g}, settings {label}; E_f = {c.floss_epochs} epochs of T_f = {c.floss_T} "
          f"(transient {c.floss_transient}), Adam lr = {c.floss_lr:g}, flossing k = {c.k}; lambda_1 on "
          f"{PROBE_TRAJECTORIES} trajectories of {PROBE_STEPS} steps after {PROBE_TRANSIENT} "
          f"({c.floss_inputs} inputs), the same before and after")
    header = ["seed", "kind", "weight", "rho_before", "rho_after", "dW_rel", "lambda1_before", "lambda1_after",
              "loss_first", "loss_last", "max_rho_diff_vs_w1"]
    print(f"{'seed':>4s} {'kind':16s} {'weight':>6s} {'rho before':>11s} {'rho after':>11s} {'|dW|/|W|':>9s} "
          f"{'lambda1 before':>14s} {'lambda1 after':>13s} {'loss first':>10s} {'loss last':>10s} "
          f"{'max|rho_w - rho_1|':>18s}")
    csv_rows, agreement = [], []
    with threadpool_limits(1):
        for seed in seeds:
            rows, floss_loss = effect_of_episodes(configs[seed])
            for r in rows:
                print(f"{seed:4d} {r['kind']:16s} {r['weight']:6g} {r['rho_before']:11.8f} {r['rho_after']:11.8f} "
                      f"{r['dW_rel']:9.2e} {r['lambda1_before']:14.4f} {r['lambda1_after']:13.4f} "
                      f"{r['loss_first']:10.3e} {r['loss_last']:10.3e} {r['max_rho_diff']:18.3e}")
                csv_rows.append([seed] + [r[name] for name in ("kind", "weight", "rho_before", "rho_after", "dW_rel",
                                                               "lambda1_before", "lambda1_after", "loss_first",
                                                               "loss_last", "max_rho_diff")])
            for kind, arm in zip(EFFECT_KINDS, ("during",) + OBJECTIVES):
                stored = committed_first_episode(args, label, task_names[(arm, seed)])
                agreement.append(f"{kind} s{seed}: " + ("no result" if stored is None else
                                                        "equal" if np.array_equal(stored, floss_loss[kind]) else
                                                        "DIFFERENT"))
    print("weight 1 of the local loop reproduced regularize bit for bit (checked for every seed)")
    print("objective over the episode vs history/floss_loss[0] of the sweep's result: " + "; ".join(agreement))
    _common.write_csv(os.path.join(out, f"sec7_effect_{args.scale}.csv"), header, csv_rows)
    print("verdict: none (this option reports a measurement, not a claim)")


if __name__ == "__main__":
    sys.exit(main())
