"""Broadcasting linear algebra shared by the cells, with its pullbacks.

Shape rule used by every cell: a state ``h`` has shape ``(*batch, n)`` (units on the last
axis, any leading batch / ensemble axes ``*batch``), a weight matrix has shape
``(*nets, n, m)`` and its ensemble axes ``*nets`` broadcast against ``*batch`` the NumPy way
(right-aligned).  One network, many trajectories: ``W : (N, N)``, ``h : (B, N)``.  An
ensemble of ``n_nets`` networks, one trajectory each: ``W : (n_nets, N, N)``,
``h : (n_nets, N)``.  An ensemble with B trajectories per network:
``W : (n_nets, 1, N, N)``, ``h : (n_nets, B, N)``.
"""

import numpy as np


def matvec(M, v):
    """``M @ v`` over the last axis.

    M : (*nets, n, m)
    v : (*batch, m)
    returns : (broadcast(nets, batch), n)
    """
    if M.ndim == 2:
        return v @ M.T  # one GEMM over all leading axes of v
    return np.matmul(M, v[..., None])[..., 0]


def rmatvec(M, u):
    """``M^T @ u`` over the last axis: the pullback of :func:`matvec` with respect to v.

    M : (*nets, n, m)
    u : (*batch, n)
    returns : (broadcast(nets, batch), m)
    """
    if M.ndim == 2:
        return u @ M
    return np.matmul(u[..., None, :], M)[..., 0, :]


def outer_sum(u, v, shape):
    """``sum over broadcast axes of u v^T``: the pullback of :func:`matvec` w.r.t. M.

    u : (*batch, n)      cotangent of the output
    v : (*batch, m)      the vector M was applied to
    shape : tuple    shape of M, (*nets, n, m)
    returns : shape
    """
    if len(shape) == 2:
        if u.ndim == 1 and v.ndim == 1:
            return np.multiply.outer(u, v)  # one trajectory: a plain outer product
        n, m = u.shape[-1], v.shape[-1]
        if u.shape[:-1] != v.shape[:-1]:  # broadcast the batch axes (skipped when equal: it costs)
            u = np.broadcast_to(u, np.broadcast_shapes(u.shape[:-1], v.shape[:-1]) + (n,))
            v = np.broadcast_to(v, u.shape[:-1] + (m,))
        return u.reshape(-1, n).T @ v.reshape(-1, m)  # one GEMM summing over the batch
    return sum_to(u[..., :, None] * v[..., None, :], shape)


def sum_to(x, shape):
    """Sum ``x`` over the axes that broadcasting added, so that it has ``shape``.

    The pullback of broadcasting: a parameter of shape ``shape`` used by every entry of
    a batch receives the sum of the cotangents of all entries.
    """
    x = np.asarray(x)
    if x.shape == tuple(shape):  # nothing was broadcast
        return x
    extra = x.ndim - len(shape)
    if extra > 0:
        x = x.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, (want, got) in enumerate(zip(shape, x.shape)) if want == 1 and got != 1)
    if axes:
        x = x.sum(axis=axes, keepdims=True)
    return x
