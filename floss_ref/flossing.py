"""Gradient flossing: the loss sum_i (lambda_i - target_i)^2 and its exact gradient
(Eqs. 4-5, 8, Algorithm 1).

The exponents come from the QR loop of :mod:`floss_ref.lyapunov`; the gradient is the
reverse pass through that whole loop: state dynamics, tangent steps Q~ = D_s Q and
every QR (pullback of Eq. 8/11 in :func:`floss_ref.qr.qr_vjp`).  Forward and reverse
recurrences, side by side::

    forward (s = 0 .. T-1)                       reverse (s = T-1 .. 0)
    h_{s+1}, c_s = step(h_s, x_s)                Q~_bar = qr_vjp(Q_{s+1}, R_{s+1}, Q_bar, R_bar)
    Q~_{s+1} = tangent(c_s, Q_s)                          (or Q~_bar = Q_bar without a QR)
    Q_{s+1} R_{s+1} = Q~_{s+1}  (scheduled)      h_bar', Q_bar, p_bar1 = tangent_vjp(c_s, Q_s, Q~_bar)
    S += log diag R_{s+1}  (after transient)     h_bar'', p_bar2 = step_vjp(c_s, h_bar)
                                                 h_bar = h_bar' + h_bar'',  grads += p_bar1 + p_bar2
    lambda = S / (T - T_tr)                      R_bar = diag(lambda_bar / ((T - T_tr) diag R))
    L = sum_i (lambda_i - target_i)^2            lambda_bar = 2 (lambda - target)

The transient's QRs carry no R_bar, but the gradient still flows through them (through
Q and h), as in the authors' code.
"""

import dataclasses
import time

import numpy as np

from . import _validate
from ._progress import progress_bar
from ._threads import limit_blas
from .lyapunov import (check_diagonal, check_run_arguments, check_state, check_tangent,
                       qr_schedule, random_orthonormal)
from .optim import Adam, global_norm
from .qr import default_rtol, qr_unchecked, qr_vjp_unchecked


@dataclasses.dataclass
class FlossingGrad:
    """Result of :func:`flossing_grad`.

    Attributes
    ----------
    loss : (*S,) ndarray
        sum_i (lambda_i - target_i)^2 per trajectory / network.
    exponents : (*S, k) ndarray
    grads : dict of ndarray
        d sum(loss) / d params, same keys and shapes as ``system.params``.
    h0_bar : (*S, n) ndarray
        d sum(loss) / d h0.
    """

    loss: np.ndarray
    exponents: np.ndarray
    grads: dict
    h0_bar: np.ndarray


@dataclasses.dataclass
class FlossingHistory:
    """Result of :func:`floss`: per-epoch loss (epochs, *E) and exponents (epochs, *E, k),
    measured on each epoch's trajectory before that epoch's update, the per-network L2
    norm of each epoch's flossing gradient before clipping (epochs, *E), and the wall time.

    ``grad_norm`` is None for an ensemble whose networks have no norm of their own: a map
    without ``param_core_ndim`` (see :mod:`floss_ref.maps`), or a parameter shared by all.
    """

    loss: np.ndarray
    exponents: np.ndarray
    seconds: float
    grad_norm: np.ndarray = None


def _targets(target, k, batch_shape):
    target = _validate.float_array("target", target)
    try:
        return np.broadcast_to(target, batch_shape + (k,))
    except ValueError:
        raise ValueError(f"target must be a scalar or broadcast to (*S, k) = {batch_shape + (k,)}, "
                         f"got shape {target.shape}") from None


def _forward(system, h, xs, T, Q, schedule, transient, qr_method, record):
    """The QR loop; with ``record`` it keeps what the reverse pass needs."""
    k = Q.shape[-1]
    log_sum = np.zeros(h.shape[:-1] + (k,))
    tape = []  # per step: (cache, Q_s, (Q_{s+1}, R_{s+1}) or None)
    for s in range(T):
        h, cache = system.step(h, None if xs is None else xs[s])
        Q_tilde = system.tangent(cache, Q)
        check_state(h, s)
        factors = None
        if s + 1 in schedule:
            check_tangent(Q_tilde, s)
            Q_next, R = qr_unchecked(Q_tilde, qr_method)
            r = np.diagonal(R, axis1=-2, axis2=-1)
            check_diagonal(r, s)
            if s + 1 > transient:
                log_sum += np.log(r)
            factors = (Q_next, R)
        else:
            Q_next = Q_tilde
        if record:
            tape.append((cache, Q, factors))
        Q = Q_next
    return log_sum / (T - transient), tape


def flossing_loss(system, h0, xs=None, *, k, T=None, t_ons=1, transient=0, target=0.0,
                  Q0=None, seed=None, qr_method="lapack", blas_threads=1):
    """The flossing loss L = sum_{i<=k} (lambda_i - target_i)^2 (Eq. 5).

    Arguments as in :func:`floss_ref.lyapunov_spectrum`; ``target`` is a scalar or
    broadcasts to ``(*S, k)`` (Fig. 1B: ``k=1, target=-0.5``).

    Returns
    -------
    loss : (*S,) ndarray
    exponents : (*S, k) ndarray
    """
    h, xs, T, k, t_ons, transient, Q = check_run_arguments(system, h0, xs, k, T, t_ons, transient, Q0, seed)
    target = _targets(target, k, h.shape[:-1])
    with limit_blas(blas_threads), np.errstate(over="ignore", invalid="ignore"):
        lam, _ = _forward(system, h, xs, T, Q, qr_schedule(T, t_ons, transient), transient, qr_method, False)
    return np.sum((lam - target) ** 2, axis=-1), lam


def flossing_grad(system, h0, xs=None, *, k, T=None, t_ons=1, transient=0, target=0.0,
                  Q0=None, seed=None, qr_method="lapack", blas_threads=1):
    """Flossing loss and its exact gradient by a hand-written reverse pass (Algorithm 1).

    The reverse recurrence is in the module docstring.  The gradient is that of
    ``sum(loss)`` over the leading axes, so each network of an ensemble gets the
    gradient of its own loss.

    Parameters
    ----------
    system : differentiable map
        With ``params``, ``step_vjp`` and ``tangent_vjp`` (e.g. a cell from
        :mod:`floss_ref.cells`).
    h0 : (*S, n) array_like
    xs : (T, *S, d) array_like or None
    k, T, t_ons, transient, Q0, seed, qr_method, blas_threads
        As in :func:`floss_ref.lyapunov_spectrum`.
    target : float or (*S, k) array_like

    Returns
    -------
    FlossingGrad

    Raises
    ------
    NumericalBreakdownError
        Overflow, collapsed tangent vectors (R_jj = 0), or a near-singular R in the QR
        pullback (:class:`~floss_ref.errors.SingularRError`).
    """
    for attr in ("params", "step_vjp", "tangent_vjp"):
        if not hasattr(system, attr):
            raise TypeError(f"flossing needs a differentiable map (floss_ref.maps): system has no {attr!r}")
    h, xs, T, k, t_ons, transient, Q = check_run_arguments(system, h0, xs, k, T, t_ons, transient, Q0, seed)
    target = _targets(target, k, h.shape[:-1])
    with limit_blas(blas_threads), np.errstate(over="ignore", invalid="ignore"):
        return _reverse(system, h, xs, T, k, t_ons, transient, Q, target, qr_method)


def _reverse(system, h, xs, T, k, t_ons, transient, Q, target, qr_method):
    """Forward pass with a tape, then the reverse pass of the module docstring."""
    lam, tape = _forward(system, h, xs, T, Q, qr_schedule(T, t_ons, transient), transient, qr_method, True)
    loss = np.sum((lam - target) ** 2, axis=-1)

    # d sum(loss) / d log R^s_jj, the same for every QR in the averaging window
    log_r_bar = 2.0 * (lam - target) / (T - transient)
    grads = {name: np.zeros_like(p) for name, p in system.params.items()}
    rtol = default_rtol(None, system.state_size, k)
    identity = np.eye(k)
    h_bar = np.zeros_like(h)
    Q_bar = None  # the final Q does not enter the loss
    for s in range(T - 1, -1, -1):
        cache, Q_s, factors = tape[s]
        if factors is None:
            Q_tilde_bar = Q_bar
        else:
            Q_next, R = factors
            R_bar = None
            if s + 1 > transient:
                r = np.diagonal(R, axis1=-2, axis2=-1)
                R_bar = (log_r_bar / r)[..., :, None] * identity  # diagonal
            Q_tilde_bar = qr_vjp_unchecked(Q_next, R, Q_bar, R_bar, rtol)
        if Q_tilde_bar is None:
            Q_bar = None
            h_bar_tangent, p_bar_tangent = 0.0, {}
        else:
            h_bar_tangent, Q_bar, p_bar_tangent = system.tangent_vjp(cache, Q_s, Q_tilde_bar)
        h_bar, p_bar_step = system.step_vjp(cache, h_bar)
        h_bar = h_bar + h_bar_tangent
        # the parameters act at every step: their cotangents accumulate over the loop
        for p_bar in (p_bar_tangent, p_bar_step):
            for name, g in p_bar.items():
                grads[name] += g
    return FlossingGrad(loss=loss, exponents=lam, grads=grads, h0_bar=h_bar)


INPUTS = ("gaussian", "bernoulli", "none")


def draw_inputs(kind, T, batch_shape, d, rng):
    """Inputs for one flossing epoch: x ~ N(0, 1) (Fig. 1), Bernoulli{0, 1} (the authors'
    flossing on XOR tasks), or None.

    returns xs : (T, *batch_shape, d) or None
    """
    if kind == "none":
        return None
    if kind == "gaussian":
        return rng.standard_normal((T,) + batch_shape + (d,))
    return rng.integers(0, 2, size=(T,) + batch_shape + (d,)).astype(np.float64)


def gradient_norms(system, grads):
    """Per-network L2 norm of a parameter gradient dict: a float, or an array of shape E
    for a map with ensemble axes E (which must declare ``param_core_ndim``).

    A parameter shared by the whole ensemble (without the axes E) has no per-network
    norm and is refused with a ValueError.
    """
    E = tuple(getattr(system, "ensemble_shape", ()))
    if not E:
        return global_norm(grads)
    core = getattr(system, "param_core_ndim", None)
    if core is None:
        raise TypeError(f"per-network gradient norms of an ensemble {E} need the map's "
                        "param_core_ndim (trailing axes of each parameter that belong to one network)")
    total = np.zeros(E)
    for name, g in grads.items():
        lead = g.shape[:g.ndim - core[name]]
        if lead != E:
            raise ValueError(f"parameter {name!r} of shape {g.shape} has ensemble axes {lead}, not {E}: "
                             "per-network norms need every parameter to have one copy per network")
        total += np.sum(g * g, axis=tuple(range(len(E), g.ndim)))
    return np.sqrt(total)


def clip_per_network(system, grads, clip_norm):
    """Scale each network's gradient to L2 norm at most ``clip_norm`` (each member of an
    ensemble on its own); returns (clipped grads, norms before clipping)."""
    norms = gradient_norms(system, grads)
    scale = np.minimum(1.0, clip_norm / np.maximum(norms, np.finfo(float).tiny))
    if np.ndim(scale) == 0:
        return {name: g * scale for name, g in grads.items()}, norms
    core = system.param_core_ndim
    return {name: g * scale.reshape(scale.shape + (1,) * core[name]) for name, g in grads.items()}, norms


def floss(system, *, epochs, k, T, t_ons=1, transient=0, target=0.0, lr=1e-3, clip_norm=None,
          inputs="gaussian", input_scale=1.0, seed=None, progress=False, optimizer=None, blas_threads=1):
    """Gradient flossing with Adam (Algorithm 1): ``epochs`` updates of ``system.params``.

    Each epoch draws fresh inputs, a fresh initial state h0 ~ N(0, 1) and a fresh
    orthonormal Q0, evaluates :func:`flossing_grad` and takes one Adam step.  The
    parameters are updated in place.

    Parameters
    ----------
    system : differentiable map
        E.g. ``VanillaRNN.random(...)``; with an ensemble axis E all networks are
        flossed at once, each by its own gradient.
    epochs : int
        E_f.
    k, T, t_ons, transient, target
        As in :func:`flossing_grad`; T is the length of each epoch's trajectory.
    lr : float
        Adam learning rate (ignored if ``optimizer`` is given).
    clip_norm : float or None
        If given, each network's flossing gradient is scaled to L2 norm at most
        ``clip_norm`` before the Adam step (each member of an ensemble separately).
        The gradient of a finite-time exponent is heavy-tailed: now and then, along one
        epoch's trajectory, the direction of the tangent vectors is itself unstable for
        a long stretch, and that epoch's (exact) gradient is 100-1000 times the typical
        one.  It then dominates Adam's moments for many epochs
        (``FlossingHistory.grad_norm`` shows such epochs).  Clipping bounds them.
        None (default) is plain Adam, as in the paper's Algorithm 1.
    inputs : {"gaussian", "bernoulli", "none"}
    input_scale : float
        Factor applied to the drawn inputs (the authors' code divides the inputs by the
        number of input streams, in flossing as in training; see :mod:`floss_ref.tasks`).
    seed : int, numpy.random.Generator or None
    progress : bool
        Show a progress bar.
    optimizer : Adam, optional
        Continue with an existing optimiser (its state carries over).
    blas_threads : int or None
        BLAS threads (default 1; see :func:`floss_ref.lyapunov_spectrum`).

    Returns
    -------
    FlossingHistory
    """
    epochs = _validate.integer("epochs", epochs, minimum=0)
    _validate.choice("inputs", inputs, INPUTS)
    input_scale = _validate.real("input_scale", input_scale, minimum=0.0, strict_min=True)
    T = _validate.integer("T", T, minimum=1)
    rng = _validate.rng(seed)
    if not hasattr(system, "params"):
        raise TypeError("floss needs a differentiable map with params (e.g. floss_ref.VanillaRNN)")
    if clip_norm is not None:
        clip_norm = _validate.real("clip_norm", clip_norm, minimum=0.0, strict_min=True)
    opt = optimizer if optimizer is not None else Adam(system.params, lr=lr)
    batch_shape = tuple(getattr(system, "ensemble_shape", ()))
    try:  # per-network norms need one copy of every parameter per network
        gradient_norms(system, system.params)
        record_norms = True
    except (TypeError, ValueError) as exc:
        if clip_norm is not None:
            raise type(exc)(f"clip_norm: {exc}") from None
        record_norms = False
    n = system.state_size
    d = getattr(system, "d", 1)
    losses, exps, norms = [], [], []
    bar = progress_bar(epochs, progress, "flossing", "epoch")
    start = time.perf_counter()
    with limit_blas(blas_threads):
        for _ in range(epochs):
            xs = draw_inputs(inputs, T, batch_shape, d, rng)
            if xs is not None and input_scale != 1.0:
                xs = xs * input_scale
            h0 = rng.standard_normal(batch_shape + (n,))
            Q0 = random_orthonormal(n, k, batch_shape, rng)
            res = flossing_grad(system, h0, xs, k=k, T=T, t_ons=t_ons, transient=transient,
                                target=target, Q0=Q0, blas_threads=None)
            grads = res.grads
            if clip_norm is not None:
                grads, norm = clip_per_network(system, grads, clip_norm)
            elif record_norms:
                norm = gradient_norms(system, grads)
            opt.step(grads)
            losses.append(res.loss)
            exps.append(res.exponents)
            if record_norms:
                norms.append(norm)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{float(np.mean(res.loss)):.3g}",
                                lambda1=f"{float(np.mean(res.exponents[..., 0])):.3f}")
    if bar is not None:
        bar.close()
    return FlossingHistory(
        loss=np.array(losses).reshape((epochs,) + batch_shape),
        exponents=np.array(exps).reshape((epochs,) + batch_shape + (k,)),
        seconds=time.perf_counter() - start,
        grad_norm=np.array(norms).reshape((epochs,) + batch_shape) if record_norms else None)
