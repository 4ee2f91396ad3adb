"""Timing against the batch size N, for gross per-example work the line-event count cannot see (a backward pass
that is numerical but vectorized, such as complex-step derivatives; per-example work hundreds of times the
reference's).

What it does not catch: on this 2-core machine a C-level loop over rows (`list(map(W1.T.dot, X))`, 6-27× the
reference per example) and an N×N intermediate (`probs[:, y]`, 20-50×) overlap correct code that broadcasts instead
of multiplying matrices (`(X[:, :, None] * W1).sum(1)`, 11× idle and past 25× with every core busy). A check that
fails a correct student is worse than none, so the limit sits far above every correct style measured.

A per-example loop and a vectorized pass both grow linearly in N, so what separates them is the cost per extra
example relative to the reference's, measured in the same run: each function and the reference's are called at a
small and a large N, interleaved, best of ROUNDS, at small layer sizes (D = H = 10, C = 5) where per-example overhead
dominates, every call on fresh inputs (prepared outside the timed region: a cache of earlier answers never hits).
A function fails only when its cost per extra example is at least RATIO_LIMIT times the reference's and a second,
independent measurement confirms it. The clock is the grader's own (grader.clock), read in the grader's process.
`measure` takes the clock as an argument, so the rule is tested on recorded timings.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from grader import clock as grader_clock

SMALL_N, LARGE_N = 64, 4096
ROUNDS = 5
#: Measured here (benchmarks/vectorization.py, 2 cores, D = H = 10): correct code in ordinary styles 1-3× the
#: reference per example, einsum 2-4×, broadcasting 11× idle and up to about 40× with every core busy; a numerical
#: backward 200-600×. 100× leaves a margin of 2.5× over every correct style; Python loops are the count's.
RATIO_LIMIT = 100.0
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


Timed = tuple  # (prepare: () -> arguments, run: (arguments) -> anything)


def measure(student: tuple[Timed, Timed], reference: tuple[Timed, Timed],
            clock: Callable[[], float] = grader_clock.perf_counter, rounds: int = ROUNDS) -> Timings:
    """Time (small, large) calls of the student's function and the reference's, interleaved, best of `rounds`.
    Each is a (prepare, run) pair: arguments are prepared before the clock starts."""
    calls = [student[0], student[1], reference[0], reference[1]]
    for prepare, run in calls:  # warm-up: first-call imports and caches
        run(prepare())
    best = [float("inf")] * 4
    for _ in range(rounds):
        for i, (prepare, run) in enumerate(calls):
            arguments = prepare()
            start = clock()
            run(arguments)
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
