"""Part 3 checks that need no reference: the student's numerical_gradient and rel_error, observed directly.

numerical_gradient is run on grader-chosen smooth functions with known gradients, and with a recording f that sees
every call, so the grader can tell how the student perturbs x, not only what number comes out.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from grader import outputs
from grader.compare import Tolerance, find_mismatch
from grader.results import CheckResult, failed, passed
from grader.seeding import rng_for
from grader.student import Submission

#: Central differences at eps = 1e-5 on this f are accurate to about 1e-10; one-sided ones are off by eps·|f''|/2,
#: about 1e-6. 1e-8 separates the two by two orders of magnitude either side.
NUMGRAD_TOL = Tolerance(rtol=1e-8, atol_scale=1e-8)


@dataclass
class SmoothFunction:
    """f(x) = Σ w·sin(x) + 0.25·Σ x², with its exact gradient; w fixed per instance. Works for any shape of x."""

    w: np.ndarray

    def __call__(self, x: np.ndarray) -> float:
        return float(np.sum(self.w * np.sin(x)) + 0.25 * np.sum(x * x))

    def gradient(self, x: np.ndarray) -> np.ndarray:
        return self.w * np.cos(x) + 0.5 * x


def _numerical_gradient(student: Submission, f, x: np.ndarray, eps: float) -> np.ndarray:
    result = student.call("numerical_gradient", f, x, eps)
    return outputs.float64_array(result, "the array returned by `numerical_gradient`", x.shape, "x.shape")


def check_accuracy(student: Submission, seed: int) -> CheckResult:
    """The result matches the exact gradient to central-difference accuracy, for 1-D, 2-D and 3-D x."""
    rng = rng_for(seed, "part3.numerical_gradient")
    for shape in ((5,), (3, 4), (2, 3, 2)):
        x = rng.normal(0, 1, size=shape)
        f = SmoothFunction(rng.normal(0, 1, size=shape))
        exact = f.gradient(x)
        grad = _numerical_gradient(student, f, x, 1e-5)
        if not np.any(grad):
            return failed(f"numerical_gradient returned all zeros for x of shape {shape}.", "all_zeros")
        mismatch = find_mismatch(grad, exact, NUMGRAD_TOL)
        if mismatch:
            return failed(f"for x of shape {shape}, {mismatch.describe('your gradient', 'the exact gradient')}.",
                          "numgrad_inaccurate")
    return passed()


def check_convergence(student: Submission, seed: int) -> CheckResult:
    """The error shrinks like eps² (central), not like eps (one-sided), from eps = 1e-2 to eps = 1e-3."""
    rng = rng_for(seed, "part3.numerical_gradient.order")
    x = rng.normal(0, 1, size=(4,))
    f = SmoothFunction(rng.normal(0, 1, size=(4,)))
    exact = f.gradient(x)
    errors = [float(np.max(np.abs(_numerical_gradient(student, f, x.copy(), eps) - exact))) for eps in (1e-2, 1e-3)]
    ratio = errors[0] / max(errors[1], 1e-300)
    # Central: ratio about 100; one-sided: about 10; an eps that is ignored: about 1.
    if ratio >= 30:
        return passed()
    if ratio < 3:
        return failed(f"the error did not shrink from eps=1e-2 to eps=1e-3 ({errors[0]:.2g} vs {errors[1]:.2g}): the "
                      f"result is not a difference quotient that improves as eps shrinks. Use the eps argument, and "
                      f"perturb one entry at a time in both directions.", "ignores_eps")
    return failed(f"the error shrank only {ratio:.0f}× from eps=1e-2 to eps=1e-3 ({errors[0]:.2g} -> {errors[1]:.2g}); "
                  f"central differences (f(x+eps) - f(x-eps)) / (2·eps) shrink it 100× (error O(eps²)), one-sided ones "
                  f"10× (error O(eps)).", "one_sided")


# ------------------------------------------------------------------------------------------------ perturbation
class ProbeError(Exception):
    """Raised by the recording f on purpose, to see whether numerical_gradient restores x and lets it through."""


@dataclass
class RecordingFunction:
    """A smooth f that records, at every call, which entries of x differ from the original and by how much, and
    which of those moved since the previous call (entries left over from earlier visits are not "perturbed now")."""

    original: np.ndarray
    smooth: SmoothFunction
    raise_at_call: int = 0  # 0: never raise
    calls: list = field(default_factory=list)  # (is the caller's own array, {flat index: delta}, moved indices)
    target: np.ndarray = None
    previous: np.ndarray = None

    def __call__(self, x) -> float:
        arr = np.asarray(x, dtype=np.float64)
        if arr.shape != self.original.shape:
            self.calls.append((x is self.target, None, None))
        else:
            before = self.original if self.previous is None else self.previous
            changed = np.flatnonzero(arr != self.original)
            moved = {int(i) for i in changed if arr.flat[i] != before.flat[i]}
            deltas = {int(i): float(arr.flat[i] - self.original.flat[i]) for i in changed}
            self.calls.append((x is self.target, deltas, moved))
            self.previous = arr.copy()
        if len(self.calls) == self.raise_at_call:
            raise ProbeError("raised on purpose by the grader's f")
        return self.smooth(arr)


PROBE_EPS = 1e-4


def _restore_trap(rng: np.random.Generator, shape: tuple, eps: float) -> np.ndarray:
    """Entries of the size of eps for which (v + eps) - eps != v and (v - eps) + eps != v in float64: restoring by
    arithmetic instead of putting the saved value back then leaves a visible error at every entry."""
    values = []
    while len(values) < int(np.prod(shape)):
        v = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 4.0) * eps)
        if (v + eps) - eps != v and (v - eps) + eps != v:
            values.append(v)
    return np.array(values).reshape(shape)


def _recording_run(student: Submission, seed: int, raise_at_call: int = 0):
    """Run numerical_gradient on a (3, 4) x with a recording f; (recorder, x afterwards, original, error raised)."""
    rng = rng_for(seed, "part3.perturbation")
    original = _restore_trap(rng, (3, 4), PROBE_EPS)
    x = original.copy()
    recorder = RecordingFunction(original, SmoothFunction(rng.normal(0, 1, size=(3, 4))), raise_at_call, target=x)
    raised = None
    try:
        student.call("numerical_gradient", recorder, x, PROBE_EPS, passthrough=(ProbeError,))
    except ProbeError as error:
        raised = error
    return recorder, x, original, raised


def _restored(x: np.ndarray, original: np.ndarray) -> tuple[bool, str]:
    if np.array_equal(x, original):
        return True, ""
    index = tuple(int(i) for i in np.unravel_index(int(np.argmax(x != original)), x.shape))
    return False, f"x{list(index)} is {float(x[index])!r}, was {float(original[index])!r}"


def check_perturbation(student: Submission, seed: int, aspect: str) -> CheckResult:
    """One observed property of how numerical_gradient perturbs x (each aspect is its own grading test)."""
    eps = PROBE_EPS
    if aspect == "restores_on_exception":
        recorder, x, original, raised = _recording_run(student, seed, raise_at_call=3)
        if len(recorder.calls) < 3:
            return failed(f"numerical_gradient called f only {len(recorder.calls)} time(s) for a 3×4 x, so the probe "
                          f"(f raises at its 3rd call) never ran: f must be evaluated twice per entry.",
                          "never_perturbs")
        if raised is None:
            return failed("when f raised an exception on its 3rd call, numerical_gradient did not let it propagate "
                          "(it was swallowed).", "swallows_exception")
        ok, where = _restored(x, original)
        if not ok:
            return failed(f"when f raised on its 3rd call, x was left perturbed: {where}. Restore the saved value in "
                          f"a `finally:` block.", "not_restored_on_exception")
        return passed()
    recorder, x, original, _ = _recording_run(student, seed)
    seen = recorder.calls
    if not any(changed for _, changed, _ in seen):
        return failed(f"numerical_gradient never evaluated f at a perturbed x (f was called {len(seen)} time(s), "
                      f"always at x itself): perturb x[i] by +eps and -eps, one entry at a time.", "never_perturbs")
    if aspect == "own_array":
        copies = sum(1 for own, _, _ in seen if not own)
        if not seen or copies:
            return failed(f"f was called with a copy of x, not x itself, in {copies} of {len(seen)} calls: perturb "
                          f"the caller's array in place (f may read it through a closure, e.g. params['W1']).",
                          "perturbs_copy")
        return passed()
    if aspect == "restores":
        ok, where = _restored(x, original)
        if not ok:
            left = np.abs(x - original).max()
            fix = ("it was left perturbed: put the saved value back after evaluating f at x[i]+eps and x[i]-eps"
                   if left > eps / 2 else "it is off by a rounding error: restoring by arithmetic (x[i] -= eps) "
                   "does not give x[i] back; save the value and put the saved value back")
            return failed(f"x is not bit-for-bit unchanged after numerical_gradient: {where}; {fix}.",
                          "not_restored")
        return passed()
    if aspect == "one_at_a_time":
        for number, (_, changed, moved) in enumerate(seen, start=1):
            # Entries left changed by earlier visits (not restored, or restored with a rounding error) are charged
            # to "restores"; here only the entries perturbed for this call count.
            perturbed = None if changed is None else [i for i in moved if abs(changed[i]) > eps / 2]
            if perturbed is None or len(perturbed) > 1:
                count = "its shape changed" if perturbed is None else f"{len(perturbed)} entries were perturbed"
                return failed(f"at call {number} of f, {count}: perturb one entry at a time.", "perturbs_many")
        return passed()
    if aspect == "both_directions":
        size = original.size
        plus, minus = set(), set()
        for _, changed, _ in seen:
            for index, delta in (changed or {}).items():
                tolerance = 4 * np.spacing(abs(original.flat[index]) + eps)  # x+eps is rounded to a float
                if abs(delta - eps) <= tolerance:
                    plus.add(index)
                elif abs(delta + eps) <= tolerance:
                    minus.add(index)
        if len(plus) == size and len(minus) == size:
            return passed()
        return failed(f"with eps={eps:g}, f saw x[i]+eps for {len(plus)} and x[i]-eps for {len(minus)} of the "
                      f"{size} entries: each entry must be evaluated at x[i]+eps and at x[i]-eps.", "not_central")
    raise ValueError(f"unknown aspect {aspect!r}")


# ------------------------------------------------------------------------------------------------ rel_error
def check_rel_error(student: Submission, seed: int) -> CheckResult:
    """Probes with known answers, drawn from the seed; credit per probe passed, feedback naming each failure.

    The contract allows a tiny denominator floor (<= 1e-8): on the small-values probe (entries of a few 1e-6) it
    moves the answer by at most 0.4%, so that probe accepts 1/3 within 1%; a floor at 1 gives about 1e-6 instead.
    """
    rng = rng_for(seed, "part3.rel_error")
    small = float(rng.uniform(1, 9)) * 1e-6
    # Entries of size 1 to 3: |a|+|b| >= 1 wherever they differ, so only the small-values probe sees a floor at 1.
    a = rng.choice([-1.0, 1.0], size=(2, 3)) * rng.uniform(1.0, 3.0, size=(2, 3))
    r = float(rng.uniform(0.2, 0.8))
    b = a.copy()
    index = tuple(int(i) for i in rng.integers(0, 2, size=1)) + (int(rng.integers(0, 3)),)
    b[index] = a[index] * (1 - r) / (1 + r)  # |a-b|/(|a|+|b|) = r there, 0 elsewhere
    u, v = rng.normal(size=4), rng.normal(size=4)
    x = rng.choice([-1.0, 1.0], size=3) * rng.uniform(1.0, 3.0, size=3)
    probes = [  # (label, arguments, expected value, relative tolerance, cause and hint when it is not returned)
        (f"rel_error({small:.3g}, {2 * small:.3g})", (small, 2 * small), 1.0 / 3.0, 1e-2, "floored_at_1",
         "a denominator floored at 1 (max(1, |a|+|b|)) gives about 1e-6: floor at 1e-8 or less, or not at all"),
        ("rel_error(0.0, 0.0)", (0.0, 0.0), 0.0, 0.0, "nan_on_zero", "0 where both are 0 (guard the 0/0)"),
        ("rel_error(a, a) for an array a", (a, a.copy()), 0.0, 0.0, "rel_error_wrong", "identical arrays give 0"),
        ("rel_error(zeros, zeros) for arrays", (np.zeros(3), np.zeros(3)), 0.0, 0.0, "nan_on_zero",
         "0 where both are 0, entrywise"),
        ("rel_error on arrays differing at one entry", (a, b), r, 1e-6, "not_max",
         "it is the MAX over entries, not a mean or a sum"),
        ("rel_error(x, -x)", (x, -x), 1.0, 1e-6, "rel_error_wrong", "|a-b|/(|a|+|b|) is 1 here"),
        ("rel_error(v, u) vs rel_error(u, v)", (v, u), None, 1e-12, "not_symmetric", "it must be symmetric"),
    ]
    symmetric_to = outputs.number(student.call("rel_error", u, v), "the value of rel_error(u, v)")
    values, warned = [], []
    for label, args, *_ in probes:
        values.append(outputs.number(student.call("rel_error", *args), f"the value of {label}"))
        warned.append(student.warnings[:1])  # the warnings of that call only
    if len({*values, symmetric_to}) == 1:  # a constant earns nothing, not the probes where that constant is right
        return failed(f"rel_error returned {values[0]!r} for every probe, identical arrays and x vs -x alike "
                      f"(expected 0 and 1): it must measure max |a-b|/(|a|+|b|).", "rel_error_wrong")
    problems = []
    for (label, _, expected, rtol, cause, hint), value, warning in zip(probes, values, warned):
        expected = symmetric_to if expected is None else expected
        if not abs(value - expected) <= rtol * abs(expected):
            if cause == "floored_at_1" and not abs(value) < 1e-3:
                cause, hint = "rel_error_wrong", "|a-b|/(|a|+|b|) is 1/3 here"
            problems.append((cause, f"{label} returned {value!r}, expected {expected:.6g}: {hint}"))
        elif warning:
            problems.append(("warns", f"{label} emitted a warning ({warning[0]}): avoid dividing by 0"))
    if not problems:
        return passed()
    return CheckResult(1 - len(problems) / len(probes), "; ".join(text for _, text in problems) + ".",
                       problems[0][0])
