"""App. D: the overlap of dL/dh with the first covariant Lyapunov vector over training.

Paper (App. D): "We note that when measuring the overlap of the orientation of the
gradient vector dL/dh_0 with the first covariant Lyapunov vector of the forward dynamics,
we found a significant increase in overlap around the training epoch where the accuracy
surpasses the chance level both in networks with and without gradient flossing."

Measured here as fixed before the run (validation/CRITERIA.md, row "App. D, overlap of
dL/dh_0 with the first covariant vector over training"), at the quick size only: binary
temporal XOR d = 20, lags (d/2, d), N = 32, T = 100, B = 16, 3000 epochs, our settings
(TrainConfig defaults), protocols none and during (E_f = 300 on k = 32 before epochs 0,
100, ..., 400: the fields of clv_flossing.py's DEMO configuration and of
fig4_xor_protocols.py's quick scale, with d = 20 and 3000 epochs; the Lyapunov diagnostics
at the first and last epoch as fig4's quick scale, diag_every = epochs), seeds 0, 1, 2.

Every ``--every`` (20) epochs, and at epoch 0 before any training (and before the first
flossing episode), on 64 test sequences of 200 steps drawn once per network from
``default_rng(99)``: |cos| between dL/dh_(t0), the gradient of the task loss of the 100 steps
after t0 = 100 by BPTT from the state at t0, and the first covariant vector v_1 at t0
(``covariant_vectors``, k = 3, 100 forward and 99 backward transient steps, seed 0), as
clv_flossing.py's part B computes it (:func:`overlap`; tests/test_appD_clv_overlap.py checks
that the two agree); its median over the 64 sequences, and the same for 64 random directions
drawn once per network from ``default_rng(5)`` (the baseline).  "Measurement at epoch e" is
the network after e training epochs, the one whose accuracy ``Run.history["accuracy"][e]``
records.  Measuring draws from none of the run's random streams: the trained network is bit
for bit that of an unmeasured run of the same configuration (tested).

Per network: t_acc, the start (in epochs) of the first 10-epoch block whose mean training
accuracy is > 0.55; the overlap rises if the median of its measurements at epochs in
[t_acc, t_acc + 200) is at least twice that over [t_acc - 200, t_acc).  A window cut short
(t_acc < 200, or t_acc + 200 beyond the last epoch) uses the measurements it has; with fewer
than 3 finite ones the network is "not measurable" and counted as not rising.  Grade
(:func:`grade`): a protocol holds if at least 2 of its networks leave chance and the overlap
rises in at least two thirds of those that leave chance (3 * rising >= 2 * left: 2 of 3, or 2
of 2); reproduced if both protocols hold, partly if one does, not reproduced if neither does.
The grade is an observation: the script exits 0 whatever it is.

``--score-from`` (added after the first measurement, a reviewer's point): which steps of the
tail the loss L scores.  ``t0`` (the default, the measurement above, bit for bit as before):
all ``tail`` steps after t0, whose targets depend on inputs held in h_(t0).  ``t0+d``: the
first d tail steps (d = the task's first scored step, ``Task.first_scored``: the delay d at
the lags (d/2, d) used here) are masked as the task masks the first d steps of a sequence,
so that L scores only steps from t0 + d on and dL/dh_(t0) carries no task memory of inputs
before t0, closer to the paper's dL/dh_0 (h_0 holds no input; a task's first d steps are
not scored).  The setting enters the sweep task's params and name (``_from-t0d``), so results
of the two settings never mix; the default's params and names are those of before.

A second grade, "peak", written after the first (t0) measurement's figure was seen (that
figure showed the no-flossing networks' overlap peaking within about 50 epochs of t_acc,
a peak the before/after windows split), and printed after the first grade, which is
unchanged: per network that leaves chance, peak = the highest overlap median among the
measurements at epochs within +-50 of t_acc (|e - t_acc| <= 50; none finite: "not
measurable"); the peak counts if it is >= 2 x the network's median overlap over all its
measurements and >= 1.5 x the median of its random-direction overlaps over all its
measurements (:func:`peak`).  A protocol holds if at least 2 networks leave chance and the
peak counts in at least two thirds of those; reproduced / partly / not reproduced as for the
first grade (:func:`grade` with ``hit="peaks"``).

    python validation/paper/appD_clv_overlap.py --quick
    python validation/paper/appD_clv_overlap.py --quick --jobs 2 --results validation/results/appD_clv_overlap/quick
    python validation/paper/appD_clv_overlap.py --quick --jobs 2 --score-from t0+d --results validation/results/appD_clv_overlap/quick_from-t0d

One sweep task per (protocol, seed), of kind ``appD_clv_overlap:network_result`` (this
module's :func:`network_result`, imported by the sweep's workers), resumable: a network whose
result file exists is not run again.  Network files go to ``--results`` (default
validation/out/appD_clv_overlap/results_quick); the table, CSV and figure to ``--out``
(default: the ``--results`` directory if given, else validation/out/appD_clv_overlap/):
appD_clv_overlap_quick.txt (the printed output, first line the provenance),
appD_clv_overlap_quick.csv (one row per network) and appD_clv_overlap_quick.png.
"""

import argparse
import json
import os
import sys
import time

import numpy as np

FOLDER = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [FOLDER, os.path.dirname(FOLDER)]  # this folder's scripts, and validation/ (_common)
import _common  # noqa: E402

from floss_ref.core.clv import covariant_vectors  # noqa: E402
from floss_ref.errors import NumericalBreakdownError  # noqa: E402
from floss_ref.experiments.bptt import Model, loss_and_grad  # noqa: E402
from floss_ref.experiments.tasks import TaskBatch  # noqa: E402
from floss_ref._threads import limit_blas  # noqa: E402
from floss_ref.runs.run import Run, TrainConfig  # noqa: E402
from floss_ref.runs.sweep import SweepTask  # noqa: E402

NAME = "appD_clv_overlap"
KIND = f"{NAME}:network_result"          # the sweep kind: this module's network_result
PROTOCOLS = ("none", "during")
SCALE = {
    # clv_flossing.py's DEMO / fig4_xor_protocols.py's quick fields, with d = 20 and 3000 epochs
    "quick": dict(base=dict(task="binary_xor", N=32, T=100, batch=16, epochs=3000, k=32, floss_epochs=300,
                            floss_at=(0, 100, 200, 300, 400), diag_every=3000),
                  seeds=3,
                  # the measurement: sequences of t0 + tail steps, CLV transients t0 forward, tail - 1 backward
                  measure=dict(t0=100, tail=100, sequences=64, k_clv=3)),
}
DEFAULT_DELAY, DEFAULT_EVERY = 20, 20
# fixed random sources of the measurement (clv_flossing.py's part B): none is a stream of the Run
SEQUENCE_SEED, RANDOM_SEED, CLV_SEED = 99, 5, 0
# the criterion
BLOCK = 10            # epochs per accuracy block
CHANCE = 0.55         # a block's mean accuracy above this has left chance
WINDOW = 200          # epochs before and after t_acc
RISE = 2.0            # rises: median after >= RISE * median before
MIN_MEASUREMENTS = 3  # finite measurements a window needs, else "not measurable"
MAX_EVERY = WINDOW // MIN_MEASUREMENTS  # 66: a full 200-epoch window then holds at least 3 measurements
# the loss of the tail: from t0 (all tail steps scored) or from t0 + d (its first d steps unscored)
SCORE_FROM = ("t0", "t0+d")
# the second grade, "peak" (written after the first (t0) measurement's figure was seen)
PEAK_HALF_WIDTH = 50     # the peak: highest measurement at epochs within +-50 of t_acc
PEAK_OVER_MEDIAN = 2.0   # counts: peak >= 2 x the network's median overlap over all measurements
PEAK_OVER_RANDOM = 1.5   # and peak >= 1.5 x the median of its random-direction overlaps


# ---- the measurement --------------------------------------------------------------------

def fixed_sequences(task, measure):
    """The fixed test batch of a network: ``sequences`` sequences of t0 + tail steps."""
    return task.sample(measure["t0"] + measure["tail"], measure["sequences"], np.random.default_rng(SEQUENCE_SEED))


def random_directions(measure, n):
    """The fixed random directions of the baseline, one per test sequence."""
    return np.random.default_rng(RANDOM_SEED).standard_normal((measure["sequences"], n))


def tail_problem(model, batch, measure, unscored=0):
    """The loss problem of the tail: (the model started from h_(t0) of each sequence, the
    batch of the steps t0, t0 + 1, ...).  The tail's mask is the task's (``batch.mask[t0:]``)
    with its first ``unscored`` steps set to False (``--score-from t0+d``: unscored = d), the
    way the task leaves a sequence's first d steps unscored; unscored = 0 leaves it as is."""
    t0 = measure["t0"]
    if model.h0.ndim != 1:
        raise ValueError("the measurement needs one initial state shared by the batch (h0_mode 'shared')")
    hs, _ = model.cell.run(model.h0, batch.xs[:t0])
    h_t0 = hs[t0 - 1]                                                  # the state at t0 of each sequence
    mask = batch.mask[t0:]
    if unscored:
        if not 0 < unscored < mask.size:
            raise ValueError(f"unscored tail steps must be in [0, tail = {mask.size}), got {unscored}")
        mask = mask.copy()
        mask[:unscored] = False
    tail_batch = TaskBatch(xs=batch.xs[t0:], ys=batch.ys[t0:], mask=mask)
    shifted = Model(model.cell, model.w_out, model.offset, h_t0)       # one initial state per sequence
    return shifted, tail_batch


def unscored_steps(task, score_from):
    """Tail steps left unscored by ``--score-from``: 0 for "t0", the task's first scored step
    (d at the lags (d/2, d)) for "t0+d"."""
    if score_from not in SCORE_FROM:
        raise ValueError(f"score_from must be one of {SCORE_FROM}, got {score_from!r}")
    return task.first_scored if score_from == "t0+d" else 0


def overlap(model, loss, batch, random, measure, unscored=0):
    """|cos| of dL/dh_(t0) with v_1(t0) per test sequence, and of ``random`` with v_1(t0);
    plus the growth rate of v_1 (per step) per sequence.  As clv_flossing.py's part B.
    L scores the tail steps from t0 + ``unscored`` on (:func:`tail_problem`).

    Returns (cos_grad (S,), cos_random (S,), rate_1 (S,)).
    """
    t0, tail = measure["t0"], measure["tail"]
    S = batch.xs.shape[1]
    shifted, tail_batch = tail_problem(model, batch, measure, unscored)
    grad = loss_and_grad(shifted, tail_batch, loss).grads["h0"]        # dL/dh_(t0), (S, n)
    clv = covariant_vectors(model.cell, np.broadcast_to(model.h0, (S, model.h0.shape[-1])), batch.xs,
                            k=measure["k_clv"], times=[t0], transient=t0, transient_backward=tail - 1,
                            seed=CLV_SEED)
    v1 = clv.vectors[0, :, :, 0]                                       # unit columns
    with np.errstate(invalid="ignore", divide="ignore"):
        cos = np.abs(np.sum(grad * v1, axis=-1)) / np.linalg.norm(grad, axis=-1)
    cos_random = np.abs(np.sum(random * v1, axis=-1)) / np.linalg.norm(random, axis=-1)
    return cos, cos_random, clv.rates[:, 0]


def measured_run(config, every, measure, score_from="t0"):
    """Train ``config`` to the end, measuring the overlap at epochs 0, every, 2 every, ...
    (and after the last epoch if it is one of them), the loss scored from ``score_from``
    ("t0" or "t0+d").  Returns (run, measurements dict)."""
    run = Run(config)
    unscored = unscored_steps(run.task, score_from)
    batch = fixed_sequences(run.task, measure)
    random = random_directions(measure, run.model.cell.state_size)
    epochs = np.arange(0, config.epochs + 1, every)
    M = epochs.size
    out = {"epochs": epochs, "overlap": np.full(M, np.nan), "overlap_q25": np.full(M, np.nan),
           "overlap_q75": np.full(M, np.nan), "overlap_random": np.full(M, np.nan),
           "rate_v1": np.full(M, np.nan)}
    train_s = measure_s = 0.0
    for i, e in enumerate(epochs):
        t = time.perf_counter()
        run.train(until=int(e), blas_threads=None)
        u = time.perf_counter()
        train_s += u - t
        try:
            cos, cos_random, rate = overlap(run.model, run.task.loss, batch, random, measure, unscored)
        except NumericalBreakdownError:
            pass                                                        # left NaN: not a finite measurement
        else:
            if np.any(np.isfinite(cos)):
                out["overlap"][i] = np.nanmedian(cos)
                out["overlap_q25"][i], out["overlap_q75"][i] = np.nanpercentile(cos, [25, 75])
            out["overlap_random"][i] = np.median(cos_random)
            out["rate_v1"][i] = np.median(rate)
        measure_s += time.perf_counter() - u
    t = time.perf_counter()
    run.train(blas_threads=None)                                        # epochs after the last measurement
    train_s += time.perf_counter() - t
    out["seconds_train"], out["seconds_measure"] = train_s, measure_s
    return run, out


def network_result(params):
    """One network, the sweep kind ``appD_clv_overlap:network_result``.

    params : TrainConfig fields plus ``every`` and ``measure`` (t0, tail, sequences, k_clv),
        and ``score_from`` ("t0+d"; absent: "t0", the measurement's params before the option).
    Returns the measurements (``epochs``, ``overlap`` medians with ``overlap_q25`` /
    ``overlap_q75``, ``overlap_random`` medians, ``rate_v1``), the training curves as
    10-epoch means (``accuracy_blocks``, ``log10_h0_grad_norm_blocks``), ``test_accuracy``,
    ``seconds`` (``seconds_train``, ``seconds_measure``) and the settings as JSON
    (``config``: the TrainConfig; ``measurement``: every and measure, and with "t0+d" the
    score_from and the unscored tail steps).
    """
    start = time.perf_counter()
    fields = dict(params)
    every = fields.pop("every")
    measure = fields.pop("measure")
    score_from = fields.pop("score_from", "t0")
    fields["floss_at"] = tuple(fields["floss_at"])
    config = TrainConfig(**fields)
    if config.epochs % BLOCK:
        raise ValueError(f"epochs ({config.epochs}) must be a multiple of the {BLOCK}-epoch accuracy blocks")
    with limit_blas(1):
        run, out = measured_run(config, every, measure, score_from)
    h = run.history
    out["accuracy_blocks"] = h["accuracy"].reshape(-1, BLOCK).mean(axis=1)
    out["log10_h0_grad_norm_blocks"] = np.log10(h["h0_grad_norm"]).reshape(-1, BLOCK).mean(axis=1)
    out["test_accuracy"] = float(h["test_accuracy"])
    out["config"] = json.dumps(config.to_dict(), sort_keys=True)
    measurement = dict(every=every, measure=measure, block=BLOCK, sequence_seed=SEQUENCE_SEED,
                       random_seed=RANDOM_SEED, clv_seed=CLV_SEED)
    if score_from != "t0":   # the default's record as before the option
        measurement.update(score_from=score_from, unscored_tail_steps=unscored_steps(run.task, score_from))
    out["measurement"] = json.dumps(measurement, sort_keys=True)
    out["seconds"] = time.perf_counter() - start
    return {key: np.asarray(v) for key, v in out.items()}


# ---- the criterion ----------------------------------------------------------------------

def t_acc(accuracy_blocks, block=BLOCK, margin=CHANCE):
    """Start (epochs) of the first block whose mean accuracy is > margin; None if none."""
    idx = np.flatnonzero(np.asarray(accuracy_blocks, dtype=float) > margin)
    return int(idx[0]) * block if idx.size else None


def windows(epochs, values, t):
    """The finite values measured at epochs in [t - WINDOW, t) and in [t, t + WINDOW)."""
    epochs, values = np.asarray(epochs), np.asarray(values, dtype=float)
    ok = np.isfinite(values)
    before = values[ok & (epochs >= t - WINDOW) & (epochs < t)]
    after = values[ok & (epochs >= t) & (epochs < t + WINDOW)]
    return before, after


def rise(epochs, overlap_medians, t):
    """The criterion for one network whose accuracy leaves chance at ``t`` (None: never).

    Returns a dict: ``status`` ("rises", "no rise", "not measurable" (a window with fewer
    than MIN_MEASUREMENTS finite measurements) or "never left chance"), ``rises`` (bool),
    ``before`` / ``after`` (medians of the windows, NaN if empty), ``ratio`` (after /
    before) and ``n_before`` / ``n_after`` (measurements used).
    """
    if t is None:
        return dict(status="never left chance", rises=False, before=np.nan, after=np.nan, ratio=np.nan,
                    n_before=0, n_after=0)
    b, a = windows(epochs, overlap_medians, t)
    before = float(np.median(b)) if b.size else np.nan
    after = float(np.median(a)) if a.size else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = after / before if b.size and a.size else np.nan
    if b.size < MIN_MEASUREMENTS or a.size < MIN_MEASUREMENTS:
        status = "not measurable"
    else:
        status = "rises" if after >= RISE * before else "no rise"
    return dict(status=status, rises=status == "rises", before=before, after=after, ratio=float(ratio),
                n_before=int(b.size), n_after=int(a.size))


def peak(epochs, overlap_medians, random_medians, t):
    """The second grade ("peak", written after the first (t0) measurement's figure was
    seen) for one network whose accuracy leaves chance at ``t`` (None: never).

    peak: the highest finite overlap median among the measurements at epochs e with
    |e - t| <= PEAK_HALF_WIDTH; it counts if peak >= PEAK_OVER_MEDIAN x the median of the
    network's finite overlap medians over all its measurements and peak >= PEAK_OVER_RANDOM
    x the median of its finite random-direction medians over all its measurements.

    Returns a dict: ``status`` ("peaks", "no peak", "not measurable" (no finite measurement
    within the window) or "never left chance"), ``counts`` (bool), ``peak``, ``peak_epoch``,
    ``median`` / ``random_median`` (over all measurements), ``ratio_median`` (peak /
    median), ``ratio_random`` (peak / random_median) and ``n`` (measurements in the window).
    """
    epochs = np.asarray(epochs)
    values, rand = np.asarray(overlap_medians, dtype=float), np.asarray(random_medians, dtype=float)
    finite, finite_rand = values[np.isfinite(values)], rand[np.isfinite(rand)]
    median = float(np.median(finite)) if finite.size else np.nan
    random_median = float(np.median(finite_rand)) if finite_rand.size else np.nan
    out = dict(status="never left chance", counts=False, peak=np.nan, peak_epoch=None, median=median,
               random_median=random_median, ratio_median=np.nan, ratio_random=np.nan, n=0)
    if t is None:
        return out
    near = np.isfinite(values) & (np.abs(epochs - t) <= PEAK_HALF_WIDTH)
    out["n"] = int(np.count_nonzero(near))
    if not out["n"]:
        out["status"] = "not measurable"
        return out
    i = np.flatnonzero(near)[np.argmax(values[near])]
    p = float(values[i])
    with np.errstate(divide="ignore", invalid="ignore"):
        out.update(peak=p, peak_epoch=int(epochs[i]), ratio_median=float(np.float64(p) / median),
                   ratio_random=float(np.float64(p) / random_median))
    counts = bool(p >= PEAK_OVER_MEDIAN * median and p >= PEAK_OVER_RANDOM * random_median)
    out.update(status="peaks" if counts else "no peak", counts=counts)
    return out


def protocol_holds(statuses, hit="rises"):
    """(holds, left, rising) for the statuses (of :func:`rise`, or of :func:`peak` with
    ``hit="peaks"``) of one protocol's networks: at least 2 leave chance and the overlap
    rises (peaks) in at least two thirds of those (3 * rising >= 2 * left); "not measurable"
    counts as leaving chance and not rising."""
    left = sum(1 for s in statuses if s != "never left chance")
    rising = sum(1 for s in statuses if s == hit)
    return left >= 2 and 3 * rising >= 2 * left, left, rising


def grade(networks, hit="rises"):
    """The criterion's grade over ``networks``, pairs (protocol, status of :func:`rise`; of
    :func:`peak` with ``hit="peaks"``, the second grade).

    Returns (per protocol {protocol: (holds, left, rising, networks)}, grade): "reproduced"
    if every protocol of PROTOCOLS holds, "partly" if one does, "not reproduced" otherwise
    (a protocol without networks does not hold)."""
    per = {}
    for protocol in PROTOCOLS:
        statuses = [s for p, s in networks if p == protocol]
        holds, left, rising = protocol_holds(statuses, hit)
        per[protocol] = (holds, left, rising, len(statuses))
    held = sum(1 for v in per.values() if v[0])
    verdict = "reproduced" if held == len(PROTOCOLS) else "partly" if held else "not reproduced"
    return per, verdict


# ---- the sweep and the report -------------------------------------------------------------

def tasks_for(seeds, delay, every, score_from="t0"):
    """(protocol, seed, SweepTask) for every network; the name carries delay, every and
    (for "t0+d", suffix ``_from-t0d``) score_from, so that other settings never clash in one
    results directory.  score_from "t0+d" also enters the params; "t0" leaves params and
    name as they were before the option (the committed results resume)."""
    if score_from not in SCORE_FROM:
        raise ValueError(f"score_from must be one of {SCORE_FROM}, got {score_from!r}")
    s = SCALE["quick"]
    out = []
    for protocol in PROTOCOLS:
        for seed in range(seeds):
            config = TrainConfig(protocol=protocol, seed=seed, delay=delay, **s["base"])
            params = dict(config.to_dict(), every=every, measure=dict(s["measure"]))
            name = f"binary_xor_d{delay}_{protocol}_N{config.N}_s{seed}_every{every}"
            if score_from != "t0":
                params["score_from"] = score_from
                name += "_from-t0d"
            out.append((protocol, seed, SweepTask(name, KIND, params)))
    return out


def every_type(text):
    """argparse type of --every: an integer in [1, MAX_EVERY]."""
    value = _common.int_at_least(1)(text)
    if value > MAX_EVERY:
        raise argparse.ArgumentTypeError(f"must be <= {MAX_EVERY}, so that a {WINDOW}-epoch window holds at least "
                                         f"{MIN_MEASUREMENTS} measurements; got {value}")
    return value


def parse_args(argv):
    p = argparse.ArgumentParser(prog=NAME, description=__doc__.split("\n\n")[0],
                                epilog="Only the quick size is implemented (--quick, the default); there is no "
                                       "paper scale.")
    p.add_argument("--quick", action="store_true",
                   help="the quick size (binary XOR, N = 32, T = 100, 3000 epochs): the only one; paper scale "
                        "not implemented")
    p.add_argument("--paper", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--seeds", type=_common.int_at_least(1, 100), default=SCALE["quick"]["seeds"],
                   help="number of seeds, 0 .. n-1 (default 3, the criterion's)")
    p.add_argument("--delay", type=_common.int_at_least(2), default=DEFAULT_DELAY,
                   help="delay d of the binary XOR, even, < T = 100 (default 20, the criterion's)")
    p.add_argument("--every", type=every_type, default=DEFAULT_EVERY,
                   help=f"epochs between measurements (default 20, the criterion's; at most {MAX_EVERY}, so that a "
                        f"{WINDOW}-epoch window can hold {MIN_MEASUREMENTS} measurements)")
    p.add_argument("--score-from", choices=SCORE_FROM, default="t0",
                   help="steps of the tail scored by the loss L of dL/dh_t0: t0 (default, the criterion's: all "
                        "tail steps) or t0+d (the first d tail steps unscored, as the task leaves a sequence's "
                        "first d steps unscored: dL/dh_t0 then holds no task memory of inputs before t0)")
    p.add_argument("--jobs", type=_common.int_at_least(0), default=1,
                   help="worker processes of the sweep (default 1; 0: in this process)")
    p.add_argument("--out", default=None,
                   help="directory of the table, CSV and figure (default: --results if given, else "
                        "validation/out/appD_clv_overlap)")
    p.add_argument("--results", default=None,
                   help="directory of the per-network result files (default validation/out/appD_clv_overlap/"
                        "results_quick; committed: validation/results/appD_clv_overlap/quick)")
    args = p.parse_args(argv)
    if args.paper:
        p.error("--paper: paper scale not implemented (the criterion is fixed at the quick size)")
    try:
        TrainConfig(protocol="none", delay=args.delay, **SCALE["quick"]["base"])
    except ValueError as exc:
        p.error(f"--delay {args.delay}: {exc}")
    if args.delay >= SCALE["quick"]["measure"]["t0"]:
        p.error(f"--delay {args.delay}: must be smaller than t0 = {SCALE['quick']['measure']['t0']}")
    args.scale, args.scheduler = "quick", None
    return args


def main(argv=None):
    args = parse_args(argv)
    out = args.out or args.results or os.path.join(_common.HERE, "out", NAME)
    args.results = args.results or os.path.join(_common.HERE, "out", NAME, "results_quick")
    os.makedirs(out, exist_ok=True)
    with _common.Tee(os.path.join(out, f"{NAME}_quick.txt"), f"validation/paper/{NAME}.py", argv):
        return _main(args, out)


def _main(args, out):
    start = time.perf_counter()
    nets = tasks_for(args.seeds, args.delay, args.every, args.score_from)
    results = _common.sweep(args, NAME, [t for _, _, t in nets], {}, results=args.results)
    m = SCALE["quick"]["measure"]
    base = SCALE["quick"]["base"]
    print(f"App. D overlap: binary XOR d = {args.delay}, N = {base['N']}, T = {base['T']}, {base['epochs']} epochs; "
          f"every {args.every} epochs the median over {m['sequences']} fixed test sequences of "
          f"|cos(dL/dh_t0, v_1(t0))|, t0 = {m['t0']}, {loss_words(args.score_from, args.delay, m)}; "
          f"t_acc: first {BLOCK}-epoch block with mean accuracy > {CHANCE}; rises: median over "
          f"[t_acc, t_acc + {WINDOW}) >= {RISE:g} x that over [t_acc - {WINDOW}, t_acc) "
          f"(>= {MIN_MEASUREMENTS} measurements each); second grade, peak (written after the first (t0) "
          f"measurement's figure was seen): highest measurement within +-{PEAK_HALF_WIDTH} epochs of t_acc, "
          f"counts if >= {PEAK_OVER_MEDIAN:g} x the network's median over all measurements and >= "
          f"{PEAK_OVER_RANDOM:g} x its random directions' median over all measurements")
    rows, drawn, statuses, peak_statuses = [], [], [], []
    print(f"{'protocol':>8} {'seed':>4} {'test acc':>8} {'t_acc':>6} {'n_bef':>5} {'n_aft':>5} {'before':>8} "
          f"{'after':>8} {'ratio':>7} {'rand bef':>8} {'rand aft':>8} {'seconds':>7}  {'rises':<21}  "
          f"{'peak':>7} {'pk/med':>6} {'pk/rand':>7}  peak counts")
    for protocol, seed, task in nets:
        r = results[task.name]
        t = t_acc(r["accuracy_blocks"])
        v = rise(r["epochs"], r["overlap"], t)
        pk = peak(r["epochs"], r["overlap"], r["overlap_random"], t)
        peak_statuses.append((protocol, pk["status"]))
        peak_label = {"peaks": "yes", "no peak": "no", "not measurable": "no (not measurable)",
                      "never left chance": "-"}[pk["status"]]
        rb, ra = windows(r["epochs"], r["overlap_random"], t) if t is not None else (np.array([]), np.array([]))
        rand_before = float(np.median(rb)) if rb.size else np.nan
        rand_after = float(np.median(ra)) if ra.size else np.nan
        seconds = float(r["seconds"])
        statuses.append((protocol, v["status"]))
        label = {"rises": "yes", "no rise": "no", "not measurable": "no (not measurable)",
                 "never left chance": "- (never left chance)"}[v["status"]]
        print(f"{protocol:>8} {seed:4d} {float(r['test_accuracy']):8.3f} {'-' if t is None else t:>6} "
              f"{v['n_before']:5d} {v['n_after']:5d} {v['before']:8.4f} {v['after']:8.4f} {v['ratio']:7.2f} "
              f"{rand_before:8.4f} {rand_after:8.4f} {seconds:7.0f}  {label:<21}  "
              f"{pk['peak']:7.4f} {pk['ratio_median']:6.2f} {pk['ratio_random']:7.2f}  {peak_label}")
        rows.append([protocol, seed, float(r["test_accuracy"]), "" if t is None else t, v["n_before"], v["n_after"],
                     v["before"], v["after"], v["ratio"], rand_before, rand_after, v["status"], seconds,
                     float(r["seconds_train"]), float(r["seconds_measure"]),
                     pk["peak"], "" if pk["peak_epoch"] is None else pk["peak_epoch"], pk["median"],
                     pk["random_median"], pk["ratio_median"], pk["ratio_random"], pk["status"]])
        drawn.append((protocol, seed, t, r))
    per, verdict = grade(statuses)
    for protocol, (holds, left, rising, n) in per.items():
        print(f"{protocol}: {left} of {n} networks leave chance; the overlap rises in {rising} of them (needs at "
              f"least 2 leaving chance and rising in at least two thirds of those): "
              f"{'holds' if holds else 'does not hold'}")
    if args.seeds != SCALE["quick"]["seeds"] or args.delay != DEFAULT_DELAY or args.every != DEFAULT_EVERY:
        print(f"note: the criterion was fixed for seeds 0-2, d = {DEFAULT_DELAY}, every {DEFAULT_EVERY} epochs; this "
              f"run has {args.seeds} seed(s), d = {args.delay}, every {args.every}: graded by the same rule")
    if args.score_from != "t0":
        print(f"note: the criterion was fixed for the loss of all {m['tail']} tail steps (--score-from t0); this run "
              f"scores from t0 + d (--score-from {args.score_from}): graded by the same rules")
    print(f"verdict (App. D overlap criterion): {verdict}")
    peak_per, peak_verdict = grade(peak_statuses, hit="peaks")
    print(f"second grade, peak (written after the first (t0) measurement's figure was seen; loss "
          f"{'from t0' if args.score_from == 't0' else 'from t0 + d'}):")
    for protocol, (holds, left, counting, n) in peak_per.items():
        print(f"{protocol}: {left} of {n} networks leave chance; the peak within +-{PEAK_HALF_WIDTH} epochs of t_acc "
              f"counts (>= {PEAK_OVER_MEDIAN:g} x median, >= {PEAK_OVER_RANDOM:g} x random) in {counting} of them "
              f"(needs at least 2 leaving chance and counting in at least two thirds of those): "
              f"{'holds' if holds else 'does not hold'}")
    print(f"second grade (peak, written after the first (t0) measurement's figure was seen): {peak_verdict}")
    _common.write_csv(os.path.join(out, f"{NAME}_quick.csv"),
                      ["protocol", "seed", "test_accuracy", "t_acc", "n_before", "n_after", "overlap_before",
                       "overlap_after", "ratio", "random_before", "random_after", "status", "seconds",
                       "seconds_train", "seconds_measure",
                       "peak", "peak_epoch", "overlap_median_all", "random_median_all", "peak_over_median",
                       "peak_over_random", "peak_status"], rows)
    plot(drawn, args, os.path.join(out, f"{NAME}_quick.png"))
    print(f"{time.perf_counter() - start:.0f} s")
    return 0


def loss_words(score_from, delay, measure):
    """Which loss L the measurement uses, in words (the header and the figure's title)."""
    tail = measure["tail"]
    if score_from == "t0":
        return f"L: loss of the {tail} steps after t0 (--score-from t0)"
    return (f"L: loss of the tail steps from t0 + d on (--score-from t0+d: the first d = {delay} of the {tail} "
            f"steps after t0 unscored, as the task leaves a sequence's first d steps unscored)")


def plot(drawn, args, path):
    fig, axes = _common.figure(len(PROTOCOLS), size=(5.0, 3.6))
    for ax, protocol in zip(axes[0], PROTOCOLS):
        color = _common.COLORS[protocol]
        nets = [(seed, t, r) for p, seed, t, r in drawn if p == protocol]
        left = [(seed, t, r) for seed, t, r in nets if t is not None]
        ax.axvspan(-WINDOW, 0, color="0.9", lw=0)
        ax.axvspan(0, WINDOW, color="0.8", lw=0)
        ax.axvline(0, color="k", lw=0.6)
        for i, (seed, t, r) in enumerate(left):
            x = np.asarray(r["epochs"]) - t
            ax.plot(x, r["overlap"], color=color, alpha=0.6, lw=0.9, label="dL/dh_t0" if i == 0 else None)
            ax.plot(x, r["overlap_random"], color=color, alpha=0.6, lw=0.8, ls=":",
                    label="random direction" if i == 0 else None)
            ax.annotate(f"s{seed}", (x[-1], r["overlap"][-1]), fontsize=6, color=color)
        ax.set(xlabel="epoch - t_acc", ylabel="median |cos(., v_1(t0))|",
               title=f"{protocol}: {len(left)} of {len(nets)} networks left chance")
        if left:
            ax.legend(fontsize=7, loc="upper left")
    m = SCALE["quick"]["measure"]
    scored = (f"L of the {m['tail']} steps after t0" if args.score_from == "t0"
              else f"L of the tail from t0 + d (first d = {args.delay} steps unscored)")
    fig.suptitle(f"binary XOR d = {args.delay}: median over {m['sequences']} test sequences of |cos| between dL/dh_t0 "
                 f"({scored}) and the first covariant vector,\nevery {args.every} epochs, aligned to t_acc (grey: "
                 f"the {WINDOW}-epoch windows before and after)", fontsize=8)
    _common.save(fig, path)


if __name__ == "__main__":
    sys.exit(main())
