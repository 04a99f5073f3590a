"""Check a differentiable map's hand-written derivatives: yours or ours.

:func:`gradcheck` takes any map of the protocol of :mod:`floss_ref.core.maps` (an RNN cell of
:mod:`floss_ref.core.cells`, a :class:`~floss_ref.core.maps.FunctionMap` with pullbacks, your own
class) and checks, in this order:

1. **what each function returns**: shapes, real floating point, finite values, for
   ``step``, ``tangent``, ``step_vjp``, ``tangent_vjp`` and (if present) ``step_jvp`` and
   ``tangent_jvp``.  A wrong return raises ``ValueError`` / ``TypeError`` naming the
   function, what it returned and what was expected: nothing below can be trusted then.
2. **dot-product tests**: each pullback against its tangent rule,
   ``<u, jvp(v)> = <vjp(u), v>`` for random u, v.  Exact up to round-off (tolerance
   1e-10, relative to ``|<u, jvp(v)>| + |<vjp(u), v>|``).  Skipped (and reported so) for
   a map without the tangent rules.
3. **central differences, per function and per quantity**: ``tangent`` against the
   Jacobian of ``step``; each pullback against the forward code it differentiates, one
   quantity at a time (the state h, the tangent block Q, each parameter), so a failure
   names both the function and the quantity; the tangent rules likewise.  The step for a
   quantity q is ``eps^(1/3) max(1, rms(q))`` along a direction of unit rms, which
   balances the truncation error (step^2) against rounding (eps / step) of a central
   difference; the tolerance is 1e-6 relative.
4. **the whole flossing loss gradient** (:func:`floss_ref.flossing_grad`) against central
   differences of :func:`floss_ref.flossing_loss` on a short horizon (default T = 20),
   per parameter and for h_0, steps chosen as above, tolerance 1e-5 relative.
5. **on request, a long horizon at high precision** (``long_horizon=T``): the float64
   adjoint against a 256-bit central difference
   (:func:`floss_ref.core.precision.flossing_directional_derivative_mp`), in a random
   direction, reporting the digits that agree; available for floss_ref's cells
   (VanillaRNN, LSTM, GRU), the maps the 256-bit reference implements.

It returns a :class:`GradcheckReport` (``.passed``, ``.failures``, ``.table()``), and with
``verbose=True`` prints the table.  Command line: ``python -m floss_ref gradcheck
module:factory`` calls ``factory()`` for the map.
"""

import dataclasses
import math

import numpy as np

from floss_ref import _validate
from floss_ref.errors import NumericalBreakdownError
from floss_ref.core.lyapunov import random_orthonormal

EPS = np.finfo(np.float64).eps
DOT_TOL = 1e-10
FD_TOL = 1e-6
LOSS_TOL = 1e-5
REQUIRED = ("state_size", "params", "step", "tangent", "step_vjp", "tangent_vjp")


@dataclasses.dataclass
class Check:
    """One line of the report."""

    kind: str          # "dot product", "central differences", "loss gradient", "256-bit"
    function: str      # the function checked, e.g. "tangent_vjp"
    quantity: str      # what was perturbed, e.g. "h", "Q", "W"
    error: float       # relative error (or, for "256-bit", the relative error as well)
    tolerance: float
    note: str = ""

    @property
    def passed(self):
        return bool(self.error <= self.tolerance)


@dataclasses.dataclass
class GradcheckReport:
    """Result of :func:`gradcheck`: every check with its error and tolerance."""

    checks: list
    skipped: list

    @property
    def passed(self):
        return all(c.passed for c in self.checks)

    @property
    def failures(self):
        """The failed checks."""
        return [c for c in self.checks if not c.passed]

    @property
    def failed_functions(self):
        """Names of the functions with at least one failed check, in order of appearance."""
        seen = []
        for c in self.failures:
            if c.function not in seen:
                seen.append(c.function)
        return seen

    def table(self):
        lines = [f"{'check':20s} {'function':12s} {'quantity':10s} {'error':>10s} {'tolerance':>10s}  result"]
        for c in self.checks:
            lines.append(f"{c.kind:20s} {c.function:12s} {c.quantity:10s} {c.error:10.2e} {c.tolerance:10.1e}  "
                         f"{'pass' if c.passed else 'FAIL'}{'  ' + c.note if c.note else ''}")
        for s in self.skipped:
            lines.append(f"skipped: {s}")
        verdict = "PASS" if self.passed else "FAIL in " + ", ".join(self.failed_functions)
        lines.append(f"gradcheck: {verdict} ({sum(c.passed for c in self.checks)} of {len(self.checks)} checks passed)")
        return "\n".join(lines)

    def __str__(self):
        return self.table()


def gradcheck(system, *, T=20, k=None, t_ons=1, transient=0, seed=0, long_horizon=None, prec=256, verbose=False):
    """Check the derivatives of a differentiable map (module docstring).

    Parameters
    ----------
    system : differentiable map
        With ``state_size``, ``params``, ``step``, ``tangent``, ``step_vjp`` and
        ``tangent_vjp`` (and optionally ``step_jvp``, ``tangent_jvp``, ``n_in``); one
        network (no ensemble axes).
    T, k, t_ons, transient : int
        The short flossing horizon of check 4 (k default min(2, n), which a ReLU map with
        dead units can still support).
    seed : int
        For the random states, inputs, directions and tangent blocks.
    long_horizon : int, optional
        Also check the flossing gradient over this many steps against 256-bit
        differences (check 5; floss_ref's cells only).
    prec : int
        Bits for check 5.
    verbose : bool
        Print the table.

    Returns
    -------
    GradcheckReport

    Raises
    ------
    TypeError, ValueError
        A missing method, or a function returning the wrong shape, a complex, non-real or
        non-finite value (named in the message).
    """
    for attr in REQUIRED:
        if not hasattr(system, attr):
            raise TypeError(f"gradcheck needs a differentiable map (floss_ref.core.maps): {type(system).__name__} "
                            f"has no {attr!r}")
    if tuple(getattr(system, "ensemble_shape", ())) != ():
        raise ValueError("gradcheck checks one network: give a map without ensemble axes")
    n = _validate.integer("system.state_size", system.state_size, minimum=1)
    if not isinstance(system.params, dict) or not system.params:
        raise TypeError(f"system.params must be a non-empty dict of arrays, got {type(system.params).__name__}")
    T = _validate.integer("T", T, minimum=2)
    k = min(2, n) if k is None else _validate.integer("k", k, minimum=1, maximum=n)
    rng = _validate.rng(seed)
    n_in = getattr(system, "n_in", None)
    h = 0.5 * rng.standard_normal(n)
    x = None if n_in is None else rng.standard_normal(n_in)
    kq = min(3, n)
    Q = random_orthonormal(n, kq, (), rng)
    checks, skipped = [], []
    _check_outputs(system, h, x, Q, rng)
    _dot_products(system, h, x, Q, rng, checks, skipped)
    _central_differences(system, h, x, Q, rng, checks, skipped)
    _loss_gradient(system, n, n_in, T, k, t_ons, transient, rng, checks, skipped)
    if long_horizon is not None:
        _long_horizon(system, n, n_in, long_horizon, k, t_ons, prec, rng, checks, skipped)
    report = GradcheckReport(checks, skipped)
    if verbose:
        print(report.table())
    return report


# ---- 1. what the functions return ----------------------------------------------------------

def _array(function, value, shape, what):
    """``value`` as a float64 array, refused unless real, finite and of ``shape``."""
    arr = _validate.returned_array(function, value, shape, what=what, refuse=(str, bytes, dict, tuple))
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{function} returned {what} with NaN or infinite values")
    return arr.astype(np.float64)


def _params_bar(function, value, params):
    if not isinstance(value, dict):
        raise TypeError(f"{function} must return the parameter cotangents as a dict, got {type(value).__name__}")
    unknown = sorted(set(value) - set(params))
    if unknown:
        raise ValueError(f"{function} returned cotangents of {unknown}, which are not parameters "
                         f"{sorted(params)}")
    return {name: _array(function, g, np.shape(params[name]), f"the cotangent of {name!r}")
            for name, g in value.items()}


def _tuple(function, value, size, names):
    if not isinstance(value, (tuple, list)) or len(value) != size:
        raise TypeError(f"{function} must return a tuple ({', '.join(names)}), got {type(value).__name__}"
                        + (f" of length {len(value)}" if isinstance(value, (tuple, list)) else ""))
    return value


def _step(system, h, x):
    out = _tuple("step", system.step(h, x), 2, ("h_next", "cache"))
    return _array("step", out[0], h.shape, "h_next"), out[1]


def _tangent(system, cache, Q):
    return _array("tangent", system.tangent(cache, Q), Q.shape, "D_s Q")


def _step_vjp(system, cache, out_bar, h):
    h_bar, p_bar = _tuple("step_vjp", system.step_vjp(cache, out_bar), 2, ("h_bar", "params_bar"))
    return _array("step_vjp", h_bar, h.shape, "h_bar"), _params_bar("step_vjp", p_bar, system.params)


def _tangent_vjp(system, cache, Q, out_bar, h):
    h_bar, Q_bar, p_bar = _tuple("tangent_vjp", system.tangent_vjp(cache, Q, out_bar), 3,
                                 ("h_bar", "Q_bar", "params_bar"))
    return (_array("tangent_vjp", h_bar, h.shape, "h_bar"), _array("tangent_vjp", Q_bar, Q.shape, "Q_bar"),
            _params_bar("tangent_vjp", p_bar, system.params))


def _check_outputs(system, h, x, Q, rng):
    h_next, cache = _step(system, h, x)
    _tangent(system, cache, Q)
    _step_vjp(system, cache, rng.standard_normal(h.shape), h)
    _tangent_vjp(system, cache, Q, rng.standard_normal(Q.shape), h)
    p_dot = _directions(system.params, rng)
    if hasattr(system, "step_jvp"):
        _array("step_jvp", system.step_jvp(cache, rng.standard_normal(h.shape), p_dot), h.shape, "h_next_dot")
    if hasattr(system, "tangent_jvp"):
        _array("tangent_jvp", system.tangent_jvp(cache, Q, rng.standard_normal(h.shape),
                                                 rng.standard_normal(Q.shape), p_dot), Q.shape, "Q_tilde_dot")


# ---- 2. dot-product tests -------------------------------------------------------------------

def _inner(a, b):
    if isinstance(a, dict):
        return sum(float(np.sum(a[key] * b[key])) for key in a if key in b)
    return float(np.sum(a * b))


def _directions(params, rng):
    return {name: rng.standard_normal(np.shape(p)) for name, p in params.items()}


def _relative(a, b, floor=0.0):
    return abs(a - b) / max(abs(a) + abs(b), floor, 1e-300)


def _dot_products(system, h, x, Q, rng, checks, skipped):
    _, cache = _step(system, h, x)
    p_dot = _directions(system.params, rng)
    h_dot, Q_dot = rng.standard_normal(h.shape), rng.standard_normal(Q.shape)
    if hasattr(system, "step_jvp"):
        u = rng.standard_normal(h.shape)
        lhs = _inner(u, system.step_jvp(cache, h_dot, p_dot))
        h_bar, p_bar = _step_vjp(system, cache, u, h)
        rhs = _inner(h_bar, h_dot) + _inner(p_bar, p_dot)
        checks.append(Check("dot product", "step_vjp", "all", _relative(lhs, rhs), DOT_TOL, "against step_jvp"))
    else:
        skipped.append("dot product of step_vjp: the map has no step_jvp")
    if hasattr(system, "tangent_jvp"):
        u = rng.standard_normal(Q.shape)
        lhs = _inner(u, system.tangent_jvp(cache, Q, h_dot, Q_dot, p_dot))
        h_bar, Q_bar, p_bar = _tangent_vjp(system, cache, Q, u, h)
        rhs = _inner(h_bar, h_dot) + _inner(Q_bar, Q_dot) + _inner(p_bar, p_dot)
        checks.append(Check("dot product", "tangent_vjp", "all", _relative(lhs, rhs), DOT_TOL,
                            "against tangent_jvp"))
    else:
        skipped.append("dot product of tangent_vjp: the map has no tangent_jvp")


# ---- 3. central differences per function and quantity -----------------------------------------

def _fd_step(value):
    """The central-difference step for a quantity: eps^(1/3) max(1, rms(value))."""
    rms = float(np.sqrt(np.mean(np.square(value)))) if np.size(value) else 0.0
    return EPS ** (1.0 / 3.0) * max(1.0, rms)


class _Moved:
    """The map with one parameter moved by e * direction (a shallow copy sharing the rest)."""

    def __init__(self, system, name, direction):
        self.system, self.name, self.direction = system, name, direction
        self.original = system.params[name].copy()

    def __enter__(self):
        return self

    def at(self, e):
        self.system.params[self.name][...] = self.original + e * self.direction
        return self.system

    def __exit__(self, *exc):
        self.system.params[self.name][...] = self.original
        return False


def _quantities(system, h, Q=None):
    """(name, value) of the perturbable quantities: h, Q (if given), each parameter."""
    out = [("h", h)] + ([("Q", Q)] if Q is not None else [])
    return out + [(name, p) for name, p in system.params.items()]


def _central_differences(system, h, x, Q, rng, checks, skipped):
    _, cache = _step(system, h, x)
    # tangent against the Jacobian of step, column by column of Q
    e = _fd_step(h)
    fd = np.stack([(_step(system, h + e * Q[:, j], x)[0] - _step(system, h - e * Q[:, j], x)[0]) / (2 * e)
                   for j in range(Q.shape[1])], axis=-1)
    an = _tangent(system, cache, Q)
    err = float(np.max(np.abs(fd - an)) / max(np.max(np.abs(an)) + np.max(np.abs(fd)), 1e-300))
    checks.append(Check("central differences", "tangent", "h", err, FD_TOL, "against the Jacobian of step"))

    u = rng.standard_normal(h.shape)
    h_bar, p_bar = _step_vjp(system, cache, u, h)
    U = rng.standard_normal(Q.shape)
    th_bar, tQ_bar, tp_bar = _tangent_vjp(system, cache, Q, U, h)
    for name, value in _quantities(system, h, Q):
        direction = rng.standard_normal(np.shape(value))
        e = _fd_step(value)

        def forward(eps):
            """(step output, tangent output) with the quantity moved by eps * direction."""
            if name == "h":
                out, c = _step(system, h + eps * direction, x)
                return out, _tangent(system, c, Q)
            if name == "Q":
                return None, _tangent(system, cache, Q + eps * direction)
            with _Moved(system, name, direction) as moved:
                out, c = _step(moved.at(eps), h, x)
                return out, _tangent(system, c, Q)

        plus, minus = forward(e), forward(-e)
        if name != "Q":
            fd = _inner(u, (plus[0] - minus[0]) / (2 * e))
            pulled = _inner(h_bar, direction) if name == "h" else _inner(p_bar.get(name, 0.0 * direction), direction)
            checks.append(Check("central differences", "step_vjp", name, _relative(fd, pulled, _floor(u, direction)),
                                FD_TOL))
            if hasattr(system, "step_jvp"):
                p_dot = {name: direction} if name != "h" else {}
                h_dot = direction if name == "h" else np.zeros_like(h)
                jvp = _array("step_jvp", system.step_jvp(cache, h_dot, p_dot), h.shape, "h_next_dot")
                checks.append(Check("central differences", "step_jvp", name,
                                    _rel_arrays((plus[0] - minus[0]) / (2 * e), jvp), FD_TOL))
        fd = _inner(U, (plus[1] - minus[1]) / (2 * e))
        if name == "h":
            pulled = _inner(th_bar, direction)
        elif name == "Q":
            pulled = _inner(tQ_bar, direction)
        else:
            pulled = _inner(tp_bar.get(name, 0.0 * direction), direction)
        checks.append(Check("central differences", "tangent_vjp", name, _relative(fd, pulled, _floor(U, direction)),
                            FD_TOL))
        if hasattr(system, "tangent_jvp"):
            h_dot = direction if name == "h" else np.zeros_like(h)
            Q_dot = direction if name == "Q" else np.zeros_like(Q)
            p_dot = {name: direction} if name not in ("h", "Q") else {}
            jvp = _array("tangent_jvp", system.tangent_jvp(cache, Q, h_dot, Q_dot, p_dot), Q.shape, "Q_tilde_dot")
            checks.append(Check("central differences", "tangent_jvp", name,
                                _rel_arrays((plus[1] - minus[1]) / (2 * e), jvp), FD_TOL))
    if not hasattr(system, "step_jvp"):
        skipped.append("central differences of step_jvp: the map has none")


def _floor(u, direction):
    """A scale below which a derivative counts as zero: round-off of the inner products."""
    return 1e-9 * float(np.linalg.norm(u) * np.linalg.norm(direction))


def _rel_arrays(fd, an):
    return float(np.max(np.abs(fd - an)) / max(np.max(np.abs(an)) + np.max(np.abs(fd)), 1e-12))


# ---- 4. the whole flossing loss gradient --------------------------------------------------------

def _loss_gradient(system, n, n_in, T, k, t_ons, transient, rng, checks, skipped):
    from floss_ref.core.flossing import flossing_grad, flossing_loss

    h0 = rng.standard_normal(n)
    xs = None if n_in is None else rng.standard_normal((T, n_in))
    Q0 = random_orthonormal(n, k, (), rng)
    kwargs = dict(k=k, T=T, t_ons=t_ons, transient=transient, Q0=Q0, cond_warn=None)
    try:
        res = flossing_grad(system, h0, xs, **kwargs)
    except NumericalBreakdownError as exc:
        skipped.append(f"the flossing loss gradient: the loop broke down on this trajectory ({exc}); try "
                       "another seed, a smaller k or a shorter T")
        return
    for name, value in [("h0", h0)] + list(system.params.items()):
        direction = rng.standard_normal(np.shape(value))
        e = _fd_step(value)
        if name == "h0":
            plus = flossing_loss(system, h0 + e * direction, xs, **kwargs)[0]
            minus = flossing_loss(system, h0 - e * direction, xs, **kwargs)[0]
            pulled = _inner(res.h0_bar, direction)
        else:
            with _Moved(system, name, direction) as moved:
                plus = flossing_loss(moved.at(e), h0, xs, **kwargs)[0]
                minus = flossing_loss(moved.at(-e), h0, xs, **kwargs)[0]
            pulled = _inner(res.grads.get(name, 0.0 * direction), direction)
        fd = float((plus - minus) / (2 * e))
        checks.append(Check("loss gradient", "flossing", name, _relative(fd, pulled, 1e-9 * abs(float(res.loss))),
                            LOSS_TOL, f"T = {T}, k = {k}"))


# ---- 5. long horizon at high precision ---------------------------------------------------------

def _long_horizon(system, n, n_in, T, k, t_ons, prec, rng, checks, skipped):
    from floss_ref.core.flossing import flossing_grad
    from floss_ref.core.precision.reference import _kind, flossing_directional_derivative_mp

    T = _validate.integer("long_horizon", T, minimum=2)
    try:
        _kind(system)
    except NotImplementedError:
        skipped.append("256-bit check: the 256-bit reference implements floss_ref's cells (VanillaRNN, LSTM, GRU) "
                       "only")
        return
    h0 = rng.standard_normal(n)
    xs = None if n_in is None else rng.standard_normal((T, n_in))
    Q0 = random_orthonormal(n, k, (), rng)
    res = flossing_grad(system, h0, xs, k=k, T=T, t_ons=t_ons, Q0=Q0, cond_warn=None)
    direction = {name: rng.standard_normal(p.shape) for name, p in system.params.items()}
    direction["h0"] = rng.standard_normal(n)
    ref = float(flossing_directional_derivative_mp(system, h0, xs, k=k, direction=direction, Q0=Q0, T=T,
                                                   t_ons=t_ons, prec=prec))
    pulled = _inner(res.grads, direction) + _inner(res.h0_bar, direction["h0"])
    err = abs(pulled - ref) / max(abs(ref), 1e-300)
    digits = -math.log10(err) if err > 0 else 16.0
    checks.append(Check("256-bit", "flossing", "all", err, 1e-8, f"T = {T}: {digits:.1f} digits agree"))
