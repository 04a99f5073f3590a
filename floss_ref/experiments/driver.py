"""Gradient flossing as an optimisation loop (Algorithm 1): ``floss`` takes Adam steps on
the exact gradient of the flossing loss (:func:`floss_ref.core.flossing.flossing_grad`), one
per epoch, each on a fresh trajectory.
"""

import dataclasses
import math
import time

import numpy as np

from floss_ref import _validate
from floss_ref._progress import progress_bar
from floss_ref._threads import limit_blas
from floss_ref.core.flossing import check_target, flossing_grad
from floss_ref.core.cells import VanillaRNN
from floss_ref.core.lyapunov import TRANSIENT_FRACTION, lyapunov_spectrum, random_orthonormal
from floss_ref.experiments.optim import Adam, clip_per_network, gradient_norms
from floss_ref.experiments.tasks import FLOSSING_INPUTS, draw_inputs


@dataclasses.dataclass
class FlossingHistory:
    """Result of :func:`floss`: per-epoch loss (E_f, *nets) and exponents (E_f, *nets, k),
    measured on each epoch's trajectory before that epoch's update, the per-network L2
    norm of each epoch's flossing gradient before clipping (E_f, *nets), and the wall time.

    ``grad_norm`` is None for an ensemble whose networks have no norm of their own: a map
    without ``param_core_ndim`` (see :mod:`floss_ref.core.maps`), or a parameter shared by all.
    """

    loss: np.ndarray
    exponents: np.ndarray
    seconds: float
    grad_norm: np.ndarray = None


def floss(system, *, epochs, k, T, t_ons=1, transient=0, target=0.0, lr=1e-3, clip_norm=None,
          inputs="gaussian", input_scale=1.0, seed=None, progress=False, optimizer=None, blas_threads=1):
    """Gradient flossing with Adam (Algorithm 1): ``epochs`` updates of ``system.params``.

    Each epoch draws fresh inputs, a fresh initial state h0 ~ N(0, 1) and a fresh
    orthonormal Q0, evaluates :func:`flossing_grad` and takes one Adam step.  The
    parameters are updated in place.

    Parameters
    ----------
    system : differentiable map
        E.g. ``VanillaRNN.random(...)``; with ensemble axes *nets all networks are
        flossed at once, each by its own gradient.
    epochs : int
        E_f.
    k, T, t_ons, transient, target
        As in :func:`flossing_grad`; T is the length of each epoch's trajectory.
    lr : float
        Adam learning rate (ignored if ``optimizer`` is given).
    clip_norm : float or None
        If given, each network's flossing gradient is scaled to L2 norm at most
        ``clip_norm`` before the Adam step (each member of an ensemble separately).
        The gradient of a finite-time exponent is heavy-tailed: now and then, along one
        epoch's trajectory, the direction of the tangent vectors is itself unstable for
        a long stretch, and that epoch's (exact) gradient is 100-1000 times the typical
        one.  It then dominates Adam's moments for many epochs
        (``FlossingHistory.grad_norm`` shows such epochs).  Clipping bounds them.
        None (default) is plain Adam, as in the paper's Algorithm 1.
    inputs : {"gaussian", "bernoulli", "none"}
    input_scale : float
        Factor applied to the drawn inputs (the authors' code divides the inputs by the
        number of input streams, in flossing as in training; see :mod:`floss_ref.experiments.tasks`).
    seed : int, numpy.random.Generator or None
    progress : bool
        Show a progress bar.
    optimizer : Adam, optional
        Continue with an existing optimiser (its state carries over); it must have been
        built on ``system.params``.
    blas_threads : int or None
        BLAS threads (default 1; see :func:`floss_ref.lyapunov_spectrum`).

    Returns
    -------
    FlossingHistory
    """
    epochs = _validate.integer("epochs", epochs, minimum=0)
    _validate.choice("inputs", inputs, FLOSSING_INPUTS)
    progress = _validate.flag("progress", progress)
    input_scale = _validate.real("input_scale", input_scale, minimum=0.0, strict_min=True)
    T = _validate.integer("T", T, minimum=1)
    rng = _validate.rng(seed)
    if not hasattr(system, "params"):
        raise TypeError("floss needs a differentiable map with params (e.g. floss_ref.VanillaRNN)")
    if clip_norm is not None:
        clip_norm = _validate.real("clip_norm", clip_norm, minimum=0.0, strict_min=True)
    opt = Adam(system.params, lr=lr) if optimizer is None else _optimizer_of(system, optimizer)
    batch_shape = tuple(getattr(system, "ensemble_shape", ()))
    try:  # per-network norms need one copy of every parameter per network
        gradient_norms(system, system.params)
        record_norms = True
    except (TypeError, ValueError) as exc:
        if clip_norm is not None:
            raise type(exc)(f"clip_norm: {exc}") from None
        record_norms = False
    n = system.state_size
    # checked here too, so that epochs=0 refuses what a longer run would refuse
    k = _validate.integer("k", k, minimum=1, maximum=n)
    _validate.integer("t_ons", t_ons, minimum=1)
    transient = _validate.integer("transient", transient, minimum=0)
    if transient >= T:
        raise ValueError(f"T = {T} steps is not longer than the transient ({transient} steps): "
                         "nothing would be left to average; increase T or reduce transient")
    check_target(target, k, batch_shape)
    # the history: per epoch a loss, k exponents and a norm per network, as small arrays in lists
    # (about 100 bytes of overhead each) and then stacked
    _validate.memory(f"the history of epochs = {epochs} epochs (k = {k}, {math.prod(batch_shape)} networks)",
                     epochs * 2 * (8 * (k + 2) * math.prod(batch_shape) + 3 * 100),
                     "use fewer epochs (or continue with optimizer=... in several calls)")
    n_in = getattr(system, "n_in", 1)
    # one epoch's inputs (the tape of its reverse pass is checked by flossing_grad)
    _validate.memory(f"the inputs of one epoch (T = {T} steps, {math.prod(batch_shape)} networks, n_in = {n_in})",
                     2 * 8 * T * math.prod(batch_shape) * n_in, "use a shorter T")
    losses, exps, norms = [], [], []
    bar = progress_bar(epochs, progress, "flossing", "epoch")
    start = time.perf_counter()
    with limit_blas(blas_threads):
        for _ in range(epochs):
            xs = draw_inputs(inputs, T, batch_shape, n_in, rng)
            if xs is not None and input_scale != 1.0:
                xs = xs * input_scale
            h0 = rng.standard_normal(batch_shape + (n,))
            Q0 = random_orthonormal(n, k, batch_shape, rng)
            res = flossing_grad(system, h0, xs, k=k, T=T, t_ons=t_ons, transient=transient,
                                target=target, Q0=Q0, blas_threads=None)
            grads = res.grads
            if clip_norm is not None:
                grads, norm = clip_per_network(system, grads, clip_norm)
            elif record_norms:
                norm = gradient_norms(system, grads)
            opt.step(grads)
            losses.append(res.loss)
            exps.append(res.exponents)
            if record_norms:
                norms.append(norm)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{float(np.mean(res.loss)):.3g}",
                                lambda1=f"{float(np.mean(res.exponents[..., 0])):.3f}")
    if bar is not None:
        bar.close()
    return FlossingHistory(
        loss=np.array(losses).reshape((epochs,) + batch_shape),
        exponents=np.array(exps).reshape((epochs,) + batch_shape + (k,)),
        seconds=time.perf_counter() - start,
        grad_norm=np.array(norms).reshape((epochs,) + batch_shape) if record_norms else None)


def _optimizer_of(system, optimizer):
    """``optimizer`` if it is an Adam that updates ``system.params`` (the same arrays)."""
    if not isinstance(optimizer, Adam):
        raise TypeError(f"optimizer must be a floss_ref.Adam built on system.params (e.g. "
                        f"Adam(system.params, lr=1e-3)) or None, got {optimizer!r}")
    if set(optimizer.params) != set(system.params) or any(optimizer.params[name] is not p
                                                          for name, p in system.params.items()):
        raise ValueError("optimizer updates other arrays than system.params: build it as "
                         "Adam(system.params, ...) for this system")
    return optimizer


# ---- flossing runs as sweep tasks (floss_ref.runs.sweep) -------------------------------------

def floss_result(params):
    """Floss one random vanilla network (Fig. 1) and measure its spectrum before and after:
    the sweep kind "floss" (:mod:`floss_ref.runs.sweep`).

    params : dict
        ``N``, ``g``, ``seed``, ``epochs`` (E_f), ``k``, ``T`` (trajectory per flossing
        epoch), ``transient``, ``lr``, ``target`` (float), ``inputs``, and for the
        spectra ``spectrum_T`` and ``spectrum_k`` (0: no spectra); optional ``clip_norm``
        (see :func:`floss_ref.floss`; default none).
    returns dict of ndarray: ``loss`` (E_f,), ``exponents`` (E_f, k), ``grad_norm`` (E_f,)
    and with spectra
    ``spectrum_before`` / ``spectrum_after`` (spectrum_k,).
    """
    p = dict(params)
    rng = np.random.default_rng(p["seed"])
    cell = VanillaRNN.random(p["N"], 1, p["g"], nonlinearity="tanh", seed=rng)
    out = {}
    spectrum_k, spectrum_T = p.get("spectrum_k", 0), p.get("spectrum_T", 0)

    def spectrum():
        h0 = rng.standard_normal(p["N"])
        xs = draw_inputs(p["inputs"], spectrum_T, (), 1, rng)
        return lyapunov_spectrum(cell, h0, xs, T=spectrum_T, k=spectrum_k, transient=spectrum_T // TRANSIENT_FRACTION,
                                 seed=rng, stderr=False).exponents

    if spectrum_k:
        out["spectrum_before"] = spectrum()
    hist = floss(cell, epochs=p["epochs"], k=p["k"], T=p["T"], transient=p["transient"],
                 target=p["target"], lr=p["lr"], clip_norm=p.get("clip_norm"), inputs=p["inputs"], seed=rng)
    out["loss"], out["exponents"], out["grad_norm"] = hist.loss, hist.exponents, hist.grad_norm
    if spectrum_k:
        out["spectrum_after"] = spectrum()
    return out
