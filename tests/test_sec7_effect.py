"""sec7_control.py --effect: what the first episode of each kind does to the network.

The weighted spectral-radius episodes are run by a local copy of ``regularize``'s Adam
loop; with weight 1 it must be ``regularize`` bit for bit, else the weighted runs would
measure more than the weight.  The option itself is run at quick scale with one seed.
"""

import csv

import numpy as np
from script_runner import load, run

from floss_ref.runs.run import ControlRun, TrainConfig

SMALL = TrainConfig(task="binary_xor", delay=8, protocol="during", seed=3, N=12, T=40, epochs=10, k=4,
                    floss_epochs=60, floss_T=20, floss_transient=4, floss_at=(0,))


def test_the_local_loop_with_weight_one_is_regularize_bit_for_bit(monkeypatch):
    sec7 = load("sec7_control", monkeypatch)
    control = ControlRun(SMALL, "spectral_radius")
    control._floss_episode(0)
    cell = ControlRun(SMALL, "spectral_radius").model.cell
    losses, rhos = sec7.weighted_spectral_radius_episode(cell, epochs=SMALL.floss_epochs, lr=SMALL.floss_lr,
                                                         weight=1.0)
    assert np.array_equal(losses, control.history["floss_loss"][0])
    assert np.array_equal(cell.params["W"], control.model.cell.params["W"])
    assert rhos.shape == (SMALL.floss_epochs + 1,)
    assert np.allclose((rhos[:-1] - 1.0) ** 2, losses, rtol=1e-8, atol=1e-14)

    weighted = ControlRun(SMALL, "spectral_radius").model.cell
    losses_w, _ = sec7.weighted_spectral_radius_episode(weighted, epochs=SMALL.floss_epochs, lr=SMALL.floss_lr,
                                                        weight=1e4)
    assert losses_w[0] == 1e4 * losses[0]   # the same network before the first update


def test_effect_writes_one_row_per_kind_and_weight(tmp_path, monkeypatch):
    sec7 = load("sec7_control", monkeypatch)
    code, out = run(sec7, ["--quick", "--seeds", "1", "--effect", "--out", str(tmp_path)])
    assert code == 0, out
    with open(tmp_path / "sec7_effect_quick.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    kinds = [(r["kind"], float(r["weight"])) for r in rows]
    assert kinds == [("flossing", 1.0), ("spectral_radius", 1.0), ("jacobian_norm", 1.0),
                     ("spectral_radius", 100.0), ("spectral_radius", 1e4)]
    for r in rows:
        values = [float(r[name]) for name in ("rho_before", "rho_after", "dW_rel", "lambda1_before",
                                              "lambda1_after", "loss_first", "loss_last")]
        assert np.all(np.isfinite(values)), r
        assert float(r["seed"]) == 0 and float(r["dW_rel"]) > 0
    assert len({r["rho_before"] for r in rows}) == 1 and len({r["lambda1_before"] for r in rows}) == 1
    # the spectral-radius episode drives rho(W) to 1, whatever the weight
    for r in rows:
        if r["kind"] == "spectral_radius":
            assert abs(float(r["rho_after"]) - 1.0) < 1e-6, r
    text = (tmp_path / "sec7_effect_quick.txt").read_text()
    assert text.startswith("floss_ref ") and "command: python validation/paper/sec7_control.py" in text
    assert "jacobian_norm" in text and "verdict: none" in text
