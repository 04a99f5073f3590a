"""The paper's four delayed tasks (App. H), each a seeded generator of input streams,
targets and the mask of scored steps.

Time convention (shared with :mod:`floss_ref.lyapunov` and :mod:`floss_ref.training`):
step s = 0 .. T-1 reads the input ``xs[s]`` and produces ``h_{s+1}``; the readout at step
s is ``r_s = w_out . h_{s+1} + offset`` and is compared with ``ys[s]``.  So at step s the
network has seen x_0 .. x_s, and a target built from x_{s-d} is defined once s >= d:

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
"""

import dataclasses

import numpy as np

from . import _validate


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
    xs : (T, B, d) ndarray
        Inputs; ``xs[s]`` drives step s.
    ys : (T, B) ndarray
        Targets (0 at unscored steps).
    mask : (T,) bool ndarray
        True at the scored steps s >= d.
    """

    xs: np.ndarray
    ys: np.ndarray
    mask: np.ndarray


class Task:
    """A delayed task of App. H with its delay fixed.

    Parameters
    ----------
    name : {"copy", "xor", "binary_xor", "spatial_xor"}
    delay : int
        d >= 1; even for ``xor`` and ``binary_xor``.

    Attributes
    ----------
    name : str
    delay : int
    channels : int
        Number of input streams d_in (the cell's ``d``).
    loss : {"mse", "bce"}
        Mean squared error, or binary cross-entropy on the logit r.
    binary : bool
        Targets are bits, and accuracy is defined.

    Examples
    --------
    >>> import numpy as np
    >>> from floss_ref.tasks import Task
    >>> batch = Task("binary_xor", 4).sample(T=10, B=2, seed=0)
    >>> x = batch.xs[..., 0]
    >>> bool(np.all(batch.ys[4:] == np.logical_xor(x[2:8], x[0:6])))
    True
    >>> batch.mask.nonzero()[0].tolist()
    [4, 5, 6, 7, 8, 9]
    """

    def __init__(self, name, delay):
        self.name = _validate.choice("task", name, tuple(TASKS))
        spec = TASKS[name]
        self.delay = _validate.integer("delay", delay, minimum=1)
        if spec.even_delay and self.delay % 2:
            raise ValueError(f"the {name} task needs an even delay d (its target uses x_(s-d/2)), got d = {delay}")
        self.channels = spec.channels
        self.loss = spec.loss
        self.binary = spec.binary

    def __repr__(self):
        return f"Task({self.name!r}, delay={self.delay})"

    def check_length(self, T):
        """Validate T: at least one step must be scored, so T > d."""
        T = _validate.integer("T", T, minimum=1)
        if self.delay >= T:
            raise ValueError(f"delay d = {self.delay} must be smaller than the sequence length T = {T} "
                             "(only steps s >= d are scored); increase T or reduce the delay")
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
        TaskBatch with xs : (T, B, d_in), ys : (T, B), mask : (T,)
        """
        T = self.check_length(T)
        B = _validate.integer("B", B, minimum=1)
        rng = _validate.rng(seed)
        d = self.delay
        if self.binary:
            xs = rng.integers(0, 2, size=(T, B, self.channels)).astype(np.float64)
        else:
            xs = rng.uniform(size=(T, B, self.channels))
        ys = np.zeros((T, B))
        if self.name == "copy":
            ys[d:] = xs[:T - d, :, 0]
        elif self.name == "xor":
            ys[d:] = np.abs(xs[d // 2:T - d // 2, :, 0] - xs[:T - d, :, 0])
        elif self.name == "binary_xor":
            ys[d:] = np.logical_xor(xs[d // 2:T - d // 2, :, 0], xs[:T - d, :, 0])
        else:  # spatial_xor: parity of the three streams d steps ago
            ys[d:] = np.sum(xs[:T - d], axis=-1) % 2
        mask = np.arange(T) >= d
        return TaskBatch(xs=xs, ys=ys, mask=mask)
