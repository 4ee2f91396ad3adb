"""The rubric engine: grading-test outcomes in, item scores and the report out. Knows nothing of pytest."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Optional

from grader import __version__
from grader.report import ItemResult, Report
from grader.rubric import Item, Rubric


@dataclass(frozen=True)
class TestOutcome:
    """What one run of a grading test gave.

    test:     "module.py::function" (parametrized tests give one outcome per parameter set).
    fraction: credit earned in [0, 1].
    error:    True when the grader itself failed or the test did not run (not the student's fault).
    """

    test: str
    fraction: float
    feedback: str = ""
    cause: Optional[str] = None
    error: bool = False
    printed: str = ""  # what the submission printed during the test (bounded), shown with a failing item's feedback


def score_item(item: Item, outcomes: list[TestOutcome], writeup: Optional[dict] = None) -> ItemResult:
    """One item's score, status and feedback from the outcomes of its tests."""
    if item.manual:
        found = (f"graded by hand, from {writeup['source']} ({len(writeup['text']):,} characters)" if writeup
                 else "graded by hand; no writeup.md or module docstring found")
        return ItemResult(item.id, item.title, 0.0, item.points, "manual", found)
    ran = {o.test for o in outcomes}
    missing = [t for t in item.tests if t not in ran]
    outcomes = outcomes + [TestOutcome(t, 0.0, f"grading test {t} did not run", error=True) for t in missing]
    fractions = [min(max(o.fraction, 0.0), 1.0) for o in outcomes]
    if item.scoring == "all_or_nothing":
        share = 1.0 if all(f >= 1.0 for f in fractions) else 0.0
    else:
        share = sum(fractions) / len(fractions)
    score = round(item.points * share, 4)
    problems = [o for o in outcomes if o.fraction < 1.0]
    feedback = _join_unique(o.feedback for o in problems) if problems else _join_unique(o.feedback for o in outcomes)
    printed = _join_unique(o.printed for o in problems)  # once per item: import-time output shows up in one test
    if printed:
        feedback = f"{feedback} [Your code printed during this item's tests: {printed}]"
    cause = next((o.cause for o in problems if o.cause), None)
    if problems and all(o.error for o in problems) and score == 0:
        status = "error"
    elif not problems:
        status = "passed"
    else:
        status = "failed" if score == 0 else "partial"
    return ItemResult(item.id, item.title, score, item.points, status, feedback, cause)


def grade(rubric: Rubric, outcomes: Iterable[TestOutcome], seed: int, submission: str,
          writeup: Optional[dict] = None) -> Report:
    """The report for a whole run: every rubric item scored; `score` includes bonus points, `max_score` does not."""
    by_test: dict[str, list[TestOutcome]] = {}
    for outcome in outcomes:
        by_test.setdefault(outcome.test, []).append(outcome)
    items = [score_item(item, [o for t in item.tests for o in by_test.get(t, [])], writeup) for item in rubric.items]
    return make_report(rubric, items, seed, submission, writeup=writeup)


def failure_report(rubric: Rubric, seed: Optional[int], submission: str, message: str,
                   writeup: Optional[dict] = None) -> Report:
    """The report written when grading itself failed: score 0, every autograded item in error, the reason shown."""
    items = [score_item(item, [], writeup) if item.manual else
             ItemResult(item.id, item.title, 0.0, item.points, "error", f"grading failed: {message}", "grader_error")
             for item in rubric.items]
    return make_report(rubric, items, seed, submission, error=message, writeup=writeup)


def make_report(rubric: Rubric, items: list[ItemResult], seed: Optional[int], submission: str,
                error: Optional[str] = None, writeup: Optional[dict] = None) -> Report:
    by_id = {item.id: item for item in rubric.items}
    autograded = [r for r in items if not by_id[r.id].manual]
    return Report(
        score=round(sum(r.score for r in autograded), 4),
        max_score=sum(r.max_score for r in autograded if not by_id[r.id].bonus),
        seed=seed,
        items=items,
        submission=submission,
        rubric=str(rubric.path),
        grader_version=__version__,
        error=error,
        writeup=writeup,
    )


def _join_unique(texts: Iterable[str]) -> str:
    seen: list[str] = []
    for text in texts:
        if text and text not in seen:
            seen.append(text)
    return " | ".join(seen)
