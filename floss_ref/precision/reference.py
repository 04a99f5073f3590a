"""The vanilla-RNN flossing loss re-implemented in mpmath, for gradient checks at long horizons.

    h_{s+1} = W phi(h_s) + V x_s + b                            (Eq. 9; phi = tanh, ReLU or identity)
    Q~_{s+1} = W diag(phi'(h_s)) Q_s                            (Eq. 6)
    Q_{s+1} R_{s+1} = Q~_{s+1}    (scheduled steps, diag R > 0)  (Eq. 7)
    lambda_i = sum_s log R^s_ii / (T - T_tr),   L = sum_i (lambda_i - target_i)^2    (Eq. 5)

Why: in float64 the loss at T = 300 carries rounding errors of some 1e-16 times its
sensitivity, and a central difference must balance them against its truncation error;
even with the best step, picked with hindsight, it agrees with the adjoint to only 7-9
digits (N = 12, k = 6, ``validation/bench_precision.py``), too few to test the adjoint to
8 digits.  At 256 bits the loss is correct to some 70 digits; a step of 2^-85 (about
3e-26) makes both the truncation error (step^2) and the rounding error (2^-256 / step)
negligible, and the difference quotient resolves the derivative to far more digits than
float64 holds.  The hand-written float64 adjoint (:func:`floss_ref.flossing_grad`) is
checked against it in ``tests/test_precision.py``.

The code is independent of floss_ref's float64 loop: dynamics, Jacobian action, QR
(modified Gram-Schmidt, exact in the limit of infinite precision and unique with a
positive diagonal) and the QR schedule are written again here from the equations.  It
reads only the parameters, inputs, h0 and Q0, float64 numbers that convert to mpmath
exactly.  The schedule is that of :func:`floss_ref.lyapunov_spectrum`: a QR after every
``t_ons``-th step, after step ``transient`` and after the last step; only QRs after the
transient enter the average.
"""

import mpmath
import numpy as np

from .. import _validate
from ..errors import NumericalBreakdownError
from ..lyapunov import random_orthonormal
from .condition import single_trajectory_arguments

DIRECTION_KEYS = ("W", "V", "b", "h0")


def flossing_loss_mp(system, h0, xs=None, *, k, Q0=None, seed=None, T=None, t_ons=1, transient=0,
                     target=0.0, prec=256):
    """The flossing loss of a :class:`~floss_ref.VanillaRNN` (tanh, ReLU or linear) at ``prec`` bits.

    Parameters
    ----------
    system : VanillaRNN (tanh, ReLU or linear), one network (``W : (N, N)``)
    h0 : (N,) array_like
    xs : (T, d) array_like or None
    k : int
        Number of exponents.
    Q0 : (N, k) array_like, optional
        Orthonormal start; drawn as :func:`floss_ref.flossing_loss` draws it from
        ``seed`` if not given.
    seed : int, numpy.random.Generator or None
    T, t_ons, transient, target
        As in :func:`floss_ref.flossing_loss`.
    prec : int
        Bits of precision, >= 53.

    Returns
    -------
    loss : mpmath.mpf
    exponents : list of k mpmath.mpf
    """
    ctx, args = _setup(system, h0, xs, k, Q0, seed, T, t_ons, transient, target, prec)
    return _loss(ctx, *args)


def flossing_directional_derivative_mp(system, h0, xs=None, *, k, direction, Q0=None, seed=None,
                                       T=None, t_ons=1, transient=0, target=0.0, prec=256, step=None):
    """d L / d eps of the flossing loss at ``theta + eps * direction``, by a central
    difference of :func:`flossing_loss_mp` at ``prec`` bits::

        (L(theta + step u) - L(theta - step u)) / (2 step),     error O(step^2) + O(2^-prec / step)

    Parameters
    ----------
    direction : dict
        Perturbation u: any of ``"W" : (N, N)``, ``"V" : (N, d)``, ``"b" : (N,)``,
        ``"h0" : (N,)``; missing keys are zero.  Compare with
        ``sum(grads[key] * u[key]) + sum(h0_bar * u["h0"])`` from
        :func:`floss_ref.flossing_grad`.
    step : float, optional
        Difference step; default 2^-(prec // 3), balancing the two error terms.
    other arguments
        As in :func:`flossing_loss_mp`.

    Returns
    -------
    mpmath.mpf
    """
    ctx, args = _setup(system, h0, xs, k, Q0, seed, T, t_ons, transient, target, prec)
    W, V, b, h, xs_mp, Q, schedule, T, transient, target, nonlinearity = args
    if not isinstance(direction, dict) or not direction or not set(direction) <= set(DIRECTION_KEYS):
        raise ValueError(f"direction must be a non-empty dict with keys among {DIRECTION_KEYS}, "
                         f"got {direction if not isinstance(direction, dict) else sorted(direction)}")
    shapes = {"W": system.params["W"].shape, "V": system.params["V"].shape,
              "b": system.params["b"].shape, "h0": (system.N,)}
    u = {}
    for key, value in direction.items():
        value = _validate.float_array(f"direction[{key!r}]", value)
        if value.shape != shapes[key]:
            raise ValueError(f"direction[{key!r}] must have shape {shapes[key]}, got {value.shape}")
        u[key] = _to_mp(ctx, value)
    if step is None:
        step = ctx.ldexp(1, -(prec // 3))
    else:
        step = ctx.mpf(_validate.real("step", step, minimum=0.0, strict_min=True))

    def shifted(name, x, sign):
        return x if name not in u else _add(ctx, x, u[name], sign * step)

    values = []
    for sign in (1, -1):
        loss, _ = _loss(ctx, shifted("W", W, sign), shifted("V", V, sign), shifted("b", b, sign),
                        shifted("h0", h, sign), xs_mp, Q, schedule, T, transient, target, nonlinearity)
        values.append(loss)
    return (values[0] - values[1]) / (2 * step)


def _setup(system, h0, xs, k, Q0, seed, T, t_ons, transient, target, prec):
    """Validate, and convert every float64 input to mpmath (exactly)."""
    if getattr(system, "nonlinearity", None) not in _MP_PHI or not hasattr(system, "params"):
        raise NotImplementedError("the mpmath reference implements the vanilla RNN "
                                  "(floss_ref.VanillaRNN with nonlinearity 'tanh', 'relu' or 'linear') only")
    W = system.params["W"]
    if W.ndim != 2:
        raise ValueError(f"give a single network (W of shape (N, N)), got W of shape {W.shape}")
    N = system.N
    prec = _validate.integer("prec", prec, minimum=53)
    k = _validate.integer("k", k, minimum=1, maximum=N)
    _, h0, xs, T = single_trajectory_arguments(system, h0, xs, T)
    t_ons = _validate.integer("t_ons", t_ons, minimum=1)
    transient = _validate.integer("transient", transient, minimum=0, maximum=T - 1)
    if Q0 is None:
        Q0 = random_orthonormal(N, k, (), seed)
    Q0 = _validate.float_array("Q0", Q0)
    if Q0.shape != (N, k):
        raise ValueError(f"Q0 must have shape (N, k) = ({N}, {k}), got {Q0.shape}")
    target = _validate.float_array("target", target)
    if target.ndim > 1 or target.size not in (1, k):
        raise ValueError(f"target must be a scalar or have shape (k,) = ({k},), got shape {target.shape}")
    target = np.broadcast_to(target, (k,))
    schedule = set(range(t_ons, T + 1, t_ons)) | {T} | ({transient} if transient > 0 else set())
    ctx = mpmath.MPContext()
    ctx.prec = prec
    args = (_to_mp(ctx, W), _to_mp(ctx, system.params["V"]), _to_mp(ctx, system.params["b"]),
            _to_mp(ctx, h0), None if xs is None else _to_mp(ctx, xs), _to_mp(ctx, Q0.T),
            schedule, T, transient, _to_mp(ctx, target), system.nonlinearity)
    return ctx, args


# phi and phi' in mpmath, as the float64 cells define them (ReLU's slope is 1 where phi > 0)
_MP_PHI = {"tanh": (lambda ctx, v: ctx.tanh(v), lambda ctx, p: 1 - p * p),
           "relu": (lambda ctx, v: v if v > 0 else ctx.zero, lambda ctx, p: ctx.one if p > 0 else ctx.zero),
           "linear": (lambda ctx, v: v, lambda ctx, p: ctx.one)}


def _to_mp(ctx, a):
    """Nested lists of mpf, exact (float64 numbers are binary fractions)."""
    return [_to_mp(ctx, row) for row in a] if np.ndim(a) > 1 else [ctx.mpf(float(v)) for v in a]


def _add(ctx, x, u, scale):
    """x + scale * u for nested lists of mpf."""
    if isinstance(x[0], list):
        return [_add(ctx, xr, ur, scale) for xr, ur in zip(x, u)]
    return [a + scale * c for a, c in zip(x, u)]


def _loss(ctx, W, V, b, h, xs, Q, schedule, T, transient, target, nonlinearity="tanh"):
    """The forward loop of the module docstring; Q is held by columns (k lists of N)."""
    phi_of, slope_of = _MP_PHI[nonlinearity]
    log_sum = [ctx.zero] * len(Q)
    for s in range(T):
        phi = [phi_of(ctx, v) for v in h]
        dphi = [slope_of(ctx, p) for p in phi]
        h = [ctx.fdot(w, phi) + bi for w, bi in zip(W, b)]
        if xs is not None:
            h = [hi + ctx.fdot(v, xs[s]) for hi, v in zip(h, V)]
        Q = [[ctx.fdot(w, [d * q for d, q in zip(dphi, column)]) for w in W] for column in Q]
        if s + 1 in schedule:
            Q, r = _mgs(ctx, Q)
            if s + 1 > transient:
                log_sum = [acc + ctx.log(rj) for acc, rj in zip(log_sum, r)]
    exponents = [acc / (T - transient) for acc in log_sum]
    return ctx.fsum((lam - t) ** 2 for lam, t in zip(exponents, target)), exponents


def _mgs(ctx, columns):
    """Modified Gram-Schmidt: orthonormal columns and the diagonal of R (positive)."""
    Q, r = [], []
    for v in columns:
        for q in Q:
            c = ctx.fdot(q, v)
            v = [a - c * e for a, e in zip(v, q)]
        norm = ctx.sqrt(ctx.fdot(v, v))
        if norm == 0:
            raise NumericalBreakdownError(f"R_jj = 0 for j = {len(Q) + 1}: the tangent vectors collapsed")
        Q.append([a / norm for a in v])
        r.append(norm)
    return Q, r
