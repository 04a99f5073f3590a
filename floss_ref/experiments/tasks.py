"""The paper's four delayed tasks (App. H), each a seeded generator of input streams,
targets and the mask of scored steps.

Time convention (shared with :mod:`floss_ref.core.lyapunov` and :mod:`floss_ref.runs.run`):
step s = 0 .. T-1 reads the input ``xs[s]`` (the paper's x_{s+1} in Eq. 9) and produces
``h_{s+1}``; the readout at step s is ``y_hat[s] = w_out . h_{s+1}[:N] + offset`` and is
compared with ``ys[s]``.  In the table below x_j means ``xs[j]``: at step s the network has seen
x_0 .. x_s, and a target built from x_{s-d} is defined once s >= d:

=============== ============ ============================================ ==========
name            inputs       target y_s                                   loss
=============== ============ ============================================ ==========
``copy``        x ~ U(0, 1)  x_{s-d}                                      MSE
``xor``         x ~ U(0, 1)  abs(x_{s-d/2} - x_{s-d})     (Eqs. 20-21)    MSE
``binary_xor``  x ~ B{0, 1}  x_{s-d/2} XOR x_{s-d}                        cross-entropy
``spatial_xor`` 3 streams    x1_{s-d} XOR x2_{s-d} XOR x3_{s-d}           cross-entropy
=============== ============ ============================================ ==========

Only the steps s >= d, whose target depends on inputs already shown, are scored; the
targets of the other steps are set to 0 and carry no weight.  The temporal XORs need an
even delay d (d/2 must be a whole number of steps).

Two settings on which the paper's text and the authors' public code differ (both
available, the paper's text is the default):

* ``lags`` (temporal XORs only): ``"half"`` uses the lags d/2 and d of Eq. 20 and the
  figure captions; ``"double"`` uses the lags d and 2d of App. H's table and of the
  authors' code (code delay delta = d), scored from step 2d.
* ``inputs``: ``"text"`` draws each task's inputs as the paper's text gives them (the
  table above); ``"bernoulli"`` draws Bernoulli{0, 1} inputs for every task, as the
  authors' code does (for ``copy`` and ``xor`` the inputs are then bits).
* ``input_scale``: ``"none"`` feeds the inputs as drawn; ``"streams"`` divides every input
  by the number of input streams n_in (3 for spatial XOR), as the authors' code does in
  training and flossing alike.  Targets are computed from the unscaled inputs.
"""

import dataclasses

import numpy as np

from floss_ref import _validate


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """What a task is: its input channels, its loss and whether its targets are bits."""

    channels: int
    loss: str
    binary: bool
    even_delay: bool
    description: str


TASKS = {
    "copy": TaskSpec(1, "mse", False, False, "delayed copy y_s = x_{s-d}, x ~ U(0,1)"),
    "xor": TaskSpec(1, "mse", False, True, "temporal XOR y_s = |x_{s-d/2} - x_{s-d}|, x ~ U(0,1)"),
    "binary_xor": TaskSpec(1, "bce", True, True, "binary temporal XOR y_s = x_{s-d/2} xor x_{s-d}, x ~ Bernoulli{0,1}"),
    "spatial_xor": TaskSpec(3, "bce", True, False, "spatial XOR y_s = x1_{s-d} xor x2_{s-d} xor x3_{s-d}, 3 Bernoulli streams"),
}


@dataclasses.dataclass(frozen=True)
class TaskBatch:
    """One batch of a task.

    Attributes
    ----------
    xs : (T, B, n_in) ndarray
        Inputs; ``xs[s]`` drives step s.
    ys : (T, B) ndarray
        Targets (0 at unscored steps).
    mask : (T,) bool ndarray
        True at the scored steps s >= d.
    """

    xs: np.ndarray
    ys: np.ndarray
    mask: np.ndarray


LAGS = ("half", "double")
INPUT_SCALES = ("none", "streams")
TASK_INPUTS = ("text", "bernoulli")


class Task:
    """A delayed task of App. H with its delay fixed.

    Parameters
    ----------
    name : {"copy", "xor", "binary_xor", "spatial_xor"}
    delay : int
        d >= 1; even for ``xor`` and ``binary_xor`` with ``lags="half"``.
    lags : {"half", "double"}
        Temporal XORs: target lags (d/2, d) as in Eq. 20, or (d, 2d) as in App. H's table
        and the authors' code.  Other tasks accept only "half" (their one lag is d).
    input_scale : {"none", "streams"}
        ``"streams"`` divides the inputs by the number of streams (authors' code).
    inputs : {"text", "bernoulli"}
        The input distribution: the paper's text (U(0, 1) for ``copy`` and ``xor``,
        Bernoulli{0, 1} for the binary tasks), or Bernoulli{0, 1} for every task (the
        authors' code).

    Attributes
    ----------
    name : str
    delay : int
    channels : int
        Number of input streams: the cell's input channels ``n_in``.
    first_scored : int
        The first scored step: d, or 2d for ``lags="double"``.
    input_scale : float
        Factor applied to the drawn inputs (1, or 1 / n_in for ``"streams"``).
    loss : {"mse", "bce"}
        Mean squared error, or binary cross-entropy on the logit r.
    binary : bool
        Targets are bits, and accuracy is defined.
    input_distribution : {"uniform", "bernoulli"}
        What the inputs are drawn from (before ``input_scale``); a flossing episode
        draws from the same by default (:class:`floss_ref.experiments.config.TrainConfig`).

    Examples
    --------
    >>> import numpy as np
    >>> from floss_ref.experiments.tasks import Task
    >>> batch = Task("binary_xor", 4).sample(T=10, B=2, seed=0)
    >>> x = batch.xs[..., 0]
    >>> bool(np.all(batch.ys[4:] == np.logical_xor(x[2:8], x[0:6])))
    True
    >>> batch.mask.nonzero()[0].tolist()
    [4, 5, 6, 7, 8, 9]
    """

    def __init__(self, name, delay, *, lags="half", input_scale="none", inputs="text"):
        self.name = _validate.choice("task", name, tuple(TASKS))
        spec = TASKS[name]
        self.delay = _validate.integer("delay", delay, minimum=1)
        self.lags = _validate.choice("lags", lags, LAGS)
        self.input_scale_name = _validate.choice("input_scale", input_scale, INPUT_SCALES)
        self.inputs = _validate.choice("inputs", inputs, TASK_INPUTS)
        if self.lags == "double" and not spec.even_delay:
            raise ValueError(f"lags='double' applies to the temporal XOR tasks ('xor', 'binary_xor') only, "
                             f"not to task {name!r}; use lags='half'")
        if spec.even_delay and self.lags == "half" and self.delay % 2:
            raise ValueError(f"the {name} task needs an even delay d (its target uses x_(s-d/2)), got d = {delay}")
        self.channels = spec.channels
        self.loss = spec.loss
        self.binary = spec.binary
        self.first_scored = 2 * self.delay if self.lags == "double" else self.delay
        self.input_scale = 1.0 / self.channels if self.input_scale_name == "streams" else 1.0
        self.input_distribution = "bernoulli" if spec.binary or self.inputs == "bernoulli" else "uniform"

    def __repr__(self):
        extra = "" if self.lags == "half" else f", lags={self.lags!r}"
        if self.input_scale_name != "none":
            extra += f", input_scale={self.input_scale_name!r}"
        if self.inputs != "text":
            extra += f", inputs={self.inputs!r}"
        return f"Task({self.name!r}, delay={self.delay}{extra})"

    def check_length(self, T):
        """Validate T: at least one step must be scored, so T > d (T > 2d for lags "double")."""
        T = _validate.integer("T", T, minimum=1)
        if self.first_scored >= T:
            raise ValueError(f"the first scored step ({self.first_scored}, from delay d = {self.delay}) must be "
                             f"smaller than the sequence length T = {T}; increase T or reduce the delay")
        return T

    def sample(self, T, B, seed=None):
        """Draw a batch of B independent sequences of length T.

        Parameters
        ----------
        T : int
            Sequence length, T > d.
        B : int
            Batch size, B >= 1.
        seed : int, numpy.random.Generator or None

        Returns
        -------
        TaskBatch with xs : (T, B, n_in), ys : (T, B), mask : (T,)
        """
        T = self.check_length(T)
        B = _validate.integer("B", B, minimum=1)
        # inputs as drawn and scaled, targets, the mask
        _validate.memory(f"a batch of T = {T} steps of B = {B} sequences", 8 * T * B * (2 * self.channels + 1) + T,
                         "use a shorter T or a smaller batch B")
        rng = _validate.rng(seed)
        if self.input_distribution == "bernoulli":
            xs = rng.integers(0, 2, size=(T, B, self.channels)).astype(np.float64)
        else:
            xs = rng.uniform(size=(T, B, self.channels))
        ys = np.zeros((T, B))
        # the target at step s reads x at the lags `near` and `far` (far = first scored step)
        far = self.first_scored
        near = far // 2
        if self.name == "copy":
            ys[far:] = xs[:T - far, :, 0]
        elif self.name == "xor":
            ys[far:] = np.abs(xs[near:T - near, :, 0] - xs[:T - far, :, 0])
        elif self.name == "binary_xor":
            ys[far:] = np.logical_xor(xs[near:T - near, :, 0], xs[:T - far, :, 0])
        else:  # spatial_xor: parity of the three streams d steps ago
            ys[far:] = np.sum(xs[:T - far], axis=-1) % 2
        mask = np.arange(T) >= far
        if self.input_scale != 1.0:
            xs = xs * self.input_scale
        return TaskBatch(xs=xs, ys=ys, mask=mask)


# ---- inputs of a flossing epoch ----------------------------------------------------------

FLOSSING_INPUTS = ("gaussian", "bernoulli", "uniform", "none")


def draw_inputs(kind, T, batch_shape, n_in, rng):
    """Inputs for one flossing epoch: x ~ N(0, 1) (Fig. 1), Bernoulli{0, 1} (the authors'
    flossing on every task; the binary tasks' inputs), U(0, 1) (the copy and continuous
    XOR tasks' inputs in the paper's text), or None.

    returns xs : (T, *batch_shape, n_in) or None
    """
    if kind == "none":
        return None
    if kind == "gaussian":
        return rng.standard_normal((T,) + batch_shape + (n_in,))
    if kind == "uniform":
        return rng.uniform(size=(T,) + batch_shape + (n_in,))
    return rng.integers(0, 2, size=(T,) + batch_shape + (n_in,)).astype(np.float64)
