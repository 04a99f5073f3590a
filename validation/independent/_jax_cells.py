"""Cell steps in JAX, written from the paper's equations rather than from floss_ref, for the
validation scripts that check floss_ref against an independent implementation
(``jax_worked_check.py``, ``bench_vs_jax.py``).  JAX is an optional extra, imported here
only when a step is built."""


def lstm_step(p, hc, x):
    """One LSTM step, App. B Eqs. 12-17, on the concatenated state hc = (h, c) : (2N,).

    Gates stacked (i, f, c~, o): ``W : (4N, N)``, ``V : (4N, n_in)``, ``b : (4, N)``.
    """
    import jax
    import jax.numpy as jnp
    N = hc.shape[0] // 2
    h, c = hc[:N], hc[N:]
    a = (p["W"] @ h + p["V"] @ x).reshape(4, N) + p["b"]
    i, f, o = jax.nn.sigmoid(a[0]), jax.nn.sigmoid(a[1]), jax.nn.sigmoid(a[3])
    c_next = f * c + i * jnp.tanh(a[2])
    return jnp.concatenate([o * jnp.tanh(c_next), c_next])
