"""The controls of Sec. 7: regularising what flossing does not, in its place.

The paper (Sec. 7): "merely regularizing the spectral radius of the recurrent weight matrix
W or the individual one-step Jacobians D_s ... does not yield such a training improvement.
This suggests that taking the temporal correlations between Jacobians D_s into account is
important."  The paper gives no formula for these regularisers; the two here are our
reading, each pushing towards 1 what flossing pushes towards 0 in log scale:

``spectral_radius``
    L_rho = (rho(W) - 1)^2, with rho(W) = |mu| for the eigenvalue mu of W of largest
    modulus.  For a simple mu with right and left eigenvectors v, u (W v = mu v,
    u^H W = mu u^H):  d mu = u^H dW v / (u^H v), and d rho = Re(conj(mu) d mu) / |mu|, so

        dL/dW = 2 (rho - 1) Re( conj(mu) / |mu| * conj(u) v^T / (u^H v) ).

``jacobian_norm``
    L_D = (1 / (T - T_tr)) sum_{s >= T_tr} (log sigma_1(D_s))^2 along a trajectory, with
    sigma_1 the largest singular value of the one-step Jacobian D_s = dh_{s+1}/dh_s.  With
    the top singular pair D_s v = sigma_1 u:  d sigma_1 = u^T dD_s v, and D_s depends on
    the parameters and on h_s.  So the cotangent 2 log(sigma_1) / (sigma_1 (T - T_tr)) u
    of D_s v is pulled back by the map's own ``tangent_vjp`` (with Q = v), which gives the
    parameter and h_s parts, and the h_s part is carried back through the earlier steps
    by ``step_vjp``, as in backpropagation through time.  Each step's D_s is regularised
    on its own: no product of Jacobians enters, which is the point of the control.

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
    """(rho(W) - 1)^2 and its gradient with respect to W (module docstring).

    W : (N, N) ndarray, one network
    returns loss : float, W_bar : (N, N) ndarray
    """
    mu, V = np.linalg.eig(W)
    i = int(np.argmax(np.abs(mu)))
    mu_i, v = mu[i], V[:, i]
    # left eigenvector: u^H W = mu u^H  <=>  W^T conj(u) = mu conj(u): eigenvector of W^T
    mu_t, U = np.linalg.eig(W.T)
    j = int(np.argmin(np.abs(mu_t - mu_i)))
    u_conj = U[:, j]                       # conj(u)
    rho = abs(mu_i)
    if rho == 0.0:
        raise NumericalBreakdownError("rho(W) = 0: the spectral radius has no gradient there")
    denom = u_conj @ v                     # u^H v
    if abs(denom) < 1e-12 * np.linalg.norm(u_conj) * np.linalg.norm(v):
        raise NumericalBreakdownError("the leading eigenvalue of W is defective (u^H v = 0): rho(W) is "
                                      "not differentiable there")
    d_rho = np.real(np.conj(mu_i) / rho * np.outer(u_conj, v) / denom)
    return (rho - 1.0) ** 2, 2.0 * (rho - 1.0) * d_rho


def jacobian_norm_loss_grad(system, h0, xs, *, transient=0):
    """L_D = mean over steps s >= transient of (log sigma_1(D_s))^2, and its gradient.

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
    window = T - transient
    for s in range(T):
        h_next, cache = system.step(h, xs[s])
        if s >= transient:
            D = system.tangent(cache, eye)             # D_s, (n, n)
            U, S, Vt = np.linalg.svd(D)
            sigma = S[0]
            if not np.isfinite(sigma) or sigma <= 0.0:
                raise NumericalBreakdownError(f"sigma_1(D_s) = {sigma} at step {s}: no logarithm")
            loss += np.log(sigma) ** 2 / window
            tape.append((cache, U[:, 0], Vt[0], sigma))
        else:
            tape.append((cache, None, None, None))
        h = h_next
        if not np.all(np.isfinite(h)):
            raise NumericalBreakdownError(f"the state overflowed at step {s}")
    grads = {name: np.zeros_like(p) for name, p in system.params.items()}
    h_bar = np.zeros(n)                                # cotangent of h_{s+1}
    for s in range(T - 1, -1, -1):
        cache, u, v, sigma = tape[s]
        h_bar, p_bar = system.step_vjp(cache, h_bar)   # through h_{s+1} = f(h_s)
        _accumulate(grads, p_bar)
        if u is not None:                              # D_s's own dependence on h_s and the parameters
            coeff = 2.0 * np.log(sigma) / (sigma * window)
            hD_bar, _, pD_bar = system.tangent_vjp(cache, v[:, None], coeff * u[:, None])
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
