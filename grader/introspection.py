"""Find code in a submission that can reach into the interpreter: frames, the module registry, the garbage collector,
function internals, raw memory, dynamic code and imports.

Some measurements are taken in the submission's own process (grader.worker.probes: line and array counts, peak
memory), where the submission could rewrite the code that takes them, and every such rewrite has to find the
worker's objects first: through a frame (`sys._getframe().f_back.f_globals`), `sys.modules`, `gc.get_objects()`, a
handed-over function's `__globals__` or method's `__self__`, `ctypes`, a module imported or run by name
(`importlib`, `runpy`, ...), or code built at run time to hide one of these (`exec`, `eval`,
`getattr(sys, "_getframe")`). None of them has a use in this exercise. The grader reads the submission's files
itself, in its own process, before the worker runs any of it; a submission that uses one gets no credit that rests on
those measurements (grader.student.Submission._measure).

What is read: the module the grader imports, the packages it sits in, and every file of the submission's folder
that these import statically (`import x.y`, `from x import y`, `from . import y`, `from .x import *`), transitively.
Nothing else: the worker puts the folder after the standard library and the installed packages on sys.path, so a
file of the folder named like one of those (`json.py`, a scratch `test.py`) cannot stand in for it, and the files
nothing imports (the student's own tests, scripts) never run in the worker. Importing by a computed name needs one of
the constructs above.

A string equal to a distinctive name (`"_getframe"`, `"f_back"`, `"__globals__"`, `"ctypes"`, `"importlib"`,
`"__import__"`, ...) counts wherever it is. A string that is also an ordinary word (`"eval"`, `"exec"`, `"compile"`,
`"globals"`, `"vars"`, `"gc"`, `"inspect"`, `"monitoring"`, ...) counts only where a string is turned into a name
lookup: the attribute name given to `getattr`, `hasattr`, `setattr` or `delattr` (of any object, second argument or
`name=`; also `__getattribute__`, `operator.attrgetter`, `operator.methodcaller`), an argument of `__import__` or
`import_module`, and the key of a subscript (or of `.get`, `.pop`, `.setdefault`) of a namespace: `__builtins__`,
`builtins`, `vars(...)`, `globals()`, `locals()`, `sys.modules`, any `__dict__`, or what is reached from one
(`builtins.__dict__["exec"]`, `vars(builtins)["eval"]`, `sys.modules["builtins"].__dict__.get("exec")`). Data is
left alone: a dict key (`history["eval"]`), a call's argument (`choices=["check", "eval"]`, `run(mode="eval")`), a
comparison (`mode not in ("train", "eval")`), a docstring, a dict literal or an f-string.

This closes the direct routes; code obfuscated past a static reading (computed attribute names on objects it already
holds, such as `getattr(sys, "_get" + "frame")`) is not seen, and the README says so.
"""
from __future__ import annotations

import ast
from pathlib import Path
from typing import Iterable, Optional

#: Attributes that lead to frames, other modules' globals, or the object graph.
REACHING_ATTRIBUTES = frozenset({
    "_getframe", "_current_frames", "f_back", "f_globals", "f_locals", "f_builtins", "f_code", "tb_frame",
    "gi_frame", "cr_frame", "ag_frame", "__globals__", "__closure__", "__code__", "__subclasses__", "__builtins__",
    "__self__", "settrace", "setprofile", "monitoring",
})
#: Modules whose whole purpose is introspection, raw memory, or importing or running code by name.
REACHING_MODULES = frozenset({"gc", "ctypes", "inspect", "importlib", "_ctypes", "_testcapi", "pydoc", "runpy",
                              "pkgutil", "zipimport", "imp"})
#: Built-in functions that run code built from strings, or hand over another namespace.
REACHING_BUILTINS = frozenset({"exec", "eval", "compile", "__import__", "globals", "vars", "breakpoint"})
#: Reaching names that are also ordinary words: as strings they count only where a string becomes a name lookup.
ORDINARY_WORDS = frozenset({"exec", "eval", "compile", "globals", "vars", "breakpoint", "gc", "inspect", "pydoc",
                            "imp", "monitoring"})
#: Strings that count wherever they are: no honest program writes them as data.
DISTINCTIVE_NAMES = (REACHING_ATTRIBUTES | REACHING_MODULES | REACHING_BUILTINS) - ORDINARY_WORDS
#: Attributes that hand over a whole reaching module when read from another module (`np._core.overrides.inspect`).
MODULE_ATTRIBUTES = REACHING_MODULES | {"builtins"}
#: Calls that look up the attribute their string names, with the positions of the name among their positional
#: arguments: `getattr(builtins, "eval")`, `object.__getattribute__(builtins, "eval")`, `attrgetter("eval")`.
ATTRIBUTE_LOOKUPS = {"getattr": slice(1, 2), "hasattr": slice(1, 2), "setattr": slice(1, 2),
                     "delattr": slice(1, 2), "__getattribute__": slice(None), "attrgetter": slice(None),
                     "methodcaller": slice(0, 1)}
#: Calls that import the module their string names (every argument counts: `__import__("x", fromlist=["gc"])`).
IMPORT_CALLS = frozenset({"__import__", "import_module"})
#: Built-ins that hand over a namespace: a dict whose keys are names.
NAMESPACE_CALLS = frozenset({"vars", "globals", "locals"})
#: Dict methods that look up their first argument as a key.
KEY_LOOKUPS = frozenset({"get", "pop", "setdefault", "__getitem__"})


def find_introspection(module: Path, root: Optional[Path] = None,
                       files: Optional[Iterable[Path]] = None) -> Optional[str]:
    """The first use of a reaching construct in the files the submission's module can import, as
    "backprop.py line 7: `sys._getframe`"; None when there is none.

    `module` is the file the grader imports, `root` the import root (its folder by default; names are given relative
    to it), `files` every file of the submission (by default every .py file under `root`): of these, only the module,
    its packages' __init__.py and what they import statically (transitively) are read (see the module docstring).
    Files that do not parse are left to the import, which reports them."""
    module = Path(module).resolve()
    root = Path(root).resolve() if root is not None else module.parent
    available = {Path(p).resolve() for p in (files if files is not None else root.rglob("*.py"))}
    available = {p for p in available | {module} if p.suffix == ".py"}
    trees = _read_files(module, root, available)
    for path in sorted(trees):
        found = _first_reach(trees[path]) if trees[path] is not None else None
        if found is not None:
            line, what = found
            name = path.relative_to(root).as_posix() if path.is_relative_to(root) else path.name
            return f"{name} line {line}: `{what}`"
    return None


# ------------------------------------------------------------------------------------ which files are read
def _parse(path: Path) -> Optional[ast.AST]:
    try:
        return ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError, OSError):
        return None


def _read_files(module: Path, root: Path, available: set) -> dict:
    """{path: its syntax tree, None when it does not parse} for the module, its packages' __init__.py, and what
    these import from the folder, transitively."""
    folders = {parent for path in available for parent in path.parents if parent.is_relative_to(root)}

    def files_of(parts: tuple) -> list:
        """The files `import a.b.c` runs (a/__init__.py, a/b/__init__.py, then a/b/c/__init__.py or a/b/c.py) when
        they are in the folder; none when the name is not in the folder (numpy)."""
        found = []
        for k in range(1, len(parts) + 1):
            base = root.joinpath(*parts[:k])
            here = [p for p in (base / "__init__.py", base.with_name(parts[k - 1] + ".py")) if p in available]
            if not here and base not in folders:  # neither a module, a package nor a namespace folder here
                break
            found += here
        return found

    def package_of(path: Path) -> Optional[tuple]:
        """The dotted name (as parts) of the package `path` sits in, relative to root; None outside root."""
        return path.parent.relative_to(root).parts if path.parent.is_relative_to(root) else None

    queue = [module]
    if module.is_relative_to(root):  # importing a.b.c runs a/__init__.py and a/b/__init__.py first
        queue += files_of(module.relative_to(root).with_suffix("").parts)
    seen: dict = {}
    while queue:
        path = queue.pop()
        if path in seen:
            continue
        tree = seen[path] = _parse(path)
        if tree is None:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    queue += files_of(tuple(alias.name.split(".")))
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    package = package_of(path)
                    if package is None or node.level - 1 > len(package):
                        continue
                    base = package[:len(package) - (node.level - 1)]
                else:
                    base = ()
                parts = base + tuple(node.module.split(".") if node.module else ())
                target = files_of(parts) if parts else []
                queue += target
                names = [alias.name for alias in node.names]
                if names == ["*"]:  # a package's __all__ may name its submodules
                    names = [n for init in target if init.name == "__init__.py" and init.parent == root.joinpath(
                        *parts) for n in _all_names(init)]
                for name in names:
                    queue += files_of(parts + (name,))
    return seen


def _all_names(path: Path) -> list:
    """The strings of a literal `__all__` in the file."""
    tree = _parse(path)
    names: list = []
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, (ast.Assign, ast.AugAssign)) and isinstance(node.value, (ast.List, ast.Tuple)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets):
                names += [e.value for e in node.value.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return names


# ------------------------------------------------------------------------------------ what counts as reaching
def _first_reach(tree: ast.AST) -> Optional[tuple[int, str]]:
    """(line, the construct) of the earliest reaching construct in the tree, or None."""
    names = _Names(tree)
    lookups = _lookup_strings(tree, names)
    found = [(node.lineno, node.col_offset, hit) for node in ast.walk(tree)
             for hit in [_reach(node, names, lookups)] if hit is not None]
    return min(found)[::2] if found else None


class _Names:
    """What the file's own names are: the ones it binds itself (a variable called `vars` is not the built-in), the
    ones it imports (roots of module chains), and its names for `sys` and `builtins` (`import sys as s`)."""

    def __init__(self, tree: ast.AST):
        self.bound: set = set()
        self.imported: set = set()
        self.sys = {"sys"}
        self.builtins = {"builtins", "__builtins__"}
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                self.bound.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.bound.add(node.name)
            elif isinstance(node, ast.arg):
                self.bound.add(node.arg)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    name = alias.asname or alias.name.split(".")[0]
                    self.imported.add(name)
                    if alias.name in ("sys", "builtins") and (isinstance(node, ast.ImportFrom) or alias.asname):
                        (self.sys if alias.name == "sys" else self.builtins).add(name)


def _lookup_strings(tree: ast.AST, names: _Names) -> set:
    """ids of the string constants that sit where a string is turned into a name lookup (_lookup_arguments, a
    subscript of a namespace), or inside a list, tuple, set, conditional or `or` that sits there."""
    found: set = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.Constant):
            found.add(id(node))
        elif isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            for element in node.elts:
                visit(element)
        elif isinstance(node, ast.Starred):
            visit(node.value)
        elif isinstance(node, ast.IfExp):
            visit(node.body)
            visit(node.orelse)
        elif isinstance(node, ast.BoolOp):
            for value in node.values:
                visit(value)

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            for argument in _lookup_arguments(node, names):
                visit(argument)
        elif isinstance(node, ast.Subscript) and _in_namespace(node.value, names):
            visit(node.slice)
    return found


def _lookup_arguments(call: ast.Call, names: _Names) -> list:
    """The arguments of `call` that name what it looks up: the attribute name of getattr and its kind
    (ATTRIBUTE_LOOKUPS, or `name=`), every argument of an import by name, the key of `.get` and its kind on a
    namespace (`vars(builtins).get("eval")`); none for any other call (`run(mode="eval")`)."""
    func = call.func
    called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else None
    if called in ATTRIBUTE_LOOKUPS:
        return call.args[ATTRIBUTE_LOOKUPS[called]] + [k.value for k in call.keywords if k.arg == "name"]
    if called in IMPORT_CALLS:
        return [*call.args, *(k.value for k in call.keywords)]
    if called in KEY_LOOKUPS and isinstance(func, ast.Attribute) and _in_namespace(func.value, names):
        return call.args[:1]
    return []


def _in_namespace(node: ast.AST, names: _Names) -> bool:
    """Whether `node` is, or is reached from, a namespace whose keys are names: `__builtins__`, `builtins`,
    `vars(...)`, `globals()`, `locals()`, `sys.modules`, or any `__dict__` (`sys.modules["builtins"].__dict__`,
    `globals().copy()`); not a dict of the program's own (`history`, `params["W1"]`)."""
    while True:
        if isinstance(node, ast.Name):
            return node.id in names.builtins
        if isinstance(node, ast.Attribute):
            if node.attr == "__dict__" or (node.attr == "modules" and isinstance(node.value, ast.Name) and (
                    node.value.id in names.sys)):
                return True
            node = node.value
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Name) and node.func.id in NAMESPACE_CALLS and (
                    node.func.id not in names.bound):
                return True
            node = node.func
        elif isinstance(node, ast.Subscript):
            node = node.value
        else:
            return False


def _reach(node: ast.AST, names: _Names, lookups: set) -> Optional[str]:
    """The construct `node` is, when it is a reaching one."""
    if isinstance(node, ast.Attribute):
        if _reaching_attribute(node.value, node.attr, names):
            return f"{_dotted(node.value)}.{node.attr}"
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "getattr" and (
            "getattr" not in names.bound) and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) and (
            isinstance(node.args[1].value, str)) and node.args[1].value not in DISTINCTIVE_NAMES and (
            _reaching_attribute(node.args[0], node.args[1].value, names)):
        return f"getattr({_dotted(node.args[0])}, {node.args[1].value!r})"  # getattr(sys, "modules")
    elif isinstance(node, ast.Import):
        for alias in node.names:
            if alias.name.split(".")[0] in REACHING_MODULES:
                return f"import {alias.name}"
    elif isinstance(node, ast.ImportFrom):
        module = node.module or ""
        if module.split(".")[0] in REACHING_MODULES:
            return f"from {module} import ..."
        for alias in node.names:
            if alias.name in REACHING_ATTRIBUTES or alias.name in REACHING_MODULES or (
                    module == "sys" and alias.name == "modules") or (
                    module == "builtins" and alias.name in REACHING_BUILTINS):
                return f"from {'.' * node.level}{module} import {alias.name}"
    elif isinstance(node, ast.Name) and (node.id in REACHING_BUILTINS or node.id == "__builtins__") and (
            node.id not in names.bound):
        return node.id
    elif isinstance(node, ast.Constant) and isinstance(node.value, str) and (
            node.value in DISTINCTIVE_NAMES or (node.value in ORDINARY_WORDS and id(node) in lookups)):
        return repr(node.value)  # getattr(sys, "_getframe"), vars(builtins)["exec"], import_module("gc")
    return None


def _reaching_attribute(owner: ast.AST, attr: str, names: _Names) -> bool:
    """Whether reading `attr` from `owner` reaches: a reaching attribute of anything, `modules` or `__dict__` of
    sys, a reaching built-in or `__dict__` of builtins, or a reaching module held by a module (`np.x.inspect`)."""
    last = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else None
    root = owner
    while isinstance(root, ast.Attribute):
        root = root.value
    return attr in REACHING_ATTRIBUTES or (
        last in names.sys and attr in ("modules", "__dict__")) or (
        last in names.builtins and (attr in REACHING_BUILTINS or attr == "__dict__")) or (
        attr in MODULE_ATTRIBUTES and isinstance(root, ast.Name) and root.id in names.imported)


def _dotted(node: ast.AST) -> str:
    """`sys`, `frame.f_back`, ... for the expression an attribute is read from; `...` for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return "..."
