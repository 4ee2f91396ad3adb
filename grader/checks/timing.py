"""Timing of backward against the batch size N, for gross per-example work no deterministic rule sees: a numerical
backward vectorized over the parameters (every perturbed network in one batch, tests/test_vectorization.py): no loop,
so neither the line and array counts nor the D×H count see it, while it costs hundreds of times the reference per
example.

Forward and softmax_cross_entropy are not timed: their loops run in C and their N×N intermediates are caught
deterministically (grader.checks.tracked_arrays, grader.checks.memory_growth), and timing cannot tell those from
correct code that broadcasts instead of multiplying matrices (`(X[:, :, None] * W1).sum(1)`). Measured with
benchmarks/vectorization.py (README, "Measured"): at D = H = 10 the C-level map costs 18-20× the reference per
example and broadcasting's forward 16-21×, which reached 100× twice in a row once in 200 runs with every core busy
(timed up to N = 4096). At tiny layer sizes (D = H = C = 2) broadcasting stays near 10× and the C-level map above
40×, but one run with every core busy had a correct backward at 40.7× against the map's 41.9×: no limit there keeps
a margin on both sides. A check that fails a correct student is worse than none.

A per-example loop and a vectorized pass both grow linearly in N, so what separates them is the cost per extra
example relative to the reference's, measured in the same run: each function and the reference's are called at a
small and a large N, interleaved, best of ROUNDS, at small layer sizes (D = H = 10, C = 5) where per-example overhead
dominates, every call on fresh inputs (prepared outside the timed region: a cache of earlier answers never hits).
LARGE_N is 1024, not more: longer calls are preempted more often on a busy machine, and at N = 4096 broadcasting's
N×D×H intermediates no longer fit in the cache, both of which inflate correct code's ratio under load.
A function fails only when its cost per extra example is at least RATIO_LIMIT times the reference's and a second,
independent measurement confirms it. The clock is the grader's own (grader.clock), read in the grader's process.
`measure` takes the clock as an argument, so the rule is tested on recorded timings.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from grader import clock as grader_clock

SMALL_N, LARGE_N = 64, 1024
ROUNDS = 5
#: Measured for backward (benchmarks/vectorization.py, 2 cores, D = H = 10, N from 64 to 1024): correct styles at most
#: 5.3× the reference per example idle and 21.8× with every core busy; the numerical backward vectorized over the
#: parameters at least 177× idle (435× busy). 100× leaves 4.6× over correct code, 1.8× under that backward.
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
