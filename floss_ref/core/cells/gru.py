"""The gated recurrent unit (GRU), its N x N Jacobian action and their pullbacks.

The GRU of Cho et al. (2014) (the paper's reference cho_properties_2014), with the reset
gate applied to the state before the recurrent product.  Step s maps h_s to h_{s+1} and
reads the input x_{s+1}::

    (a_r; a_z) = W_rz h_s + V_rz x_{s+1} + b_rz
    r = sig(a_r),   z = sig(a_z)                             reset and update gates
    eta  = r * h_s                                           reset state
    h~   = tanh(W_h~ eta + V_h~ x_{s+1} + b_h~)              candidate
    h_{s+1} = z * h_s + (1 - z) * h~

The state is h (state_size N).  The three blocks are stacked in the order (r, z, h~):
``W : (*nets, 3N, N)`` holds ``W_r, W_z, W_h~`` as consecutive N-row blocks, so
``W_rz = W[..., :2N, :]`` acts on h_s and ``W_h~ = W[..., 2N:, :]`` on ``eta = r * h_s``
(code names: ``rh`` for eta, ``cand`` for h~).

The linearisation (the one-step Jacobian D_s, never formed), with
``(a_r_dot; a_z_dot) = W_rz h_dot``::

    eta_dot     = r * h_dot + K_r a_r_dot,       a_h~_dot = W_h~ eta_dot
    h_{s+1}_dot = z * h_dot + K_z a_z_dot + K_h~ a_h~_dot

    K_r = slope_r h_s,   K_z = slope_z (h_s - h~),   K_h~ = (1 - z) slope_h~
    slope_r = r (1 - r),   slope_z = z (1 - z),   slope_h~ = 1 - h~^2

The slopes are alpha in docs/derivations.md.  The step's pullback is this map transposed,
plus the parameter terms; the tangent step's pullback also differentiates r, z, K_r, K_z
and K_h~.

Derivation: docs/derivations.md, section 7.

Each operation is followed by its pullback (``*_vjp``) and its tangent rule (``*_jvp``),
which the tests pair in dot-product tests.  Shapes follow :mod:`floss_ref.core.cells._linear`.
"""

import collections

import math

import numpy as np
from scipy.special import expit

from floss_ref import _validate
from floss_ref.core.cells._linear import matvec, outer_sum, rmatvec, sum_to
from floss_ref.core.cells._params import check_keys, gated

# What step saves: the input state h and input x, rz = (r, z) and their slopes slope_rz
# (*batch, 2, N), rh = r * h (eta), the candidate cand (h~), slope_cand = 1 - cand^2 and
# K = (K_r, K_z, K_h~) (*batch, 3, N).
StepCache = collections.namedtuple("StepCache", "h x rz slope_rz rh cand slope_cand K")

class GRU:
    """Network of N gated recurrent units as a differentiable map (:mod:`floss_ref.core.maps`).

    Parameters
    ----------
    params : dict
        ``W : (*nets, 3N, N)`` recurrent weights, ``V : (*nets, 3N, n_in)`` input weights,
        ``b : (*nets, 3, 1)`` one scalar bias per gate or ``(*nets, 3, N)`` one bias per gate
        and unit.  Blocks / rows in the order (r, z, h~).  ``*nets`` are ensemble axes.

    Attributes
    ----------
    params : dict of ndarray
        The parameters, float64.  Flossing and training update them in place.
    N, n_in : int
        Number of units and of input channels.
    state_size : int
        N (the dynamical state is h).
    ensemble_shape : tuple
        ``nets``, the shape of the ensemble axes (() for one network).

    Notes
    -----
    ``step``, ``tangent`` and their pullbacks are the hot path of every loop and do not
    re-validate their arguments; the drivers that call them check inputs once.

    Examples
    --------
    >>> import numpy as np
    >>> from floss_ref.core.cells import GRU
    >>> net = GRU.random(8, g=1.5, seed=0)
    >>> h_next, cache = net.step(np.zeros(8), np.ones(1))
    >>> h_next.shape, net.tangent(cache, np.eye(8)[:, :3]).shape
    ((8,), (8, 3))
    """

    name = "gru"  # its key in floss_ref.core.cells.CELLS
    state_per_unit = 1  # the state size is n = state_per_unit * N
    gates = 3  # blocks of N rows in W, V and b
    param_names = ("W", "V", "b")
    # keyword options of random() beyond N, n_in, g, ensemble and seed (see cells.make_cell)
    random_options = ("input_scale",)
    # axes of each parameter that belong to one network (the rest are the ensemble axes *nets)
    param_core_ndim = {"W": 2, "V": 2, "b": 2}

    def __init__(self, params):
        check_keys(params, self.param_names)
        W, V, b, N, self.ensemble_shape = gated(params, ("r", "z", "h~"))
        self.params = {"W": W, "V": V, "b": b}
        self.N = self.state_size = N
        self.n_in = V.shape[-1]

    @classmethod
    def random(cls, N, n_in=1, g=1.0, *, input_scale=1.0, ensemble=(), seed=None):
        """A random GRU network, initialised like the LSTM of App. B.

        Parameters
        ----------
        N : int
            Number of units.
        n_in : int
            Number of input channels.
        g : float or array of shape ensemble
            Recurrent weights of all three blocks W_ij ~ N(0, g^2/N).
        input_scale : float
            Input weights V_ij ~ N(0, input_scale^2/N); at most 1e100, as g.
        ensemble : tuple of int
            The ensemble axes *nets: leading axes of independent networks.
        seed : int, numpy.random.Generator or None

        Notes
        -----
        Biases are scalars per gate, initialised to 0.
        """
        N = _validate.integer("N", N, minimum=1)
        n_in = _validate.integer("n_in", n_in, minimum=1)
        ensemble = _validate.ensemble_axes(ensemble)
        g = _validate.ensemble_gain(g, ensemble)
        _validate.memory(_validate.network_size(N, n_in, ensemble),
                         8 * 3 * (3 * N * N + N * n_in) * math.prod(ensemble),
                         "use fewer units N, inputs n_in or networks (ensemble)")
        input_scale = _validate.real("input_scale", input_scale, minimum=0.0, maximum=_validate.MAX_GAIN)
        rng = _validate.rng(seed)
        W = g * rng.standard_normal(ensemble + (3 * N, N)) / np.sqrt(N)
        V = input_scale * rng.standard_normal(ensemble + (3 * N, n_in)) / np.sqrt(N)
        b = np.zeros(ensemble + (3, 1))
        return cls({"W": W, "V": V, "b": b})

    # ---- one time step ----------------------------------------------------------------

    def step(self, h, x):
        """h_{s+1} = z * h_s + (1 - z) * h~ from h_s and x_{s+1} (module docstring).

        h : (*batch, N)
        x : (*batch, n_in) or None (no input)
        returns h_next : (*batch, N) and the cache for the pullbacks and ``tangent``.
        """
        N = self.N
        W, V, b = self.params["W"], self.params["V"], self.params["b"]
        a = matvec(W[..., :2 * N, :], h)
        a = a.reshape(a.shape[:-1] + (2, N))
        if x is not None:
            drive = matvec(V, x)
            drive = drive.reshape(drive.shape[:-1] + (3, N)) + b    # input and bias terms, (*batch, 3, N)
        else:
            drive = b
        rz = expit(a + drive[..., :2, :])                       # (*batch, 2, N): r, z
        r, z = rz[..., 0, :], rz[..., 1, :]
        rh = r * h
        cand = np.tanh(matvec(W[..., 2 * N:, :], rh) + drive[..., 2, :])
        h_next = cand + z * (h - cand)
        slope_rz = rz * (1.0 - rz)                              # sig'(a_r), sig'(a_z)
        slope_cand = 1.0 - cand * cand
        K = np.stack([slope_rz[..., 0, :] * h, slope_rz[..., 1, :] * (h - cand), (1.0 - z) * slope_cand], axis=-2)
        return h_next, StepCache(h, x, rz, slope_rz, rh, cand, slope_cand, K)

    def _preactivation_vjp(self, cache, h_bar, a_rz_bar, a_cand_bar):
        """Pullback of the pre-activations a_rz = W_rz h + V_rz x + b_rz and
        a_h~ = W_h~ (r * h) + V_h~ x + b_h~, given their cotangents and the direct h_bar::

            eta_bar = W_h~^T a_h~_bar,   a_r_bar += K_r eta_bar
            h_bar  += r * eta_bar + W_rz^T (a_r_bar; a_z_bar)
            W_bar = ((a_r_bar; a_z_bar) h^T ; a_h~_bar eta^T),   V_bar = a_bar x^T,   b_bar = a_bar

        Derivation: docs/derivations.md, section 7.

        h_bar : (*batch, N),  a_rz_bar : (*batch, 2, N),  a_cand_bar : (*batch, N)
        returns h_bar : (*batch, N), params_bar : dict with W, V, b
        """
        N = self.N
        h, x, rz, rh, K = cache.h, cache.x, cache.rz, cache.rh, cache.K
        W, V, b = self.params["W"], self.params["V"], self.params["b"]
        rh_bar = rmatvec(W[..., 2 * N:, :], a_cand_bar)
        a_rz_bar = a_rz_bar.copy()
        a_rz_bar[..., 0, :] += K[..., 0, :] * rh_bar            # eta = r h, r = sig(a_r)
        a_rz_flat = a_rz_bar.reshape(a_rz_bar.shape[:-2] + (2 * N,))
        h_bar = h_bar + rz[..., 0, :] * rh_bar + rmatvec(W[..., :2 * N, :], a_rz_flat)
        a_bar = np.concatenate([a_rz_bar, a_cand_bar[..., None, :]], axis=-2)    # (*batch, 3, N)
        params_bar = {"W": np.concatenate([outer_sum(a_rz_flat, h, W[..., :2 * N, :].shape),
                                           outer_sum(a_cand_bar, rh, W[..., 2 * N:, :].shape)], axis=-2),
                      "b": sum_to(a_bar, b.shape)}
        if x is not None:
            params_bar["V"] = outer_sum(a_bar.reshape(a_bar.shape[:-2] + (3 * N,)), x, V.shape)
        return h_bar, params_bar

    def _preactivation_jvp(self, cache, h_dot, params_dot):
        """Tangent rule of the pre-activations::

            a_rz_dot = W_rz h_dot + W_rz_dot h + V_rz_dot x + b_rz_dot
            eta_dot  = r * h_dot + K_r a_r_dot
            a_h~_dot = W_h~ eta_dot + W_h~_dot eta + V_h~_dot x + b_h~_dot

        Derivation: docs/derivations.md, section 7.

        h_dot : (*batch, N)
        params_dot : dict of perturbations of W, V, b (missing keys are zero)
        returns a_rz_dot : (*batch, 2, N), eta_dot : (*batch, N), a_h~_dot : (*batch, N)
        """
        N = self.N
        h, x, rz, rh, K = cache.h, cache.x, cache.rz, cache.rh, cache.K
        W = self.params["W"]
        a_rz_dot = matvec(W[..., :2 * N, :], h_dot)
        a_cand_dot = 0.0                    # parameter terms of a_h~_dot first, W_h~ eta_dot last
        if "W" in params_dot:
            a_rz_dot = a_rz_dot + matvec(params_dot["W"][..., :2 * N, :], h)
            a_cand_dot = matvec(params_dot["W"][..., 2 * N:, :], rh)
        a_rz_dot = a_rz_dot.reshape(a_rz_dot.shape[:-1] + (2, N))
        if "V" in params_dot and x is not None:
            drive_dot = matvec(params_dot["V"], x)
            drive_dot = drive_dot.reshape(drive_dot.shape[:-1] + (3, N))
            a_rz_dot = a_rz_dot + drive_dot[..., :2, :]
            a_cand_dot = a_cand_dot + drive_dot[..., 2, :]
        if "b" in params_dot:
            a_rz_dot = a_rz_dot + params_dot["b"][..., :2, :]
            a_cand_dot = a_cand_dot + params_dot["b"][..., 2, :]
        rh_dot = rz[..., 0, :] * h_dot + K[..., 0, :] * a_rz_dot[..., 0, :]
        a_cand_dot = a_cand_dot + matvec(W[..., 2 * N:, :], rh_dot)
        return a_rz_dot, rh_dot, a_cand_dot

    def step_vjp(self, cache, h_next_bar):
        """Pullback of :meth:`step`, the transpose of the linearisation in the module docstring::

            a_z_bar = K_z h_next_bar,     a_h~_bar = K_h~ h_next_bar
            eta_bar = W_h~^T a_h~_bar,    a_r_bar = K_r eta_bar
            h_bar = z * h_next_bar + r * eta_bar + W_rz^T (a_r_bar; a_z_bar)
            W_bar = ((a_r_bar; a_z_bar) h^T ; a_h~_bar eta^T),  V_bar = a_bar x^T,  b_bar = a_bar

        Derivation: docs/derivations.md, section 7.

        h_next_bar : (*batch, N)
        returns h_bar : (*batch, N), params_bar : dict
        """
        rz, K = cache.rz, cache.K
        a_z_bar = K[..., 1, :] * h_next_bar
        a_rz_bar = np.stack([np.zeros_like(a_z_bar), a_z_bar], axis=-2)     # a_r enters only via eta
        return self._preactivation_vjp(cache, rz[..., 1, :] * h_next_bar, a_rz_bar, K[..., 2, :] * h_next_bar)

    def step_jvp(self, cache, h_dot, params_dot):
        """Tangent rule of :meth:`step`, the linearisation in the module docstring::

            h_next_dot = z * h_dot + K_z a_z_dot + K_h~ a_h~_dot

        with the pre-activation tangents of :meth:`_preactivation_jvp`.

        Derivation: docs/derivations.md, section 7.

        h_dot : (*batch, N)
        params_dot : dict of perturbations of W, V, b (missing keys are zero)
        returns h_next_dot : (*batch, N)
        """
        rz, K = cache.rz, cache.K
        a_rz_dot, _, a_cand_dot = self._preactivation_jvp(cache, h_dot, params_dot)
        return rz[..., 1, :] * h_dot + K[..., 1, :] * a_rz_dot[..., 1, :] + K[..., 2, :] * a_cand_dot

    # ---- tangent dynamics, Eq. 6: Q~ = D_s Q ----------------------------------------

    def _tangent_parts(self, cache, Q):
        """(P_r; P_z) = W_rz Q (*batch, 2, N, k), Q_eta = r Q + K_r P_r and
        P_h~ = W_h~ Q_eta (*batch, N, k)."""
        N = self.N
        rz, K = cache.rz, cache.K
        W = self.params["W"]
        P = W[..., :2 * N, :] @ Q
        P = P.reshape(P.shape[:-2] + (2, N, P.shape[-1]))
        Q_rh = rz[..., 0, :, None] * Q + K[..., 0, :, None] * P[..., 0, :, :]
        return P, Q_rh, W[..., 2 * N:, :] @ Q_rh

    def tangent(self, cache, Q):
        """Q~_{s+1} = D_s Q_s without forming D_s::

            Q~_{s+1} = z * Q + K_z P_z + K_h~ P_h~,   P_h~ = W_h~ (r * Q + K_r P_r),   (P_r; P_z) = W_rz Q

        Q : (*batch, N, k)
        returns : (*batch, N, k)
        """
        rz, K = cache.rz, cache.K
        P, _, P_cand = self._tangent_parts(cache, Q)
        return rz[..., 1, :, None] * Q + K[..., 1, :, None] * P[..., 1, :, :] + K[..., 2, :, None] * P_cand

    def tangent_vjp(self, cache, Q, Q_tilde_bar):
        """Pullback of :meth:`tangent` (the second-order term flossing needs).

        The three lines of :meth:`tangent` reversed, with Q~_bar = Q_tilde_bar::

            z_bar = sum_k Q~_bar Q,         Q_bar = z Q~_bar
            K_z_bar = sum_k Q~_bar P_z,     P_z_bar = K_z Q~_bar
            K_h~_bar = sum_k Q~_bar P_h~,   P_h~_bar = K_h~ Q~_bar,   W_h~_bar += P_h~_bar Q_eta^T
            Q_eta_bar = W_h~^T P_h~_bar:    r_bar = sum_k Q_eta_bar Q,     Q_bar += r Q_eta_bar
                                            K_r_bar = sum_k Q_eta_bar P_r, P_r_bar = K_r Q_eta_bar
            Q_bar += W_rz^T (P_r_bar; P_z_bar),   W_rz_bar += (P_r_bar; P_z_bar) Q^T

        then the coefficients as functions of h, a_r, a_z and h~ (curvatures 1 - 2r, 1 - 2z)::

            a_r_bar = slope_r (r_bar + K_r_bar h (1 - 2r)),       h_bar = slope_r K_r_bar
            a_z_bar = slope_z (z_bar + K_z_bar (h - h~)(1 - 2z) - K_h~_bar slope_h~)
            h_bar  += slope_z K_z_bar
            h~_bar  = -slope_z K_z_bar - 2 h~ (1 - z) K_h~_bar
            a_h~_bar = slope_h~ h~_bar, then through a_h~ and a_rz as in step_vjp.

        Derivation: docs/derivations.md, section 7.

        Q : (*batch, N, k)
        Q_tilde_bar : (*batch, N, k)
        returns h_bar : (*batch, N), Q_bar : (*batch, N, k), params_bar : dict with W, V, b
        """
        N = self.N
        h, rz, slope_rz, cand, slope_cand, K = (cache.h, cache.rz, cache.slope_rz, cache.cand, cache.slope_cand,
                                                cache.K)
        W = self.params["W"]
        r, z = rz[..., 0, :], rz[..., 1, :]
        P, Q_rh, P_cand = self._tangent_parts(cache, Q)
        QT = np.swapaxes(Q, -1, -2)

        # the three lines of the tangent step
        z_bar = np.sum(Q_tilde_bar * Q, axis=-1)
        K_z_bar = np.sum(Q_tilde_bar * P[..., 1, :, :], axis=-1)
        K_cand_bar = np.sum(Q_tilde_bar * P_cand, axis=-1)
        P_cand_bar = K[..., 2, :, None] * Q_tilde_bar
        Q_rh_bar = np.swapaxes(W[..., 2 * N:, :], -1, -2) @ P_cand_bar
        r_bar = np.sum(Q_rh_bar * Q, axis=-1)
        K_r_bar = np.sum(Q_rh_bar * P[..., 0, :, :], axis=-1)
        # (P_r_bar; P_z_bar) : (*batch, 2N, k)
        P_bar = np.concatenate([K[..., 0, :, None] * Q_rh_bar, K[..., 1, :, None] * Q_tilde_bar], axis=-2)
        W_bar_tangent = np.concatenate(
            [sum_to(P_bar @ QT, W[..., :2 * N, :].shape),
             sum_to(P_cand_bar @ np.swapaxes(Q_rh, -1, -2), W[..., 2 * N:, :].shape)], axis=-2)
        Q_bar = (z[..., None] * Q_tilde_bar + r[..., None] * Q_rh_bar
                 + np.swapaxes(W[..., :2 * N, :], -1, -2) @ P_bar)

        # coefficients r, z, K_r = slope_r h, K_z = slope_z (h - h~), K_h~ = (1 - z) slope_h~
        a_r_bar = slope_rz[..., 0, :] * (r_bar + K_r_bar * h * (1.0 - 2.0 * r))
        a_z_bar = slope_rz[..., 1, :] * (z_bar + K_z_bar * (h - cand) * (1.0 - 2.0 * z) - K_cand_bar * slope_cand)
        h_bar = slope_rz[..., 0, :] * K_r_bar + slope_rz[..., 1, :] * K_z_bar
        cand_bar = -slope_rz[..., 1, :] * K_z_bar - 2.0 * cand * (1.0 - z) * K_cand_bar
        h_bar, params_bar = self._preactivation_vjp(
            cache, h_bar, np.stack([a_r_bar, a_z_bar], axis=-2), slope_cand * cand_bar)
        # W enters twice: through the pre-activations and through P = W_rz Q, P_h~ = W_h~ Q_eta
        params_bar["W"] += W_bar_tangent
        return h_bar, Q_bar, params_bar

    def tangent_jvp(self, cache, Q, h_dot, Q_dot, params_dot):
        """Tangent rule of :meth:`tangent` for perturbations of h, Q and the parameters, the
        product rule on its three lines::

            Q~_dot = z_dot Q + z Q_dot + K_z_dot P_z + K_z P_z_dot + K_h~_dot P_h~ + K_h~ P_h~_dot
            P_dot = W_rz Q_dot + W_rz_dot Q,   P_h~_dot = W_h~ Q_eta_dot + W_h~_dot Q_eta
            Q_eta_dot = r_dot Q + r Q_dot + K_r_dot P_r + K_r P_r_dot

        with r_dot = slope_r a_r_dot, z_dot = slope_z a_z_dot, h~_dot = slope_h~ a_h~_dot and
        K_r_dot, K_z_dot, K_h~_dot by the product rule on K_r = slope_r h, K_z = slope_z (h - h~),
        K_h~ = (1 - z) slope_h~.

        Derivation: docs/derivations.md, section 7.

        Q, Q_dot : (*batch, N, k)
        h_dot : (*batch, N)
        params_dot : dict of perturbations of W, V, b (missing keys are zero)
        returns Q_tilde_dot : (*batch, N, k)
        """
        N = self.N
        h, rz, slope_rz, cand, slope_cand, K = (cache.h, cache.rz, cache.slope_rz, cache.cand, cache.slope_cand,
                                                cache.K)
        W = self.params["W"]
        r, z = rz[..., 0, :], rz[..., 1, :]
        P, Q_rh, P_cand = self._tangent_parts(cache, Q)

        # perturbation of the coefficients
        a_rz_dot, _, a_cand_dot = self._preactivation_jvp(cache, h_dot, params_dot)
        r_dot = slope_rz[..., 0, :] * a_rz_dot[..., 0, :]
        z_dot = slope_rz[..., 1, :] * a_rz_dot[..., 1, :]
        cand_dot = slope_cand * a_cand_dot
        K_r_dot = (1.0 - 2.0 * r) * r_dot * h + slope_rz[..., 0, :] * h_dot
        K_z_dot = (1.0 - 2.0 * z) * z_dot * (h - cand) + slope_rz[..., 1, :] * (h_dot - cand_dot)
        K_cand_dot = -z_dot * slope_cand - (1.0 - z) * 2.0 * cand * cand_dot

        # perturbation of P = W_rz Q, Q_eta = r Q + K_r P_r, P_h~ = W_h~ Q_eta
        P_dot = W[..., :2 * N, :] @ Q_dot
        if "W" in params_dot:
            P_dot = P_dot + params_dot["W"][..., :2 * N, :] @ Q
        P_dot = P_dot.reshape(P.shape)
        Q_rh_dot = (r_dot[..., None] * Q + r[..., None] * Q_dot
                    + K_r_dot[..., None] * P[..., 0, :, :] + K[..., 0, :, None] * P_dot[..., 0, :, :])
        P_cand_dot = W[..., 2 * N:, :] @ Q_rh_dot
        if "W" in params_dot:
            P_cand_dot = P_cand_dot + params_dot["W"][..., 2 * N:, :] @ Q_rh
        return (z_dot[..., None] * Q + z[..., None] * Q_dot
                + K_z_dot[..., None] * P[..., 1, :, :] + K[..., 1, :, None] * P_dot[..., 1, :, :]
                + K_cand_dot[..., None] * P_cand + K[..., 2, :, None] * P_cand_dot)
