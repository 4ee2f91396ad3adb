"""part2.vectorized: no loop over the batch. A deterministic count decides Python-level loops; timing against the
reference decides only what the count cannot see (see grader.checks.timing).

The count is the number of line events (sys.settrace) during one call of the student's function, numpy's own Python
code included. Vectorized code runs the same lines whatever N is; a loop over examples (a for loop, a list
comprehension, np.vectorize or map of a Python function, np.apply_along_axis) runs more lines for more examples.
Each function is called once to warm up, then twice at a small and twice at a large N; it fails when even the
smallest count at the large N exceeds the largest at the small N by one event per four extra examples. Loops over
classes or hidden units do not grow with N and pass. The same count at two input sizes D tells an analytic backward
from one computed by finite differences of the loss (its work grows with the number of parameters).

A submission cannot switch the measurement off: the grader traces and times with the functions it captured before
the submission was imported (grader.clock), and a call that replaces the tracer, or a submission that replaced the
clock or the tracing functions, fails the item with feedback saying so.
"""
from __future__ import annotations

import sys
from types import ModuleType
from typing import Callable, Optional

from grader import clock
from grader.checks import timing
from grader.problems import random_problem
from grader.results import CheckResult, failed, passed
from grader.seeding import rng_for
from grader.student import Submission

SMALL_N, LARGE_N = 8, 1032
#: One event per four extra examples: a per-example loop costs at least one event per example; the call-to-call
#: jitter of vectorized numpy code (caches, lazy imports) is a few hundred events at most, well below 256.
EVENTS_PER_EXAMPLE = 0.25
#: Input sizes D for telling an analytic backward from a numerical one, and the growth that fails: finite
#: differences evaluate the loss twice per parameter, (16 - 4)·10 = 120 more parameters: 240 more evaluations of
#: a dozen lines or more each, thousands of events, against a few hundred of jitter.
SMALL_D, LARGE_D, NUMERICAL_GROWTH = 4, 16, 500


class Tampered(Exception):
    """The submission switched the measurement off or replaced the grader's clock or tracer."""


def count_line_events(call: Callable[[], object], skip: frozenset = frozenset()) -> int:
    """Line events executed while running `call()` (any frame: the student's and numpy's Python code), except
    inside calls of the code objects in `skip` (and everything they call). Raises Tampered when the call replaces
    the tracer or calls sys.settrace / sys.setprofile."""
    count, skipping = 0, 0

    def on_call(frame, event, arg):
        nonlocal skipping
        if skipping:
            return None
        if frame.f_code in skip:
            skipping += 1
            return in_skipped
        return on_line

    def in_skipped(frame, event, arg):
        nonlocal skipping
        if event == "return":
            skipping -= 1
        return in_skipped

    def on_line(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return on_line

    touched = []

    def refuse(name):
        def watched(*args):
            touched.append(name)
        return watched

    previous = clock.gettrace()
    sys.settrace, sys.setprofile = refuse("sys.settrace"), refuse("sys.setprofile")
    clock.settrace(on_call)
    try:
        call()
    finally:
        still_ours = clock.gettrace() is on_call
        clock.settrace(previous)
        sys.settrace, sys.setprofile = clock.settrace, clock.setprofile
    if touched or not still_ours:
        raise Tampered(f"it called {touched[0]}" if touched else "the tracer was replaced during the call")
    return count


def _arguments(role: str, N: int, seed: int, D: int = 10) -> Callable[[], tuple]:
    """Fresh copies of size-N inputs for `role` at layer sizes D, H = 10, C = 5, on every call."""
    problem = random_problem(rng_for(seed, f"part2.vectorized.{N}.{D}"), N, D, 10, 5, kink_margin=0.0)
    scores = problem.X[:, :5] * 3.0 if D >= 5 else problem.z1()[:, :5]
    if role == "forward":
        return lambda: (problem.X.copy(), problem.copy().params)
    if role == "softmax_cross_entropy":
        return lambda: (scores.copy(), problem.y.copy())
    return lambda: (problem.X.copy(), problem.y.copy(), problem.copy().params, 0.0)


def _student_call(student: Submission, role: str, N: int, seed: int, D: int = 10) -> Callable[[], object]:
    """A call of the student's `role` on fresh inputs (its outputs are judged by other items: no guard)."""
    arguments = _arguments(role, N, seed, D)
    return lambda: student.call(role, *arguments(), guard=False)


def _judged_elsewhere(student: Submission, role: str) -> frozenset:
    """For backward: the code of the student's own forward and softmax_cross_entropy, which are judged on their
    own, so a loop in forward is charged to forward once even when backward calls it."""
    if role != "backward":
        return frozenset()
    codes = set()
    for other in ("forward", "softmax_cross_entropy"):
        code = getattr(student.attribute(other), "__code__", None) if student.has(other) else None
        if code is not None:
            codes.add(code)
    return frozenset(codes)


def _tampering(student: Submission, what: str) -> CheckResult:
    return failed(f"the measurement of `{student.name_of('forward')}`, `{student.name_of('softmax_cross_entropy')}` "
                  f"and `{student.name_of('backward')}` was switched off: {what}. Submissions must not touch "
                  f"sys.settrace, sys.setprofile or the clock.", "tampering")


def _counts(student: Submission, small: Callable, large: Callable, skip: frozenset) -> tuple[list, list]:
    small()  # warm-up: first-call imports and caches
    return ([count_line_events(small, skip) for _ in range(2)], [count_line_events(large, skip) for _ in range(2)])


_VERDICTS: dict = {}


def check_vectorized(student: Submission, role: str, seed: int, reference: Optional[ModuleType] = None,
                     timed: bool = True) -> CheckResult:
    """Fail `role` (forward, softmax_cross_entropy or backward) when its line count grows with N, or, with the
    reference at hand and timing on, when its cost per example is RATIO_LIMIT times the reference's (confirmed).
    Verdicts are kept for the run: backward's timing consults forward's and softmax_cross_entropy's."""
    key = (id(student), role, seed, id(reference), timed)
    if key not in _VERDICTS:
        _VERDICTS[key] = _check_vectorized(student, role, seed, reference, timed)
    return _VERDICTS[key]


def _check_vectorized(student: Submission, role: str, seed: int, reference: Optional[ModuleType],
                      timed: bool) -> CheckResult:
    if clock.tampered():
        return _tampering(student, f"the submission replaced {', '.join(clock.tampered())}")
    name = student.name_of(role)
    if getattr(student.attribute(role), "through_backward", False):
        return passed(f"the loss is part of `{name}` here: judged with backward.")
    try:
        small_counts, large_counts = _counts(student, _student_call(student, role, SMALL_N, seed),
                                             _student_call(student, role, LARGE_N, seed),
                                             _judged_elsewhere(student, role))
    except Tampered as error:
        return _tampering(student, f"`{name}`: {error}")
    growth = min(large_counts) - max(small_counts)
    counts = f"Python line events {max(small_counts):,} at N={SMALL_N}, {min(large_counts):,} at N={LARGE_N}"
    if growth >= EVENTS_PER_EXAMPLE * (LARGE_N - SMALL_N):
        return failed(f"`{name}` loops over the examples: {counts} (vectorized code runs the same lines for any N). "
                      f"Replace the loop (for, comprehension, map, np.vectorize, np.apply_along_axis) by array "
                      f"operations on the whole batch.", "loops_over_batch")
    if reference is None or not timed:
        return passed(f"`{name}`: {counts}.")
    ref_function = getattr(reference, role)
    ref_args = {N: _arguments(role, N, seed) for N in (timing.SMALL_N, timing.LARGE_N)}
    student_calls = (_student_call(student, role, timing.SMALL_N, seed),
                     _student_call(student, role, timing.LARGE_N, seed))
    reference_calls = tuple(lambda N=N: ref_function(*ref_args[N]()) for N in (timing.SMALL_N, timing.LARGE_N))
    loops, timings = timing.judge(timing.measure(student_calls, reference_calls),
                                  lambda: timing.measure(student_calls, reference_calls))
    if loops and role == "backward":  # slow through a helper judged on its own, or numerical: charged there
        for other in ("forward", "softmax_cross_entropy"):
            if student.has(other) and not check_vectorized(student, other, seed, reference, timed).passed:
                return passed(f"`{name}` is slow per example through `{student.name_of(other)}`, charged there: "
                              f"{timing.describe(timings)}.")
        if check_analytic(student, seed):
            return passed(f"`{name}` is slow per example because it is numerical, charged to the backward items: "
                          f"{timing.describe(timings)}.")
    if loops:
        return failed(f"`{name}` does per-example work the line count cannot see (a loop run in C, such as "
                      f"map(np.dot, X), or an N×N intermediate such as probs[:, y]): {timing.describe(timings)}, "
                      f"confirmed twice; {counts}.", "loops_over_batch")
    return passed(f"`{name}`: {counts}; {timing.describe(timings)}.")


def check_analytic(student: Submission, seed: int) -> Optional[CheckResult]:
    """None for an analytic backward; a failure when backward's work grows with the number of parameters (its
    gradients come from finite differences of the loss). Kept for the run: three items ask."""
    key = (id(student), "analytic", seed)
    if key not in _VERDICTS:
        _VERDICTS[key] = _check_analytic(student, seed)
    return _VERDICTS[key]


def _check_analytic(student: Submission, seed: int) -> Optional[CheckResult]:
    name = student.name_of("backward")
    try:
        small_counts, large_counts = _counts(student, _student_call(student, "backward", 8, seed, SMALL_D),
                                             _student_call(student, "backward", 8, seed, LARGE_D), frozenset())
    except Tampered as error:
        return _tampering(student, f"`{name}`: {error}")
    if min(large_counts) - max(small_counts) >= NUMERICAL_GROWTH:
        return failed(f"`{name}` computes its gradients numerically, not analytically: Python line events "
                      f"{max(small_counts):,} at D={SMALL_D}, {min(large_counts):,} at D={LARGE_D} (its work grows "
                      f"with the number of parameters, as finite differences do; an analytic backward runs the same "
                      f"lines for any size). Derive the gradients with the chain rule.", "numerical_not_analytic")
    return None
