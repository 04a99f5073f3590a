"""The LSTM of App. B (Eqs. 12-17), its 2N x 2N Jacobian action and their pullbacks.

Step s maps the state (h_s, c_s) to (h_{s+1}, c_{s+1}) and reads the input x_{s+1}::

    a       = W h_s + V x_{s+1} + b             pre-activations, one block a_g per gate
    i       = sig(a_i)                          (Eq. 14)
    f       = sig(a_f)                          (Eq. 12)
    c~      = tanh(a_c~)                        (Eq. 15)
    o       = sig(a_o)                          (Eq. 13)
    c_{s+1} = f * c_s + i * c~                  (Eq. 16)
    h_{s+1} = o * u,    u = tanh(c_{s+1})       (Eq. 17)

The paper writes the recurrent weights as U_* and the input weights as W_*, and indexes
time by t; here, as for the vanilla cell, ``W`` is recurrent, ``V`` is input, and s is
the time-step index.  The dynamical state (h, c) is stored concatenated as
``hc = (h, c) : (*batch, 2N)``; the readout reads ``hc[..., :N] = h``.  The four gates
are stacked in the order (i, f, c~, o), so ``W : (*nets, 4N, N)`` holds
``W_i, W_f, W_c~, W_o`` as consecutive N-row blocks and one matrix product gives all
pre-activations ``a``, viewed as ``(*batch, 4, N)``.

The linearisation (the one-step Jacobian D_s, 2N x 2N, never formed), with
``a_dot = W h_dot``::

    c_{s+1}_dot = f * c_dot + K_i a_i_dot + K_f a_f_dot + K_c~ a_c~_dot
    h_{s+1}_dot = K_o a_o_dot + nu * c_{s+1}_dot

    K     = slope * mult                    (*batch, 4, N), one block per gate
    slope = (i (1 - i), f (1 - f), 1 - c~^2, o (1 - o))       d gate / d a
    mult  = (c~, c_s, i, u)                                   what each gate multiplies
    nu    = o (1 - u^2)
    curv  = (1 - 2 i, 1 - 2 f, -2 c~, 1 - 2 o)                d slope / d a = slope * curv

``slope``, ``mult`` and ``curv`` are alpha, xi and chi in docs/derivations.md.  The step's
pullback is this map transposed, plus the parameter terms; the tangent step's pullback
also differentiates K, f and nu (the second-order term flossing needs).

Derivation: docs/derivations.md, section 6.

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
GAINS = ("shared", "app_b")       # the initialisations of random(): one gain g, or App. B's per-gate gains

# What step saves for the pullbacks and the tangent: the input state (h, c), the input x,
# gates = (i, f, c~, o), their slopes, mult = (c~, c, i, u), K = slope * mult and nu
# (module docstring), each (*batch, 4, N) or (*batch, N).
StepCache = collections.namedtuple("StepCache", "h c x gates slope mult K nu")


def _curvature(gates):
    """curv with d(slope)/da = slope * curv: 1 - 2 g for a sigmoid gate g, -2 c~ for the tanh
    candidate (chi in docs/derivations.md).

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
        ``*nets`` are ensemble axes: ``n_nets`` independent networks in one object.

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
            of Eqs. 12-15 from N(0, g_x^2/N).  At most 1e100, as g.
        forget_gain : float or None
            Gain g_fh of the forget gate's recurrent weights.  None: the same g as the
            other gates (the caption of Fig. 6); 0: App. B's text, which initialises
            g_fh as zero.  The same random numbers are drawn either way.  At most 1e100, as g.
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
        ensemble = _validate.ensemble_axes(ensemble)
        g = _validate.ensemble_gain(g, ensemble)
        _validate.memory(_validate.network_size(N, n_in, ensemble),
                         8 * 3 * (4 * N * N + N * n_in) * math.prod(ensemble),
                         "use fewer units N, inputs n_in or networks (ensemble)")
        input_scale = _validate.real("input_scale", input_scale, minimum=0.0, maximum=_validate.MAX_GAIN)
        _validate.choice("gains", gains, GAINS)
        if gains == "app_b" and forget_gain is not None:
            raise ValueError("forget_gain cannot be combined with gains='app_b', which sets g_fh = 0 (App. B); "
                             "leave forget_gain at None")
        rng = _validate.rng(seed)
        Z = rng.standard_normal(ensemble + (4 * N, N))
        W = g * Z / np.sqrt(N)
        if forget_gain is not None:
            forget_gain = _validate.real("forget_gain", forget_gain, minimum=0.0, maximum=_validate.MAX_GAIN)
            f = GATES.index("f")
            W[..., f * N:(f + 1) * N, :] = forget_gain * Z[..., f * N:(f + 1) * N, :] / np.sqrt(N)
        V = input_scale * rng.standard_normal(ensemble + (4 * N, n_in)) / np.sqrt(N)
        b = np.zeros(ensemble + (4, 1))
        b[..., GATES.index("f"), 0] = rng.uniform(size=ensemble)
        if gains == "app_b":
            drawn = rng.uniform(size=ensemble + (6,))  # g_ih, g_ix, g_fx, g_ch, g_cx, g_ox ~ U(0, 1)
            g_o = np.broadcast_to(g, ensemble + (1, 1))[..., 0, 0]   # g_oh: not named by App. B
            g_h = np.stack([drawn[..., 0], np.zeros(ensemble), drawn[..., 3], g_o], axis=-1)
            g_x = np.stack([drawn[..., 1], drawn[..., 2], drawn[..., 4], drawn[..., 5]], axis=-1)  # gates (i, f, c~, o)
            W = Z * np.repeat(g_h, N, axis=-1)[..., :, None] / np.sqrt(N)
            V = V * np.repeat(g_x, N, axis=-1)[..., :, None]
        return cls({"W": W, "V": V, "b": b})

    # ---- one time step, Eqs. 12-17 --------------------------------------------------

    def step(self, hc, x):
        """hc_{s+1} = (h_{s+1}, c_{s+1}) from hc_s = (h_s, c_s) and x_{s+1}, Eqs. 12-17.

        hc : (*batch, 2N)
        x : (*batch, n_in) or None (no input)
        returns hc_next : (*batch, 2N) and the cache for the pullbacks and ``tangent``.
        """
        N = self.N
        h, c = hc[..., :N], hc[..., N:]
        a = self._preactivation(h, x)                           # (*batch, 4, N)
        gates = expit(a)
        gates[..., 2, :] = np.tanh(a[..., 2, :])
        slope = gates * (1.0 - gates)                           # sig' of the sigmoid gates
        i, f, cand, o = (gates[..., j, :] for j in range(4))
        slope[..., 2, :] = 1.0 - cand * cand                    # tanh' of the candidate
        c_next = f * c + i * cand
        u = np.tanh(c_next)
        h_next = o * u
        mult = np.stack([cand, c, i, u], axis=-2)
        K = slope * mult                                        # coefficients of D_s, module docstring
        nu = o * (1.0 - u * u)
        return np.concatenate([h_next, c_next], axis=-1), StepCache(h, c, x, gates, slope, mult, K, nu)

    def _preactivation(self, h, x):
        """a = W h + V x + b, viewed per gate.  h : (*batch, N) -> a : (*batch, 4, N)."""
        p = self.params
        a = matvec(p["W"], h)
        if x is not None:
            a = a + matvec(p["V"], x)
        return a.reshape(a.shape[:-1] + (4, self.N)) + p["b"]

    def _preactivation_vjp(self, cache, a_bar):
        """Pullback of :meth:`_preactivation`::

            h_bar = W^T a_bar,   W_bar = a_bar h^T,   V_bar = a_bar x^T,   b_bar = a_bar

        with the parameter cotangents summed over the axes that broadcasting added (and
        over the units for the scalar biases of App. B).

        Derivation: docs/derivations.md, section 6.

        a_bar : (*batch, 4, N)
        returns h_bar : (*batch, N), params_bar : dict with W, V, b
        """
        h, x = cache.h, cache.x
        p = self.params
        a_bar_flat = a_bar.reshape(a_bar.shape[:-2] + (4 * self.N,))
        params_bar = {"W": outer_sum(a_bar_flat, h, p["W"].shape),
                      "b": sum_to(a_bar, p["b"].shape)}
        if x is not None:
            params_bar["V"] = outer_sum(a_bar_flat, x, p["V"].shape)
        return rmatvec(p["W"], a_bar_flat), params_bar

    def _preactivation_jvp(self, cache, h_dot, params_dot):
        """Tangent rule of :meth:`_preactivation`::

            a_dot = W h_dot + W_dot h + V_dot x + b_dot

        Derivation: docs/derivations.md, section 6.

        h_dot : (*batch, N)
        params_dot : dict of perturbations of W, V, b (missing keys are zero)
        returns a_dot : (*batch, 4, N)
        """
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
        """Pullback of :meth:`step`, the transpose of the linearisation in the module docstring::

            c_next_bar = c_next_bar_in + nu * h_next_bar        (c_{s+1} feeds h_{s+1}, Eq. 17)
            a_bar = K * (c_next_bar, c_next_bar, c_next_bar, h_next_bar)
            c_bar = f * c_next_bar
            h_bar = W^T a_bar,  W_bar = a_bar h^T,  V_bar = a_bar x^T,  b_bar = a_bar

        The gates i, f, c~ feed c_{s+1}, the gate o feeds h_{s+1}.  The parameter
        cotangents are summed over the axes that broadcasting added.

        Derivation: docs/derivations.md, section 6.

        hc_next_bar : (*batch, 2N)
        returns hc_bar : (*batch, 2N), params_bar : dict
        """
        N = self.N
        f, K, nu = cache.gates[..., 1, :], cache.K, cache.nu
        h_next_bar, c_next_bar_in = hc_next_bar[..., :N], hc_next_bar[..., N:]
        c_next_bar = c_next_bar_in + nu * h_next_bar
        a_bar = K * np.stack([c_next_bar, c_next_bar, c_next_bar, h_next_bar], axis=-2)
        h_bar, params_bar = self._preactivation_vjp(cache, a_bar)
        return np.concatenate([h_bar, f * c_next_bar], axis=-1), params_bar

    def step_jvp(self, cache, hc_dot, params_dot):
        """Tangent rule of :meth:`step`, the linearisation in the module docstring::

            c_next_dot = f * c_dot + K_i a_i_dot + K_f a_f_dot + K_c~ a_c~_dot
            h_next_dot = K_o a_o_dot + nu * c_next_dot

        with a_dot = W h_dot + W_dot h + V_dot x + b_dot.

        Derivation: docs/derivations.md, section 6.

        hc_dot : (*batch, 2N)
        params_dot : dict of perturbations of W, V, b (missing keys are zero)
        returns hc_next_dot : (*batch, 2N)
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
        """P = W Q_h per gate (*batch, 4, N, k) and the new cell block Q~_c (*batch, N, k)."""
        N = self.N
        f, K = cache.gates[..., 1, :], cache.K
        P = self.params["W"] @ Q[..., :N, :]
        P = P.reshape(P.shape[:-2] + (4, N, P.shape[-1]))
        Q_c_next = f[..., None] * Q[..., N:, :] + (K[..., :3, :, None] * P[..., :3, :, :]).sum(axis=-3)
        return P, Q_c_next

    def tangent(self, cache, Q):
        """Q~_{s+1} = D_s Q_s for the 2N x 2N Jacobian, without forming it.

        With Q = (Q_h; Q_c) and P = W Q_h (one block per gate)::

            Q~_c = f * Q_c + K_i P_i + K_f P_f + K_c~ P_c~
            Q~_h = K_o P_o + nu * Q~_c

        Q : (*batch, 2N, k)
        returns : (*batch, 2N, k)
        """
        K, nu = cache.K, cache.nu
        P, Q_c_next = self._tangent_parts(cache, Q)
        Q_h_next = K[..., 3, :, None] * P[..., 3, :, :] + nu[..., None] * Q_c_next
        return np.concatenate([Q_h_next, Q_c_next], axis=-2)

    def tangent_vjp(self, cache, Q, Q_tilde_bar):
        """Pullback of :meth:`tangent` (the second-order term flossing needs).

        The two lines of :meth:`tangent` reversed (cotangents of Q, of W through P = W Q_h,
        and of the coefficients), with Q~_bar_g = Q~_c_bar for the gates i, f, c~ and
        Q~_h_bar for o::

            Q~_c_bar = Q~_c_bar_in + nu * Q~_h_bar
            nu_bar = sum_k Q~_h_bar * Q~_c,     f_bar = sum_k Q~_c_bar * Q_c,   Q_c_bar = f * Q~_c_bar
            K_bar  = sum_k P * Q~_bar_g,        P_bar = K * Q~_bar_g
            Q_h_bar = W^T P_bar,                W_bar += P_bar Q_h^T

        then the coefficients K = slope * mult, f and nu as functions of a and c_s::

            slope_bar = K_bar * mult,   mult_bar = K_bar * slope -> (c~_bar, c_bar, i_bar, u_bar)
            o_bar = (1 - u^2) nu_bar,   u_bar += -2 o u nu_bar,   c_next_bar = (1 - u^2) u_bar
            a_bar = slope * (gate_bar + curv * slope_bar),   gate_bar = (i_bar, f_bar, c~_bar, o_bar)
            a_bar += K * (c_next_bar, c_next_bar, c_next_bar, 0),   c_bar += f * c_next_bar
            h_bar = W^T a_bar,  W_bar += a_bar h^T,  V_bar, b_bar as in step_vjp

        Derivation: docs/derivations.md, section 6.

        Q : (*batch, 2N, k)
        Q_tilde_bar : (*batch, 2N, k)
        returns hc_bar : (*batch, 2N), Q_bar : (*batch, 2N, k), params_bar : dict with W, V, b
        """
        N = self.N
        gates, slope, mult, K, nu = cache.gates, cache.slope, cache.mult, cache.K, cache.nu
        W = self.params["W"]
        P, Q_c_next = self._tangent_parts(cache, Q)
        Q_h, Q_c = Q[..., :N, :], Q[..., N:, :]
        Q_h_next_bar, Q_c_next_bar_in = Q_tilde_bar[..., :N, :], Q_tilde_bar[..., N:, :]
        f, o, u = gates[..., 1, :], gates[..., 3, :], mult[..., 3, :]

        # the two lines of the tangent step
        Q_c_next_bar = Q_c_next_bar_in + nu[..., None] * Q_h_next_bar
        # (*batch, 4, N, k): the cotangent each gate's K_g * P_g receives
        Q_tilde_bar_g = np.stack([Q_c_next_bar, Q_c_next_bar, Q_c_next_bar, Q_h_next_bar], axis=-3)
        K_bar = np.sum(P * Q_tilde_bar_g, axis=-1)
        P_bar = K[..., None] * Q_tilde_bar_g
        P_bar = P_bar.reshape(P_bar.shape[:-3] + (4 * N, P_bar.shape[-1]))
        W_bar_tangent = sum_to(P_bar @ np.swapaxes(Q_h, -1, -2), W.shape)
        Q_bar = np.concatenate([np.swapaxes(W, -1, -2) @ P_bar, f[..., None] * Q_c_next_bar], axis=-2)
        f_bar = np.sum(Q_c_next_bar * Q_c, axis=-1)
        nu_bar = np.sum(Q_h_next_bar * Q_c_next, axis=-1)

        # coefficients K = slope * mult, f, nu as functions of a and c_s
        curv = _curvature(gates)
        mult_bar = K_bar * slope
        du = 1.0 - u * u
        gate_bar = np.stack([mult_bar[..., 2, :], f_bar, mult_bar[..., 0, :], nu_bar * du], axis=-2)
        a_bar = slope * (gate_bar + curv * (K_bar * mult))
        u_bar = mult_bar[..., 3, :] - 2.0 * o * u * nu_bar
        c_next_bar = du * u_bar
        a_bar[..., :3, :] += K[..., :3, :] * c_next_bar[..., None, :]
        c_bar = mult_bar[..., 1, :] + f * c_next_bar

        h_bar, params_bar = self._preactivation_vjp(cache, a_bar)
        # W enters twice: through the pre-activations and through P = W Q_h
        params_bar["W"] += W_bar_tangent
        return np.concatenate([h_bar, c_bar], axis=-1), Q_bar, params_bar

    def tangent_jvp(self, cache, Q, hc_dot, Q_dot, params_dot):
        """Tangent rule of :meth:`tangent` for perturbations of hc, Q and the parameters,
        the product rule on its two lines::

            Q~_c_dot = f_dot * Q_c + f * Q_c_dot + sum_{g = i, f, c~} (K_g_dot P_g + K_g P_g_dot)
            Q~_h_dot = K_o_dot P_o + K_o P_o_dot + nu_dot * Q~_c + nu * Q~_c_dot

        with P_dot = W Q_h_dot + W_dot Q_h, K_dot = (curv * slope * a_dot) * mult + slope * mult_dot,
        f_dot = slope_f a_f_dot and nu_dot = o_dot (1 - u^2) - 2 o u u_dot.

        Derivation: docs/derivations.md, section 6.

        Q, Q_dot : (*batch, 2N, k)
        hc_dot : (*batch, 2N)
        params_dot : dict of perturbations of W, V, b (missing keys are zero)
        returns Q_tilde_dot : (*batch, 2N, k)
        """
        N = self.N
        gates, slope, mult, K, nu = cache.gates, cache.slope, cache.mult, cache.K, cache.nu
        f, o, u = gates[..., 1, :], gates[..., 3, :], mult[..., 3, :]
        P, Q_c_next = self._tangent_parts(cache, Q)

        # perturbation of the coefficients K, f, nu
        a_dot = self._preactivation_jvp(cache, hc_dot[..., :N], params_dot)
        c_dot = hc_dot[..., N:]
        Ka_dot = K * a_dot
        c_next_dot = f * c_dot + Ka_dot[..., :3, :].sum(axis=-2)
        u_dot = (1.0 - u * u) * c_next_dot
        gates_dot = slope * a_dot
        curv = _curvature(gates)
        mult_dot = np.stack([gates_dot[..., 2, :], c_dot, gates_dot[..., 0, :], u_dot], axis=-2)
        K_dot = (curv * gates_dot) * mult + slope * mult_dot
        f_dot = gates_dot[..., 1, :]
        nu_dot = gates_dot[..., 3, :] * (1.0 - u * u) - 2.0 * o * u * u_dot

        # perturbation of P = W Q_h
        P_dot = self.params["W"] @ Q_dot[..., :N, :]
        if "W" in params_dot:
            P_dot = P_dot + params_dot["W"] @ Q[..., :N, :]
        P_dot = P_dot.reshape(P.shape)

        KP_dot = K_dot[..., None] * P + K[..., None] * P_dot
        Q_c_next_dot = (f_dot[..., None] * Q[..., N:, :] + f[..., None] * Q_dot[..., N:, :]
                        + KP_dot[..., :3, :, :].sum(axis=-3))
        Q_h_next_dot = KP_dot[..., 3, :, :] + nu_dot[..., None] * Q_c_next + nu[..., None] * Q_c_next_dot
        return np.concatenate([Q_h_next_dot, Q_c_next_dot], axis=-2)
