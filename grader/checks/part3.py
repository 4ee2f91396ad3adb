"""Part 3 checks that need no reference: the student's numerical_gradient and rel_error, observed directly.

numerical_gradient is run on grader-chosen smooth functions with known gradients, and with a recording f that sees
every call, so the grader can tell how the student perturbs x, not only what number comes out.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Optional

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
@dataclass(frozen=True)
class RelErrorProbe:
    """One call of rel_error with a known answer (expected None: the answer rel_error(u, v) gave, for symmetry).

    A wrong answer is charged to `cause` with `hint` when `looks_like(answer)` holds (always, without it), else to
    rel_error_wrong with `otherwise`, so that feedback names a mistake only when the answer shows it."""

    label: str
    args: tuple
    expected: Optional[float]
    rtol: float
    cause: str
    hint: str
    looks_like: Optional[Callable[[float], bool]] = None
    otherwise: str = ""

    def problem(self, value: float, expected: float) -> Optional[tuple[str, str]]:
        """None when `value` is right, else (cause, feedback on this probe)."""
        if abs(value - expected) <= self.rtol * abs(expected):
            return None
        cause, hint = self.cause, self.hint
        if self.looks_like is not None and not self.looks_like(value):
            cause, hint = "rel_error_wrong", self.otherwise
        return cause, f"{self.label} returned {value!r}, expected {expected:.6g}: {hint}"


def _near(value: float, *candidates: float) -> bool:
    return any(abs(value - c) <= 1e-6 * abs(c) for c in candidates)


def _value_probes(rng: np.random.Generator) -> list[RelErrorProbe]:
    """The probes whose answer is a positive number the grader computes from the seed's inputs."""
    small, k = float(rng.uniform(1, 9)) * 1e-6, float(rng.uniform(2.5, 5.0))
    # Entries of size 1 to 3: |a|+|b| >= 1 wherever they differ, so only the small-values probe sees a floor at 1.
    a = rng.choice([-1.0, 1.0], size=(2, 3)) * rng.uniform(1.0, 3.0, size=(2, 3))
    r = float(rng.uniform(0.2, 0.8))
    b = a.copy()
    index = (int(rng.integers(0, 2)), int(rng.integers(0, 3)))
    b[index] = a[index] * (1 - r) / (1 + r)  # |a-b|/(|a|+|b|) = r there, 0 elsewhere
    x = rng.choice([-1.0, 1.0], size=3) * rng.uniform(1.0, 3.0, size=3)
    p, q = rng.uniform(0.5, 2.0, size=(3, 4)), rng.uniform(0.5, 2.0, size=(3, 4))
    ratios = np.abs(p - q) / (p + q)
    return [
        RelErrorProbe(f"rel_error({small:.3g}, {k * small:.3g})", (small, k * small), (k - 1) / (k + 1), 1e-2,
                      cause="floored_at_1", hint=f"a denominator floored at 1 (max(1, |a|+|b|)) gives about "
                      f"{(k - 1) * small:.2g}: floor at 1e-8 or less, or not at all",
                      looks_like=lambda value: 0 < value < 1e-3,
                      otherwise=f"|a-b|/(|a|+|b|) is {(k - 1) * small:.3g}/{(k + 1) * small:.3g} here"),
        RelErrorProbe("rel_error on arrays differing at one entry", (a, b), r, 1e-6, cause="not_max",
                      hint="it is the MAX over entries, not a mean", looks_like=lambda value: _near(value, r / a.size),
                      otherwise=f"|a-b|/(|a|+|b|) is {r:.6g} at the entry that differs and 0 at the others"),
        RelErrorProbe("rel_error(x, -x)", (x, -x), 1.0, 1e-6, cause="rel_error_wrong",
                      hint="|a-b|/(|a|+|b|) is 1 at every entry here"),
        RelErrorProbe("rel_error on two arrays of positive entries", (p, q), float(ratios.max()), 1e-6,
                      cause="not_max", hint="it is the MAX over entries, not a mean or a sum",
                      looks_like=lambda value: _near(value, float(ratios.mean()), float(ratios.sum())),
                      otherwise="the answer is the largest |a-b|/(|a|+|b|) over the entries"),
    ]


def _zero_probes(rng: np.random.Generator) -> list[RelErrorProbe]:
    """The probes whose answer is 0."""
    a = rng.choice([-1.0, 1.0], size=(2, 3)) * rng.uniform(1.0, 3.0, size=(2, 3))
    return [
        RelErrorProbe("rel_error(0.0, 0.0)", (0.0, 0.0), 0.0, 0.0, cause="nan_on_zero",
                      hint="0 where both are 0 (guard the 0/0)"),
        RelErrorProbe("rel_error(a, a) for an array a", (a, a.copy()), 0.0, 0.0, cause="rel_error_wrong",
                      hint="identical arrays give 0"),
        RelErrorProbe("rel_error(zeros, zeros) for arrays", (np.zeros(3), np.zeros(3)), 0.0, 0.0,
                      cause="nan_on_zero", hint="0 where both are 0, entrywise"),
    ]


def _answers(student: Submission, probes: list[RelErrorProbe]) -> tuple[list[float], list[list]]:
    """rel_error's answer to each probe, and the warnings each call raised."""
    values, warned = [], []
    for probe in probes:
        values.append(outputs.number(student.call("rel_error", *probe.args), f"the value of {probe.label}"))
        warned.append(student.warnings[:1])  # the warnings of that call only
    return values, warned


def check_rel_error(student: Submission, seed: int) -> CheckResult:
    """Probes with known answers, drawn from the seed; credit per probe passed, feedback naming each failure.

    Four value probes have a positive answer: small values, arrays differing at one entry (the max, not a mean),
    x vs -x, and two arrays of positive entries. Three have the answer 0 (0 vs 0, a vs a, zeros vs zeros), and one
    checks symmetry. Those last four are right for many functions that measure nothing (a constant 0, a test for
    a == -b): they earn credit only when at least half of the value probes come out right.

    The contract allows a tiny denominator floor (<= 1e-8). On the small-values probe (small vs k·small, small in
    [1e-6, 9e-6], k in [2.5, 5], answer (k-1)/(k+1)), |a|+|b| >= 3.5e-6, so such a floor moves the answer by at most
    0.3%: that probe accepts it within 1%. A floor at 1 gives (k-1)·small instead, below 4e-5. On the other value
    probes |a|+|b| >= 1 wherever a and b differ, so a floor moves the answer by at most 1e-8 of it: they accept
    1e-6.
    """
    rng = rng_for(seed, "part3.rel_error")
    value_probes, zero_probes = _value_probes(rng), _zero_probes(rng)
    u, v = rng.normal(size=4), rng.normal(size=4)
    symmetry = RelErrorProbe("rel_error(v, u) vs rel_error(u, v)", (v, u), None, 1e-12, cause="not_symmetric",
                             hint="it must be symmetric")
    symmetric_to = outputs.number(student.call("rel_error", u, v), "the value of rel_error(u, v)")
    probes = value_probes + zero_probes + [symmetry]
    values, warned = _answers(student, probes)
    wrong = [probe.problem(value, symmetric_to if probe.expected is None else probe.expected)
             for probe, value in zip(probes, values)]
    problems = [problem or _warning_problem(probe, warning) for probe, problem, warning in zip(probes, wrong, warned)]
    count = len(value_probes)
    if 2 * sum(1 for problem in wrong[:count] if not problem) < count:
        return _not_measuring(values + [symmetric_to], wrong[:count], problems[:count], len(probes))
    problems = [problem for problem in problems if problem]
    if not problems:
        return passed()
    return CheckResult(1 - len(problems) / len(probes), "; ".join(text for _, text in problems) + ".",
                       problems[0][0])


def _warning_problem(probe: RelErrorProbe, warning: list) -> Optional[tuple[str, str]]:
    """A right answer that came with a warning (the contract asks for none)."""
    if not warning:
        return None
    return "warns", f"{probe.label} emitted a warning ({warning[0]}): avoid dividing by 0"


def _not_measuring(values: list[float], wrong: list, problems: list, total: int) -> CheckResult:
    """Fewer than half of the value probes came out right (`wrong`: their wrong answers, `problems`: also their
    warnings): only the value probes passed earn credit (none, for a constant answer), and the feedback names the
    value probes that failed."""
    if len({repr(value) for value in values}) == 1:  # a constant (nan included) earns nothing at all
        return failed(f"rel_error returned {values[0]!r} for every probe, identical arrays and x vs -x alike "
                      f"(expected 0 and 1): it must measure max |a-b|/(|a|+|b|); a constant earns nothing.",
                      "rel_error_wrong")
    earned = sum(1 for problem in problems if not problem)
    failures = "; ".join(text for _, text in (problem for problem in wrong if problem))
    return CheckResult(earned / total, f"rel_error does not measure max |a-b|/(|a|+|b|): {failures}. Until at least "
                       f"half of the {len(wrong)} probes with a nonzero answer (small values, arrays differing at one "
                       f"entry, x vs -x, arrays of positive entries) come out right, the probes whose answer is 0 "
                       f"(0 vs 0, a vs a, zeros vs zeros) and the symmetry probe earn nothing.", "rel_error_wrong")
