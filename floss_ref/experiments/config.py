"""The configuration of a training run on the paper's delayed tasks (Sections 6-7, App.
C-D, H): the task, the network, training, the flossing protocol and its episodes, the
diagnostics, and the settings on which the paper's text and the authors' code differ.

A :class:`TrainConfig` is everything that determines a run; :class:`floss_ref.runs.run.Run`
carries it out.
"""

import dataclasses

from floss_ref import _validate
from floss_ref.core.cells import CELLS, check_cell_options, get_cell
from floss_ref.core.cells.lstm import GAINS
from floss_ref.core.cells.vanilla import INITS, NONLINEARITIES
from floss_ref.experiments.tasks import FLOSSING_INPUTS, TASK_INPUTS, TASKS, Task

# fields that were renamed, old name: new name (the old name is refused with the new one)
RENAMED_FIELDS = {"clip": "clip_norm"}
# fields added to TrainConfig, with the value that a configuration stored without them
# had in effect (their flossing episodes always drew Bernoulli inputs)
ADDED_FIELDS = {"floss_inputs": "bernoulli", "lstm_gains": "shared", "task_inputs": "text"}

PROTOCOLS = ("none", "prefloss", "during", "throughout")

# the options of each setting on which the paper's text and the authors' code differ;
# the first is the default (the paper's text, or our earlier reading of it)
SETTING_CHOICES = {
    "input_scale": ("none", "streams"),
    "xor_lags": ("half", "double"),
    "readout_init": ("scaled", "authors"),
    "clip_mode": ("global", "per_array"),
    "h0_mode": ("shared", "per_slot"),
    "w_mean_scale": ("entry", "1/N"),
    "task_inputs": TASK_INPUTS,
}
# the fields that enter TrainConfig.estimated_bytes: a run too large for memory is refused naming them
SIZE_FIELDS = ("N", "T", "batch", "test_batch", "epochs", "k", "floss_epochs", "floss_T", "diag_every", "floss_every")
# k flossed by default: the paper's k = 75 for N = 80 (Sections 6-7; Fig. 3's caption)
DEFAULT_K = 75
# exponents recorded by the diagnostics by default: Fig. 13 shows lambda_1 and lambda_10
DEFAULT_DIAG_K = 10

# TrainConfig fields that are options of a cell's random() (cells.make_cell), by option
_CELL_OPTION_FIELDS = {"nonlinearity": "nonlinearity", "init": "init", "mean_scale": "w_mean_scale",
                       "forget_gain": "forget_gain", "gains": "lstm_gains"}
_CELL_OPTION_DEFAULTS = {"nonlinearity": "tanh", "init": "gaussian", "w_mean_scale": "entry", "forget_gain": None,
                         "lstm_gains": "shared"}
LSTM_GAINS = GAINS
# the authors' public code (GradientFlossing_XOR.jl) where the paper's text is silent;
# xor_lags is left out: which lags the figures' "d" means is an open question
AUTHORS_SETTINGS = {"input_scale": "streams", "readout_init": "authors", "clip_mode": "per_array",
                    "h0_mode": "per_slot"}


# ---- training configuration -----------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a training run (and so must match to resume one).

    Defaults are the paper's (Sections 6-7, App. H) where it states them.

    Parameters
    ----------
    task : {"copy", "xor", "binary_xor", "spatial_xor"}
    delay : int
        d; even for the temporal XORs, 1 <= d < T.
    cell : str
        Key of :data:`floss_ref.core.cells.CELLS`.
    nonlinearity, init : str
        Vanilla cell only: "tanh" or "relu" (App. B); "gaussian" or "orthogonal" (App. G).
    N : int
        Hidden units.
    g : float
        Gain of the initial recurrent weights.
    T, batch, epochs : int
        Sequence length, batch size B and number of training epochs E (one Adam step each).
    lr, clip_norm : float
        Adam learning rate and gradient-norm clip (None: no clipping; ``clip_mode`` says
        whether it acts on the global norm or per array).
    seed : int
        Seeds every random stream of the run (initialisation, data, flossing, diagnostics).
    protocol : {"none", "prefloss", "during", "throughout"}
        No flossing; one episode before epoch 0 (preflossing); episodes before epoch 0
        and before each epoch in ``floss_at``; episodes before every ``floss_every``-th epoch.
    k : int or None
        Number of flossed exponents; None: min(DEFAULT_K = 75, n).
    floss_epochs, floss_T, floss_transient, floss_lr : int, int, int, float
        Per episode: E_f Adam steps on sequences of T_f steps, the first
        ``floss_transient`` of which are left out of the average (authors: T_f = 55, 16
        steps of transient).
    floss_inputs : {"uniform", "bernoulli", "gaussian", "none"} or None
        What a flossing episode's inputs are drawn from.  None (the default): the task's
        own input distribution (``Task.input_distribution``: U(0, 1) for copy and
        continuous XOR in the paper's text, Bernoulli{0, 1} for the binary tasks and
        with ``task_inputs="bernoulli"``); stored resolved, so a configuration always
        names it.
    floss_at : sequence of int
        Training epochs with an episode for ``protocol="during"`` (Fig. 7C: 0..400),
        each < epochs; stored as a tuple.
    floss_every : int
        P for ``protocol="throughout"`` (App. D.2: 100).
    diag_every : int
        Every this many epochs (and at the last) record the first ``diag_k`` Lyapunov
        exponents (on that epoch's batch, averaged over its B trajectories, the first
        T // TRANSIENT_FRACTION = T // 10 steps left out) and the singular values of dL/dW; 0: never.
    diag_k : int or None
        None: min(DEFAULT_DIAG_K = 10, n).
    test_batch : int
        Sequences in the held-out batch scored after training.

    Settings on which the paper's text and the authors' public code differ.  The first
    choice of each is the default; ``AUTHORS_SETTINGS`` holds the authors' code's.

    input_scale : {"none", "streams"}
        "streams" divides the inputs by the number of input streams, in training and
        in flossing (authors' code; see :mod:`floss_ref.experiments.tasks`).
    xor_lags : {"half", "double"}
        Temporal XORs: lags (d/2, d) as in Eq. 20, or (d, 2d) as in App. H's table and
        the authors' code.
    readout_init : {"scaled", "authors"}
        w_out ~ N(0, 1/N) and offset 0, or w_out ~ N(0, 1) and offset 0.001 (authors).
    clip_mode : {"global", "per_array"}
        ``clip_norm`` acts on the global gradient norm, or on each parameter array on its own
        (authors: Flux's ClipNorm).
    h0_mode : {"shared", "per_slot"}
        One trained initial state for the batch, or one per batch slot (authors); with
        "per_slot" the held-out batch reuses the slots cyclically.
    w_mean_scale : {"entry", "1/N"}
        Vanilla cell: the mean of the W entries (0 for tanh, -0.1 for ReLU) is taken per
        entry (App. B read literally) or divided by N (authors' code).
    forget_gain : float or None
        LSTM cell: the recurrent gain of the forget gate; None: g as for the other gates
        (Fig. 6 caption); App. B's text sets it to 0.
    lstm_gains : {"shared", "app_b"}
        LSTM cell: one gain g for the recurrent weights of every gate (Fig. 6 caption), or
        App. B's per-gate gains and biases (:meth:`floss_ref.core.cells.lstm.LSTM.random`).
    task_inputs : {"text", "bernoulli"}
        The task's input distribution: the paper's text (U(0, 1) for copy and continuous
        XOR), or Bernoulli{0, 1} for every task (authors' code); see
        :class:`floss_ref.experiments.tasks.Task`.
    """

    task: str = "binary_xor"
    delay: int = 20
    cell: str = "vanilla"
    nonlinearity: str = "tanh"
    init: str = "gaussian"
    N: int = 80
    g: float = 1.0
    T: int = 300
    batch: int = 16
    epochs: int = 1000
    lr: float = 1e-3
    clip_norm: float = 0.03
    seed: int = 0
    protocol: str = "none"
    k: int = None
    floss_epochs: int = 500
    floss_T: int = 55
    floss_transient: int = 16
    floss_lr: float = 1e-3
    floss_inputs: str = None
    floss_at: tuple = (0, 100, 200, 300, 400)
    floss_every: int = 100
    diag_every: int = 100
    diag_k: int = None
    test_batch: int = 256
    input_scale: str = "none"
    xor_lags: str = "half"
    readout_init: str = "scaled"
    clip_mode: str = "global"
    h0_mode: str = "shared"
    w_mean_scale: str = "entry"
    forget_gain: float = None
    lstm_gains: str = "shared"
    task_inputs: str = "text"

    def __post_init__(self):
        # validate every field, and store numbers as plain int / float (frozen dataclass:
        # object.__setattr__), so that the configuration is JSON-able for checkpoints
        def keep(name, value):
            object.__setattr__(self, name, value)

        _validate.choice("task", self.task, tuple(TASKS))
        _validate.choice("cell", self.cell, tuple(CELLS))
        _validate.choice("protocol", self.protocol, PROTOCOLS)
        _validate.choice("nonlinearity", self.nonlinearity, NONLINEARITIES)
        _validate.choice("init", self.init, INITS)
        for name, options in SETTING_CHOICES.items():
            _validate.choice(name, getattr(self, name), options)
        if self.forget_gain is not None:
            keep("forget_gain", _validate.real("forget_gain", self.forget_gain, minimum=0.0,
                                               maximum=_validate.MAX_GAIN))
        _validate.choice("lstm_gains", self.lstm_gains, LSTM_GAINS)
        check_cell_options(self.cell, self.cell_options(), labels=_CELL_OPTION_FIELDS)
        task = self.make_task()
        if self.floss_inputs is None:
            keep("floss_inputs", task.input_distribution)
        _validate.choice("floss_inputs", self.floss_inputs, FLOSSING_INPUTS)
        keep("delay", task.delay)
        keep("T", task.check_length(self.T))
        for name, minimum in (("N", 1), ("batch", 1), ("epochs", 1), ("seed", 0), ("floss_epochs", 1),
                              ("floss_T", 1), ("floss_transient", 0), ("floss_every", 1),
                              ("diag_every", 0), ("test_batch", 1)):
            keep(name, _validate.integer(name, getattr(self, name), minimum=minimum))
        for name in ("k", "diag_k"):
            if getattr(self, name) is not None:
                keep(name, _validate.integer(name, getattr(self, name), minimum=1))
        keep("g", _validate.real("g", self.g, minimum=0.0, maximum=_validate.MAX_GAIN))
        for name in ("lr", "floss_lr"):
            keep(name, _validate.real(name, getattr(self, name), minimum=0.0, strict_min=True))
        if self.clip_norm is not None:
            keep("clip_norm", _validate.real("clip_norm", self.clip_norm, minimum=0.0, strict_min=True))
        if self.floss_transient >= self.floss_T:
            raise ValueError(f"floss_transient ({self.floss_transient}) must be smaller than floss_T ({self.floss_T})")
        if isinstance(self.floss_at, (str, bytes)) or not hasattr(self.floss_at, "__iter__") or \
                getattr(self.floss_at, "ndim", 1) == 0:
            raise TypeError(f"floss_at must be a sequence of epochs, got {self.floss_at!r}")
        keep("floss_at", tuple(_validate.integer("floss_at entry", e, minimum=0) for e in self.floss_at))
        if self.protocol == "during" and self.floss_at and max(self.floss_at) >= self.epochs:
            raise ValueError(f"floss_at holds epoch {max(self.floss_at)} but the run has only {self.epochs} "
                             f"epochs (0 .. {self.epochs - 1}); pass flossing epochs inside the run")
        sizes = ", ".join(f"{name} = {getattr(self, name)}" for name in SIZE_FIELDS)
        _validate.memory(f"this run ({sizes})", self.estimated_bytes(), "reduce the largest of these sizes")

    def estimated_bytes(self):
        """A rough upper estimate of the memory a run of this configuration allocates:
        the history, the parameters with two sets of Adam moments, and the tapes of one
        BPTT pass and one flossing gradient (arithmetic only: nothing is allocated)."""
        cell = get_cell(self.cell)
        n, gates = cell.state_per_unit * self.N, cell.gates
        k = n if self.k is None else self.k
        diag = 0 if self.diag_every == 0 else self.epochs // self.diag_every + 1
        episodes = {"none": 0, "prefloss": 1, "during": len(self.floss_at) + 1,
                    "throughout": self.epochs // self.floss_every + 1}[self.protocol]
        history = 4 * self.epochs + diag * (n + self.N) + episodes * (self.floss_epochs + k)
        params = 3 * 3 * gates * self.N * (self.N + 2)
        bptt = 8 * self.T * self.batch * n * gates
        tape = 3 * self.floss_T * n * (k + 4)
        return 8 * (history + params + bptt + tape + 2 * self.test_batch * self.T * n * gates)

    def cell_options(self):
        """The options of ``cells.make_cell`` this configuration sets (those that differ
        from the defaults), by option name."""
        return {option: getattr(self, field) for option, field in _CELL_OPTION_FIELDS.items()
                if getattr(self, field) != _CELL_OPTION_DEFAULTS[field]}

    def make_task(self):
        """The :class:`floss_ref.experiments.tasks.Task` of this configuration."""
        return Task(self.task, self.delay, lags=self.xor_lags, input_scale=self.input_scale,
                    inputs=self.task_inputs)

    def to_dict(self):
        """Plain JSON-able dict (floss_at as a list)."""
        fields = dataclasses.asdict(self)
        fields["floss_at"] = list(self.floss_at)
        return fields

    def flossing_epochs(self):
        """Sorted training epochs before which a flossing episode runs."""
        if self.protocol == "none":
            return ()
        if self.protocol == "prefloss":
            return (0,)
        if self.protocol == "during":
            return tuple(sorted({0, *self.floss_at}))
        return tuple(range(0, self.epochs, self.floss_every))

    def diagnostic_epochs(self):
        """Sorted epochs at which the exponents and the singular values of dL/dW are recorded."""
        if self.diag_every == 0:
            return ()
        return tuple(sorted(set(range(0, self.epochs, self.diag_every)) | {self.epochs - 1}))


def stored_fields(fields):
    """A stored TrainConfig (its ``to_dict``, from a checkpoint or a sweep result) as it reads
    today: renamed fields under their new names (:data:`RENAMED_FIELDS`), and fields added
    since with the value they had in effect (:data:`ADDED_FIELDS`).  The stored file is not
    changed, so its hash stays valid."""
    out = {RENAMED_FIELDS.get(key, key): value for key, value in fields.items()}
    for key, value in ADDED_FIELDS.items():
        out.setdefault(key, value)
    return out


# the old name of a field is refused with a TypeError naming the new one
TrainConfig.__init__ = _validate.renamed_keywords(**RENAMED_FIELDS)(TrainConfig.__init__)
