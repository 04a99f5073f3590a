"""Property-based tests of the promise of docs/safety.md: any argument of any public
function, however hostile, either gives finite results or is refused with a documented
exception, and a refusal names the argument.

Each case hands one argument a value drawn from a strategy of hostile values (wrong kinds:
text, complex, None, bool, lists, ragged lists, 0-d and object arrays; wrong shapes;
NaN, infinities, -0.0, 1e308 and the smallest subnormal; sizes 0, negative, 10**12 and
2**63; floats where an int is required; NumPy integer types, which must be accepted) and
keeps every other argument valid and small.  The call must then either

* return, with every number it returns finite (:func:`finite_numbers`; the fields that
  are NaN by design, such as a standard error from too few blocks, are listed in
  ``NAN_BY_DESIGN``) and no warning other than floss_ref's own documented ones, or
* raise ValueError or TypeError whose message names the argument (as a word), or
* raise NumericalBreakdownError whose message names where it broke down (the step, for
  the loops).

Anything else fails the test: MemoryError, IndexError, a numpy error that names no
argument, a silent inf.  The command line is held to its own promise: a bad option exits
with code 2 and one line on stderr, never a traceback.

The examples are drawn by the hypothesis profile "ci" of tests/conftest.py (deterministic,
a fixed number per case); ``test_..._thorough``, marked slow, draws many more.
"""

import dataclasses
import math
import numbers
import re
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from cli_runner import run_main
from floss_ref import (GRU, LSTM, Adam, ConditioningWarning, ConvergenceWarning, FunctionMap, LinearMap,
                       NumericalBreakdownError, QRFallbackWarning, ShortBlocksWarning, VanillaRNN, covariant_vectors,
                       entropy_bound, finite_time_exponents, floss, flossing_grad, flossing_loss, flossing_loss_jvp,
                       kaplan_yorke_dimension, lyapunov_spectrum, random_orthonormal)
from floss_ref.core.precision import bits_needed, eq10_log_kappa, guard_bits, long_term_jacobian_svd, resolvable_horizon
from floss_ref.core.qr import METHODS as QR_METHODS, householder_qr, qr, qr_jvp, qr_vjp
from floss_ref.core.cells import CELLS, get_cell
from floss_ref.core.cells.lstm import GAINS as LSTM_GAINS
from floss_ref.core.cells.vanilla import INITS, NONLINEARITIES
from floss_ref.experiments.config import PROTOCOLS, SETTING_CHOICES, TrainConfig
from floss_ref.experiments.tasks import FLOSSING_INPUTS, INPUT_SCALES, LAGS, TASK_INPUTS, TASKS, Task

NAN, INF = math.nan, math.inf
DOCUMENTED_WARNINGS = (ConditioningWarning, ConvergenceWarning, ShortBlocksWarning, QRFallbackWarning)
# fields that are NaN by design (their docstrings say when): a standard error or an
# autocorrelation from fewer than 16 blocks, R_11 / R_kk when it is not tracked
NAN_BY_DESIGN = {"stderr", "lag1_autocorr", "max_cond"}

# ---- hostile values ------------------------------------------------------------------------

SPECIAL_FLOATS = (NAN, INF, -INF, -0.0, 0.0, 1e308, -1e308, 5e-324, -5e-324, np.finfo(np.float64).max)
HUGE_INTS = (10 ** 12, -10 ** 12, 2 ** 63, 10 ** 30)
NUMPY_INTS = (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint32, np.uint64)
NOT_NUMBERS = ("", "3", "k", b"2", None, True, False, 1 + 2j, 2 + 0j, [], [1.0], [[1.0, 2.0], [3.0]], {"a": 1},
               object(), np.array("x"), np.array([None, 1.0], dtype=object), np.array([1 + 1j]),
               np.array([True, False]), np.array(["2"]), np.array(3), np.array(2.5))


def junk():
    """Values of the wrong kind for any numeric argument."""
    return st.one_of(st.sampled_from(NOT_NUMBERS), st.builds(np.array, st.floats()), st.text(max_size=4))


def numpy_ints(low=0, high=12):
    """NumPy integers of every width, with values in [low, high] that the width holds."""
    return st.sampled_from(NUMPY_INTS).flatmap(
        lambda kind: st.integers(max(low, int(np.iinfo(kind).min)), min(high, int(np.iinfo(kind).max))).map(kind))


def ints(low=-3, high=12):
    """An integer argument: small ints (valid or not), NumPy integers, huge ints, floats, junk."""
    return st.one_of(st.integers(low, high), numpy_ints(max(low, 0), high), st.sampled_from(HUGE_INTS),
                     st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(SPECIAL_FLOATS), junk())


def reals():
    """A real argument: any float, the special ones, ints, NumPy scalars, junk."""
    return st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(SPECIAL_FLOATS),
                     st.integers(-5, 5), st.sampled_from(HUGE_INTS), numpy_ints(0, 5),
                     st.builds(np.float32, st.floats(width=32)), st.builds(np.float64, st.floats()), junk())


def flags():
    return st.one_of(st.booleans(), st.builds(np.bool_, st.booleans()), junk())


def choices(options):
    """A choice among names: each name (valid), or it in another form (upper case, in a list, an array,
    bytes), other text, junk."""
    name = st.sampled_from(options)
    return st.one_of(name, name.map(np.str_), name.map(str.upper), name.map(lambda o: [o]),
                     name.map(lambda o: np.array([o])), name.map(lambda o: np.array([o, o])), name.map(str.encode),
                     st.text(max_size=8), junk())


def shapes_of_ints():
    """An ensemble or batch shape: tuples of (possibly bad) ints, lists, ints, junk."""
    entry = st.one_of(st.integers(-1, 3), numpy_ints(1, 3), st.sampled_from((2 ** 40, 10 ** 12)), st.just(2.0))
    return st.one_of(st.lists(entry, max_size=3).map(tuple), st.lists(entry, max_size=3), entry, junk())


ANY_DTYPE = st.sampled_from([np.int64, np.int8, np.uint8, np.float32, np.float16, np.bool_, np.complex128, "U2"])


def arrays(shape, low=-2.0, high=2.0):
    """An array argument of the given shape: valid ones, ones with special values, wrong shapes,
    wrong dtypes, (ragged) lists, junk."""
    return st.one_of(
        hnp.arrays(np.float64, shape, elements=st.floats(low, high)),
        hnp.arrays(np.float64, shape, elements=st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                                                         st.sampled_from(SPECIAL_FLOATS))),
        hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4),
                   elements=st.floats(low, high)),
        hnp.arrays(ANY_DTYPE, shape),
        st.lists(st.floats(low, high), max_size=4),
        st.just([[1.0] * shape[-1], [1.0]] if shape else [[1.0], []]),   # ragged
        junk())


# ---- the property ---------------------------------------------------------------------------------


def names(message, name):
    """Whether ``message`` names ``name`` as a word (``k`` in "k must be ...", not in "blocks")."""
    return re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", message) is not None


def finite_numbers(value, where="result"):
    """(where, array) for every floating-point number held by a result: arrays, scalars, and the
    fields of dataclasses, dicts, tuples and maps' ``params`` (except ``NAN_BY_DESIGN``)."""
    if value is None or isinstance(value, (str, bytes, bool, np.bool_)):
        return
    if isinstance(value, (numbers.Number, np.ndarray, np.generic)):
        arr = np.asarray(value)
        if arr.dtype.kind in "fc":
            yield where, arr
        return
    if dataclasses.is_dataclass(value):
        for field in dataclasses.fields(value):
            if field.name not in NAN_BY_DESIGN:
                yield from finite_numbers(getattr(value, field.name), f"{where}.{field.name}")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from finite_numbers(item, f"{where}[{key!r}]")
    elif isinstance(value, (tuple, list)):
        for i, item in enumerate(value):
            yield from finite_numbers(item, f"{where}[{i}]")
    elif isinstance(getattr(value, "params", None), dict):
        yield from finite_numbers(value.params, f"{where}.params")


def refused_or_finite(call, value, name, breakdown=r"\bstep\b"):
    """``call(value)`` returns finite numbers with documented warnings only, or raises ValueError /
    TypeError naming ``name`` (or one of the names of a tuple), or NumericalBreakdownError whose
    message matches ``breakdown``."""
    wanted = name if isinstance(name, tuple) else (name,)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = call(value)
        except (ValueError, TypeError) as exc:
            assert type(exc) in (ValueError, TypeError), f"{type(exc).__name__} (a NumPy error?): {exc}"
            assert any(names(str(exc), n) for n in wanted), f"{value!r}: the refusal does not name {name}: {exc}"
            return
        except NumericalBreakdownError as exc:
            assert re.search(breakdown, str(exc)), f"{value!r}: the breakdown does not say where ({breakdown}): {exc}"
            return
    for where, arr in finite_numbers(result):
        assert np.all(np.isfinite(arr)), f"{value!r} for {name}: {where} is not finite: {arr}"
    undocumented = [f"{w.category.__name__}: {w.message}" for w in caught
                    if not issubclass(w.category, DOCUMENTED_WARNINGS)]
    assert not undocumented, f"{value!r} for {name}: undocumented warnings {undocumented}"


@dataclasses.dataclass
class Case:
    """One argument of one function: ``call(value)`` with the argument set to ``value``."""

    label: str
    call: object
    name: object          # what a refusal must name (a tuple: any of these)
    values: object        # the hypothesis strategy
    breakdown: str = r"\bstep\b"


CASES = []


def case(label, call, name, values, **options):
    CASES.append(Case(label, call, name, values, **options))


def each_argument(label, fn, base, strategies, name=None, **options):
    """A case per argument of ``fn``: ``fn(**base())`` with that argument replaced; a refusal names
    the argument, or one of ``name`` where arguments are checked against each other."""
    for arg, values in strategies.items():
        case(f"{label} {arg}", lambda value, arg=arg: fn(**{**base(), arg: value}), name or arg, values, **options)


# ---- the cells and maps -------------------------------------------------------------------------------

for cls, options in ((VanillaRNN, {"nonlinearity": choices(NONLINEARITIES),
                                   "init": choices(INITS),
                                   "mean": st.one_of(reals(), st.none()), "mean_scale": choices(("entry", "1/N")),
                                   "bias_scale": reals()}),
                     (LSTM, {"input_scale": reals(), "forget_gain": st.one_of(reals(), st.none()),
                             "gains": choices(LSTM_GAINS)}),
                     (GRU, {"input_scale": reals()})):
    each_argument(f"{cls.__name__}.random", cls.random, lambda: {"N": 3, "seed": 0},
                  {"N": ints(), "n_in": ints(), "g": st.one_of(reals(), arrays((2,), 0.0, 3.0)),
                   "ensemble": shapes_of_ints(), "seed": ints(), **options})

W3, V3, B3 = np.eye(3), np.ones((3, 1)), np.zeros(3)
# W fixes N, so that V or b may be refused for a W of another size
PARAMS = ("W", "V", "b")
each_argument("VanillaRNN", lambda **params: VanillaRNN(params), lambda: {"W": W3, "V": V3, "b": B3},
              {"W": arrays((3, 3)), "V": arrays((3, 1)), "b": arrays((3,))}, name=PARAMS)
case("VanillaRNN params", VanillaRNN, "params", st.one_of(junk(), st.dictionaries(st.text(max_size=2), arrays((3, 3)),
                                                                                 max_size=3)))
for cls, gates in ((LSTM, 4), (GRU, 3)):
    each_argument(cls.__name__, lambda cls=cls, **params: cls(params),
                  lambda gates=gates: {"W": np.ones((gates * 3, 3)), "V": np.ones((gates * 3, 1)),
                                       "b": np.zeros((gates, 1))},
                  {"W": arrays((gates * 3, 3)), "V": arrays((gates * 3, 1)), "b": arrays((gates, 1))}, name=PARAMS)

case("LinearMap A", lambda A: lyapunov_spectrum(LinearMap(A), np.ones(2), T=4, k=1, seed=0), ("A", "h0"),
     arrays((2, 2), -1e308, 1e308))
case("get_cell name", get_cell, ("name", "cell"), choices(tuple(CELLS)))
each_argument("FunctionMap", FunctionMap,
              lambda: {"step": lambda h, x: h, "tangent": lambda h, x, Q: Q, "state_size": 2},
              {"step": junk(), "tangent": junk(), "state_size": ints(), "n_in": st.one_of(ints(), st.none()),
               "params": st.one_of(junk(), st.dictionaries(st.sampled_from("WVb"), arrays((2,)), max_size=2))})


def functions_returning(value):
    """A FunctionMap whose tangent returns ``value`` (an array or junk), or ``value * Q`` for a number,
    or a constant block of ``value``'s magnitude (whose columns' norms overflow near 1e308)."""
    kind, number = value if isinstance(value, tuple) else ("as is", value)
    tangents = {"as is": lambda h, x, Q: number, "scaled": lambda h, x, Q: number * Q,
                "constant": lambda h, x, Q: np.full(np.shape(Q), number)}
    return FunctionMap(lambda h, x: h, tangents[kind], 2)


TANGENT_VALUES = st.one_of(st.tuples(st.sampled_from(("scaled", "constant")),
                                     st.one_of(st.floats(allow_nan=True, allow_infinity=True),
                                               st.sampled_from(SPECIAL_FLOATS), st.floats(1e300, 1.8e308))),
                           arrays((2, 1)))
case("FunctionMap tangent under lyapunov_spectrum",
     lambda value: lyapunov_spectrum(functions_returning(value), np.ones(2), T=3, k=1, seed=0), "tangent",
     TANGENT_VALUES)
case("FunctionMap step under lyapunov_spectrum",
     lambda value: lyapunov_spectrum(FunctionMap(lambda h, x: value, lambda h, x, Q: Q, 2), np.ones(2), T=3, k=1,
                                     seed=0), "step", arrays((2,), -1e308, 1e308))

# ---- the Benettin loop and what is built on it -------------------------------------------------------------

NET = VanillaRNN.random(3, g=1.5, seed=0)
H0 = np.array([0.3, -0.2, 0.5])
XS = np.random.default_rng(1).standard_normal((8, 1))
SYSTEMS = st.one_of(st.sampled_from([NET, LinearMap(np.diag([1.1, 0.5, 0.2])), FunctionMap(lambda h, x: h,
                                                                                         lambda h, x, Q: Q, 3)]),
                    junk())
Q0S = st.one_of(st.sampled_from([np.eye(3)[:, :2], np.eye(3)[None, :, :2], np.eye(3)[:, 1:]]), arrays((3, 2)))


def run_arguments():
    return {"system": NET, "h0": H0, "xs": XS, "k": 2, "transient": 2, "seed": 0}


RUN_STRATEGIES = {"system": SYSTEMS, "h0": arrays((3,), -1e308, 1e308), "xs": st.one_of(arrays((8, 1)), st.none()),
                  "k": ints(), "T": ints(), "t_ons": ints(), "transient": ints(), "Q0": Q0S,
                  "seed": st.one_of(ints(), st.just(np.random.default_rng(0))), "qr_method": choices(QR_METHODS),
                  "blas_threads": st.one_of(ints(), st.none())}
each_argument("lyapunov_spectrum", lyapunov_spectrum, run_arguments,
              {**RUN_STRATEGIES, "history": flags(), "stderr": flags(), "progress": flags(),
               "cond_warn": st.one_of(reals(), st.none()), "tol": st.one_of(reals(), st.none())})
each_argument("finite_time_exponents", finite_time_exponents, lambda: {**run_arguments(), "window": 2},
              {"window": ints(), "k": ints(), "t_ons": ints(), "transient": ints(), "T": ints(),
               "qr_method": choices(QR_METHODS), "blas_threads": st.one_of(ints(), st.none())})
TIMES = st.one_of(st.lists(ints(), max_size=3), hnp.arrays(st.sampled_from([np.int64, np.uint8, np.float64]),
                                                             hnp.array_shapes(min_dims=0, max_dims=2, max_side=3),
                                                             elements=st.integers(0, 9)), junk())
each_argument("covariant_vectors", covariant_vectors, lambda: {**run_arguments(), "times": [4]},
              {"times": TIMES, "transient_backward": st.one_of(ints(), st.none()), "k": ints(), "transient": ints(),
               "Q0": Q0S, "qr_method": choices(QR_METHODS), "blas_threads": st.one_of(ints(), st.none())})
TARGETS = st.one_of(reals(), arrays((2,), -1e200, 1e200))
for fn in (flossing_loss, flossing_grad):
    each_argument(fn.__name__, fn, run_arguments,
                  {**RUN_STRATEGIES, "target": TARGETS, "cond_warn": st.one_of(reals(), st.none())})
PARAMS_DOT = st.one_of(junk(), st.fixed_dictionaries({}, optional={"W": arrays((3, 3)), "V": arrays((3, 1)),
                                                                   "b": arrays((3,)), "c": arrays((3,))}))
each_argument("flossing_loss_jvp", flossing_loss_jvp,
              lambda: {**run_arguments(), "h0_dot": np.ones(3), "params_dot": {"W": np.eye(3)}},
              {"h0_dot": arrays((3,)), "params_dot": PARAMS_DOT, "target": TARGETS, "k": ints(),
               "qr_method": choices(QR_METHODS), "Q0": Q0S})

# ---- QR ------------------------------------------------------------------------------------------------------

A42 = np.random.default_rng(2).standard_normal((4, 2))
Q42, R42 = qr(A42)
each_argument("qr", qr, lambda: {"A": A42}, {"A": arrays((4, 2), -1e308, 1e308), "method": choices(QR_METHODS)},
              breakdown=r"\bA\b")
case("householder_qr A", householder_qr, "A", arrays((4, 2), -1e308, 1e308), breakdown=r"\bA\b")
# the factors are checked against each other (Q fixes N and k): a refusal of either may name the other
FACTORS = {"Q": arrays((4, 2)), "R": arrays((2, 2))}


def qr_vjp_arguments():
    return {"Q": Q42, "R": R42, "Q_bar": np.ones((4, 2)), "R_bar": np.eye(2)}


def qr_jvp_arguments():
    return {"Q": Q42, "R": R42, "A_dot": np.ones((4, 2))}


each_argument("qr_vjp", qr_vjp, qr_vjp_arguments, FACTORS, name=("Q", "R"), breakdown=r"\bR\b|A_bar")
each_argument("qr_vjp", qr_vjp, qr_vjp_arguments,
              {"Q_bar": st.one_of(arrays((4, 2), -1e308, 1e308), st.none()),
               "R_bar": st.one_of(arrays((2, 2), -1e308, 1e308), st.none()), "rtol": st.one_of(reals(), st.none())},
              breakdown=r"\bR\b|A_bar")
each_argument("qr_jvp", qr_jvp, qr_jvp_arguments, FACTORS, name=("Q", "R"), breakdown=r"\bR\b|Q_dot|R_dot")
each_argument("qr_jvp", qr_jvp, qr_jvp_arguments,
              {"A_dot": arrays((4, 2), -1e308, 1e308), "rtol": st.one_of(reals(), st.none())},
              breakdown=r"\bR\b|Q_dot|R_dot")
each_argument("random_orthonormal", random_orthonormal, lambda: {"n": 3, "k": 1, "seed": 0},
              {"n": ints(), "k": ints(), "shape": shapes_of_ints(), "seed": ints()})
case("random_orthonormal n < k", lambda n: random_orthonormal(n, 2), ("n", "k"), ints())

# ---- statistics of a spectrum ---------------------------------------------------------------------------------

SPECTRA = st.one_of(arrays((3,), -1e308, 1e308).map(lambda a: -np.sort(-a) if isinstance(a, np.ndarray)
                                                     and a.dtype.kind == "f" and a.ndim else a),
                    arrays((3,), -1e308, 1e308))
case("kaplan_yorke_dimension exponents", kaplan_yorke_dimension, "exponents", SPECTRA)
case("entropy_bound exponents", entropy_bound, "exponents", SPECTRA)

# ---- tasks, configurations, flossing, Adam ----------------------------------------------------------------------

each_argument("Task", Task, lambda: {"name": "binary_xor", "delay": 2},
              {"delay": ints(), "lags": choices(LAGS), "input_scale": choices(INPUT_SCALES),
               "inputs": choices(TASK_INPUTS)})
case("Task name", lambda name: Task(name, 2), ("name", "task"), choices(tuple(TASKS)))
each_argument("Task.sample", Task("spatial_xor", 2).sample, lambda: {"T": 6, "B": 2, "seed": 0},
              {"T": ints(), "B": ints(), "seed": ints()})

CONFIG_STRATEGIES = {name: choices(options) for name, options in SETTING_CHOICES.items()}
CONFIG_STRATEGIES.update({name: ints() for name in ("delay", "N", "T", "batch", "epochs", "seed", "floss_epochs",
                                                   "floss_T", "floss_transient", "floss_every", "diag_every",
                                                   "test_batch")})
CONFIG_STRATEGIES.update({name: st.one_of(ints(), st.none()) for name in ("k", "diag_k")})
CONFIG_STRATEGIES.update({name: reals() for name in ("g", "lr", "floss_lr")})
CONFIG_STRATEGIES.update({"clip_norm": st.one_of(reals(), st.none()), "forget_gain": st.one_of(reals(), st.none()),
                          "task": choices(tuple(TASKS)), "cell": choices(tuple(CELLS)),
                          "protocol": choices(PROTOCOLS),
                          "floss_inputs": st.one_of(choices(FLOSSING_INPUTS), st.none()),
                          "floss_at": st.one_of(st.lists(ints(), max_size=3).map(tuple), junk())})
# a small configuration, each field replaced in turn (protocol "during" so that the flossing sizes count)
CONFIG = dict(task="binary_xor", delay=4, N=4, T=12, batch=2, epochs=6, protocol="during", floss_at=(0, 3),
              floss_epochs=2, floss_T=6, floss_transient=1, k=2, diag_k=2, diag_every=2, test_batch=4)
each_argument("TrainConfig", TrainConfig, lambda: dict(CONFIG), CONFIG_STRATEGIES)


def flossing(**arguments):
    """floss on a fresh network (it updates the parameters in place): the history and the network."""
    net = VanillaRNN.random(3, g=1.2, seed=0)
    return floss(net, **arguments), net


each_argument("floss", flossing, lambda: {"epochs": 2, "k": 1, "T": 6, "transient": 1, "seed": 0},
              {"epochs": ints(), "k": ints(), "T": ints(), "t_ons": ints(), "transient": ints(), "target": TARGETS,
               "lr": reals(), "clip_norm": st.one_of(reals(), st.none()), "inputs": choices(FLOSSING_INPUTS),
               "input_scale": reals(), "seed": ints(), "progress": flags(),
               "optimizer": st.one_of(junk(), st.just(Adam({"W": np.ones((3, 3))}))),
               "blas_threads": st.one_of(ints(), st.none())})


def adam_steps(grads=None, **arguments):
    """Two Adam steps with the gradient ``grads`` on fresh parameters: the norms and the parameters."""
    params = {"W": np.ones((2, 2)), "b": np.zeros(2)}
    opt = Adam(params, **arguments)
    grads = {"W": np.ones((2, 2)), "b": np.ones(2)} if grads is None else grads
    return opt.step(grads), opt.step(grads), params


each_argument("Adam", adam_steps, dict,
              {"lr": reals(), "beta1": reals(), "beta2": reals(), "eps": reals(),
               "clip_norm": st.one_of(reals(), st.none()), "clip_mode": choices(("global", "per_array"))})
case("Adam params", Adam, "params",
     st.one_of(junk(), st.dictionaries(st.sampled_from(("W", "b")), arrays((2,)), max_size=2)))
GRADS = st.one_of(junk(), st.just({"W": np.ones((2, 2))}),
                  st.fixed_dictionaries({"W": arrays((2, 2), -1e308, 1e308), "b": arrays((2,), -1e308, 1e308)}))
case("Adam.step grads", lambda grads: adam_steps(grads), "grads", GRADS, breakdown="gradient")

# ---- precision helpers ---------------------------------------------------------------------------------------------

each_argument("eq10_log_kappa", eq10_log_kappa, lambda: {"exponents": [0.5, -0.5], "m": 2, "horizons": [10, 20]},
              {"exponents": SPECTRA, "m": ints(), "horizons": arrays((2,), 0.0, 1e308)},
              name=("exponents", "m", "horizons"))   # m <= k, and log kappa_2 within float64
each_argument("guard_bits", guard_bits, lambda: {"horizon": 10, "n": 4, "m": 2},
              {"horizon": st.one_of(reals(), arrays((2,), 1.0, 1e308)), "n": ints(), "m": ints()})
each_argument("bits_needed", bits_needed, lambda: {"log_kappa": [1.0, 5.0], "horizon": [10, 20], "n": 4, "m": 2,
                                                   "digits": 10},
              {"log_kappa": arrays((2,), 0.0, 1e308), "horizon": st.one_of(reals(), arrays((2,), 1.0, 1e308)),
               "n": ints(), "m": ints(), "digits": reals()})
each_argument("resolvable_horizon", resolvable_horizon, lambda: {"delta_lambda": 0.5, "n": 4, "m": 2},
              {"delta_lambda": reals(), "n": ints(), "m": ints(), "prec": ints(40, 2000), "digits": reals()})
each_argument("long_term_jacobian_svd", long_term_jacobian_svd,
              lambda: {"system": NET, "h0": H0, "T": 6, "m": 2, "horizons": [3], "seed": 0, "prec": 64},
              {"m": ints(), "horizons": st.one_of(st.lists(ints(), max_size=2), junk()), "prec": ints(40, 400),
               "digits": reals()}, breakdown=r"\bstep\b|bits")


@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
@given(data=st.data())
def test_hostile_argument_is_refused_by_name_or_gives_finite_results(case, data):
    value = data.draw(case.values, label=str(case.name))
    refused_or_finite(case.call, value, case.name, case.breakdown)


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.label for c in CASES])
@settings(settings.get_profile("thorough"))
@given(data=st.data())
def test_hostile_argument_is_refused_by_name_or_gives_finite_results_thorough(case, data):
    value = data.draw(case.values, label=str(case.name))
    refused_or_finite(case.call, value, case.name, case.breakdown)


def test_every_public_function_taking_input_has_cases():
    import floss_ref

    covered = " ".join(c.label for c in CASES)
    for name in floss_ref.__all__:
        obj = getattr(floss_ref, name)
        if callable(obj) and not (isinstance(obj, type) and issubclass(obj, (Warning, Exception))) \
                and not dataclasses.is_dataclass(obj):
            assert re.search(rf"\b{name}\b", covered), f"no property case for floss_ref.{name}"
    assert len(CASES) >= 150


# ---- NumPy integers are accepted wherever an int is -------------------------------------------------------------


@given(kind=st.sampled_from(NUMPY_INTS))
def test_numpy_integers_are_accepted_and_give_the_same_result(kind):
    as_int = lyapunov_spectrum(NET, H0, XS, k=2, t_ons=2, transient=2, seed=0, blas_threads=1)
    as_numpy = lyapunov_spectrum(NET, H0, XS, k=kind(2), T=kind(8), t_ons=kind(2), transient=kind(2), seed=kind(0),
                                 blas_threads=kind(1))
    np.testing.assert_array_equal(as_numpy.exponents, as_int.exponents)
    np.testing.assert_array_equal(VanillaRNN.random(kind(3), kind(1), ensemble=(kind(2),), seed=kind(0)).params["W"],
                                  VanillaRNN.random(3, 1, ensemble=(2,), seed=0).params["W"])
    np.testing.assert_array_equal(random_orthonormal(kind(3), kind(2), (kind(2),), seed=kind(1)),
                                  random_orthonormal(3, 2, (2,), seed=1))
    assert covariant_vectors(NET, H0, XS, k=kind(1), times=np.array([4], dtype=kind)).times.tolist() == [4]
    np.testing.assert_array_equal(Task("copy", kind(2)).sample(kind(6), kind(2), seed=kind(3)).xs,
                                  Task("copy", 2).sample(6, 2, seed=3).xs)


# ---- the command line ----------------------------------------------------------------------------------------------

# each command with small valid settings, so that a bad value wrongly accepted would fail fast
BASE_ARGV = {
    "spectrum": ["spectrum", "--N", "2", "--k", "1", "--T", "4", "--transient", "1", "--quiet"],
    "floss": ["floss", "--N", "2", "--k", "1", "--T", "4", "--transient", "1", "--epochs", "1", "--T-eval", "4",
              "--quiet"],
    "train": ["train", "--N", "2", "--T", "6", "--delay", "2", "--batch", "1", "--test-batch", "1", "--epochs", "1",
              "--diag-every", "0", "--floss-epochs", "1", "--floss-T", "2", "--floss-transient", "0", "--quiet"],
}
# options whose values are numbers, and the values each refuses besides text that is no number
NUMERIC_OPTIONS = {
    "spectrum": {"--N": ("0", "-1", "4097", "10**12", "1e3", "2.5"), "--k": ("0", "3", "1.5"),
                 "--T": ("0", "1", "100000001", "1e400"), "--t-ons": ("0", "-2"), "--transient": ("-1", "4", "9"),
                 "--g": ("-1", "nan", "inf", "-inf", "1e400", "1e308"), "--seed": ("-1", "1.0")},
    "floss": {"--epochs": ("0", "100000001", "1e3"), "--lr": ("0", "-1", "nan", "inf"),
              "--target": ("nan", "inf", "-inf", "1e400"), "--clip-norm": ("0", "-0.0", "nan"),
              "--T-eval": ("0", "1", "-3")},
    "train": {"--delay": ("0", "6", "7", "10**12"), "--T": ("0", "1000001"), "--batch": ("0", "1000001"),
              "--epochs": ("0", "100000001"), "--lr": ("0", "nan"), "--clip-norm": ("-1", "inf"),
              "--floss-T": ("0",), "--floss-transient": ("-1", "2"), "--floss-at": ("x", "1,,y", "-1"),
              "--floss-every": ("0",), "--diag-every": ("-1",), "--diag-k": ("0",), "--test-batch": ("0",),
              "--forget-gain": ("-1", "nan"), "--checkpoint-every": ("0",), "--g": ("nan", "1e308")},
}
CHOICE_OPTIONS = {"spectrum": ("--cell", "--inputs", "--nonlinearity", "--init"),
                  "floss": ("--cell", "--inputs"),
                  "train": ("--task", "--protocol", "--floss-inputs", "--lstm-gains", "--cell",
                            *("--" + name.replace("_", "-") for name in SETTING_CHOICES))}


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


NOT_A_NUMBER = st.text(max_size=6).filter(lambda text: not _is_number(text))


# every name a choice option of the command line takes (a value outside these is refused by every one)
CHOICE_NAMES = {*CELLS, *FLOSSING_INPUTS, *NONLINEARITIES, *INITS, *TASKS, *PROTOCOLS, *LSTM_GAINS,
                *(name for options in SETTING_CHOICES.values() for name in options)}


@st.composite
def bad_option(draw):
    """argv of a command with one option given a value it must refuse."""
    command = draw(st.sampled_from(sorted(BASE_ARGV)))
    numeric = NUMERIC_OPTIONS[command]
    if draw(st.booleans()):
        option = draw(st.sampled_from(sorted(numeric)))
        value = draw(st.one_of(st.sampled_from(numeric[option]), NOT_A_NUMBER))
    else:
        option = draw(st.sampled_from(CHOICE_OPTIONS[command]))
        value = draw(st.one_of(st.sampled_from(("", "TANH", "none ", "lapack", "0")), st.text(max_size=6))
                     .filter(lambda text: text not in CHOICE_NAMES))
    return BASE_ARGV[command] + [option, value]


def _one_line_exit(argv, allowed=(2,)):
    """Run the command line; a refusal (exit 1 or 2) prints exactly one line on stderr."""
    code, out, err = run_main(argv)   # an exception escaping main fails here
    assert code in allowed, f"{argv}: exit code {code}, stderr {err!r}"
    if code != 0:
        assert "Traceback" not in err and err.count("\n") == 1 and err.endswith("\n"), f"{argv}: stderr {err!r}"
    return code


@given(argv=bad_option())
def test_cli_bad_option_value_exits_2_with_one_line(argv):
    _one_line_exit(argv)


COMMANDS = ("spectrum", "floss", "train", "demo", "gradcheck", "vectors")


@given(argv=st.lists(st.text(max_size=8), min_size=1, max_size=4).filter(
    lambda argv: argv[0] not in COMMANDS and not argv[0].startswith("-")))
def test_cli_garbage_argv_exits_2_with_one_line(argv):
    _one_line_exit(argv)


@given(argv=st.lists(st.sampled_from(("--N", "--k", "--T", "-1", "1e400", "nan", "--", "-", "--quiet", "=", "--N=",
                                      "--g=inf", "--t-ons=0", "--bogus", "\x00", "\u00e9")), min_size=1, max_size=5))
def test_cli_spectrum_with_hostile_tokens_never_traces_back(argv):
    _one_line_exit(["spectrum", "--N", "2", "--T", "4", "--transient", "1", "--quiet", *argv], allowed=(0, 2))
