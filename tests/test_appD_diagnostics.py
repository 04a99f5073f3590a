"""validation/paper/appD_diagnostics.py: the per-network numbers of the paper-scale criterion
(spikes of abs(dL/dh_0) after the episodes, peaks of sigma_i at them, the late medians) and
the two parts of the criterion, on histories built by hand whose answers are known."""

import numpy as np
import pytest
from script_runner import load

EPISODES = (0, 100, 200, 300, 400)
SV = (1, 20, 40)
EPOCHS = 1000


@pytest.fixture
def m(monkeypatch):
    return load("appD_diagnostics", monkeypatch)


def history(spike_after=EPISODES, peak=3.0, peak_1=1.1, late_h0=1e-7, ratio=0.05, sigma_1=1.0):
    """abs(dL/dh_0) 1e-4 everywhere, 0.05 at the epoch after each episode in ``spike_after``,
    ``late_h0`` from epoch 500; singular values every 20 epochs, sigma_i = sigma_1 / i but
    sigma_40 = ``ratio`` * sigma_1, multiplied at the episodes of epochs 100-400 by ``peak``
    (i > 1) and ``peak_1`` (i = 1)."""
    h0 = np.full(EPOCHS, 1e-4)
    for e in spike_after:
        h0[e + 1] = 0.05
    h0[500:] = late_h0
    diag = np.arange(0, EPOCHS, 20)
    sigma = np.tile(sigma_1 / np.arange(1, 81, dtype=float), (diag.size, 1))
    sigma[:, 39] = ratio * sigma_1
    for j, e in enumerate(diag):
        if e in EPISODES[1:]:
            sigma[j, 0] *= peak_1
            sigma[j, 1:] *= peak
    return {"history/h0_grad_norm": h0, "history/diag_epochs": diag, "history/grad_W_sv": sigma}


def test_episode_measures_read_what_was_built(m):
    got = m.episode_measures(history(spike_after=(0, 200, 400), peak=3.0, peak_1=1.1), EPISODES, SV)
    assert got["spikes"] == 3 and got["episodes"] == 5
    assert got["median_h0_after_500"] == pytest.approx(1e-7)
    assert got["peak_sigma_1"] == pytest.approx(1.1)
    assert got["peak_sigma_20"] == pytest.approx(3.0) and got["peak_sigma_40"] == pytest.approx(3.0)
    assert got["median_sigma_1_before_1000"] == pytest.approx(1.0)     # the 4 peaked epochs of 50 leave the median
    assert got["median_sigma_40_over_sigma_1_before_1000"] == pytest.approx(0.05)


def test_a_spike_must_exceed_1e_2_within_20_epochs_of_its_episode_and_rise_tenfold(m):
    h = history(spike_after=())
    h["history/h0_grad_norm"][100 + 20] = 0.05       # one epoch too late
    h["history/h0_grad_norm"][200 + 19] = 0.01       # not above 1e-2
    h["history/h0_grad_norm"][300 + 19] = 0.0101     # in time and above
    h["history/h0_grad_norm"][380:400] = 0.002       # before episode 400 already at 0.002: 0.015 is no tenfold rise
    h["history/h0_grad_norm"][405] = 0.015
    assert m.episode_measures(h, EPISODES, SV)["spikes"] == 1
    h["history/h0_grad_norm"][405] = 0.021           # ten times 0.002 and more: a spike
    assert m.episode_measures(h, EPISODES, SV)["spikes"] == 2


def test_each_episode_is_a_spike_low_or_flat(m):
    h0 = history(spike_after=())["history/h0_grad_norm"]
    h0[101] = 0.05                 # after epoch 100: above 1e-2, 500 times the 1e-4 before
    h0[205] = 0.008                # after epoch 200: not above 1e-2
    h0[280:300] = 0.004            # before epoch 300 already at 0.004: 0.02 is a fivefold rise
    h0[301] = 0.02
    got = m.episode_spikes(h0, EPISODES)
    assert [kind for kind, _, _ in got] == ["low", "spike", "low", "flat", "low"]
    assert got[1][1] == pytest.approx(0.05) and got[1][2] == pytest.approx(500)
    assert got[2][1] == pytest.approx(0.008)
    assert got[3][2] == pytest.approx(5.0)
    assert got[0][2] == float("inf")          # nothing before the episode at epoch 0
    assert m.episode_spikes(h0[:250], EPISODES) == got[:3]   # episodes beyond the history are left out


def test_a_step_that_stays_is_not_a_peak(m):
    h = history(peak=1.0, peak_1=1.0)
    sigma, diag = h["history/grad_W_sv"], h["history/diag_epochs"]
    sigma[diag >= 300, 1:] *= 3.0                    # a step up at the episode of epoch 300, kept
    got = m.episode_measures(h, EPISODES, SV)
    assert got["peak_sigma_20"] == pytest.approx(1.0) and got["peak_sigma_40"] == pytest.approx(1.0)


def test_runs_shorter_than_500_epochs_give_nan_for_the_median_after_500(m):
    h = {k: v[:300] if k != "history/diag_epochs" else v[v < 300] for k, v in history().items()}
    h["history/grad_W_sv"] = h["history/grad_W_sv"][:h["history/diag_epochs"].size]
    got = m.episode_measures(h, EPISODES, SV)
    assert np.isnan(got["median_h0_after_500"]) and got["median_sigma_1_before_1000"] == pytest.approx(1.0)
    assert got["spikes"] == 3 and got["peak_sigma_20"] == pytest.approx(3.0)   # episodes 0, 100, 200 in range


def rows(m, during, none):
    header = ["protocol", "seed", *m.episode_measures(history(), EPISODES, SV), "test_accuracy"]
    out = []
    for protocol, hists in (("during", during), ("none", none)):
        for seed, h in enumerate(hists):
            out.append([protocol, seed, *m.episode_measures(h, EPISODES, SV).values(), 0.5])
    return header, out


def flossed(n=10, **kw):
    return [history(**kw) for _ in range(n)]


def unflossed(n=10, **kw):
    kw = {"spike_after": (), "peak": 1.0, "peak_1": 1.0, "late_h0": 1e-8, "ratio": 1e-4, "sigma_1": 0.5, **kw}
    return [history(**kw) for _ in range(n)]


def verdict(m, during, none):
    header, r = rows(m, during, none)
    return [ok for _, ok, _ in m.paper_criterion(header, r, SV)]


def test_the_criterion_holds_where_the_paper_describes_the_networks(m):
    assert verdict(m, flossed(), unflossed()) == [True, True]


def test_fig8_fails_with_three_of_ten_flossed_networks_without_spikes_or_large_late_gradients_without(m):
    assert verdict(m, flossed(7) + flossed(3, spike_after=(0, 100)), unflossed()) == [False, True]
    assert verdict(m, flossed(8) + flossed(2, spike_after=(0, 100)), unflossed()) == [True, True]
    assert verdict(m, flossed(), unflossed(7) + unflossed(3, late_h0=2e-6)) == [False, True]


@pytest.mark.parametrize("change", [
    dict(during=dict(peak=1.9)),                   # subordinate peaks below 2
    dict(during=dict(peak=3.0, peak_1=2.5)),       # sigma_1 peaks more than slightly (x2 or more)
    dict(none=dict(ratio=0.006)),                  # unflossed sigma_40/sigma_1 not 10 times smaller
    dict(none=dict(sigma_1=20.0)),                 # sigma_1 not within a factor 10
])
def test_fig10_fails_when_one_of_its_conditions_fails(m, change):
    assert verdict(m, flossed(**change.get("during", {})), unflossed(**change.get("none", {}))) == [True, False]
