"""validation/paper/appD_clv_overlap.py: the overlap of dL/dh_t0 with the first covariant
vector over training (App. D).  Measuring leaves training bit for bit as it was, the
measurement is clv_flossing.py's part B, and the criterion (t_acc, the windows, the grade)
on hand-made inputs; one end-to-end run at a tiny size."""

import csv
import json

import numpy as np
import pytest
from script_runner import load, run

from floss_ref.runs.run import Run, TrainConfig

TINY = dict(task="binary_xor", delay=4, N=8, T=24, batch=4, epochs=40, k=4, floss_epochs=3, floss_T=12,
            floss_transient=2, floss_at=(0, 20), diag_every=10, test_batch=8)
MEASURE = dict(t0=100, tail=100, sequences=64, k_clv=3)   # the criterion's measurement


@pytest.fixture
def m(monkeypatch):
    return load("appD_clv_overlap", monkeypatch)


def assert_same_run(a, b):
    assert a.epoch == b.epoch
    assert a.model.params.keys() == b.model.params.keys()
    for name in a.model.params:
        np.testing.assert_array_equal(a.model.params[name], b.model.params[name], err_msg=name)
    assert a.history.keys() == b.history.keys()
    for name in a.history:   # NaN where the other has NaN (entries not reached)
        np.testing.assert_array_equal(a.history[name], b.history[name], err_msg=name)
    assert a.rng.bit_generator.state == b.rng.bit_generator.state


@pytest.mark.parametrize("protocol", ["none", "during"])
def test_training_in_chunks_is_bit_identical_to_one_call(protocol):
    config = TrainConfig(protocol=protocol, **TINY)
    whole = Run(config).train()
    chunked = Run(config)
    for until in (0, 1, 10, 20, 21, 33, 40):
        chunked.train(until=until)
    chunked.train()                      # nothing left: a no-op
    assert_same_run(whole, chunked)


@pytest.mark.parametrize("protocol", ["none", "during"])
def test_measuring_leaves_training_bit_identical(m, protocol):
    config = TrainConfig(protocol=protocol, **TINY)
    measured, out = m.measured_run(config, 10, MEASURE)
    assert_same_run(Run(config).train(), measured)
    np.testing.assert_array_equal(out["epochs"], [0, 10, 20, 30, 40])
    assert np.all((out["overlap"] >= 0) & (out["overlap"] <= 1))
    assert np.all((out["overlap_random"] >= 0) & (out["overlap_random"] <= 1))
    # measured twice, the same numbers: no state of the measurement is carried over
    _, again = m.measured_run(config, 10, MEASURE)
    for key in ("overlap", "overlap_random", "rate_v1"):
        np.testing.assert_array_equal(out[key], again[key])


def test_network_result_holds_the_settings_and_curves(m):
    params = dict(TrainConfig(protocol="during", **TINY).to_dict(), every=20, measure=MEASURE)
    r = m.network_result(params)
    assert r["accuracy_blocks"].shape == (4,) and r["log10_h0_grad_norm_blocks"].shape == (4,)
    np.testing.assert_array_equal(r["epochs"], [0, 20, 40])
    assert TrainConfig(**{**json.loads(str(r["config"])), "floss_at": tuple(TINY["floss_at"])}) == \
        TrainConfig(protocol="during", **TINY)
    assert json.loads(str(r["measurement"]))["every"] == 20
    assert float(r["seconds"]) >= float(r["seconds_train"]) + float(r["seconds_measure"]) - 1e-9
    assert 0 <= float(r["test_accuracy"]) <= 1


def test_overlap_is_clv_flossing_part_b(m, monkeypatch):
    """The measurement is clv_flossing.py's part B (same network, same numbers)."""
    clv = load("clv_flossing", monkeypatch)
    demo = dict(clv.DEMO, N=6, T=30, delay=4, k=3, floss_epochs=2, floss_at=(0, 10))
    monkeypatch.setattr(clv, "DEMO", demo)
    angle, angle_random, acc = clv.part_b("during", 20)
    trained = Run(TrainConfig(protocol="during", seed=0, **dict(demo, epochs=20))).train()
    batch = m.fixed_sequences(trained.task, MEASURE)
    cos, cos_random, _ = m.overlap(trained.model, trained.task.loss, batch, m.random_directions(MEASURE, 6), MEASURE)
    np.testing.assert_allclose(np.degrees(np.arccos(cos)), angle, rtol=0, atol=1e-10)
    np.testing.assert_allclose(np.degrees(np.arccos(cos_random)), angle_random, rtol=0, atol=1e-10)


# ---- the criterion on hand-made inputs ------------------------------------------------------

def test_t_acc_is_the_start_of_the_first_block_above_chance(m):
    assert m.t_acc([0.5] * 30 + [0.56, 0.5, 0.9]) == 300
    assert m.t_acc([0.5, 0.55, 0.549] * 10) is None      # 0.55 is not above chance
    assert m.t_acc([0.6, 0.5]) == 0
    assert m.t_acc([]) is None


EPOCHS = np.arange(0, 3001, 20)


def step_curve(t, low=0.1, high=0.3):
    return np.where(EPOCHS < t, low, high)


def test_windows_and_rise_on_a_hand_made_curve(m):
    v = m.rise(EPOCHS, step_curve(300), 300)
    assert v["status"] == "rises" and v["rises"]
    assert (v["n_before"], v["n_after"]) == (10, 10)          # [100, 300) and [300, 500), every 20
    assert v["before"] == pytest.approx(0.1) and v["after"] == pytest.approx(0.3) and v["ratio"] == pytest.approx(3)
    assert m.rise(EPOCHS, step_curve(300, 0.1, 0.19), 300)["status"] == "no rise"
    assert m.rise(EPOCHS, step_curve(300, 0.1, 0.2), 300)["status"] == "rises"      # exactly twice
    # t_acc on a 10-epoch block between measurements: [110, 310) holds 120 .. 300, [310, 510) 320 .. 500
    v = m.rise(EPOCHS, step_curve(310), 310)
    assert (v["n_before"], v["n_after"]) == (10, 10) and v["status"] == "rises"
    # a rise long before t_acc is outside the before-window: no rise
    assert m.rise(EPOCHS, step_curve(100), 1000)["status"] == "no rise"


def test_short_windows_use_what_is_there_or_are_not_measurable(m):
    v = m.rise(EPOCHS, step_curve(50), 50)                       # before: 0, 20, 40
    assert (v["n_before"], v["status"]) == (3, "rises")
    v = m.rise(EPOCHS, step_curve(40), 40)                       # before: 0, 20
    assert (v["n_before"], v["status"], v["rises"]) == (2, "not measurable", False)
    assert m.rise(EPOCHS, step_curve(0), 0)["status"] == "not measurable"
    v = m.rise(EPOCHS, step_curve(2900), 2900)                   # after: 2900 .. 3000
    assert (v["n_after"], v["status"]) == (6, "rises")
    assert m.rise(EPOCHS, step_curve(2980), 2980)["status"] == "not measurable"  # after: 2980, 3000
    holes = step_curve(300)
    holes[(EPOCHS >= 100) & (EPOCHS < 260)] = np.nan             # before: only 260, 280 are finite
    v = m.rise(EPOCHS, holes, 300)
    assert (v["n_before"], v["status"]) == (2, "not measurable")
    v = m.rise(EPOCHS, step_curve(300), None)
    assert (v["status"], v["rises"], v["n_before"]) == ("never left chance", False, 0)


def test_the_grade_for_all_three_outcomes(m):
    R, N, U, C = "rises", "no rise", "not measurable", "never left chance"

    def nets(none, during):
        return [("none", s) for s in none] + [("during", s) for s in during]

    per, verdict = m.grade(nets([R, R, N], [R, R, R]))
    assert verdict == "reproduced" and per["none"] == (True, 3, 2, 3) and per["during"] == (True, 3, 3, 3)
    per, verdict = m.grade(nets([R, C, C], [R, R, C]))          # none: only one leaves chance
    assert verdict == "partly" and per["none"][:3] == (False, 1, 1) and per["during"][:3] == (True, 2, 2)
    per, verdict = m.grade(nets([R, N, U], [R, R, N]))          # none: 1 of 3 rises ("not measurable" does not)
    assert verdict == "partly" and per["none"][:3] == (False, 3, 1) and per["during"][0]
    assert m.grade(nets([R, N, C], [R, U, C]))[1] == "not reproduced"   # 1 of 2 in each
    assert m.grade(nets([C, C, C], [C, C, C]))[1] == "not reproduced"   # none leaves chance
    assert m.grade(nets([R, R, R], []))[1] == "partly"                  # a protocol without networks fails


# ---- the script ------------------------------------------------------------------------------

@pytest.mark.parametrize("argv, option", [
    (["--every", "0"], "--every"), (["--every", "67"], "--every"), (["--delay", "21"], "--delay"),
    (["--delay", "100"], "--delay"), (["--seeds", "0"], "--seeds"), (["--jobs", "-1"], "--jobs"),
    (["--paper"], "--paper"), (["--delay", "x"], "--delay")])
def test_bad_options_are_refused_naming_them(m, capsys, argv, option):
    with pytest.raises(SystemExit) as exc:
        m.parse_args(argv)
    assert exc.value.code == 2 and option in capsys.readouterr().err


def test_help_says_quick_is_the_only_size(m, capsys):
    with pytest.raises(SystemExit):
        m.parse_args(["--help"])
    assert "paper scale not implemented" in " ".join(capsys.readouterr().out.split())


def test_script_runs_end_to_end_at_a_tiny_size_and_resumes(m, monkeypatch, tmp_path):
    monkeypatch.setitem(m.SCALE, "quick", dict(
        base=dict(task="binary_xor", N=6, T=24, batch=4, epochs=40, k=3, floss_epochs=2, floss_T=8,
                  floss_transient=2, floss_at=(0, 20), diag_every=0, test_batch=8),
        seeds=2, measure=dict(t0=30, tail=20, sequences=8, k_clv=3)))
    monkeypatch.chdir(tmp_path)
    argv = ["--quick", "--seeds", "2", "--delay", "4", "--every", "10", "--jobs", "0", "--results",
            str(tmp_path / "results")]
    code, out = run(m, argv)
    assert code == 0, out
    assert "verdict (App. D overlap criterion): " in out and "note: the criterion was fixed" in out
    for suffix in ("txt", "csv", "png"):                  # --out defaults to --results
        assert (tmp_path / "results" / f"appD_clv_overlap_quick.{suffix}").exists()
    txt = (tmp_path / "results" / "appD_clv_overlap_quick.txt").read_text()
    assert txt.startswith("floss_ref ")                   # the provenance line first
    with open(tmp_path / "results" / "appD_clv_overlap_quick.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["protocol"], r["seed"]) for r in rows] == [("none", "0"), ("none", "1"), ("during", "0"),
                                                          ("during", "1")]
    assert sorted(p.name for p in (tmp_path / "results").glob("*.npz")) == sorted(
        f"binary_xor_d4_{p}_N6_s{s}_every10.npz" for p in ("none", "during") for s in (0, 1))
    code, again = run(m, argv)                            # resumes: nothing is run again
    assert code == 0 and "4 of 4 tasks already done" in again
    def table(text):   # the per-network lines and the verdict, the same from the saved results
        return [line for line in text.splitlines() if line.split()[:1] in (["none"], ["during"], ["verdict"])]
    assert table(again) == table(out) and len(table(out)) == 5
