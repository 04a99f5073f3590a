"""The layout shows the architecture: the reference (floss_ref.core) imports nothing from
the experiments, the run machinery, the checking kit or the command line; the arrows
between the subpackages run one way; generic code asks cells what it needs instead of
testing which cell it has; the module paths of the flat layout still import."""

import ast
import importlib
import pathlib
import re

import pytest

from floss_ref import _moved

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "floss_ref"
SHARED = {"floss_ref", "floss_ref.errors", "floss_ref._validate", "floss_ref._threads", "floss_ref._progress",
          "floss_ref._workspace"}
# what each subpackage may import besides itself and the shared helpers: the arrows run
# core <- experiments <- runs <- kit, cli (kit reads files with runs.io)
ALLOWED = {"core": set(), "experiments": {"core"}, "runs": {"core", "experiments"},
           "kit": {"core", "experiments", "runs"}, "cli": {"core", "experiments", "runs", "kit"}}


def imports(path):
    """The floss_ref modules a file imports (absolute names), at any depth of the file."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("floss_ref"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("floss_ref"))
        elif isinstance(node, ast.ImportFrom) and node.level > 0:
            raise AssertionError(f"{path}: relative import; floss_ref uses absolute imports")
    return found


@pytest.mark.parametrize("sub", sorted(ALLOWED))
def test_the_import_arrows_run_one_way(sub):
    bad = []
    for path in sorted((PACKAGE / sub).rglob("*.py")):
        for module in imports(path):
            if module in SHARED:
                continue
            parts = module.split(".")
            target = parts[1] if len(parts) > 1 else None
            if target != sub and target not in ALLOWED[sub]:
                bad.append(f"{path.relative_to(PACKAGE)} imports {module}")
    assert not bad, "\n".join(bad)


def test_the_shared_helpers_import_no_subpackage():
    for name in SHARED - {"floss_ref"}:
        path = PACKAGE / (name.split(".")[1] + ".py")
        assert not {m for m in imports(path) if m not in SHARED}, path


CONCRETE = re.compile(r"isinstance\([^)]*\b(VanillaRNN|LSTM|GRU)\b")
NAME_BRANCH = re.compile(r"""(==|!=|\bin)\s*\(?\s*["'](vanilla|lstm|gru)["']|["'](vanilla|lstm|gru)["']\s*(==|!=)""")


def test_no_generic_code_dispatches_on_a_concrete_cell():
    """Outside floss_ref/core/cells/, no isinstance on a concrete cell and no branch on a
    cell's name: cells declare what generic code needs (name, state_per_unit, gates, their
    mpmath step)."""
    bad = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if (PACKAGE / "core" / "cells") in path.parents:
            continue
        for i, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#")[0]
            if CONCRETE.search(code) or NAME_BRANCH.search(code):
                bad.append(f"{path.relative_to(PACKAGE)}:{i}: {line.strip()}")
    assert not bad, "\n".join(bad)


def test_the_patterns_catch_what_they_are_for():
    assert CONCRETE.search("if isinstance(system, VanillaRNN) and x")
    assert NAME_BRANCH.search('n = 2 * N if config.cell == "lstm" else N')
    assert not NAME_BRANCH.search('CELLS = {"vanilla": VanillaRNN}')


def test_cells_declare_what_generic_code_needs():
    from floss_ref import CELLS
    from floss_ref.core.precision.reference import MP_STEPS

    for name, cls in CELLS.items():
        assert cls.name == name
        net = cls.random(3, seed=0)
        assert net.state_size == cls.state_per_unit * 3
        assert net.params["W"].shape[-2] == cls.gates * 3
        assert name in MP_STEPS


@pytest.mark.parametrize("old", sorted(_moved.MOVED))
def test_old_module_paths_import_the_new_modules(old):
    assert importlib.import_module(old) is importlib.import_module(_moved.MOVED[old])


def test_a_name_that_moved_to_the_machinery_names_its_place():
    with pytest.raises(ImportError, match="floss_ref.runs.run"):
        from floss_ref.controls import control_result  # noqa: F401


def test_the_pages_state_what_holds_not_how_it_got_there():
    root = PACKAGE.parent
    pages = [root / "README.md", *sorted((root / "docs").glob("*.md")), root / "validation" / "REPRODUCTION.md",
             root / "validation" / "README.md", root / "validation" / "CRITERIA.md", root / "tests" / "README.md"]
    history = re.compile(r"(?i)\b(issues?|sessions?|previously|no longer|used to be|was changed|"
                         r"earlier (version|session|commit)s?)\b")
    bad = [f"{p.relative_to(root)}:{i}: {line.strip()}" for p in pages
           for i, line in enumerate(p.read_text().splitlines(), 1) if history.search(line)]
    assert not bad, "\n".join(bad)
