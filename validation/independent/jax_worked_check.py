"""A worked check of an independent flossing implementation against the reference vectors.

An implementation of the flossing loss written here in JAX from the equations alone (the
cells' steps, the Jacobian action by ``jax.jvp``, QR by ``jnp.linalg.qr`` with the signs
fixed so that diag(R) > 0, the QR schedule of ``floss_ref.kit.vectors``, and the gradient by
``jax.grad`` through everything, QR included) is compared with every case of
``floss_ref.kit.vectors``: the digits to which its exponents, loss and gradient agree.  Then
two plausible mistakes are planted in it, and the size of the disagreement reported:

* ``post-activation slope``: the vanilla tanh tangent written by hand as
  ``W diag(1 - tanh(phi)^2) Q`` with phi = tanh(h), i.e. phi' evaluated at the
  post-activation state instead of the pre-activation one;
* ``transient detached``: the QRs of the transient treated as constants in the gradient
  (``stop_gradient`` on Q after each of them).

JAX is an optional extra (``pip install ".[jax]"``); without it the script says so and
exits with 0.

    python validation/independent/jax_worked_check.py                   # writes the vectors to a temporary directory
    python validation/independent/jax_worked_check.py --vectors DIR     # checks an existing directory
"""

import argparse
import os
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # validation/
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(1, HERE)
sys.path.insert(2, os.path.join(HERE, "independent"))  # _jax_cells
from _jax_cells import lstm_step  # noqa: E402


def jax_flossing(cell, params, h0, xs, Q0, T, t_ons, transient, mistake=None):
    """(loss, exponents, grads, h0_bar) of the flossing loss of one case, in JAX."""
    import jax
    import jax.numpy as jnp

    def step(p, h, x):
        if cell.startswith("vanilla"):
            phi = jnp.tanh(h) if cell == "vanilla_tanh" else jnp.maximum(h, 0.0)
            return p["W"] @ phi + p["V"] @ x + p["b"]
        if cell == "lstm":
            return lstm_step(p, h, x)
        N = h.shape[0]                                   # GRU, reset gate inside the recurrent product
        u = (p["V"] @ x).reshape(3, N) + p["b"]
        a = (p["W"][:2 * N] @ h).reshape(2, N) + u[:2]
        r, z = jax.nn.sigmoid(a[0]), jax.nn.sigmoid(a[1])
        n = jnp.tanh(p["W"][2 * N:] @ (r * h) + u[2])
        return z * h + (1 - z) * n

    def tangent(p, h, x, Q):
        if mistake == "post-activation slope" and cell == "vanilla_tanh":
            phi = jnp.tanh(h)
            return p["W"] @ ((1 - jnp.tanh(phi) ** 2)[:, None] * Q)
        return jax.vmap(lambda q: jax.jvp(lambda hh: step(p, hh, x), (h,), (q,))[1], in_axes=1, out_axes=1)(Q)

    schedule = set(range(t_ons, T + 1, t_ons)) | {T} | ({transient} if transient > 0 else set())
    qr_at = jnp.array([s + 1 in schedule for s in range(T)])          # a QR after step s
    count = jnp.array([s + 1 in schedule and s + 1 > transient for s in range(T)])
    detach = jnp.array([s + 1 in schedule and s + 1 <= transient and mistake == "transient detached"
                        for s in range(T)])

    def loss_fn(p, h):
        def body(carry, inputs):
            h, Q, gamma = carry
            x, do_qr, do_count, do_detach = inputs
            Q_tilde = tangent(p, h, x, Q)
            h = step(p, h, x)
            Qn, R = jnp.linalg.qr(Q_tilde)
            sign = jnp.sign(jnp.diag(R))
            Qn, r = Qn * sign, jnp.diag(R) * sign
            Q = jnp.where(do_qr, Qn, Q_tilde)
            Q = jnp.where(do_detach, jax.lax.stop_gradient(Q), Q)
            gamma = gamma + jnp.where(do_count, jnp.log(jnp.abs(r)), 0.0)
            return (h, Q, gamma), None

        (_, _, gamma), _ = jax.lax.scan(body, (h, jnp.asarray(Q0), jnp.zeros(Q0.shape[1])),
                                        (jnp.asarray(xs), qr_at, count, detach))
        lam = gamma / (T - transient)
        return jnp.sum(lam ** 2), lam

    f = jax.jit(jax.value_and_grad(loss_fn, argnums=(0, 1), has_aux=True))
    (loss, lam), (grads, h0_bar) = f({k: jnp.asarray(v) for k, v in params.items()}, jnp.asarray(h0))
    return (float(loss), np.asarray(lam), {k: np.asarray(v) for k, v in grads.items()}, np.asarray(h0_bar))


def main(argv=None):
    p = argparse.ArgumentParser(prog="jax_worked_check", description=__doc__.split("\n\n")[0])
    p.add_argument("--vectors", default=None, help="a directory written by python -m floss_ref vectors")
    p.add_argument("--cases", nargs="+", default=None, help="only these cases")
    args = p.parse_args(argv)
    try:
        import jax
    except ImportError:
        print("jax_worked_check: JAX is not installed; it is an optional extra: pip install '.[jax]'")
        return 0
    jax.config.update("jax_enable_x64", True)
    sys.path.insert(0, HERE)
    from _common import provenance
    from floss_ref import vectors

    print(provenance(), f"JAX {jax.__version__}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        directory = args.vectors or tmp
        if args.vectors is None:
            vectors.write(directory, args.cases)
        cases = [c for c in vectors.load(directory) if args.cases is None or c.name in args.cases]
    rows = {None: [], "post-activation slope": [], "transient detached": []}
    print(f"{'case':30s} {'exponents':>9s} {'loss':>6s} {'gradient':>8s}   digits of agreement (16 = identical)")
    worst = 16.0
    for case in cases:
        s = case.settings
        args_ = (s["cell"], case.params, case.arrays["h0"], case.arrays["xs"], case.arrays["Q0"], s["T"], s["t_ons"],
                 s["transient"])
        for mistake in rows:
            if mistake == "post-activation slope" and s["cell"] != "vanilla_tanh":
                continue
            if mistake == "transient detached" and s["transient"] == 0:
                continue
            loss, lam, grads, h0_bar = jax_flossing(*args_, mistake=mistake)
            d = vectors.compare(case, {"exponents": lam, "loss": loss, "grads": grads, "h0_bar": h0_bar},
                                verbose=False)
            grad_digits = min(v for k, v in d.items() if k.startswith("grad/") or k == "h0_bar")
            rel = max(float(np.max(np.abs(grads[k] - g)) / max(np.max(np.abs(g)), 1e-300))
                      for k, g in case.grads.items())
            rows[mistake].append((case.name, d["exponents"], d["loss"], grad_digits, rel))
            if mistake is None:
                worst = min(worst, d["exponents"], d["loss"], grad_digits)
                print(f"{case.name:30s} {d['exponents']:9.1f} {d['loss']:6.1f} {grad_digits:8.1f}", flush=True)
    print(f"\nthe correct JAX implementation: {len(rows[None])} cases, worst {worst:.1f} digits "
          f"(exponents, loss and gradient)")
    ok = worst >= 12
    for mistake in ("post-activation slope", "transient detached"):
        r = rows[mistake]
        biggest = max(r, key=lambda row: row[4])
        print(f"planted mistake '{mistake}': {len(r)} cases; largest relative gradient difference {biggest[4]:.3g} "
              f"({biggest[0]}), fewest digits {min(row[3] for row in r):.1f}; cases with a difference >= 1e-3: "
              f"{sum(row[4] >= 1e-3 for row in r)}")
        ok &= biggest[4] >= 1e-3
    print(f"verdict: {'PASS' if ok else 'FAIL'} (>= 12 digits everywhere; each mistake >= 1e-3 on some case)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
