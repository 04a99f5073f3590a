"""validation/paper/appD_clv_overlap.py: the overlap of dL/dh_t0 with the first covariant
vector over training (App. D).  Measuring leaves training bit for bit as it was, the
measurement is clv_flossing.py's part B, the default (--score-from t0) is the measurement as
it was before the option, --score-from t0+d leaves the first d tail steps unscored, and the
criterion (t_acc, the windows, the grade) and the second grade (peak) on hand-made inputs;
end-to-end runs at a tiny size."""

import csv
import json

import numpy as np
import pytest
from script_runner import load, run

from floss_ref.core.clv import covariant_vectors
from floss_ref.errors import NumericalBreakdownError
from floss_ref.experiments.bptt import Model, forward, loss_and_grad
from floss_ref.experiments.tasks import TaskBatch
from floss_ref.runs.run import Run, TrainConfig

TINY = dict(task="binary_xor", delay=4, N=8, T=24, batch=4, epochs=40, k=4, floss_epochs=3, floss_T=12,
            floss_transient=2, floss_at=(0, 20), diag_every=10, test_batch=8)
MEASURE = dict(t0=100, tail=100, sequences=64, k_clv=3)   # the criterion's measurement
SMALL = dict(t0=30, tail=20, sequences=8, k_clv=3)        # a smaller one, for speed


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


# ---- --score-from: the default as before, t0+d masks the first d tail steps ------------------

def overlap_before_the_option(model, loss, batch, random, measure):
    """``overlap`` as it was before --score-from (verbatim but for the name)."""
    t0, tail = measure["t0"], measure["tail"]
    S = batch.xs.shape[1]
    if model.h0.ndim != 1:
        raise ValueError("the measurement needs one initial state shared by the batch (h0_mode 'shared')")
    hs, _ = model.cell.run(model.h0, batch.xs[:t0])
    h_t0 = hs[t0 - 1]
    tail_batch = TaskBatch(xs=batch.xs[t0:], ys=batch.ys[t0:], mask=batch.mask[t0:])
    shifted = Model(model.cell, model.w_out, model.offset, h_t0)
    grad = loss_and_grad(shifted, tail_batch, loss).grads["h0"]
    clv = covariant_vectors(model.cell, np.broadcast_to(model.h0, (S, model.h0.shape[-1])), batch.xs,
                            k=measure["k_clv"], times=[t0], transient=t0, transient_backward=tail - 1, seed=0)
    v1 = clv.vectors[0, :, :, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.abs(np.sum(grad * v1, axis=-1)) / np.linalg.norm(grad, axis=-1)
    cos_random = np.abs(np.sum(random * v1, axis=-1)) / np.linalg.norm(random, axis=-1)
    return cos, cos_random, clv.rates[:, 0]


def measured_before_the_option(m, config, every, measure):
    """``measured_run``'s measurements as they were before --score-from."""
    run = Run(config)
    batch = m.fixed_sequences(run.task, measure)
    random = m.random_directions(measure, run.model.cell.state_size)
    epochs = np.arange(0, config.epochs + 1, every)
    out = {k: np.full(epochs.size, np.nan) for k in ("overlap", "overlap_q25", "overlap_q75", "overlap_random",
                                                     "rate_v1")}
    for i, e in enumerate(epochs):
        run.train(until=int(e), blas_threads=None)
        try:
            cos, cos_random, rate = overlap_before_the_option(run.model, run.task.loss, batch, random, measure)
        except NumericalBreakdownError:
            continue
        if np.any(np.isfinite(cos)):
            out["overlap"][i] = np.nanmedian(cos)
            out["overlap_q25"][i], out["overlap_q75"][i] = np.nanpercentile(cos, [25, 75])
        out["overlap_random"][i] = np.median(cos_random)
        out["rate_v1"][i] = np.median(rate)
    run.train(blas_threads=None)
    return dict(out, epochs=epochs, test_accuracy=np.asarray(float(run.history["test_accuracy"])))


@pytest.mark.parametrize("protocol", ["none", "during"])
def test_the_default_is_the_measurement_of_before_bit_for_bit(m, protocol):
    config = TrainConfig(protocol=protocol, **TINY)
    expected = measured_before_the_option(m, config, 10, SMALL)
    params = dict(config.to_dict(), every=10, measure=SMALL)
    results = [m.network_result(params), m.network_result(dict(params, score_from="t0"))]
    for r in results:
        for key, want in expected.items():
            assert r[key].dtype == want.dtype and r[key].shape == want.shape, key
            np.testing.assert_array_equal(r[key], want, err_msg=key)
    for key in results[0]:
        if not key.startswith("seconds"):
            np.testing.assert_array_equal(results[0][key], results[1][key], err_msg=key)
    assert "score_from" not in json.loads(str(results[0]["measurement"]))   # the record as before


def test_tasks_of_the_default_are_those_of_before_and_t0d_is_apart(m):
    before = m.tasks_for(3, 20, 20)
    assert before == m.tasks_for(3, 20, 20, "t0")
    assert [t.name for _, _, t in before] == [f"binary_xor_d20_{p}_N32_s{s}_every20"
                                             for p in ("none", "during") for s in range(3)]
    assert all("score_from" not in t.params for _, _, t in before)
    after = m.tasks_for(3, 20, 20, "t0+d")
    for (p, s, a), (q, r, b) in zip(before, after):
        assert (p, s) == (q, r) and b.name == a.name + "_from-t0d" and b.params == dict(a.params, score_from="t0+d")
    with pytest.raises(ValueError, match="score_from"):
        m.tasks_for(3, 20, 20, "t1")


@pytest.fixture
def tail_setup(m):
    run = Run(TrainConfig(protocol="none", **TINY)).train(until=10)
    batch = m.fixed_sequences(run.task, SMALL)
    return run, batch


def test_t0d_masks_the_first_d_tail_steps(m, tail_setup):
    run, batch = tail_setup
    d = m.unscored_steps(run.task, "t0+d")
    assert d == run.task.first_scored == TINY["delay"] and m.unscored_steps(run.task, "t0") == 0
    t0 = SMALL["t0"]
    _, default = m.tail_problem(run.model, batch, SMALL)
    np.testing.assert_array_equal(default.mask, batch.mask[t0:])
    assert default.mask.all()                                 # t0 >= d: the task scores every tail step
    shifted, tail = m.tail_problem(run.model, batch, SMALL, d)
    np.testing.assert_array_equal(tail.mask, np.arange(SMALL["tail"]) >= d)
    assert batch.mask[t0:].all()                              # the batch itself is left as it was
    # the loss with t0+d: binary cross-entropy on the logits, averaged over the tail steps >= d only
    z, y = forward(shifted, tail)[d:], tail.ys[d:]
    by_hand = np.mean(np.logaddexp(0.0, z) - y * z)
    assert loss_and_grad(shifted, tail, "bce").loss == pytest.approx(by_hand, rel=1e-12, abs=0)
    with pytest.raises(ValueError, match="unscored"):
        m.tail_problem(run.model, batch, SMALL, SMALL["tail"])


def test_t0d_gradient_ignores_the_targets_of_the_first_d_tail_steps(m, tail_setup):
    run, batch = tail_setup
    d, t0 = run.task.first_scored, SMALL["t0"]
    ys = batch.ys.copy()
    ys[t0:t0 + d] = 1.0 - ys[t0:t0 + d]                       # other targets at the unscored tail steps
    other = TaskBatch(xs=batch.xs, ys=ys, mask=batch.mask)
    random = m.random_directions(SMALL, run.model.cell.state_size)

    def grad(b, unscored):
        shifted, tail = m.tail_problem(run.model, b, SMALL, unscored)
        return loss_and_grad(shifted, tail, "bce").grads["h0"]

    np.testing.assert_array_equal(grad(batch, d), grad(other, d))
    assert not np.allclose(grad(batch, 0), grad(other, 0))   # scored from t0 they do count
    cos = m.overlap(run.model, "bce", batch, random, SMALL, d)[0]
    np.testing.assert_array_equal(cos, m.overlap(run.model, "bce", other, random, SMALL, d)[0])
    assert not np.allclose(cos, m.overlap(run.model, "bce", batch, random, SMALL)[0])


def test_network_result_records_t0d(m):
    params = dict(TrainConfig(protocol="none", **TINY).to_dict(), every=20, measure=SMALL, score_from="t0+d")
    r = m.network_result(params)
    record = json.loads(str(r["measurement"]))
    assert record["score_from"] == "t0+d" and record["unscored_tail_steps"] == TINY["delay"]
    assert np.all((r["overlap"] >= 0) & (r["overlap"] <= 1))


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


# ---- the second grade, peak, on hand-made inputs ---------------------------------------------

def bump(at, low=0.1, high=0.3):
    """A flat curve with one measurement raised at epoch ``at``."""
    return np.where(EPOCHS == at, high, low)


FLAT_RANDOM = np.full(EPOCHS.size, 0.1)


def test_peak_counts_on_a_hand_made_curve(m):
    v = m.peak(EPOCHS, bump(1000), FLAT_RANDOM, 1000)
    assert v["status"] == "peaks" and v["counts"] and v["peak_epoch"] == 1000 and v["n"] == 5   # 960 .. 1040
    assert v["peak"] == pytest.approx(0.3) and v["median"] == pytest.approx(0.1)
    assert v["ratio_median"] == pytest.approx(3) and v["ratio_random"] == pytest.approx(3)
    for at in (960, 1040):                                     # the window's edges: |e - t_acc| <= 50
        assert m.peak(EPOCHS, bump(at), FLAT_RANDOM, 1010 if at == 1040 else 1000)["counts"]
    assert m.peak(EPOCHS, bump(1000, high=0.2), FLAT_RANDOM, 1000)["status"] == "peaks"   # exactly twice
    # the peak is the highest measurement in the window, wherever the window sits on the grid
    curve = bump(1000)
    curve[EPOCHS == 980] = 0.5
    v = m.peak(EPOCHS, curve, FLAT_RANDOM, 990)
    assert (v["peak"], v["peak_epoch"], v["n"]) == (0.5, 980, 6)   # 940 .. 1040


def test_peak_does_not_count(m):
    v = m.peak(EPOCHS, bump(1000, high=0.19), FLAT_RANDOM, 1000)           # < 2 x the median
    assert (v["status"], v["counts"]) == ("no peak", False) and v["ratio_median"] == pytest.approx(1.9)
    v = m.peak(EPOCHS, bump(1000), np.full(EPOCHS.size, 0.25), 1000)       # 3 x median, but 1.2 x random
    assert v["status"] == "no peak" and v["ratio_median"] == pytest.approx(3)
    assert v["ratio_random"] == pytest.approx(1.2)
    exact = m.peak(EPOCHS, bump(1000, 0.125, 0.375), np.full(EPOCHS.size, 0.25), 1000)   # exactly 1.5 x random
    assert exact["status"] == "peaks" and exact["ratio_random"] == 1.5
    assert m.peak(EPOCHS, bump(1060), FLAT_RANDOM, 1000)["status"] == "no peak"   # 60 epochs off: outside
    raised = np.where(EPOCHS >= 1000, 0.3, 0.1)                # a lasting step: the median over all rises too
    assert m.peak(EPOCHS, raised, FLAT_RANDOM, 1000)["status"] == "no peak"
    holes = bump(1000)
    holes[np.abs(EPOCHS - 1000) <= 50] = np.nan
    v = m.peak(EPOCHS, holes, FLAT_RANDOM, 1000)
    assert (v["status"], v["counts"], v["n"]) == ("not measurable", False, 0)
    v = m.peak(EPOCHS, bump(1000), FLAT_RANDOM, None)
    assert (v["status"], v["counts"]) == ("never left chance", False) and np.isnan(v["peak"])


def test_the_peak_grade(m):
    P, N, U, C = "peaks", "no peak", "not measurable", "never left chance"

    def nets(none, during):
        return [("none", s) for s in none] + [("during", s) for s in during]

    per, verdict = m.grade(nets([P, P, N], [P, P, P]), hit="peaks")
    assert verdict == "reproduced" and per["none"] == (True, 3, 2, 3) and per["during"] == (True, 3, 3, 3)
    per, verdict = m.grade(nets([P, C, C], [P, P, C]), hit="peaks")   # none: fewer than 2 leave chance
    assert verdict == "partly" and per["none"][:3] == (False, 1, 1) and per["during"][:3] == (True, 2, 2)
    per, verdict = m.grade(nets([P, C, C], [C, C, C]), hit="peaks")
    assert verdict == "not reproduced" and per["during"][:3] == (False, 0, 0)
    assert m.grade(nets([P, N, U], [P, U, C]), hit="peaks")[1] == "not reproduced"   # 1 of 3, 1 of 2
    # the statuses of one grade never count for the other
    assert m.grade(nets([P, P, P], [P, P, P]))[1] == "not reproduced"
    assert m.grade(nets(["rises"] * 3, ["rises"] * 3), hit="peaks")[1] == "not reproduced"


# ---- the script ------------------------------------------------------------------------------

@pytest.mark.parametrize("argv, option", [
    (["--every", "0"], "--every"), (["--every", "67"], "--every"), (["--delay", "21"], "--delay"),
    (["--delay", "100"], "--delay"), (["--seeds", "0"], "--seeds"), (["--jobs", "-1"], "--jobs"),
    (["--paper"], "--paper"), (["--delay", "x"], "--delay"), (["--score-from", "t1"], "--score-from")])
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
    assert "loss of the 20 steps after t0 (--score-from t0)" in out and "scores from t0 + d" not in out
    # the first grade is printed first, then the second (peak), named as written after the figure was seen
    second = "second grade (peak, written after the first (t0) measurement's figure was seen): "
    assert out.index("verdict (App. D overlap criterion): ") < out.index(second)
    assert out.split(second)[1].split()[0] in ("reproduced", "partly", "not")
    for suffix in ("txt", "csv", "png"):                  # --out defaults to --results
        assert (tmp_path / "results" / f"appD_clv_overlap_quick.{suffix}").exists()
    txt = (tmp_path / "results" / "appD_clv_overlap_quick.txt").read_text()
    assert txt.startswith("floss_ref ")                   # the provenance line first
    with open(tmp_path / "results" / "appD_clv_overlap_quick.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["protocol"], r["seed"]) for r in rows] == [("none", "0"), ("none", "1"), ("during", "0"),
                                                          ("during", "1")]
    assert list(rows[0])[-7:] == ["peak", "peak_epoch", "overlap_median_all", "random_median_all",
                                  "peak_over_median", "peak_over_random", "peak_status"]
    assert list(rows[0])[:15] == ["protocol", "seed", "test_accuracy", "t_acc", "n_before", "n_after",
                                  "overlap_before", "overlap_after", "ratio", "random_before", "random_after",
                                  "status", "seconds", "seconds_train", "seconds_measure"]
    assert sorted(p.name for p in (tmp_path / "results").glob("*.npz")) == sorted(
        f"binary_xor_d4_{p}_N6_s{s}_every10.npz" for p in ("none", "during") for s in (0, 1))
    code, again = run(m, argv)                            # resumes: nothing is run again
    assert code == 0 and "4 of 4 tasks already done" in again
    def table(text):   # the per-network lines and the verdict, the same from the saved results
        return [line for line in text.splitlines() if line.split()[:1] in (["none"], ["during"], ["verdict"])]
    assert table(again) == table(out) and len(table(out)) == 5
    # --score-from t0+d in the same results directory: other names and params, nothing mixed
    code, t0d = run(m, argv + ["--score-from", "t0+d", "--out", str(tmp_path / "t0d")])
    assert code == 0, t0d
    assert "already done" not in t0d                           # none of the t0 results is taken
    assert "--score-from t0+d: the first d = 4 of the 20 steps after t0 unscored" in t0d
    assert "scores from t0 + d (--score-from t0+d)" in t0d
    assert sorted(p.name for p in (tmp_path / "results").glob("*_from-t0d.npz")) == sorted(
        f"binary_xor_d4_{p}_N6_s{s}_every10_from-t0d.npz" for p in ("none", "during") for s in (0, 1))
    manifest = json.loads((tmp_path / "results" / "manifest.json").read_text())
    assert {n: t["params"].get("score_from") for n, t in manifest["tasks"].items()} == {
        f"binary_xor_d4_{p}_N6_s{s}_every10{x}": v for p in ("none", "during") for s in (0, 1)
        for x, v in (("", None), ("_from-t0d", "t0+d"))}
    assert (tmp_path / "t0d" / "appD_clv_overlap_quick.png").exists()
