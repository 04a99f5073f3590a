"""Training runs on the delayed tasks: a :class:`~floss_ref.experiments.config.TrainConfig`
carried out with its flossing protocol and diagnostics, checkpointed and resumable (the
paper's Sections 6-7, App. C-D, H), and as a sweep task.

Training (:class:`Run`): Adam (lr 1e-3) with the gradient norm clipped at 0.03, batch
16, T = 300, fresh task data every epoch, as in the authors' code; trained are the cell
parameters, ``w_out``, ``offset`` and ``h0``, by the hand-written BPTT of
:mod:`floss_ref.experiments.bptt`.  By default the clip acts on the global norm, h0 is shared by the
batch and the readout starts at N(0, 1/N); the authors' code clips each array, trains
one h0 per batch slot and starts the readout at N(0, 1) (``TrainConfig`` has both).
Flossing episodes (:func:`floss_ref.floss`, the exact gradient of sum_i lambda_i^2) run
before chosen training epochs according to the protocol.
"""

import dataclasses
import os

import numpy as np

from floss_ref import _validate
from floss_ref.runs.io import brief, check_writable, writer_lock
from floss_ref._progress import progress_bar
from floss_ref._threads import limit_blas
from floss_ref.experiments.bptt import LOSSES, Model, Workspace, accuracy, forward, loss_and_grad
from floss_ref.core.cells import make_cell
from floss_ref.runs.checkpoint import CheckpointError, load_checkpoint, save_checkpoint, save_history
from floss_ref.experiments.driver import floss
from floss_ref.errors import NumericalBreakdownError, TrainingDivergedError
from floss_ref.core.lyapunov import TRANSIENT_FRACTION, lyapunov_spectrum
from floss_ref.experiments.optim import Adam
from floss_ref.experiments.controls import OBJECTIVES, regularize
from floss_ref.experiments.config import (AUTHORS_SETTINGS, DEFAULT_DIAG_K, DEFAULT_K, PROTOCOLS,  # noqa: F401
                                          SETTING_CHOICES, TrainConfig, stored_fields)

# Independent random streams of a run, all derived from config.seed: the data stream is
# the only one with state carried from epoch to epoch (and saved in checkpoints); the
# others are keyed by the epoch, so switching flossing or diagnostics on or off leaves
# the initial network and every task batch unchanged.
_INIT, _DATA, _FLOSS, _DIAG, _TEST = range(5)

# A task loss above this stops a run as diverged (TrainingDivergedError): the losses
# of the tasks here are O(1) at initialisation (BCE log 2, MSE of unit-variance targets),
# so 1e10 is far beyond any run that is still learning, and far below float64 overflow.
DIVERGED_LOSS = 1e10

# what a sweep task of kind "train" does when its run diverges (train_result's ``on_divergence``)
ON_DIVERGENCE = ("raise", "record")


def _stream(config, *key):
    return np.random.default_rng([config.seed, *key])


# ---- a training run -------------------------------------------------------------------

class Run:
    """A training run that can be checkpointed and resumed bit for bit.

    Parameters
    ----------
    config : TrainConfig

    Attributes
    ----------
    config : TrainConfig
    task : floss_ref.experiments.tasks.Task
    model : Model
    epoch : int
        Number of training epochs done.
    history : dict of ndarray
        ``loss``, ``accuracy`` (NaN for MSE tasks), ``grad_norm`` (before clipping),
        ``h0_grad_norm`` (|dL/dh_0|, Eq. 18): (E,), one entry per epoch, measured on that
        epoch's fresh batch before its update (so an estimate of the test error);
        ``diag_epochs`` (D,), ``exponents`` (D, k_diag), ``grad_W_sv`` (D, N) singular
        values of dL/dW (App. D.1); ``floss_epochs`` (P,), ``floss_loss`` (P, E_f),
        ``floss_exponents`` (P, k) at the last step of each episode; ``test_loss``,
        ``test_accuracy`` () on a held-out batch after the last epoch.  Entries not
        reached yet are NaN.
    """

    # a flossing episode records the exponents at its last step (Sec. 7 control episodes do not)
    records_floss_exponents = True

    def __init__(self, config):
        if not isinstance(config, TrainConfig):
            raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}")
        self.config = c = config
        self.task = c.make_task()
        init = _stream(c, _INIT)
        cell = make_cell(c.cell, c.N, self.task.channels, c.g, seed=init, **c.cell_options())
        self.model = Model.random(cell, seed=init, readout_init=c.readout_init,
                                  h0_slots=c.batch if c.h0_mode == "per_slot" else None)
        n = cell.state_size
        self.k = min(DEFAULT_K, n) if c.k is None else c.k
        self.diag_k = min(DEFAULT_DIAG_K, n) if c.diag_k is None else c.diag_k
        for name, value in (("k", self.k), ("diag_k", self.diag_k)):
            if value > n:
                raise ValueError(f"{name} = {value} exceeds the state size n = {n} of the network")
        self.optimizer = Adam(self.model.params, lr=c.lr, clip_norm=c.clip_norm, clip_mode=c.clip_mode)
        self.floss_optimizer = Adam(cell.params, lr=c.floss_lr)  # kept across episodes
        self.rng = _stream(c, _DATA)
        self.work = Workspace()
        self.epoch = 0
        self._floss_index = {e: i for i, e in enumerate(c.flossing_epochs())}
        self._diag_index = {e: i for i, e in enumerate(c.diagnostic_epochs())}
        E, D, P = c.epochs, len(self._diag_index), len(self._floss_index)
        self.history = {
            "loss": np.full(E, np.nan), "accuracy": np.full(E, np.nan),
            "grad_norm": np.full(E, np.nan), "h0_grad_norm": np.full(E, np.nan),
            "diag_epochs": np.array(sorted(self._diag_index), dtype=np.int64),
            "exponents": np.full((D, self.diag_k), np.nan), "grad_W_sv": np.full((D, c.N), np.nan),
            "floss_epochs": np.array(sorted(self._floss_index), dtype=np.int64),
            "floss_loss": np.full((P, c.floss_epochs), np.nan),
            "floss_exponents": np.full((P, self.k), np.nan),
            "test_loss": np.array(np.nan), "test_accuracy": np.array(np.nan),
        }

    @property
    def done(self):
        return self.epoch >= self.config.epochs

    # -- one epoch --

    def _floss_episode(self, e):
        i = self._floss_index[e]
        c = self.config
        hist = floss(self.model.cell, epochs=c.floss_epochs, k=self.k, T=c.floss_T,
                     transient=c.floss_transient, inputs=c.floss_inputs, input_scale=self.task.input_scale,
                     seed=_stream(c, _FLOSS, e), optimizer=self.floss_optimizer)
        self.history["floss_loss"][i] = hist.loss
        self.history["floss_exponents"][i] = hist.exponents[-1]

    def _diagnose(self, e, batch, grads):
        i = self._diag_index[e]
        B = batch.xs.shape[1]
        h0 = np.broadcast_to(self.model.h0, (B, self.model.h0.shape[-1]))
        res = lyapunov_spectrum(self.model.cell, h0, batch.xs, k=self.diag_k,
                                transient=self.config.T // TRANSIENT_FRACTION, seed=_stream(self.config, _DIAG, e),
                                stderr=False)
        self.history["exponents"][i] = np.mean(res.exponents, axis=0)
        W_bar = grads.get("W")
        if W_bar is not None and W_bar.ndim == 2:
            sv = np.linalg.svd(W_bar, compute_uv=False)
            self.history["grad_W_sv"][i, :min(sv.shape[0], self.config.N)] = sv[:self.config.N]

    def train_epoch(self):
        """One epoch: a flossing episode if scheduled, then one Adam step on a fresh batch.

        A numerical breakdown is reported with the epoch (and the part of it) where it
        happened; a task loss above :data:`DIVERGED_LOSS` stops the run as diverged.
        """
        e = self.epoch
        c = self.config
        part = "the flossing episode before training epoch"
        try:
            if e in self._floss_index:
                self._floss_episode(e)
            part = "training epoch"
            batch = self.task.sample(c.T, c.batch, self.rng)
            res = loss_and_grad(self.model, batch, self.task.loss, self.work)
            if res.loss > DIVERGED_LOSS:
                raise TrainingDivergedError(
                    f"training diverged: the task loss is {res.loss:.3g} (> {DIVERGED_LOSS:g}); lower lr or g, "
                    "or clip the gradient (--clip-norm)", loss=res.loss)
            if e in self._diag_index:
                part = "the diagnostics of training epoch"
                self._diagnose(e, batch, res.grads)
            part = "the update of training epoch"
            self._record_and_step(e, res)
        except NumericalBreakdownError as exc:
            exc.args = (f"{exc.args[0] if exc.args else exc} (in {part} {e})",) + exc.args[1:]
            if isinstance(exc, TrainingDivergedError):   # above the bound, or an overflow in loss_and_grad
                exc.epoch = e
            raise

    def _record_and_step(self, e, res):
        norm = self.optimizer.step(res.grads)  # first: a refused update leaves the history as it was
        h = self.history
        h["loss"][e] = res.loss
        h["accuracy"][e] = res.accuracy
        h["h0_grad_norm"][e] = np.linalg.norm(res.grads["h0"])
        h["grad_norm"][e] = norm
        self.epoch = e + 1
        if self.done:
            self._test()

    def _test(self):
        batch = self.task.sample(self.config.T, self.config.test_batch, _stream(self.config, _TEST))
        r = forward(self.model, batch)
        self.history["test_loss"] = np.array(LOSSES[self.task.loss][0](r, batch.ys, batch.mask))
        if self.task.binary:
            self.history["test_accuracy"] = np.array(accuracy(r, batch.ys, batch.mask))

    def train(self, until=None, *, checkpoint=None, checkpoint_every=100, progress=False, blas_threads=1):
        """Train up to epoch ``until`` (default: to the end), checkpointing on the way.

        Parameters
        ----------
        until : int, optional
            Stop after this many epochs in total (<= config.epochs).
        checkpoint : str or os.PathLike, optional
            Written atomically every ``checkpoint_every`` epochs and when stopping.
        checkpoint_every : int
        progress : bool
            Show progress on stderr: a bar on a terminal, a line every few seconds in a log.
        blas_threads : int or None
            BLAS threads during training (None: leave the setting alone).  One thread is
            the fastest for these small matrices, and keeps results independent of the
            machine's core count.

        Raises
        ------
        floss_ref.runs.io.FileLockedError (an OSError)
            Another run is writing ``checkpoint`` (see :func:`checkpoint_lock`).
        """
        until = self.config.epochs if until is None else _validate.integer(
            "until", until, minimum=self.epoch, maximum=self.config.epochs)
        checkpoint_every = _validate.integer("checkpoint_every", checkpoint_every, minimum=1)
        if checkpoint is None:
            return self._train(until, None, checkpoint_every, progress, blas_threads)
        check_writable(checkpoint)
        _check_checkpoint_path(checkpoint)
        with checkpoint_lock(checkpoint):
            return self._train(until, checkpoint, checkpoint_every, progress, blas_threads)

    def _train(self, until, checkpoint, checkpoint_every, progress, blas_threads):
        bar = progress_bar(self.config.epochs, progress, f"training ({self.config.protocol})", "epoch",
                           initial=self.epoch, leave=True)
        try:
            with limit_blas(blas_threads):
                while self.epoch < until:
                    self.train_epoch()
                    if bar is not None:
                        bar.update(1)
                        postfix = {"loss": f"{self.history['loss'][self.epoch - 1]:.3g}"}
                        if self.task.binary:
                            postfix["acc"] = f"{self.history['accuracy'][self.epoch - 1]:.2f}"
                        bar.set_postfix(postfix, refresh=False)
                    if checkpoint is not None and (self.epoch % checkpoint_every == 0 or self.epoch == until):
                        self.save(checkpoint)
        finally:
            if bar is not None:
                bar.close()
        return self

    # -- checkpoints --

    def state_arrays(self):
        """Every array of the run's state, with prefixed names, for a checkpoint."""
        arrays = {"param/" + name: p for name, p in self.model.params.items()}
        arrays.update({"adam/" + name: v for name, v in self.optimizer.state_dict().items()})
        arrays.update({"floss_adam/" + name: v for name, v in self.floss_optimizer.state_dict().items()})
        arrays.update({"history/" + name: v for name, v in self.history.items()})
        return arrays

    def save(self, path):
        """Write the run's state to ``path`` atomically (see :mod:`floss_ref.runs.checkpoint`)."""
        meta = {"epoch": self.epoch, "rng": self.rng.bit_generator.state}
        save_checkpoint(path, self.config.to_dict(), self.state_arrays(), meta)

    @classmethod
    def load(cls, path, config):
        """Resume the run of ``config`` from the checkpoint at ``path``.

        Raises :class:`floss_ref.runs.checkpoint.CheckpointError` if the file is not a readable
        checkpoint or was written by a different configuration.
        """
        run = cls(config)
        expected = {name: (np.shape(v), np.asarray(v).dtype) for name, v in run.state_arrays().items()}
        arrays, meta = load_checkpoint(path, config.to_dict(), expected, read_as=stored_fields)
        epoch = _checked_state(os.fspath(path), run, arrays, meta)
        for name, p in run.model.params.items():
            p[...] = arrays["param/" + name]
        run.optimizer.load_state_dict(_strip(arrays, "adam/"))
        run.floss_optimizer.load_state_dict(_strip(arrays, "floss_adam/"))
        run.history = {name: v.copy() for name, v in _strip(arrays, "history/").items()}
        run.epoch = epoch
        return run

    # -- output --

    def summary(self):
        """Final figures as a dict of floats (NaN where not defined)."""
        h = self.history
        last = max(self.epoch - 1, 0)
        return {"epochs": self.epoch, "final_loss": float(h["loss"][last]),
                "final_accuracy": float(h["accuracy"][last]),
                "test_loss": float(h["test_loss"]), "test_accuracy": float(h["test_accuracy"])}

    def save_history(self, path):
        """Write the history (and the configuration) as ``.json`` or ``.npz``, atomically
        (:func:`floss_ref.runs.checkpoint.save_history`)."""
        save_history(path, self.config.to_dict(), self.history, self.epoch)


def _checked_state(path, run, arrays, meta):
    """The epoch of a checkpoint's run state, after checking that the state is one that
    ``run`` (a fresh run of the checkpoint's configuration) can be in after that many
    epochs; sets ``run.rng`` to the stored generator state.

    Refuses (CheckpointError, naming the array and the epoch) an epoch outside [0, E] or
    not an integer; a generator state of another kind; non-finite parameters or optimiser
    moments, or negative second moments; an Adam step count other than the epoch, or a
    flossing step count other than E_f per episode done; schedules (``diag_epochs``,
    ``floss_epochs``) other than the configuration's; and a history that does not end at
    that epoch: every entry a run must have recorded by then finite (norms and singular
    values >= 0), every other entry NaN.  What a run records: loss, norms and (BCE tasks)
    accuracy per epoch done; exponents and the singular values of dL/dW (as many as the
    SVD of W gives, at most N) per diagnostic epoch done; loss and (flossing, not control
    episodes) exponents per flossing episode done; the test loss and (binary tasks) test
    accuracy once the last epoch is done.
    """
    config, rng = run.config, run.rng

    def refuse(what):
        raise CheckpointError(f"{path!r} holds an inconsistent run state: {what}; the file was left as it is")

    epoch = meta.get("epoch")
    if isinstance(epoch, bool) or not isinstance(epoch, int) or not 0 <= epoch <= config.epochs:
        refuse(f"epoch {brief(epoch)} is not an integer in [0, {config.epochs}]")
    state = meta.get("rng")
    if not isinstance(state, dict) or state.get("bit_generator") != type(rng.bit_generator).__name__:
        refuse(f"the random generator state is not a {type(rng.bit_generator).__name__} state")
    try:
        rng.bit_generator.state = state
    except Exception as exc:  # noqa: BLE001  (NumPy raises ValueError, TypeError, OverflowError, KeyError)
        refuse(f"the random generator state cannot be restored ({type(exc).__name__}: {str(exc)[:200]})")
    for name, a in arrays.items():
        if name.startswith(("param/", "adam/", "floss_adam/")) and a.dtype.kind == "f" and not np.all(np.isfinite(a)):
            refuse(f"{name} contains NaN or infinite values")
        if name.startswith(("adam/v_", "floss_adam/v_")) and np.any(a < 0):
            refuse(f"{name} holds negative second moments (squares averaged: >= 0)")
    loss = arrays["history/loss"]
    if not (np.all(np.isfinite(loss[:epoch])) and np.all(np.isnan(loss[epoch:]))):
        refuse(f"the loss history does not end at epoch {epoch} (finite before it, NaN after)")
    # one Adam step per training epoch; E_f steps of the flossing optimiser per episode
    episodes = sum(1 for e in config.flossing_epochs() if e < epoch)
    for name, steps, what in (("adam/t", epoch, f"{epoch} Adam steps"),
                              ("floss_adam/t", episodes * config.floss_epochs,
                               f"{episodes * config.floss_epochs} flossing steps ({episodes} episodes of "
                               f"{config.floss_epochs})")):
        if int(arrays[name]) != steps:
            refuse(f"{name} is {int(arrays[name])}, a run at epoch {epoch} has taken {what}")
    history = _strip(arrays, "history/")
    for name in ("diag_epochs", "floss_epochs"):
        if not np.array_equal(history[name], run.history[name]):
            refuse(f"history/{name} is {history[name].tolist()}, the configuration's is {run.history[name].tolist()}")
    for name, (must, label, reason) in _recorded(run, epoch).items():
        a = history[name]
        for bad, what in ((must & ~np.isfinite(a), "is not finite"), (~must & ~np.isnan(a), "holds a value"),
                          (must & (a < 0) if name in _NON_NEGATIVE else None, "is negative")):
            if bad is not None and np.any(bad):
                at = label(np.argwhere(np.atleast_1d(bad))[0][0])
                refuse(f"history/{name} {what} at {at}" + (reason if what == "holds a value" else ""))
    test_loss = arrays["history/test_loss"]
    if not (np.isfinite(test_loss) if epoch == config.epochs else np.isnan(test_loss)):
        refuse(f"the test loss is {'missing' if epoch == config.epochs else 'present'} at epoch {epoch} "
               f"of {config.epochs}")
    return epoch


_NON_NEGATIVE = ("grad_norm", "h0_grad_norm", "grad_W_sv")


def _recorded(run, epoch):
    """name -> (mask of the entries a run at ``epoch`` has recorded, a function that names
    the epoch of a row, why an entry outside the mask must be NaN), for every history array
    but the loss and the schedules."""
    c, h = run.config, run.history
    not_reached = f", which a run saved after {epoch} epochs has not reached"
    done = np.arange(c.epochs) < epoch
    diag = h["diag_epochs"] < epoch
    episodes = h["floss_epochs"] < epoch
    W = run.model.params.get("W")
    n_sv = min(min(W.shape), c.N) if W is not None and W.ndim == 2 else 0  # singular values of dL/dW kept
    finished = np.array(epoch == c.epochs)

    def per_epoch(i):
        return f"epoch {i}"

    def per_diagnostic(i):
        return f"diagnostic epoch {h['diag_epochs'][i]}"

    def per_episode(i):
        return f"the episode before epoch {h['floss_epochs'][i]}"

    return {
        "grad_norm": (done, per_epoch, not_reached),
        "h0_grad_norm": (done, per_epoch, not_reached),
        "accuracy": ((done, per_epoch, not_reached) if run.task.loss == "bce"
                     else (np.zeros(c.epochs, bool), per_epoch, " (a task with an MSE loss has no accuracy)")),
        "exponents": (np.broadcast_to(diag[:, None], h["exponents"].shape), per_diagnostic, not_reached),
        "grad_W_sv": (diag[:, None] & (np.arange(h["grad_W_sv"].shape[1]) < n_sv), per_diagnostic,
                      not_reached + f" (or a singular value of dL/dW beyond the {n_sv} there are)"),
        "floss_loss": (np.broadcast_to(episodes[:, None], h["floss_loss"].shape), per_episode, not_reached),
        "floss_exponents": (np.broadcast_to(episodes[:, None] & run.records_floss_exponents,
                                            h["floss_exponents"].shape), per_episode, not_reached),
        "test_accuracy": (finished & run.task.binary, lambda i: "the end of the run",
                          f" at epoch {epoch} of {c.epochs}"),
    }


def _strip(arrays, prefix):
    return {name[len(prefix):]: v for name, v in arrays.items() if name.startswith(prefix)}


def checkpoint_lock(path):
    """The writer lock of the checkpoint ``path`` (:func:`floss_ref.runs.io.writer_lock` on
    ``<path>.lock`` beside it, the checkpoint's real path through symbolic links), held by
    the run writing it: a second writer is refused with
    :class:`floss_ref.runs.io.FileLockedError` naming the holder's pid and host.  Loading
    a checkpoint takes no lock."""
    real = os.path.realpath(os.fspath(path))
    return writer_lock(os.fspath(path), real + ".lock", what="checkpoint")


def _check_checkpoint_path(path):
    if not isinstance(path, (str, os.PathLike)) or not os.fspath(path).endswith(".npz"):
        raise ValueError(f"checkpoint must be a path ending in .npz (checkpoints are NPZ archives), got {path!r}")


def train(config, *, checkpoint=None, checkpoint_every=100, resume=False, progress=False, blas_threads=1):
    """Run (or resume) the training of ``config`` to the end.

    Parameters
    ----------
    config : TrainConfig
    checkpoint : str or os.PathLike, optional
        Checkpoint file, written atomically every ``checkpoint_every`` epochs.
    resume : bool
        Continue from ``checkpoint`` (which must exist and match ``config``).  Without
        it an existing checkpoint file is refused rather than overwritten.
    progress : bool
    blas_threads : int or None
        As in :meth:`Run.train`.

    Returns
    -------
    Run

    Raises
    ------
    floss_ref.runs.io.FileLockedError (an OSError)
        Another run (this process or another) is writing ``checkpoint``: one writer at a
        time; the message names the holder's pid and host.
    """
    if resume and checkpoint is None:
        raise ValueError("resume needs a checkpoint path")
    if checkpoint is None:
        return Run(config).train(checkpoint_every=checkpoint_every, progress=progress, blas_threads=blas_threads)
    check_writable(checkpoint)
    _check_checkpoint_path(checkpoint)
    checkpoint_every = _validate.integer("checkpoint_every", checkpoint_every, minimum=1)
    if resume and not os.path.exists(checkpoint):
        raise ValueError(f"cannot resume: no checkpoint at {os.fspath(checkpoint)!r}")
    with checkpoint_lock(checkpoint):  # held from the existence check (or the load) to the last save
        if resume:
            run = Run.load(checkpoint, config)
        else:
            if os.path.exists(checkpoint):
                raise ValueError(f"checkpoint {os.fspath(checkpoint)!r} already exists; resume it "
                                 "(resume=True / --resume) or choose another path")
            run = Run(config)
        return run._train(config.epochs, checkpoint, checkpoint_every, progress, blas_threads)


# ---- training runs as sweep tasks (floss_ref.runs.sweep) -------------------------------------

def train_result(params, run_class=None):
    """Train one :class:`TrainConfig` to the end: the sweep kind "train" (:mod:`floss_ref.runs.sweep`).

    params : dict
        Fields of TrainConfig, and optionally ``curve_every`` (see below).
    run_class : callable config -> Run, optional
        What runs the configuration (default :class:`Run`; the Sec. 7 controls pass
        :class:`floss_ref.experiments.controls.ControlRun`).
    returns dict of ndarray: ``summary/<name>`` for every entry of ``Run.summary()``, and
    ``history/<name>`` for every entry of ``Run.history``.  With ``curve_every = c`` the
    per-epoch entries (``loss``, ``accuracy``, ``grad_norm``, ``h0_grad_norm``) are
    stored as means over blocks of c epochs instead, ``curve/<name>`` of shape (E / c,)
    (the norms as means of log10), so that a result is small enough to commit.

    With ``on_divergence = "record"`` in params, a run stopped by the divergence bound
    or by an overflow (:class:`floss_ref.errors.TrainingDivergedError`) is a result, not an
    error: its history up to that epoch (NaN after; with ``curve_every``, the block holding
    that epoch is NaN), NaN test figures, ``summary/diverged_epoch`` (the epoch whose batch
    diverged) and ``summary/diverged_loss`` (inf or NaN after an overflow).  Runs that finish get
    ``diverged_epoch = -1`` and ``diverged_loss = NaN``.  Divergence is deterministic (same
    seed, same loss), so a retry would only repeat it.  The default, ``"raise"``, raises.
    """
    fields = dict(params)
    curve_every = fields.pop("curve_every", None)
    on_divergence = _validate.choice("on_divergence", fields.pop("on_divergence", "raise"), ON_DIVERGENCE)
    if "floss_at" in fields:
        fields["floss_at"] = tuple(fields["floss_at"])
    config = TrainConfig(**fields)
    if curve_every is not None:
        curve_every = _validate.integer("curve_every", curve_every, minimum=1)
        if config.epochs % curve_every:
            raise ValueError(f"curve_every ({curve_every}) must divide the epochs ({config.epochs})")
    run = (run_class or Run)(config)
    diverged = None
    try:
        run.train(blas_threads=1)
    except TrainingDivergedError as exc:
        if on_divergence == "raise":
            raise
        diverged = exc
    out = {"summary/" + name: np.asarray(v) for name, v in run.summary().items()}
    if on_divergence == "record":
        out["summary/diverged_epoch"] = np.asarray(-1 if diverged is None else diverged.epoch)
        out["summary/diverged_loss"] = np.asarray(np.nan if diverged is None else diverged.loss)
    for name, v in run.history.items():
        v = np.asarray(v)
        if curve_every is None or v.shape != (config.epochs,):
            out["history/" + name] = v
        elif name.endswith("norm"):
            out["curve/log10_" + name] = np.log10(v).reshape(-1, curve_every).mean(axis=1)
        else:
            out["curve/" + name] = v.reshape(-1, curve_every).mean(axis=1)
    return out


def sweep_tasks(configs, prefix="", curve_every=None, on_divergence=None):
    """Sweep tasks of kind "train" for TrainConfigs, named from task, delay, protocol, k, N
    and seed (``curve_every``, ``on_divergence``: see :func:`train_result`)."""
    from floss_ref.runs.sweep import SweepTask

    if on_divergence is not None:   # checked here, before it is written into a sweep's manifest
        _validate.choice("on_divergence", on_divergence, ON_DIVERGENCE)
    tasks = []
    for c in configs:
        name = f"{prefix}{c.task}_d{c.delay}_{c.protocol}_k{c.k if c.k is not None else 'def'}_N{c.N}_s{c.seed}"
        params = c.to_dict()
        if curve_every is not None:
            params["curve_every"] = curve_every
        if on_divergence is not None:
            params["on_divergence"] = on_divergence
        tasks.append(SweepTask(name, "train", params))
    return tasks


# ---- a training run whose flossing episodes are Sec. 7 control episodes --------------------

class ControlRun(Run):
    """A :class:`Run` whose flossing episodes (same schedule, same number of epochs E_f,
    same trajectory length and optimiser) minimise a Sec. 7 control objective
    (:mod:`floss_ref.experiments.controls`) instead of the flossing loss.
    ``history["floss_loss"]`` holds the control loss; ``history["floss_exponents"]`` stays
    NaN."""

    records_floss_exponents = False

    def __init__(self, config, objective):
        self.objective = _validate.choice("objective", objective, OBJECTIVES)
        super().__init__(config)

    def _floss_episode(self, e):
        i = self._floss_index[e]
        c = self.config
        self.history["floss_loss"][i] = regularize(
            self.model.cell, objective=self.objective, epochs=c.floss_epochs, T=c.floss_T,
            transient=c.floss_transient, inputs=c.floss_inputs, input_scale=self.task.input_scale,
            seed=_stream(c, _FLOSS, e), optimizer=self.floss_optimizer)


def control_result(params):
    """The sweep kind "control": :func:`train_result` with the flossing episodes replaced
    by ``params["objective"]`` (:class:`ControlRun`)."""
    fields = dict(params)
    objective = fields.pop("objective")
    return train_result(fields, run_class=lambda config: ControlRun(config, objective))
