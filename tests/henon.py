"""The Henon map (a = 1.4, b = 0.3), a test system with known exponents: lambda_1 ~ 0.419
(literature) and lambda_1 + lambda_2 = log b exactly (the Jacobian's determinant is -b)."""

import numpy as np

from floss_ref.core.maps import FunctionMap

A, B = 1.4, 0.3


def step(h, x):
    return np.stack([1 - A * h[..., 0] ** 2 + h[..., 1], B * h[..., 0]], axis=-1)


def tangent(h, x, Q):
    u = h[..., 0, None]
    return np.stack([-2 * A * u * Q[..., 0, :] + Q[..., 1, :], B * Q[..., 0, :]], axis=-2)


def henon_map():
    """The map through floss_ref's function protocol."""
    return FunctionMap(step, tangent, 2)
