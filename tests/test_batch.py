"""`backprop-grader batch`: a mixed class (correct, buggy, unfinished, hanging, broken, a folder), the gradebook, the
summary, the per-student reports, a Gradescope export folder, and a second run that regrades only what changed."""
from __future__ import annotations

import csv
import json
import os
import shutil
import stat

import pytest

from conftest import REPO, SUBMISSIONS, mutate, rubric_of, run_cli
from grader.report import ItemResult, Report

BASE = (SUBMISSIONS / "student_correct.py").read_text()
OPTIONS = ["--jobs", "2", "--no-timing", "--timeout", "20", "--import-timeout", "1"]


def make_class(folder):
    folder.mkdir()
    (folder / "alice.py").write_text(BASE)
    (folder / "bob.py").write_text(mutate(BASE, ("    dscores /= N\n", "")))
    shutil.copy(REPO / "student_template" / "backprop.py", folder / "carol.py")
    (folder / "dave.py").write_text("import time\ntime.sleep(60)\n" + BASE)  # hangs at import
    (folder / "erin.py").write_text("def forward(X, params)\n")  # does not compile
    (folder / "frank").mkdir()
    (folder / "frank" / "backprop.py").write_text(BASE)
    (folder / "notes.txt").write_text("not a submission\n")
    return folder


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """(class folder, output folder, result) of one batch over the mixed class, shared by the tests that read it
    (a test that changes them works on copies)."""
    root = tmp_path_factory.mktemp("batch")
    folder = make_class(root / "class")
    return folder, root / "out", batch(folder, root / "out")


def batch(folder, out, *extra):
    return run_cli("batch", str(folder), "--out", str(out), *OPTIONS, *extra, timeout=300)


def gradebook(out) -> dict:
    with open(out / "gradebook.csv", newline="") as stream:
        return {row["student"]: row for row in csv.DictReader(stream)}


@pytest.mark.xdist_group("batch-class")
def test_batch_writes_gradebook_reports_and_summary(first_run):
    _, out, result = first_run
    assert result.returncode == 0, result.stderr
    assert "6 submissions: 6 graded, 0 kept" in result.stdout
    assert "[6/6]" in result.stderr and "submissions/min" in result.stderr  # the progress line
    assert "still has the default salt" in result.stderr  # as `grade` warns: the bundled rubric's seeds are public
    book = gradebook(out)
    assert list(book) == ["alice", "bob", "carol", "dave", "erin", "frank"]
    header = (out / "gradebook.csv").read_text().splitlines()[0].split(",")
    assert header[0] == "student" and header[-1] == "total" and "part1.derivation" not in header
    for name, row in book.items():
        report = json.loads((out / "reports" / f"{name}.json").read_text())
        assert float(row["total"]) == round(report["score"], 2)
        assert report["rubric_sha256"] and report["files"]
    assert book["alice"]["total"] == book["frank"]["total"] == "105"
    assert book["bob"]["total"] == "70" and book["bob"]["part2.loss"] == "0"
    assert book["carol"]["total"] == book["dave"]["total"] == book["erin"]["total"] == "0"
    dave = json.loads((out / "reports" / "dave.json").read_text())
    assert "took longer than 1 s" in dave["items"][0]["feedback"]
    summary = (out / "summary.md").read_text()
    assert "6 submissions" in summary
    # 105 points of 100 (the bonus) count in the last bin, not outside the histogram
    assert "| 0–10% | 3 |" in summary and "| 70–80% | 1 |" in summary
    assert "| 90–100% (bonus points above 100% included) | 2 |" in summary
    assert "- the 1/N of the mean missing (`missing_1_over_N`): 1 student" in summary
    assert "- does not import (`import_failed`): 1 student" in summary
    assert "- runs something long at import (`import_timeout`): 1 student" in summary
    assert "| part2.loss | 2 | 0 | 4 | 0 |" in summary
    assert ("summary.png" in summary) and ((out / "summary.png").exists() or "matplotlib is not installed" in summary)


@pytest.mark.xdist_group("batch-class")
def test_second_run_regrades_only_changed_or_incomplete_reports(first_run, tmp_path):
    assert first_run[2].returncode == 0
    class_folder = shutil.copytree(first_run[0], tmp_path / "class")
    out = shutil.copytree(first_run[1], tmp_path / "out")
    first = {p.name: p.read_text() for p in (out / "reports").iterdir()}
    (out / "reports" / "carol.json").write_text(first["carol.json"][:100])  # truncated
    dave = json.loads(first["dave.json"])
    dave["items"] = dave["items"][:3]  # valid JSON, items missing: its gradebook row would not add up
    (out / "reports" / "dave.json").write_text(json.dumps(dave))
    (class_folder / "bob.py").write_text(BASE)  # bob fixed his bug
    result = batch(class_folder, out)
    assert "6 submissions: 3 graded, 3 kept" in result.stdout
    assert "[6/6, 3 kept from the last run]" in result.stderr  # kept reports do not inflate the rate
    assert gradebook(out)["bob"]["total"] == "105"
    regraded = json.loads((out / "reports" / "dave.json").read_text())
    assert regraded["submission"] == str(class_folder / "dave.py")
    assert {**regraded, "submission": ""} == {**json.loads(first["dave.json"]), "submission": ""}  # the same report
    for name in ("alice", "erin", "frank"):
        assert (out / "reports" / f"{name}.json").read_text() == first[f"{name}.json"]
    again = batch(class_folder, out)  # nothing changed: nothing graded, and no rate of 0.0 submissions/min
    assert "6 submissions: 0 graded, 6 kept" in again.stdout
    assert "[6/6, 6 kept from the last run]" in again.stderr and "submissions/min" not in again.stderr


def test_gradescope_export_names_students_by_sid(tmp_path):
    """One sid on two submission folders (e.g. a student enrolled twice): both are graded, the second as sid-2."""
    export = tmp_path / "export"
    for folder, code in (("submission_111", BASE), ("submission_222", "x = 1\n")):
        (export / folder).mkdir(parents=True)
        (export / folder / "backprop.py").write_text(code)
    (export / "submission_metadata.yml").write_text(
        "submission_111:\n  :submitters:\n  - :name: Alice Liddell\n    :sid: '20261'\n    :email: alice@x.edu\n"
        "submission_222:\n  :submitters:\n  - :name: Alice L.\n    :sid: '20261'\n    :email: al@x.edu\n")
    out = tmp_path / "out"
    result = batch(export, out, "--rubric", str(rubric_of(tmp_path, "part1.shapes".__eq__)))
    assert result.returncode == 0, result.stderr
    assert "backprop-grader: warning: 2 submissions would be named 20261: each is graded under a name of its own " \
           "(submission_111 as 20261, submission_222 as 20261-2)" in result.stderr
    assert "2 submissions: 2 graded" in result.stdout
    book = gradebook(out)
    assert list(book) == ["20261", "20261-2"] and book["20261"]["total"] == "8" and book["20261-2"]["total"] == "0"


GROUP_METADATA = (
    "submission_111:\n  :submitters:\n  - :name: Ann A\n    :sid: '1001'\n    :email: ann@x.edu\n"
    "  - :name: Ben B\n    :sid: '1002'\n    :email: ben@x.edu\n"
    "submission_222:\n  :submitters:\n  - :name: Cy C\n    :sid: ''\n    :email: cy@x.edu\n"
    "submission_333:\n  :submitters:\n  - :name: Ben Again\n    :sid: '1002'\n    :email: ben2@x.edu\n")


def group_export(root):
    """A Gradescope export: submission_111 by a group of two (sids 1001 and 1002), submission_222 by one student
    without a sid (named by email), submission_333 by 1002 again (enrolled twice: a name clash)."""
    export = root / "export"
    for folder, code in (("submission_111", BASE), ("submission_222", "x = 1\n"), ("submission_333", BASE)):
        (export / folder).mkdir(parents=True)
        (export / folder / "backprop.py").write_text(code)
    (export / "submission_metadata.yml").write_text(GROUP_METADATA)
    return export


def test_every_member_of_a_group_submission_is_found(tmp_path):
    """One entry per submitter, the group's members sharing its folder; clashes named as for any entries."""
    from grader.batch import find_submissions, group_note, group_submissions
    export = group_export(tmp_path)
    entries = find_submissions(export)
    assert [(entry.student, entry.path.name) for entry in entries] == [
        ("1001", "submission_111"), ("1002", "submission_111"), ("cy@x.edu", "submission_222"),
        ("1002-2", "submission_333")]
    assert list(group_submissions(entries)) == [export / "submission_111"]
    assert group_note(entries) == ("1 group submission, each graded once, with a report and a gradebook row for "
                                   "every member: submission_111 (1001, 1002)")


def test_a_group_submission_gives_every_member_a_row_and_a_report(tmp_path):
    """Graded once; each member gets the same scores in the gradebook and the same report under their name."""
    export, out = group_export(tmp_path), tmp_path / "out"
    rubric = str(rubric_of(tmp_path, "part1.shapes".__eq__))
    result = batch(export, out, "--rubric", rubric)
    assert result.returncode == 0, result.stderr
    assert "backprop-grader: 1 group submission, each graded once, with a report and a gradebook row for every " \
           "member: submission_111 (1001, 1002)" in result.stderr
    assert "2 submissions would be named 1002: each is graded under a name of its own (submission_111 as 1002, " \
           "submission_333 as 1002-2)" in result.stderr
    assert "3 submissions (4 students): 3 graded, 0 kept" in result.stdout and "[3/3]" in result.stderr
    book = gradebook(out)
    assert {name: row["total"] for name, row in book.items()} == \
        {"1001": "8", "1002": "8", "1002-2": "8", "cy@x.edu": "0"}
    reports = out / "reports"
    assert (reports / "1001.json").read_text() == (reports / "1002.json").read_text()
    assert json.loads((reports / "1002.json").read_text())["submission"].endswith("submission_111/backprop.py")
    assert "4 submissions" in (out / "summary.md").read_text()  # one row per student, as in the gradebook
    again = batch(export, out, "--rubric", rubric)
    assert "3 submissions (4 students): 0 graded, 3 kept" in again.stdout, again.stdout + again.stderr
    assert gradebook(out) == book and "no submission any more" not in again.stdout


def test_summary_without_matplotlib_names_the_extra_the_readme_names(tmp_path, monkeypatch):
    from grader import batch as batch_module
    from grader.rubric import load_rubric
    monkeypatch.setattr(batch_module, "_plot", lambda *arguments: False)  # as without matplotlib
    report = Report(score=8, max_score=8, seed=1, items=[ItemResult("part1.shapes", "", 8, 8, "passed", "")])
    batch_module.write_summary(tmp_path, load_rubric(rubric_of(tmp_path, "part1.shapes".__eq__)), {"a": (report, 0)})
    summary = (tmp_path / "summary.md").read_text()
    assert 'pip install ".[plots]"' in summary and "pip install matplotlib" not in summary
    assert 'pip install ".[plots]"' in (REPO / "README.md").read_text()


def one_line_error(result) -> str:
    """The usage error's message: exit code 2, one line on stderr, nothing on stdout."""
    assert result.returncode == 2 and result.stdout == "", (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_batch_usage_errors(tmp_path):
    """Each a usage error before anything is graded or written, not a traceback."""
    out = tmp_path / "out"
    assert one_line_error(run_cli("batch", str(tmp_path / "nowhere"), "--out", str(out))) == \
        f"backprop-grader: {tmp_path / 'nowhere'}: not a folder"
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("not a submission\n")
    assert one_line_error(run_cli("batch", str(empty), "--out", str(out))) == \
        f"backprop-grader: no submissions in {empty} (a .py file or a folder per student)"
    (tmp_path / "class").mkdir()
    (tmp_path / "class" / "alice.py").write_text(BASE)
    for jobs in ("0", "-2"):
        assert one_line_error(run_cli("batch", str(tmp_path / "class"), "--out", str(out), "--jobs", jobs)) == \
            f"backprop-grader: --jobs {jobs}: the number of submissions graded at once is 1 or more"
    a_file = tmp_path / "gradebook.csv"
    a_file.write_text("kept\n")
    assert one_line_error(run_cli("batch", str(tmp_path / "class"), "--out", str(a_file))) == \
        f"backprop-grader: --out {a_file}: is a file; give a folder (made when it does not exist)"
    assert one_line_error(run_cli("batch", str(tmp_path / "class"), "--out", str(a_file / "out"))) == \
        f"backprop-grader: --out {a_file / 'out'}: cannot make the folder (Not a directory)"
    assert not out.exists() and a_file.read_text() == "kept\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["class", "empty", "gradebook.csv"]  # no temporary file


@pytest.fixture(scope="module")
def clashing_run(tmp_path_factory):
    """(output folder, result) of a batch, on one item, over entries whose names clash, one of them a folder with
    two .py files and none named backprop.py."""
    root = tmp_path_factory.mktemp("clash")
    folder = root / "class"
    folder.mkdir()
    (folder / "a b.py").write_text(BASE)
    (folder / "a_b.py").write_text("x = 1\n")  # no shapes: 0 points
    (folder / "carl.py").write_text(BASE)
    (folder / "carl").mkdir()
    (folder / "carl" / "part1.py").write_text(BASE)
    (folder / "carl" / "part2.py").write_text(BASE)
    (folder / "carl-2.py").write_text(BASE)  # a real student named carl-2 keeps the name
    rubric = rubric_of(root, "part1.shapes".__eq__)
    return root / "out", batch(folder, root / "out", "--rubric", str(rubric))


@pytest.mark.xdist_group("batch-clash")
def test_clashing_names_are_all_graded_with_a_warning(clashing_run):
    out, result = clashing_run
    assert result.returncode == 0, result.stderr
    assert "backprop-grader: warning: 2 submissions would be named a_b: each is graded under a name of its own " \
           "(a b.py as a_b-2, a_b.py as a_b)" in result.stderr  # the entry named exactly so keeps the name
    assert "backprop-grader: warning: 2 submissions would be named carl: each is graded under a name of its own " \
           "(carl as carl, carl.py as carl-3)" in result.stderr
    assert "5 submissions: 5 graded, 0 kept" in result.stdout
    book = gradebook(out)
    assert list(book) == ["a_b", "a_b-2", "carl", "carl-2", "carl-3"]
    assert [book[name]["total"] for name in book] == ["0", "8", "0", "8", "8"]
    for name, entry in (("a_b", "a_b.py"), ("a_b-2", "a b.py"), ("carl", "carl"), ("carl-3", "carl.py")):
        assert json.loads((out / "reports" / f"{name}.json").read_text())["submission"].endswith(f"/{entry}")


@pytest.mark.xdist_group("batch-clash")
def test_a_folder_without_the_file_to_grade_is_the_students_mistake(clashing_run):
    """Not "grading failed": score 0, each item saying what the folder holds, and no grader error in summary.md."""
    out, result = clashing_run
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "reports" / "carl.json").read_text())
    assert report["score"] == 0 and "error" not in report
    shapes = report["items"][0]
    assert shapes["status"] == "failed" and shapes["cause"] == "submission_not_found"
    assert shapes["feedback"] == (f"not graded: {out.parent / 'class' / 'carl'}: expected backprop.py (or exactly "
                                  f"one .py file) in the folder, found part1.py, part2.py")
    summary = (out / "summary.md").read_text()
    assert "grader_error" not in summary and "| part1.shapes | 3 | 0 | 2 | 0 |" in summary
    assert "- no file to grade (e.g. two .py files, none named as the rubric's) (`submission_not_found`): 1 student" \
        in summary


@pytest.mark.xdist_group("batch-clash")
def test_outputs_have_the_permissions_of_any_file_their_user_makes(clashing_run):
    """reports, summary.md and gradebook.csv alike: 0666 less the umask (0644 under the usual 022), not 0600."""
    out, _ = clashing_run
    umask = os.umask(0)
    os.umask(umask)
    outputs = [out / "gradebook.csv", out / "summary.md", *sorted((out / "reports").iterdir())]
    assert {path.name: stat.S_IMODE(path.stat().st_mode) for path in outputs} == \
        {path.name: 0o666 & ~umask for path in outputs}


def _cause_codes_in_source() -> set:
    """Every cause code written literally in the grader: failed(feedback, "code"), CheckResult(f, feedback, "code"),
    cause="code", the (…, "code", …) signatures that grader.checks.causes and the forward check return, and the
    forward check's look-alikes."""
    import ast
    codes = set()
    for path in (REPO / "grader").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            found = []
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                positional = {"failed": 1, "CheckResult": 2}.get(name)
                if positional is not None and len(node.args) > positional:
                    found.append(node.args[positional])
                found += [keyword.value for keyword in node.keywords if keyword.arg == "cause"]
            elif isinstance(node, ast.Return) and path.name in ("causes.py", "part2_reference.py") and node.value:
                found.append(node.value)
            elif isinstance(node, ast.Assign) and path.name == "part2_reference.py" and \
                    getattr(node.targets[0], "id", "") == "variants":  # forward's look-alikes, by cause
                found += node.value.keys
            codes |= {code for value in found for code in _literals(value)}
    return codes


def _literals(node) -> set:
    """The identifier-like strings an expression can evaluate to: "a", "a" if x else "b", x or "a", ("a", ...)."""
    import ast
    if isinstance(node, ast.Constant):
        return {node.value} if isinstance(node.value, str) and node.value.isidentifier() else set()
    parts = {ast.IfExp: lambda n: [n.body, n.orelse], ast.BoolOp: lambda n: n.values, ast.Tuple: lambda n: n.elts}
    return set().union(*(_literals(part) for part in parts.get(type(node), lambda n: [])(node)))


def test_every_cause_code_has_words_in_the_summary():
    from grader.batch import CAUSE_WORDS
    from grader.student import CANNOT_RUN
    codes = _cause_codes_in_source() | CANNOT_RUN
    assert {"missing_1_over_N", "relu_mask", "no_b1", "floored_at_1", "dX_wrong", "exits_at_import"} <= codes
    assert codes - set(CAUSE_WORDS) == set()


def _report(*causes: tuple) -> Report:
    """A report whose failed items have these (item id, cause) pairs."""
    return Report(score=0, max_score=22, seed=1, items=[
        ItemResult(item_id, "", 0, 10, "failed", "", cause) for item_id, cause in causes])


BACKWARD_ITEMS = frozenset({"part2.backward_reference", "part2.backward_fd"})


def test_one_mistake_is_counted_once_in_the_summary():
    """backward_reference names the known mistake, backward_fd its signature: the summary counts the mistake."""
    from grader.batch import student_causes
    assert student_causes(_report(("part2.backward_reference", "relu_mask_from_dh1"),
                                  ("part2.backward_fd", "relu_mask"), ("bonus.dX", "dX_wrong")),
                          BACKWARD_ITEMS) == {"relu_mask_from_dh1", "dX_wrong"}
    assert student_causes(_report(("part2.backward_reference", "double_1_over_N"),  # the 1/N twice, seen by both
                                  ("part2.backward_fd", "grads_1_over_N_of_loss")), BACKWARD_ITEMS) == \
        {"double_1_over_N"}
    assert student_causes(_report(("part2.backward_reference", "relu_mask"), ("part2.backward_fd", "layer1")),
                          BACKWARD_ITEMS) == {"relu_mask", "layer1"}  # nothing known: both stay
    assert student_causes(_report(("bonus.deep", "not_attempted"), ("part3.grad_check", "no_tolerance")),
                          BACKWARD_ITEMS) == {"no_tolerance"}  # a bonus left out: no mistake


def test_independent_mistakes_are_all_counted(tmp_path):
    """The README's sample (examples/backprop.py): dscores without the 1/N (part2.loss names the known mistake) and
    the ReLU mask taken from dh1 (backward shows both bugs at once, so its items name the mask's signature). Both
    are counted, once each; the mask was left out whenever any item named a known mistake."""
    from grader.batch import gradient_items, student_causes, write_summary
    from grader.rubric import load_rubric
    rubric = load_rubric(REPO / "rubrics" / "backprop.yaml")
    assert gradient_items(rubric) == BACKWARD_ITEMS
    sample = _report(("part2.loss", "missing_1_over_N"), ("part2.backward_reference", "relu_mask"),
                     ("part2.backward_fd", "relu_mask"), ("bonus.dX", "dX_wrong"), ("bonus.deep", "not_attempted"))
    assert student_causes(sample, BACKWARD_ITEMS) == {"missing_1_over_N", "relu_mask", "dX_wrong"}
    mask_only = _report(("part2.backward_reference", "relu_mask_from_dh1"), ("part2.backward_fd", "relu_mask"))
    write_summary(tmp_path, rubric, {"bob": (sample, False), "carl": (mask_only, False)})
    mistakes = (tmp_path / "summary.md").read_text().split("## Most common mistakes\n\n")[1].split("\n\n")[0]
    assert mistakes.splitlines() == [
        "- dX wrong (bonus) (`dX_wrong`): 1 student",
        "- the 1/N of the mean missing (`missing_1_over_N`): 1 student",
        "- a wrong ReLU mask (`relu_mask`): 1 student",
        "- the ReLU mask built from the upstream gradient (`relu_mask_from_dh1`): 1 student"]


def test_files_left_out_and_reports_left_behind_are_named(tmp_path):
    """A file that is no submission is not graded, with one warning naming every such file; a report whose student
    left the folder stays in reports/ (not in the gradebook), and the run's last line says so."""
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("alice.py", "frank.py"):
        (folder / name).write_text(BASE)
    for name in ("notes.txt", "frank.zip", ".DS_Store"):
        (folder / name).write_text("not a submission\n")
    out, rubric = tmp_path / "out", str(rubric_of(tmp_path, "part1.shapes".__eq__))
    first = batch(folder, out, "--rubric", rubric)
    assert first.returncode == 0, first.stderr
    assert f"backprop-grader: warning: 2 files in {folder} not graded (a submission is a .py file or a folder): " \
           f"frank.zip, notes.txt\n" in first.stderr
    assert "no submission any more" not in first.stdout
    (folder / "frank.py").unlink()
    (folder / "notes.txt").unlink()
    (folder / "frank.zip").unlink()
    second = batch(folder, out, "--rubric", rubric)
    assert second.returncode == 0 and "not graded (a submission" not in second.stderr
    assert second.stdout.splitlines()[-1] == (
        f"1 submission: 0 graded, 1 kept from an earlier run. Gradebook: {out / 'gradebook.csv'}; summary: "
        f"{out / 'summary.md'}. 1 report in reports/ has no submission any more (kept, not in the gradebook): frank")
    assert list(gradebook(out)) == ["alice"] and (out / "reports" / "frank.json").exists()


def test_batch_help_shows_the_default_number_of_jobs():
    jobs = os.cpu_count() or 1
    assert f"(default: {jobs}, the number of CPUs)" in " ".join(run_cli("batch", "--help").stdout.split())


def test_jobs_2_grades_two_submissions_at_once(tmp_path):
    """Each submission waits at import until the other one has started importing: only gradings that run at the
    same time both finish (run one after the other, the first gives up and exits at import)."""
    meet, folder = tmp_path / "meet", tmp_path / "class"
    meet.mkdir()
    folder.mkdir()
    for me, other in (("ann", "ben"), ("ben", "ann")):
        (folder / f"{me}.py").write_text(
            f"import os\nimport time\n\nopen({str(meet / me)!r}, 'w').close()\nfor _ in range(300):\n"
            f"    if os.path.exists({str(meet / other)!r}):\n        break\n    time.sleep(0.05)\n"
            f"else:\n    raise SystemExit('graded alone')\n" + BASE)
    result = run_cli("batch", str(folder), "--out", str(tmp_path / "out"), "--jobs", "2", "--no-timing",
                     "--timeout", "20", "--import-timeout", "30", "--rubric",
                     str(rubric_of(tmp_path, lambda item: item.startswith("part1."))), timeout=300)
    assert result.returncode == 0, result.stderr
    book = gradebook(tmp_path / "out")
    assert book["ann"]["total"] == book["ben"]["total"] == "8", book  # part1.shapes: both imported
