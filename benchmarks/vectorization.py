"""Benchmark of part2.vectorized (not a test): false positives under load, false negatives on looping variants.

Runs the whole check (forward, softmax_cross_entropy and backward: line and array counts, peak memory, timing, and
the D×H count of a numerical backward) RUNS_CORRECT times on correct submissions while other processes keep every
core busy, and RUNS_LOOPING times on each looping variant (a variant is missed when the function that loops passes);
prints the false-positive and false-negative counts, the wall time of one check, the N² coefficient of peak memory
(bytes per pair of examples) of every style, and the timing ratio per example against the reference at two layer
sizes (D = H = 10, C = 5, where the timing rule measures, and D = H = C = 2), before starting the busy processes and
with them.
With --half-cpu the benchmark, its workers and a single busy process share one core (each gets about half of
it, as in Gradescope's default container); without it one busy process runs per core.
Usage: python benchmarks/vectorization.py [--quick] [--half-cpu] [--runs-correct K] [--runs-looping K]
       [--runs-numerical K]

BLAS is pinned to one thread, as the CLI's grading process does.
"""
from __future__ import annotations

import os

os.environ.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import multiprocessing  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import textwrap  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Iterator  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from test_vectorization import (  # noqa: E402
    LOOPING,
    NO_PYTHON_LOOP,
    NUMERICAL_BACKWARD,
    VECTORIZED,
    VECTORIZED_NUMERICAL_BACKWARD,
)

from grader import student as student_module  # noqa: E402
from grader.checks import memory_growth, timing, vectorization  # noqa: E402
from grader.contract import ENTRY_POINTS  # noqa: E402
from reference import backprop as reference  # noqa: E402

BASE = (REPO / "tests" / "submissions" / "student_correct.py").read_text()
ROLES = ("forward", "softmax_cross_entropy", "backward")
#: Layer sizes (D, H, C) of the timing probe.
PROBE_SIZES = ((10, 10, 5), (2, 2, 2))


@contextlib.contextmanager
def load(code: str) -> Iterator[student_module.Submission]:
    """The correct submission with the functions in `code` replaced, imported in a worker (closed afterwards)."""
    folder = Path(tempfile.mkdtemp(prefix="bench-"))
    path = folder / "backprop.py"
    path.write_text(BASE + "\n" + textwrap.dedent(code))
    submission = student_module.load(student_module.locate(path, "backprop.py"), dict(ENTRY_POINTS))
    try:
        yield submission
    finally:
        submission.close()


def run_check(student: student_module.Submission, seed: int) -> tuple[set, float]:
    """(the roles that fail, "backward (numerical)" when the D×H count fails; wall seconds of the whole check)."""
    student.verdicts.clear()
    start = time.perf_counter()
    failing = {role for role in ROLES if not vectorization.check_vectorized(student, role, seed, reference).passed}
    if vectorization.check_analytic(student, seed, reference):
        failing.add("backward (numerical)")
    return failing, time.perf_counter() - start


def timing_ratio(student: student_module.Submission, role: str, seed: int, D: int, H: int, C: int) -> float:
    """One timing.measure of `role` against the reference's at layer sizes D, H, C: the ratio per example."""
    sizes, function = (timing.SMALL_N, timing.LARGE_N), getattr(reference, role)
    return timing.measure(
        vectorization.timed_calls(student, role, seed, D, H, C),
        tuple((vectorization._fresh_arguments(role, N, seed + 1, D, H, C), lambda a: function(*a)) for N in sizes),
    ).ratio


def busy(stop) -> None:
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def false_positives(correct: dict, runs: int) -> None:
    failures, walls = 0, []
    for i in range(runs):
        name = list(correct)[i % len(correct)]
        with load(correct[name]) as student:
            failing, wall = run_check(student, seed=i)
        walls.append(wall)
        if failing:
            failures += 1
            print(f"  false positive: {name} seed {i}: {sorted(failing)}", flush=True)
    print(f"correct submissions ({', '.join(correct)}), {runs} runs with every core busy: {failures} false "
          f"positives; wall time of the check median {statistics.median(walls):.2f} s, max {max(walls):.2f} s",
          flush=True)


def false_negatives(looping: dict, runs: dict) -> None:
    total, misses_total = 0, 0
    for name, (code, role) in looping.items():
        misses, walls, others = 0, [], set()
        with load(code) as student:
            for i in range(runs[name]):
                failing, wall = run_check(student, seed=i)
                walls.append(wall)
                misses += role not in failing
                others |= failing - {role, "backward (numerical)"}
        total, misses_total = total + runs[name], misses_total + misses
        print(f"{name} ({role}): {runs[name]} runs, {misses} false negatives, wall median "
              f"{statistics.median(walls):.2f} s, max {max(walls):.2f} s"
              + (f"; other roles failed: {sorted(others)}" if others else ""), flush=True)
    print(f"looping variants: {misses_total} false negatives in {total} runs", flush=True)


def probes(styles: dict, reps: int, condition: str) -> None:
    """The N² coefficient of peak memory and the timing ratios of every style, role by role."""
    print(f"-- probes, {condition}", flush=True)
    ratios: dict = {}
    for name, code in styles.items():
        with load(code) as student:
            for role in ROLES:
                peaks = vectorization.peaks_by_batch_size(student, role, 0)
                line = f"{name}.{role}: N² coefficient {memory_growth.n_squared_coefficient(peaks):.4f} B/pair"
                for D, H, C in PROBE_SIZES:
                    found = [timing_ratio(student, role, seed, D, H, C) for seed in range(reps)]
                    ratios[name, role, (D, H, C)] = found
                    line += f"; ratio at D=H={D}, C={C}: {min(found):.1f}-{max(found):.1f}×"
                print(line, flush=True)
    for D, H, C in PROBE_SIZES:
        correct = {k: v for k, v in ratios.items() if k[0] in VECTORIZED and k[2] == (D, H, C)}
        worst = max(correct, key=lambda k: max(correct[k]))
        worst_backward = max(max(v) for k, v in correct.items() if k[1] == "backward")
        print(f"{condition}, D=H={D}, C={C}: largest ratio of a correct style {max(correct[worst]):.1f}× "
              f"({worst[0]}.{worst[1]}), of a correct backward {worst_backward:.1f}×; smallest of the C-level map "
              f"(forward) {min(ratios['c_level_map', 'forward', (D, H, C)]):.1f}×, of the vectorized numerical "
              f"backward {min(ratios['vectorized_numerical_backward', 'backward', (D, H, C)]):.1f}×", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="20 correct runs, 5 per looping variant")
    parser.add_argument("--runs-correct", type=int, default=200)
    parser.add_argument("--runs-looping", type=int, default=100)
    parser.add_argument("--runs-numerical", type=int, default=None, help="runs of each numerical backward "
                        "(default: --runs-looping; one check takes seconds)")
    parser.add_argument("--probe-reps", type=int, default=5)
    parser.add_argument("--half-cpu", action="store_true", help="everything on one core, shared with one busy process")
    args = parser.parse_args()
    if args.quick:
        args.runs_correct, args.runs_looping, args.probe_reps = 20, 5, 2
    cores = os.cpu_count() or 2
    if args.half_cpu:
        # Inherited by the fork server, its workers and the busy process started below.
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        cores = 1
    styles = {**VECTORIZED, **{k: code for k, (code, _, _) in NO_PYTHON_LOOP.items()},
              "vectorized_numerical_backward": VECTORIZED_NUMERICAL_BACKWARD}
    probes(styles, args.probe_reps, "no busy processes started")
    stop = multiprocessing.Event()
    hogs = [multiprocessing.Process(target=busy, args=(stop,), daemon=True) for _ in range(cores)]
    for hog in hogs:
        hog.start()
    try:
        false_positives(VECTORIZED, args.runs_correct)
        looping = {**{k: (code, role) for k, (code, roles) in LOOPING.items() for role in sorted(roles)},
                   **{k: (code, role) for k, (code, role, _) in NO_PYTHON_LOOP.items()},
                   "numerical_backward": (NUMERICAL_BACKWARD, "backward (numerical)"),
                   "vectorized_numerical_backward": (VECTORIZED_NUMERICAL_BACKWARD, "backward")}
        runs = {name: args.runs_looping for name in looping}
        for name in ("numerical_backward", "vectorized_numerical_backward"):
            runs[name] = args.runs_looping if args.runs_numerical is None else args.runs_numerical
        false_negatives(looping, runs)
        probes(styles, args.probe_reps, "every core busy")
    finally:
        stop.set()
        for hog in hogs:
            hog.join()


if __name__ == "__main__":
    main()
