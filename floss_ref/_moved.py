"""Short module paths of floss_ref, as aliases of the modules in its subpackages.

floss_ref's modules live in subpackages (``core``, ``experiments``, ``runs``, ``kit``,
``cli``).  ``import floss_ref.qr`` gives the module ``floss_ref.core.qr`` itself (the same
object, not a copy), and likewise for every path on the left of :data:`MOVED`.  Code in
floss_ref uses the paths on the right.
"""

import importlib
import importlib.abc
import importlib.util
import sys

MOVED = {
    "floss_ref.maps": "floss_ref.core.maps",
    "floss_ref.cells": "floss_ref.core.cells",
    "floss_ref.qr": "floss_ref.core.qr",
    "floss_ref.lyapunov": "floss_ref.core.lyapunov",
    "floss_ref.lyapunov_stats": "floss_ref.core.lyapunov_stats",
    "floss_ref.flossing": "floss_ref.core.flossing",
    "floss_ref.clv": "floss_ref.core.clv",
    "floss_ref.precision": "floss_ref.core.precision",
    "floss_ref.tasks": "floss_ref.experiments.tasks",
    "floss_ref.bptt": "floss_ref.experiments.bptt",
    "floss_ref.optim": "floss_ref.experiments.optim",
    "floss_ref.driver": "floss_ref.experiments.driver",
    "floss_ref.controls": "floss_ref.experiments.controls",
    "floss_ref.training": "floss_ref.runs.run",
    "floss_ref.checkpoint": "floss_ref.runs.checkpoint",
    "floss_ref.sweep": "floss_ref.runs.sweep",
    "floss_ref._io": "floss_ref.runs.io",
    "floss_ref.gradcheck": "floss_ref.kit.gradcheck",
    "floss_ref.vectors": "floss_ref.kit.vectors",
    "floss_ref.cli_train": "floss_ref.cli.train",
    "floss_ref.cli_options": "floss_ref.cli.options",
    "floss_ref.plotting": "floss_ref.cli.plotting",
}


def new_name(name):
    """The module that ``name`` stands for (``name`` itself if it is not an alias)."""
    for old, new in MOVED.items():
        if name == old or name.startswith(old + "."):
            return new + name[len(old):]
    return name


class _Alias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds an alias module path and loads it as the module it stands for."""

    def find_spec(self, fullname, path=None, target=None):
        new = new_name(fullname)
        if new == fullname:
            return None
        return importlib.util.spec_from_loader(fullname, self, is_package=False)

    def create_module(self, spec):
        try:
            return importlib.import_module(new_name(spec.name))
        except ModuleNotFoundError as exc:
            raise ImportError(f"{spec.name} is now {new_name(spec.name)}, which cannot be imported: {exc}",
                              name=spec.name) from exc

    def exec_module(self, module):
        pass  # the module it stands for is already executed


def install():
    if not any(isinstance(f, _Alias) for f in sys.meta_path):
        sys.meta_path.insert(0, _Alias())  # before the path finder, which would load a second copy
