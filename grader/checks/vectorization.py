"""part2.vectorized: no Python-level loop over the batch, decided by a deterministic count.

The count is the number of line events (sys.settrace) during one call of the student's function, numpy's own Python
code included. Vectorized code runs the same lines whatever N is; a loop over examples (a for loop, a list
comprehension, np.vectorize, np.apply_along_axis) runs more lines for more examples. Each function is called once to
warm up, then twice at a small and twice at a large N; it fails when even the smallest count at the large N exceeds
the largest at the small N by one event per four extra examples. Loops over classes or hidden units do not grow
with N and pass.
"""
from __future__ import annotations

import sys
from typing import Callable

from grader.problems import random_problem
from grader.results import CheckResult, failed, passed
from grader.seeding import rng_for
from grader.student import Submission

SMALL_N, LARGE_N = 8, 1032
#: One event per four extra examples: a per-example loop costs at least one event per example; the call-to-call
#: jitter of vectorized numpy code (caches, lazy imports) is a few hundred events at most, well below 256.
EVENTS_PER_EXAMPLE = 0.25


def count_line_events(call: Callable[[], object], skip: frozenset = frozenset()) -> int:
    """Line events executed while running `call()` (any frame: the student's and numpy's Python code), except
    inside calls of the code objects in `skip` (and everything they call)."""
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

    previous = sys.gettrace()
    sys.settrace(on_call)
    try:
        call()
    finally:
        sys.settrace(previous)
    return count


def _calls_at(student: Submission, role: str, N: int, seed: int) -> Callable[[], object]:
    """A call of the student's `role` on fresh copies of size-N inputs (outputs are judged by other items)."""
    problem = random_problem(rng_for(seed, f"part2.vectorized.{N}"), N, 10, 10, 5, kink_margin=0.0)
    scores = problem.X[:, :5] * 3.0
    if role == "forward":
        return lambda: student.call(role, problem.X.copy(), problem.copy().params, guard=False)
    if role == "softmax_cross_entropy":
        return lambda: student.call(role, scores.copy(), problem.y.copy(), guard=False)
    return lambda: student.call(role, problem.X.copy(), problem.y.copy(), problem.copy().params, 0.0, guard=False)


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


def check_vectorized(student: Submission, role: str, seed: int) -> CheckResult:
    """Fail `role` (forward, softmax_cross_entropy or backward) when its line count grows with N."""
    small, large = _calls_at(student, role, SMALL_N, seed), _calls_at(student, role, LARGE_N, seed)
    skip = _judged_elsewhere(student, role)
    small()  # warm-up: first-call imports and caches
    small_counts = [count_line_events(small, skip) for _ in range(2)]
    large_counts = [count_line_events(large, skip) for _ in range(2)]
    growth = min(large_counts) - max(small_counts)
    limit = EVENTS_PER_EXAMPLE * (LARGE_N - SMALL_N)
    name = student.name_of(role)
    if growth >= limit:
        return failed(f"`{name}` loops over the examples: Python line events {max(small_counts):,} at N={SMALL_N}, "
                      f"{min(large_counts):,} at N={LARGE_N} (vectorized code runs the same lines for any N). "
                      f"Replace the loop (for, comprehension, map, np.vectorize, np.apply_along_axis) by array "
                      f"operations on the whole batch.", "loops_over_batch")
    return passed(f"`{name}`: {max(small_counts):,} line events at N={SMALL_N}, {min(large_counts):,} at N={LARGE_N}.")
