"""Backpropagation through time by hand: task losses, readout, the recurrence over a
sequence and its pullback, and the model (cell + readout + trained initial state).

One network, B trajectories, a trained initial state h_0 shared by the batch (or one
per batch slot).  Time index as in Eq. 9: step s maps h_s to h_{s+1} and reads the input
x_{s+1}, stored as ``xs[s]``; the readout y_hat_{s+1} of h_{s+1} is stored as ``y_hat[s]``.
Forward and reverse recurrences, side by side (``n`` is the cell's state size, the readout
sees the first N entries of the state, ``cache_s`` is what step s saves)::

    forward (s = 0 .. T-1)                         reverse (s = T-1 .. 0)
    h_{s+1}, cache_s = cell.step(h_s, xs[s])       g = g + H_bar[s]          (from the readout)
    y_hat_{s+1} = w_out . h_{s+1}[:N] + offset     g, p_bar = cell.step_vjp(cache_s, g)
    L = mean_{scored, b} loss(y_hat, ys)           grads += p_bar
                                                   h0_bar = sum_b g

``H_bar[s] = (dL/dy_hat[s]) w_out`` padded with zeros to n entries.  That generic loop works
with any differentiable map of :mod:`floss_ref.core.maps` that has an attribute ``N``.  A
cell may run the same recurrence its own faster way (``run`` / ``run_vjp`` / ``run_jvp``,
optional in the map protocol): the vanilla RNN (Eq. 9) does, with the input drive
``V x_{s+1} + b`` of all steps as one GEMM before the loop and the parameter cotangents as
one GEMM over all stacked step cotangents after the reverse loop.

Derivation: docs/derivations.md, section 8.
"""

import dataclasses
import functools
import math

import numpy as np
from scipy.special import expit

from floss_ref import _validate
from floss_ref._workspace import Workspace, scratch  # noqa: F401 (Workspace is part of this module's API)
from floss_ref.errors import NumericalBreakdownError, TrainingDivergedError

READOUT_NAMES = ("w_out", "offset", "h0")
READOUT_INITS = ("scaled", "authors")
AUTHORS_OFFSET = 0.001  # the readout offset's initial value in the authors' code


# ---- task losses (App. H) -------------------------------------------------------------

def _scored_count(ys, mask):
    return ys.shape[1] * int(np.count_nonzero(mask))


def mse(y_hat, ys, mask):
    """Mean squared error over the scored steps and the batch::

        L = 1/(B T_sc) sum_{s scored} sum_b (y_hat_sb - y_sb)^2,   T_sc = number of scored steps

    y_hat, ys : (T, B)
    mask : (T,) bool
    returns L : float
    """
    err = (y_hat - ys)[mask]
    return float(np.sum(err * err)) / _scored_count(ys, mask)


def mse_vjp(y_hat, ys, mask, L_bar=1.0):
    """Pullback of :func:`mse`::

        y_hat_bar = L_bar * 2 (y_hat - y) / (B T_sc) at scored steps, else 0

    Derivation: docs/derivations.md, section 8.

    y_hat, ys : (T, B)
    mask : (T,) bool
    returns y_hat_bar : (T, B)
    """
    return (2.0 * L_bar / _scored_count(ys, mask)) * (y_hat - ys) * mask[:, None]


def mse_jvp(y_hat, ys, mask, y_hat_dot):
    """Tangent rule of :func:`mse`::

        L_dot = 2/(B T_sc) sum_{s scored} sum_b (y_hat_sb - y_sb) y_hat_dot_sb

    Derivation: docs/derivations.md, section 8.

    y_hat, ys, y_hat_dot : (T, B)
    mask : (T,) bool
    returns L_dot : float
    """
    return float(np.sum(mse_vjp(y_hat, ys, mask) * y_hat_dot))


def bce_logits(y_hat, ys, mask):
    """Binary cross-entropy of the logit y_hat against bits y, averaged like :func:`mse`::

        l(y_hat, y) = log(1 + exp(y_hat)) - y y_hat
                    = -y log sig(y_hat) - (1 - y) log(1 - sig(y_hat))

    ``log(1 + exp(y_hat))`` is evaluated as ``logaddexp(0, y_hat)``, finite for every
    finite y_hat.

    y_hat, ys : (T, B)
    mask : (T,) bool
    returns L : float
    """
    loss = np.logaddexp(0.0, y_hat) - ys * y_hat
    return float(np.sum(loss[mask])) / _scored_count(ys, mask)


def bce_logits_vjp(y_hat, ys, mask, L_bar=1.0):
    """Pullback of :func:`bce_logits`::

        y_hat_bar = L_bar (sig(y_hat) - y) / (B T_sc) at scored steps, else 0

    Derivation: docs/derivations.md, section 8.

    y_hat, ys : (T, B)
    mask : (T,) bool
    returns y_hat_bar : (T, B)
    """
    return (L_bar / _scored_count(ys, mask)) * (expit(y_hat) - ys) * mask[:, None]


def bce_logits_jvp(y_hat, ys, mask, y_hat_dot):
    """Tangent rule of :func:`bce_logits`::

        L_dot = 1/(B T_sc) sum_{s scored} sum_b (sig(y_hat_sb) - y_sb) y_hat_dot_sb

    Derivation: docs/derivations.md, section 8.

    y_hat, ys, y_hat_dot : (T, B)
    mask : (T,) bool
    returns L_dot : float
    """
    return float(np.sum(bce_logits_vjp(y_hat, ys, mask) * y_hat_dot))


def accuracy(y_hat, ys, mask):
    """Fraction of scored outputs with (sig(y_hat) >= 1/2) == y, i.e. (y_hat >= 0) == y.

    y_hat, ys : (T, B)
    mask : (T,) bool
    """
    hits = (y_hat >= 0.0) == (ys > 0.5)
    return float(np.mean(hits[mask]))


LOSSES = {"mse": (mse, mse_vjp, mse_jvp), "bce": (bce_logits, bce_logits_vjp, bce_logits_jvp)}


# ---- readout y_hat = w_out . h + offset -----------------------------------------------

def readout(hs, w_out, offset):
    """y_hat[s] = w_out . h_{s+1}[:N] + offset, read from the first N entries of the state.

    hs : (T, B, n)      states h_1 .. h_T, n >= N
    w_out : (N,)
    offset : ()
    returns y_hat : (T, B)
    """
    return hs[..., :w_out.shape[0]] @ w_out + offset


def readout_vjp(hs, w_out, y_hat_bar, work=None):
    """Pullback of :func:`readout`::

        hs_bar[..., :N] = y_hat_bar w_out   (zero on the other n - N entries)
        w_out_bar = sum_{s,b} y_hat_bar[s, b] h_{s+1}[:N],   offset_bar = sum_{s,b} y_hat_bar[s, b]

    Derivation: docs/derivations.md, section 8.

    hs : (T, B, n)
    w_out : (N,)
    y_hat_bar : (T, B)
    work : Workspace, optional
        Where to put hs_bar.
    returns hs_bar : (T, B, n), w_out_bar : (N,), offset_bar : ()
    """
    N = w_out.shape[0]
    hs_bar = scratch(work, "hs_bar", hs.shape)
    np.multiply(y_hat_bar[..., None], w_out, out=hs_bar[..., :N])
    hs_bar[..., N:] = 0.0
    w_out_bar = y_hat_bar.reshape(-1) @ hs[..., :N].reshape(-1, N)  # one GEMV over all steps
    return hs_bar, w_out_bar, np.array(np.sum(y_hat_bar))


def readout_jvp(hs, w_out, hs_dot, w_out_dot, offset_dot):
    """Tangent rule of :func:`readout`::

        y_hat_dot[s] = w_out . hs_dot[s][:N] + w_out_dot . hs[s][:N] + offset_dot

    Derivation: docs/derivations.md, section 8.

    hs, hs_dot : (T, B, n)
    w_out, w_out_dot : (N,)
    offset_dot : ()
    returns y_hat_dot : (T, B)
    """
    N = w_out.shape[0]
    return hs_dot[..., :N] @ w_out + hs[..., :N] @ w_out_dot + offset_dot


# ---- the recurrence over a whole sequence: generic loop over cell.step ----------------

def run_steps(cell, h0, xs, work=None):
    """T steps of any differentiable map, B trajectories from one initial state.

    h0 : (n,) shared by the batch, or (B, n) one per trajectory
    xs : (T, B, n_in)
    work : Workspace, optional
    returns hs : (T, B, n) (the states h_1 .. h_T) and the tape (the step caches) for
    the pullback and the tangent rule
    """
    T, B = xs.shape[:2]
    h = np.broadcast_to(h0, (B, h0.shape[-1])).copy()
    hs = scratch(work, "hs", (T, B, h0.shape[-1]))
    caches = []
    for s in range(T):
        h, cache = cell.step(h, xs[s])
        hs[s] = h
        caches.append(cache)
    return hs, (caches, B, h0.ndim)


def run_steps_vjp(cell, tape, hs_bar, work=None):
    """Pullback of :func:`run_steps`, the reverse loop of the module docstring::

        g = 0;  for s = T-1 .. 0:  g = g + hs_bar[s];  g, p_bar = cell.step_vjp(cache_s, g)
        h0_bar = g (summed over the batch if h0 is shared),  params_bar = sum_s p_bar

    Derivation: docs/derivations.md, section 8.

    hs_bar : (T, B, n)   cotangents of h_1 .. h_T from the loss
    work : Workspace, optional (unused: this loop keeps no (T, B, n) array)
    returns h0_bar : (n,) (summed over the batch, h0 is shared) or (B, n) (one h0 per
    trajectory), params_bar : dict
    """
    caches, _, h0_ndim = tape
    params_bar = {name: np.zeros_like(p) for name, p in cell.params.items()}
    g = np.zeros_like(hs_bar[0])
    for s in range(hs_bar.shape[0] - 1, -1, -1):
        g = g + hs_bar[s]
        g, p_bar = cell.step_vjp(caches[s], g)
        # the parameters act at every step: their cotangents accumulate over the loop
        for name, value in p_bar.items():
            params_bar[name] += value
    return (g.sum(axis=0) if h0_ndim == 1 else g), params_bar


def run_steps_jvp(cell, tape, h0_dot, params_dot):
    """Tangent rule of :func:`run_steps`: the state perturbations h_1_dot .. h_T_dot::

        h_dot_0 = h0_dot,   h_dot_{s+1} = cell.step_jvp(cache_s, h_dot_s, params_dot)

    Derivation: docs/derivations.md, section 8.

    h0_dot : (n,)
    params_dot : dict of perturbations of cell.params (missing keys are zero)
    returns hs_dot : (T, B, n)
    """
    caches, B, _ = tape
    h_dot = np.broadcast_to(h0_dot, (B, h0_dot.shape[-1])).copy()
    hs_dot = np.empty((len(caches),) + h_dot.shape)
    for s, cache in enumerate(caches):
        h_dot = cell.step_jvp(cache, h_dot, params_dot)
        hs_dot[s] = h_dot
    return hs_dot


# ---- which loop a cell uses ------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class SequenceRules:
    """The whole-sequence forward ``run(h0, xs, work)``, pullback ``run_vjp(tape, hs_bar,
    work)`` and tangent rule ``run_jvp(tape, h0_dot, params_dot)`` used for one cell."""

    run: object
    run_vjp: object
    run_jvp: object


def sequence_rules(cell):
    """The cell's own ``run`` / ``run_vjp`` / ``run_jvp`` if it offers them (optional in
    the map protocol, e.g. the vanilla RNN's one-GEMM-per-step loops), else the generic
    loops over ``step`` / ``step_vjp`` / ``step_jvp`` above."""
    if all(hasattr(cell, name) for name in ("run", "run_vjp", "run_jvp")):
        return SequenceRules(cell.run, cell.run_vjp, cell.run_jvp)
    return SequenceRules(functools.partial(run_steps, cell), functools.partial(run_steps_vjp, cell),
                         functools.partial(run_steps_jvp, cell))


# ---- model: cell + readout + trained initial state ------------------------------------

class Model:
    """A cell with a linear readout and a trained initial state.

    Parameters
    ----------
    cell : differentiable map
        With attributes ``N`` (units read out) and ``state_size`` (n), e.g. a cell of
        :mod:`floss_ref.core.cells`; one network (no ensemble axes).
    w_out : (N,) array_like
    offset : float or () array_like
    h0 : (n,) or (B, n) array_like
        Initial state, shared by all trajectories of a batch, or one per batch slot (the
        authors' code trains an N x B matrix of initial states).

    Attributes
    ----------
    params : dict of ndarray
        Every trained array: the cell's parameters (the same array objects as
        ``cell.params``, so flossing and training update one set of weights) plus
        ``w_out``, ``offset`` and ``h0``.
    """

    def __init__(self, cell, w_out, offset, h0):
        for attr in ("N", "state_size", "params", "step", "step_vjp"):
            if not hasattr(cell, attr):
                raise TypeError(f"cell must be a differentiable map with a readout size N: it has no {attr!r}")
        if tuple(getattr(cell, "ensemble_shape", ())) != ():
            raise ValueError(f"training uses one network shared by the batch; cell has ensemble axes "
                             f"{cell.ensemble_shape}")
        clash = set(cell.params) & set(READOUT_NAMES)
        if clash:
            raise ValueError(f"cell parameter names {sorted(clash)} clash with the readout's {READOUT_NAMES}")
        self.cell = cell
        w_out = _validate.float_array("w_out", w_out, min_ndim=1, tail=(cell.N,)).copy()
        if w_out.ndim != 1:
            raise ValueError(f"w_out must have shape (N,) = ({cell.N},), got {w_out.shape}")
        h0 = _validate.float_array("h0", h0, min_ndim=1, tail=(cell.state_size,)).copy()
        if h0.ndim > 2:
            raise ValueError(f"h0 must have shape (n,) = ({cell.state_size},) or (B, n), got {h0.shape}")
        offset = _validate.float_array("offset", offset).copy()
        if offset.shape != ():
            raise ValueError(f"offset must be a scalar, got shape {offset.shape}")
        self.params = dict(cell.params)
        self.params.update(w_out=w_out, offset=offset, h0=h0)

    @classmethod
    def random(cls, cell, seed=None, relax_steps=100, *, readout_init="scaled", h0_slots=None):
        """Readout and initial state for ``cell``.

        h_0 is obtained, as in the authors' code, by running the network from
        h ~ N(0, 1) for ``relax_steps`` steps without input.

        readout_init : {"scaled", "authors"}
            ``"scaled"``: w_out_i ~ N(0, 1/N) (an O(1) logit at the start), offset 0;
            ``"authors"``: w_out_i ~ N(0, 1), offset 0.001, as in the authors' code.
        h0_slots : int or None
            None: one h_0 shared by the batch, shape (n,); B: one per batch slot,
            shape (B, n), each relaxed from its own random start (authors' code).
        """
        rng = _validate.rng(seed)
        relax_steps = _validate.integer("relax_steps", relax_steps, minimum=0)
        _validate.choice("readout_init", readout_init, READOUT_INITS)
        if readout_init == "scaled":
            w_out, offset = rng.standard_normal(cell.N) / math.sqrt(cell.N), 0.0
        else:
            w_out, offset = rng.standard_normal(cell.N), AUTHORS_OFFSET
        slots = () if h0_slots is None else (_validate.integer("h0_slots", h0_slots, minimum=1),)
        h = rng.standard_normal(slots + (cell.state_size,))
        no_input = np.zeros(getattr(cell, "n_in", 1))
        for _ in range(relax_steps):
            h, _ = cell.step(h, no_input)
        if not np.all(np.isfinite(h)):
            raise NumericalBreakdownError("the initial state overflowed while relaxing the network "
                                          "without input; lower the gain g")
        return cls(cell, w_out, offset, h)

    @property
    def w_out(self):
        return self.params["w_out"]

    @property
    def offset(self):
        return self.params["offset"]

    @property
    def h0(self):
        return self.params["h0"]

    def initial_states(self, B):
        """The initial state of each of B trajectories: h0 (n,) if shared; with one h_0
        per slot, (B, n) with trajectory b starting from slot b mod (number of slots)."""
        h0 = self.h0
        if h0.ndim == 1 or h0.shape[0] == B:
            return h0
        return h0[np.arange(B) % h0.shape[0]]


@dataclasses.dataclass
class Gradient:
    """Result of :func:`loss_and_grad`: the task loss, accuracy (NaN for MSE tasks) and
    the gradient of the loss with respect to every array of ``Model.params``."""

    loss: float
    accuracy: float
    grads: dict


def forward(model, batch):
    """The readout y_hat : (T, B) of ``model`` on ``batch`` (no gradient)."""
    hs, _ = sequence_rules(model.cell).run(model.initial_states(batch.xs.shape[1]), batch.xs)
    return readout(hs, model.w_out, model.offset)


def task_loss(model, batch, loss):
    """The task loss ("mse" or "bce") of ``model`` on ``batch``."""
    return LOSSES[loss][0](forward(model, batch), batch.ys, batch.mask)


def loss_and_grad(model, batch, loss, work=None):
    """Task loss and its gradient by backpropagation through time (module docstring).

    Derivation: docs/derivations.md, section 8.

    Parameters
    ----------
    model : Model
    batch : floss_ref.experiments.tasks.TaskBatch
        xs : (T, B, n_in), ys : (T, B), mask : (T,)
    loss : {"mse", "bce"}
    work : Workspace, optional
        Scratch memory reused between calls (see :class:`Workspace`).

    Returns
    -------
    Gradient

    Raises
    ------
    floss_ref.errors.TrainingDivergedError (a NumericalBreakdownError)
        If the states overflow (the loss is not finite).
    """
    rules = sequence_rules(model.cell)
    f, f_vjp, _ = LOSSES[loss]
    _check_slots(model, batch)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported just below
        hs, tape = rules.run(model.h0, batch.xs, work)
        y_hat = readout(hs, model.w_out, model.offset)
        L = f(y_hat, batch.ys, batch.mask)
    if not math.isfinite(L):
        raise TrainingDivergedError("the task loss is not finite: the network state overflowed "
                                    "(lower the gain g or the learning rate)", loss=L)
    acc = accuracy(y_hat, batch.ys, batch.mask) if loss == "bce" else math.nan
    y_hat_bar = f_vjp(y_hat, batch.ys, batch.mask)
    hs_bar, w_out_bar, offset_bar = readout_vjp(hs, model.w_out, y_hat_bar, work)
    h0_bar, grads = rules.run_vjp(tape, hs_bar, work)
    grads.update(w_out=w_out_bar, offset=offset_bar, h0=h0_bar)
    return Gradient(loss=L, accuracy=acc, grads=grads)


def _check_slots(model, batch):
    if model.h0.ndim == 2 and model.h0.shape[0] != batch.xs.shape[1]:
        raise ValueError(f"the model has {model.h0.shape[0]} initial states (one per batch slot) but the "
                         f"batch has B = {batch.xs.shape[1]} sequences; their gradient needs B equal to the slots")


def loss_jvp(model, batch, loss, tangents):
    """Directional derivative of the task loss along ``tangents`` (a dict shaped like
    ``model.params``; missing keys are zero): the tangent rule of :func:`loss_and_grad`,
    three tangent rules chained::

        hs_dot = run_jvp(tape, h0_dot, params_dot)
        y_hat_dot = readout_jvp(hs, w_out, hs_dot, w_out_dot, offset_dot)
        L_dot = mse_jvp(y_hat, ys, mask, y_hat_dot)           (or bce_logits_jvp)

    Derivation: docs/derivations.md, section 8.
    """
    rules = sequence_rules(model.cell)
    _check_slots(model, batch)
    hs, tape = rules.run(model.h0, batch.xs)
    y_hat = readout(hs, model.w_out, model.offset)
    cell_dot = {name: tangents[name] for name in model.cell.params if name in tangents}
    h0_dot = tangents.get("h0", np.zeros_like(model.h0))
    hs_dot = rules.run_jvp(tape, h0_dot, cell_dot)
    y_hat_dot = readout_jvp(hs, model.w_out, hs_dot, tangents.get("w_out", np.zeros_like(model.w_out)),
                        tangents.get("offset", 0.0))
    return LOSSES[loss][2](y_hat, batch.ys, batch.mask, y_hat_dot)
