"""Stand-ins for modules that course files import but grading needs nothing of (matplotlib, `past` from the
`future` package), used only when the real module is missing, so such a file does not score 0 for an import.

`install(names)` puts a finder first on sys.meta_path; it answers for those top-level names (and their submodules)
only when no other finder can. BACKPROP_GRADER_HIDE_MODULES (comma-separated) makes it answer even when the real
module is installed: the grader's own tests use it to grade as a clean environment would.
"""
from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import os
import sys
import types
from typing import Iterable


class _Inert:
    """Anything plotting code does with it works and does nothing: calls, attributes, items
    (plt.rcParams['figure.figsize'] = ...), unpacking (fig, ax = plt.subplots()), `with` blocks."""

    def __call__(self, *args, **kwargs):
        return self

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return self

    def __getitem__(self, key):
        return self

    def __setitem__(self, key, value):
        pass

    def __iter__(self):
        return iter((self, self))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _old_div(a, b):
    """past.utils.old_div: Python 2 division (floor for integers)."""
    import numbers
    return a // b if isinstance(a, numbers.Integral) and isinstance(b, numbers.Integral) else a / b


_PAST_BUILTINS = {"xrange": range, "basestring": str, "unicode": str, "long": int, "raw_input": input,
                  "reduce": functools.reduce, "unichr": chr, "cmp": lambda a, b: (a > b) - (a < b),
                  "range": range, "map": map, "zip": zip, "filter": filter, "str": str, "dict": dict, "chr": chr,
                  "intern": sys.intern, "execfile": None, "apply": lambda f, args=(), kw=None: f(*args, **(kw or {}))}
#: The modules stood in for: every matplotlib module; these of `past` and `future`.
_KNOWN = {"past", "past.builtins", "past.utils", "future", "future.utils", "future.standard_library"}


class _StandInLoader(importlib.abc.Loader):
    def create_module(self, spec):
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        module.__path__ = []  # a package: its submodules are stood in for too
        module.__stand_in__ = True
        name = module.__name__
        if name == "past.builtins":
            module.__dict__.update({k: v for k, v in _PAST_BUILTINS.items() if v is not None})
        elif name == "past.utils":
            module.old_div = _old_div
        elif name in ("future", "future.standard_library"):
            module.install_aliases = lambda: None
            if name == "future":
                module.standard_library = types.SimpleNamespace(install_aliases=lambda: None)
        elif name.split(".")[0] == "matplotlib":
            module.__getattr__ = lambda attribute: _Inert()


class StandInFinder(importlib.abc.MetaPathFinder):
    def __init__(self, names: Iterable[str], hidden: Iterable[str] = ()):
        self.names, self.hidden = set(names), set(hidden)

    def find_spec(self, fullname, path=None, target=None):
        top = fullname.split(".")[0]
        if top in self.hidden and top not in self.names:
            raise ModuleNotFoundError(f"No module named {fullname!r}", name=fullname)
        if top not in self.names or (top != "matplotlib" and fullname not in _KNOWN):
            return None
        if top not in self.hidden:
            for finder in sys.meta_path:
                if finder is not self and not isinstance(finder, StandInFinder):
                    real = finder.find_spec(fullname, path, target) if hasattr(finder, "find_spec") else None
                    if real is not None:
                        return None
        return importlib.machinery.ModuleSpec(fullname, _StandInLoader(), is_package=True)


def install(names: Iterable[str]) -> None:
    """Stand in for `names` when missing; hide the modules named in BACKPROP_GRADER_HIDE_MODULES (missing, or
    stood in for when they are among `names`)."""
    names = list(names)
    hidden = {n for n in os.environ.get("BACKPROP_GRADER_HIDE_MODULES", "").split(",") if n}
    if names or hidden:
        sys.meta_path.insert(0, StandInFinder(names, hidden))
