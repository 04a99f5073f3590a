"""Gradient flossing: the loss sum_i (lambda_i - target_i)^2, its tangent and its exact
gradient (Eqs. 4-5, 8, Algorithm 1).  Eq. 4 is the loss with target 0 and Eq. 5 its
gradient; the target comes from Fig. 1B and App. B.

The exponents are lambda_i = gamma_i / (T - T_tr), with gamma_i = sum_s log R^s_ii from
the Benettin loop of :mod:`floss_ref.core.lyapunov`.  The loss and its two derivatives are
that loop plus one line each::

    forward                                     reverse (adjoint)
    gamma = benettin(...).gamma                 lambda_bar = 2 (lambda - target)
    lambda = gamma / (T - T_tr)                 gamma_bar = lambda_bar / (T - T_tr)
    L = sum_i (lambda_i - target_i)^2           h0_bar, params_bar = benettin_vjp(..., gamma_bar)

    tangent (forward mode)
    gamma, gamma_dot = benettin_jvp(..., h0_dot, params_dot)
    L_dot = sum_i 2 (lambda_i - target_i) gamma_dot_i / (T - T_tr)

The reverse recurrence through steps, tangent steps and QRs (QR pullback Eq. 8/11) is
written out in :func:`floss_ref.core.lyapunov.benettin_vjp`, next to the forward loop.  The
transient's QRs carry no cotangent of gamma, but the gradient still flows through them
(through Q and h), as in the authors' code.  Adam on this gradient, epoch after epoch, is
:func:`floss_ref.experiments.driver.floss`.

Derivation: docs/derivations.md, section 5.
"""

import dataclasses

import numpy as np

from floss_ref import _validate
from floss_ref._threads import limit_blas
from floss_ref.errors import NumericalBreakdownError
from floss_ref.core.cells._linear import sum_to
from floss_ref.core.lyapunov import QR_METHODS, benettin, benettin_jvp, benettin_vjp, check_run_arguments, qr_schedule


@dataclasses.dataclass
class FlossingGrad:
    """Result of :func:`flossing_grad`.

    Attributes
    ----------
    loss : (*batch,) ndarray
        sum_i (lambda_i - target_i)^2 per trajectory / network.
    exponents : (*batch, k) ndarray
    grads : dict of ndarray
        d sum(loss) / d params, same keys and shapes as ``system.params``.
    h0_bar : ndarray shaped like the h0 given (dL/dh0; an h0 broadcast against batch or
        ensemble axes gets the sum over them)
        d sum(loss) / d h0.
    """

    loss: np.ndarray
    exponents: np.ndarray
    grads: dict
    h0_bar: np.ndarray


def check_target(target, k, batch_shape):
    """The target of the flossing loss, a finite scalar or array, broadcast to ``(*batch, k)``."""
    target = _validate.float_array("target", target)
    try:
        return np.broadcast_to(target, batch_shape + (k,))
    except ValueError:
        raise ValueError(f"target must be a scalar or broadcast to (*batch, k) = {batch_shape + (k,)}, "
                         f"got shape {target.shape}") from None


def _prepare(system, h0, xs, k, T, t_ons, transient, target, Q0, seed, qr_method, cond_warn=None):
    """Validated arguments of the loop, as keyword arguments for the lyapunov functions."""
    _validate.choice("qr_method", qr_method, QR_METHODS)
    h, xs, T, k, t_ons, transient, Q = check_run_arguments(system, h0, xs, k, T, t_ons, transient, Q0, seed)
    if cond_warn is not None:
        cond_warn = _validate.real("cond_warn", cond_warn, minimum=1.0)
    target = check_target(target, k, h.shape[:-1])
    loop = dict(transient=transient, schedule=qr_schedule(T, t_ons, transient), qr_method=qr_method,
                cond_warn=cond_warn)
    return h, xs, T, Q, target, loop


def _loss(lam, target, T):
    """L = sum_i (lambda_i - target_i)^2 : (*batch,), or NumericalBreakdownError if it overflows
    (a target of some 1e154 or more; the exponents themselves are finite)."""
    with np.errstate(over="ignore"):
        loss = np.sum((lam - target) ** 2, axis=-1)
    if not np.all(np.isfinite(loss)):
        worst = float(np.max(np.abs(lam - target)))
        raise NumericalBreakdownError(
            f"the flossing loss sum_i (lambda_i - target_i)^2 overflowed after the last step (T = {T}): "
            f"|lambda - target| reaches {worst:.3g}; targets are exponents per time step (|target| of order 1)")
    return loss


def _params_dot(params_dot, params):
    """Checked perturbations of the parameters: a dict of real arrays shaped like ``params``."""
    if not isinstance(params_dot, dict):
        raise TypeError(f"params_dot must be a dict of arrays keyed by parameter name ({sorted(params)}), "
                        f"got {type(params_dot).__name__}")
    unknown = set(params_dot) - set(params)
    if unknown:
        raise ValueError(f"params_dot has keys {sorted(unknown, key=str)} that are not parameters {sorted(params)}")
    checked = {}
    for name, value in params_dot.items():
        value = _validate.float_array(f"params_dot[{name!r}]", value)
        if value.shape != params[name].shape:
            raise ValueError(f"params_dot[{name!r}] must have the shape of the parameter, {params[name].shape}, "
                             f"got {value.shape}")
        checked[name] = value
    return checked


def _differentiable(system, rules):
    for attr in ("params",) + rules:
        if not hasattr(system, attr):
            raise TypeError(f"flossing needs a differentiable map (floss_ref.core.maps): system has no {attr!r}")


def flossing_loss(system, h0, xs=None, *, k, T=None, t_ons=1, transient=0, target=0.0,
                  Q0=None, seed=None, qr_method="lapack", cond_warn=1e8, blas_threads=1):
    """The flossing loss L = sum_{i<=k} (lambda_i - target_i)^2: Eq. 4 with the target of
    Fig. 1B and App. B (target 0 gives Eq. 4 itself).

    Arguments as in :func:`floss_ref.lyapunov_spectrum` (``cond_warn`` included: a
    :class:`~floss_ref.core.lyapunov.ConditioningWarning` when R_11 / R_kk exceeds it);
    ``target`` is a scalar or broadcasts to ``(*batch, k)`` (Fig. 1B: ``k=1, target=-0.5``).

    Returns
    -------
    loss : (*batch,) ndarray
    exponents : (*batch, k) ndarray

    Raises
    ------
    NumericalBreakdownError
        As :func:`floss_ref.lyapunov_spectrum`, or the loss overflows (|lambda - target|
        of some 1e154).
    """
    h, xs, T, Q, target, loop = _prepare(system, h0, xs, k, T, t_ons, transient, target, Q0, seed, qr_method,
                                         cond_warn)
    with limit_blas(blas_threads), np.errstate(over="ignore", invalid="ignore"):
        gamma = benettin(system, h, xs, T, Q, **loop).gamma
    lam = gamma / (T - loop["transient"])
    return _loss(lam, target, T), lam


def flossing_loss_jvp(system, h0, xs, h0_dot, params_dot, *, k, T=None, t_ons=1, transient=0,
                      target=0.0, Q0=None, seed=None, qr_method="lapack", blas_threads=1):
    """The flossing loss and its directional derivative (forward mode) along a
    perturbation of the initial state and of the parameters::

        gamma, gamma_dot = benettin_jvp(..., h0_dot, params_dot)
        L_dot = sum_i 2 (lambda_i - target_i) gamma_dot_i / (T - T_tr)

    Derivation: docs/derivations.md, section 5.

    Arguments as in :func:`flossing_grad`, plus

    h0_dot : (*batch, n) array_like
    params_dot : dict
        Perturbations of ``system.params``, each shaped like its parameter (missing keys
        are zero).

    Returns
    -------
    loss : (*batch,) ndarray
    loss_dot : (*batch,) ndarray
        dL/d eps of L(h0 + eps h0_dot, params + eps params_dot) at eps = 0, per
        trajectory / network.  Paired with :func:`flossing_grad` by the dot-product test
        ``sum(loss_dot) = <grads, params_dot> + <h0_bar, h0_dot>``.
    """
    _differentiable(system, ("step_jvp", "tangent_jvp"))
    h, xs, T, Q, target, loop = _prepare(system, h0, xs, k, T, t_ons, transient, target, Q0, seed, qr_method)
    h0_dot = _validate.float_array("h0_dot", h0_dot)
    if h0_dot.shape != np.shape(h0):
        raise ValueError(f"h0_dot must have the shape of h0, {np.shape(h0)}, got {h0_dot.shape}")
    h0_dot = np.broadcast_to(h0_dot, h.shape)  # as h0 was broadcast against the batch / ensemble
    params_dot = _params_dot(params_dot, system.params)
    with limit_blas(blas_threads), np.errstate(over="ignore", invalid="ignore"):
        loop.pop("cond_warn")  # the tangent pass tracks no conditioning
        gamma, gamma_dot = benettin_jvp(system, h, xs, T, Q, h0_dot, params_dot, **loop)
    steps_averaged = T - loop["transient"]         # T - T_tr
    lam = gamma / steps_averaged
    return _loss(lam, target, T), np.sum(2.0 * (lam - target) * gamma_dot / steps_averaged, axis=-1)


def flossing_grad(system, h0, xs=None, *, k, T=None, t_ons=1, transient=0, target=0.0,
                  Q0=None, seed=None, qr_method="lapack", cond_warn=1e8, blas_threads=1):
    """Flossing loss and its exact gradient by a hand-written reverse pass (Algorithm 1)::

        gamma_bar = 2 (lambda - target) / (T - T_tr)
        h0_bar, params_bar = benettin_vjp(..., gamma_bar)

    Derivation: docs/derivations.md, section 5.

    The reverse recurrence is in the module docstring and in
    :func:`floss_ref.core.lyapunov.benettin_vjp`.  The gradient is that of ``sum(loss)`` over
    the leading axes, so each network of an ensemble gets the gradient of its own loss.

    Parameters
    ----------
    system : differentiable map
        With ``params``, ``step_vjp`` and ``tangent_vjp`` (e.g. a cell from
        :mod:`floss_ref.core.cells`).
    h0 : (*batch, n) array_like
    xs : (T, *batch, n_in) array_like or None
    k, T, t_ons, transient, Q0, seed, qr_method, cond_warn, blas_threads
        As in :func:`floss_ref.lyapunov_spectrum`.
    target : float or (*batch, k) array_like

    Returns
    -------
    FlossingGrad

    Raises
    ------
    NumericalBreakdownError
        Overflow (of the state, the tangent vectors, a cotangent of the reverse pass, or
        the loss for a target of some 1e154), collapsed tangent vectors (R_jj = 0), or a
        near-singular R in the QR pullback (:class:`~floss_ref.errors.SingularRError`).
    """
    _differentiable(system, ("step_vjp", "tangent_vjp"))
    h, xs, T, Q, target, loop = _prepare(system, h0, xs, k, T, t_ons, transient, target, Q0, seed, qr_method,
                                         cond_warn)
    steps_averaged = T - loop["transient"]         # T - T_tr
    with limit_blas(blas_threads), np.errstate(over="ignore", invalid="ignore"):
        forward = benettin(system, h, xs, T, Q, record=True, **loop)
        lam = forward.gamma / steps_averaged
        loss = _loss(lam, target, T)                             # before the reverse pass: refuse early
        gamma_bar = 2.0 * (lam - target) / steps_averaged     # d sum(loss) / d gamma
        h0_bar, grads = benettin_vjp(system, forward, gamma_bar, transient=loop["transient"])
    # one h0 shared by several trajectories or ensemble members (broadcast by
    # check_trajectory) receives the sum of their cotangents, shaped like the h0 given
    h0_bar = sum_to(h0_bar, np.shape(h0))
    return FlossingGrad(loss=loss, exponents=lam, grads=grads, h0_bar=h0_bar)
