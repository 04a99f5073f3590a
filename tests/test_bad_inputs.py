"""Bad input across the Python API: every case raises ValueError or TypeError whose
message names the argument (issue "Reliability": no traceback from deep inside NumPy, no
silent result).  The command line's bad input is covered in tests/test_cli_main.py,
tests/test_cli_train.py and tests/test_cli_options.py.

Each case is (label, call, name): ``call()`` must raise, and ``name`` must appear in the
message.  The table is generated per argument: wrong kind, out of range, non-finite,
wrong shape.
"""

import math

import numpy as np
import pytest

from floss_ref import (GRU, LSTM, Adam, FunctionMap, LinearMap, VanillaRNN, covariant_vectors,
                       finite_time_exponents, floss, flossing_grad, flossing_loss, lyapunov_spectrum)
from floss_ref.core.precision import bits_needed, eq10_log_kappa, guard_bits, resolvable_horizon
from floss_ref.runs.sweep import SweepTask, run_sweep
from floss_ref.runs.run import Run, TrainConfig

NAN, INF = math.nan, math.inf
NET = VanillaRNN.random(6, g=1.2, seed=0)
H0 = np.zeros(6)
XS = np.zeros((20, 1))

CASES = []


def case(label, call, name):
    CASES.append(pytest.param(call, name, id=label))


# ---- cell constructors ---------------------------------------------------------------
for cls in (VanillaRNN, LSTM, GRU):
    c = cls.__name__
    for bad in (0, -3, 2.5, "8", None, True):
        case(f"{c}.random N={bad!r}", lambda cls=cls, bad=bad: cls.random(bad), "N")
    for bad in (0, -1, 1.5, "1"):
        case(f"{c}.random n_in={bad!r}", lambda cls=cls, bad=bad: cls.random(4, bad), "n_in")
    for bad in (-1.0, NAN, INF, "1", None, 1e200, np.array([1.0, 2.0])):
        case(f"{c}.random g={bad!r}", lambda cls=cls, bad=bad: cls.random(4, 1, bad), "g")
    for bad in ((0,), [4], (2.5,), "4", (-1,)):
        case(f"{c}.random ensemble={bad!r}", lambda cls=cls, bad=bad: cls.random(4, ensemble=bad), "ensemble")
    for bad in (-1, 1.5, "x"):
        case(f"{c}.random seed={bad!r}", lambda cls=cls, bad=bad: cls.random(4, seed=bad), "seed")
for bad in ("sigmoid", None, "TANH"):
    case(f"VanillaRNN nonlinearity={bad!r}", lambda bad=bad: VanillaRNN.random(4, nonlinearity=bad), "nonlinearity")
for bad in ("uniform", None):
    case(f"VanillaRNN init={bad!r}", lambda bad=bad: VanillaRNN.random(4, init=bad), "init")
for bad in (NAN, "0", INF):
    case(f"VanillaRNN mean={bad!r}", lambda bad=bad: VanillaRNN.random(4, mean=bad), "mean")
case("VanillaRNN mean_scale='N'", lambda: VanillaRNN.random(4, mean_scale="N"), "mean_scale")
for bad in (-0.1, NAN):
    case(f"VanillaRNN bias_scale={bad!r}", lambda bad=bad: VanillaRNN.random(4, bias_scale=bad), "bias_scale")
for bad in (-1.0, NAN):
    case(f"LSTM forget_gain={bad!r}", lambda bad=bad: LSTM.random(4, forget_gain=bad), "forget_gain")
    case(f"LSTM input_scale={bad!r}", lambda bad=bad: LSTM.random(4, input_scale=bad), "input_scale")
    case(f"GRU input_scale={bad!r}", lambda bad=bad: GRU.random(4, input_scale=bad), "input_scale")

W, V, b = np.eye(4), np.ones((4, 1)), np.zeros(4)
for label, params, name in [
    ("W not square", {"W": np.ones((4, 3)), "V": V, "b": b}, "W"),
    ("W NaN", {"W": np.full((4, 4), NAN), "V": V, "b": b}, "W"),
    ("W complex", {"W": W + 0j, "V": V, "b": b}, "W"),
    ("W text", {"W": "eye", "V": V, "b": b}, "W"),
    ("W object", {"W": np.array([[None] * 4] * 4), "V": V, "b": b}, "W"),
    ("V rows", {"W": W, "V": np.ones((3, 1)), "b": b}, "V"),
    ("b length", {"W": W, "V": V, "b": np.zeros(3)}, "b"),
    ("b inf", {"W": W, "V": V, "b": np.full(4, INF)}, "b"),
    ("missing b", {"W": W, "V": V}, "params"),
    ("extra key", {"W": W, "V": V, "b": b, "c": b}, "params"),
    ("not a dict", [W, V, b], "params"),
    ("ensemble axes clash", {"W": np.ones((2, 4, 4)), "V": np.ones((3, 4, 1)), "b": b}, "ensemble"),
]:
    case(f"VanillaRNN({label})", lambda params=params: VanillaRNN(params), name)
for cls, G in ((LSTM, 4), (GRU, 3)):
    case(f"{cls.__name__} W rows", lambda cls=cls: cls({"W": np.ones((5, 4)), "V": np.ones((5, 1)),
                                                          "b": np.zeros((4, 1))}), "W")
    case(f"{cls.__name__} b shape", lambda cls=cls, G=G: cls({"W": np.ones((G * 4, 4)), "V": np.ones((G * 4, 1)),
                                                                "b": np.zeros((G, 3))}), "b")

# ---- maps ----------------------------------------------------------------------------
case("FunctionMap step not callable", lambda: FunctionMap(1, lambda h, x, Q: Q, 2), "step")
for bad in (0, -1, 2.5, "2"):
    case(f"FunctionMap state_size={bad!r}", lambda bad=bad: FunctionMap(lambda h, x: h, lambda h, x, Q: Q, bad),
         "state_size")
for label, A in [("not square", np.ones((2, 3))), ("NaN", np.full((2, 2), NAN)), ("1-D", np.ones(2)), ("text", "A")]:
    case(f"LinearMap A {label}", lambda A=A: LinearMap(A), "A")

# ---- the spectrum, flossing, finite-time, CLV ----------------------------------------
SPECTRUM_BAD = {
    "k": (0, 7, 2.5, "2", None),
    "T": (0, -5, 2.5),
    "t_ons": (0, -1, 1.5),
    "transient": (-1, 20, 25, 1.5),
    "seed": (-1, "x", 1.5),
    "qr_method": ("numpy", None),
    "cond_warn": ("x", NAN, INF, 0.5),
    "tol": (0.0, -1.0, NAN),
    "Q0": (np.ones((6, 2)), np.eye(6)[:, :3], np.full((6, 2), NAN)),
}
for arg, values in SPECTRUM_BAD.items():
    for bad in values:
        kwargs = {"k": 2, arg: bad}
        xs = None if arg == "T" else XS
        case(f"lyapunov_spectrum {arg}={bad!r:.30}",
             lambda kwargs=kwargs, xs=xs: lyapunov_spectrum(NET, H0, xs, **kwargs), arg)
for label, h0, xs, name in [
    ("h0 length", np.zeros(5), XS, "h0"), ("h0 NaN", np.full(6, NAN), XS, "h0"), ("h0 text", "h", XS, "h0"),
    ("h0 None", None, XS, "h0"), ("xs inputs", H0, np.zeros((20, 2)), "xs"), ("xs 1-D", H0, np.zeros(20), "xs"),
    ("xs inf", H0, np.full((20, 1), INF), "xs"), ("no xs no T", H0, None, "T"),
    ("batch axes clash", np.zeros((3, 6)), np.zeros((20, 4, 1)), "h0"),
]:
    case(f"lyapunov_spectrum {label}", lambda h0=h0, xs=xs: lyapunov_spectrum(NET, h0, xs, k=2), name)
case("lyapunov_spectrum T disagrees with xs", lambda: lyapunov_spectrum(NET, H0, XS, k=2, T=10), "T")
case("lyapunov_spectrum not a map", lambda: lyapunov_spectrum(object(), H0, XS, k=2), "system")
for fn in (flossing_loss, flossing_grad):
    for arg, values in {"k": (0, 7), "t_ons": (0,), "transient": (20,), "qr_method": ("x",),
                        "cond_warn": ("x", NAN), "target": (np.zeros(3), "0", NAN)}.items():
        for bad in values:
            kwargs = {"k": 2, arg: bad}
            case(f"{fn.__name__} {arg}={bad!r:.30}", lambda fn=fn, kwargs=kwargs: fn(NET, H0, XS, **kwargs), arg)
case("flossing_grad of a map without params", lambda: flossing_grad(LinearMap(np.eye(2)), np.ones(2), T=5, k=1),
     "params")
for arg, values in {"epochs": (-1, 2.5, "3"), "k": (0, 7), "T": (0, 2.5), "t_ons": (0,), "transient": (-1, 30),
                    "lr": (0.0, -1.0, NAN), "clip_norm": (0.0, -1.0, NAN), "inputs": ("poisson",),
                    "input_scale": (0.0, NAN), "seed": (-1,)}.items():
    for bad in values:
        kwargs = {"epochs": 1, "k": 2, "T": 20, arg: bad}
        case(f"floss {arg}={bad!r}", lambda kwargs=kwargs: floss(NET, **kwargs), arg)
case("floss of a map without params", lambda: floss(LinearMap(np.eye(2)), epochs=1, k=1, T=5), "params")
for arg, bad in [("window", 0), ("window", 25), ("window", 2.5), ("k", 0)]:
    kwargs = {"k": 2, "window": 5, arg: bad}
    case(f"finite_time_exponents {arg}={bad!r}",
         lambda kwargs=kwargs: finite_time_exponents(NET, H0, XS, **kwargs), arg)
for arg, bad in [("k", 0), ("times", "x"), ("times", [25]), ("transient", -1)]:
    kwargs = {"k": 2, "times": [5], arg: bad}
    case(f"covariant_vectors {arg}={bad!r}", lambda kwargs=kwargs: covariant_vectors(NET, H0, XS, **kwargs), arg)

# ---- optimiser -----------------------------------------------------------------------
for arg, bad in [("lr", 0.0), ("lr", -1.0), ("lr", NAN), ("beta1", 1.0), ("beta2", 1.5), ("eps", -1.0),
                 ("clip_norm", 0.0), ("clip_mode", "layer")]:
    case(f"Adam {arg}={bad!r}", lambda arg=arg, bad=bad: Adam({"W": np.ones(2)}, **{arg: bad}), arg)
case("Adam params empty", lambda: Adam({}), "params")
case("Adam step wrong keys", lambda: Adam({"W": np.ones(2)}).step({"V": np.ones(2)}), "grads")

# ---- training configuration ----------------------------------------------------------
CONFIG_BAD = {
    "task": ("copy_task", None), "delay": (-1, 2.5), "cell": ("rnn",), "nonlinearity": ("sigmoid",),
    "init": ("uniform",), "N": (0, -1, 2.5), "g": (-1.0, NAN), "batch": (0,), "epochs": (0, 1.5),
    "lr": (0.0, NAN), "clip_norm": (0.0, -1.0), "seed": (-1,), "protocol": ("sometimes",), "k": (0, 100),
    "floss_epochs": (0,), "floss_T": (0,), "floss_transient": (-1, 1000), "floss_lr": (0.0,),
    "floss_at": (5, "0"), "floss_every": (0,), "diag_every": (-1,), "diag_k": (0,), "test_batch": (0,),
    "input_scale": ("half",), "xor_lags": ("triple",), "readout_init": ("zeros",), "clip_mode": ("layer",),
}
for arg, values in CONFIG_BAD.items():
    for bad in values:
        if arg in ("k", "diag_k") and bad == 100:  # checked against the network's size when the run starts
            case(f"Run {arg}={bad!r}", lambda arg=arg, bad=bad: Run(TrainConfig(N=8, epochs=2, **{arg: bad})), arg)
        else:
            case(f"TrainConfig {arg}={bad!r}", lambda arg=arg, bad=bad: TrainConfig(**{arg: bad}), arg)

# ---- precision helpers ---------------------------------------------------------------
for label, call, name in [
    ("eq10 m=0", lambda: eq10_log_kappa([0.1, -0.1], 0, [10]), "m"),
    ("eq10 m>k", lambda: eq10_log_kappa([0.1, -0.1], 3, [10]), "m"),
    ("eq10 exponents NaN", lambda: eq10_log_kappa([NAN, 0.1], 1, [10]), "exponents"),
    ("guard_bits horizon 0", lambda: guard_bits(0, 4, 2), "horizon"),
    ("guard_bits m>n", lambda: guard_bits(10, 2, 4), "m"),
    ("bits_needed digits -1", lambda: bits_needed(1.0, 10, 4, 2, -1), "digits"),
    ("bits_needed log_kappa<0", lambda: bits_needed(-1.0, 10, 4, 2, 10), "log_kappa"),
    ("resolvable delta 0", lambda: resolvable_horizon(0.0, 4, 2), "delta_lambda"),
    ("resolvable prec 10", lambda: resolvable_horizon(0.1, 4, 2, prec=10), "prec"),
    ("resolvable digits NaN", lambda: resolvable_horizon(0.1, 4, 2, digits=NAN), "digits"),
]:
    case(label, call, name)

# ---- sweeps --------------------------------------------------------------------------
for label, call, name in [
    ("SweepTask name newline", lambda: SweepTask("a\n", "train", {}), "task name"),
    ("SweepTask name slash", lambda: SweepTask("a/b", "train", {}), "task name"),
    ("SweepTask kind", lambda: SweepTask("a", "nothing", {}), "kind"),
    ("SweepTask params list", lambda: SweepTask("a", "train", []), "params"),
    ("SweepTask params not JSON", lambda: SweepTask("a", "train", {"x": object()}), "params"),
    ("run_sweep jobs -1", lambda: run_sweep([], "/nonexistent/x", settings={}, jobs=-1), "jobs"),
    ("run_sweep retries -1", lambda: run_sweep([], "/nonexistent/x", settings={}, retries=-1), "retries"),
    ("run_sweep settings list", lambda: run_sweep([], "/nonexistent/x", settings=[1]), "settings"),
    ("run_sweep tasks of strings", lambda: run_sweep(["a"], "/nonexistent/x", settings={}), "tasks"),
    ("run_sweep duplicate names", lambda: run_sweep([SweepTask("a", "train", {})] * 2, "/nonexistent/x",
                                                    settings={}), "task names"),
    ("run_sweep scheduler without scheme", lambda: run_sweep([], "/nonexistent/x", settings={},
                                                             scheduler="host:8786"), "scheduler"),
    ("run_sweep scheduler http", lambda: run_sweep([], "/nonexistent/x", settings={},
                                                   scheduler="http://host:8786"), "scheduler"),
    ("run_sweep connect_timeout 0", lambda: run_sweep([], "/nonexistent/x", settings={},
                                                      scheduler="tcp://127.0.0.1:1", connect_timeout=0),
     "connect_timeout"),
]:
    case(label, call, name)


@pytest.mark.parametrize("call, name", CASES)
def test_bad_input_is_refused_naming_the_argument(call, name):
    with pytest.raises((ValueError, TypeError)) as info:
        call()
    assert name.lower() in str(info.value).lower(), str(info.value)


def test_the_table_is_large():
    assert len(CASES) >= 250
