"""part2.vectorized: no loop over the batch. A deterministic count decides Python-level loops; timing against the
reference decides only what the count cannot see (see grader.checks.timing).

The count is the number of line events (sys.settrace) during one call of the student's function, numpy's own Python
code included. Vectorized code runs the same lines whatever N is; a loop over examples (a for loop, a list
comprehension, np.vectorize or map of a Python function, np.apply_along_axis) runs more lines for more examples.
Each function is called once to warm up, then twice at a small and twice at a large N; it fails when even the
smallest count at the large N exceeds the largest at the small N by one event per four extra examples. Loops over
classes or hidden units do not grow with N and pass. The same count at two input sizes D tells an analytic backward
from one computed by finite differences of the loss (its work grows with the number of parameters).

The count is taken in the worker (grader.worker.probes, with the tracing functions captured before the submission
was imported; a call that replaces the tracer, or a submission that replaced the tracing functions, fails the item
with feedback saying so). Timing is read on the grader's clock, in the grader's process, around requests that run
the student's function on arguments the worker already holds: the submission cannot touch that clock.
"""
from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import Callable, Optional

import numpy as np

from grader import outputs
from grader.checks import timing
from grader.contract import PARAM_NAMES
from grader.problems import random_problem
from grader.results import CheckResult, StudentCodeError, failed, passed
from grader.seeding import rng_for
from grader.student import Submission, Tampered
from grader.worker import protocol

SMALL_N, LARGE_N = 8, 1032
#: One event per four extra examples: a per-example loop costs at least one event per example; the call-to-call
#: jitter of vectorized numpy code (caches, lazy imports) is a few hundred events at most, well below 256.
EVENTS_PER_EXAMPLE = 0.25
#: Layer sizes for telling an analytic backward from a numerical one, and the D×H interaction that fails: finite
#: differences evaluate the loss 2·(12 - 4)² = 128 more times than the additive part explains, each a dozen lines or
#: more: well over a thousand events, against a few hundred of jitter.
SMALL_D, LARGE_D, NUMERICAL_GROWTH = 4, 12, 500


def _fresh_arguments(role: str, N: int, seed: int, D: int = 10, H: int = 10) -> Callable[[], tuple]:
    """Inputs for `role` at batch size N and layer sizes D, H (C = 5): new values on every call, so an answer
    remembered from an earlier call never fits."""
    rng = rng_for(seed, f"part2.vectorized.{role}.{N}.{D}.{H}")

    def arguments() -> tuple:
        problem = random_problem(rng, N, D, H, 5, kink_margin=0.0)
        if role == "forward":
            return problem.X, problem.params
        if role == "softmax_cross_entropy":
            return 3.0 * problem.z1()[:, :5] if H >= 5 else 3.0 * problem.X[:, :5], problem.y
        return problem.X, problem.y, problem.params, 0.0
    return arguments


def _counter(student: Submission, role: str, N: int, seed: int, D: int = 10, H: int = 10) -> Callable[[], int]:
    """Line events of one call of the student's `role` on fresh inputs. For backward, not counting inside the
    student's own forward and softmax_cross_entropy, which are judged on their own (a loop in forward is charged
    to forward once even when backward calls it)."""
    arguments = _fresh_arguments(role, N, seed, D, H)
    skip = ("forward", "softmax_cross_entropy") if role == "backward" else ()
    return lambda: student.count_lines(role, arguments(), skip)


def _tampering(student: Submission, what: str) -> CheckResult:
    return failed(f"the measurement of `{student.name_of('forward')}`, `{student.name_of('softmax_cross_entropy')}` "
                  f"and `{student.name_of('backward')}` was switched off: {what}. Submissions must not touch "
                  f"sys.settrace, sys.setprofile or the clock.", "tampering")


def _works(role: str, arguments: tuple, result: object) -> bool:
    """The call computes something of the contract's form (vectorization is judged on working code only, not on
    code that returns its inputs or constants): finite float64 arrays of the contract's shapes (and a finite loss),
    none a copy of an input, none constant. Their values are judged by the other items: a bug is charged there."""
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        return False
    if role == "forward":
        (N, _), (_, C) = arguments[0].shape, arguments[1]["W2"].shape
        arrays, shapes = [result[0]], [(N, C)]
    elif role == "softmax_cross_entropy":
        arrays, shapes = [result[1]], [arguments[0].shape]
    else:
        params = arguments[2]
        grads = result[1] if isinstance(result[1], Mapping) else {}
        arrays, shapes = [grads.get(k) for k in PARAM_NAMES], [params[k].shape for k in PARAM_NAMES]
    if role != "forward":
        try:
            if not np.isfinite(outputs.number(result[0], "the loss")):
                return False
        except StudentCodeError:
            return False
    inputs = list(protocol.walk_arrays(arguments))
    return all(isinstance(a, np.ndarray) and a.dtype == np.float64 and a.shape == shape and np.all(np.isfinite(a))
               and np.ptp(a) > 0 and not any(a.shape == x.shape and np.array_equal(a, x) for x in inputs)
               for a, shape in zip(arrays, shapes))


def check_vectorized(student: Submission, role: str, seed: int, reference: Optional[ModuleType] = None,
                     timed: bool = True) -> CheckResult:
    """Fail `role` (forward, softmax_cross_entropy or backward) when its line count grows with N, or, with the
    reference at hand and timing on, when its cost per example is RATIO_LIMIT times the reference's (confirmed).
    Verdicts are kept for the run: backward's timing consults forward's and softmax_cross_entropy's."""
    return student.remembered(("vectorized", role, seed, id(reference), timed),
                              lambda: _check_vectorized(student, role, seed, reference, timed))


def _check_vectorized(student: Submission, role: str, seed: int, reference: Optional[ModuleType],
                      timed: bool) -> CheckResult:
    name = student.name_of(role)
    if student.through_backward(role):  # a class API: the loss is inside backward
        verdict = check_vectorized(student, "backward", seed, reference, timed)
        return verdict if not verdict.passed else passed(f"the loss is part of `{name}` here: judged with backward.")
    warm_up = _fresh_arguments(role, SMALL_N, seed + 2)()
    keep = (1,) if role == "forward" else ()
    if not _works(role, warm_up, student.call(role, *warm_up, guard=False, keep=keep)):  # first-call caches too
        return failed(f"`{name}` does not compute a result of the contract's form yet (finite float64 arrays of the "
                      f"contract's shapes, computed from its inputs), so its vectorization is not judged.",
                      "not_working")
    small, large = _counter(student, role, SMALL_N, seed), _counter(student, role, LARGE_N, seed)
    try:
        small_counts = [small() for _ in range(2)]
        large_counts = [large() for _ in range(2)]
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
    sizes = (timing.SMALL_N, timing.LARGE_N)
    student_calls = tuple((_stashing(student, role, _fresh_arguments(role, N, seed)),
                           lambda handle: student.run_stashed(role, handle)) for N in sizes)
    reference_calls = tuple((_fresh_arguments(role, N, seed + 1), lambda a: ref_function(*a)) for N in sizes)
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


def _stashing(student: Submission, role: str, arguments: Callable[[], tuple]) -> Callable[[], int]:
    """Prepare a timed call: fresh arguments sent to the worker ahead of the timed request (a handle to them)."""
    return lambda: student.stash(role, arguments())


def check_analytic(student: Submission, seed: int) -> Optional[CheckResult]:
    """None for an analytic backward; a failure when backward's work grows with the number of parameters (its
    gradients come from finite differences of the loss). Kept for the run: three items ask."""
    return student.remembered(("analytic", seed), lambda: _check_analytic(student, seed))


def _check_analytic(student: Submission, seed: int) -> Optional[CheckResult]:
    """Finite differences evaluate the loss twice per parameter, D·H + H + H·C + C of them: their work grows with the
    product D·H. Loops over features (D) or hidden units (H), which an analytic backward may have, only add. So the
    count is taken at D, H in {SMALL_D, LARGE_D} and the interaction c(L, L) - c(L, S) - c(S, L) + c(S, S) decides."""
    name = student.name_of("backward")
    counts = {}
    try:
        for D in (SMALL_D, LARGE_D):
            for H in (SMALL_D, LARGE_D):
                count = _counter(student, "backward", 8, seed, D, H)
                count()  # warm-up
                counts[D, H] = min(count() for _ in range(2))
    except Tampered as error:
        return _tampering(student, f"`{name}`: {error}")
    S, L = SMALL_D, LARGE_D
    interaction = counts[L, L] - counts[L, S] - counts[S, L] + counts[S, S]
    if interaction >= NUMERICAL_GROWTH:
        return failed(f"`{name}` computes its gradients numerically, not analytically: its Python line events grow "
                      f"with the number of parameters D·H ({counts[S, S]:,} at D=H={S}, {counts[L, L]:,} at "
                      f"D=H={L}; {interaction:,} beyond what loops over features or hidden units add), as finite "
                      f"differences do. Derive the gradients with the chain rule.", "numerical_not_analytic")
    return None
