"""Find code in a submission that can reach into the interpreter: frames, the module registry, the garbage collector,
function internals, raw memory, dynamic code.

Some measurements are taken in the submission's own process (grader.worker.probes: line and array counts, peak
memory), where the submission could rewrite the code that takes them, and every such rewrite has to find the
worker's objects first: through a frame (`sys._getframe().f_back.f_globals`), `sys.modules`, `gc.get_objects()`, a
handed-over function's `__globals__`, `ctypes`, or code built at run time to hide one of these (`exec`, `eval`,
`getattr(sys, "_getframe")`). None of them has a use in this exercise. The grader reads the submission's files
itself, in its own process, before the worker runs any of it; a submission that uses one gets no credit that rests on
those measurements (grader.student.Submission._measure).

This closes the direct routes; code obfuscated past a static reading (computed attribute names on objects it already
holds) is not seen, and the README says so.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterable, Optional

#: Attributes that lead to frames, other modules' globals, or the object graph.
REACHING_ATTRIBUTES = frozenset({
    "_getframe", "_current_frames", "f_back", "f_globals", "f_locals", "f_builtins", "f_code", "tb_frame",
    "gi_frame", "cr_frame", "ag_frame", "__globals__", "__closure__", "__code__", "__subclasses__", "__builtins__",
    "settrace", "setprofile", "monitoring",
})
#: Modules whose whole purpose is introspection, raw memory or importing by name.
REACHING_MODULES = frozenset({"gc", "ctypes", "inspect", "importlib", "_ctypes", "_testcapi", "pydoc"})
#: Built-in functions that run code built from strings, or hand over another namespace.
REACHING_BUILTINS = frozenset({"exec", "eval", "compile", "__import__", "globals", "vars", "breakpoint"})


def find_introspection(files: Iterable[Path], root: Optional[Path] = None) -> Optional[str]:
    """The first use of a reaching construct in the .py files, as "backprop.py line 7: `sys._getframe`"; None when
    there is none. Files that do not parse are left to the import, which reports them."""
    for path in sorted(files):
        if path.suffix != ".py":
            continue
        try:
            tree = ast.parse(path.read_bytes(), filename=str(path))
        except (SyntaxError, ValueError, OSError):
            continue
        found = _first_reach(tree)
        if found is not None:
            line, what = found
            name = path.relative_to(root).as_posix() if root is not None and path.is_relative_to(root) else path.name
            return f"{name} line {line}: `{what}`"
    return None


def _first_reach(tree: ast.AST) -> Optional[tuple[int, str]]:
    """(line, the construct) of the earliest reaching construct in the tree, or None."""
    bound = _bound_names(tree)
    found = [(node.lineno, node.col_offset, hit) for node in ast.walk(tree) for hit in [_reach(node, bound)]
             if hit is not None]
    return min(found)[::2] if found else None


def _bound_names(tree: ast.AST) -> set:
    """Names the file binds itself (a variable called `vars` is not the built-in)."""
    bound = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return bound


def _reach(node: ast.AST, bound: set) -> Optional[str]:
    """The construct `node` is, when it is a reaching one."""
    if isinstance(node, ast.Attribute):
        owner = node.value.id if isinstance(node.value, ast.Name) else None
        if node.attr in REACHING_ATTRIBUTES or (owner in ("builtins", "__builtins__") and node.attr in
                                                 REACHING_BUILTINS) or (owner == "sys" and node.attr == "modules"):
            return f"{_dotted(node.value)}.{node.attr}"
    elif isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name.split(".")[0] in REACHING_MODULES:
                return f"import {alias.name}"
    elif isinstance(node, ast.ImportFrom):
        module = node.module or ""
        if module.split(".")[0] in REACHING_MODULES:
            return f"from {module} import ..."
        for alias in node.names:
            if alias.name in REACHING_ATTRIBUTES or (module == "sys" and alias.name == "modules") or (
                    module == "builtins" and alias.name in REACHING_BUILTINS):
                return f"from {module} import {alias.name}"
    elif isinstance(node, ast.Name) and (node.id in REACHING_BUILTINS or node.id == "__builtins__") and (
            node.id not in bound):
        return node.id
    elif isinstance(node, ast.Constant) and isinstance(node.value, str) and (
            node.value in REACHING_ATTRIBUTES or node.value in REACHING_BUILTINS or node.value in REACHING_MODULES):
        return repr(node.value)  # getattr(sys, "_getframe"), __builtins__["exec"], import_module("gc")
    return None


def _dotted(node: ast.AST) -> str:
    """`sys`, `frame.f_back`, ... for the expression an attribute is read from; `...` for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return "..."
