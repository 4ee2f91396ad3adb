"""The pytest plugin: `pytest --submission PATH` gives the same scores as the CLI and prints the score table;
without --submission the plugin does nothing."""
from __future__ import annotations

import json

from conftest import REPO, SUBMISSIONS, grade_file, mutate, rubric_of

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
