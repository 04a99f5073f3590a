"""validation/paper/fig9_gradient_precedes.py on synthetic curves: the block size read from
each result, the paper's alignment (the block after the last one with |dL/dh_0| < 1e-3
before accuracy leaves chance), the grade of the Fig. 9 criterion of validation/CRITERIA.md,
and the script end to end on tiny result files written by the sweep's own writer."""

import types

import numpy as np
import pytest
from script_runner import load, run

from floss_ref.runs import sweep

CURVE10 = "authors_lags-half_curve10"


@pytest.fixture
def fig9(monkeypatch):
    return load("fig9_gradient_precedes", monkeypatch)


def arrays(acc, g, epochs):
    return {"summary/epochs": np.array(epochs), "curve/accuracy": np.asarray(acc, float),
            "curve/log10_h0_grad_norm": np.asarray(g, float)}


# ---- block size ------------------------------------------------------------------------

@pytest.mark.parametrize("points, block", [(1000, 10), (100, 100), (50, 200)])
def test_block_size_is_epochs_over_curve_points(fig9, points, block):
    a = arrays(np.full(points, 0.5), np.full(points, -8.0), 10000)
    assert fig9.block_epochs(a, "x.npz") == block


@pytest.mark.parametrize("acc_points, grad_points", [(300, 300), (0, 0), (100, 99)])
def test_block_size_refuses_curves_that_do_not_tile_the_epochs(fig9, acc_points, grad_points):
    a = arrays(np.full(acc_points, 0.5), np.full(grad_points, -8.0), 10000)
    with pytest.raises(ValueError, match="some/dir/binary_xor_d70_during_k75_N80_s0.npz"):
        fig9.block_epochs(a, "some/dir/binary_xor_d70_during_k75_N80_s0.npz")


# ---- the paper's alignment ---------------------------------------------------------------

# blocks:        0     1     2     3     4     5     6     7     8     9    10
SPIKE = [-1.0, -1.5, -6.0, -7.0, -5.0, -3.5, -2.5, -2.0, -1.5, -1.2, -1.0]   # flossing spike, dip, rise
ACC = [0.50, 0.50, 0.50, 0.50, 0.50, 0.51, 0.52, 0.54, 0.70, 0.90, 1.00]      # leaves chance at block 8


def test_last_is_the_block_after_the_last_dip_before_accuracy_leaves_chance(fig9):
    g, acc = np.array(SPIKE), np.array(ACC)
    e_acc, e_rise, e_level = fig9.events(acc, g, 0.55, 2.0, -3.0)
    assert e_acc == 8
    assert e_level == 0                       # a first crossing of 1e-3 catches the early spike instead
    assert fig9.last_below(g, e_acc, -3.0) == 6   # block 5 (-3.5) is the last one below: t_grad = 6
    assert fig9.last_below(g, e_acc, -4.0) == 5   # below 1e-4: block 4 (-5) is the last
    assert fig9.last_below(g, e_acc, -8.0) == 0   # none below: 0


def test_last_coincides_when_the_dip_is_the_block_before_and_is_strictly_below(fig9):
    g = np.array([-8.0, -8.0, -8.0, -3.1, -1.0, -1.0])
    assert fig9.last_below(g, 4, -3.0) == 4        # block 3 is below: t_grad = t_acc (coincides)
    g[3] = -3.0                                    # exactly 1e-3 is not below it
    assert fig9.last_below(g, 4, -3.0) == 3
    assert fig9.last_below(g, 0, -3.0) == 0        # nothing before block 0
    assert fig9.last_below(g, None, -3.0) is None  # never leaves chance: undefined
    g[4:] = -9.0                                   # blocks at or after t_acc do not count
    assert fig9.last_below(g, 4, -3.0) == 3


# ---- the grade of the criterion ---------------------------------------------------------

@pytest.mark.parametrize("networks, verdict", [
    ([(8, 6)] * 5, "reproduced"),
    ([(8, 6)] * 4 + [(None, None)], "reproduced"),               # 4 of 5 leave chance, all precede
    ([(8, 6)] * 3 + [(None, None)] * 2, "partly"),               # only 3 leave chance
    ([(8, 6)] * 3 + [(8, 8)] * 2, "partly"),                     # 3 of 5 precede
    ([(8, 6)] * 2 + [(8, 8)] * 2 + [(None, None)], "partly"),    # exactly half of the 4
    ([(8, 6)] * 2 + [(8, 8)] * 3, "not reproduced"),             # 2 of 5
    ([(8, 8)] * 5, "not reproduced"),                            # all coincide
    ([(None, None)] * 5, "not reproduced"),                      # none leaves chance
])
def test_grade_of_the_fig9_criterion(fig9, networks, verdict):
    counts, got = fig9.grade_last(networks)
    assert got == verdict, counts
    left = [n for n in networks if n[0] is not None]
    assert counts == dict(networks=len(networks), left=len(left), precedes=sum(g < a for a, g in left),
                          coincides=sum(g == a for a, g in left), later=0)


def test_grade_waits_for_all_networks(fig9):
    counts, verdict = fig9.grade_last([(8, 6)] * 3, expected=5)
    assert verdict == "not graded yet (3 of 5 networks)" and counts["precedes"] == 3


# ---- end to end -------------------------------------------------------------------------

def write(folder, name, acc, g, epochs):
    folder.mkdir(parents=True, exist_ok=True)
    task = types.SimpleNamespace(name=name, describe=lambda: {"kind": "train", "params": {}})
    sweep._save(str(folder), task, arrays(acc, g, epochs), 1.0, {"script": "test"})


def curves(e_rise, e_acc, blocks):
    """log10 |dL/dh_0| at -8 then -2 from block e_rise on; accuracy 0.5 then 0.9 from e_acc on."""
    g = np.where(np.arange(blocks) >= e_rise, -2.0, -8.0)
    acc = np.where(np.arange(blocks) >= e_acc, 0.9, 0.5)
    return acc, g


@pytest.mark.parametrize("e_rise, code, verdict", [(50, 0, "reproduced"), (80, 1, "not reproduced")])
def test_script_grades_the_criterion_on_10_epoch_curves(fig9, tmp_path, e_rise, code, verdict):
    for seed in range(5):
        write(tmp_path / "root" / CURVE10, f"binary_xor_d70_during_k75_N80_s{seed}", *curves(e_rise, 80, 100), 1000)
    got, out = run(fig9, ["--root", str(tmp_path / "root"), "--labels", CURVE10, "--tasks", "binary_xor",
                          "--protocols", "during", "--out", str(tmp_path / "out")])
    assert f"verdict (Fig. 9 criterion): {verdict}" in out, out
    assert got == code, out
    assert "verdict by rise: PASS" in out and "verdict by level: PASS" in out, out   # the exit code is the grade's
    assert f"t_acc = block 80 (epoch 800), t_grad = block {e_rise} (epoch {e_rise * 10})" in out, out
    assert "binary_xor during, 10-epoch blocks" in out, out
    assert (tmp_path / "out" / f"fig9ab_{CURVE10}.png").exists()
    csv = (tmp_path / "out" / f"fig9_{CURVE10}.csv").read_text().splitlines()
    assert csv[1].endswith(f",800,consistent,consistent,{e_rise * 10},consistent,10"), csv[1]


def test_script_keeps_100_epoch_results_and_waits_for_missing_networks(fig9, tmp_path):
    write(tmp_path / "root" / "old", "binary_xor_d70_during_k75_N80_s0", *curves(5, 8, 100), 10000)
    for seed in range(3):
        write(tmp_path / "root" / CURVE10, f"binary_xor_d70_during_k75_N80_s{seed}", *curves(80, 80, 100), 1000)
    got, out = run(fig9, ["--root", str(tmp_path / "root"), "--out", str(tmp_path / "out")])
    assert got == 0, out
    assert "binary_xor during, 100-epoch blocks: consistent 1" in out, out
    assert "verdict (Fig. 9 criterion): not graded yet (3 of 5 networks)" in out, out
    row = (tmp_path / "out" / "fig9_old.csv").read_text().splitlines()[1]
    assert row == "binary_xor,70,during,0,500,500,800,consistent,consistent,500,consistent,100", row
    assert not (tmp_path / "out" / "fig9ab_old.png").exists()


def test_script_names_the_file_whose_curve_does_not_tile_the_epochs(fig9, tmp_path):
    write(tmp_path / "root" / CURVE10, "binary_xor_d70_during_k75_N80_s0", *curves(5, 8, 30), 1000)
    with pytest.raises(ValueError, match="binary_xor_d70_during_k75_N80_s0.npz"):
        run(fig9, ["--root", str(tmp_path / "root"), "--out", str(tmp_path / "out")])
