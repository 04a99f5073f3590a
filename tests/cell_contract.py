"""Checks every cell of floss_ref.core.cells must pass: the differentiable-map protocol.

The protocol (floss_ref/maps.py) is ``step``, ``tangent``, their pullbacks ``step_vjp``,
``tangent_vjp`` and their tangent rules ``step_jvp``, ``tangent_jvp``.  The checks come at
the first two levels of gradient checks (docs/derivations.md, section 1):

- dot-product tests, <u, jvp(v)> = <vjp(u), v> for random u, v: pullback against tangent
  rule, exact up to round-off (rel 1e-12);
- central differences on one step: the tangent rules or the pullbacks against the
  forward code itself, and ``tangent`` against the Jacobian of ``step``.

Shapes: ``h : (*S, n)`` with n = ``net.state_size`` (N, or 2N for the LSTM's (h, c)),
``x : (*S, d)`` or None, ``Q : (*S, n, k)``.  ``perturbed(net, p_dot, eps)`` is the cell
with parameters ``params + eps * p_dot`` (a copy; ``net`` is left alone).  Each test file
keeps its own cases and cell-specific checks and calls these with its own ``net``.

pytest rewrites asserts only in test files and conftest.py, so the asserts here carry the
compared values as their message.
"""

import numpy as np
import pytest

from conftest import inner, random_like_params

INPUT_WEIGHT = "V"   # every cell names its input weight V: no input, no cotangent for it


# ---- dot-product tests: pullback vs tangent rule ---------------------------------------

def check_step_dot_product(net, h, x, rng):
    """<h_next_bar, step_jvp(h_dot, p_dot)> = <step_vjp(h_next_bar), (h_dot, p_dot)>,
    and the cotangents have the shapes of what they belong to: h_bar like h, and
    params_bar holds every parameter but V when x is None, each shaped like it."""
    h_next, cache = net.step(h, x)
    h_dot, p_dot = rng.standard_normal(h.shape), random_like_params(net.params, rng)
    out_bar = rng.standard_normal(h_next.shape)
    lhs = inner(out_bar, net.step_jvp(cache, h_dot, p_dot))
    h_bar, p_bar = net.step_vjp(cache, out_bar)
    rhs = inner(h_bar, h_dot) + inner(p_bar, p_dot)
    assert lhs == pytest.approx(rhs, rel=1e-12), (lhs, rhs)
    assert h_bar.shape == h.shape, (h_bar.shape, h.shape)
    assert set(p_bar) == set(net.params) - ({INPUT_WEIGHT} if x is None else set()), sorted(p_bar)
    for name, g in p_bar.items():
        assert g.shape == net.params[name].shape, name


def check_tangent_dot_product(net, h, x, Q, rng):
    """<Q~_bar, tangent_jvp(h_dot, Q_dot, p_dot)> = <tangent_vjp(Q~_bar), (h_dot, Q_dot, p_dot)>,
    and h_bar, Q_bar and each entry of params_bar are shaped like h, Q and that parameter."""
    _, cache = net.step(h, x)
    h_dot, Q_dot = rng.standard_normal(h.shape), rng.standard_normal(Q.shape)
    p_dot = random_like_params(net.params, rng)
    out_bar = rng.standard_normal(Q.shape)
    lhs = inner(out_bar, net.tangent_jvp(cache, Q, h_dot, Q_dot, p_dot))
    h_bar, Q_bar, p_bar = net.tangent_vjp(cache, Q, out_bar)
    rhs = inner(h_bar, h_dot) + inner(Q_bar, Q_dot) + inner(p_bar, p_dot)
    assert lhs == pytest.approx(rhs, rel=1e-12), (lhs, rhs)
    assert h_bar.shape == h.shape and Q_bar.shape == Q.shape, (h_bar.shape, Q_bar.shape)
    for name, g in p_bar.items():
        assert g.shape == net.params[name].shape, name


# ---- central differences: tangent rules against the forward code -----------------------

def check_step_jvp_central_differences(net, h, x, rng, perturbed):
    """step_jvp(h_dot, p_dot) = d/de step(h + e h_dot; p + e p_dot) at e = 0, elementwise."""
    _, cache = net.step(h, x)
    h_dot, p_dot = rng.standard_normal(h.shape), random_like_params(net.params, rng)
    eps = 1e-6
    plus = perturbed(net, p_dot, eps).step(h + eps * h_dot, x)[0]
    minus = perturbed(net, p_dot, -eps).step(h - eps * h_dot, x)[0]
    np.testing.assert_allclose((plus - minus) / (2 * eps), net.step_jvp(cache, h_dot, p_dot), rtol=1e-6, atol=1e-8)


def check_tangent_jvp_central_differences(net, h, x, Q, rng, perturbed):
    """tangent_jvp(h_dot, Q_dot, p_dot) = d/de D_s(h + e h_dot; p + e p_dot) (Q + e Q_dot)
    at e = 0, elementwise."""
    _, cache = net.step(h, x)
    h_dot, Q_dot = rng.standard_normal(h.shape), rng.standard_normal(Q.shape)
    p_dot = random_like_params(net.params, rng)
    eps = 1e-6

    def tangent(sign):
        moved = perturbed(net, p_dot, sign * eps)
        return moved.tangent(moved.step(h + sign * eps * h_dot, x)[1], Q + sign * eps * Q_dot)

    fd = (tangent(1) - tangent(-1)) / (2 * eps)
    np.testing.assert_allclose(fd, net.tangent_jvp(cache, Q, h_dot, Q_dot, p_dot), rtol=1e-6, atol=1e-8)


# ---- central differences: pullbacks against the forward code ----------------------------

def check_step_vjp_central_differences(net, h, x, rng, perturbed):
    """d/de <h_next_bar, step(h + e h_dot; p + e p_dot)> against <step_vjp(h_next_bar), (h_dot, p_dot)>."""
    h_next, cache = net.step(h, x)
    h_dot, p_dot = rng.standard_normal(h.shape), random_like_params(net.params, rng)
    out_bar = rng.standard_normal(h_next.shape)
    eps = 1e-5

    def f(e):
        return inner(out_bar, perturbed(net, p_dot, e).step(h + e * h_dot, x)[0])

    fd = (f(eps) - f(-eps)) / (2 * eps)
    h_bar, p_bar = net.step_vjp(cache, out_bar)
    pulled = inner(h_bar, h_dot) + inner(p_bar, p_dot)
    assert pulled == pytest.approx(fd, rel=1e-6), (pulled, fd)


def check_tangent_vjp_central_differences(net, h, x, Q, rng, perturbed):
    """d/de <Q~_bar, D_s(h + e h_dot; p + e p_dot) (Q + e Q_dot)> against the pullback:
    checks the second-order terms through the nonlinearities."""
    _, cache = net.step(h, x)
    h_dot, Q_dot = rng.standard_normal(h.shape), rng.standard_normal(Q.shape)
    p_dot = random_like_params(net.params, rng)
    out_bar = rng.standard_normal(Q.shape)
    eps = 1e-5

    def f(e):
        moved = perturbed(net, p_dot, e)
        return inner(out_bar, moved.tangent(moved.step(h + e * h_dot, x)[1], Q + e * Q_dot))

    fd = (f(eps) - f(-eps)) / (2 * eps)
    h_bar, Q_bar, p_bar = net.tangent_vjp(cache, Q, out_bar)
    pulled = inner(h_bar, h_dot) + inner(Q_bar, Q_dot) + inner(p_bar, p_dot)
    assert pulled == pytest.approx(fd, rel=1e-6), (pulled, fd)


# ---- tangent is the Jacobian of step ----------------------------------------------------

def central_difference_jacobian(net, h, x, eps=1e-6):
    """D_s = d step / d h at one state, column by column.

    h : (n,), x : (d,) or None; returns J : (n, n)."""
    return np.stack([(net.step(h + eps * e, x)[0] - net.step(h - eps * e, x)[0]) / (2 * eps)
                     for e in np.eye(net.state_size)], axis=-1)


def check_tangent_is_jacobian_of_step(net, h, x, Q, *, rtol, atol):
    """tangent(cache, Q) = J_fd Q with J_fd the central-difference Jacobian of step.

    h : (n,), Q : (n, k).  Returns tangent(cache, Q) (with Q = I_n: the Jacobian itself)."""
    _, cache = net.step(h, x)
    DQ = net.tangent(cache, Q)
    np.testing.assert_allclose(DQ, central_difference_jacobian(net, h, x) @ Q, rtol=rtol, atol=atol)
    return DQ
