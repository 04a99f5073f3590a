"""The vanilla RNN of Eq. 9, its Jacobian action (tangent dynamics) and their pullbacks.

    h_{s+1} = W phi(h_s) + V x_{s+1} + b              (Eq. 9, phi = tanh or ReLU)
    D_s     = dh_{s+1}/dh_s = W diag(phi'(h_s))       (never formed)

Each operation is followed by its pullback (``*_vjp``) and its tangent rule (``*_jvp``),
which the tests pair in dot-product tests.  Shapes follow :mod:`floss_ref.cells._linear`:
states ``(*S, N)``, weights ``(*P, N, N)`` with ``P`` broadcasting against ``S``.
"""

import numpy as np

from .. import _validate
from ..qr import positive_diagonal
from ._linear import matvec, outer_sum, rmatvec, sum_to
from ._params import check_keys, ensemble_shape

NONLINEARITIES = ("tanh", "relu")
INITS = ("gaussian", "orthogonal")
MEAN_SCALES = ("entry", "1/N")


def _tanh(h):
    phi = np.tanh(h)
    return phi, 1.0 - phi * phi


def _relu(h):
    phi = np.maximum(h, 0.0)
    return phi, (h > 0.0).astype(h.dtype)  # phi'(0) := 0


class VanillaRNN:
    """Vanilla recurrent network, Eq. 9, as a differentiable map (see :mod:`floss_ref.maps`).

    Parameters
    ----------
    params : dict
        ``W : (*E, N, N)`` recurrent weights, ``V : (*E, N, d)`` input weights,
        ``b : (*E, N)`` bias.  ``E`` are ensemble axes: R independent networks in one
        object, each with its own weights and its own trajectory.
    nonlinearity : {"tanh", "relu"}

    Attributes
    ----------
    params : dict of ndarray
        The parameters, float64.  Flossing and training update them in place.
    N, d : int
        Number of units and of input channels.
    state_size : int
        N (the dynamical state is h).
    ensemble_shape : tuple
        E.

    Notes
    -----
    ``step``, ``tangent`` and their pullbacks are the hot path of every loop and do not
    re-validate their arguments; the drivers that call them check inputs once.
    """

    param_names = ("W", "V", "b")
    # axes of each parameter that belong to one network (the rest are ensemble axes E)
    param_core_ndim = {"W": 2, "V": 2, "b": 1}

    def __init__(self, params, nonlinearity="tanh"):
        self.nonlinearity = _validate.choice("nonlinearity", nonlinearity, NONLINEARITIES)
        check_keys(params, self.param_names)
        W = _validate.float_array("W", params["W"], min_ndim=2)
        N = W.shape[-1]
        if W.shape[-2] != N:
            raise ValueError(f"W must have shape (..., N, N), got {W.shape}")
        V = _validate.float_array("V", params["V"], min_ndim=2, tail=(N, None))
        b = _validate.float_array("b", params["b"], min_ndim=1, tail=(N,))
        self.ensemble_shape = ensemble_shape(W, V, b, 1)
        self.params = {"W": W, "V": V, "b": b}
        self.N = self.state_size = N
        self.d = V.shape[-1]
        self._phi = _tanh if self.nonlinearity == "tanh" else _relu

    @classmethod
    def random(cls, N, d=1, g=1.0, *, nonlinearity="tanh", init="gaussian", mean=None,
               mean_scale="entry", bias_scale=0.1, ensemble=(), seed=None):
        """A random network with the paper's initialisation.

        Parameters
        ----------
        N : int
            Number of units.
        d : int
            Number of input channels.
        g : float or array of shape ensemble
            Gain: W_ij ~ N(mean, g^2/N) (Section 3), or W = g * (Haar orthogonal) for
            ``init="orthogonal"`` (App. G).  An array gives each network its own gain
            (Fig. 1B draws g ~ U(0, 1)).
        nonlinearity : {"tanh", "relu"}
        init : {"gaussian", "orthogonal"}
        mean : float, optional
            gbar; default 0 for tanh and -0.1 for ReLU (App. B).
        mean_scale : {"entry", "1/N"}
            ``"entry"``: the mean of each W entry is gbar, a literal reading of App. B's
            N(-0.1, g^2/N); ``"1/N"``: it is gbar / N, as in the authors' code
            (``J = g randn(N, N) / sqrt(N) + gbar / N``).
        bias_scale : float
            b_i ~ bias_scale * U(0, 1), as in the authors' code; 0 for no bias.
        ensemble : tuple of int
            E, leading axes of independent networks.
        seed : int, numpy.random.Generator or None
        """
        N = _validate.integer("N", N, minimum=1)
        d = _validate.integer("d", d, minimum=1)
        _validate.choice("nonlinearity", nonlinearity, NONLINEARITIES)
        _validate.choice("init", init, INITS)
        g = _validate.ensemble_gain(g, ensemble)
        if mean is None:
            mean = 0.0 if nonlinearity == "tanh" else -0.1
        mean = _validate.real("mean", mean)
        if _validate.choice("mean_scale", mean_scale, MEAN_SCALES) == "1/N":
            mean = mean / N
        bias_scale = _validate.real("bias_scale", bias_scale, minimum=0.0)
        rng = _validate.rng(seed)
        if init == "gaussian":
            W = mean + g * rng.standard_normal(ensemble + (N, N)) / np.sqrt(N)
        else:
            Z = rng.standard_normal(ensemble + (N, N))
            Qz, _ = positive_diagonal(*np.linalg.qr(Z))  # diag(R) > 0 makes Q Haar distributed
            W = g * Qz
        V = rng.standard_normal(ensemble + (N, d))
        b = bias_scale * rng.uniform(size=ensemble + (N,))
        return cls({"W": W, "V": V, "b": b}, nonlinearity=nonlinearity)

    def _d2phi(self, phi, dphi):
        """phi''(h) from the cached phi(h) and phi'(h): -2 tanh(h) (1 - tanh^2 h), or 0 for ReLU."""
        if self.nonlinearity == "tanh":
            return -2.0 * phi * dphi
        return np.zeros_like(phi)

    # ---- one time step, Eq. 9 -------------------------------------------------------

    def step(self, h, x):
        """h_{s+1} = W phi(h_s) + V x_{s+1} + b.

        h : (*S, N)
        x : (*S, d) or None (no input)
        returns h_next : (*S, N) and the cache for the pullbacks and ``tangent``.
        """
        p = self.params
        phi, dphi = self._phi(h)
        h_next = matvec(p["W"], phi) + p["b"]
        if x is not None:
            h_next = h_next + matvec(p["V"], x)
        return h_next, (phi, dphi, x)

    def step_vjp(self, cache, h_next_bar):
        """Pullback of :meth:`step`.

            h_bar = phi'(h) * (W^T h_next_bar)
            W_bar = h_next_bar phi(h)^T,  V_bar = h_next_bar x^T,  b_bar = h_next_bar
        (parameter cotangents summed over the batch axes that broadcasting added).

        h_next_bar : (*S, N)
        returns h_bar : (*S, N), params_bar : dict
        """
        phi, dphi, x = cache
        p = self.params
        params_bar = {"W": outer_sum(h_next_bar, phi, p["W"].shape),
                      "b": sum_to(h_next_bar, p["b"].shape)}
        if x is not None:
            params_bar["V"] = outer_sum(h_next_bar, x, p["V"].shape)
        return rmatvec(p["W"], h_next_bar) * dphi, params_bar

    def step_jvp(self, cache, h_dot, params_dot):
        """Tangent rule of :meth:`step`: d h_next for perturbations h_dot, params_dot."""
        phi, dphi, x = cache
        p = self.params
        out = matvec(p["W"], dphi * h_dot)
        if "W" in params_dot:
            out = out + matvec(params_dot["W"], phi)
        if "b" in params_dot:
            out = out + params_dot["b"]
        if "V" in params_dot and x is not None:
            out = out + matvec(params_dot["V"], x)
        return out

    # ---- tangent dynamics, Eq. 6: Q~ = D_s Q ----------------------------------------

    def tangent(self, cache, Q):
        """Q~_{s+1} = D_s Q_s = W (phi'(h_s) * Q_s), without forming D_s.

        Q : (*S, N, k)
        returns : (*S, N, k)
        """
        dphi = cache[1]
        return self.params["W"] @ (dphi[..., :, None] * Q)

    def tangent_vjp(self, cache, Q, Q_tilde_bar):
        """Pullback of :meth:`tangent` (the second-order term flossing needs).

        With U = diag(phi'(h)) Q and Q~ = W U:
            W_bar = Q~_bar U^T
            U_bar = W^T Q~_bar,    Q_bar = phi'(h) * U_bar
            h_bar = phi''(h) * sum_k (U_bar * Q)[:, k]     (D_s depends on h via phi'(h))

        Q : (*S, N, k)
        Q_tilde_bar : (*S, N, k)
        returns h_bar : (*S, N), Q_bar : (*S, N, k), params_bar : dict with "W"
        """
        phi, dphi, _ = cache
        W = self.params["W"]
        U = dphi[..., :, None] * Q
        params_bar = {"W": sum_to(Q_tilde_bar @ np.swapaxes(U, -1, -2), W.shape)}
        U_bar = np.swapaxes(W, -1, -2) @ Q_tilde_bar
        Q_bar = dphi[..., :, None] * U_bar
        h_bar = self._d2phi(phi, dphi) * np.sum(U_bar * Q, axis=-1)
        return h_bar, Q_bar, params_bar

    def tangent_jvp(self, cache, Q, h_dot, Q_dot, params_dot):
        """Tangent rule of :meth:`tangent` for perturbations of h, Q and the parameters."""
        phi, dphi, _ = cache
        W = self.params["W"]
        dphi_dot = self._d2phi(phi, dphi) * h_dot
        out = W @ (dphi_dot[..., :, None] * Q + dphi[..., :, None] * Q_dot)
        if "W" in params_dot:
            out = out + params_dot["W"] @ (dphi[..., :, None] * Q)
        return out
