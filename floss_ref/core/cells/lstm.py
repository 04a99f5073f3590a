"""The LSTM of App. B (Eqs. 12-17), its 2N x 2N Jacobian action and their pullbacks.

    i_t  = sigma(W_i h_{t-1} + V_i x_t + b_i)          (Eq. 14)
    f_t  = sigma(W_f h_{t-1} + V_f x_t + b_f)          (Eq. 12)
    c~_t = tanh (W_c h_{t-1} + V_c x_t + b_c)          (Eq. 15)
    o_t  = sigma(W_o h_{t-1} + V_o x_t + b_o)          (Eq. 13)
    c_t  = f_t * c_{t-1} + i_t * c~_t                  (Eq. 16)
    h_t  = o_t * tanh(c_t)                             (Eq. 17)

The paper writes the recurrent weights as U_* and the input weights as W_*; here, as for
the vanilla cell, ``W`` is recurrent and ``V`` is input.  The dynamical state is the pair
(h, c), stored concatenated as ``hc = (h, c) : (*batch, 2N)``; the readout reads
``hc[..., :N] = h``.  The four gates are stacked in the order (i, f, c~, o), so
``W : (*P, 4N, N)`` holds ``W_i, W_f, W_c, W_o`` as consecutive N-row blocks and one
matrix product gives all pre-activations ``a = W h + V x + b``, viewed as ``(*batch, 4, N)``.

Linearisation (the one-step Jacobian D_s, 2N x 2N, never formed).  Write
sigma'_j = g_j (1 - g_j) for the sigmoid gates, 1 - c~^2 for the candidate, and
tau = tanh(c_t).  A perturbation (dh, dc) of the state moves the pre-activations by
da = W dh and the state by

    dc_t = f * dc + K_i da_i + K_f da_f + K_c da_c
    dh_t = K_o da_o + nu * dc_t

with the per-unit coefficients

    K_i = sigma'_i c~,   K_f = sigma'_f c_{t-1},   K_c = (1 - c~^2) i,   K_o = sigma'_o tau,
    nu  = o (1 - tau^2).

``K = dG * M`` with ``dG = (sigma'_i, sigma'_f, 1 - c~^2, sigma'_o)`` and
``M = (c~, c_{t-1}, i, tau)``, both ``(*batch, 4, N)``.  The step's pullback is this map
transposed (plus the parameter terms); the tangent's pullback with respect to the state
also differentiates the coefficients K, f, nu (the second-order term flossing needs).

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

GATES = ("i", "f", "c", "o")          # order of the N-row blocks of W, V and rows of b

# What step saves for the pullbacks and the tangent: the input state (h, c), the input x,
# gates = (i, f, c~, o), their derivatives dG, M = (c~, c, i, tau), K = dG * M and nu
# (module docstring), each (*batch, 4, N) or (*batch, N).
StepCache = collections.namedtuple("StepCache", "h c x gates dG M K nu")


def _curvature(gates):
    """curv with d(dG)/da = dG * curv: 1 - 2 g for a sigmoid gate g, -2 c~ for the tanh candidate.

    gates : (*batch, 4, N)
    returns : (*batch, 4, N)
    """
    curv = 1.0 - 2.0 * gates
    curv[..., 2, :] = -2.0 * gates[..., 2, :]
    return curv


class LSTM:
    """Network of N LSTM units, App. B Eqs. 12-17, as a differentiable map (:mod:`floss_ref.core.maps`).

    Parameters
    ----------
    params : dict
        ``W : (*nets, 4N, N)`` recurrent weights, ``V : (*nets, 4N, n_in)`` input weights,
        ``b : (*nets, 4, 1)`` one scalar bias per gate (App. B) or ``(*nets, 4, N)`` one bias
        per gate and unit.  Blocks / rows in the gate order (i, f, c~, o).
        ``*nets`` are ensemble axes: R independent networks in one object.

    Attributes
    ----------
    params : dict of ndarray
        The parameters, float64.  Flossing and training update them in place.
    N, n_in : int
        Number of units and of input channels.
    state_size : int
        2N: the dynamical state is ``hc = (h, c)``, concatenated on the last axis.
        Build it with ``np.concatenate([h, c], axis=-1)``.
    ensemble_shape : tuple
        ``nets``, the shape of the ensemble axes (() for one network).

    Notes
    -----
    ``step``, ``tangent`` and their pullbacks are the hot path of every loop and do not
    re-validate their arguments; the drivers that call them check inputs once (a state
    of length N instead of 2N is refused there through ``state_size``).

    Examples
    --------
    >>> import numpy as np
    >>> from floss_ref.core.cells import LSTM
    >>> net = LSTM.random(8, g=0.5, seed=0)
    >>> hc = np.zeros(net.state_size)                      # (h, c) = (0, 0)
    >>> hc_next, cache = net.step(hc, np.ones(1))
    >>> hc_next.shape, net.tangent(cache, np.eye(16)[:, :3]).shape
    ((16,), (16, 3))
    """

    name = "lstm"  # its key in floss_ref.core.cells.CELLS
    state_per_unit = 2  # the state size is n = state_per_unit * N
    gates = 4  # blocks of N rows in W, V and b
    param_names = ("W", "V", "b")
    # keyword options of random() beyond N, n_in, g, ensemble and seed (see cells.make_cell)
    random_options = ("input_scale", "forget_gain", "gains")
    # axes of each parameter that belong to one network (the rest are the ensemble axes *nets)
    param_core_ndim = {"W": 2, "V": 2, "b": 2}

    def __init__(self, params):
        check_keys(params, self.param_names)
        W, V, b, N, self.ensemble_shape = gated(params, ("i", "f", "c~", "o"))
        self.params = {"W": W, "V": V, "b": b}
        self.N = N
        self.state_size = 2 * N
        self.n_in = V.shape[-1]

    @classmethod
    def random(cls, N, n_in=1, g=1.0, *, input_scale=1.0, forget_gain=None, gains="shared", ensemble=(),
               seed=None):
        """A random LSTM network with the initialisation of Fig. 6 or of App. B.

        Parameters
        ----------
        N : int
            Number of units.
        n_in : int
            Number of input channels.
        g : float or array of shape ensemble
            Recurrent weights of all four gates W_ij ~ N(0, g^2/N).  An array gives each
            network its own scale (Fig. 6A draws g ~ U(0, 1)).
        input_scale : float
            Input weights V_ij ~ N(0, input_scale^2/N): App. B draws every weight matrix
            of Eqs. 12-15 from N(0, g_x^2/N).
        forget_gain : float or None
            Gain g_fh of the forget gate's recurrent weights.  None: the same g as the
            other gates (the caption of Fig. 6); 0: App. B's text, which initialises
            g_fh as zero.  The same random numbers are drawn either way.
        gains : {"shared", "app_b"}
            ``"shared"`` (default): one gain g scales the recurrent weights of every gate,
            as in the caption of Fig. 6 ("standard deviations of weight scaling drawn
            g ~ U(0, 1)"); the input weights all have scale ``input_scale``.
            ``"app_b"``: App. B's per-gate gains, each network drawing its own
            g_ih, g_ix, g_fx, g_ch, g_cx, g_ox ~ U(0, 1) and setting g_fh = 0: the
            recurrent weights of gate x are N(0, g_xh^2 / N), its input weights
            N(0, (input_scale g_xx)^2 / N).  App. B does not name g_oh; here it is g (our
            inference).  The biases are App. B's in both cases.  ``forget_gain`` cannot
            be combined with ``"app_b"`` (which fixes g_fh = 0).  The standard normal
            draws of the default come first and are the same; the gains are drawn after
            them.
        ensemble : tuple of int
            The ensemble axes *nets: leading axes of independent networks.
        seed : int, numpy.random.Generator or None

        Notes
        -----
        Biases are scalars (App. B): b_f ~ U(0, 1) for the forget gate, b_i = b_c = b_o = 0.
        """
        N = _validate.integer("N", N, minimum=1)
        n_in = _validate.integer("n_in", n_in, minimum=1)
        g = _validate.ensemble_gain(g, ensemble)
        _validate.memory(f"N = {N}", 8 * 3 * (4 * N * N + N * n_in) * math.prod(ensemble), "use fewer units N")
        input_scale = _validate.real("input_scale", input_scale, minimum=0.0)
        _validate.choice("gains", gains, ("shared", "app_b"))
        if gains == "app_b" and forget_gain is not None:
            raise ValueError("forget_gain cannot be combined with gains='app_b', which sets g_fh = 0 (App. B); "
                             "leave forget_gain at None")
        rng = _validate.rng(seed)
        Z = rng.standard_normal(ensemble + (4 * N, N))
        W = g * Z / np.sqrt(N)
        if forget_gain is not None:
            forget_gain = _validate.real("forget_gain", forget_gain, minimum=0.0)
            f = GATES.index("f")
            W[..., f * N:(f + 1) * N, :] = forget_gain * Z[..., f * N:(f + 1) * N, :] / np.sqrt(N)
        V = input_scale * rng.standard_normal(ensemble + (4 * N, n_in)) / np.sqrt(N)
        b = np.zeros(ensemble + (4, 1))
        b[..., GATES.index("f"), 0] = rng.uniform(size=ensemble)
        if gains == "app_b":
            u = rng.uniform(size=ensemble + (6,))      # g_ih, g_ix, g_fx, g_ch, g_cx, g_ox ~ U(0, 1)
            g_o = np.broadcast_to(g, ensemble + (1, 1))[..., 0, 0]   # g_oh: not named by App. B
            g_h = np.stack([u[..., 0], np.zeros(ensemble), u[..., 3], g_o], axis=-1)
            g_x = np.stack([u[..., 1], u[..., 2], u[..., 4], u[..., 5]], axis=-1)     # gates (i, f, c~, o)
            W = Z * np.repeat(g_h, N, axis=-1)[..., :, None] / np.sqrt(N)
            V = V * np.repeat(g_x, N, axis=-1)[..., :, None]
        return cls({"W": W, "V": V, "b": b})

    # ---- one time step, Eqs. 12-17 --------------------------------------------------

    def step(self, hc, x):
        """hc_t = (h_t, c_t) from hc_{t-1} = (h_{t-1}, c_{t-1}) and x_t, Eqs. 12-17.

        hc : (*batch, 2N)
        x : (*batch, n_in) or None (no input)
        returns hc_next : (*batch, 2N) and the cache for the pullbacks and ``tangent``.
        """
        N = self.N
        h, c = hc[..., :N], hc[..., N:]
        a = self._preactivation(h, x)                           # (*batch, 4, N)
        gates = expit(a)
        gates[..., 2, :] = np.tanh(a[..., 2, :])
        dG = gates * (1.0 - gates)                              # sigma' of the sigmoid gates
        i, f, cand, o = (gates[..., j, :] for j in range(4))
        dG[..., 2, :] = 1.0 - cand * cand                       # tanh' of the candidate
        c_next = f * c + i * cand
        tau = np.tanh(c_next)
        h_next = o * tau
        M = np.stack([cand, c, i, tau], axis=-2)
        K = dG * M                                              # coefficients of D_s, module docstring
        nu = o * (1.0 - tau * tau)
        return np.concatenate([h_next, c_next], axis=-1), StepCache(h, c, x, gates, dG, M, K, nu)

    def _preactivation(self, h, x):
        """a = W h + V x + b, viewed per gate.  h : (*batch, N) -> a : (*batch, 4, N)."""
        p = self.params
        a = matvec(p["W"], h)
        if x is not None:
            a = a + matvec(p["V"], x)
        return a.reshape(a.shape[:-1] + (4, self.N)) + p["b"]

    def _preactivation_vjp(self, cache, a_bar):
        """Pullback of :meth:`_preactivation`: a_bar (*batch, 4, N) -> (h_bar (*batch, N), params_bar)."""
        h, x = cache.h, cache.x
        p = self.params
        a_bar_flat = a_bar.reshape(a_bar.shape[:-2] + (4 * self.N,))
        params_bar = {"W": outer_sum(a_bar_flat, h, p["W"].shape),
                      "b": sum_to(a_bar, p["b"].shape)}
        if x is not None:
            params_bar["V"] = outer_sum(a_bar_flat, x, p["V"].shape)
        return rmatvec(p["W"], a_bar_flat), params_bar

    def _preactivation_jvp(self, cache, h_dot, params_dot):
        """Tangent rule of :meth:`_preactivation`: da (*batch, 4, N) for perturbations h_dot, params_dot."""
        h, x = cache.h, cache.x
        a_dot = matvec(self.params["W"], h_dot)
        if "W" in params_dot:
            a_dot = a_dot + matvec(params_dot["W"], h)
        if "V" in params_dot and x is not None:
            a_dot = a_dot + matvec(params_dot["V"], x)
        a_dot = a_dot.reshape(a_dot.shape[:-1] + (4, self.N))
        if "b" in params_dot:
            a_dot = a_dot + params_dot["b"]
        return a_dot

    def step_vjp(self, cache, hc_next_bar):
        """Pullback of :meth:`step`: the transpose of the linearisation in the module docstring.

        Derivation: ``docs/derivations.md``, section 6.

            c_tot = c_t_bar + nu * h_t_bar                   (c_t feeds h_t, Eq. 17)
            a_bar = K * (c_tot, c_tot, c_tot, h_t_bar)       (gates i, f, c~ feed c_t; o feeds h_t)
            c_bar = f * c_tot
            h_bar = W^T a_bar,  W_bar = a_bar h^T,  V_bar = a_bar x^T,  b_bar = a_bar
        (parameter cotangents summed over the axes that broadcasting added).

        hc_next_bar : (*batch, 2N)
        returns hc_bar : (*batch, 2N), params_bar : dict
        """
        N = self.N
        f, K, nu = cache.gates[..., 1, :], cache.K, cache.nu
        h_next_bar, c_next_bar = hc_next_bar[..., :N], hc_next_bar[..., N:]
        c_tot = c_next_bar + nu * h_next_bar
        a_bar = K * np.stack([c_tot, c_tot, c_tot, h_next_bar], axis=-2)
        h_bar, params_bar = self._preactivation_vjp(cache, a_bar)
        return np.concatenate([h_bar, f * c_tot], axis=-1), params_bar

    def step_jvp(self, cache, hc_dot, params_dot):
        """Tangent rule of :meth:`step`: d hc_next for perturbations hc_dot, params_dot.

        Derivation: ``docs/derivations.md``, section 6.
        """
        N = self.N
        f, K, nu = cache.gates[..., 1, :], cache.K, cache.nu
        a_dot = self._preactivation_jvp(cache, hc_dot[..., :N], params_dot)
        Ka_dot = K * a_dot
        c_next_dot = f * hc_dot[..., N:] + Ka_dot[..., :3, :].sum(axis=-2)
        h_next_dot = Ka_dot[..., 3, :] + nu * c_next_dot
        return np.concatenate([h_next_dot, c_next_dot], axis=-1)

    # ---- tangent dynamics, Eq. 6: Q~ = D_s Q ----------------------------------------

    def _tangent_parts(self, cache, Q):
        """A = W Q_h per gate (*batch, 4, N, k) and the new cell block Q~_c (*batch, N, k)."""
        N = self.N
        f, K = cache.gates[..., 1, :], cache.K
        A = self.params["W"] @ Q[..., :N, :]
        A = A.reshape(A.shape[:-2] + (4, N, A.shape[-1]))
        Q_c_next = f[..., None] * Q[..., N:, :] + (K[..., :3, :, None] * A[..., :3, :, :]).sum(axis=-3)
        return A, Q_c_next

    def tangent(self, cache, Q):
        """Q~_{s+1} = D_s Q_s for the 2N x 2N Jacobian, without forming it.

        With Q = (Q_h; Q_c) and A = W Q_h (per gate):
            Q~_c = f * Q_c + K_i A_i + K_f A_f + K_c A_c
            Q~_h = K_o A_o + nu * Q~_c

        Q : (*batch, 2N, k)
        returns : (*batch, 2N, k)
        """
        K, nu = cache.K, cache.nu
        A, Q_c_next = self._tangent_parts(cache, Q)
        Q_h_next = K[..., 3, :, None] * A[..., 3, :, :] + nu[..., None] * Q_c_next
        return np.concatenate([Q_h_next, Q_c_next], axis=-2)

    def tangent_vjp(self, cache, Q, Q_tilde_bar):
        """Pullback of :meth:`tangent` (the second-order term flossing needs).

        Derivation: ``docs/derivations.md``, section 6.

        Reverse of the two lines of :meth:`tangent`, then of the coefficients.  First the
        bilinear part (cotangents of Q, of W through A = W Q_h, and of the coefficients):

            C     = Q~_c_bar + nu * Q~_h_bar
            nu_bar = sum_k Q~_h_bar * Q~_c,    f_bar = sum_k C * Q_c,    Q_c_bar = f * C
            K_bar  = sum_k A * (C, C, C, Q~_h_bar),   A_bar = K * (C, C, C, Q~_h_bar)
            Q_h_bar = W^T A_bar,                W_bar += A_bar Q_h^T

        then K = dG * M, f, nu as functions of the pre-activations a and of c_{t-1}, with
        d(dG)/da = dG * curv, curv = (1 - 2i, 1 - 2f, -2c~, 1 - 2o) (sigma'' = sigma'(1 - 2 sigma),
        tanh'' = -2 tanh tanh'):

            dG_bar = K_bar * M,   M_bar = K_bar * dG  -> c~_bar, c_bar, i_bar, tau_bar
            o_bar  = nu_bar (1 - tau^2),   tau_bar += -2 o tau nu_bar
            a_bar  = dG * (gate_bar + curv * dG_bar)       gate_bar = (i_bar, f_bar, c~_bar, o_bar)
            c_t_bar = (1 - tau^2) tau_bar,   then through c_t = f c + i c~ like step_vjp:
            a_bar  += K * (c_t_bar, c_t_bar, c_t_bar, 0),   c_bar += f * c_t_bar
            h_bar  = W^T a_bar,   W_bar += a_bar h^T,   V_bar, b_bar as in step_vjp.

        Q : (*batch, 2N, k)
        Q_tilde_bar : (*batch, 2N, k)
        returns hc_bar : (*batch, 2N), Q_bar : (*batch, 2N, k), params_bar : dict with W, V, b
        """
        N = self.N
        gates, dG, M, K, nu = cache.gates, cache.dG, cache.M, cache.K, cache.nu
        W = self.params["W"]
        A, Q_c_next = self._tangent_parts(cache, Q)
        Q_h, Q_c = Q[..., :N, :], Q[..., N:, :]
        Q_h_next_bar, Q_c_next_bar = Q_tilde_bar[..., :N, :], Q_tilde_bar[..., N:, :]
        f, o, tau = gates[..., 1, :], gates[..., 3, :], M[..., 3, :]

        # bilinear part
        C = Q_c_next_bar + nu[..., None] * Q_h_next_bar
        KA_bar = np.stack([C, C, C, Q_h_next_bar], axis=-3)                # (*batch, 4, N, k)
        K_bar = np.sum(A * KA_bar, axis=-1)
        A_bar = K[..., None] * KA_bar
        A_bar = A_bar.reshape(A_bar.shape[:-3] + (4 * N, A_bar.shape[-1]))
        W_bar_tangent = sum_to(A_bar @ np.swapaxes(Q_h, -1, -2), W.shape)
        Q_bar = np.concatenate([np.swapaxes(W, -1, -2) @ A_bar, f[..., None] * C], axis=-2)
        f_bar = np.sum(C * Q_c, axis=-1)
        nu_bar = np.sum(Q_h_next_bar * Q_c_next, axis=-1)

        # coefficients K = dG * M, f, nu as functions of a and c_{t-1}
        curv = _curvature(gates)
        M_bar = K_bar * dG
        dtau = 1.0 - tau * tau
        gate_bar = np.stack([M_bar[..., 2, :], f_bar, M_bar[..., 0, :], nu_bar * dtau], axis=-2)
        a_bar = dG * (gate_bar + curv * (K_bar * M))
        tau_bar = M_bar[..., 3, :] - 2.0 * o * tau * nu_bar
        c_next_bar = dtau * tau_bar
        a_bar[..., :3, :] += K[..., :3, :] * c_next_bar[..., None, :]
        c_bar = M_bar[..., 1, :] + f * c_next_bar

        h_bar, params_bar = self._preactivation_vjp(cache, a_bar)
        # W enters twice: through the pre-activations and through A = W Q_h
        params_bar["W"] += W_bar_tangent
        return np.concatenate([h_bar, c_bar], axis=-1), Q_bar, params_bar

    def tangent_jvp(self, cache, Q, hc_dot, Q_dot, params_dot):
        """Tangent rule of :meth:`tangent` for perturbations of hc, Q and the parameters.

        Derivation: ``docs/derivations.md``, section 6.
        """
        N = self.N
        gates, dG, M, K, nu = cache.gates, cache.dG, cache.M, cache.K, cache.nu
        f, o, tau = gates[..., 1, :], gates[..., 3, :], M[..., 3, :]
        A, Q_c_next = self._tangent_parts(cache, Q)

        # perturbation of the coefficients K, f, nu
        a_dot = self._preactivation_jvp(cache, hc_dot[..., :N], params_dot)
        c_dot = hc_dot[..., N:]
        Ka_dot = K * a_dot
        c_next_dot = f * c_dot + Ka_dot[..., :3, :].sum(axis=-2)
        tau_dot = (1.0 - tau * tau) * c_next_dot
        gates_dot = dG * a_dot
        curv = _curvature(gates)
        M_dot = np.stack([gates_dot[..., 2, :], c_dot, gates_dot[..., 0, :], tau_dot], axis=-2)
        K_dot = (curv * gates_dot) * M + dG * M_dot
        f_dot = gates_dot[..., 1, :]
        nu_dot = gates_dot[..., 3, :] * (1.0 - tau * tau) - 2.0 * o * tau * tau_dot

        # perturbation of A = W Q_h
        A_dot = self.params["W"] @ Q_dot[..., :N, :]
        if "W" in params_dot:
            A_dot = A_dot + params_dot["W"] @ Q[..., :N, :]
        A_dot = A_dot.reshape(A.shape)

        KA_dot = K_dot[..., None] * A + K[..., None] * A_dot
        Q_c_next_dot = (f_dot[..., None] * Q[..., N:, :] + f[..., None] * Q_dot[..., N:, :]
                        + KA_dot[..., :3, :, :].sum(axis=-3))
        Q_h_next_dot = KA_dot[..., 3, :, :] + nu_dot[..., None] * Q_c_next + nu[..., None] * Q_c_next_dot
        return np.concatenate([Q_h_next_dot, Q_c_next_dot], axis=-2)
