"""Benchmark of part2.vectorized (not a test): false positives under load, false negatives on looping variants.

Runs the whole check (forward, softmax_cross_entropy and backward, count and timing) RUNS_CORRECT times on a
correct submission while other processes keep every core busy, and RUNS_LOOPING times on each looping variant, and
prints the false-positive and false-negative counts, the median wall time of one check, and the median cost per
example (µs) of each variant and of the reference. Usage: python benchmarks/vectorization.py [--quick]

BLAS is pinned to one thread, as the CLI's grading process does.
"""
from __future__ import annotations

import os

os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")

import multiprocessing  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import textwrap  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from test_vectorization import LOOPING, NUMERICAL_BACKWARD, UNSEEN_BY_THE_COUNT, VECTORIZED  # noqa: E402

from grader import student as student_module  # noqa: E402
from grader.checks import timing, vectorization  # noqa: E402
from grader.contract import ENTRY_POINTS  # noqa: E402
from reference import backprop as reference  # noqa: E402

BASE = (REPO / "tests" / "submissions" / "student_correct.py").read_text()
ROLES = ("forward", "softmax_cross_entropy", "backward")


def load(code: str):
    folder = Path(tempfile.mkdtemp(prefix="bench-"))
    path = folder / "backprop.py"
    path.write_text(code)
    return student_module.load(student_module.locate(path, "backprop.py"), dict(ENTRY_POINTS), 10)


def run_check(student, seed: int) -> tuple[set, float, dict]:
    """(roles that fail, wall seconds, {})."""
    student.verdicts.clear()
    start = time.perf_counter()
    failing = {role for role in ROLES if not vectorization.check_vectorized(student, role, seed, reference).passed}
    if vectorization.check_analytic(student, seed):
        failing.add("backward (numerical)")
    return failing, time.perf_counter() - start, {}


def busy(stop) -> None:
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def main() -> None:
    quick = "--quick" in sys.argv
    runs_correct, runs_looping = (20, 5) if quick else (200, 100)
    stop = multiprocessing.Event()
    hogs = [multiprocessing.Process(target=busy, args=(stop,), daemon=True) for _ in range(os.cpu_count() or 2)]
    for hog in hogs:
        hog.start()
    try:
        correct = {"student_correct": BASE, **{k: BASE + "\n" + textwrap.dedent(v) for k, v in VECTORIZED.items()}}
        false_positives, walls = 0, []
        for i in range(runs_correct):
            name = list(correct)[i % len(correct)]
            failing, wall, _ = run_check(load(correct[name]), seed=i)
            walls.append(wall)
            if failing:
                false_positives += 1
                print(f"  false positive: {name} seed {i}: {sorted(failing)}")
        print(f"correct submissions ({', '.join(correct)}), {runs_correct} runs with every core busy: "
              f"{false_positives} false positives; median wall time {statistics.median(walls):.2f} s, "
              f"max {max(walls):.2f} s")
        looping = {**{k: v for k, (v, _) in LOOPING.items()}, **UNSEEN_BY_THE_COUNT,
                   "numerical_backward": NUMERICAL_BACKWARD}
        total_fn = 0
        for name, code in looping.items():
            student = load(BASE + "\n" + textwrap.dedent(code))
            misses, walls = 0, []
            for i in range(runs_looping):
                failing, wall, _ = run_check(student, seed=i)
                walls.append(wall)
                misses += not failing
            total_fn += misses
            median = statistics.median(walls)
            print(f"{name}: {runs_looping} runs, {misses} false negatives, median wall {median:.2f} s")
        print(f"looping variants: {total_fn} false negatives in {runs_looping * len(looping)} runs")
        probes = {"student_correct": BASE, "einsum": correct["einsum"], "broadcasting": correct["broadcasting"],
                  **{k: BASE + "\n" + textwrap.dedent(v) for k, v in UNSEEN_BY_THE_COUNT.items()}}
        for name, code in probes.items():
            student = load(code)
            for role in ROLES:
                sizes, fn = (timing.SMALL_N, timing.LARGE_N), getattr(reference, role)
                t = timing.measure(
                    tuple((vectorization._fresh_arguments(role, N, 0), lambda a: student.call(role, *a, guard=False))
                          for N in sizes),
                    tuple((vectorization._fresh_arguments(role, N, 1), lambda a: fn(*a)) for N in sizes))
                print(f"per example, {name}.{role}: {t.student_per_example * 1e6:.3g} µs vs "
                      f"{t.reference_per_example * 1e6:.3g} µs for the reference ({t.ratio:.1f}×)")
    finally:
        stop.set()
        for hog in hogs:
            hog.join()


if __name__ == "__main__":
    main()
