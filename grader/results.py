"""What a check returns, and how a grading test reports it to the plugin.

Checks are plain functions that return a `CheckResult`; grading tests call `expect(result)`, which raises
`CheckFailed` (an AssertionError, so plain pytest shows the feedback) when the result is not a full pass.
Problems with the student's code itself (not implemented, raised, wrong type) surface as `StudentCodeError`.
The plugin reads `.result` from either exception.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one grading test.

    fraction: share of the test's credit earned, in [0, 1]; 1 is a pass.
    feedback: what the grader saw, in words a student can act on.
    cause:    short machine-readable code of the diagnosed mistake (e.g. "missing_1_over_N"), or None.
    """

    fraction: float
    feedback: str
    cause: Optional[str] = None

    @property
    def passed(self) -> bool:
        return self.fraction >= 1.0


def passed(feedback: str = "") -> CheckResult:
    return CheckResult(1.0, feedback)


def failed(feedback: str, cause: Optional[str] = None) -> CheckResult:
    return CheckResult(0.0, feedback, cause)


class GradingFailure(AssertionError):
    """Base of the exceptions that carry a CheckResult out of a grading test."""

    def __init__(self, result: CheckResult):
        super().__init__(result.feedback)
        self.result = result


class CheckFailed(GradingFailure):
    """A check found the submission wrong (or only partly right)."""


class StudentCodeError(GradingFailure):
    """The student's code could not be run as the contract says: missing, not implemented, raised, wrong type."""

    def __init__(self, feedback: str, cause: str = "student_code_error"):
        super().__init__(CheckResult(0.0, feedback, cause))


def expect(result: CheckResult) -> None:
    """Fail the calling grading test unless `result` is a full pass."""
    if not result.passed:
        raise CheckFailed(result)
