"""`backprop-grader kit -o FOLDER`: the student kit, the public half of the grader.

FOLDER gets:
  backprop.py          the student template
  grader/              the grader package minus KIT_DENY and every module that imports a denied one (checked on the
                       source's import statements), so the plugin and the public checks come along, new modules
                       included, and nothing that needs or reveals the reference solution or the buggy backward passes
  rubric.yaml          the instructor's rubric reduced to the items that need no reference, plus sample.values
  sample_values.json   a fixed small problem (X, y, params) and the reference's outputs on it (values only)
  conftest.py, pytest.ini   plain `pytest` in FOLDER grades backprop.py and prints the score table
  README.md            for students
Items that need the reference are absent from the kit's rubric (not failed): the plugin runs without the reference.
"""
from __future__ import annotations

import ast
import fnmatch
import inspect
import json
import shutil
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from grader.checks.sample import SAMPLE_FILE
from grader.contract import PARAM_NAMES
from grader.package import SOURCE_ROOT, source_files
from grader.problems import random_problem
from grader.rubric import Rubric, load_rubric
from grader.writeup import template_path

#: Never in the kit (paths inside grader/): what needs the reference, shows the buggy backward passes or holds the
#: grader's own answers (checks/solution.py), the instructor's commands, and the rubrics and template an installed
#: copy keeps inside the package.
KIT_DENY = ("mutants.py", "checks/solution.py", "checks/*_reference.py", "grading_tests/*_reference.py",
            "__main__.py", "cli.py", "batch.py", "gradescope.py", "package.py", "kit.py",
            "rubrics/*", "student_template/*")
#: Modules the kit must not import (besides the denied files): the reference solution.
DENIED_MODULES = ("reference",)
#: Grading tests the kit runs instead of one that needs the reference.
KIT_TESTS = {"test_part2_reference.py::test_vectorized_with_timing": "test_part2.py::test_vectorized"}
SAMPLE_ITEM = {"id": "sample.values", "title": f"Forward, loss and gradients on the fixed sample ({SAMPLE_FILE})",
               "points": 10, "tests": ["test_sample.py::test_sample_values"]}
#: The kit is public: its seeds must not be the instructor's.
KIT_SALT = "student kit: public, unlike the instructor's salt"
#: The sample problem: sizes all different (a transposed gradient cannot have the right shape), a fixed seed.
SAMPLE_SIZES = {"N": 5, "D": 4, "H": 6, "C": 3}
SAMPLE_SEED = 20240601
#: What of the submission only the instructor's grading tests use, by test (roles of the rubric's entry_points): the
#: kit says when one is still the template's (raises NotImplementedError, or None), without running any of them.
INSTRUCTOR_ONLY_ROLES = {
    "test_part1.py::test_shapes": ("shapes",),
    "test_part3_reference.py::test_grad_check_tolerance": ("grad_check_tol",),
    "test_part3_reference.py::test_grad_check_accepts_correct": ("grad_check",),
    "test_part3_reference.py::test_grad_check_flags_mutants": ("grad_check",),
    "test_part4.py::test_diagnose": ("diagnose",),
    "test_part4_reference.py::test_diagnose_on_real_bugs": ("diagnose",),
}

CONFTEST = '''"""The student kit's pytest setup: plain `pytest` in this folder grades backprop.py with the public
checks of rubric.yaml and prints the score table. `pytest --submission=path/to/other.py` grades another file (with
`=`: with a space, a path outside this folder moves pytest's rootdir there, and this file is never loaded).
Under the table it names the items only your instructor grades, and what of them is not implemented yet."""
import ast
import textwrap
from pathlib import Path

import pytest

KIT = Path(__file__).resolve().parent
pytest_plugins = ["grader.plugin"]
#: The instructor's items that are not in this kit (graded by the instructor only).
INSTRUCTOR_ITEMS = {instructor_items}
#: The functions and values of backprop.py that only those items grade.
INSTRUCTOR_NAMES = {instructor_names}


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    if not config.getoption("--submission"):
        config.option.submission = str(KIT / "backprop.py")
    if not config.getoption("--rubric"):
        config.option.rubric = str(KIT / "rubric.yaml")


@pytest.hookimpl(trylast=True)  # after the score table
def pytest_terminal_summary(terminalreporter, config):
    from grader.plugin import STATE  # here, not above: pytest_plugins imports the plugin first
    run = config.stash.get(STATE, None)
    if run is not None:
        for line in kit_notes(INSTRUCTOR_ITEMS, *unimplemented(run.source.module_path, INSTRUCTOR_NAMES)):
            terminalreporter.write_line(line)


{helpers}'''

PYTEST_INI = """[pytest]
# conftest.py points the grader at backprop.py and rubric.yaml; the score table is printed at the end of the run.
# Where backprop-grader itself is installed, its plugin stays out: this folder's grader/ grades.
addopts = -p no:backprop_grader
"""

README = """# {title}: student kit

Fill in `backprop.py` (the template: every function says what it must return), then run, in this folder:

```
pytest
```

It grades your `backprop.py` with the public checks and prints a score table: per item, your points, passed or
failed, and what differs. For example, when the dscores of `softmax_cross_entropy` lack the 1/N of the mean:

```
{example}
```

The kit says which function and which entries differ from the expected values on a fixed sample problem; your
instructor's full grader also names the likely cause (here: "the 1/N of the mean is missing").

Under the table the kit reminds you that its total covers only the public items, and lists what of the items only
your instructor grades is still as in the template ({names}), e.g. "Not implemented yet (graded by your instructor
only, not checked here): grad_check and diagnose still raise NotImplementedError; GRAD_CHECK_TOL is None."

`pytest -k rel_error` (or `-x`, which stops at the first failure) runs only some of the checks: the items left out
are shown as `not run` and the total is that of the items run ("Total: 4 / 4 of the items run (seed ...); 6 items not
run (-k rel_error)").

`pytest --submission=path/to/other.py` grades another file (write it with `=`: with a space, a path outside this
folder makes pytest look for its settings there, and it stops with "unrecognized arguments: --submission").
Requirements: Python 3.9+, `pip install numpy pytest pytest-timeout pyyaml`.

## What the kit checks

| item | points | what |
|---|---|---|
{items}

`sample.values` compares your `forward`, `softmax_cross_entropy` and `backward` with the expected values on the small
fixed problem in `{sample}` (inputs `X`, `y`, `params`; expected `scores`, `loss`, `dscores`, and `backward`'s loss
and gradients at `reg` 0). Open it to debug by hand: it is the same problem every time.

## What it does not check

Your instructor's grader also compares your functions with a reference solution on random inputs of several sizes,
tests your gradient checker on buggy backward passes, and grades some items by hand. Those items are not in this kit:
{absent}. Passing every item here is a good sign, not a guaranteed score.

The kit holds the grader's public checks (`grader/`), `rubric.yaml` (the items above) and `conftest.py` (which points
pytest at `backprop.py`). Change only `backprop.py`.

## Where the written answers go

{manual} graded by hand, from a file `writeup.md` beside `backprop.py` (hand in both: the folder, or a zip of it), or
else from the module docstring at the top of `backprop.py` once you have replaced the template's (a docstring left
as the template's is not read). The kit does not check them.
"""


#: What the kit prints for the sample item when dscores lack the 1/N (tests/test_kit.py checks that it still does).
SAMPLE_FEEDBACK = ("`softmax_cross_entropy` differs from the expected values on the sample problem "
                   "(sample_values.json, N, D, H, C = 5, 4, 6, 3): dscores[2, 0] is -0.854028 but expected is "
                   "-0.170806 (off by 0.68, allowed 1.7e-10); 15 of 15 entries are off.")
EXAMPLE = "\n".join([
    f"{'sample.values':<24}  {'0/10':>9}  failed   {SAMPLE_FEEDBACK[:71]}...", "...",
    "In full:", "- sample.values (0/10):",
    textwrap.fill(SAMPLE_FEEDBACK, width=116, initial_indent="  ", subsequent_indent="    ", break_on_hyphens=False),
    "    | `backward` differs from the expected values on the sample problem ..."])


def kit_notes(instructor_items: list[str], functions: list[str], values: list[str]) -> list[str]:
    """The lines the kit prints under its score table: its total covers only the public items, the others are the
    instructor's; and what only the instructor grades that is still the template's (`functions` still raising
    NotImplementedError, `values` still None: see unimplemented)."""
    lines = []
    if instructor_items:
        lines.append(f"Public items only: the total above leaves out {', '.join(instructor_items)}, which your "
                     f"instructor grades.")
    left = ([f"{_and(functions)} still raise{'s' if len(functions) == 1 else ''} NotImplementedError"] if functions
            else []) + [f"{name} is None" for name in values]
    if left:
        lines.append(f"Not implemented yet (graded by your instructor only, not checked here): {'; '.join(left)}.")
    return [""] + [textwrap.fill(line, width=116, subsequent_indent="  ", break_on_hyphens=False) for line in lines] \
        if lines else []


def _and(names: list[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def unimplemented(path: Path, names: list[str]) -> tuple[list[str], list[str]]:
    """(functions, values): which of `names` the module at `path` leaves as the template does, read without running
    it: functions whose body only raises NotImplementedError, values assigned None. A name defined no other way is
    left out (it may be imported); a file that does not parse gives nothing (its score table says why)."""
    try:
        tree = ast.parse(Path(path).read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return [], []
    last = {}  # the module's last definition of each name wins, as at import
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            last[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                if isinstance(target, ast.Name):
                    last[target.id] = node.value
    functions = [name for name in names if isinstance(last.get(name), (ast.FunctionDef, ast.AsyncFunctionDef))
                 and _only_raises_not_implemented(last[name])]
    values = [name for name in names if isinstance(last.get(name), ast.Constant) and last[name].value is None]
    return functions, values


def _only_raises_not_implemented(function: ast.AST) -> bool:
    """Whether the function's body, its docstring and `pass` aside, is only `raise NotImplementedError[(...)]`."""
    body = [node for node in function.body if not isinstance(node, ast.Pass) and not (
        isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str))]
    if len(body) != 1 or not isinstance(body[0], ast.Raise) or body[0].exc is None:
        return False
    raised = body[0].exc.func if isinstance(body[0].exc, ast.Call) else body[0].exc
    return isinstance(raised, ast.Name) and raised.id == "NotImplementedError"


def conftest_text(instructor_items: list[str], instructor_names: list[str]) -> str:
    """The kit's conftest.py: CONFTEST with the instructor's items and names, and the functions that print the notes
    under the score table (kit_notes, unimplemented: their source, since kit.py itself stays out of the kit)."""
    helpers = "\n\n".join(inspect.getsource(function)
                           for function in (kit_notes, _and, unimplemented, _only_raises_not_implemented))
    return CONFTEST.format(instructor_items=_python_list(instructor_items),
                           instructor_names=_python_list(instructor_names), helpers=helpers)


def _python_list(names: list[str]) -> str:
    """A list of strings as Python source, wrapped: one line when it fits, else one line per run of names."""
    text = ", ".join(repr(name) for name in names)
    if len(text) < 90:
        return f"[{text}]"
    return "[\n" + textwrap.fill(text, width=116, initial_indent="    ", subsequent_indent="    ") + ",\n]"


def instructor_only(rubric: Rubric, kit_ids: set[str]) -> tuple[list[str], list[str]]:
    """(the ids of the rubric's items the kit leaves out, the names in the submission that only those items grade,
    bonus items aside: an optional bonus left as the template's is no omission), in the rubric's order."""
    items = [item.id for item in rubric.items if item.id not in kit_ids]
    roles = {role for item in rubric.items if item.id not in kit_ids and not item.bonus for test in item.tests
             for role in INSTRUCTOR_ONLY_ROLES.get(test, ())}
    return items, [name for role, name in rubric.entry_points.items() if role in roles]  # in the contract's order


def kit_files(grader_dir: Path) -> list[Path]:
    """The grader package's files that go into the kit (relative to grader_dir's parent), by rule: every source
    file, minus KIT_DENY, minus every module importing a denied module (repeated until nothing changes)."""
    root, every = grader_dir.parent, source_files(grader_dir.parent, (grader_dir.name,))
    files = [path for path in every
             if not any(fnmatch.fnmatch(path.relative_to(grader_dir.name).as_posix(), rule) for rule in KIT_DENY)]
    denied = set(DENIED_MODULES) | {_module_name(path) for path in every if path.suffix == ".py" and path not in files}
    imports = {path: _imports(root / path, _module_name(path)) for path in files if path.suffix == ".py"}
    while True:
        importing = {path for path, names in imports.items() if any(_within(name, denied) for name in names)}
        if not importing:
            return files
        denied |= {_module_name(path) for path in importing}
        files = [path for path in files if path not in importing]
        imports = {path: names for path, names in imports.items() if path not in importing}


def _module_name(path: Path) -> str:
    """grader/checks/part2.py -> grader.checks.part2; grader/checks/__init__.py -> grader.checks."""
    parts = path.with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _within(name: str, modules: set) -> bool:
    return any(name == module or name.startswith(module + ".") for module in modules)


def _imports(path: Path, module: str) -> set[str]:
    """Every module an import statement of the file names (anywhere in it; `from a import b` names a and a.b)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _manual_items(rubric: Rubric) -> str:
    """The README's words for the rubric's manual items: "Your written answers, `part1.derivation` (Derivation of the
    gradients) and `part4.writeup` (...), are"; "Your written answers are" when it has none."""
    manual = [f"`{item.id}` ({item.title.replace(' (graded by hand)', '')})" for item in rubric.items if item.manual]
    if not manual:
        return "Your written answers are"
    return f"Your written answers, {manual[0] if len(manual) == 1 else _and(manual)}, are"


def kit_rubric(rubric: Rubric, grading_tests: set[str]) -> dict[str, Any]:
    """The kit's rubric: the autograded items whose tests exist in the kit (KIT_TESTS replacing those that need the
    reference), sample.values after the Part 2 items, the instructor's limits and names, a public salt."""
    items = []
    for item in rubric.items:
        tests = [test for test in (KIT_TESTS.get(t, t) for t in item.tests) if test.split("::")[0] in grading_tests]
        if item.manual or not tests:
            continue
        items.append({"id": item.id, "title": item.title, "points": item.points, "tests": tests,
                      "scoring": item.scoring, **({"bonus": True} if item.bonus else {})})
    after_part2 = max((i + 1 for i, item in enumerate(items) if item["id"].startswith("part2.")), default=len(items))
    items.insert(after_part2, SAMPLE_ITEM)
    return {"title": f"{rubric.title} (student kit: public checks only)", "submission": rubric.submission,
            "entry_points": dict(rubric.entry_points), "reg_convention": rubric.reg_convention,
            "time_limits": dict(rubric.time_limits), "salt": KIT_SALT, "items": items}


def sample_values(reference: Any) -> dict[str, Any]:
    """The fixed sample problem and the reference's outputs on it, as JSON-ready lists (floats round-trip exactly)."""
    problem = random_problem(np.random.default_rng(SAMPLE_SEED), *SAMPLE_SIZES.values(), both_states=1)
    p = problem.copy()
    scores = reference.forward(p.X, p.params)[0]
    loss, dscores = reference.softmax_cross_entropy(scores.copy(), p.y.copy())
    backward_loss, grads = reference.backward(p.X, p.y, p.params, 0.0)
    return {"sizes": SAMPLE_SIZES, "X": problem.X.tolist(), "y": problem.y.tolist(),
            "params": {name: problem.params[name].tolist() for name in PARAM_NAMES}, "reg": 0.0,
            "scores": scores.tolist(), "loss": float(loss), "dscores": dscores.tolist(),
            "backward": {"loss": float(backward_loss), "grads": {name: grads[name].tolist() for name in PARAM_NAMES}}}


def build_kit(rubric: Rubric, folder: Path, grader_dir: Path = SOURCE_ROOT / "grader") -> dict[str, Any]:
    """Write the kit into `folder` (new or empty); the kit's rubric. Raises FileExistsError for a folder with files
    (a student's work is never overwritten), ImportError where the reference solution is not installed."""
    from reference import backprop as reference_solution  # the instructor's: only its outputs go into the kit
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        raise FileExistsError(f"{folder} is not empty: build the kit into a new folder")
    if rubric.class_api is not None:
        raise ValueError(f"{rubric.path}: the kit is for the function-based exercise (its template), not a class API")
    files = kit_files(grader_dir)
    for relative in files:
        (folder / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(grader_dir.parent / relative, folder / relative)
    grading_tests = {path.name for path in files if path.parent.name == "grading_tests"}
    data = kit_rubric(rubric, grading_tests)
    (folder / "rubric.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    load_rubric(folder / "rubric.yaml")  # a kit with an invalid rubric is never handed out
    values = sample_values(reference_solution)  # one line per entry: readable, and arrays keep their rows together
    (folder / SAMPLE_FILE).write_text("{\n" + ",\n".join(f" {json.dumps(key)}: {json.dumps(value)}"
                                                         for key, value in values.items()) + "\n}\n", encoding="utf-8")
    shutil.copyfile(template_path(), folder / rubric.submission)
    kit_ids = {item["id"] for item in data["items"]}
    instructor_items, instructor_names = instructor_only(rubric, kit_ids)
    (folder / "conftest.py").write_text(conftest_text(instructor_items, instructor_names), encoding="utf-8")
    (folder / "pytest.ini").write_text(PYTEST_INI, encoding="utf-8")
    original = {item.id: list(item.tests) for item in rubric.items}
    partial = " (part of its checks: the others need the reference)"
    rows = "\n".join(f"| {item['id']} | {item['points']:g} | {item['title']}"
                     f"{partial if original.get(item['id'], item['tests']) != item['tests'] else ''} |"
                     for item in data["items"])
    absent = ", ".join(f"`{item.id}`" for item in rubric.items if item.id not in kit_ids) or "none"
    names = ", ".join(f"`{name}`" for name in instructor_names) or "none"
    (folder / "README.md").write_text(README.format(title=rubric.title, items=rows, example=EXAMPLE,
                                                    sample=SAMPLE_FILE, absent=absent, names=names,
                                                    manual=_manual_items(rubric)), encoding="utf-8")
    return data
