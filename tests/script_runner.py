"""Running a validation script in this process, for the tests: import it fresh from
its folder under validation/ and call its ``main`` with an argument list, capturing what it prints; and a
tiny training configuration to patch into its SCALE table."""

import importlib
import io
import pathlib
import sys
from contextlib import redirect_stdout

VALIDATION = pathlib.Path(__file__).resolve().parents[1] / "validation"

# a tiny training configuration for the scripts' SCALE tables (floss_at inside the run)
TINY_CONFIG = dict(N=6, T=24, epochs=40, k=3, floss_epochs=2, floss_T=8, floss_transient=2, diag_every=10,
                   floss_at=(0, 20))


FOLDERS = ("paper", "bench", "reliability", "independent")


def scripts():
    """The names of every validation script: validation/*.py and validation/<folder>/*.py,
    without the private modules (``_common``, ``_jax_cells``)."""
    files = [*VALIDATION.glob("*.py"), *(p for folder in FOLDERS for p in (VALIDATION / folder).glob("*.py"))]
    return sorted(p.stem for p in files if not p.stem.startswith("_"))


def path(name):
    """The file of the validation script ``name`` (validation/ itself or its folder: paper/, bench/, ...)."""
    found = [VALIDATION / folder / f"{name}.py" for folder in ("", *FOLDERS)
             if (VALIDATION / folder / f"{name}.py").exists()]
    if len(found) != 1:
        raise FileNotFoundError(f"validation script {name!r}: {len(found)} files in {', '.join(FOLDERS)}")
    return found[0]


def load(name, monkeypatch):
    """The module validation/<folder>/<name>.py, imported afresh (so that patches do not leak)."""
    monkeypatch.syspath_prepend(str(VALIDATION))
    monkeypatch.syspath_prepend(str(path(name).parent))
    sys.modules.pop(name, None)
    return importlib.import_module(name)


def run(module, argv):
    """(exit code, printed text) of ``module.main(argv)``."""
    out = io.StringIO()
    with redirect_stdout(out):
        code = module.main(argv)
    return (code or 0), out.getvalue()
