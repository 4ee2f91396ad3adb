"""`backprop-grader kit`: the student kit holds the template, the public checks and sample values, imports neither the
reference nor the mutants, grades with plain `pytest` where the instructor's package is not importable, and none
of its files earns the backward items under the instructor's rubric."""
from __future__ import annotations

import ast
import csv
import importlib.metadata
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import FAST_LIMITS, REPO, SUBMISSIONS, TEST_LIMITS, mutate, rubric_of, run_cli
from grader import student
from grader.kit import SAMPLE_FEEDBACK, kit_files, unimplemented
from grader.rubric import load_rubric
from grader.worker.client import START_VARIABLE
from reference import backprop as reference

BASE = (SUBMISSIONS / "student_correct.py").read_text()
#: The items whose checks need neither the reference nor the grader's own answers (grader/checks/solution.py).
KIT_ITEMS = ["part2.stability", "part2.regularization", "part2.vectorized", "sample.values",
             "part3.numerical_gradient", "part3.perturbation", "part3.rel_error"]
BACKWARD_ITEMS = ("part2.backward_reference", "part2.backward_fd")
#: What a student needs installed to use the kit (and their dependencies): nothing of this project.
STUDENT_PACKAGES = ("numpy", "pytest", "pluggy", "iniconfig", "packaging", "pygments", "pytest-timeout", "PyYAML")
RUNNER = """import importlib.util, sys
assert importlib.util.find_spec("reference") is None, "the reference solution is importable"
import pytest
code = pytest.console_main()
print("grader used:", sys.modules["grader"].__file__)
sys.exit(code)
"""


@pytest.fixture(scope="module")
def kit(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("kit") / "kit"
    result = run_cli("kit", "-o", str(folder))
    assert result.returncode == 0, result.stderr
    return folder


@pytest.fixture(scope="module")
def student_site(tmp_path_factory) -> Path:
    """A folder of links to the installed numpy, pytest, ... only: with `python -S` and it as PYTHONPATH, neither
    site-packages (where this project may be installed) nor the repository is importable."""
    site = tmp_path_factory.mktemp("site")
    for name in STUDENT_PACKAGES:
        dist = importlib.metadata.distribution(name)
        for top in {file.parts[0] for file in dist.files if file.parts[0] != ".."}:
            if not (site / top).exists() and Path(dist.locate_file(top)).exists():
                (site / top).symlink_to(dist.locate_file(top))
    return site


def run_kit(kit: Path, site: Path, tmp_path: Path, code: str, env: dict = None,
            args: tuple = ()) -> tuple[subprocess.CompletedProcess, dict]:
    """Plain `pytest` in the kit folder on a backprop.py holding `code` (`env` added to the student's environment,
    `args` to pytest's command line): (the run, its JSON report). The kit's template is put back afterwards: other
    tests share the kit and expect the template (test_no_kit_file_earns_the_backward_items)."""
    template = (kit / "backprop.py").read_text()
    (kit / "backprop.py").write_text(code)
    try:
        return _run_pytest_in_kit(kit, site, tmp_path, env, args)
    finally:
        (kit / "backprop.py").write_text(template)


def _run_pytest_in_kit(kit: Path, site: Path, tmp_path: Path, env: dict,
                       args: tuple) -> tuple[subprocess.CompletedProcess, dict]:
    """run_kit's pytest run, on whatever backprop.py the kit holds now."""
    runner, report = tmp_path / "runner.py", tmp_path / "report.json"
    runner.write_text(RUNNER)
    report.unlink(missing_ok=True)
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(site), "PYTHONDONTWRITEBYTECODE": "1", **(env or {})}
    result = subprocess.run([sys.executable, "-S", str(runner), "-p", "no:cacheprovider", "--grade-no-timing",
                             "--grade-timeout=20", f"--grade-json={report}", *args], cwd=kit, env=env,
                            capture_output=True, text=True, timeout=300)
    assert f"grader used: {kit / 'grader' / '__init__.py'}" in result.stdout, result.stdout + result.stderr
    return result, json.loads(report.read_text())


def lost(report: dict) -> set:
    return {item["id"] for item in report["items"] if item["score"] < item["max_score"]}


@pytest.mark.xdist_group("kit")
def test_kit_contents_and_imports(kit):
    template = REPO / "student_template" / "backprop.py"
    assert (kit / "backprop.py").read_text() == template.read_text()
    for name in ("conftest.py", "pytest.ini", "README.md", "rubric.yaml", "sample_values.json"):
        assert (kit / name).is_file(), name
    assert [item.id for item in load_rubric(kit / "rubric.yaml").items] == KIT_ITEMS
    names = {str(p.relative_to(kit)) for p in kit.rglob("*") if p.is_file()}
    assert not any(n.startswith(("reference", "tests")) or n.endswith(("_reference.py", "mutants.py", "cli.py"))
                   for n in names)
    modules = {".".join(Path(n).with_suffix("").parts).removesuffix(".__init__") for n in names if n.endswith(".py")}
    for path in kit.rglob("*.py"):  # no import of the reference or the mutants; every grader import is in the kit
        for node in ast.walk(ast.parse(path.read_text())):
            imported = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module] + [f"{node.module}.{a.name}" for a in node.names] if isinstance(node, ast.ImportFrom) \
                else []
            for name in imported:
                assert not name.startswith("reference") and "mutants" not in name and "_reference" not in name, \
                    f"{path} imports {name}"
                if name.startswith("grader"):
                    assert name in modules or name.rpartition(".")[0] in modules, f"{path}: {name} is not in the kit"
    answers = {node.name for node in ast.parse((REPO / "grader" / "checks" / "solution.py").read_text()).body
               if isinstance(node, ast.FunctionDef)}
    assert {"tensor_shapes", "relative_error", "label_of", "numerical_gradient"} <= answers
    for path in (kit / "grader").rglob("*.py"):  # none of the grader's own answers to the exercise, in any module
        defined = {node.name for node in ast.walk(ast.parse(path.read_text())) if isinstance(node, ast.FunctionDef)}
        assert not defined & answers, f"{path} defines {sorted(defined & answers)}"
    again = run_cli("kit", "-o", str(kit))
    assert again.returncode == 2 and "is not empty" in again.stderr  # a student's work is never overwritten
    values = json.loads((kit / "sample_values.json").read_text())
    X, y = np.array(values["X"]), np.array(values["y"])
    params = {k: np.array(v) for k, v in values["params"].items()}
    assert np.array_equal(reference.forward(X, params)[0], values["scores"])  # the reference's values, exactly
    loss, grads = reference.backward(X, y, params, values["reg"])
    assert loss == values["backward"]["loss"] and np.array_equal(grads["W1"], values["backward"]["grads"]["W1"])


def test_kit_files_are_chosen_by_rule(tmp_path):
    """A new module comes along; what needs the reference or the mutants stays out, also through other modules."""
    package = tmp_path / "grader"
    files = {"__init__.py": "", "mutants.py": "", "checks/__init__.py": "", "checks/part9.py": "import numpy\n",
             "checks/part9_reference.py": "", "worker/__init__.py": "from . import run\n",
             "worker/run.py": "from grader.checks import part9\n", "helper.py": "from grader import mutants\n",
             "uses_helper.py": "def f():\n    from .helper import x\n", "solution.py": "import reference.backprop\n",
             "__pycache__/x.pyc": ""}
    for name, text in files.items():
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text)
    kept = {path.relative_to("grader").as_posix() for path in kit_files(package)}
    assert kept == {"__init__.py", "checks/__init__.py", "checks/part9.py", "worker/__init__.py", "worker/run.py"}


@pytest.mark.xdist_group("kit")
def test_kit_grades_with_plain_pytest_without_the_reference(kit, student_site, tmp_path):
    result, report = run_kit(kit, student_site, tmp_path, BASE)
    assert [item["id"] for item in report["items"]] == KIT_ITEMS
    assert lost(report) == set(), result.stdout
    assert "backprop-grader" in result.stdout and "Total: 46 / 46 (seed" in result.stdout  # no bonus items, no note
    assert PUBLIC_ONLY in " ".join(result.stdout.split()) and "Not implemented yet" not in result.stdout
    table = result.stdout.split("= backprop-grader =")[1].split("Total:")[0].splitlines()
    assert len(table) > 7 and not [line for line in table if line != line.rstrip()]  # no trailing spaces

    buggy, report = run_kit(kit, student_site, tmp_path, mutate(BASE, ("    dscores /= N\n", "")))
    assert lost(report) == {"sample.values"}, buggy.stdout
    sample = next(item for item in report["items"] if item["id"] == "sample.values")
    assert "`softmax_cross_entropy` differs from the expected values" in sample["feedback"]
    assert "dscores[" in sample["feedback"] and "`backward` differs" in sample["feedback"]
    assert "`forward`" not in sample["feedback"]
    shown = " ".join(SAMPLE_FEEDBACK.split())  # what the kit's README shows is what the kit prints
    assert shown in " ".join(buggy.stdout.split()) and shown in " ".join((kit / "README.md").read_text().split())
    assert "1/N of the mean is missing" not in buggy.stdout  # the README says only the full grader names it


#: What the kit prints under its table: its total is that of the public items only.
PUBLIC_ONLY = ("Public items only: the total above leaves out part1.shapes, part1.derivation, part2.forward, "
               "part2.loss, part2.backward_reference, part2.backward_fd, part3.grad_check, part4.diagnose, "
               "part4.writeup, bonus.dX, bonus.deep, which your instructor grades.")


@pytest.mark.xdist_group("kit")
def test_kit_names_what_only_the_instructor_grades_and_is_not_implemented(kit, student_site, tmp_path):
    """On the template: the kit's items all fail, and under the table it says that its total is of the public items
    and which functions and values only the instructor grades are still the template's, without running them."""
    template = (kit / "backprop.py").read_text()
    result, report = run_kit(kit, student_site, tmp_path, template)
    shown = " ".join(result.stdout.split())
    assert report["score"] == 0 and PUBLIC_ONLY in shown
    assert "Not implemented yet (graded by your instructor only, not checked here): shapes, grad_check and diagnose " \
           "still raise NotImplementedError; GRAD_CHECK_TOL is None." in shown
    assert shown.index("Total: 0 / 46") < shown.index(PUBLIC_ONLY) < shown.index("short test summary info")
    done = mutate(BASE, ("GRAD_CHECK_TOL = 1e-6", "GRAD_CHECK_TOL = None")) + \
        "\n\ndef diagnose(analytic, numeric):\n    \"\"\"Not yet.\"\"\"\n    raise NotImplementedError('later')\n"
    result, _ = run_kit(kit, student_site, tmp_path, done)
    assert "Not implemented yet (graded by your instructor only, not checked here): diagnose still raises " \
           "NotImplementedError; GRAD_CHECK_TOL is None." in " ".join(result.stdout.split())


def test_unimplemented_reads_the_source_without_running_it(tmp_path):
    path = tmp_path / "backprop.py"
    names = ["shapes", "grad_check", "GRAD_CHECK_TOL", "diagnose"]
    path.write_text("import sys\nsys.exit(1)\nGRAD_CHECK_TOL: float = None\n\n"
                    "def shapes(N, D, H, C):\n    pass\n    raise NotImplementedError\n\n"
                    "def grad_check(*args):\n    raise NotImplementedError('grad_check')\n\n"
                    "def grad_check(*args):\n    return {}\n\n"  # the last definition counts, as at import
                    "def diagnose(a, b):\n    if not a:\n        raise NotImplementedError\n    return 'ok'\n")
    assert unimplemented(path, names) == (["shapes"], ["GRAD_CHECK_TOL"])
    path.write_text("from helpers import grad_check, GRAD_CHECK_TOL\n")  # defined elsewhere: not known, not named
    assert unimplemented(path, names) == ([], [])
    path.write_text("def shapes(N, D, H, C)\n    raise NotImplementedError\n")  # does not parse: the table says so
    assert unimplemented(path, names) == ([], [])


@pytest.mark.xdist_group("kit")
def test_kit_shows_items_a_filtered_run_leaves_out_as_not_run(kit, student_site, tmp_path):
    """`pytest -k rel_error` in the kit: the other items are "not run", not "error ... did not run", and the total
    is that of the items run (the kit's README says so, with this example)."""
    result, report = run_kit(kit, student_site, tmp_path, BASE, args=("-k", "rel_error"))
    assert "did not run" not in result.stdout and " error " not in result.stdout, result.stdout
    assert {item["id"]: item["status"] for item in report["items"]} == \
        {item: "passed" if item == "part3.rel_error" else "not run" for item in KIT_ITEMS}
    assert re.search(r"^part2\.regularization +0/6  not run$", result.stdout, re.MULTILINE), result.stdout
    total = re.search(r"^Total: 4 / 4 of the items run \(seed \d+\); 6 items not run \(-k rel_error\)$",
                      result.stdout, re.MULTILINE)
    assert total, result.stdout
    readme = " ".join((kit / "README.md").read_text().split())
    assert "Total: 4 / 4 of the items run (seed ...); 6 items not run (-k rel_error)" in readme


@pytest.mark.xdist_group("kit")
def test_template_and_kit_readme_say_where_the_written_answers_go(kit):
    template = " ".join(ast.get_docstring(ast.parse((REPO / "student_template" / "backprop.py").read_text())).split())
    assert "Put them in a file writeup.md beside this one and hand in both (the folder, or a zip of it), or write " \
           "them here, in place of this docstring." in template
    readme = " ".join((kit / "README.md").read_text().split())
    assert "Your written answers, `part1.derivation` (Derivation of the gradients) and `part4.writeup` (Two bugs, " \
           "each with symptom, localisation and fix), are graded by hand, from a file `writeup.md` beside " \
           "`backprop.py`" in readme
    assert "a docstring left as the template's is not read" in readme


@pytest.mark.xdist_group("kit")
def test_kit_grades_a_submission_outside_its_folder(kit, student_site, tmp_path):
    """`pytest --submission=PATH` in the kit folder grades PATH, absolute or relative, also outside the kit (the
    kit's own backprop.py is correct, the other file's dscores lack the 1/N)."""
    other = tmp_path / "x" / "backprop.py"
    other.parent.mkdir()
    other.write_text(mutate(BASE, ("    dscores /= N\n", "")))
    for given in (str(other), os.path.relpath(other, kit)):
        result, report = run_kit(kit, student_site, tmp_path, BASE, args=(f"--submission={given}",))
        assert lost(report) == {"sample.values"}, result.stdout + result.stderr
        assert Path(report["submission"]) == other.resolve()


@pytest.mark.xdist_group("kit")
def test_kit_grades_with_spawned_workers(kit, student_site, tmp_path):
    """As on Windows, where the kit's workers cannot be forked: each is a fresh interpreter the kit's grader spawns."""
    result, report = run_kit(kit, student_site, tmp_path, BASE, env={START_VARIABLE: "spawn"})
    assert lost(report) == set() and "Total: 46 / 46" in result.stdout, result.stdout
    assert report["protections"]["worker_start"] == "spawn"


@pytest.mark.xdist_group("kit-files")
def test_no_kit_file_earns_the_backward_items(kit, tmp_path):
    """Graded on the instructor's backward items, no file of the kit is a working backward pass. Every file is
    imported as a submission would be (in a worker); a file without a `backward` cannot earn those items (they call
    it), so the files that define one are graded by a batch whose rubric keeps only those two items, as they are."""
    rubric = rubric_of(tmp_path, lambda item: item in BACKWARD_ITEMS)
    entry_points = load_rubric(rubric).entry_points
    folder = tmp_path / "class"
    folder.mkdir()
    sources = sorted(kit.rglob("*.py"))
    assert len(sources) > 20
    for path in sources:
        copy = tmp_path / "imported" / "-".join(path.relative_to(kit).parts) / "backprop.py"
        copy.parent.mkdir(parents=True)
        copy.write_text(path.read_text())
        submission = student.load(student.locate(copy, "backprop.py"), entry_points, TEST_LIMITS)
        try:
            if submission.has("backward"):
                (folder / ("kit-" + "-".join(path.relative_to(kit).parts))).write_text(path.read_text())
        finally:
            submission.close()
    graded = sorted(folder.iterdir())
    assert "kit-backprop.py" in {path.name for path in graded}  # the template's stub, at least
    result = run_cli("batch", str(folder), "--out", str(tmp_path / "out"), "--jobs", "2", *FAST_LIMITS,
                     "--rubric", str(rubric))
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "out" / "gradebook.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == len(graded)
    assert list(rows[0])[1:-1] == list(BACKWARD_ITEMS)
    for row in rows:
        assert row["part2.backward_reference"] == row["part2.backward_fd"] == "0", row["student"]
