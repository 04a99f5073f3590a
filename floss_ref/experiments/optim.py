"""Adam (Kingma & Ba 2015), the optimiser of the paper (beta1 0.9, beta2 0.999, lr 1e-3).

    m <- beta1 m + (1 - beta1) g
    v <- beta2 v + (1 - beta2) g^2
    p <- p - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + eps)

with optional gradient-norm clipping before the update: of the global norm (if
||g||_2 > clip_norm, every array is scaled by clip_norm/||g||_2), or of each parameter
array on its own (the authors' code: Flux's ClipNorm(0.03) acts on each array).
"""

import numpy as np

from floss_ref import _validate
from floss_ref.errors import NumericalBreakdownError


def global_norm(grads):
    """The L2 norm of all arrays of a gradient dict taken together (a float)."""
    return float(np.sqrt(sum(float(np.sum(g * g)) for g in grads.values())))


CLIP_MODES = ("global", "per_array")


class Adam:
    """Adam over a dict of parameter arrays, updated in place.

    Parameters
    ----------
    params : dict of ndarray
        The arrays to optimise (e.g. ``cell.params``); they are modified in place.
    lr, beta1, beta2, eps : float
    clip_norm : float or None
        Clip the gradient's L2 norm to this value before each update.
    clip_mode : {"global", "per_array"}
        ``"global"``: the norm of all arrays taken together; ``"per_array"``: each
        parameter array is clipped to ``clip_norm`` on its own (as Flux's ``ClipNorm``
        in the authors' code).
    """

    def __init__(self, params, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, clip_norm=None, clip_mode="global"):
        if not isinstance(params, dict) or not params:
            raise TypeError(f"params must be a non-empty dict of arrays, got {type(params).__name__} {params!r:.60}")
        for name, p in params.items():   # updated in place: real floating-point arrays, finite
            if not isinstance(p, np.ndarray) or not np.issubdtype(p.dtype, np.floating):
                raise TypeError(f"params[{name!r}] must be a floating-point numpy array (Adam updates it in place), "
                                f"got {type(p).__name__}{f' of dtype {p.dtype}' if isinstance(p, np.ndarray) else ''}")
            if not np.all(np.isfinite(p)):
                raise ValueError(f"params[{name!r}] contains NaN or infinite values; all entries must be finite")
        self.params = params
        self.lr = _validate.real("lr", lr, minimum=0.0, strict_min=True)
        self.beta1 = _validate.real("beta1", beta1, minimum=0.0, maximum=1.0)
        self.beta2 = _validate.real("beta2", beta2, minimum=0.0, maximum=1.0)
        if self.beta1 >= 1.0 or self.beta2 >= 1.0:
            raise ValueError(f"beta1 and beta2 must be < 1, got {beta1}, {beta2}")
        self.eps = _validate.real("eps", eps, minimum=0.0, strict_min=True)
        self.clip_norm = None if clip_norm is None else _validate.real("clip_norm", clip_norm, minimum=0.0, strict_min=True)
        self.clip_mode = _validate.choice("clip_mode", clip_mode, CLIP_MODES)
        self.t = 0
        self.m = {name: np.zeros_like(p) for name, p in params.items()}
        self.v = {name: np.zeros_like(p) for name, p in params.items()}

    def step(self, grads):
        """Apply one update.  grads : dict with the same keys and shapes as params.

        Returns the global gradient norm before clipping.

        Raises
        ------
        TypeError, ValueError
            ``grads`` is not a dict of real arrays shaped like the parameters.
        NumericalBreakdownError
            A gradient is not finite (the parameters are not updated), or the update took a
            parameter beyond the float64 range (a learning rate near 1e308).
        """
        if not isinstance(grads, dict):
            raise TypeError(f"grads must be a dict of arrays keyed like params ({sorted(self.params)}), got "
                            f"{type(grads).__name__}")
        if set(grads) != set(self.params):
            raise ValueError(f"grads must have keys {sorted(self.params)}, got {sorted(grads, key=str)}")
        grads = {name: _validate.float_array(f"grads[{name!r}]", g, finite=False) for name, g in grads.items()}
        for name, g in grads.items():
            if g.shape != self.params[name].shape:
                raise ValueError(f"grads[{name!r}] must have the shape of params[{name!r}], "
                                 f"{self.params[name].shape}, got {g.shape}")
        norm = global_norm(grads)
        if not np.isfinite(norm):
            bad = sorted(name for name, g in grads.items() if not np.all(np.isfinite(g)))
            raise NumericalBreakdownError(f"the gradient of {', '.join(bad) or 'the parameters'} is not finite "
                                          f"(NaN, inf, or a norm that overflows); parameters were not updated")
        scale = {name: 1.0 for name in grads}
        if self.clip_norm is not None and self.clip_mode == "global" and norm > self.clip_norm:
            scale = {name: self.clip_norm / norm for name in grads}
        elif self.clip_norm is not None and self.clip_mode == "per_array":
            for name, g in grads.items():
                g_norm = float(np.sqrt(np.sum(g * g)))
                if g_norm > self.clip_norm:
                    scale[name] = self.clip_norm / g_norm
        self.t += 1
        c1 = 1.0 - self.beta1 ** self.t
        c2 = 1.0 - self.beta2 ** self.t
        with np.errstate(over="ignore"):    # a parameter beyond float64 is refused below
            for name, p in self.params.items():
                g = grads[name] * scale[name] if scale[name] != 1.0 else grads[name]
                m, v = self.m[name], self.v[name]
                m *= self.beta1
                m += (1.0 - self.beta1) * g
                v *= self.beta2
                v += (1.0 - self.beta2) * (g * g)
                p -= self.lr * (m / c1) / (np.sqrt(v / c2) + self.eps)
        bad = sorted(name for name, p in self.params.items() if not np.all(np.isfinite(p)))
        if bad:
            raise NumericalBreakdownError(f"Adam step {self.t} took {', '.join(bad)} beyond the float64 range "
                                          f"(lr = {self.lr:g}); use a smaller learning rate")
        return norm

    def state_dict(self):
        """The optimiser state as plain arrays (for checkpoints)."""
        state = {"t": np.array(self.t)}
        for name in self.params:
            state["m_" + name] = self.m[name].copy()
            state["v_" + name] = self.v[name].copy()
        return state

    def load_state_dict(self, state):
        """Restore a state produced by :meth:`state_dict` (shapes must match)."""
        for name, p in self.params.items():
            for kind in ("m_", "v_"):
                key = kind + name
                if key not in state or np.shape(state[key]) != p.shape:
                    raise ValueError(f"optimiser state has no entry {key!r} of shape {p.shape}")
        self.t = int(state["t"])
        for name in self.params:
            self.m[name][...] = state["m_" + name]
            self.v[name][...] = state["v_" + name]


# ---- per-network gradient norms and clipping (ensembles of networks) --------------------

def gradient_norms(system, grads):
    """Per-network L2 norm of a parameter gradient dict: a float, or an array of shape
    ``nets`` for a map with ensemble axes ``*nets`` (which must declare ``param_core_ndim``).

    A parameter shared by the whole ensemble (without the axes *nets) has no per-network
    norm and is refused with a ValueError.
    """
    nets = tuple(getattr(system, "ensemble_shape", ()))
    if not nets:
        return global_norm(grads)
    core = getattr(system, "param_core_ndim", None)
    if core is None:
        raise TypeError(f"per-network gradient norms of an ensemble {nets} need the map's "
                        "param_core_ndim (trailing axes of each parameter that belong to one network)")
    total = np.zeros(nets)
    for name, g in grads.items():
        lead = g.shape[:g.ndim - core[name]]
        if lead != nets:
            raise ValueError(f"parameter {name!r} of shape {g.shape} has ensemble axes {lead}, not {nets}: "
                             "per-network norms need every parameter to have one copy per network")
        total += np.sum(g * g, axis=tuple(range(len(nets), g.ndim)))
    return np.sqrt(total)


def clip_per_network(system, grads, clip_norm):
    """Scale each network's gradient to L2 norm at most ``clip_norm`` (each member of an
    ensemble on its own); returns (clipped grads, norms before clipping)."""
    norms = gradient_norms(system, grads)
    scale = np.minimum(1.0, clip_norm / np.maximum(norms, np.finfo(float).tiny))
    if np.ndim(scale) == 0:
        return {name: g * scale for name, g in grads.items()}, norms
    core = system.param_core_ndim
    return {name: g * scale.reshape(scale.shape + (1,) * core[name]) for name, g in grads.items()}, norms
