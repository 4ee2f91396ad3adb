"""`backprop-grader gradescope`: grades an /autograder-shaped folder into results/results.json as Gradescope specifies,
writes a valid results.json whatever is wrong, and `--run-as` is checked and passed on to the grading process."""
from __future__ import annotations

import json
import re
import stat
import subprocess
import sys
import zipfile
from numbers import Number
from pathlib import Path

import pytest
import yaml

from conftest import FAST_LIMITS, REPO, SUBMISSIONS, mutate, run_cli
from grader import cli, gradescope, student
from grader.gradescope import protections_note
from grader.report import Report
from grader.rubric import load_rubric

BASE = (SUBMISSIONS / "student_correct.py").read_text()
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
UNKNOWN_USER = "no-such-user-backprop"


def autograded_ids(rubric_path: Path) -> list[str]:
    return [item.id for item in load_rubric(rubric_path).items if not item.manual]


def check_results(path: Path, rubric_path: Path) -> dict:
    """results.json as Gradescope specifies it: every autograded item a test, numbers are numbers, total = sum."""
    results = json.loads(path.read_text())
    assert set(results) == {"score", "execution_time", "output", "stdout_visibility", "tests"}
    assert isinstance(results["score"], Number) and isinstance(results["execution_time"], Number)
    assert isinstance(results["output"], str) and results["output"]
    assert results["stdout_visibility"] in VISIBILITIES
    tests = results["tests"]
    assert [t["name"].split(":")[0] for t in tests] == autograded_ids(rubric_path)
    assert [t["number"] for t in tests] == [str(n) for n in range(1, len(tests) + 1)]
    for test in tests:
        assert set(test) == {"name", "number", "score", "max_score", "status", "output", "visibility"}
        assert isinstance(test["score"], Number) and isinstance(test["max_score"], Number)
        assert not isinstance(test["score"], bool) and 0 <= test["score"] <= test["max_score"]
        assert test["status"] in ("passed", "failed") and test["visibility"] in VISIBILITIES
        assert isinstance(test["output"], str)
    assert results["score"] == pytest.approx(sum(t["score"] for t in tests))
    return results


@pytest.fixture
def rubric_path(tmp_path) -> Path:
    """The default rubric with one item hidden until published (visibility comes from the rubric)."""
    data = yaml.safe_load((REPO / "rubrics" / "backprop.yaml").read_text())
    next(i for i in data["items"] if i["id"] == "part4.diagnose")["visibility"] = "after_published"
    path = tmp_path / "rubric.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.xdist_group("gradescope")
def test_gradescope_grades_the_upload_into_results_json(tmp_path, rubric_path):
    root = tmp_path / "autograder"
    upload = root / "submission" / "my_homework"  # a zipped folder, unpacked by Gradescope
    upload.mkdir(parents=True)
    (root / "submission" / "__MACOSX").mkdir()
    (upload / "backprop.py").write_text(mutate(BASE, ("    dscores /= N\n", "")))
    result = run_cli("gradescope", "--root", str(root), "--rubric", str(rubric_path), *FAST_LIMITS)
    assert result.returncode == 0, result.stderr
    results = check_results(root / "results" / "results.json", rubric_path)
    assert results["score"] == 70 and results["output"].startswith("Total: 70 / 100 (bonus points included; seed")
    assert results["stdout_visibility"] == "hidden"
    by_id = {t["name"].split(":")[0]: t for t in results["tests"]}
    assert by_id["part2.loss"]["status"] == "failed" and "1/N" in by_id["part2.loss"]["output"]
    assert by_id["part1.shapes"]["status"] == "passed" and by_id["part1.shapes"]["score"] == 8
    assert by_id["part4.diagnose"]["visibility"] == "after_published"
    assert by_id["part2.forward"]["visibility"] == "visible"
    assert "part2.loss" in result.stdout and "Total: 70 / 100" in result.stdout  # the table, for the instructor
    assert "Protections: separate worker process" in result.stdout  # ... and what the submission could reach
    assert "reference readable by the submission" in result.stdout and "WARNING" not in result.stdout  # no --run-as


def test_staff_are_warned_loudly_when_the_user_can_read_the_reference():
    protections = {"run_as": "student", "grader_readable": ["/opt/x/reference/backprop.py"],
                   "summary": "separate worker process, runs as student, reference readable by the submission"}
    report = Report(score=0.0, max_score=0.0, seed=1, protections=protections)
    note = protections_note(report, "student")
    assert note.startswith("Protections: separate worker process, runs as student, reference readable")
    assert "WARNING: the submission, running as student, can READ THE REFERENCE SOLUTION" in note
    assert "/opt/x/reference/backprop.py" in note
    assert "WARNING" not in protections_note(report, None)  # without --run-as the summary says it, quietly
    safe = {**protections, "grader_readable": [], "summary": "separate worker process, reference not readable"}
    assert "WARNING" not in protections_note(Report(0.0, 0.0, 1, protections=safe), "student")


def _zip(path: Path, members: dict, links: tuple = ()) -> Path:
    """A zip of {name: bytes}, plus `links` as symbolic-link entries (Unix mode in external_attr)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.create_system, info.external_attr = 3, (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, "/etc/passwd")
    return path


@pytest.mark.xdist_group("gradescope")
def test_gradescope_unpacks_an_uploaded_zip(tmp_path, rubric_path):
    """Gradescope unzips uploads itself; elsewhere a zip stays zipped in the upload folder, and is unpacked here."""
    root = tmp_path / "autograder"
    _zip(root / "submission" / "homework.zip", {"my_homework/backprop.py": mutate(BASE, ("    dscores /= N\n", "")),
                                                "__MACOSX/my_homework/._backprop.py": b"\0\5"})
    result = run_cli("gradescope", "--root", str(root), "--rubric", str(rubric_path), *FAST_LIMITS)
    assert result.returncode == 0, result.stderr
    assert check_results(root / "results" / "results.json", rubric_path)["score"] == 70


@pytest.mark.parametrize("members, links, words", [
    pytest.param({"../evil.py": "x = 1\n", "backprop.py": BASE}, (), "holds a path outside its folder ('../evil.py')",
                 id="dot-dot"),
    pytest.param({"/tmp/evil.py": "x = 1\n"}, (), "outside its folder", id="absolute"),
    pytest.param({"a\\..\\..\\evil.py": "x = 1\n"}, (), "outside its folder", id="backslashes"),
    pytest.param({"backprop.py": BASE}, ("helper.py",), "holds a link or special file ('helper.py')", id="symlink"),
    pytest.param({"backprop.py": BASE, "bomb.bin": bytes(gradescope.ZIP_MAX_BYTES + 1)}, (),
                 "unpacks to more than 20 MiB", id="zip-bomb"),
    pytest.param({f"f{n}.py": "" for n in range(gradescope.ZIP_MAX_FILES + 1)}, (), "files (at most 200)",
                 id="too-many-files"),
])
def test_a_malicious_zip_is_refused_and_writes_nothing_outside(tmp_path, members, links, words):
    archive = _zip(tmp_path / "upload" / "homework.zip", members, links)
    assert archive.stat().st_size < 2**20  # the bomb is small zipped
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with pytest.raises(student.SubmissionNotFound, match=re.escape(words)):
        gradescope.find_upload(archive.parent, "backprop.py", scratch)
    assert not (tmp_path / "evil.py").exists() and not Path("/tmp/evil.py").exists()
    assert sum(path.stat().st_size for path in scratch.rglob("*") if path.is_file()) <= gradescope.ZIP_MAX_BYTES


def test_a_zip_that_is_not_one_or_holds_a_zip(tmp_path):
    (tmp_path / "upload").mkdir()
    (tmp_path / "upload" / "homework.zip").write_bytes(b"not a zip")
    with pytest.raises(student.SubmissionNotFound, match="homework.zip could not be unzipped"):
        gradescope.find_upload(tmp_path / "upload", "backprop.py", tmp_path)
    inner = _zip(tmp_path / "inner.zip", {"backprop.py": BASE}).read_bytes()
    archive = _zip(tmp_path / "outer" / "outer.zip", {"inner.zip": inner})
    (tmp_path / "scratch").mkdir()
    with pytest.raises(student.SubmissionNotFound, match="your zip outer.zip holds no .py file"):  # one level only
        gradescope.find_upload(archive.parent, "backprop.py", tmp_path / "scratch")


def _no_py(root: Path) -> None:
    (root / "submission").mkdir(parents=True)
    (root / "submission" / "notes.txt").write_text("forgot the code\n")


def _two_py_in_zip(root: Path) -> None:
    _zip(root / "submission" / "homework.zip", {"fixed.py": BASE, "buggy.py": BASE})


def _two_py_in_folder(root: Path) -> None:
    (root / "submission" / "hw3").mkdir(parents=True)
    for name in ("fixed.py", "buggy.py"):
        (root / "submission" / "hw3" / name).write_text(BASE)


@pytest.mark.parametrize("make, extra, words, code", [
    pytest.param(lambda root: root.mkdir(), [], "nothing was uploaded", 0, id="missing"),
    pytest.param(lambda root: (root / "submission").mkdir(parents=True), [], "the upload is empty", 0, id="empty"),
    pytest.param(_no_py, [], "your upload holds no .py file: expected backprop.py (or exactly one .py file)", 0,
                 id="no-py-file"),
    pytest.param(_two_py_in_zip, [], "your zip homework.zip holds buggy.py, fixed.py: expected backprop.py (or "
                                     "exactly one .py file)", 0, id="two-py-files-in-a-zip"),
    pytest.param(_two_py_in_folder, [], "your upload's folder hw3 holds buggy.py, fixed.py: expected backprop.py", 0,
                 id="two-py-files-in-a-folder"),
    pytest.param(_no_py, ["--run-as", UNKNOWN_USER], f"--run-as {UNKNOWN_USER}: no such user", 2, id="unknown-user"),
])
def test_gradescope_always_writes_valid_results(tmp_path, make, extra, words, code):
    """A student's upload that cannot be graded is no usage error: results.json says why, in the student's terms
    (never the grader's temporary folder), and the exit code is 0. The instructor's mistake (an unknown user) is 2."""
    root = tmp_path / "autograder"
    make(root)
    result = run_cli("gradescope", "--root", str(root), *extra)
    assert result.returncode == code, result.stderr
    results = check_results(root / "results" / "results.json", REPO / "rubrics" / "backprop.yaml")
    assert results["score"] == 0 and words in results["output"]
    assert all(t["score"] == 0 and t["status"] == "failed" for t in results["tests"])
    assert words in result.stderr
    assert "backprop-grader-upload" not in results["output"] and str(tmp_path) not in results["output"].replace(
        f"nothing was uploaded ({root / 'submission'} does not exist)", "")


def test_gradescope_with_a_broken_rubric_still_writes_results(tmp_path):
    root = tmp_path / "autograder"
    (root / "submission").mkdir(parents=True)
    (root / "submission" / "backprop.py").write_text(BASE)
    rubric = tmp_path / "rubric.yaml"
    rubric.write_text("title: x\n")
    result = run_cli("gradescope", "--root", str(root), "--rubric", str(rubric))
    assert result.returncode == 2
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 0 and results["tests"] == []
    assert "misconfigured" in results["output"] and "field 'submission': missing" in results["output"]


def test_run_as_is_checked_and_passed_to_the_grading_process(tmp_path):
    path = tmp_path / "backprop.py"
    path.write_text(BASE)
    for command in (["grade", str(path)], ["batch", str(tmp_path), "--out", str(tmp_path / "out")]):
        result = run_cli(*command, "--run-as", UNKNOWN_USER)
        assert result.returncode == 2 and f"--run-as {UNKNOWN_USER}: no such user on this system" in result.stderr
    assert not (tmp_path / "out").exists()  # nothing ran
    rubric = load_rubric(REPO / "rubrics" / "backprop.yaml")
    source = student.locate(path, rubric.submission)
    with_user = cli.pytest_command(source, rubric, 1, tmp_path, run_as="student")
    assert with_user[with_user.index("--grade-run-as") + 1] == "student"
    assert "--grade-run-as" not in cli.pytest_command(source, rubric, 1, tmp_path)
    options = subprocess.run([sys.executable, "-m", "pytest", "-p", "grader.plugin", "--help"], cwd=REPO,
                             capture_output=True, text=True, env={"PYTHONPATH": str(REPO),
                                                                  "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"})
    assert "--grade-run-as=USER" in options.stdout  # the grading process accepts what the CLI passes on
