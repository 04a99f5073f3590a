"""validation/bench/bench_floor.py: its minimal-glue floors compute what floss_ref computes (so
that their timings are timings of the same maths) (its run without JAX and its
refusals of bad options are tested with bench_vs_jax's in tests/test_bench_vs_jax.py)."""

import importlib
import os
import pathlib
import sys

import numpy as np
import pytest

from floss_ref import VanillaRNN, flossing_grad
from floss_ref.experiments.bptt import Model, Workspace, loss_and_grad
from floss_ref.core.lyapunov import random_orthonormal
from floss_ref.experiments.tasks import TaskBatch

VALIDATION = pathlib.Path(__file__).resolve().parents[1] / "validation"


@pytest.fixture
def floor(monkeypatch):
    monkeypatch.syspath_prepend(str(VALIDATION))
    monkeypatch.syspath_prepend(str(VALIDATION / "independent"))   # _jax_cells
    monkeypatch.syspath_prepend(str(VALIDATION / "bench"))
    monkeypatch.setenv("XLA_FLAGS", os.environ.get("XLA_FLAGS", ""))   # bench_vs_jax appends to it
    for name in ("bench_floor", "bench_vs_jax"):
        sys.modules.pop(name, None)
    return importlib.import_module("bench_floor")


def _relmax(a, b):
    return np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(np.asarray(b)))


@pytest.mark.parametrize("N, k, ensemble", [(7, 7, ()), (9, 4, ()), (6, 3, (3,))])
def test_flossing_floors_equal_floss_ref(floor, N, k, ensemble):
    rng = np.random.default_rng(0)
    net = VanillaRNN.random(N, 1, 1.2, ensemble=ensemble, seed=rng)
    h0 = 0.5 * rng.standard_normal(ensemble + (N,))
    xs = rng.standard_normal((25,) + ensemble + (1,))
    Q0 = random_orthonormal(N, k, ensemble, rng)
    ref = flossing_grad(net, h0, xs, k=k, t_ons=1, Q0=Q0)
    p = net.params
    if ensemble:
        runs = [floor.floss_floor_batch(p["W"], p["V"], p["b"], h0, xs, Q0, per_network_qr=per)
                for per in (False, True)]
    else:
        runs = [floor.floss_floor_one(p["W"], p["V"], p["b"], h0, xs, np.asfortranarray(Q0))]
    for L, lam, grads, h0_bar in runs:
        assert _relmax(L, ref.loss) <= 1e-12
        assert _relmax(lam, ref.exponents) <= 1e-12
        assert _relmax(h0_bar, ref.h0_bar) <= 1e-10
        for name in ("W", "V", "b"):
            assert _relmax(grads[name], ref.grads[name]) <= 1e-10, name


def test_bptt_floor_equals_floss_ref(floor):
    rng = np.random.default_rng(1)
    cell = VanillaRNN.random(10, 2, 1.0, seed=rng)
    model = Model.random(cell, seed=rng)
    T, B = 30, 4
    xs = rng.standard_normal((T, B, 2))
    ys = (rng.uniform(size=(T, B)) < 0.5).astype(float)
    mask = np.arange(T) >= 5
    batch = TaskBatch(xs=xs, ys=ys, mask=mask)
    ref = loss_and_grad(model, batch, "bce", Workspace())
    p = model.params
    L, grads = floor.bptt_floor(p["W"], p["V"], p["b"], p["w_out"], float(p["offset"]), p["h0"], xs, ys,
                                mask.astype(float))
    assert _relmax(L, ref.loss) <= 1e-13
    for name, g in ref.grads.items():
        assert _relmax(grads[name], g) <= 1e-12, name
