"""part2.vectorized: no loop over the batch. Deterministic measurements decide: a count of line events (loops in
Python), a count of the arrays a call creates (loops run in C) and peak memory (N×N intermediates); timing backward
against the reference only catches gross per-example work none of them sees (see grader.checks.timing).

The count is the number of line events (sys.settrace) during one call of the student's function, numpy's own Python
code included. Vectorized code runs the same lines whatever N is; a loop over examples (a for loop, a list
comprehension, np.vectorize or map of a Python function, np.apply_along_axis) runs more lines for more examples.
Each function is called once to warm up, then twice at a small and twice at a large N; it fails when even the
smallest count at the large N exceeds the largest at the small N by one event per four extra examples. Loops over
classes or hidden units do not grow with N and pass. The same count at two input sizes D tells an analytic backward
from one computed by finite differences of the loss (its work grows with the number of parameters).

Two deterministic rules catch per-example work that runs no Python line. One counted call at each N gets its arrays
as TrackedArray views (grader.checks.tracked_arrays), so the count also sees every array the call creates: a loop
run in C (`np.array(list(map(W1.T.dot, X)))`) makes arrays per example, vectorized code the same number for any N,
and the same one-per-four-examples rule decides. (The lines are counted on calls with plain arrays and every tracer
hidden from the call, so that a loop cannot run only when the call does not look measured; work handed to threads
that were running before the call, which no tracer follows, fails the item as hidden.) An N×N intermediate
(`probs[:, y]`, `np.diag(...)`) makes the peak memory of one call grow as N² (grader.checks.memory_growth, at N =
256, 512, 1024). Both are charged to the function that does it: backward's count leaves out the student's own
forward and softmax, and a backward whose memory grows as N² through one of them passes (and is not timed: its time
could only be charged there too, as a numerical backward's is to the backward items).

The counts and the peak memory are measured in the worker (grader.worker.probes, memory_growth), with the tracing
functions captured before the submission was imported; a call that replaces the tracer or stops tracemalloc, or a
submission that replaced the tracing functions, fails the item with feedback saying so. Timing is read on the
grader's clock, in the grader's process, around requests that run the student's function on arguments the worker
already holds: the submission cannot touch that clock. Every measured call's result (counted, traced, timed) is kept
in the worker and compared with what it should be (the reference's, when the function matches it on a fresh
problem; else a plain call's): a function that answers measured calls cheaply and wrongly fails.
"""
from __future__ import annotations

import copy
from collections.abc import Mapping
from types import ModuleType
from typing import Callable, Optional, Union

import numpy as np

from grader import outputs
from grader.checks import memory_growth, timing
from grader.compare import FD_TOL, find_mismatch
from grader.contract import PARAM_NAMES
from grader.problems import random_problem
from grader.results import CheckResult, StudentCodeError, failed, passed
from grader.seeding import rng_for
from grader.student import Counts, Submission, Tampered
from grader.worker import protocol

SMALL_N, LARGE_N = 8, 1032
#: One event per four extra examples: a per-example loop costs at least one event per example; the call-to-call
#: jitter of vectorized numpy code (caches, lazy imports) is a few hundred events at most, well below 256.
EVENTS_PER_EXAMPLE = 0.25
#: Layer sizes for telling an analytic backward from a numerical one, and the D×H interactions that fail: finite
#: differences evaluate the loss (12 - 4)² = 64 more times than the additive part explains one-sided, 128 central:
#: calls of the student's forward or softmax (LOSS_GROWTH, 96: an analytic backward calls each once). A loss of its
#: own making is a call of some function of the submission's each time (384 to 768 measured; 96 fails) running dozens
#: of lines, many in numpy's Python code (12,000 to 24,000 measured; 4,000 fails): both must grow, as honest
#: per-weight helpers or objects grow the calls (64 to 192) and loops over D and H calling numpy, logging or sanity
#: asserts grow the lines (450 to 5,500), each alone.
#: Or the arrays computed from the inputs (counted on TrackedArray views): a dozen and more per evaluation of the loss
#: (2,176 to 5,120 measured; 1,536 fails), while honest loops over D and H, per-weight objects or sanity checks
#: slice and multiply a few per weight (up to 832).
SMALL_D, LARGE_D = 4, 12
LOSS_GROWTH, CALLS_GROWTH, LINES_GROWTH, ARRAYS_GROWTH = 96, 96, 4000, 1536
#: The student's functions on the loss's path, whose calls the D×H count watches.
LOSS_PATH = ("forward", "softmax_cross_entropy")
#: The batch size of that count: one example, so that a loop over examples, features and hidden units (a matrix
#: product written in Python: 2 events per step, 128 of interaction at N = 1) stays far below the limit, while finite
#: differences' interaction does not depend on N. The count includes the student's forward and softmax (finite
#: differences may run there) and everything else backward calls.
ANALYTIC_N = 1
#: CPU seconds a counted call may have spent outside its thread (beyond the idle rate), and at most a quarter of its
#: wall time (work handed off to a thread measured 45-50%: the calling thread waits):
#: none of the submission's work should run there (BLAS is pinned to one thread); a little for the interpreter's own
#: or a light thread of the submission's that happened to wake. Work handed off shows in every call: HIDDEN_CALLS of
#: them must show it (a thread waking now and then shows in one).
ELSEWHERE_SECONDS, HIDDEN_CALLS = 0.002, 2
#: Layer sizes (D, H, C) of the memory measurement: tiny, so every array but an N×N one stays small (at most 4 numbers
#: per example for broadcasting's (N, D, H), below numpy's 8192-element buffers, whose cap would bend the growth).
MEMORY_SIZES = (2, 2, 2)


def _fresh_arguments(role: str, N: int, seed: int, D: int = 10, H: int = 10, C: int = 5) -> Callable[[], tuple]:
    """Inputs for `role` at batch size N and layer sizes D, H, C: new values on every call, so an answer remembered
    from an earlier call never fits."""
    rng = rng_for(seed, f"part2.vectorized.{role}.{N}.{D}.{H}.{C}")

    def arguments() -> tuple:
        problem = random_problem(rng, N, D, H, C, kink_margin=0.0)
        if role == "forward":
            return problem.X, problem.params
        if role == "softmax_cross_entropy":
            return 3.0 * problem.z1()[:, :C] if H >= C else 3.0 * problem.X[:, :C], problem.y
        return problem.X, problem.y, problem.params, 0.0
    return arguments


#: The measured calls of one check, for checking what they returned: [(its arguments, the id of its result in the
#: worker)], every one of them.
Measured = list


def _record(measured: Optional[Measured], args: tuple, result_id: int) -> None:
    if measured is not None:
        measured.append((args, result_id))


def _counter(student: Submission, role: str, N: int, seed: int, D: int = 10, H: int = 10,
             skip: Optional[tuple] = None, measured: Optional[Measured] = None,
             watch: tuple = ()) -> Callable[..., Counts]:
    """Line events (and, tracked=True, arrays created: the arguments arrive as TrackedArray views, see
    tracked_arrays) in one call of the student's `role` on fresh inputs, recorded in `measured`. For backward, by
    default not counting inside the student's own forward and softmax_cross_entropy, which are judged on their own
    (a loop in forward is charged to forward once even when backward calls it)."""
    arguments = _fresh_arguments(role, N, seed, D, H)
    if skip is None:
        skip = ("forward", "softmax_cross_entropy") if role == "backward" else ()

    def count(tracked: bool = False) -> Counts:
        args = arguments()
        counts = student.count_events(role, args, skip, tracked, watch)
        _record(measured, args, counts.result_id)
        return counts
    return count


def peaks_by_batch_size(student: Submission, role: str, seed: int,
                        measured: Optional[Measured] = None) -> dict[int, int]:
    """{N: peak traced bytes of one call of the student's `role`} at memory_growth.SIZES and layer sizes
    MEMORY_SIZES, after a warm-up call (first-call imports and caches); inputs are sent before the measured call,
    which is recorded in `measured`. Raises Tampered when a call stops tracemalloc."""
    peaks = {}
    keep = (1,) if role == "forward" else ()
    for N in memory_growth.SIZES:
        arguments = _fresh_arguments(role, N, seed, *MEMORY_SIZES)
        if not peaks:
            student.call(role, *arguments(), guard=False, keep=keep)
        args = arguments()
        peaks[N], result_id = student.peak_bytes(role, args)
        _record(measured, args, result_id)
    return peaks


def timed_calls(student: Submission, role: str, seed: int, D: int = 10, H: int = 10, C: int = 5,
                measured: Optional[Measured] = None) -> tuple:
    """The student's calls for timing.measure, at timing.SMALL_N and LARGE_N: fresh arguments sent to the worker
    ahead of each timed request (a handle to them), then run on the grader's clock; recorded in `measured`."""
    sent: dict[int, tuple] = {}

    def prepare(arguments: Callable[[], tuple]) -> Callable[[], int]:
        def send() -> int:
            args = arguments()
            handle = student.stash(role, args)
            sent[handle] = args
            return handle
        return send

    def run(handle: int) -> None:
        _record(measured, sent.pop(handle), student.run_stashed(role, handle))
    return tuple((prepare(_fresh_arguments(role, N, seed, D, H, C)), run) for N in (timing.SMALL_N, timing.LARGE_N))


def _tampering(student: Submission, role: str, error: Tampered) -> CheckResult:
    functions = (f"`{student.name_of('forward')}`, `{student.name_of('softmax_cross_entropy')}` and "
                 f"`{student.name_of('backward')}`")
    if error.reaching:
        return failed(f"{functions} are measured in the submission's own process, and {error} reaches into the "
                      f"interpreter (frames, modules, function internals or code built at run time), which can "
                      f"rewrite those measurements, so they are not trusted and this is not awarded. Nothing in the "
                      f"exercise needs it: remove it.", "reaches_into_interpreter")
    return failed(f"the measurement of {functions} was switched off: `{student.name_of(role)}`: {error}. Submissions "
                  f"must not touch sys.settrace, sys.setprofile or the clock.", "tampering")


def _works(role: str, arguments: tuple, result: object) -> bool:
    """The call computes something (vectorization is judged on working code only, not on code that returns its
    inputs, constants or non-arrays): a pair whose arrays (scores; dscores; every gradient) are finite, not constant,
    and not copies of an input, with a finite loss. Their dtype, shape and values are judged by the other items, so a
    bug there (float32, a transposed gradient, a loss of shape (1,)) is charged there, not here too."""
    if not isinstance(result, (tuple, list)) or len(result) != 2:
        return False
    if role == "forward":
        arrays = [result[0]]
    elif role == "softmax_cross_entropy":
        arrays = [result[1]]
    else:
        grads = result[1] if isinstance(result[1], Mapping) else {}
        arrays = [grads.get(k) for k in PARAM_NAMES]
    if role != "forward":
        try:
            if not np.isfinite(outputs.number(result[0], "the loss", strict=False)):
                return False
        except StudentCodeError:
            return False
    inputs = list(protocol.walk_arrays(arguments))
    return all(isinstance(a, np.ndarray) and a.dtype.kind == "f" and a.size > 1 and np.all(np.isfinite(a))
               and np.ptp(a) > 0 and not any(a.shape == x.shape and np.array_equal(a, x) for x in inputs)
               for a in arrays)


def check_vectorized(student: Submission, role: str, seed: int, reference: Optional[ModuleType] = None,
                     timed: bool = True) -> CheckResult:
    """Fail `role` (forward, softmax_cross_entropy or backward) when its count of line events or of arrays created
    grows with N, when its peak memory grows as N², or, for backward with the reference at hand and timing on, when
    its cost per example is RATIO_LIMIT times the reference's (confirmed). Verdicts are kept for the run: backward's
    memory and timing consult forward's and softmax_cross_entropy's."""
    return student.remembered(("vectorized", role, seed, id(reference), timed),
                              lambda: _check_vectorized(student, role, seed, reference, timed))


def _check_vectorized(student: Submission, role: str, seed: int, reference: Optional[ModuleType],
                      timed: bool) -> CheckResult:
    measured: Measured = []
    verdict = _judge_vectorized(student, role, seed, reference, timed, measured)
    if not verdict.passed:
        return verdict
    return _measured_differently(student, role, seed, reference, _fetched(student, role, measured)) or verdict


def _judge_vectorized(student: Submission, role: str, seed: int, reference: Optional[ModuleType], timed: bool,
                      measured: Measured) -> CheckResult:
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
    small, large = (_counter(student, role, N, seed, measured=measured) for N in (SMALL_N, LARGE_N))
    try:  # lines on plain arrays, like every other call's; arrays on TrackedArray views, which a call could tell
        small_counts, large_counts = [small(), small(), small(True)], [large(), large(), large(True)]
    except Tampered as error:
        return _tampering(student, role, error)
    threads = _hidden_work(student, role, small_counts + large_counts)
    if threads:
        return threads
    lines = max(c.lines for c in small_counts[:2]), min(c.lines for c in large_counts[:2])
    arrays = small_counts[2].arrays, large_counts[2].arrays
    counts = f"Python line events {lines[0]:,} at N={SMALL_N}, {lines[1]:,} at N={LARGE_N}"
    if lines[1] - lines[0] >= EVENTS_PER_EXAMPLE * (LARGE_N - SMALL_N):
        return failed(f"`{name}` loops over the examples: {counts} (vectorized code runs the same lines for any N). "
                      f"Replace the loop (for, comprehension, map, np.vectorize, np.apply_along_axis) by array "
                      f"operations on the whole batch.", "loops_over_batch")
    if arrays[1] - arrays[0] >= EVENTS_PER_EXAMPLE * (LARGE_N - SMALL_N):
        return failed(f"`{name}` loops over the examples in C: it creates {arrays[0]:,} arrays at N={SMALL_N} but "
                      f"{arrays[1]:,} at N={LARGE_N} (vectorized code creates the same number for any N), as "
                      f"np.array(list(map(W1.T.dot, X))) or list(X) does, one or more per row. Apply each operation to "
                      f"the whole batch at once (X @ W1, np.exp(scores)) instead of row by row.", "loops_over_batch")
    try:
        quadratic = memory_growth.quadratic_growth(peaks_by_batch_size(student, role, seed, measured))
    except Tampered as error:
        return _tampering(student, role, error)
    elsewhere = quadratic and _charged_elsewhere(student, role, seed, reference, timed)
    if elsewhere:
        return passed(f"`{name}` builds an N×N array through `{elsewhere}`, charged there: {quadratic}.")
    if quadratic:
        return failed(f"`{name}` builds an N×N array: {quadratic}, so its work per example grows with the batch. "
                      f"Keep every intermediate at N rows (e.g. probs[np.arange(N), y], not probs[:, y] or "
                      f"np.diag(...)).", "loops_over_batch")
    if reference is None or not timed or role != "backward":
        return passed(f"`{name}`: {counts}.")
    elsewhere = _charged_elsewhere(student, role, seed, reference, timed)
    if elsewhere:  # per-example work through a failing helper, or numerical: charged there, whatever the time
        return passed(f"`{name}`: {counts}; not timed: it calls `{elsewhere}`, which fails this item itself.")
    if check_analytic(student, seed, reference):
        measured.clear()  # finite differences' results (near a kink of the ReLU too): charged there, not checked here
        return passed(f"`{name}`: {counts}; not timed: it is numerical, charged to the backward items.")
    ref_function = getattr(reference, role)
    student_calls = timed_calls(student, role, seed, measured=measured)
    reference_calls = tuple((_fresh_arguments(role, N, seed + 1), lambda a: ref_function(*a))
                            for N in (timing.SMALL_N, timing.LARGE_N))
    loops, timings = timing.judge(timing.measure(student_calls, reference_calls),
                                  lambda: timing.measure(student_calls, reference_calls))
    if loops:
        return failed(f"`{name}` does far more work per example than the reference, in a way the line and array "
                      f"counts cannot see: {timing.describe(timings)}, confirmed twice; {counts}.", "loops_over_batch")
    return passed(f"`{name}`: {counts}; {timing.describe(timings)}.")


def _hidden_work(student: Submission, role: str, counts: list[Counts]) -> Optional[CheckResult]:
    """A failure when a counted call had work done outside its thread (a thread pool, a thread or process it
    started): what runs there is not counted, so nothing about the call's work can be said."""
    hidden = [c.elsewhere_seconds for c in counts if c.elsewhere_seconds >= max(ELSEWHERE_SECONDS, c.seconds / 4)]
    if len(hidden) < HIDDEN_CALLS:
        return None
    seconds = max(hidden)
    return failed(f"`{student.name_of(role)}` has its work done outside the thread that calls it (other threads or "
                  f"processes used {seconds * 1e3:.1f} ms of CPU during one call): the grader cannot see what they do, "
                  f"so it cannot check the function. Compute in the calling thread.", "hidden_work")


def _charged_elsewhere(student: Submission, role: str, seed: int, reference: Optional[ModuleType],
                       timed: bool) -> Optional[str]:
    """For backward: the name of the student's forward or softmax_cross_entropy when that function fails
    part2.vectorized itself (backward calls it, so its per-example work shows in backward's memory and time too, and
    is charged once, there); None otherwise."""
    if role != "backward":
        return None
    for other in ("forward", "softmax_cross_entropy"):
        if (student.has(other) and not student.through_backward(other)
                and not check_vectorized(student, other, seed, reference, timed).passed):
            return student.name_of(other)
    return None


def _fetched(student: Submission, role: str, measured: Measured) -> list[tuple[tuple, object]]:
    """[(arguments, result)] of the measured calls, their results fetched from the worker (in one request)."""
    keep = (1,) if role == "forward" else ()
    results = student.measured_results(role, [result_id for _, result_id in measured], keep) if measured else []
    return [(args, result) for (args, _), result in zip(measured, results)]


def _measured_differently(student: Submission, role: str, seed: int, reference: Optional[ModuleType],
                          fetched: list[tuple[tuple, object]]) -> Optional[CheckResult]:
    """A failure when a measured call (counted, traced, timed: every one) returned something else than
    it should have: the reference's result when the student's function matches the reference (to finite
    differences' accuracy: a numerical backward too) on a fresh problem of the value items' sizes, else what a plain
    call returns. A function that answers measured calls with cheap, wrong results fails."""
    keep = (1,) if role == "forward" else ()
    ref_function = getattr(reference, role, None)
    probe = _fresh_arguments(role, 7, seed + 3, 5, 6, 4)()
    matches = ref_function is not None and not _first_difference(
        _labelled(role, student.call(role, *copy.deepcopy(probe), guard=False, keep=keep)),
        _labelled(role, ref_function(*probe)))
    for args, result in fetched:
        got = _labelled(role, result)
        copied = copy.deepcopy(args)
        expected = ref_function(*copied) if matches else student.call(role, *copied, guard=False, keep=keep)
        where = _first_difference(got, _labelled(role, expected))
        if where:
            other = "the reference's" if matches else "a plain call's on the same inputs"
            return failed(f"`{student.name_of(role)}` returned something else when the grader measured it "
                          f"({_sizes(args)}) than {other}: {where}. What the grader counts, traces and times must be "
                          f"the real computation, right at every size.", "wrong_when_measured")
    return None


def _labelled(role: str, result: object) -> dict:
    """A result of `role` by what its parts are called: forward's scores (its cache stays in the worker), the loss
    and dscores, backward's loss and its parameters' gradients (grads['X'] is the bonus's, judged there)."""
    pair = isinstance(result, (tuple, list)) and len(result) == 2
    if role == "forward" and pair:
        return {"scores": result[0]}
    if role == "softmax_cross_entropy" and pair:
        return {"the loss": result[0], "dscores": result[1]}
    if role == "backward" and pair and isinstance(result[1], Mapping):
        return {"the loss": result[0], **{f"grads[{k!r}]": v for k, v in result[1].items() if k in PARAM_NAMES}}
    return {"the result": result}


def _sizes(args: tuple) -> str:
    """"N=1024, D=10, H=10, C=5" for a call's arguments (X or scores first; the parameters in a dict)."""
    first = next(protocol.walk_arrays(args))
    params = next((a for a in args if isinstance(a, Mapping)), None)
    if params is not None and {"W1", "W2"} <= set(params):
        (D, H), C = params["W1"].shape, params["W2"].shape[1]
        return f"N={len(first)}, D={D}, H={H}, C={C}"
    return f"N={len(first)}, C={first.shape[1]}" if first.ndim == 2 else f"N={len(first)}"


def _first_difference(got: dict, expected: dict) -> Optional[str]:
    """The first part (by label, see _labelled) of a result that differs from the expected one, in words; None when
    they agree (FD_TOL)."""
    if set(got) != set(expected):
        return f"it has {', '.join(sorted(got)) or 'nothing'} where {', '.join(sorted(expected))} were expected"
    for label, value in expected.items():
        try:
            shape_differs = np.shape(got[label]) != np.shape(value)
            mismatch = None if shape_differs else find_mismatch(got[label], value, FD_TOL)
        except (TypeError, ValueError):  # not numbers
            return f"{label} is not a number or array"
        if shape_differs:
            return f"{label} has shape {np.shape(got[label])} instead of {np.shape(value)}"
        if mismatch:
            return f"{label} differs ({mismatch.describe(label)})"
    return None


def check_analytic(student: Submission, seed: int, reference: Optional[ModuleType] = None) -> Optional[CheckResult]:
    """None for an analytic backward; a failure when backward's work grows with the number of parameters (its
    gradients come from finite differences of the loss), or when the counted calls returned something else than they
    should (see _measured_differently; with the reference at hand, compared with its results). Kept for the run:
    three items ask, with and without the reference: the counts are taken once."""
    def check() -> Optional[CheckResult]:
        verdict = student.remembered(("analytic counts", seed), lambda: _count_analytic(student, seed))
        if isinstance(verdict, CheckResult):
            return verdict
        return _measured_differently(student, "backward", seed, reference, verdict)
    return student.remembered(("analytic", seed, id(reference)), check)


def _count_analytic(student: Submission, seed: int) -> Union[CheckResult, list]:
    """Finite differences evaluate the loss once or twice per parameter, D·H + H + H·C + C of them: their work grows
    with the product D·H. Loops over features (D) or hidden units (H), which an analytic backward may have, only add.
    So backward is counted at one example with D, H in {SMALL_D, LARGE_D}, everything it calls included, and the
    interaction c(L, L) - c(L, S) - c(S, L) + c(S, S) decides (numerical_growth). The failure, or the counted calls
    with their results, for _measured_differently."""
    role = "backward"
    name = student.name_of(role)
    counts, taken, measured = {}, [], []
    try:
        for D in (SMALL_D, LARGE_D):
            for H in (SMALL_D, LARGE_D):
                count = _counter(student, "backward", ANALYTIC_N, seed, D, H, skip=(), measured=measured,
                                 watch=LOSS_PATH)
                count()  # warm-up
                taken += [count() for _ in range(2)]
                fewest = min(taken[-2:], key=lambda c: (c.watched_calls, c.own_calls, c.lines))
                counts[D, H] = fewest._replace(arrays=count(True).arrays)  # arrays made from the inputs
    except Tampered as error:
        return _tampering(student, role, error)
    threads = _hidden_work(student, role, taken)
    if threads:
        return threads
    growth = numerical_growth(counts)
    if growth:
        return failed(f"`{name}` computes its gradients numerically, not analytically: {growth}, as finite "
                      f"differences' evaluations of the loss do. Derive the gradients with the chain rule.",
                      "numerical_not_analytic")
    return _fetched(student, role, measured)


def numerical_growth(counts: dict[tuple[int, int], Counts]) -> Optional[str]:
    """How a function's counts at D, H in {SMALL_D, LARGE_D} ({(D, H): Counts}) grow with D·H beyond what loops over
    D or H add, in words, when that is finite differences' growth; else None. Finite differences evaluate the loss
    for every parameter: the calls of the student's forward and softmax (the loss's path) grow by LOSS_GROWTH or
    more, or, a loss computed by functions of its own, both the calls of the submission's functions and all line
    events grow (by CALLS_GROWTH and LINES_GROWTH): one alone is also what honest per-weight helpers, objects,
    logging or asserts do; or the arrays computed from the inputs grow by ARRAYS_GROWTH (when counted: backward's)."""
    S, L = SMALL_D, LARGE_D

    def growth(what: str) -> tuple[int, dict]:
        c = {size: getattr(counted, what) for size, counted in counts.items()}
        return c[L, L] - c[L, S] - c[S, L] + c[S, S], c

    def words(what: str, label: str) -> str:
        interaction, c = growth(what)
        return (f"the {label} grow with the number of parameters D·H ({c[S, S]:,} at D=H={S}, {c[L, L]:,} at D=H={L}; "
                f"{interaction:,} beyond what loops over features or hidden units add)")
    if growth("watched_calls")[0] >= LOSS_GROWTH:
        return words("watched_calls", "calls of your forward and softmax_cross_entropy")
    if growth("own_calls")[0] >= CALLS_GROWTH and growth("lines")[0] >= LINES_GROWTH:
        return f"{words('own_calls', 'calls of your functions')}, and so do {words('lines', 'Python line events')[4:]}"
    if growth("arrays")[0] >= ARRAYS_GROWTH:
        return words("arrays", "arrays computed from the network's inputs")
    return None
