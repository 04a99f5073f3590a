"""The flossing loss of floss_ref's cells re-implemented in mpmath, for gradient checks at
long horizons.  For the vanilla RNN:

    h_{s+1} = W phi(h_s) + V x_{s+1} + b                        (Eq. 9; phi = tanh, ReLU or identity)
    Q~_{s+1} = W diag(phi'(h_s)) Q_s                            (Eq. 6)
    Q_{s+1} R_{s+1} = Q~_{s+1}    (scheduled steps, diag R > 0)  (Eq. 7)
    lambda_i = sum_s log R^s_ii / (T - T_tr),   L = sum_i (lambda_i - target_i)^2    (Eq. 4, Fig. 1B)

Why: in float64 the loss at T = 300 carries rounding errors of some 1e-16 times its
sensitivity, and a central difference must balance them against its truncation error;
even with the best step, picked with hindsight, it agrees with the adjoint to only 7-9
digits (N = 12, k = 6, ``validation/bench/bench_precision.py``), too few to test the adjoint to
8 digits.  At 256 bits the loss is correct to some 70 digits; a step of 2^-85 (about
3e-26) makes both the truncation error (step^2) and the rounding error (2^-256 / step)
negligible, and the difference quotient resolves the derivative to far more digits than
float64 holds.  The hand-written float64 adjoint (:func:`floss_ref.flossing_grad`) is
checked against it in ``tests/test_reference.py``.

The LSTM and the GRU are written again from their equations and linearisations (in the
docstrings of ``floss_ref/core/cells/lstm.py`` and ``floss_ref/core/cells/gru.py``) in
:func:`_lstm_step` and :func:`_gru_step`.

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

from floss_ref import _validate
from floss_ref.errors import NumericalBreakdownError
from floss_ref.core.lyapunov import ORTHONORMAL_ATOL, random_orthonormal
from floss_ref.core.precision.condition import single_trajectory_arguments

DIRECTION_KEYS = ("W", "V", "b", "h0")
# bytes of one mpmath.mpf besides its mantissa: the object, its (sign, man, exp, bc) tuple
# and the mantissa's int header (CPython 3.11, 64 bit)
MPF_BYTES = 200


def flossing_loss_mp(system, h0, xs=None, *, k, Q0=None, seed=None, T=None, t_ons=1, transient=0,
                     target=0.0, prec=256):
    """The flossing loss of one of floss_ref's cells (VanillaRNN with tanh, ReLU or linear; LSTM; GRU)
    at ``prec`` bits.

    Parameters
    ----------
    system : VanillaRNN (tanh, ReLU or linear), LSTM or GRU, one network (``W : (G N, N)``)
    h0 : (N,) array_like
    xs : (T, n_in) array_like or None
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
        Perturbation u: any of ``"W"``, ``"V"``, ``"b"`` (shaped like the parameters) and
        ``"h0" : (n,)``; missing keys are zero.  Compare with
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
    W, V, b, h, xs_mp, Q, schedule, T, transient, target, cell = args
    if not isinstance(direction, dict) or not direction or not set(direction) <= set(DIRECTION_KEYS):
        raise ValueError(f"direction must be a non-empty dict with keys among {DIRECTION_KEYS}, "
                         f"got {direction if not isinstance(direction, dict) else sorted(direction)}")
    shapes = {"W": system.params["W"].shape, "V": system.params["V"].shape,
              "b": system.params["b"].shape, "h0": (system.state_size,)}
    u = {}
    for key, value in direction.items():
        value = _validate.float_array(f"direction[{key!r}]", value)
        if value.shape != shapes[key]:
            raise ValueError(f"direction[{key!r}] must have shape {shapes[key]}, got {value.shape}")
        u[key] = _to_mp(ctx, _bias_rows(value, system.params["W"].shape[0]) if key == "b" else value)
    if step is None:
        step = ctx.ldexp(1, -(prec // 3))
    else:
        step = ctx.mpf(_validate.real("step", step, minimum=0.0, strict_min=True))

    def shifted(name, x, sign):
        return x if name not in u else _add(ctx, x, u[name], sign * step)

    values = []
    for sign in (1, -1):
        loss, _ = _loss(ctx, shifted("W", W, sign), shifted("V", V, sign), shifted("b", b, sign),
                        shifted("h0", h, sign), xs_mp, Q, schedule, T, transient, target, cell)
        values.append(loss)
    return (values[0] - values[1]) / (2 * step)


def _kind(system):
    """The name of the cell, whose mpmath step is registered in :data:`MP_STEPS`, or
    NotImplementedError."""
    name = getattr(type(system), "name", None)
    nonlinearity = getattr(system, "nonlinearity", None)
    if name not in MP_STEPS or (nonlinearity is not None and nonlinearity not in _MP_PHI):
        raise NotImplementedError(
            "the mpmath reference implements the cells with a registered step (" + ", ".join(MP_STEPS)
            + f"; the vanilla cell with tanh, ReLU or linear) only, got {type(system).__name__}")
    return name


def _setup(system, h0, xs, k, Q0, seed, T, t_ons, transient, target, prec):
    """Validate, and convert every float64 input to mpmath (exactly)."""
    kind = _kind(system)
    W = system.params["W"]
    if W.ndim != 2:
        raise ValueError(f"give a single network (W of shape (., N)), got W of shape {W.shape}")
    n = system.state_size
    prec = _validate.integer("prec", prec, minimum=53)
    k = _validate.integer("k", k, minimum=1, maximum=n)
    _, h0, xs, T = single_trajectory_arguments(system, h0, xs, T)
    t_ons = _validate.integer("t_ons", t_ons, minimum=1)
    transient = _validate.integer("transient", transient, minimum=0, maximum=T - 1)
    if Q0 is None:
        Q0 = random_orthonormal(n, k, (), seed)
    Q0 = _validate.float_array("Q0", Q0)
    if Q0.shape != (n, k):
        raise ValueError(f"Q0 must have shape (n, k) = ({n}, {k}), got {Q0.shape}")
    if not np.allclose(Q0.T @ Q0, np.eye(k), atol=ORTHONORMAL_ATOL):
        raise ValueError(f"Q0 must have orthonormal columns (Q0^T Q0 = I to {ORTHONORMAL_ATOL:g}), got "
                         f"max |Q0^T Q0 - I| = {np.max(np.abs(Q0.T @ Q0 - np.eye(k))):.3g}")
    target = _validate.float_array("target", target)
    if target.ndim > 1 or target.size not in (1, k):
        raise ValueError(f"target must be a scalar or have shape (k,) = ({k},), got shape {target.shape}")
    target = np.broadcast_to(target, (k,))
    # a QR after the multiples of t_ons, after the transient and after step T; a range tests
    # membership by arithmetic, so the schedule's memory does not grow with T
    schedule = (range(t_ons, T + 1, t_ons), frozenset({T, transient} - {0}))
    entries = W.size + system.params["V"].size + (0 if xs is None else xs.size) + 2 * n * (k + 1)
    _validate.memory(f"the mpmath copies of the inputs (T = {T}) and parameters at prec = {prec}",
                     entries * (MPF_BYTES + prec // 8), "use a shorter T, a smaller network or a lower prec")
    ctx = mpmath.MPContext()
    ctx.prec = prec
    b = system.params["b"]
    args = (_to_mp(ctx, W), _to_mp(ctx, system.params["V"]), _to_mp(ctx, _bias_rows(b, W.shape[0])),
            _to_mp(ctx, h0), None if xs is None else _to_mp(ctx, xs), _to_mp(ctx, Q0.T),
            schedule, T, transient, _to_mp(ctx, target),
            (kind, getattr(system, "nonlinearity", None), getattr(system, "N", n)))
    return ctx, args


# phi and phi' in mpmath, as the float64 cells define them (ReLU's slope is 1 where phi > 0)
_MP_PHI = {"tanh": (lambda ctx, v: ctx.tanh(v), lambda ctx, p: 1 - p * p),
           "relu": (lambda ctx, v: v if v > 0 else ctx.zero, lambda ctx, p: ctx.one if p > 0 else ctx.zero),
           "linear": (lambda ctx, v: v, lambda ctx, p: ctx.one)}


def _bias_rows(b, rows):
    """The bias of each row of W: b itself (vanilla), or a gated cell's (G, 1) or (G, N) biases
    broadcast to (G, N) and flattened, gate block after gate block."""
    b = np.asarray(b)
    if b.ndim == 1:
        return b
    G = b.shape[0]
    return np.broadcast_to(b, (G, rows // G)).reshape(-1)


def _to_mp(ctx, a):
    """Nested lists of mpf, exact (float64 numbers are binary fractions)."""
    return [_to_mp(ctx, row) for row in a] if np.ndim(a) > 1 else [ctx.mpf(float(v)) for v in a]


def _add(ctx, x, u, scale):
    """x + scale * u for nested lists of mpf."""
    if isinstance(x[0], list):
        return [_add(ctx, xr, ur, scale) for xr, ur in zip(x, u)]
    return [a + scale * c for a, c in zip(x, u)]


def _loss(ctx, W, V, b, h, xs, Q, schedule, T, transient, target, cell=("vanilla", "tanh", None)):
    """The forward loop of the module docstring; Q is held by columns (k lists of n)."""
    step = MP_STEPS[cell[0]]
    log_sum = [ctx.zero] * len(Q)
    for s in range(T):
        h, Q = step(ctx, cell, W, V, b, h, None if xs is None else xs[s], Q)
        if s + 1 in schedule[0] or s + 1 in schedule[1]:
            Q, r = _mgs(ctx, Q)
            if s + 1 > transient:
                log_sum = [acc + ctx.log(rj) for acc, rj in zip(log_sum, r)]
    exponents = [acc / (T - transient) for acc in log_sum]
    return ctx.fsum((lam - t) ** 2 for lam, t in zip(exponents, target)), exponents


def _affine(ctx, W, V, b_rows, h, x):
    """W h + V x + b row by row (b_rows: one bias per row)."""
    a = [ctx.fdot(w, h) + bi for w, bi in zip(W, b_rows)]
    if x is not None:
        a = [ai + ctx.fdot(v, x) for ai, v in zip(a, V)]
    return a


def _sigmoid(ctx, v):
    return 1 / (1 + ctx.exp(-v))


# The mpmath step of each cell, by the cell's ``name`` (floss_ref.core.cells): a cell
# registers its step with @mp_step(name).  A step maps (ctx, cell, W, V, b, state, x, Q)
# to (next state, D_s Q) in mpmath, with Q as a list of k columns.
MP_STEPS = {}


def mp_step(name):
    """Register the decorated function as the mpmath step of the cell called ``name``."""
    def register(step):
        MP_STEPS[name] = step
        return step
    return register


@mp_step("vanilla")
def _vanilla_step(ctx, cell, W, V, b, h, x, Q):
    """h_{s+1} = W phi(h) + V x + b;  Q~ = W diag(phi'(h)) Q."""
    phi_of, slope_of = _MP_PHI[cell[1]]
    phi = [phi_of(ctx, v) for v in h]
    dphi = [slope_of(ctx, p) for p in phi]
    h_next = _affine(ctx, W, V, b, phi, x)
    Q = [[ctx.fdot(w, [slope * q for slope, q in zip(dphi, column)]) for w in W] for column in Q]
    return h_next, Q


@mp_step("lstm")
def _lstm_step(ctx, cell, W, V, b, hc, x, Q):
    """Eqs. 12-17 with gates (i, f, c~, o) stacked in W and one bias per gate, and the
    linearisation of floss_ref/core/cells/lstm.py's docstring, with u = tanh(c_{s+1}):
    dc' = f dc + sig'_i c~ da_i + sig'_f c da_f + (1 - c~^2) i da_c~,  dh' = sig'_o u da_o + o (1 - u^2) dc'."""
    N = cell[2]
    h, c = hc[:N], hc[N:]
    a = _affine(ctx, W, V, b, h, x)
    i = [_sigmoid(ctx, v) for v in a[:N]]
    f = [_sigmoid(ctx, v) for v in a[N:2 * N]]
    cand = [ctx.tanh(v) for v in a[2 * N:3 * N]]
    o = [_sigmoid(ctx, v) for v in a[3 * N:]]
    c_next = [fj * cj + ij * gj for fj, cj, ij, gj in zip(f, c, i, cand)]
    u = [ctx.tanh(v) for v in c_next]
    h_next = [oj * uj for oj, uj in zip(o, u)]
    out = []
    for column in Q:
        dh, dc = column[:N], column[N:]
        da = [ctx.fdot(w, dh) for w in W]
        dc_next = [f[j] * dc[j] + i[j] * (1 - i[j]) * cand[j] * da[j] + f[j] * (1 - f[j]) * c[j] * da[N + j]
                   + (1 - cand[j] ** 2) * i[j] * da[2 * N + j] for j in range(N)]
        dh_next = [o[j] * (1 - o[j]) * u[j] * da[3 * N + j] + o[j] * (1 - u[j] ** 2) * dc_next[j]
                   for j in range(N)]
        out.append(dh_next + dc_next)
    return h_next + c_next, out


@mp_step("gru")
def _gru_step(ctx, cell, W, V, b, h, x, Q):
    """floss_ref/core/cells/gru.py: r, z = sig(W_rz h + V_rz x + b_rz), eta = r h,
    h~ = tanh(W_h~ eta + V_h~ x + b_h~), h' = z h + (1 - z) h~; d eta = r dh + sig'_r h da_r,
    dh' = z dh + sig'_z (h - h~) da_z + (1 - z)(1 - h~^2) W_h~ d eta."""
    N = cell[2]
    drive = [ctx.zero] * (3 * N) if x is None else [ctx.fdot(v, x) for v in V]
    drive = [di + bj for di, bj in zip(drive, b)]
    a = [ctx.fdot(w, h) + drive[j] for j, w in enumerate(W[:2 * N])]
    r = [_sigmoid(ctx, v) for v in a[:N]]
    z = [_sigmoid(ctx, v) for v in a[N:]]
    rh = [rj * hj for rj, hj in zip(r, h)]
    cand = [ctx.tanh(ctx.fdot(w, rh) + drive[2 * N + j]) for j, w in enumerate(W[2 * N:])]
    h_next = [zj * hj + (1 - zj) * cj for zj, hj, cj in zip(z, h, cand)]
    out = []
    for dh in Q:
        da = [ctx.fdot(w, dh) for w in W[:2 * N]]
        d_rh = [r[j] * dh[j] + r[j] * (1 - r[j]) * h[j] * da[j] for j in range(N)]
        da_cand = [ctx.fdot(w, d_rh) for w in W[2 * N:]]
        out.append([z[j] * dh[j] + z[j] * (1 - z[j]) * (h[j] - cand[j]) * da[N + j]
                    + (1 - z[j]) * (1 - cand[j] ** 2) * da_cand[j] for j in range(N)])
    return h_next, out


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
