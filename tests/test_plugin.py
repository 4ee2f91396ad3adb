"""The pytest plugin: `pytest --submission PATH` gives the same scores as the CLI and prints the score table;
without --submission the plugin does nothing."""
from __future__ import annotations

import json

from conftest import REPO, SUBMISSIONS, grade_file, mutate, rubric_of
from grader.report import ItemResult, Report, format_table

pytest_plugins = ["pytester"]


def test_pytest_submission_matches_the_cli(pytester, tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the plugin from this checkout, as the CLI runs it
    path = tmp_path / "backprop.py"
    path.write_text(mutate((SUBMISSIONS / "student_correct.py").read_text(), ("    dscores /= N\n", "")))
    out = tmp_path / "plugin.json"
    # Without Parts 3 and 4 (the bug is in backward, which they never call: tests/test_outcomes.py shows it).
    rubric = str(rubric_of(tmp_path, lambda item: not item.startswith(("part3.", "part4."))))
    result = pytester.runpytest_subprocess("--submission", str(path), "--seed", "3", "--grade-json", str(out),
                                           "--grade-timeout", "20", "--grade-no-timing", "-p", "no:cacheprovider",
                                           "--rubric", rubric)
    result.stdout.fnmatch_lines(["*= backprop-grader =*", "part2.loss*0/8*failed*", "Total: 34 / 64*"])
    assert "the 1/N of the mean is missing" in result.stdout.str()
    assert result.ret == 1  # failing grading tests fail the pytest run, as a student expects
    plugin_report = json.loads(out.read_text())
    cli_report = grade_file(path, tmp_path / "cli.json", "--seed", "3", "--rubric", rubric)["report"]
    assert plugin_report == cli_report


def run_filtered(pytester, tmp_path, code: str, *options: str):
    """`pytest --submission` on `code` with a few fast items and one manual item, filtered by `options` (-k, -x);
    (the run, its JSON report)."""
    path, out = tmp_path / "backprop.py", tmp_path / "plugin.json"
    path.write_text(code)
    rubric = rubric_of(tmp_path, lambda item: item in ("part1.shapes", "part1.derivation", "part2.stability",
                                                       "part3.numerical_gradient", "part3.rel_error"))
    result = pytester.runpytest_subprocess("--submission", str(path), "--seed", "3", "--grade-json", str(out),
                                           "--grade-timeout", "20", "--grade-no-timing", "-p", "no:cacheprovider",
                                           "--rubric", str(rubric), *options)
    return result, json.loads(out.read_text())


def test_items_a_filtered_run_leaves_out_are_not_run_not_errors(pytester, tmp_path, monkeypatch):
    """-k: the items none of whose tests ran are "not run" (not "error ... did not run"); an item some of whose
    tests ran is scored on those; the total is that of the items run, and says so."""
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    result, report = run_filtered(pytester, tmp_path, (SUBMISSIONS / "student_correct.py").read_text(),
                                  "-k", "rel_error or large_gaps")
    result.stdout.fnmatch_lines([
        "part1.shapes * 0/8  not run", "part2.stability * 6/6  passed   partly run: test_part2.py::test*",
        "part3.numerical_gradient * 0/8  not run", "part3.rel_error * 4/4  passed",
        "Total: 10 / 10 of the items run (seed 3); 2 items not run, 1 item only partly run (-k rel_error or "
        "large_gaps)", "", "In full:", "- part2.stability (6/6):",
        "  partly run: test_part2.py::test_stability_large_offsets not run (-k", "    rel_error or large_gaps)"])
    assert "did not run" not in result.stdout.str() and " error " not in result.stdout.str()
    statuses = {item["id"]: item["status"] for item in report["items"]}
    assert statuses == {"part1.shapes": "not run", "part1.derivation": "manual", "part2.stability": "passed",
                        "part3.numerical_gradient": "not run", "part3.rel_error": "passed"}
    assert report["not_run"] == {"reason": "-k rel_error or large_gaps", "items": 2, "partly": 1, "max_score": 10}
    assert report["score"] == 10 and report["max_score"] == 26  # the rubric's, as unfiltered


def test_items_after_a_stop_with_x_are_not_run(pytester, tmp_path, monkeypatch):
    """-x stops at part1.shapes (its shapes are wrong): the items after it are "not run (-x)", not errors."""
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    code = mutate((SUBMISSIONS / "student_correct.py").read_text(), ('"X": (N, D), ', '"X": (D, N), '))
    result, report = run_filtered(pytester, tmp_path, code, "-x")
    result.stdout.fnmatch_lines(["part1.shapes * 7.53/8  partial  1 of 17 shapes are wrong*",
                                 "part2.stability * 0/6  not run",
                                 "Total: 7.53 / 8 of the items run (seed 3); 3 items not run (-x)"])
    assert {item["id"] for item in report["items"] if item["status"] == "not run"} == \
        {"part2.stability", "part3.numerical_gradient", "part3.rel_error"}


def test_table_rows_without_feedback_have_no_trailing_spaces():
    report = Report(score=8, max_score=16, seed=1, items=[ItemResult("part1.shapes", "Shapes", 8, 8, "passed", ""),
                                                          ItemResult("part2.loss", "Loss", 0, 8, "failed", "wrong")])
    rows = format_table(report, width=80).splitlines()[1:3]
    assert rows[0].endswith("passed") and rows[1].endswith("failed   wrong")


def test_plugin_is_inert_without_submission(pytester):
    pytester.makepyfile(test_simple="def test_one():\n    assert 1 + 1 == 2\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert "Total:" not in result.stdout.str() and "grading test" not in result.stdout.str()


def test_usage_error_for_a_missing_submission(pytester):
    result = pytester.runpytest_subprocess("--submission", str(REPO / "nope.py"), "-p", "no:cacheprovider")
    assert result.ret == 4  # pytest's usage error
    result.stderr.fnmatch_lines(["*nope.py: no such file or folder*"])


def test_usage_error_for_a_time_limit_that_is_not_positive(pytester):
    for option in ("--grade-timeout", "--grade-import-timeout", "--grade-call-timeout"):
        result = pytester.runpytest_subprocess("--submission", str(SUBMISSIONS / "student_correct.py"),
                                               f"{option}=-5", "-p", "no:cacheprovider")
        assert result.ret == 4  # pytest's usage error
        result.stderr.fnmatch_lines([f"*argument {option}: -5 is not a positive, finite number of seconds*"])
