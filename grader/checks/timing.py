"""Timing against the batch size N, for what the line-event count cannot see: per-example loops run in C
(`list(map(np.matmul, X, ...))`, np.vectorize of a C function) and N×N intermediates (`probs[:, y]`).

A per-example loop and a vectorized pass both grow linearly in N, so what separates them is the cost per extra
example relative to the reference's, measured in the same run: each function and the reference's are called at a
small and a large N, interleaved, best of ROUNDS, at small layer sizes (D = H = 10, C = 5) where per-example overhead
dominates. A function fails only when its cost per extra example is at least RATIO_LIMIT times the reference's and a
second, independent measurement confirms it. The clock is the grader's own (grader.clock), read in the grader's
process. `measure` takes the clock as an argument, so the rule is tested on recorded timings.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from grader import clock as grader_clock

SMALL_N, LARGE_N = 64, 2048
ROUNDS = 5
#: Measured here: a C-level map over rows is about 23× the reference per example at D=H=10, a Python row loop about
#: 100×, einsum about 4× (and must pass); an N×N intermediate grows without bound. 10× leaves 2.5× of room on the
#: correct side, and a second measurement must agree before anything fails.
RATIO_LIMIT = 10.0
#: The reference's cost per example is a few ns; below this floor, timer resolution would dominate the ratio.
FLOOR_SECONDS = 2e-9


@dataclass(frozen=True)
class Timings:
    """Best-of-ROUNDS seconds per call, at SMALL_N and LARGE_N, for the student's function and the reference's."""

    student_small: float
    student_large: float
    reference_small: float
    reference_large: float

    @property
    def student_per_example(self) -> float:
        return max(self.student_large - self.student_small, 0.0) / (LARGE_N - SMALL_N)

    @property
    def reference_per_example(self) -> float:
        return max(self.reference_large - self.reference_small, 0.0) / (LARGE_N - SMALL_N)

    @property
    def ratio(self) -> float:
        return self.student_per_example / max(self.reference_per_example, FLOOR_SECONDS)


def measure(student: tuple[Callable, Callable], reference: tuple[Callable, Callable],
            clock: Callable[[], float] = grader_clock.perf_counter, rounds: int = ROUNDS) -> Timings:
    """Time (small, large) calls of the student's function and the reference's, interleaved, best of `rounds`."""
    calls = [student[0], student[1], reference[0], reference[1]]
    for call in calls:  # warm-up: first-call imports and caches
        call()
    best = [float("inf")] * 4
    for _ in range(rounds):
        for i, call in enumerate(calls):
            start = clock()
            call()
            best[i] = min(best[i], clock() - start)
    return Timings(*best)


def judge(first: Timings, remeasure: Callable[[], Timings]) -> tuple[bool, Timings]:
    """(loops?, the timings that decided): a ratio at or above RATIO_LIMIT must be confirmed by a second measurement."""
    if first.ratio < RATIO_LIMIT:
        return False, first
    second = remeasure()
    return second.ratio >= RATIO_LIMIT, second


def describe(t: Timings) -> str:
    return (f"time per extra example {t.student_per_example * 1e6:.3g} µs vs {t.reference_per_example * 1e6:.3g} µs "
            f"for the reference ({t.ratio:.0f}×, measured between N={SMALL_N} and N={LARGE_N})")
