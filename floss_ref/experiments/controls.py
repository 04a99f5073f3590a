"""The controls of Sec. 7: regularising what flossing does not, in its place.

The paper (Sec. 7): "merely regularizing the spectral radius of the recurrent weight matrix
W or the individual one-step Jacobians D_s ... does not yield such a training improvement.
This suggests that taking the temporal correlations between Jacobians D_s into account is
important."  The paper gives no formula for these regularisers; the two here are our
reading, each pushing towards 1 what flossing pushes towards 0 in log scale:

``spectral_radius``
    L_rho = (rho - 1)^2, rho = |mu_1| for the eigenvalue mu_1 of W of largest modulus,
    with right and left eigenvectors p_W, q_W (W p_W = mu_1 p_W, q_W^H W = mu_1 q_W^H)::

        W_bar = 2 (rho - 1) Re( conj(mu_1) / rho * conj(q_W) p_W^T / (q_W^H p_W) )

``jacobian_norm``
    L_D = (1 / (T - T_tr)) sum_{s >= T_tr} (log sigma_1(D_s))^2 along a trajectory, with
    sigma_1 the largest singular value of the one-step Jacobian D_s = dh_{s+1}/dh_s and
    its singular vectors D_s p_s = sigma_1 q_s::

        D_s_bar = omega_s q_s p_s^T,     omega_s = 2 log sigma_1(D_s) / (sigma_1(D_s) (T - T_tr))

    pulled back by the map's own ``tangent_vjp`` (Q = p_s, Q~_bar = omega_s q_s) and then
    through the earlier steps by ``step_vjp``, as in backpropagation through time.  Each
    step's D_s is regularised on its own: no product of Jacobians enters, which is the
    point of the control.

Derivation: docs/derivations.md, section 11.

:func:`regularize` runs Adam on one of them, epoch by epoch on fresh trajectories, as
:func:`floss_ref.floss` does on the flossing loss; :class:`floss_ref.runs.run.ControlRun` is
a training run whose flossing episodes are replaced by such regularisation episodes (sweep
kind "control").
"""

import numpy as np

from floss_ref import _validate
from floss_ref.errors import NumericalBreakdownError
from floss_ref.experiments.optim import Adam
from floss_ref.experiments.tasks import FLOSSING_INPUTS, draw_inputs

OBJECTIVES = ("spectral_radius", "jacobian_norm")


def spectral_radius_loss_grad(W):
    """L_rho = (rho(W) - 1)^2 and its gradient with respect to W::

        W_bar = 2 (rho - 1) Re( conj(mu_1) / rho * conj(q_W) p_W^T / (q_W^H p_W) )

    with mu_1 the eigenvalue of largest modulus rho, p_W and q_W its right and left
    eigenvectors.

    Derivation: docs/derivations.md, section 11.

    W : (N, N) ndarray, one network
    returns loss : float, W_bar : (N, N) ndarray
    """
    mus, right = np.linalg.eig(W)
    i = int(np.argmax(np.abs(mus)))
    mu_1, p = mus[i], right[:, i]          # p_W
    # left eigenvector: q^H W = mu_1 q^H  <=>  W^T conj(q) = mu_1 conj(q): eigenvector of W^T
    mus_t, left = np.linalg.eig(W.T)
    j = int(np.argmin(np.abs(mus_t - mu_1)))
    q_conj = left[:, j]                    # conj(q_W)
    rho = abs(mu_1)
    if rho == 0.0:
        raise NumericalBreakdownError("rho(W) = 0: the spectral radius has no gradient there")
    denom = q_conj @ p                     # q^H p
    if abs(denom) < 1e-12 * np.linalg.norm(q_conj) * np.linalg.norm(p):
        raise NumericalBreakdownError("the leading eigenvalue of W is defective (q^H p = 0): rho(W) is "
                                      "not differentiable there")
    d_rho = np.real(np.conj(mu_1) / rho * np.outer(q_conj, p) / denom)
    return (rho - 1.0) ** 2, 2.0 * (rho - 1.0) * d_rho


def jacobian_norm_loss_grad(system, h0, xs, *, transient=0):
    """L_D = mean over steps s >= transient of (log sigma_1(D_s))^2, and its gradient::

        D_s_bar = omega_s q_s p_s^T,   omega_s = 2 log sigma_1(D_s) / (sigma_1(D_s) (T - T_tr))
        h_bar_s = step_vjp(h_bar_{s+1}) + tangent_vjp(Q = p_s, Q~_bar = omega_s q_s)

    with D_s p_s = sigma_1 q_s, the parameter parts of both pullbacks summed over the steps.

    Derivation: docs/derivations.md, section 11.

    system : differentiable map (one network, no batch axes: ``h0 : (n,)``)
    h0 : (n,) ndarray
    xs : (T, n_in) ndarray, the inputs of the T steps
    transient : int, steps whose D_s is not regularised (the state still runs)

    returns loss : float, grads : dict like ``system.params`` (missing keys: zero)
    """
    T = xs.shape[0]
    n = system.state_size
    eye = np.eye(n)
    h = h0
    tape = []
    loss = 0.0
    steps_averaged = T - transient                     # T - T_tr
    for s in range(T):
        h_next, cache = system.step(h, xs[s])
        if s >= transient:
            D = system.tangent(cache, eye)             # D_s, (n, n)
            left_vecs, sigmas, right_rows = np.linalg.svd(D)
            sigma = sigmas[0]
            if not np.isfinite(sigma) or sigma <= 0.0:
                raise NumericalBreakdownError(f"sigma_1(D_s) = {sigma} at step {s}: no logarithm")
            loss += np.log(sigma) ** 2 / steps_averaged
            tape.append((cache, left_vecs[:, 0], right_rows[0], sigma))    # q_s, p_s
        else:
            tape.append((cache, None, None, None))
        h = h_next
        if not np.all(np.isfinite(h)):
            raise NumericalBreakdownError(f"the state overflowed at step {s}")
    grads = {name: np.zeros_like(p) for name, p in system.params.items()}
    h_bar = np.zeros(n)                                # cotangent of h_{s+1}
    for s in range(T - 1, -1, -1):
        cache, q, p, sigma = tape[s]
        h_bar, params_bar = system.step_vjp(cache, h_bar)   # through h_{s+1} = f(h_s)
        _accumulate(grads, params_bar)
        if q is not None:                              # D_s's own dependence on h_s and the parameters
            coeff = 2.0 * np.log(sigma) / (sigma * steps_averaged)     # omega_s
            hD_bar, _, pD_bar = system.tangent_vjp(cache, p[:, None], coeff * q[:, None])
            h_bar = h_bar + hD_bar
            _accumulate(grads, pD_bar)
    return float(loss), grads


def _check_controllable(system, objective):
    """Refuse (TypeError) a system that cannot give what ``objective`` needs."""
    what = f"the Sec. 7 control {objective!r}"
    params = getattr(system, "params", None)
    if not isinstance(params, dict):
        raise TypeError(f"{what} needs a map with a params dict, got {type(system).__name__}")
    if getattr(system, "ensemble_shape", ()) != ():
        raise TypeError(f"{what} regularises one network; got an ensemble of shape {system.ensemble_shape}")
    if objective == "spectral_radius":
        W = params.get("W")
        if not (isinstance(W, np.ndarray) and W.ndim == 2 and W.shape[0] == W.shape[1]):
            shape = None if W is None else np.shape(W)
            raise TypeError(f"{what} needs a square recurrent matrix params['W'] : (N, N), got shape {shape} "
                            f"for {type(system).__name__} (a gated cell stacks its gates in W)")
    else:
        missing = [m for m in ("step", "tangent", "step_vjp", "tangent_vjp", "state_size", "n_in")
                   if not hasattr(system, m)]
        if missing:
            raise TypeError(f"{what} needs the map protocol (floss_ref.core.maps); {type(system).__name__} "
                            f"lacks {', '.join(missing)}")


def _accumulate(total, part):
    for name, g in part.items():
        total[name] += g


def regularize(system, *, objective, epochs, T, transient=0, inputs="bernoulli", input_scale=1.0, lr=1e-3,
               seed=None, optimizer=None):
    """``epochs`` Adam steps on a Sec. 7 control objective (module docstring), each on a
    fresh trajectory (h0 ~ N(0, 1), inputs as in :func:`floss_ref.floss`).

    system : one network (no ensemble axes) of any differentiable map that gives what the
        objective needs: "spectral_radius" a square recurrent matrix ``params["W"] : (N, N)``
        (the vanilla cell's; a gated cell's W stacks its gates and is not square);
        "jacobian_norm" the map protocol's ``step``, ``tangent``, ``step_vjp`` and
        ``tangent_vjp`` (:mod:`floss_ref.core.maps`)
    objective : "spectral_radius" or "jacobian_norm"
    returns loss : (epochs,) ndarray, measured before each update
    """
    _validate.choice("objective", objective, OBJECTIVES)
    _check_controllable(system, objective)
    epochs = _validate.integer("epochs", epochs, minimum=0)
    T = _validate.integer("T", T, minimum=1)
    transient = _validate.integer("transient", transient, minimum=0, maximum=T - 1)
    _validate.choice("inputs", inputs, FLOSSING_INPUTS)
    input_scale = _validate.real("input_scale", input_scale, minimum=0.0, strict_min=True)
    rng = _validate.rng(seed)
    opt = optimizer if optimizer is not None else Adam(system.params, lr=lr)
    losses = np.empty(epochs)
    for e in range(epochs):
        if objective == "spectral_radius":
            loss, W_bar = spectral_radius_loss_grad(system.params["W"])
            grads = {name: np.zeros_like(p) for name, p in system.params.items()}
            grads["W"] = W_bar
        else:
            xs = draw_inputs(inputs, T, (), system.n_in, rng)
            if xs is None:
                xs = np.zeros((T, system.n_in))
            h0 = rng.standard_normal(system.state_size)
            loss, grads = jacobian_norm_loss_grad(system, h0, xs * input_scale, transient=transient)
        opt.step(grads)
        losses[e] = loss
    return losses


def __getattr__(name):
    # the training run with control episodes is run machinery: it lives in floss_ref.runs.run
    if name in ("ControlRun", "control_result"):
        raise ImportError(f"{name} is in floss_ref.runs.run (from floss_ref.runs.run import {name})")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
