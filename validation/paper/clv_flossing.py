"""Covariant Lyapunov vectors and gradient flossing (the geometry flossing neglects, App. D).

A. Does flossing make the flossed subspace better conditioned?  A random network (N = 32,
   g = 1.5, seed 1, Gaussian input x ~ N(0, 1)) before and after flossing its first k = 8
   exponents towards 0 (Adam lr 0.005, each epoch's gradient clipped to norm 1 as for
   Fig. 1B, epochs of T = 100 steps, 20 transient; with the CLI's lr 0.01 unclipped this
   network's flossing loss grows from 0.69 to about 9 in 200 epochs).  On a fresh trajectory: the first k covariant vectors at 101 times (2000
   steps, 500 forward and 500 backward transient), the smallest angle between two of them
   and the condition number of the N x k matrix of vectors, before and after.
B. The angle between dL/dh and the leading covariant vector for trained networks
   (Fig. 8-style: binary temporal XOR, d = 30, N = 32, the demo's configuration, protocols
   none and during).  h_0 has no past along which the forward Gram-Schmidt vectors could
   align, so the angle is taken at step t_0 = 100 of a longer input sequence: dL/dh_(t0)
   is the gradient of the task loss of the T = 100 steps after t_0 (by BPTT), and the
   covariant vectors at t_0 come from the whole sequence (100 forward, 100 backward
   transient steps).  For scale: the angle of a random direction with v_1 is near 90 deg.

Prints the figures; writes into ``--out`` (default validation/out/clv_flossing/):
clv_flossing_<scale>.txt (the printed output, its first line the provenance),
clv_flossing_<scale>.csv (part B, per protocol and sequence: the angle of dL/dh_(t0) and of a
random direction with v_1, and the network's test accuracy), clv_flossing_<scale>_geometry.csv
(part A, per time: smallest pairwise angle and condition number, before and after) and
clv_flossing_<scale>.png.  The committed evidence of REPRODUCTION.md is made with
``--out validation/results/clv_flossing`` (as fig6_lstm_relu.py's ``--out-dir``).  No
pass/fail target: this is an observation, not a claim of the paper (App. D's claim is about
the overlap over training epochs; this script measures it once, after training).

    python validation/paper/clv_flossing.py [--quick | --paper]

``--quick`` (default): 200 flossing epochs, 3000 training epochs; ``--paper``: 1000 and
6000 (the demo's).
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

from floss_ref import VanillaRNN, covariant_vectors, floss  # noqa: E402
from floss_ref.experiments.bptt import Model, loss_and_grad  # noqa: E402
from floss_ref.cli.train import DEMO  # noqa: E402
from floss_ref.experiments.tasks import TaskBatch  # noqa: E402
from floss_ref.runs.run import Run, TrainConfig  # noqa: E402

SCALE = {"quick": dict(floss_epochs=200, train_epochs=3000), "paper": dict(floss_epochs=1000, train_epochs=6000)}
K_FLOSS, T0, T_TAIL = 8, 100, 100


def geometry(net, rng):
    """Smallest pairwise angle (deg) and condition number of the first K_FLOSS CLVs at 101 times."""
    xs = rng.standard_normal((2000, 1))
    res = covariant_vectors(net, rng.standard_normal(net.state_size), xs, k=K_FLOSS,
                            times=range(500, 1501, 10), transient=500, seed=rng)
    V = res.vectors                                            # (101, N, k), unit columns
    cos = np.abs(np.swapaxes(V, -1, -2) @ V) - np.eye(K_FLOSS)
    smallest = np.degrees(np.arccos(np.clip(cos.max(axis=(-1, -2)), 0.0, 1.0)))
    cond = np.linalg.cond(V)
    return smallest, cond, res.rates


def part_a(epochs, rng):
    net = VanillaRNN.random(32, g=1.5, seed=1)
    before = geometry(net, np.random.default_rng(11))
    hist = floss(net, epochs=epochs, k=K_FLOSS, T=100, transient=20, lr=5e-3, clip_norm=1.0, seed=rng)
    after = geometry(net, np.random.default_rng(11))
    return before, after, hist


def part_b(protocol, epochs):
    config = TrainConfig(protocol=protocol, seed=0, **dict(DEMO, epochs=epochs))
    run = Run(config).train()
    model, task = run.model, run.task
    batch = task.sample(T0 + T_TAIL, 64, np.random.default_rng(99))
    # the state at t0 of each sequence, from the trained h_0
    hs, _ = model.cell.run(model.h0, batch.xs[:T0])
    h_t0 = hs[T0 - 1]
    tail = TaskBatch(xs=batch.xs[T0:], ys=batch.ys[T0:], mask=batch.mask[T0:])
    shifted = Model(model.cell, model.w_out, model.offset, h_t0)       # one initial state per sequence
    grad = loss_and_grad(shifted, tail, task.loss).grads["h0"]        # dL/dh_(t0), (64, N)
    clv = covariant_vectors(model.cell, np.broadcast_to(model.h0, (64, config.N)), batch.xs, k=3,
                            times=[T0], transient=T0, transient_backward=T_TAIL - 1, seed=0)
    # transient_backward = T_TAIL - 1 leaves one step after t0 to average the rates over
    # (covariant_vectors refuses an empty window); the vectors at t0 are what is used here
    v1 = clv.vectors[0, :, :, 0]
    cos = np.abs(np.sum(grad * v1, axis=-1)) / np.linalg.norm(grad, axis=-1)
    random = np.random.default_rng(5).standard_normal(grad.shape)
    cos_random = np.abs(np.sum(random * v1, axis=-1)) / np.linalg.norm(random, axis=-1)
    return np.degrees(np.arccos(cos)), np.degrees(np.arccos(cos_random)), run.summary()["test_accuracy"]


def main(argv=None):
    args = _common.scale_parser("clv_flossing", __doc__).parse_args(argv)
    args.out = _common.out_dir(args, "clv_flossing")
    with _common.Tee(os.path.join(args.out, f"clv_flossing_{args.scale}.txt"), "validation/paper/clv_flossing.py", argv):
        _main(args)


def _main(args):
    s = SCALE[args.scale]
    start = time.perf_counter()
    with threadpool_limits(1):
        print(f"A. N = 32, g = 1.5: first {K_FLOSS} covariant vectors before and after flossing {K_FLOSS} "
              f"exponents ({s['floss_epochs']} epochs)", flush=True)
        before, after, hist = part_a(s["floss_epochs"], np.random.default_rng(3))
        print(f"   flossing loss: first epoch {hist.loss[0]:.3f}, mean of the last 10 {np.mean(hist.loss[-10:]):.3f}")
        for label, (smallest, cond, rates) in (("before", before), ("after", after)):
            print(f"   {label:6s}: CLV rates {np.round(rates[:4], 3)} ...; smallest pairwise angle median "
                  f"{np.median(smallest):.1f} deg [25 %: {np.percentile(smallest, 25):.1f}]; condition number "
                  f"median {np.median(cond):.3g} [75 %: {np.percentile(cond, 75):.3g}]")
        results_b, rows_b = {}, []
        for protocol in ("none", "during"):
            print(f"B. trained network, protocol {protocol}, {s['train_epochs']} epochs (demo configuration)",
                  flush=True)
            angle, angle_random, acc = part_b(protocol, s["train_epochs"])
            results_b[protocol] = angle
            rows_b += [[protocol, i, float(a), float(r), float(acc)] for i, (a, r) in enumerate(zip(angle, angle_random))]
            print(f"   test accuracy {acc:.3f}; angle(dL/dh_t0, v_1) median "
                  f"{np.median(angle):.1f} deg [25-75 %: {np.percentile(angle, 25):.1f}-"
                  f"{np.percentile(angle, 75):.1f}] over 64 sequences; a random direction: "
                  f"{np.median(angle_random):.1f} deg")
    print(f"{time.perf_counter() - start:.0f} s")
    _common.write_csv(os.path.join(args.out, f"clv_flossing_{args.scale}.csv"),
                      ["protocol", "sequence", "angle_grad_v1_deg", "angle_random_v1_deg", "test_accuracy"], rows_b)
    _common.write_csv(os.path.join(args.out, f"clv_flossing_{args.scale}_geometry.csv"),
                      ["time", "smallest_angle_before_deg", "condition_before", "smallest_angle_after_deg",
                       "condition_after"],
                      [[i, float(before[0][i]), float(before[1][i]), float(after[0][i]), float(after[1][i])]
                       for i in range(len(before[0]))])
    plot(args, before, after, results_b)


def plot(args, before, after, results_b):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    os.makedirs(args.out, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    bins = np.linspace(0, 90, 31)
    axes[0].hist(before[0], bins=bins, alpha=0.6, label="before flossing")
    axes[0].hist(after[0], bins=bins, alpha=0.6, label="after flossing")
    axes[0].set(xlabel="smallest angle between two of the first 8 CLVs (deg)", ylabel="count (times)",
                title="A  random network N = 32, g = 1.5")
    axes[0].legend(fontsize=7)
    for protocol, angle in results_b.items():
        axes[1].hist(angle, bins=bins, alpha=0.6, label=protocol)
    axes[1].set(xlabel="angle(dL/dh_t0, leading CLV) (deg)", ylabel="count (sequences)",
                title="B  trained on binary XOR, d = 30")
    axes[1].legend(fontsize=7)
    fig.tight_layout()
    path = os.path.join(args.out, f"clv_flossing_{args.scale}.png")
    fig.savefig(path, dpi=90)
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
