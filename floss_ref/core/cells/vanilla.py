"""The vanilla RNN of Eq. 9, its Jacobian action (tangent dynamics) and their pullbacks.

    h_{s+1} = W phi(h_s) + V x_{s+1} + b              (Eq. 9, phi = tanh, ReLU, or the identity of App. E)
    D_s     = dh_{s+1}/dh_s = W diag(phi'(h_s))       (never formed)

Each operation is followed by its pullback (``*_vjp``) and its tangent rule (``*_jvp``),
which the tests pair in dot-product tests.  Shapes follow :mod:`floss_ref.core.cells._linear`:
states ``(*batch, N)``, weights ``(*nets, N, N)`` with the ensemble axes ``*nets``
broadcasting against ``*batch``.
"""

import math

import numpy as np

from floss_ref import _validate
from floss_ref._workspace import scratch
from floss_ref.core.qr import positive_diagonal
from floss_ref.core.cells._linear import matvec, outer_sum, rmatvec, sum_to
from floss_ref.core.cells._params import check_keys, ensemble_shape, sizes

NONLINEARITIES = ("tanh", "relu", "linear")
INITS = ("gaussian", "orthogonal")
MEAN_SCALES = ("entry", "1/N")


# phi and phi' of each nonlinearity.  phi' is computed from phi(h), which the forward
# pass keeps anyway: 1 - tanh^2 for tanh; for ReLU, phi(h) > 0 exactly when h > 0
# (phi'(0) := 0).  ``out`` writes into a given array (the whole-sequence loops).

def _tanh(h, out=None):
    return np.tanh(h, out=out)


def _tanh_slope(phi, out=None):
    out = np.multiply(phi, phi, out=out)
    return np.subtract(1.0, out, out=out)


def _relu(h, out=None):
    return np.maximum(h, 0.0, out=out)


def _relu_slope(phi, out=None):
    if out is None:
        return (phi > 0.0).astype(phi.dtype)
    return np.greater(phi, 0.0, out=out)


def _identity(h, out=None):  # linear networks (App. E): phi(h) = h, a copy so the cache owns it
    if out is None:
        return h.copy()
    np.copyto(out, h)
    return out


def _identity_slope(phi, out=None):  # phi' = 1
    if out is None:
        return np.ones_like(phi)
    out[...] = 1.0
    return out


_PHI = {"tanh": (_tanh, _tanh_slope), "relu": (_relu, _relu_slope), "linear": (_identity, _identity_slope)}


class VanillaRNN:
    """Vanilla recurrent network, Eq. 9, as a differentiable map (see :mod:`floss_ref.core.maps`).

    Parameters
    ----------
    params : dict
        ``W : (*nets, N, N)`` recurrent weights, ``V : (*nets, N, n_in)`` input weights,
        ``b : (*nets, N)`` bias.  ``*nets`` are ensemble axes: ``n_nets`` independent networks
        in one object, each with its own weights and its own trajectory.
    nonlinearity : {"tanh", "relu", "linear"}
        phi of Eq. 9; "linear" is the identity (the linear networks of App. E).

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
    """

    name = "vanilla"  # its key in floss_ref.core.cells.CELLS
    state_per_unit = 1  # the state size is n = state_per_unit * N
    gates = 1  # blocks of N rows in W, V and b
    param_names = ("W", "V", "b")
    # keyword options of random() beyond N, n_in, g, ensemble and seed (see cells.make_cell)
    random_options = ("nonlinearity", "init", "mean", "mean_scale", "bias_scale")
    # axes of each parameter that belong to one network (the rest are the ensemble axes *nets)
    param_core_ndim = {"W": 2, "V": 2, "b": 1}

    def __init__(self, params, nonlinearity="tanh"):
        self.nonlinearity = _validate.choice("nonlinearity", nonlinearity, NONLINEARITIES)
        check_keys(params, self.param_names)
        W = _validate.float_array("W", params["W"], min_ndim=2, copy=True)
        N = W.shape[-1]
        if W.shape[-2] != N:
            raise ValueError(f"W must have shape (..., N, N), got {W.shape}")
        V = _validate.float_array("V", params["V"], min_ndim=2, tail=(N, None), copy=True)
        b = _validate.float_array("b", params["b"], min_ndim=1, tail=(N,), copy=True)
        sizes(N, V.shape[-1])
        self.ensemble_shape = ensemble_shape(W, V, b, 1)
        self.params = {"W": W, "V": V, "b": b}
        self.N = self.state_size = N
        self.n_in = V.shape[-1]
        self._phi, self._slope = _PHI[self.nonlinearity]

    @classmethod
    def random(cls, N, n_in=1, g=1.0, *, nonlinearity="tanh", init="gaussian", mean=None,
               mean_scale="entry", bias_scale=0.1, ensemble=(), seed=None):
        """A random network with the paper's initialisation.

        Parameters
        ----------
        N : int
            Number of units.
        n_in : int
            Number of input channels.
        g : float or array of shape ensemble
            Gain: W_ij ~ N(mean, g^2/N) (Section 3), or W = g * (Haar orthogonal) for
            ``init="orthogonal"`` (App. G).  An array gives each network its own gain
            (Fig. 1B draws g ~ U(0, 1)).
        nonlinearity : {"tanh", "relu", "linear"}
        init : {"gaussian", "orthogonal"}
        mean : float, optional
            gbar; default -0.1 for ReLU (App. B), 0 otherwise.
        mean_scale : {"entry", "1/N"}
            ``"entry"``: the mean of each W entry is gbar, a literal reading of App. B's
            N(-0.1, g^2/N); ``"1/N"``: it is gbar / N, as in the authors' code
            (``J = g randn(N, N) / sqrt(N) + gbar / N``).
        bias_scale : float
            b_i ~ bias_scale * U(0, 1), as in the authors' code; 0 for no bias.
        ensemble : tuple of int
            The ensemble axes *nets: leading axes of independent networks.
        seed : int, numpy.random.Generator or None
        """
        N = _validate.integer("N", N, minimum=1)
        n_in = _validate.integer("n_in", n_in, minimum=1)
        _validate.choice("nonlinearity", nonlinearity, NONLINEARITIES)
        _validate.choice("init", init, INITS)
        ensemble = _validate.ensemble_axes(ensemble)
        g = _validate.ensemble_gain(g, ensemble)
        _validate.memory(_validate.network_size(N, n_in, ensemble),
                         8 * 3 * (N * N + N * n_in) * math.prod(ensemble),
                         "use fewer units N, inputs n_in or networks (ensemble)")
        if mean is None:
            mean = -0.1 if nonlinearity == "relu" else 0.0
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
        V = rng.standard_normal(ensemble + (N, n_in))
        b = bias_scale * rng.uniform(size=ensemble + (N,))
        return cls({"W": W, "V": V, "b": b}, nonlinearity=nonlinearity)

    def _d2phi(self, phi, dphi):
        """phi''(h) from the cached phi(h) and phi'(h): -2 tanh(h) (1 - tanh^2 h), or 0 for ReLU
        and the identity."""
        if self.nonlinearity == "tanh":
            return -2.0 * phi * dphi
        return np.zeros_like(phi)

    # ---- one time step, Eq. 9 -------------------------------------------------------

    def step(self, h, x):
        """h_{s+1} = W phi(h_s) + V x_{s+1} + b.

        h : (*batch, N)
        x : (*batch, n_in) or None (no input)
        returns h_next : (*batch, N) and the cache for the pullbacks and ``tangent``.
        """
        p = self.params
        phi = self._phi(h)
        dphi = self._slope(phi)
        h_next = matvec(p["W"], phi) + p["b"]
        if x is not None:
            h_next = h_next + matvec(p["V"], x)
        return h_next, (phi, dphi, x)

    def step_vjp(self, cache, h_next_bar):
        """Pullback of :meth:`step`::

            h_bar = phi'(h) * (W^T h_next_bar)
            W_bar = h_next_bar phi(h)^T,  V_bar = h_next_bar x^T,  b_bar = h_next_bar

        The parameter cotangents are summed over the batch axes that broadcasting added.

        Derivation: docs/derivations.md, section 2.

        h_next_bar : (*batch, N)
        returns h_bar : (*batch, N), params_bar : dict
        """
        phi, dphi, x = cache
        p = self.params
        params_bar = {"W": outer_sum(h_next_bar, phi, p["W"].shape),
                      "b": sum_to(h_next_bar, p["b"].shape)}
        if x is not None:
            params_bar["V"] = outer_sum(h_next_bar, x, p["V"].shape)
        return rmatvec(p["W"], h_next_bar) * dphi, params_bar

    def step_jvp(self, cache, h_dot, params_dot):
        """Tangent rule of :meth:`step` for perturbations h_dot, params_dot::

            h_next_dot = W (phi'(h) * h_dot) + W_dot phi(h) + V_dot x + b_dot

        Derivation: docs/derivations.md, section 2.

        h_dot : (*batch, N)
        params_dot : dict of perturbations of W, V, b (missing keys are zero)
        returns h_next_dot : (*batch, N)
        """
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

        Q : (*batch, N, k)
        returns : (*batch, N, k)
        """
        dphi = cache[1]
        return self.params["W"] @ (dphi[..., :, None] * Q)

    def tangent_vjp(self, cache, Q, Q_tilde_bar):
        """Pullback of :meth:`tangent` (the second-order term flossing needs).

        With U = diag(phi'(h)) Q and Q~ = W U::

            W_bar = Q~_bar U^T
            U_bar = W^T Q~_bar,    Q_bar = phi'(h) * U_bar
            h_bar = phi''(h) * sum_k (U_bar * Q)[:, k]     (D_s depends on h via phi'(h))

        Derivation: docs/derivations.md, section 3.

        Q : (*batch, N, k)
        Q_tilde_bar : (*batch, N, k)
        returns h_bar : (*batch, N), Q_bar : (*batch, N, k), params_bar : dict with "W"
        """
        phi, dphi, _ = cache
        W = self.params["W"]
        U = dphi[..., :, None] * Q
        params_bar = {"W": sum_to(Q_tilde_bar @ U.swapaxes(-1, -2), W.shape)}
        U_bar = W.swapaxes(-1, -2) @ Q_tilde_bar
        Q_bar = dphi[..., :, None] * U_bar
        h_bar = self._d2phi(phi, dphi) * np.sum(U_bar * Q, axis=-1)
        return h_bar, Q_bar, params_bar

    def tangent_jvp(self, cache, Q, h_dot, Q_dot, params_dot):
        """Tangent rule of :meth:`tangent` for perturbations of h, Q and the parameters::

            Q~_dot = W ((phi''(h) * h_dot) * Q + phi'(h) * Q_dot) + W_dot (phi'(h) * Q)

        Derivation: docs/derivations.md, section 3.

        Q, Q_dot : (*batch, N, k)
        h_dot : (*batch, N)
        params_dot : dict of perturbations (only "W" enters; missing keys are zero)
        returns Q_tilde_dot : (*batch, N, k)
        """
        phi, dphi, _ = cache
        W = self.params["W"]
        dphi_dot = self._d2phi(phi, dphi) * h_dot
        out = W @ (dphi_dot[..., :, None] * Q + dphi[..., :, None] * Q_dot)
        if "W" in params_dot:
            out = out + params_dot["W"] @ (dphi[..., :, None] * Q)
        return out

    # ---- a whole sequence at once, for BPTT (optional in the map protocol) ---------

    def run(self, h0, xs, work=None):
        """Eq. 9 over a whole sequence for one network (W : (N, N)), B trajectories.

            h_{s+1} = (V x_{s+1} + b) + W phi(h_s),     x_{s+1} = xs[s]

        The same arithmetic as T calls of :meth:`step`, arranged for speed: the input
        drive ``V x_{s+1} + b`` of all T steps is one (T B, n_in) x (n_in, N) product before
        the loop, written where the states go.

        h0 : (N,) shared by the batch, or (B, N) one per trajectory
        xs : (T, B, n_in)
        work : workspace with ``empty(name, shape)`` (:class:`floss_ref.experiments.bptt.Workspace`), optional
        returns hs : (T, B, N), tape = (phis : (T, B, N) holding phi(h_0) .. phi(h_{T-1}),
        xs, h0.ndim)
        """
        W, V, b = self._one_network()
        T, B = xs.shape[:2]
        N = self.N
        # hs and phis here, and as much again in run_vjp (slopes, G)
        _validate.memory(f"a sequence of T = {T} steps of B = {B} trajectories (N = {N})", 4 * 8 * T * B * N,
                         "use a shorter T or a smaller batch B")
        hs = scratch(work, "hs", (T, B, N))
        phis = scratch(work, "phis", (T, B, N))
        np.matmul(xs, V.T, out=hs)
        hs += b
        h = np.broadcast_to(h0, (B, N))
        W_T = np.ascontiguousarray(W.T)  # a contiguous right factor is the faster GEMM here
        recurrent = np.empty((B, N))
        for s in range(T):
            self._phi(h, phis[s])
            np.matmul(phis[s], W_T, out=recurrent)
            hs[s] += recurrent
            h = hs[s]
        return hs, (phis, xs, h0.ndim)

    def run_vjp(self, tape, hs_bar, work=None):
        """Pullback of :meth:`run`.

        With g_s = dL/dh_{s+1} (all paths), D_s^T = diag(phi'(h_s)) W^T::

            g_{T-1} = hs_bar[T-1],     g_{s-1} = hs_bar[s-1] + phi'(h_s) * (W^T g_s)
            h0_bar  = phi'(h_0) * (W^T g_0), summed over b if h0 is shared
            W_bar = sum_{s,b} g_s phi(h_s)^T,  V_bar = sum_{s,b} g_s x_{s+1}^T,  b_bar = sum_{s,b} g_s

        The reverse loop only propagates g; the three parameter sums are one GEMM each
        over all T B stacked rows afterwards (the parameters are shared by all steps).

        Derivation: docs/derivations.md, section 8.

        hs_bar : (T, B, N)
        work : workspace, optional
        returns h0_bar : (N,) or (B, N) (as h0), params_bar : dict with W (N, N), V (N, n_in), b (N,)
        """
        phis, xs, h0_ndim = tape
        W = self._one_network()[0]
        T, B, N = hs_bar.shape
        slopes = self._slope(phis, scratch(work, "slopes", phis.shape))
        G = scratch(work, "G", hs_bar.shape)
        G[T - 1] = hs_bar[T - 1]
        back = np.empty((B, N))
        for s in range(T - 1, 0, -1):
            np.matmul(G[s], W, out=back)  # rows: (W^T g_s)^T
            back *= slopes[s]
            np.add(hs_bar[s - 1], back, out=G[s - 1])
        h0_bar = (G[0] @ W) * slopes[0]
        if h0_ndim == 1:  # a shared h0 receives the cotangents of all B trajectories
            h0_bar = np.sum(h0_bar, axis=0)
        G_rows = G.reshape(T * B, N)
        params_bar = {"W": G_rows.T @ phis.reshape(T * B, N),
                      "V": G_rows.T @ xs.reshape(T * B, xs.shape[-1]),
                      "b": G_rows.sum(axis=0)}
        return h0_bar, params_bar

    def run_jvp(self, tape, h0_dot, params_dot):
        """Tangent rule of :meth:`run`::

            h_dot_{s+1} = W (phi'(h_s) * h_dot_s) + W_dot phi(h_s) + V_dot x_{s+1} + b_dot,   h_dot_0 = h0_dot

        Derivation: docs/derivations.md, section 8.

        h0_dot : (N,) or (B, N)
        params_dot : dict of perturbations of W, V, b (missing keys are zero)
        returns hs_dot : (T, B, N)
        """
        phis, xs, _ = tape
        W = self._one_network()[0]
        T, B, N = phis.shape
        slopes = self._slope(phis, np.empty_like(phis))
        drive_dot = np.zeros((T, B, N))
        if "W" in params_dot:
            drive_dot += phis @ params_dot["W"].T
        if "V" in params_dot:
            drive_dot += xs @ params_dot["V"].T
        if "b" in params_dot:
            drive_dot += params_dot["b"]
        hs_dot = np.empty((T, B, N))
        h_dot = np.broadcast_to(h0_dot, (B, N))
        for s in range(T):
            hs_dot[s] = (slopes[s] * h_dot) @ W.T + drive_dot[s]
            h_dot = hs_dot[s]
        return hs_dot

    def _one_network(self):
        if self.ensemble_shape:
            raise ValueError(f"run, run_vjp and run_jvp are for one network; this one has ensemble axes "
                             f"{self.ensemble_shape} (use step / step_vjp per step)")
        p = self.params
        return p["W"], p["V"], p["b"]
