"""Runs shared between validation scripts (fig4_xor_protocols.shared_sweep).

sec7_control's "none" and "during" arms, fig13's runs and fig5's k = N arm are, at their
default sizes, runs that fig4_xor_protocols also makes: the same TrainConfig and the same
sweep task.  They are trained once, in fig4's results directory, and read from there by
the other script.  Checked here at a tiny size: which tasks land where, that a second
script finds them done, and that a task that differs is not taken from fig4.
"""

import os

import numpy as np
import pytest
from script_runner import TINY_CONFIG, load, run

BASE = dict(TINY_CONFIG, diag_every=0)


def npz(directory):
    return sorted(f[:-4] for f in os.listdir(directory) if f.endswith(".npz"))


@pytest.fixture
def fig4(monkeypatch):
    """fig4's quick scale shrunk: binary XOR at d = 4, spatial XOR at d = 2, one seed."""
    module = load("fig4_xor_protocols", monkeypatch)
    monkeypatch.setitem(module.SCALE, "quick", dict(base=dict(BASE), delays={"binary_xor": (4,), "spatial_xor": (2,)},
                                                    seeds=1, headline={"binary_xor": 4, "spatial_xor": 2}))
    return module


def test_sec7_trains_its_none_and_during_arms_in_fig4s_directory(fig4, tmp_path, monkeypatch):
    sec7 = load("sec7_control", monkeypatch)
    monkeypatch.setattr(sec7, "fig4", fig4)
    monkeypatch.setitem(sec7.SCALE, "quick", dict(delay=4, seeds=1))
    results = tmp_path / "results"
    argv = ["--quick", "--jobs", "0", "--out", str(tmp_path / "out"), "--results", str(results)]
    code, out = run(sec7, argv)
    assert code in (0, 1), out
    shared = results / "fig4_xor_protocols"
    assert npz(shared) == ["binary_xor_d4_during_k3_N6_s0", "binary_xor_d4_none_k3_N6_s0"]
    assert npz(results) == ["binary_xor_d4_jacobian_norm_k3_N6_s0", "binary_xor_d4_spectral_radius_k3_N6_s0"]
    assert "2 of 4 tasks are fig4_xor_protocols runs" in out

    # fig4 itself finds them done and runs only the third protocol
    code, out = run(fig4, ["--quick", "--jobs", "0", "--out", str(tmp_path / "out4"), "--results", str(shared),
                           "--tasks", "binary_xor"])
    assert "2 of 3 tasks already done" in out, out
    assert len(npz(shared)) == 3
    # and sec7 again runs nothing
    before = {n: os.path.getmtime(shared / f"{n}.npz") for n in npz(shared)}
    code, out = run(sec7, argv)
    assert "2 of 2 tasks already done" in out and out.count("already done") == 2, out
    assert before == {n: os.path.getmtime(shared / f"{n}.npz") for n in npz(shared)}


def test_a_configuration_fig4_does_not_run_stays_with_the_script(fig4, tmp_path, monkeypatch):
    sec7 = load("sec7_control", monkeypatch)
    monkeypatch.setattr(sec7, "fig4", fig4)
    monkeypatch.setitem(sec7.SCALE, "quick", dict(delay=6, seeds=1))  # fig4's binary XOR delay is 4
    results = tmp_path / "results"
    code, out = run(sec7, ["--quick", "--jobs", "0", "--out", str(tmp_path / "out"), "--results", str(results)])
    assert code in (0, 1), out
    assert not (results / "fig4_xor_protocols").exists()
    assert len(npz(results)) == 4


def test_fig13_reads_the_spectra_of_fig4s_runs(fig4, tmp_path, monkeypatch):
    # fig13 needs the spectrum at the last epoch: shared only when fig4's runs record it too
    monkeypatch.setitem(fig4.SCALE["quick"], "base", dict(BASE, diag_every=BASE["epochs"]))
    fig13 = load("fig13_trained_exponents", monkeypatch)
    monkeypatch.setattr(fig13, "fig4", fig4)
    monkeypatch.setitem(fig13.SCALE, "quick", dict(delays=(2, 3), seeds=1))
    results = tmp_path / "results"
    code, out = run(fig13, ["--quick", "--jobs", "0", "--out", str(tmp_path / "out"), "--results", str(results)])
    assert code in (0, 1), out
    assert npz(results / "fig4_xor_protocols") == ["spatial_xor_d2_during_k3_N6_s0", "spatial_xor_d2_none_k3_N6_s0"]
    assert npz(results) == ["spatial_xor_d3_during_k3_N6_s0", "spatial_xor_d3_none_k3_N6_s0"]
    r = np.load(results / "fig4_xor_protocols" / "spatial_xor_d2_during_k3_N6_s0.npz")
    assert r["history/exponents"].shape[0] == 2 and np.all(np.isfinite(r["history/exponents"]))
