"""Why the linear networks of the App. E row at N = 80 diverge: the spectral radius rho(W)
of each network before and after preflossing and after its first two Adam steps, and its
task loss at training epoch 0 with and without preflossing.

The networks are those of the committed sweep ``results/fig3_copy_xor/linear_authors_inputs-text``
(copy task, d = 40, N = 80, T = 300, g = 1, E_f = 500 on k = 75, authors' settings, U(0, 1)
inputs; W, its preflossing and the inputs come from streams of the seed alone, so the other
task and delay have the same W). A linear map with rho(W) > 1 grows like rho^T over the
T = 300 steps of a training sequence. About 30 s per seed.

    python validation/paper/appE_linear_radius.py [--seeds 3] [--out validation/results/fig3_copy_xor]

Writes ``appE_linear_radius.txt`` (the table, after the provenance line) into ``--out``.
"""

import argparse
import os
import sys

import numpy as np

FOLDER = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [FOLDER, os.path.dirname(FOLDER)]  # this folder's scripts, and validation/ (_common)
import _common  # noqa: E402

from floss_ref.errors import TrainingDivergedError  # noqa: E402
from floss_ref.experiments.config import AUTHORS_SETTINGS, TrainConfig  # noqa: E402
from floss_ref.runs.run import Run  # noqa: E402
from floss_ref._threads import limit_blas  # noqa: E402

NAME = "appE_linear_radius"
# the App. E row's sweep (fig3_copy_xor.py --paper --nonlinearity linear --settings authors --inputs text), copy d = 40
CONFIG = dict(task="copy", delay=40, N=80, T=300, epochs=10_000, k=75, floss_epochs=500, diag_every=0,
              nonlinearity="linear", task_inputs="text", **AUTHORS_SETTINGS)


def radius(run):
    return float(np.max(np.abs(np.linalg.eigvals(run.model.cell.params["W"]))))


def measure(seed):
    """rho(W) at initialisation, after preflossing, after Adam steps 1 and 2 (NaN once the
    run has diverged), and the task loss at epoch 0 without and with preflossing."""
    plain = Run(TrainConfig(protocol="none", seed=seed, **CONFIG))
    rho_init = radius(plain)
    out = {"seed": seed, "init": rho_init}
    try:
        plain.train_epoch()
        out["loss_none"] = float(plain.history["loss"][0])
    except TrainingDivergedError as exc:
        out["loss_none"] = exc.loss
    flossed = Run(TrainConfig(protocol="prefloss", seed=seed, **CONFIG))
    flossed._floss_episode(0)   # the episode before training epoch 0, alone
    out["flossed"] = radius(flossed)
    stepped = Run(TrainConfig(protocol="prefloss", seed=seed, **CONFIG))
    out["step1"] = out["step2"] = float("nan")
    try:
        for name in ("step1", "step2"):   # epoch 0 (its episode, then Adam step 1), epoch 1 (step 2)
            stepped.train_epoch()
            out[name] = radius(stepped)
        out["loss_prefloss"] = float(stepped.history["loss"][0])
    except TrainingDivergedError as exc:
        out["loss_prefloss"] = float(stepped.history["loss"][0]) if exc.epoch > 0 else exc.loss
        out["diverged"] = exc.epoch
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", type=int, default=3, help="seeds 0 .. n-1 (default 3, those of the sweep)")
    p.add_argument("--out", default=os.path.join("validation", "out", NAME), help="directory for the .txt")
    args = p.parse_args(argv)
    if args.seeds < 1:
        p.error(f"--seeds must be >= 1, got {args.seeds}")
    os.makedirs(args.out, exist_ok=True)
    with _common.Tee(os.path.join(args.out, f"{NAME}.txt"), command=f"validation/paper/{NAME}.py"), limit_blas(1):
        print("rho(W) of the App. E linear networks (copy d = 40, N = 80, T = 300); task loss at training epoch 0")
        print(f"{'seed':>4} {'init':>7} {'flossed':>8} {'step 1':>7} {'step 2':>7} {'loss none':>10} "
              f"{'loss prefloss':>13}  prefloss diverged in epoch 0 or 1")
        for seed in range(args.seeds):
            m = measure(seed)
            print(f"{seed:>4} {m['init']:>7.3f} {m['flossed']:>8.3f} {m['step1']:>7.3f} {m['step2']:>7.3f} "
                  f"{m['loss_none']:>10.3g} {m['loss_prefloss']:>13.3g}  {m.get('diverged', '-')}")
        print("verdict: none (measurements)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
