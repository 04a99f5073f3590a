"""Smoke runs of every validation script at a tiny size (``-m slow``).

Each script runs end to end, in this process, on sizes a few hundred times smaller than
--quick (patched into its SCALE table or passed as options): it must write its outputs
and print its closing verdict line or its measurements without raising.  At these sizes
the verdicts themselves mean nothing and are not asserted (exit code 0 or 1); the claims
are checked at --quick and --paper by the scripts themselves (validation/run_all.py).
"""

import json

import numpy as np
import pytest
from script_runner import TINY_CONFIG, VALIDATION, load, run, scripts

pytestmark = pytest.mark.slow

SCRIPTS = scripts()

BASE = TINY_CONFIG


def sweep_args(tmp_path):
    return ["--quick", "--jobs", "0", "--out", str(tmp_path / "out"), "--results", str(tmp_path / "results")]


TINY = {
    "fig3_copy_xor": lambda m, t, mp: (
        mp.setitem(m.SCALE, "quick", dict(base=dict(BASE, diag_every=0), delays={"copy": (2, 4), "xor": (2, 4)},
                                          seeds=1, headline={"copy": 4, "xor": 4})),
        sweep_args(t)),
    "fig4_xor_protocols": lambda m, t, mp: (
        mp.setitem(m.SCALE, "quick", dict(base=dict(BASE, diag_every=0),
                                          delays={"binary_xor": (2, 4), "spatial_xor": (2,)}, seeds=1,
                                          headline={"binary_xor": 4, "spatial_xor": 2})),
        sweep_args(t)),
    "fig5_k_delay": lambda m, t, mp: (
        mp.setitem(m.SCALE, "quick", dict(base={**{key: v for key, v in BASE.items() if key != "k"},
                                                "task": "binary_xor", "protocol": "during", "diag_every": 0},
                                          ks=(1, 3), delays=(2, 4), seeds=1)),
        sweep_args(t)),
    "appD_diagnostics": lambda m, t, mp: (
        mp.setitem(m.SCALE, "quick", dict(base=dict(BASE, task="binary_xor", delay=4), seeds=1, sv=(1, 2, 3))),
        sweep_args(t)),
    "appD_clv_overlap": lambda m, t, mp: (
        mp.setitem(m.SCALE, "quick", dict(base=dict(BASE, task="binary_xor", diag_every=0), seeds=1,
                                          measure=dict(t0=30, tail=20, sequences=8, k_clv=3))),
        ["--quick", "--delay", "4", "--every", "10", "--jobs", "0", "--out", str(t / "out"), "--results",
         str(t / "results")]),
    "appK_convergence": lambda m, t, mp: (
        mp.setitem(m.SCALE, "quick", dict(N=8, T=300, n_runs=3)), mp.setattr(m, "INDICES", (1, 4, 8)),
        sweep_args(t)),
    "fig1_flossing": lambda m, t, mp: (
        mp.setitem(m.SCALE, "quick", dict(N=6, seeds=2, seeds_b=2, b=dict(epochs=3, T=30, transient=5, lr=0.005),
                                          cd=dict(epochs=3, T=20, transient=4, lr=1e-3), spectrum_T=60)),
        mp.setattr(m, "KS", (1, 2, 3)), sweep_args(t)),
    "fig1b_clipping": lambda m, t, mp: (
        mp.setitem(m.FLOSS, "N", 6), mp.setitem(m.FLOSS, "epochs", 3), mp.setitem(m.FLOSS, "T", 30),
        mp.setitem(m.FLOSS, "transient", 5), sweep_args(t) + ["--nets", "2"]),
    "fig1b_targets": lambda m, t, mp: (
        None, ["--N", "6", "--nets", "2", "--epochs", "2", "--T", "30", "--transient", "5", "--T-eval", "50"]),
    "fig1b_target0_estimates": lambda m, t, mp: (None, ["--nets", "0", "--trajectories", "2"]),
    "merge_results": lambda m, t, mp: (_tiny_sweep(t / "source"), [str(t / "source"), str(t / "target")]),
    "appE_linear_radius": lambda m, t, mp: (
        mp.setattr(m, "CONFIG", dict(m.CONFIG, N=8, T=24, delay=4, epochs=4, k=3, floss_epochs=2, floss_T=8,
                                      floss_transient=2)),
        ["--seeds", "2", "--out", str(t / "out")]),
    "fig2_condition_number": lambda m, t, mp: (
        None, ["--panel", "all", "--quick", "--N", "80", "--networks", "1", "--trajectories", "2", "--epochs", "2",
               "--max-trajectories", "2", "--T-lyap", "2000", "--horizon-b", "20"]),   # m = 15 needs N = 80
    "fig6_lstm_relu": lambda m, t, mp: (
        None, ["--N", "6", "--networks", "2", "--epochs", "2", "--T", "30", "--transient", "5", "--T-eval", "60",
               "--transient-eval", "10", "--out-dir", str(t)]),
    "demo_seeds": lambda m, t, mp: (
        mp.setattr(m, "run_demo", _tiny_demo(mp)), ["--seeds", "0", "--jobs", "1"]),
    "clv_flossing": lambda m, t, mp: (
        mp.setitem(m.SCALE, "quick", dict(floss_epochs=2, train_epochs=30)),
        mp.setattr(m, "DEMO", dict(m.DEMO, N=6, T=30, delay=4, k=3, floss_epochs=2, floss_at=(0, 10))),
        ["--quick", "--out", str(t)]),
    "lyapunov_errors": lambda m, t, mp: (
        mp.setitem(m.SCALE, "quick", dict(T=400)), mp.setattr(m, "LONG_RUN", (2, 2000)),
        mp.setattr(m, "HENON_STEPS", 4000), mp.setattr(m, "CLV_STEPS", 600), ["--quick", "--out", str(t)]),
    "bench_flossing": lambda m, t, mp: (None, ["--repeat", "1"]),
    # the checkout against itself: one repeat of each process
    "bench_ab": lambda m, t, mp: (None, [str(VALIDATION.parent), str(VALIDATION.parent), "--repeat", "1"]),
    "bench_training": lambda m, t, mp: (None, ["--repeats", "1", "--block", "1", "--N", "8", "--T", "80"]),
    "bench_lstm": lambda m, t, mp: (None, ["--repeats", "1", "--N", "6", "--k", "4", "--T", "30"]),
    "bench_precision": lambda m, t, mp: (None, ["--quick", "--repeats", "1"]),
    "bench_vs_jax": lambda m, t, mp: (None, ["--rows", "floss32,bptt", "--repeat", "1"]),
    "bench_floor": lambda m, t, mp: (None, ["--rows", "floss32,bptt", "--repeat", "1"]),
    "core_hours": lambda m, t, mp: (None, []),
    "jax_worked_check": lambda m, t, mp: (None, ["--cases", "vanilla_tanh_T20_tons1_tr4"]),
    "fig13_trained_exponents": lambda m, t, mp: (
        mp.setitem(m.fig4.SCALE, "quick", dict(m.fig4.SCALE["quick"], base=dict(BASE, diag_every=0),
                                                delays={"binary_xor": (2,), "spatial_xor": (2,)})),
        mp.setitem(m.SCALE, "quick", dict(delays=(2, 4), seeds=1)), sweep_args(t)),
    "sec7_control": lambda m, t, mp: (
        mp.setitem(m.fig4.SCALE, "quick", dict(m.fig4.SCALE["quick"], base=dict(BASE, diag_every=0),
                                                delays={"binary_xor": (2,), "spatial_xor": (2,)})),
        mp.setitem(m.SCALE, "quick", dict(delay=4, seeds=1)), sweep_args(t)),
    "fig9_gradient_precedes": lambda m, t, mp: (None, ["--out", str(t)]),
    "report": lambda m, t, mp: (None, []),   # reads the committed results, trains nothing
    "bench_table1": lambda m, t, mp: (mp.setattr(m, "LINES", {
        "T": dict(values=(4, 8), fixed=dict(N=6, k=2), table1=1.0),
        "k": dict(values=(1, 2), fixed=dict(N=6, T=4), table1=1.0),
        "N": dict(values=(4, 8), fixed=dict(k=2, T=4), table1=2.0)}), ["--repeat", "1", "--out", str(t)]),
    "fuzz_files": lambda m, t, mp: (None, ["--flips", "20", "--tail", "50", "--middle", "10"]),
    "reliability_checks": lambda m, t, mp: (None, ["--timeout", "1", "--repeats", "1"]),
    "run_all": lambda m, t, mp: (mp.setattr(m, "SCRIPTS", {"fig1b": m.SCRIPTS["fig1b"]}),
                                 mp.setitem(m.SCRIPTS, "fig1b", ("fig1b_targets.py", [
                                     "--N", "6", "--nets", "2", "--epochs", "2", "--T", "30", "--transient", "5",
                                     "--T-eval", "50"], None, False, True)),
                                 ["--scale", "quick"]),
}


def _tiny_sweep(directory):
    """A finished sweep of one tiny training task in ``directory`` (merge_results' SOURCE)."""
    from floss_ref.experiments.config import TrainConfig
    from floss_ref.runs.run import sweep_tasks
    from floss_ref.runs.sweep import run_sweep

    config = TrainConfig(task="copy", delay=2, **dict(BASE, diag_every=0))
    run_sweep(sweep_tasks([config]), directory, settings={"script": "tiny"}, jobs=0)


def _tiny_demo(monkeypatch):
    from floss_ref import cli_train
    monkeypatch.setattr(cli_train, "DEMO", dict(cli_train.DEMO, N=6, T=30, delay=4, k=3, epochs=40,
                                                floss_epochs=2, floss_at=(0, 10)))
    return cli_train.run_demo


def test_every_script_has_a_smoke_run():
    assert set(SCRIPTS) == set(TINY), set(SCRIPTS) ^ set(TINY)


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_runs_at_a_tiny_size(name, tmp_path, monkeypatch):
    module = load(name, monkeypatch)
    *_, argv = TINY[name](module, tmp_path, monkeypatch)
    monkeypatch.chdir(tmp_path)
    code, out = run(module, argv)
    assert code in (0, 1), out
    assert out.strip(), "the script printed nothing"


# the options that cover the paper's further claims (Figs. 7D, 12 and 14, Apps. B and E, Fig. 1B's remark)
VARIANTS = {
    "fig4 throughout, orthogonal": ("fig4_xor_protocols", [
        "--tasks", "binary_xor", "--protocols", "during", "throughout", "--init", "orthogonal",
        "--settings", "authors", "--xor-lags", "double"]),
    "fig4 throughout, 4-epoch curves": ("fig4_xor_protocols", [
        "--tasks", "binary_xor", "--protocols", "during", "throughout", "--settings", "authors",
        "--curve-every", "4"]),
    "fig6 target -1": ("fig6_lstm_relu", ["--cells", "lstm", "--target", "-1"]),
    "fig1b positive target": ("fig1b_targets", ["--targets", "0.5"]),
    "fig5 preflossing only": ("fig5_k_delay", ["--protocol", "prefloss"]),
    "fig3 linear networks": ("fig3_copy_xor", ["--nonlinearity", "linear"]),
    "fig3 k and authors' settings": ("fig3_copy_xor", ["--tasks", "copy", "--k", "2", "--settings", "authors"]),
    "fig3 bernoulli inputs": ("fig3_copy_xor", ["--tasks", "copy", "--inputs", "bernoulli"]),
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_script_option_runs_at_a_tiny_size(variant, tmp_path, monkeypatch):
    name, extra = VARIANTS[variant]
    module = load(name, monkeypatch)
    *_, argv = TINY[name](module, tmp_path, monkeypatch)
    if name == "fig4_xor_protocols":  # the lags (d, 2d) need twice the steps
        monkeypatch.setitem(module.SCALE["quick"], "base", dict(module.SCALE["quick"]["base"], T=40, floss_every=10))
    monkeypatch.chdir(tmp_path)
    code, out = run(module, argv + extra)
    assert code in (0, 1), out
    assert "verdict:" in out, out
    if name == "fig4_xor_protocols":
        assert "throughout" in out and "Fig. 12" in out, out
    if variant == "fig4 throughout, 4-epoch curves":  # curves finer than 100 epochs: one panel per network
        assert [p.name for p in (tmp_path / "out").glob("fig4_fine_*.png")] == [
            "fig4_fine_quick_authors_lags-half_curve4.png"], out
    if variant == "fig3 k and authors' settings":  # k = 2 runs, outputs named by the label
        results = tmp_path / "results"
        assert sorted(p.name for p in results.glob("*.npz")) == [
            f"copy_d{d}_{p}_k2_N6_s0.npz" for d in (2, 4) for p in ("none", "prefloss")], out
        assert (tmp_path / "out" / "fig3_quick_authors_k2_inputs-text.png").exists(), out
    if variant == "fig3 bernoulli inputs":  # training and flossing both draw bits
        results = tmp_path / "results"
        for f in results.glob("*.npz"):
            task = json.loads(str(np.load(f)["meta/task"]))["params"]
            assert (task["task_inputs"], task["floss_inputs"]) == ("bernoulli", "bernoulli"), f


def test_fig3_report_only_draws_the_finished_tasks_and_runs_nothing(tmp_path, monkeypatch):
    module = load("fig3_copy_xor", monkeypatch)
    *_, argv = TINY["fig3_copy_xor"](module, tmp_path, monkeypatch)
    monkeypatch.chdir(tmp_path)
    code, out = run(module, argv + ["--tasks", "copy"])
    assert code in (0, 1), out
    before = sorted(p.name for p in (tmp_path / "results").glob("*.npz"))
    assert len(before) == 4, before                      # copy x d in {2, 4} x none, prefloss, one seed
    (tmp_path / "out" / "fig3_quick_inputs-text.png").unlink()
    code, out = run(module, argv + ["--tasks", "copy", "xor", "--report-only"])
    assert code in (0, 1), out
    assert "4 of 8 tasks finished" in out, out
    assert sorted(p.name for p in (tmp_path / "results").glob("*.npz")) == before   # nothing ran
    assert (tmp_path / "out" / "fig3_quick_inputs-text.png").exists(), out


def test_fig3_linear_records_diverged_networks_and_draws_no_verdict_for_them(tmp_path, monkeypatch):
    module = load("fig3_copy_xor", monkeypatch)
    *_, argv = TINY["fig3_copy_xor"](module, tmp_path, monkeypatch)
    base = dict(module.SCALE["quick"]["base"], g=3.0)   # linear with rho(W) ~ 3: the forward pass explodes
    monkeypatch.setitem(module.SCALE, "quick", dict(module.SCALE["quick"], base=base))
    monkeypatch.chdir(tmp_path)
    code, out = run(module, argv + ["--tasks", "copy", "--nonlinearity", "linear"])
    assert code in (0, 1), out
    results = sorted((tmp_path / "results").glob("*.npz"))
    assert len(results) == 4, results                    # a diverged network is a result, not a failed task
    epochs = [int(np.load(f)["summary/diverged_epoch"]) for f in results]
    assert 0 in epochs, epochs                            # the unflossed ones diverge at the first batch
    assert "no verdict, networks diverged" in out and "verdict: none (no check: no task and delay has both" in out, out
    summary = (tmp_path / "out" / "fig3_summary_quick_linear_inputs-text.csv").read_text().splitlines()
    assert summary[0].endswith("n_diverged"), summary
    none = [line for line in summary if ",none," in line]
    assert none and all(line.endswith(",1") for line in none), summary   # 1 of 1 seed diverged per delay
    assert (tmp_path / "out" / "fig3_quick_linear_inputs-text.png").exists(), out
    final = (tmp_path / "out" / "fig3_final_quick_linear_inputs-text.csv").read_text().splitlines()
    assert len(final) == 1 + 4 and final[0].endswith("diverged_epoch"), final   # diverged networks listed too
    assert sum(not line.endswith(",-1") for line in final[1:]) >= 2, final
