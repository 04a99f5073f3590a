"""The map protocol: what the Lyapunov and flossing code needs from a dynamical system.

A *map* is any object with

``state_size``
    int, the length n of the state vector.
``step(h, x) -> (h_next, cache)``
    one time step, ``h : (*batch, n)`` -> ``h_next : (*batch, n)``; ``x`` is the input of this
    step (``(*batch, n_in)``) or None for an autonomous map.  ``cache`` is whatever the map
    needs later to apply its Jacobian at this step.
``tangent(cache, Q) -> Q_tilde``
    the Jacobian of that step applied to a block of tangent vectors,
    ``Q_tilde = D_s Q`` with ``D_s = dh_{s+1}/dh_s`` (Eq. 6), ``Q : (*batch, n, k)``.
    ``D_s`` need not be formed.

That is all :func:`floss_ref.lyapunov_spectrum` uses.  Flossing (:mod:`floss_ref.core.flossing`)
differentiates through the map and needs a *differentiable map*, which adds

``params``
    dict of parameter arrays (the RNN cells in :mod:`floss_ref.core.cells`),
``step_vjp(cache, h_next_bar) -> (h_bar, params_bar)``
    pullback of ``step`` (the input ``x`` is data and gets no cotangent),
``tangent_vjp(cache, Q, Q_tilde_bar) -> (h_bar, Q_bar, params_bar)``
    pullback of ``tangent`` with respect to the state (through ``D_s``), the tangent
    block and the parameters: the second-order term flossing needs,

and, for the dot-product tests of those pullbacks, the tangent (JVP) rules
``step_jvp(cache, h_dot, params_dot)`` and ``tangent_jvp(cache, Q, h_dot, Q_dot, params_dot)``.
A ``params_bar`` dict holds only the parameters the operation depends on; a missing key
means a zero cotangent.

A map that holds an ensemble of ``n_nets`` independent systems says so with
``ensemble_shape`` (the leading axes ``*nets`` of its states and parameters);
:func:`floss_ref.floss` then treats each member as a network of its own.  Per-network
gradient norms (and gradient clipping in :func:`floss_ref.floss`) also need
``param_core_ndim``: for each parameter, how many trailing axes belong to one network, as
the cells in :mod:`floss_ref.core.cells` declare.

:class:`FunctionMap` wraps two plain functions, so any discrete map can be analysed
without writing a class; :class:`LinearMap` is the map ``h -> A h`` whose exponents are
known exactly (logs of the moduli of the eigenvalues of A).
"""

import numpy as np

from floss_ref import _validate


class FunctionMap:
    """A map from plain user functions: the update and the Jacobian-times-matrix product,
    and, for flossing, the parameters and the pullbacks.

    Parameters
    ----------
    step : callable
        ``step(h, x) -> h_next`` with ``h : (*batch, n)``; ``x`` is the step's input or None.
    tangent : callable
        ``tangent(h, x, Q) -> D(h, x) @ Q`` with ``Q : (*batch, n, k)``, the Jacobian
        ``d step / d h`` at ``(h, x)`` applied to Q.
    state_size : int
        n.
    params : dict of ndarray, optional
        The parameters, for flossing (:func:`floss_ref.floss` updates them in place).  With
        ``params`` every function also receives them as its last argument:
        ``step(h, x, params)``, ``tangent(h, x, Q, params)``, and
    step_vjp : callable, optional
        ``step_vjp(h, x, h_next_bar, params) -> (h_bar, params_bar)``: the pullback of
        ``step`` (``params_bar`` a dict of cotangents, missing keys are zero).
    tangent_vjp : callable, optional
        ``tangent_vjp(h, x, Q, Q_tilde_bar, params) -> (h_bar, Q_bar, params_bar)``: the
        pullback of ``tangent`` with respect to h (through D), Q and the parameters.
    step_jvp, tangent_jvp : callable, optional
        The tangent rules, ``step_jvp(h, x, h_dot, params_dot, params)`` and
        ``tangent_jvp(h, x, Q, h_dot, Q_dot, params_dot, params)``, for the dot-product
        tests of :func:`floss_ref.kit.gradcheck.gradcheck`.
    n_in : int, optional
        The number of inputs, for :func:`floss_ref.floss` (which draws them).

    A method exists only if its function was given, so a map without pullbacks is refused
    by flossing by name.  Every return value is checked: shape, real, and (for the
    pullbacks) parameter names.

    Examples
    --------
    The Henon map (u, v) -> (1 - a u^2 + v, b u), whose exponents are about 0.419 and
    log(b) - 0.419 = -1.623:

    >>> import numpy as np
    >>> from floss_ref import FunctionMap, lyapunov_spectrum
    >>> a, b = 1.4, 0.3
    >>> def henon(h, x):
    ...     return np.stack([1 - a * h[..., 0] ** 2 + h[..., 1], b * h[..., 0]], axis=-1)
    >>> def henon_tangent(h, x, Q):
    ...     u = h[..., 0, None]
    ...     return np.stack([-2 * a * u * Q[..., 0, :] + Q[..., 1, :], b * Q[..., 0, :]], axis=-2)
    >>> res = lyapunov_spectrum(FunctionMap(henon, henon_tangent, 2), np.array([0.1, 0.1]),
    ...                         T=20000, k=2, transient=1000, seed=0)
    >>> np.round(res.exponents, 2)
    array([ 0.42, -1.62])
    """

    def __init__(self, step, tangent, state_size, *, params=None, step_vjp=None, tangent_vjp=None,
                 step_jvp=None, tangent_jvp=None, n_in=None):
        if not callable(step) or not callable(tangent):
            raise TypeError("step and tangent must be callables: step(h, x) -> h_next and tangent(h, x, Q) -> D @ Q")
        self.state_size = _validate.integer("state_size", state_size, minimum=1)
        self._step = step
        self._tangent = tangent
        if n_in is not None:
            self.n_in = _validate.integer("n_in", n_in, minimum=1)
        rules = {"step_vjp": step_vjp, "tangent_vjp": tangent_vjp, "step_jvp": step_jvp, "tangent_jvp": tangent_jvp}
        given = {name: fn for name, fn in rules.items() if fn is not None}
        for name, fn in given.items():
            if not callable(fn):
                raise TypeError(f"{name} must be a callable, got {type(fn).__name__}")
        if params is None:
            if given:
                raise ValueError(f"{', '.join(given)} need the parameters they differentiate: pass params=dict")
            self._args = ()
            return
        if not isinstance(params, dict) or not params:
            raise TypeError(f"params must be a non-empty dict of arrays, got {type(params).__name__}")
        self.params = {name: _validate.float_array(f"params[{name!r}]", p, copy=True) for name, p in params.items()}
        self._args = (self.params,)
        self._rules = given
        for name in given:  # a method exists only if its function was given (hasattr tells flossing)
            setattr(self, name, getattr(self, "_" + name))

    def step(self, h, x):
        h_next = _checked_output("step(h, x)", self._step(h, x, *self._args), np.shape(h), "h.shape")
        return h_next, (h, x)

    def tangent(self, cache, Q):
        h, x = cache
        return _checked_output("tangent(h, x, Q)", self._tangent(h, x, Q, *self._args), np.shape(Q), "Q.shape")

    # the pullbacks and tangent rules, bound in __init__ when given

    def _step_vjp(self, cache, h_next_bar):
        h, x = cache
        out = self._rules["step_vjp"](h, x, h_next_bar, self.params)
        h_bar, p_bar = _checked_tuple("step_vjp", out, ("h_bar", "params_bar"))
        return (_checked_output("step_vjp", h_bar, np.shape(h), "h.shape"),
                _checked_params("step_vjp", p_bar, self.params))

    def _tangent_vjp(self, cache, Q, Q_tilde_bar):
        h, x = cache
        out = self._rules["tangent_vjp"](h, x, Q, Q_tilde_bar, self.params)
        h_bar, Q_bar, p_bar = _checked_tuple("tangent_vjp", out, ("h_bar", "Q_bar", "params_bar"))
        return (_checked_output("tangent_vjp", h_bar, np.shape(h), "h.shape"),
                _checked_output("tangent_vjp", Q_bar, np.shape(Q), "Q.shape"),
                _checked_params("tangent_vjp", p_bar, self.params))

    def _step_jvp(self, cache, h_dot, params_dot):
        h, x = cache
        return _checked_output("step_jvp", self._rules["step_jvp"](h, x, h_dot, params_dot, self.params),
                               np.shape(h), "h.shape")

    def _tangent_jvp(self, cache, Q, h_dot, Q_dot, params_dot):
        h, x = cache
        return _checked_output("tangent_jvp",
                               self._rules["tangent_jvp"](h, x, Q, h_dot, Q_dot, params_dot, self.params),
                               np.shape(Q), "Q.shape")


def _checked_tuple(what, value, names):
    if not isinstance(value, (tuple, list)) or len(value) != len(names):
        raise TypeError(f"FunctionMap: {what} must return a tuple ({', '.join(names)}), got "
                        f"{type(value).__name__}")
    return value


def _checked_params(what, value, params):
    if not isinstance(value, dict):
        raise TypeError(f"FunctionMap: {what} must return the parameter cotangents as a dict, got "
                        f"{type(value).__name__}")
    unknown = sorted(set(value) - set(params))
    if unknown:
        raise ValueError(f"FunctionMap: {what} returned cotangents of {unknown}, not parameters {sorted(params)}")
    return {name: _checked_output(what, g, params[name].shape, f"params[{name!r}].shape") for name, g in value.items()}


def _checked_output(what, value, shape, shape_name):
    """A user function's return value, refused unless it is a real array of the expected shape."""
    return _validate.returned_array(f"FunctionMap: {what}", value, shape, shape_name=shape_name)


class LinearMap:
    """The linear map ``h_{s+1} = A h_s``: D_s = A at every step.

    Its Lyapunov exponents are the logs of the moduli of the eigenvalues of A (sorted in
    decreasing order), which makes it the exact test case of the QR algorithm.

    A : (n, n)
    """

    def __init__(self, A):
        A = _validate.float_array("A", A)
        if A.ndim != 2 or A.shape[0] != A.shape[1] or A.shape[0] == 0:
            raise ValueError(f"A must be a square (n, n) matrix with n >= 1, got shape {A.shape}")
        self.A = A
        self.state_size = A.shape[0]

    def step(self, h, x):
        return h @ self.A.T, None

    def tangent(self, cache, Q):
        return self.A @ Q

    def exact_exponents(self):
        """log |eigenvalues of A|, sorted in decreasing order: the exact spectrum."""
        return np.sort(np.log(np.abs(np.linalg.eigvals(self.A))))[::-1]
