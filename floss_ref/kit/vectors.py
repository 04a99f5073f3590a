"""Reference vectors: language-neutral test cases of the flossing loss and its gradient.

``python -m floss_ref vectors --out DIR`` writes one NPZ file per case and ``cases.json``.
A case is a small network (vanilla tanh or ReLU, LSTM or GRU), a trajectory (T = 20, 100
or 300 steps), a re-orthonormalisation interval (t_ONS = 1 or 3) and a transient (0 or
T/5).  Its NPZ holds

* the inputs: ``param/<name>`` (the cell's parameters), ``h0 : (n,)``, ``xs : (T, n_in)``,
  ``Q0 : (n, k)``;
* the float64 results of floss_ref: ``exponents : (k,)``, ``loss : ()``, ``grad/<name>``
  (dL/d parameter) and ``h0_bar : (n,)`` (dL/dh0).

Conventions (spelled out again in ``cases.json``): step s maps h_s to h_{s+1} and reads
``xs[s]``; the tangent block is ``Q~_{s+1} = D_s Q_s`` with ``D_s = dh_{s+1}/dh_s``; a QR with
``diag(R) > 0`` follows every t_ONS-th step, step ``transient`` and the last step; the
exponents are ``lambda_i = sum log R_ii / (T - transient)`` over the QRs after step
``transient``; the loss is ``sum_i lambda_i^2`` (target 0).  The cells' equations are in
``floss_ref/cells`` (vanilla: ``h_{s+1} = W phi(h_s) + V x + b``; the LSTM's state is
``(h, c)`` concatenated; the gate blocks of W are stacked in the order the cell names).

``cases.json`` gives, per case, the SHA-256 of every array and the number of digits to
which each float64 quantity agrees with a 256-bit computation
(:mod:`floss_ref.core.precision.reference`, which implements every cell): the exponents and the
loss directly, the gradient in two random directions by 256-bit central differences.

:func:`load` reads a directory back, refusing a missing or altered file by name and hash;
:func:`compare` prints the digits to which your results agree with a case.
"""

import dataclasses
import json
import math
import os
import tempfile

import numpy as np

from floss_ref import _validate
from floss_ref.runs.io import (FileFormatError, WriteError, atomic_savez, atomic_write, brief, content_hash,
                               json_field, read_json, read_npz)
from floss_ref.core.cells import GRU, LSTM, VanillaRNN
from floss_ref.errors import NumericalBreakdownError
from floss_ref.core.flossing import flossing_grad
from floss_ref.core.lyapunov import random_orthonormal

FORMAT = "floss_ref.vectors/1"  # a file format's name, fixed: it is not the module's path
CELLS = ("vanilla_tanh", "vanilla_relu", "lstm", "gru")
HORIZONS = (20, 100, 300)
T_ONS = (1, 3)
N, N_IN, K = 6, 1, 3
CONVENTIONS = {
    "step": "step s maps h_s to h_{s+1} and reads xs[s]",
    "tangent": "Q~_{s+1} = D_s Q_s, D_s = d h_{s+1} / d h_s",
    "qr": "thin QR with diag(R) > 0 after every t_ons-th step, after step `transient` (if > 0) and after step T",
    "exponents": "lambda_i = sum of log R_ii over the QRs after step `transient`, divided by (T - transient)",
    "loss": "sum_i lambda_i^2 (target 0)",
    "gradient": "grad/<name> = dL/d param, h0_bar = dL/d h0, with xs and Q0 held fixed",
    "vanilla": "h_{s+1} = W phi(h_s) + V xs[s] + b, phi = tanh or ReLU (slope 1 where phi > 0)",
    "lstm": "state (h, c) concatenated, W : (4N, N) with gate blocks i, f, c~, o; see floss_ref/core/cells/lstm.py",
    "gru": "W : (3N, N) with blocks r, z, n, reset gate inside the recurrent product; see floss_ref/core/cells/gru.py",
}


# The network of each case, from a generator, and the exponents k it flosses.  The ReLU
# case has more units and fewer exponents: dead units lower the rank of D_s.
NETWORKS = {
    "vanilla_tanh": (lambda rng: VanillaRNN.random(N, N_IN, 1.5, seed=rng), K),
    "vanilla_relu": (lambda rng: VanillaRNN.random(2 * N, N_IN, 1.5, nonlinearity="relu", mean_scale="1/N",
                                                    seed=rng), 2),
    "lstm": (lambda rng: LSTM.random(N, N_IN, 1.0, seed=rng), K),
    "gru": (lambda rng: GRU.random(N, N_IN, 1.0, seed=rng), K),
}


def case_names():
    return [f"{cell}_T{T}_tons{t}_tr{tr}" for cell in CELLS for T in HORIZONS for t in T_ONS
            for tr in (0, T // 5)]


def _parse(name):
    cell, rest = name.rsplit("_T", 1)
    T, rest = rest.split("_tons")
    t_ons, tr = rest.split("_tr")
    return cell, int(T), int(t_ons), int(tr)


def make_case(name, seed=0):
    """The inputs and float64 results of one case (dict of arrays), its network and settings.

    The draw is a pure function of (seed, case); a draw on which the loop breaks down (a
    ReLU network whose dead units collapse the tangent vectors) is replaced by the next
    one, and ``settings["draw"]`` says which was used.
    """
    cell, T, t_ons, transient = _parse(name)
    for draw in range(20):
        rng = np.random.default_rng([seed, CELLS.index(cell), T, t_ons, transient, draw])
        make_network, k = NETWORKS[cell]
        net = make_network(rng)
        n = net.state_size
        h0 = rng.standard_normal(n)
        xs = rng.standard_normal((T, N_IN))
        Q0 = random_orthonormal(n, k, (), rng)
        try:
            res = flossing_grad(net, h0, xs, k=k, T=T, t_ons=t_ons, transient=transient, Q0=Q0, cond_warn=None)
        except NumericalBreakdownError:
            continue
        arrays = {"param/" + p: v for p, v in net.params.items()}
        arrays.update(h0=h0, xs=xs, Q0=Q0, exponents=res.exponents, loss=np.asarray(res.loss),
                      h0_bar=res.h0_bar, **{"grad/" + p: g for p, g in res.grads.items()})
        return arrays, net, dict(cell=cell, T=T, t_ons=t_ons, transient=transient, k=k, N=net.N, n_in=N_IN,
                                 state_size=n, draw=draw)
    raise NumericalBreakdownError(f"case {name}: 20 draws in a row broke down")


def _digits(a, b):
    """Digits of agreement of a with b: -log10 of the normwise relative difference
    max|a - b| / max|b| (16 for identical, capped at 16)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    diff = float(np.max(np.abs(a - b))) if a.size else 0.0
    scale = float(np.max(np.abs(b))) if b.size else 0.0
    if diff == 0.0:
        return 16.0
    return float(min(16.0, -math.log10(diff / scale))) if scale > 0 else 0.0


def reference_digits(arrays, net, settings, seed=0, prec=256):
    """Digits of agreement of the float64 results with a ``prec``-bit computation
    (:mod:`floss_ref.core.precision.reference`): the exponents and the loss directly, the
    gradient in two random directions by ``prec``-bit central differences."""
    from floss_ref.core.precision.reference import flossing_directional_derivative_mp, flossing_loss_mp

    T, t_ons, tr, K = settings["T"], settings["t_ons"], settings["transient"], settings["k"]
    h0, xs, Q0 = arrays["h0"], arrays["xs"], arrays["Q0"]
    loss, lam = flossing_loss_mp(net, h0, xs, k=K, Q0=Q0, T=T, t_ons=t_ons, transient=tr, prec=prec)
    out = {"against": f"{prec}-bit", "exponents": _digits(arrays["exponents"], [float(v) for v in lam]),
           "loss": _digits(arrays["loss"], float(loss))}
    rng = np.random.default_rng([seed, 99])
    worst = 16.0
    for _ in range(2):
        u = {p: rng.standard_normal(v.shape) for p, v in net.params.items()}
        u["h0"] = rng.standard_normal(h0.shape)
        ref = float(flossing_directional_derivative_mp(net, h0, xs, k=K, direction=u, Q0=Q0, T=T, t_ons=t_ons,
                                                       transient=tr, prec=prec))
        mine = (sum(float(np.sum(arrays["grad/" + p] * u[p])) for p in net.params)
                + float(np.sum(arrays["h0_bar"] * u["h0"])))
        worst = min(worst, _digits(mine, ref))
    out["gradient"] = worst
    return out


def write(directory, names=None, seed=0, log=None):
    """Write the cases (default: all of :func:`case_names`) and ``cases.json`` to ``directory``.

    The directory is created, and a file written and removed in it, before any case is
    computed: a directory that cannot be written raises
    :class:`floss_ref.runs.io.WriteError` at once, as does a failure to write a file later.
    """
    names = case_names() if names is None else list(names)
    unknown = sorted(set(names) - set(case_names()))
    if unknown:
        raise ValueError(f"unknown case names {unknown}; the cases are {case_names()}")
    try:
        os.makedirs(directory, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as exc:
        raise WriteError(os.fspath(directory), exc) from None
    index = {"format": FORMAT, "conventions": CONVENTIONS, "seed": seed, "cases": {}}
    for name in names:
        arrays, net, settings = make_case(name, seed)
        digits = reference_digits(arrays, net, settings, seed)
        atomic_savez(os.path.join(directory, name + ".npz"), arrays)
        index["cases"][name] = {"file": name + ".npz", "settings": settings, "digits": digits,
                                "sha256": {key: content_hash({key: v}) for key, v in arrays.items()}}
        if log is not None:
            log(f"{name}: digits {digits['exponents']:.1f} / {digits['loss']:.1f} / {digits['gradient']:.1f} "
                f"(exponents / loss / gradient, against {digits['against']})")
    text = json.dumps(index, indent=1, sort_keys=True).encode()
    atomic_write(os.path.join(directory, "cases.json"), lambda f: f.write(text))
    return index


@dataclasses.dataclass
class Case:
    """One reference case: its name, settings, arrays and digits."""

    name: str
    settings: dict
    arrays: dict
    digits: dict

    @property
    def params(self):
        return {k[len("param/"):]: v for k, v in self.arrays.items() if k.startswith("param/")}

    @property
    def grads(self):
        return {k[len("grad/"):]: v for k, v in self.arrays.items() if k.startswith("grad/")}


# the fields of each case's settings in cases.json, and their JSON types
SETTINGS_FIELDS = {"cell": str, "T": int, "t_ons": int, "transient": int, "k": int, "N": int, "n_in": int,
                   "state_size": int, "draw": int}
DIGITS_FIELDS = {"against": str, "exponents": float, "loss": float, "gradient": float}


def load(directory):
    """The cases of a directory written by :func:`write`, each file checked against the
    hashes in ``cases.json`` (a missing or altered file raises ValueError naming it).

    ``cases.json`` and the case files must be regular files (a FIFO, a device or a
    directory is refused without blocking); ``cases.json`` is read within bounds
    (:func:`floss_ref.runs.io.read_json`) and each of its fields is checked by type, and
    each case's ``file`` must name an ``.npz`` file in ``directory``.  Every refusal is a
    ValueError naming the file and the field.
    """
    path = os.path.join(os.fspath(directory), "cases.json")
    try:
        index = read_json(path, what="reference vectors index")
    except FileNotFoundError:
        raise ValueError(f"{path!r} is missing: not a reference vectors directory") from None
    source = repr(path)
    if not isinstance(index, dict) or json_field(index, "format", str, source) != FORMAT:
        raise ValueError(f"{path!r} is not a reference vectors index of format {FORMAT!r}")
    json_field(index, "seed", int, source)
    json_field(index, "conventions", dict, source)
    cases = []
    for name in sorted(json_field(index, "cases", dict, source)):
        entry = _checked_entry(index["cases"], name, source)
        file = os.path.join(os.fspath(directory), entry["file"])
        if not os.path.lexists(file):
            raise ValueError(f"case {brief(name)}: file {brief(entry['file'])} is missing (listed in {path!r})")
        try:
            arrays = read_npz(file, what="reference case")
        except FileFormatError as exc:
            raise ValueError(f"case {brief(name)}: {exc}") from None
        if set(arrays) != set(entry["sha256"]):
            raise ValueError(f"case {brief(name)}: file {entry['file']!r} holds arrays {brief(sorted(arrays))}, the "
                             f"index lists {brief(sorted(entry['sha256']))}")
        for key, v in arrays.items():
            got = content_hash({key: v})
            if got != entry["sha256"][key]:
                raise ValueError(f"case {brief(name)}: array {key!r} of {entry['file']!r} has SHA-256 {got[:16]}..., "
                                 f"the index says {entry['sha256'][key][:16]}... (altered)")
        _check_settings(name, entry["settings"], arrays, path)
        cases.append(Case(name, entry["settings"], arrays, entry["digits"]))
    return cases


def _check_settings(name, settings, arrays, index_path):
    """The settings of case ``name`` agree with its name and with its arrays' shapes (the
    hashes cover the arrays, not the settings): a ValueError naming the case and the field."""
    try:
        expected = dict(zip(("cell", "T", "t_ons", "transient"), _parse(name)))
    except ValueError:
        raise ValueError(f"case {brief(name)} in {index_path!r}: not a case name of the form "
                         "<cell>_T<T>_tons<t_ons>_tr<transient>") from None
    shapes = {"T": arrays["xs"].shape[0] if "xs" in arrays and arrays["xs"].ndim == 2 else None,
              "n_in": arrays["xs"].shape[1] if "xs" in arrays and arrays["xs"].ndim == 2 else None,
              "state_size": arrays["Q0"].shape[0] if "Q0" in arrays and arrays["Q0"].ndim == 2 else None,
              "k": arrays["Q0"].shape[1] if "Q0" in arrays and arrays["Q0"].ndim == 2 else None}
    for field, value in list(expected.items()) + [(f, v) for f, v in shapes.items()]:
        if value is None:
            raise ValueError(f"case {brief(name)}: its file lacks a two-dimensional 'xs' or 'Q0' array")
        if settings.get(field) != value:
            raise ValueError(f"case {brief(name)}: settings field {field!r} is {brief(settings.get(field))} in "
                             f"{index_path!r}, but the case's name and arrays say {value!r}")


def _checked_entry(cases, name, source):
    """The index entry of case ``name`` after checking each of its fields by type
    (FileFormatError, a ValueError, naming the file ``source`` and the field)."""
    where = f"cases.{name}."
    entry = json_field(cases, name, dict, source, where="cases.")
    file = json_field(entry, "file", str, source, where)
    if os.path.basename(file) != file or not file.endswith(".npz") or file.startswith("."):
        raise FileFormatError(f"{source}: field {where + 'file'!r} must name an .npz file in the directory, "
                              f"got {file[:80]!r}")
    for key in json_field(entry, "sha256", dict, source, where):
        json_field(entry["sha256"], key, str, source, where + "sha256.")
    for fields, part in ((SETTINGS_FIELDS, "settings"), (DIGITS_FIELDS, "digits")):
        json_field(entry, part, dict, source, where)
        for key, kind in fields.items():
            json_field(entry[part], key, kind, source, f"{where}{part}.")
    return entry


def compare(case, yours, verbose=True):
    """Digits to which ``yours`` agrees with ``case`` per quantity.

    yours : dict with any of ``exponents``, ``loss``, ``grads`` (dict by parameter name),
        ``h0_bar``.
    returns dict quantity -> digits (16 = identical); prints a line with ``verbose``.
    """
    if not isinstance(yours, dict):
        raise TypeError(f"yours must be a dict with exponents, loss, grads, h0_bar; got {type(yours).__name__}")
    out = {}
    for key in ("exponents", "loss", "h0_bar"):
        if key in yours:
            mine = _validate.float_array(f"yours[{key!r}]", yours[key])
            if mine.shape != case.arrays[key].shape:
                raise ValueError(f"yours[{key!r}] has shape {mine.shape}, the case's has {case.arrays[key].shape}")
            out[key] = _digits(mine, case.arrays[key])
    if "grads" in yours:
        for p, g in case.grads.items():
            if p not in yours["grads"]:
                raise ValueError(f"yours['grads'] has no {p!r} (the case's parameters: {sorted(case.grads)})")
            mine = _validate.float_array(f"yours['grads'][{p!r}]", yours["grads"][p])
            if mine.shape != g.shape:
                raise ValueError(f"yours['grads'][{p!r}] has shape {mine.shape}, the case's has {g.shape}")
            out["grad/" + p] = _digits(mine, g)
    if verbose:
        print(f"{case.name}: " + ", ".join(f"{k} {v:.1f}" for k, v in out.items())
              + f"  (float64 vs {case.digits['against']}: exponents {case.digits['exponents']:.1f}, loss "
                f"{case.digits['loss']:.1f}, gradient {case.digits['gradient']:.1f})")
    return out
