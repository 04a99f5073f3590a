"""One meaning per symbol, and every derivation in one place.

* No docstring, comment or other string under floss_ref uses a symbol in a meaning that
  the symbol table (../shared/SPEC.md, and the notation table of docs/derivations.md)
  gives to another symbol.  The list of such misuses below is explicit; each pattern is
  shown to catch a sentence of the kind it is meant for, and to pass the sentence that
  says the same thing in the right symbols.
* Every public pullback (``*_vjp``) and tangent rule (``*_jvp``) under floss_ref, the
  cells' pre-activation rules and the Sec. 7 control gradients give a formula and a
  pointer line ``Derivation: docs/derivations.md, section N.`` as a paragraph of its own,
  after a complete sentence; section N exists and names the function.
"""

import ast
import importlib
import inspect
import io
import pkgutil
import re
import tokenize
from pathlib import Path

import numpy as np
import pytest

import floss_ref
from floss_ref import VanillaRNN, finite_time_exponents

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "floss_ref"
PAGE = ROOT / "docs" / "derivations.md"

# ---- the texts: docstrings, other string constants, comments -----------------------------


def _texts():
    """(where, text) for every string constant and every block of consecutive comment
    lines in floss_ref's source, whitespace collapsed so that a pattern can span lines."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = path.read_text()
        where = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                out.append((f"{where}:{node.lineno}", " ".join(node.value.split())))
        block, start, last = [], None, None
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type != tokenize.COMMENT:
                continue
            line = tok.start[0]
            if block and line != last + 1:
                out.append((f"{where}:{start}", " ".join(" ".join(block).split())))
                block = []
            if not block:
                start = line
            block.append(tok.string.lstrip("#"))
            last = line
        if block:
            out.append((f"{where}:{start}", " ".join(" ".join(block).split())))
    return out


TEXTS = _texts()

# ---- symbols in a meaning that belongs to another symbol ---------------------------------
# (name, pattern, sentences it must catch, sentences in the right symbols it must pass)

WITHIN = r"(?:(?!\.\s+[A-Z]).)*"  # anything within one sentence ("Eq. 7" does not end it)

MISUSES = [
    ("R as an ensemble count (R is the triangular QR factor; the count is n_nets)",
     r"\bR\s+(independent|networks?|systems?)\b|\(R,\s*(1,\s*|B,\s*)?N\b",
     ["``*nets`` are ensemble axes: R independent networks in one object.",
      "A map that holds an ensemble of R independent systems says so with ``ensemble_shape``",
      "An ensemble of R networks, one trajectory each: ``W : (R, N, N)``, ``h : (R, N)``.",
      "An ensemble with B trajectories per network: ``W : (R, 1, N, N)``, ``h : (R, B, N)``."],
     ["``*nets`` are ensemble axes: ``n_nets`` independent networks in one object.",
      "R is the triangular factor of the QR of the N x k block, for every network."]),
    ("*P for ensemble axes (they are *nets; P is W times tangent vectors)",
     r"\*P\b|``P`` broadcast",
     ["states ``(*batch, N)``, weights ``(*P, N, N)`` with ``P`` broadcasting against ``*batch``.",
      "``W : (*P, 4N, N)`` holds ``W_i, W_f, W_c, W_o`` as consecutive N-row blocks",
      "a weight matrix has shape ``(*P, n, m)`` and the leading axes ``P`` broadcast against ``*batch``"],
     ["weights ``(*nets, N, N)`` with the ensemble axes ``*nets`` broadcasting against ``*batch``.",
      "Q~_h = K_o * P_o + nu * Q~_c, with P = W Q_h and P_cand = W_h~ Q_eta."]),
    ("s as a state (s is a time-step index)",
     r"\bstate s\b|\bs = \(h, c\)",
     ["``lstm``:    App. B Eqs. 12-17 (state s = (h, c), 2N x 2N Jacobian)."],
     ["``lstm``:    App. B Eqs. 12-17 (state (h, c), 2N x 2N Jacobian).",
      "step s maps the state h_s to h_{s+1}."]),
    ("s' for a sigmoid's derivative (s is a time-step index)",
     r"\bs'_[a-z]",
     ["dc' = f dc + s'_i c~ da_i + s'_f c da_f + (1 - c~^2) i da_c,  dh' = s'_o tau da_o"],
     ["dc' = f dc + sig'_i c~ da_i + sig'_f c da_f + (1 - c~^2) i da_c~"]),
    ("tau as a window length (tau is a horizon of Eq. 10; the window is T_w, `window`)",
     rf"(?i)\btau\b{WITHIN}\bwindow|\bwindows?\b{WITHIN}\btau\b",
     ["the first k exponents over consecutive windows of ``tau`` steps after the transient",
      "tau : int Window length in steps, a multiple of ``t_ons``"],
     ["the first k exponents over consecutive windows of ``window`` steps (T_w) after the transient",
      "kappa_2(T_t Q_tau) = sigma_1 / sigma_m ~ exp((lambda_1 - lambda_m)(t - tau))"]),
    ("tau as tanh(c) of the LSTM (it is u)",
     r"\btau\s*=\s*tanh\(c|\(c~, c[^)]*, i, tau\)",
     ["Write sigma'_j = g_j (1 - g_j) for the sigmoid gates, 1 - c~^2 for the candidate, and "
      "tau = tanh(c_t).",
      "gates = (i, f, c~, o), their derivatives dG, M = (c~, c, i, tau), K = dG * M and nu"],
     ["h_{s+1} = o * u,    u = tanh(c_{s+1})       (Eq. 17)",
      "mult  = (c~, c_s, i, u)                                   what each gate multiplies"]),
    ("d as input width (d is the task delay; input channels are n_in)",
     r"\(T, [^)]*\bd\)|\bd_in\b|\b(cell's|input width|input channels|inputs) (``)?d\b",
     ["xs : (T, d) array_like or None",
      "xs : (T, B, d), ys : (T, B), mask : (T,)",
      "TaskBatch with xs : (T, B, d_in), ys : (T, B), mask : (T,)",
      "Number of input streams n_in (the cell's ``d``)."],
     ["xs : (T, B, n_in), ys : (T, B), mask : (T,)",
      "Only the steps s >= d, whose target depends on inputs already shown, are scored."]),
    ("n, m, A, B, C, L, M as the cells' or the QR tangent's intermediates (n is the state "
     "size, m the columns of Eq. 10, A the factorised matrix, B the batch, C the CLV "
     "coefficients, L a loss, M the matrix of Eq. 8)",
     r"\bn_t\s*=\s*tanh|\bW_n\b|\bK_n\b|\bm\s*=\s*r\s*\*\s*h|\bA\s*=\s*W(_rz)?\s+Q|\bC\s*=\s*Q\^T A_dot|"
     r"\bL\s*=\s*tril\(|\bM\s*=\s*\(c~",
     ["n_t = tanh (W_n (r_t * h_{t-1}) + V_n x_t + b_n)       candidate",
      "``W[..., :2N, :]`` acts on h and ``W[..., 2N:, :]`` on ``m = r * h``.",
      "K_r = sigma'_r h_{t-1},   K_z = sigma'_z (h_{t-1} - n),   K_n = (1 - z)(1 - n^2).",
      "A = W Q_h per gate (*batch, 4, N, k) and the new cell block Q~_c (*batch, N, k).",
      "A = W_rz Q (*batch, 2, N, k), Q_m = r Q + K_r A_r and B = W_n Q_m (*batch, N, k).",
      "C     = Q^T A_dot R^{-1},   L = tril(C, -1),   Omega = L - L^T   (Q^T Q_dot, skew-symmetric)",
      "``K = dG * M`` with ``dG = (sigma'_i, sigma'_f, 1 - c~^2, sigma'_o)`` and "
      "``M = (c~, c_{t-1}, i, tau)``, both ``(*batch, 4, N)``."],
     ["eta  = r * h_s                                           reset state",
      "Delta = Q^T A_dot R^{-1},   Delta_low = tril(Delta, -1)",
      "M     = R R_bar^T - Q_bar^T Q                                   (k x k)"]),
    ("r and c_s in BPTT (r is the GRU's reset gate, c_s the LSTM's cell state; the readout "
     "is y_hat, a step's saved values its cache)",
     r"\br(_s)?\s*=\s*w_out|\bc_s\s*=\s*cell\.step|step_vjp\(c_s",
     ["forward (s = 0 .. T-1) reverse (s = T-1 .. 0) h_{s+1}, c_s = cell.step(h_s, xs[s]) "
      "g = g + H_bar[s] (from the readout) r_s = w_out . h_{s+1}[:N] + offset "
      "g, p_bar = cell.step_vjp(c_s, g)",
      "---- readout r = w_out . h + offset ----",
      "the readout at step s is ``r_s = w_out . h_{s+1} + offset`` and is compared with ``ys[s]``."],
     ["y_hat_{s+1} = w_out . h_{s+1}[:N] + offset     g, p_bar = cell.step_vjp(cache_s, g)"]),
    ("u, v as eigenvectors or singular vectors (u is tanh(c); they are p, q on the page)",
     r"\bu\^H W\b|D_s v = sigma_1 u\b",
     ["For a simple mu with right and left eigenvectors v, u (W v = mu v, u^H W = mu u^H): "
      "d mu = u^H dW v / (u^H v)",
      "With the top singular pair D_s v = sigma_1 u: d sigma_1 = u^T dD_s v"],
     ["with right and left eigenvectors p_W, q_W (W p_W = mu_1 p_W, q_W^H W = mu_1 q_W^H)::",
      "its singular vectors D_s p_s = sigma_1 q_s::"]),
]

SLIPS = [
    ("Eq. 5 for the loss (Eq. 5 is its gradient; the target form is from Fig. 1B, App. B)",
     r"target_i\)\^2\s*\(Eq\. 5\)",
     ["The flossing loss L = sum_{i<=k} (lambda_i - target_i)^2 (Eq. 5).",
      "lambda_i = sum_s log R^s_ii / (T - T_tr),   L = sum_i (lambda_i - target_i)^2    (Eq. 5)"],
     ["The flossing loss L = sum_{i<=k} (lambda_i - target_i)^2: Eq. 4 with the target of Fig. 1B."]),
    ("uniqueness as the reason the QR derivative exists (it is Gram-Schmidt's smoothness)",
     rf"unique{WITHIN}derivative exists",
     ["This makes the decomposition unique for full-rank A, so ``log R_ii`` (Eq. 7) is defined "
      "and the derivative exists."],
     ["The factors are differentiable there because Gram-Schmidt builds them (with positive "
      "diagonal) smoothly from a full-rank A: no norm it divides by vanishes."]),
    ("the block count of the batch means (1 to 63 before the first merge)",
     r"between MAX_BLOCKS and 2 \* MAX_BLOCKS",
     ["Blocks are merged pairwise when there are 2 * MAX_BLOCKS of them, so that a long run "
      "keeps between MAX_BLOCKS and 2 * MAX_BLOCKS blocks in O(MAX_BLOCKS k) memory."],
     ["a run keeps 1 to 2 * MAX_BLOCKS - 1 complete blocks before the first merge and "
      "MAX_BLOCKS to 2 * MAX_BLOCKS - 1 after it"]),
    ("module paths that are not files of floss_ref (cite floss_ref/core/..., experiments/...)",
     r"floss_ref/(?!(core|experiments|runs|kit|cli)/)\w+/",
     ["Eqs. 12-17 ... and the linearisation of floss_ref/cells/lstm.py's docstring:",
      "(in the docstrings of ``floss_ref/cells/lstm.py`` and ``gru.py``)"],
     ["the linearisation of floss_ref/core/cells/lstm.py's docstring, with u = tanh(c_{s+1}):"]),
]

PESIN_AS_BOUND = (rf"Pesin{WITHIN}\bbound|\bbound{WITHIN}Pesin",
                  ["(the sum of the positive exponents, Pesin's formula; an upper bound on the "
                   "Kolmogorov-Sinai entropy).",
                   "Sum of the positive exponents (..., k) -> (...): by Pesin's formula, an upper "
                   "bound on the Kolmogorov-Sinai entropy rate (nats per step)."],
                  ["Sum of the positive exponents: by Ruelle's inequality, an upper bound on the "
                   "Kolmogorov-Sinai entropy rate (nats per step).  Pesin's formula, the equality, "
                   "holds for SRB measures."])

ALL_PATTERNS = MISUSES + SLIPS + [("Pesin's formula as a bound (it is Ruelle's inequality)",) + PESIN_AS_BOUND]


@pytest.mark.parametrize("name, pattern, caught, passed", ALL_PATTERNS, ids=[p[0][:40] for p in ALL_PATTERNS])
def test_each_pattern_catches_its_examples_and_passes_the_right_symbols(name, pattern, caught, passed):
    for sentence in caught:
        assert re.search(pattern, " ".join(sentence.split())), f"{name}: does not catch {sentence!r}"
    for sentence in passed:
        assert not re.search(pattern, " ".join(sentence.split())), f"{name}: wrongly catches {sentence!r}"


@pytest.mark.parametrize("name, pattern", [p[:2] for p in MISUSES + SLIPS], ids=[p[0][:40] for p in MISUSES + SLIPS])
def test_no_symbol_in_a_meaning_that_belongs_to_another(name, pattern):
    hits = [f"{where}: ...{m.string[max(0, m.start() - 40):m.end() + 40]}..."
            for where, text in TEXTS for m in [re.search(pattern, text)] if m]
    assert not hits, f"{name}:\n  " + "\n  ".join(hits)


def test_no_docstring_or_comment_calls_pesins_formula_a_bound():
    hits = [f"{where}: {text[:120]}" for where, text in TEXTS if re.search(PESIN_AS_BOUND[0], text)]
    assert not hits, "Ruelle's inequality is the bound; Pesin's formula is the equality (SRB measures):\n  " + \
        "\n  ".join(hits)


def test_the_texts_were_read():
    assert len(TEXTS) > 1000
    assert any("Derivation: docs/derivations.md, section 4." in text for _, text in TEXTS)


# ---- derivations: one place, one pointer form ------------------------------------------------

POINTER = re.compile(r"^Derivation: docs/derivations\.md, section (\d+)\.$")
# the Sec. 7 control gradients are derivatives without the _vjp suffix
EXTRA = {"spectral_radius_loss_grad", "jacobian_norm_loss_grad"}


def _sections():
    """{N: text of section N} of docs/derivations.md, from its ``## N.`` headings."""
    parts = re.split(r"(?m)^## (\d+)\. ", PAGE.read_text())
    return {int(number): text for number, text in zip(parts[1::2], parts[2::2])}


def _derivatives():
    """(qualified name, function) of every pullback and tangent rule of floss_ref."""
    found = {}
    for info in pkgutil.walk_packages(floss_ref.__path__, "floss_ref."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if inspect.isfunction(obj) and obj.__module__ == module.__name__:
                found[f"{module.__name__}.{name}"] = (name, obj)
            elif inspect.isclass(obj) and obj.__module__ == module.__name__:
                for attr, member in vars(obj).items():
                    member = getattr(member, "__func__", member)
                    if inspect.isfunction(member):
                        found[f"{module.__name__}.{name}.{attr}"] = (attr, member)
    return {qual: fn for qual, (name, fn) in found.items()
            if (re.search(r"_(vjp|jvp)$", name) and (not name.startswith("_") or name.startswith("_preactivation_")))
            or name in EXTRA}


DERIVATIVES = _derivatives()


def _pointer_problems(doc):
    """What is wrong with the pointer lines of one docstring (an empty list if nothing)."""
    lines = inspect.cleandoc(doc).splitlines()
    problems = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped.startswith("Derivation:") and not re.match(r"Derivation\b.*derivations\.md", stripped):
            continue
        if not POINTER.match(line):
            problems.append(f"not of the form 'Derivation: docs/derivations.md, section N.' "
                            f"at column 0: {line!r}")
        if i == 0 or lines[i - 1].strip():
            problems.append("no blank line before the pointer")
        if i + 1 < len(lines) and lines[i + 1].strip():
            problems.append("no blank line after the pointer")
        before = [text for text in lines[:i] if text.strip()]
        # the text before ends a sentence, or is a literal block (a formula, indented)
        if before and not before[-1][0].isspace():
            last = before[-1].strip()
            if not last.endswith((".", ":")) or last.endswith("::"):
                problems.append(f"the pointer cuts a sentence: the text before it ends {last[-30:]!r}")
    return problems


def test_the_walk_finds_the_pullbacks_and_tangent_rules():
    names = {qual.rsplit(".", 1)[-1] for qual in DERIVATIVES}
    assert {"qr_vjp", "qr_jvp", "benettin_vjp", "benettin_jvp", "flossing_loss_jvp", "mse_jvp",
            "bce_logits_jvp", "readout_jvp", "loss_jvp", "step_vjp", "tangent_jvp", "run_vjp",
            "_preactivation_vjp"} | EXTRA <= names
    assert len(DERIVATIVES) >= 34


@pytest.mark.parametrize("qualname", sorted(DERIVATIVES))
def test_each_derivative_gives_a_formula_and_points_to_its_section(qualname):
    doc = inspect.getdoc(DERIVATIVES[qualname])
    assert doc, f"{qualname} has no docstring"
    numbers = [int(m.group(1)) for m in map(POINTER.match, doc.splitlines()) if m]
    assert len(numbers) == 1, f"{qualname}: needs exactly one line 'Derivation: docs/derivations.md, section N.'"
    assert not _pointer_problems(doc), f"{qualname}: " + "; ".join(_pointer_problems(doc))
    assert "=" in POINTER.sub("", doc), f"{qualname}: the docstring gives no formula"
    sections = _sections()
    assert numbers[0] in sections, f"{qualname}: docs/derivations.md has no section '## {numbers[0]}.'"
    name = qualname.rsplit(".", 1)[-1]
    wanted = "pre-activation" if name.startswith("_preactivation_") else name
    assert wanted in sections[numbers[0]], f"{qualname}: section {numbers[0]} does not mention {wanted!r}"


def test_no_pointer_line_anywhere_sits_inside_a_sentence():
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node, clean=False)
                for problem in _pointer_problems(doc or ""):
                    problems.append(f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 1)}: {problem}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("doc, problem", [
    ("Tangent of gamma along a perturbation of h_0 and of the\n\n"
     "Derivation: docs/derivations.md, section 5.\nparameters: the loop of benettin.", "cuts a sentence"),
    ("Pullback of step.\n\nDerivation: ``docs/derivations.md``, section 2.\n", "not of the form"),
    ("Pullback of step.\nDerivation: docs/derivations.md, section 2.\n", "no blank line before"),
    ("Pullback of step.\n\nDerivation: docs/derivations.md, section 4 (the adjoint of qr_jvp).\n",
     "not of the form"),
])
def test_the_pointer_check_refuses_a_pointer_out_of_place(doc, problem):
    assert any(problem in p for p in _pointer_problems(doc))
    for good in ("Pullback of step::\n\n    h_bar = W^T h_next_bar\n\n"
                 "The sums run over the batch.\n\nDerivation: docs/derivations.md, section 2.\n",
                 "Pullback of step::\n\n    h_bar = W^T h_next_bar\n\nDerivation: docs/derivations.md, section 2.\n"):
        assert not _pointer_problems(good)


def test_the_window_of_the_finite_time_exponents_is_refused_under_the_name_tau():
    """tau is a horizon of Eq. 10; the window length T_w is the keyword ``window``."""
    net = VanillaRNN.random(4, seed=0)
    with pytest.raises(TypeError, match=r"no argument 'tau'.*'window' \(e\.g\. window=5\)"):
        finite_time_exponents(net, np.ones(4), T=20, k=1, tau=5)
    assert finite_time_exponents(net, np.ones(4), T=20, k=1, window=5, seed=0).shape == (4, 1)
    assert "tau" not in inspect.signature(finite_time_exponents).parameters
