"""Validation of a cell's parameter dict, shared by the cells."""

import numpy as np

from floss_ref import _validate


def check_keys(params, names):
    """Refuse anything but a dict with exactly the keys ``names``."""
    if not isinstance(params, dict) or set(params) != set(names):
        raise ValueError(f"params must be a dict with keys {names}, got "
                         f"{sorted(params) if isinstance(params, dict) else type(params).__name__}")


def sizes(N, n_in):
    """Refuse a network without units (N = 0) or without inputs (n_in = 0, from V's last axis)."""
    if N < 1:
        raise ValueError("W must describe at least one unit (N >= 1), got N = 0 from its last axis")
    if n_in < 1:
        raise ValueError(f"V must have at least one input column (n_in >= 1), got n_in = 0 from V's last axis "
                         "(an autonomous network takes inputs xs = None with any n_in >= 1)")


def ensemble_shape(W, V, b, b_core_ndim):
    """The leading (ensemble) shape ``nets`` of ``W : (*nets, ., N)``, ``V : (*nets, ., n_in)`` and ``b``
    (whose last ``b_core_ndim`` axes are not ensemble axes), or a ValueError."""
    try:
        return np.broadcast_shapes(W.shape[:-2], V.shape[:-2], b.shape[:b.ndim - b_core_ndim])
    except ValueError:
        raise ValueError(f"leading (ensemble) axes of W {W.shape}, V {V.shape} and b {b.shape} "
                         "do not broadcast against each other") from None


def gated(params, gates):
    """Check the parameters of a gated cell whose ``len(gates)`` blocks are stacked.

    ``W : (*nets, G N, N)``, ``V : (*nets, G N, n_in)`` and ``b : (*nets, G, 1)`` (one scalar per
    gate) or ``(*nets, G, N)``, with G = len(gates) blocks in the order ``gates``.

    returns W, V, b (float64), N and the ensemble shape ``nets``
    """
    G, order = len(gates), ", ".join(gates)
    W = _validate.float_array("W", params["W"], min_ndim=2, copy=True)
    N = W.shape[-1]
    if W.shape[-2] != G * N:
        raise ValueError(f"W must have shape (..., {G}N, N) (blocks {order} stacked), got {W.shape}")
    V = _validate.float_array("V", params["V"], min_ndim=2, tail=(G * N, None), copy=True)
    b = _validate.float_array("b", params["b"], min_ndim=2, tail=(G, None), copy=True)
    sizes(N, V.shape[-1])
    if b.shape[-1] not in (1, N):
        raise ValueError(f"b must have shape (..., {G}, 1) (one scalar per gate) or (..., {G}, {N}), "
                         f"got {b.shape}")
    return W, V, b, N, ensemble_shape(W, V, b, 2)
