"""The gated recurrent unit (GRU), its N x N Jacobian action and their pullbacks.

The GRU of Cho et al. (2014) (the paper's reference cho_properties_2014), with the reset
gate applied to the state before the recurrent product:

    r_t = sigma(W_r h_{t-1} + V_r x_t + b_r)               reset gate
    z_t = sigma(W_z h_{t-1} + V_z x_t + b_z)               update gate
    n_t = tanh (W_n (r_t * h_{t-1}) + V_n x_t + b_n)       candidate
    h_t = z_t * h_{t-1} + (1 - z_t) * n_t

The state is h (state_size N).  The three blocks are stacked in the order (r, z, n):
``W : (*P, 3N, N)`` holds ``W_r, W_z, W_n`` as consecutive N-row blocks, so
``W[..., :2N, :]`` acts on h and ``W[..., 2N:, :]`` on ``m = r * h``.

Linearisation (the one-step Jacobian D_s, never formed).  With sigma'_j = g_j (1 - g_j),
a perturbation dh moves the gate pre-activations by (da_r, da_z) = W_rz dh and

    dm   = r * dh + K_r da_r,                 da_n = W_n dm
    dh_t = z * dh + K_z da_z + K_n da_n

with the per-unit coefficients

    K_r = sigma'_r h_{t-1},   K_z = sigma'_z (h_{t-1} - n),   K_n = (1 - z)(1 - n^2).

The step's pullback is this map transposed (plus the parameter terms); the tangent's
pullback with respect to the state also differentiates r, z, K_r, K_z, K_n.

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

# What step saves: the input state h and input x, rz = (r, z) and their derivatives d_rz
# (*batch, 2, N), m = r * h, the candidate n, dn = 1 - n^2 and K = (K_r, K_z, K_n) (*batch, 3, N).
StepCache = collections.namedtuple("StepCache", "h x rz d_rz m n dn K")


class GRU:
    """Network of N gated recurrent units as a differentiable map (:mod:`floss_ref.core.maps`).

    Parameters
    ----------
    params : dict
        ``W : (*nets, 3N, N)`` recurrent weights, ``V : (*nets, 3N, n_in)`` input weights,
        ``b : (*nets, 3, 1)`` one scalar bias per gate or ``(*nets, 3, N)`` one bias per gate
        and unit.  Blocks / rows in the order (r, z, n).  ``*nets`` are ensemble axes.

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
        W, V, b, N, self.ensemble_shape = gated(params, ("r", "z", "n"))
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
            Input weights V_ij ~ N(0, input_scale^2/N).
        ensemble : tuple of int
            The ensemble axes *nets: leading axes of independent networks.
        seed : int, numpy.random.Generator or None

        Notes
        -----
        Biases are scalars per gate, initialised to 0.
        """
        N = _validate.integer("N", N, minimum=1)
        n_in = _validate.integer("n_in", n_in, minimum=1)
        g = _validate.ensemble_gain(g, ensemble)
        _validate.memory(f"N = {N}", 8 * 3 * (3 * N * N + N * n_in) * math.prod(ensemble), "use fewer units N")
        input_scale = _validate.real("input_scale", input_scale, minimum=0.0)
        rng = _validate.rng(seed)
        W = g * rng.standard_normal(ensemble + (3 * N, N)) / np.sqrt(N)
        V = input_scale * rng.standard_normal(ensemble + (3 * N, n_in)) / np.sqrt(N)
        b = np.zeros(ensemble + (3, 1))
        return cls({"W": W, "V": V, "b": b})

    # ---- one time step ----------------------------------------------------------------

    def step(self, h, x):
        """h_t = z * h_{t-1} + (1 - z) * n from h_{t-1} and x_t (module docstring).

        h : (*batch, N)
        x : (*batch, n_in) or None (no input)
        returns h_next : (*batch, N) and the cache for the pullbacks and ``tangent``.
        """
        N = self.N
        W, V, b = self.params["W"], self.params["V"], self.params["b"]
        a = matvec(W[..., :2 * N, :], h)
        a = a.reshape(a.shape[:-1] + (2, N))
        if x is not None:
            u = matvec(V, x)
            u = u.reshape(u.shape[:-1] + (3, N)) + b            # input and bias terms, (*batch, 3, N)
        else:
            u = b
        rz = expit(a + u[..., :2, :])                           # (*batch, 2, N): r, z
        r, z = rz[..., 0, :], rz[..., 1, :]
        m = r * h
        n = np.tanh(matvec(W[..., 2 * N:, :], m) + u[..., 2, :])
        h_next = n + z * (h - n)
        d_rz = rz * (1.0 - rz)                                  # sigma'(a_r), sigma'(a_z)
        dn = 1.0 - n * n
        K = np.stack([d_rz[..., 0, :] * h, d_rz[..., 1, :] * (h - n), (1.0 - z) * dn], axis=-2)
        return h_next, StepCache(h, x, rz, d_rz, m, n, dn, K)

    def _preactivation_vjp(self, cache, h_bar, a_rz_bar, a_n_bar):
        """Pullback of the pre-activations a_rz = W_rz h + V_rz x + b_rz and
        a_n = W_n (r * h) + V_n x + b_n, given their cotangents and the direct h_bar.

        h_bar : (*batch, N),  a_rz_bar : (*batch, 2, N),  a_n_bar : (*batch, N)
        returns h_bar : (*batch, N), params_bar : dict with W, V, b
        """
        N = self.N
        h, x, rz, m, K = cache.h, cache.x, cache.rz, cache.m, cache.K
        W, V, b = self.params["W"], self.params["V"], self.params["b"]
        m_bar = rmatvec(W[..., 2 * N:, :], a_n_bar)
        a_rz_bar = a_rz_bar.copy()
        a_rz_bar[..., 0, :] += K[..., 0, :] * m_bar              # m = r h, r = sigma(a_r)
        a_rz_flat = a_rz_bar.reshape(a_rz_bar.shape[:-2] + (2 * N,))
        h_bar = h_bar + rz[..., 0, :] * m_bar + rmatvec(W[..., :2 * N, :], a_rz_flat)
        a_bar = np.concatenate([a_rz_bar, a_n_bar[..., None, :]], axis=-2)    # (*batch, 3, N)
        params_bar = {"W": np.concatenate([outer_sum(a_rz_flat, h, W[..., :2 * N, :].shape),
                                           outer_sum(a_n_bar, m, W[..., 2 * N:, :].shape)], axis=-2),
                      "b": sum_to(a_bar, b.shape)}
        if x is not None:
            params_bar["V"] = outer_sum(a_bar.reshape(a_bar.shape[:-2] + (3 * N,)), x, V.shape)
        return h_bar, params_bar

    def _preactivation_jvp(self, cache, h_dot, params_dot):
        """Tangent rule of the pre-activations: (da_rz (*batch, 2, N), dm (*batch, N), da_n (*batch, N))."""
        N = self.N
        h, x, rz, m, K = cache.h, cache.x, cache.rz, cache.m, cache.K
        W = self.params["W"]
        a_rz_dot = matvec(W[..., :2 * N, :], h_dot)
        a_n_dot = 0.0                       # parameter terms of da_n first, W_n dm last
        if "W" in params_dot:
            a_rz_dot = a_rz_dot + matvec(params_dot["W"][..., :2 * N, :], h)
            a_n_dot = matvec(params_dot["W"][..., 2 * N:, :], m)
        a_rz_dot = a_rz_dot.reshape(a_rz_dot.shape[:-1] + (2, N))
        if "V" in params_dot and x is not None:
            u_dot = matvec(params_dot["V"], x)
            u_dot = u_dot.reshape(u_dot.shape[:-1] + (3, N))
            a_rz_dot = a_rz_dot + u_dot[..., :2, :]
            a_n_dot = a_n_dot + u_dot[..., 2, :]
        if "b" in params_dot:
            a_rz_dot = a_rz_dot + params_dot["b"][..., :2, :]
            a_n_dot = a_n_dot + params_dot["b"][..., 2, :]
        m_dot = rz[..., 0, :] * h_dot + K[..., 0, :] * a_rz_dot[..., 0, :]
        a_n_dot = a_n_dot + matvec(W[..., 2 * N:, :], m_dot)
        return a_rz_dot, m_dot, a_n_dot

    def step_vjp(self, cache, h_next_bar):
        """Pullback of :meth:`step`: the transpose of the linearisation in the module docstring.

        Derivation: ``docs/derivations.md``, section 7.

            h_bar = z * h_t_bar,   a_z_bar = K_z h_t_bar,   a_n_bar = K_n h_t_bar
            m_bar = W_n^T a_n_bar, a_r_bar = K_r m_bar,     h_bar += r * m_bar
            h_bar += W_rz^T (a_r_bar, a_z_bar)
            W_bar = ((a_r_bar, a_z_bar) h^T ; a_n_bar m^T),  V_bar = a_bar x^T,  b_bar = a_bar

        h_next_bar : (*batch, N)
        returns h_bar : (*batch, N), params_bar : dict
        """
        rz, K = cache.rz, cache.K
        a_z_bar = K[..., 1, :] * h_next_bar
        a_rz_bar = np.stack([np.zeros_like(a_z_bar), a_z_bar], axis=-2)     # a_r enters only via m
        return self._preactivation_vjp(cache, rz[..., 1, :] * h_next_bar, a_rz_bar, K[..., 2, :] * h_next_bar)

    def step_jvp(self, cache, h_dot, params_dot):
        """Tangent rule of :meth:`step`: dh_next for perturbations h_dot, params_dot.

        Derivation: ``docs/derivations.md``, section 7.
        """
        rz, K = cache.rz, cache.K
        a_rz_dot, _, a_n_dot = self._preactivation_jvp(cache, h_dot, params_dot)
        return rz[..., 1, :] * h_dot + K[..., 1, :] * a_rz_dot[..., 1, :] + K[..., 2, :] * a_n_dot

    # ---- tangent dynamics, Eq. 6: Q~ = D_s Q ----------------------------------------

    def _tangent_parts(self, cache, Q):
        """A = W_rz Q (*batch, 2, N, k), Q_m = r Q + K_r A_r and B = W_n Q_m (*batch, N, k)."""
        N = self.N
        rz, K = cache.rz, cache.K
        W = self.params["W"]
        A = W[..., :2 * N, :] @ Q
        A = A.reshape(A.shape[:-2] + (2, N, A.shape[-1]))
        Q_m = rz[..., 0, :, None] * Q + K[..., 0, :, None] * A[..., 0, :, :]
        return A, Q_m, W[..., 2 * N:, :] @ Q_m

    def tangent(self, cache, Q):
        """Q~_{s+1} = D_s Q_s = z * Q + K_z A_z + K_n W_n (r * Q + K_r A_r), A = W_rz Q.

        Q : (*batch, N, k)
        returns : (*batch, N, k)
        """
        rz, K = cache.rz, cache.K
        A, _, B = self._tangent_parts(cache, Q)
        return rz[..., 1, :, None] * Q + K[..., 1, :, None] * A[..., 1, :, :] + K[..., 2, :, None] * B

    def tangent_vjp(self, cache, Q, Q_tilde_bar):
        """Pullback of :meth:`tangent` (the second-order term flossing needs).

        Derivation: ``docs/derivations.md``, section 7.

        Bilinear part, with G = Q~_bar:

            z_bar = sum_k G Q,         Q_bar = z G
            K_z_bar = sum_k G A_z,     A_z_bar = K_z G
            K_n_bar = sum_k G B,       B_bar = K_n G,    W_n_bar += B_bar Q_m^T
            Q_m_bar = W_n^T B_bar:     r_bar = sum_k Q_m_bar Q,     Q_bar += r Q_m_bar
                                       K_r_bar = sum_k Q_m_bar A_r, A_r_bar = K_r Q_m_bar
            Q_bar += W_rz^T A_bar,     W_rz_bar += A_bar Q^T

        then the coefficients as functions of h, a_r, a_z and n (sigma'' = sigma'(1 - 2 sigma),
        tanh'' = -2 n (1 - n^2)):

            a_r_bar = sigma'_r (r_bar + K_r_bar h (1 - 2r)),        h_bar = sigma'_r K_r_bar
            a_z_bar = sigma'_z (z_bar + K_z_bar (h - n)(1 - 2z) - K_n_bar (1 - n^2))
            h_bar  += sigma'_z K_z_bar
            n_bar   = -sigma'_z K_z_bar - 2 n (1 - z) K_n_bar
            a_n_bar = (1 - n^2) n_bar, then through a_n and a_rz as in step_vjp.

        Q : (*batch, N, k)
        Q_tilde_bar : (*batch, N, k)
        returns h_bar : (*batch, N), Q_bar : (*batch, N, k), params_bar : dict with W, V, b
        """
        N = self.N
        h, rz, d_rz, n, dn, K = cache.h, cache.rz, cache.d_rz, cache.n, cache.dn, cache.K
        W = self.params["W"]
        r, z = rz[..., 0, :], rz[..., 1, :]
        A, Q_m, B = self._tangent_parts(cache, Q)
        G = Q_tilde_bar
        QT = np.swapaxes(Q, -1, -2)

        # bilinear part
        z_bar = np.sum(G * Q, axis=-1)
        K_z_bar = np.sum(G * A[..., 1, :, :], axis=-1)
        K_n_bar = np.sum(G * B, axis=-1)
        B_bar = K[..., 2, :, None] * G
        Q_m_bar = np.swapaxes(W[..., 2 * N:, :], -1, -2) @ B_bar
        r_bar = np.sum(Q_m_bar * Q, axis=-1)
        K_r_bar = np.sum(Q_m_bar * A[..., 0, :, :], axis=-1)
        A_bar = np.concatenate([K[..., 0, :, None] * Q_m_bar, K[..., 1, :, None] * G], axis=-2)  # (*batch, 2N, k)
        W_bar_tangent = np.concatenate(
            [sum_to(A_bar @ QT, W[..., :2 * N, :].shape),
             sum_to(B_bar @ np.swapaxes(Q_m, -1, -2), W[..., 2 * N:, :].shape)], axis=-2)
        Q_bar = (z[..., None] * G + r[..., None] * Q_m_bar
                 + np.swapaxes(W[..., :2 * N, :], -1, -2) @ A_bar)

        # coefficients r, z, K_r = sigma'_r h, K_z = sigma'_z (h - n), K_n = (1 - z)(1 - n^2)
        a_r_bar = d_rz[..., 0, :] * (r_bar + K_r_bar * h * (1.0 - 2.0 * r))
        a_z_bar = d_rz[..., 1, :] * (z_bar + K_z_bar * (h - n) * (1.0 - 2.0 * z) - K_n_bar * dn)
        h_bar = d_rz[..., 0, :] * K_r_bar + d_rz[..., 1, :] * K_z_bar
        n_bar = -d_rz[..., 1, :] * K_z_bar - 2.0 * n * (1.0 - z) * K_n_bar
        h_bar, params_bar = self._preactivation_vjp(
            cache, h_bar, np.stack([a_r_bar, a_z_bar], axis=-2), dn * n_bar)
        # W enters twice: through the pre-activations and through A = W_rz Q, B = W_n Q_m
        params_bar["W"] += W_bar_tangent
        return h_bar, Q_bar, params_bar

    def tangent_jvp(self, cache, Q, h_dot, Q_dot, params_dot):
        """Tangent rule of :meth:`tangent` for perturbations of h, Q and the parameters.

        Derivation: ``docs/derivations.md``, section 7.
        """
        N = self.N
        h, rz, d_rz, n, dn, K = cache.h, cache.rz, cache.d_rz, cache.n, cache.dn, cache.K
        W = self.params["W"]
        r, z = rz[..., 0, :], rz[..., 1, :]
        A, Q_m, B = self._tangent_parts(cache, Q)

        # perturbation of the coefficients
        a_rz_dot, _, a_n_dot = self._preactivation_jvp(cache, h_dot, params_dot)
        r_dot = d_rz[..., 0, :] * a_rz_dot[..., 0, :]
        z_dot = d_rz[..., 1, :] * a_rz_dot[..., 1, :]
        n_dot = dn * a_n_dot
        K_r_dot = (1.0 - 2.0 * r) * r_dot * h + d_rz[..., 0, :] * h_dot
        K_z_dot = (1.0 - 2.0 * z) * z_dot * (h - n) + d_rz[..., 1, :] * (h_dot - n_dot)
        K_n_dot = -z_dot * dn - (1.0 - z) * 2.0 * n * n_dot

        # perturbation of A = W_rz Q, Q_m = r Q + K_r A_r, B = W_n Q_m
        A_dot = W[..., :2 * N, :] @ Q_dot
        if "W" in params_dot:
            A_dot = A_dot + params_dot["W"][..., :2 * N, :] @ Q
        A_dot = A_dot.reshape(A.shape)
        Q_m_dot = (r_dot[..., None] * Q + r[..., None] * Q_dot
                   + K_r_dot[..., None] * A[..., 0, :, :] + K[..., 0, :, None] * A_dot[..., 0, :, :])
        B_dot = W[..., 2 * N:, :] @ Q_m_dot
        if "W" in params_dot:
            B_dot = B_dot + params_dot["W"][..., 2 * N:, :] @ Q_m
        return (z_dot[..., None] * Q + z[..., None] * Q_dot
                + K_z_dot[..., None] * A[..., 1, :, :] + K[..., 1, :, None] * A_dot[..., 1, :, :]
                + K_n_dot[..., None] * B + K[..., 2, :, None] * B_dot)
