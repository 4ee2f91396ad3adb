"""The pytest plugin (registered through the `pytest11` entry point). Inert unless `--submission` is given.

With `--submission PATH` the run collects the grading tests that the rubric names (and nothing else), gives each the
rubric's time limit, records each test's outcome, scores the rubric, prints the score table in the terminal summary,
and writes the JSON / Gradescope reports when asked. The checks themselves live in grader.checks.
"""
from __future__ import annotations

import importlib
import os
import time
import traceback
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Optional

import pytest

from grader import clock, fixtures, student  # noqa: F401 - clock: captured at start-up
from grader.report import ItemResult, Report, explain_missing_writeup, format_table, write_gradescope, write_json
from grader.results import GradingFailure
from grader.rubric import (
    GRADING_TESTS_DIR,
    RUBRIC_HELP,
    Item,
    Rubric,
    RubricError,
    default_rubric_path,
    find_rubric,
    load_rubric,
    seconds_value,
)
from grader.scoring import TestOutcome, grade, make_report, score_item
from grader.seeding import SEED_VARIABLE, derive_seed, seed_value
from grader.worker.client import RunAs, describe_protections, warm_up
from grader.writeup import find_writeup

STATE = pytest.StashKey["GradingRun"]()
#: Characters of the submission's printed output kept in the report (and per failed test, PRINTED_PER_TEST).
OUTPUT_SHOWN, PRINTED_PER_TEST = 8000, 1500


class GradingRun:
    """Everything one grading run shares: rubric, submission, seed, and the outcomes recorded so far."""

    def __init__(self, rubric: Rubric, source: student.SubmissionSource, seed: int,
                 run_as: Optional[RunAs] = None):
        self.rubric, self.source, self.seed, self.run_as = rubric, source, seed, run_as
        self.reference = _import_reference()  # before the submission's folder is on sys.path: no shadowing
        self.submission: Optional[student.Submission] = None
        self.outcomes: list[TestOutcome] = []
        self.started = time.monotonic()
        self.deselected: dict[str, str] = {}  # grading test -> the options that left it out (-k ..., -m ...)
        self.stopped: Optional[str] = None  # the option that stopped the run early (-x, --maxfail N)
        self._report: Optional[Report] = None

    def load_submission(self) -> student.Submission:
        if self.submission is None:
            times, bounds = self.rubric.time_limits, self.rubric.worker_limits
            limits = student.WorkerLimits(call_seconds=min(times["call"], times["test"]),
                                          import_seconds=times["import"], cpu_seconds=int(times["total"]) + 1,
                                          memory_bytes=int(bounds["memory_mb"] * 2**20),
                                          output_bytes=int(bounds["output_kb"] * 2**10),
                                          processes=int(bounds["processes"]))
            secrets = [Path(self.reference.__file__)] if self.reference is not None else []
            self.submission = student.load(self.source, self.rubric.entry_points, limits, self.rubric.class_api,
                                           self.rubric.stand_ins, self.run_as, tuple(secrets))
        return self.submission

    def finish(self) -> None:
        """Kill the workers (and whatever the submission started) before any report is written."""
        if self.submission is not None:
            self.submission.close()

    def report(self) -> Report:
        if self._report is None:
            report = grade(self.rubric, self.outcomes, self.seed, str(self.source.module_path),
                           find_writeup(self.source))
            self._report = self._with_unrun_items(explain_missing_writeup(report, self.source.module_path))
            if self.submission is not None:
                printed = self.submission.everything_printed()
                self._report.output = printed[:OUTPUT_SHOWN] or None
                self._report.protections = {**self.submission.protections,
                                            "summary": describe_protections(self.submission.protections)}
        return self._report

    def not_run_reason(self, test: str) -> Optional[str]:
        """Why grading test `test` did not run when the run was filtered (its -k/-m/... options, or the -x that
        stopped the run), None when nothing filtered it out (then its absence is an error of the grader's)."""
        return self.deselected.get(test) or self.stopped

    def _with_unrun_items(self, report: Report) -> Report:
        """The report with the items a filtered run (-k, -x, ...) left out shown as "not run", not as errors, and
        the items it ran only partly scored on the tests that ran; the total is then that of the items run."""
        ran = {outcome.test for outcome in self.outcomes}
        unrun = {item.id: [test for test in item.tests if test not in ran and self.not_run_reason(test)]
                 for item in self.rubric.items if not item.manual}
        unrun = {item_id: tests for item_id, tests in unrun.items() if tests}
        if not unrun:
            return report
        by_id = {item.id: item for item in self.rubric.items}
        reasons = list(dict.fromkeys(self.not_run_reason(test) for tests in unrun.values() for test in tests))
        items = [self._unrun_item(by_id[result.id], unrun[result.id]) if result.id in unrun else result
                 for result in report.items]
        filtered = make_report(self.rubric, items, report.seed, report.submission, report.error, report.writeup)
        not_run = [result for result in items if result.status == "not run"]
        filtered.not_run = {"reason": ", ".join(reasons), "items": len(not_run), "partly": len(unrun) - len(not_run),
                            "max_score": sum(by_id[r.id].points for r in items if r.status not in ("manual", "not run")
                                             and not by_id[r.id].bonus)}
        return filtered

    def _unrun_item(self, item: Item, unrun: list[str]) -> ItemResult:
        """An item some of whose tests a filtered run left out: "not run" when none of them ran (no feedback: the
        total names the options), else scored on those that ran, its feedback naming the others."""
        if len(unrun) == len(item.tests):
            return ItemResult(item.id, item.title, 0.0, item.points, "not run", "")
        reasons = ", ".join(dict.fromkeys(self.not_run_reason(test) for test in unrun))
        ran = tuple(test for test in item.tests if test not in unrun)
        result = score_item(replace(item, tests=ran), [o for o in self.outcomes if o.test in ran])
        note = f"partly run: {', '.join(unrun)} not run ({reasons})"
        return replace(result, feedback=f"{result.feedback} ({note})" if result.feedback else note)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("backprop-grader", "grade a backprop submission")
    group.addoption("--submission", metavar="PATH", help="grade this submission (a .py file or a folder)")
    group.addoption("--rubric", metavar="FILE", help=f"{RUBRIC_HELP} (default: rubrics/backprop.yaml)")
    group.addoption("--seed", type=seed_value, metavar="N",
                    help="input seed, 0 to 2**32-1 (default: derived from the submission and the salt)")
    group.addoption("--grade-json", metavar="FILE", help="write the JSON report here")
    group.addoption("--grade-gradescope", metavar="FILE", help="write Gradescope's results.json here")
    group.addoption("--grade-timeout", type=seconds_value, metavar="S", help="override the rubric's seconds per test")
    group.addoption("--grade-import-timeout", type=seconds_value, metavar="S",
                    help="override the rubric's import limit")
    group.addoption("--grade-call-timeout", type=seconds_value, metavar="S",
                    help="override the rubric's limit for one call of a student function")
    group.addoption("--grade-run-as", metavar="USER",
                    help="run the submission's code as this unprivileged user (when the grader is root)")
    group.addoption("--grade-no-timing", action="store_true",
                    help="skip the timing part of part2.vectorized (the line count still runs): for the grader's "
                         "own tests, which must not depend on the machine's speed")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "grading: a backprop-grader grading test")
    config.addinivalue_line("markers", "fresh_worker: each rubric item of these tests runs in a worker of its own")
    path = config.getoption("--submission", default=None)
    if not path:
        return
    if config.option.tbstyle == "auto":  # the score table carries the feedback; keep pytest's own report short
        config.option.tbstyle = "line"
    try:
        given = config.getoption("--rubric")
        rubric = load_rubric(find_rubric(Path(given)) if given else default_rubric_path())
        rubric = rubric.with_time_limits(test=config.getoption("--grade-timeout"),
                                         call=config.getoption("--grade-call-timeout"),
                                         **{"import": config.getoption("--grade-import-timeout")})
        source = student.locate(Path(path), rubric.submission)
        run_as = _run_as(config.getoption("--grade-run-as"))
    except (RubricError, student.SubmissionNotFound) as error:
        raise pytest.UsageError(str(error)) from None
    seed = config.getoption("--seed")
    from_cli = os.environ.pop(SEED_VARIABLE, None)  # popped: the workers, forked from here, must not see it
    if seed is None and from_cli is not None:
        seed = seed_value(from_cli)
    run = GradingRun(rubric, source, derive_seed(source.files, rubric.salt) if seed is None else seed, run_as)
    config.stash[STATE] = run
    warm_up()  # the fork server imports NumPy in the background while pytest collects
    config.pluginmanager.register(fixtures, "backprop-grader-fixtures")
    modules = sorted({test.split("::")[0] for item in rubric.items for test in item.tests})
    config.args[:] = [str(GRADING_TESTS_DIR / module) for module in modules]


WORKER_GROUP = pytest.StashKey[Optional[str]]()  # the rubric item whose tests need a worker of their own


def _run(config: pytest.Config) -> Optional[GradingRun]:
    return config.stash.get(STATE, None)


def pytest_sessionstart(session: pytest.Session) -> None:
    run = _run(session.config)
    if run is not None:
        run.load_submission()


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    run = _run(config)
    if run is None:
        return
    graded = run.rubric.item_of_test()
    keep, drop = [], []
    for item in items:
        (keep if _test_name(item) in graded else drop).append(item)
    for item in keep:
        item.add_marker(pytest.mark.timeout(run.rubric.time_limits["test"], method="signal"))
        item.stash[WORKER_GROUP] = graded[_test_name(item)].id if item.get_closest_marker("fresh_worker") else None
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def pytest_deselected(items: list) -> None:
    """Grading tests left out by -k, -m, --deselect, ...: their items are "not run", not errors."""
    run = _run(items[0].config) if items else None
    if run is None:
        return
    graded, reason = run.rubric.item_of_test(), _filter_options(items[0].config)
    for item in items:  # the plugin's own deselection (tests the rubric does not name) is no filter
        if _test_name(item) in graded:
            run.deselected.setdefault(_test_name(item), reason)


def pytest_runtest_setup(item: pytest.Item) -> None:
    run = _run(item.config)
    if run is not None and WORKER_GROUP in item.stash:
        run.load_submission().enter(item.stash[WORKER_GROUP])


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = (yield).get_result()
    run = _run(item.config)
    if run is None or not (report.when == "call" or (report.when == "setup" and not report.passed)):
        return
    outcome = _outcome(_test_name(item), call, run.rubric.time_limits["test"])
    printed = run.submission.printed().strip() if run.submission is not None else ""
    if outcome.fraction < 1 and printed:
        outcome = replace(outcome, printed=printed[:PRINTED_PER_TEST])
    run.outcomes.append(outcome)


def pytest_sessionfinish(session: pytest.Session) -> None:
    run = _run(session.config)
    if run is None:
        return
    run.finish()
    run.stopped = _stop_option(session)
    report = run.report()
    if session.config.getoption("--grade-json"):
        write_json(report, Path(session.config.getoption("--grade-json")))
    if session.config.getoption("--grade-gradescope"):
        visibility = {item.id: item.visibility for item in run.rubric.items}
        write_gradescope(report, Path(session.config.getoption("--grade-gradescope")), visibility,
                         time.monotonic() - run.started)


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    run = _run(config)
    if run is not None:
        terminalreporter.section("backprop-grader")
        terminalreporter.write_line(format_table(run.report()))


# ------------------------------------------------------------------------------------------------------ helpers
def _run_as(user: Optional[str]) -> Optional[RunAs]:
    if not user:
        return None
    try:
        return RunAs.lookup(user)
    except (KeyError, ImportError):
        raise student.SubmissionNotFound(f"--grade-run-as {user}: no such user on this system") from None


def _filter_options(config: pytest.Config) -> str:
    """The options that deselect tests, as given ("-k rel_error", "-m slow"), for the items they leave out."""
    options = [f"{flag} {value}" for flag, value in (("-k", config.option.keyword), ("-m", config.option.markexpr))
               if value]
    if getattr(config.option, "deselect", None):
        options.append("--deselect")
    return ", ".join(options) or "deselected"


def _stop_option(session: pytest.Session) -> Optional[str]:
    """"-x" or "--maxfail N" when the run stopped early, leaving the tests after it unrun; None when it did not."""
    if not (session.shouldfail or session.shouldstop):
        return None
    maxfail = session.config.option.maxfail
    if session.shouldfail and maxfail:
        return "-x" if maxfail == 1 else f"--maxfail {maxfail}"
    return "the run stopped early"


def _import_reference() -> Optional[ModuleType]:
    """The reference solution, or None where it is not installed (the student kit)."""
    try:
        return importlib.import_module("reference.backprop")
    except ImportError:
        return None


def _test_name(item: pytest.Item) -> str:
    """"module.py::function", the name rubrics use (all parametrizations of a function share it)."""
    return f"{Path(str(item.fspath)).name}::{getattr(item, 'originalname', item.name)}"


def _outcome(name: str, call: pytest.CallInfo, time_limit: float) -> TestOutcome:
    """Translate what a grading test did into a TestOutcome."""
    if call.excinfo is None:
        return TestOutcome(name, 1.0)
    error = call.excinfo.value
    if isinstance(error, GradingFailure):
        result = error.result
        return TestOutcome(name, result.fraction, result.feedback, result.cause)
    if isinstance(error, pytest.fail.Exception) and str(error).startswith("Timeout"):
        return TestOutcome(name, 0.0, f"did not finish within {time_limit:g} s (the time limit per grading test): "
                                      f"an infinite loop, or something very slow?", "timeout")
    if isinstance(error, pytest.skip.Exception):
        return TestOutcome(name, 0.0, f"not run: {error}", "not_run", error=True)
    where = traceback.format_exception_only(type(error), error)[-1].strip()
    return TestOutcome(name, 0.0, f"the grader itself failed on this test ({where}); please report it.",
                       "grader_error", error=True)
