"""The timing rule of part2.vectorized, on recorded timings and a fake clock: never on this machine's speed."""
from __future__ import annotations

import itertools

import pytest

from grader.checks import timing
from grader.checks.timing import RATIO_LIMIT, Timings, judge, measure

PER_EXAMPLE = timing.LARGE_N - timing.SMALL_N


def recorded(student_us: float, reference_us: float, base: float = 50e-6) -> Timings:
    """Timings whose cost per extra example is student_us and reference_us microseconds."""
    return Timings(base, base + student_us * 1e-6 * PER_EXAMPLE, base, base + reference_us * 1e-6 * PER_EXAMPLE)


#: Per-example costs of backward recorded on this project's 2-core machine at D = H = 10, C = 5 (µs, student vs
#: reference, BLAS on one thread, between N = 64 and N = 1024) with timing.measure, while other processes loaded the
#: machine (load average 10). Only backward is timed: forward's and the softmax's C-level loops and N×N intermediates
#: are caught deterministically (tests/test_vectorization.py, test_memory_growth.py), and timing could not tell them
#: from correct broadcasting code (broadcasting forward 16×, the C-level map 20×, an N×N softmax 7×, same recording).
RECORDED = {
    "broadcasting in backward (correct)": (1.47, 0.284, False),
    "numerical backward vectorized over the parameters": (300.0, 0.499, True),
    "numerical backward looping over the parameters": (300.0, 0.284, True),
}


@pytest.mark.parametrize("name", RECORDED)
def test_recorded_timings(name):
    student_us, reference_us, loops = RECORDED[name]
    first = recorded(student_us, reference_us)
    verdict, decided = judge(first, lambda: recorded(student_us, reference_us))
    assert verdict is loops
    assert decided.ratio == pytest.approx(student_us / reference_us)


def test_a_failure_needs_a_second_measurement_that_agrees():
    slow, fast = recorded(50.0, 0.1), recorded(0.5, 0.1)
    assert judge(slow, lambda: slow) == (True, slow)
    assert judge(slow, lambda: fast) == (False, fast)  # a spike the second measurement does not repeat


def test_a_pass_is_never_remeasured():
    def remeasure():
        raise AssertionError("a ratio below the limit must not be measured again")
    assert judge(recorded(RATIO_LIMIT * 0.99 * 0.1, 0.1), remeasure)[0] is False


def test_ratio_floor_guards_against_timer_resolution():
    t = Timings(1e-5, 1e-5 + 1e-9, 1e-5, 1e-5)  # reference shows no growth at all
    assert t.reference_per_example == 0.0 and t.ratio == pytest.approx(t.student_per_example / timing.FLOOR_SECONDS)
    assert Timings(2e-5, 1e-5, 1e-5, 2e-5).student_per_example == 0.0  # noise never gives negative costs


def test_measure_interleaves_and_keeps_the_best_of_each():
    """A fake clock: each call advances it by a scripted duration; the first round is slow (a loaded machine).
    Preparing the arguments also takes (fake) time, which must not be counted."""
    now = [0.0]
    order = []

    def clock():
        return now[0]

    def call(name, durations):
        it = itertools.cycle(durations)

        def prepare():
            now[0] += 100.0  # outside the timed region
            return name

        def run(arguments):
            assert arguments == name
            order.append(name)
            now[0] += next(it)
        return prepare, run

    student = (call("s_small", [9.0, 1.0]), call("s_large", [9.0, 3.0]))
    reference = (call("r_small", [9.0, 1.0]), call("r_large", [9.0, 1.5]))
    t = measure(student, reference, clock=clock, rounds=3)
    assert order[:4] == ["s_small", "s_large", "r_small", "r_large"]  # warm-up
    assert order[4:8] == ["s_small", "s_large", "r_small", "r_large"]  # interleaved rounds
    assert (t.student_small, t.student_large, t.reference_small, t.reference_large) == (1.0, 3.0, 1.0, 1.5)
    assert t.ratio == pytest.approx(4.0)
