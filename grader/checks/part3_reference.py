"""part3.grad_check: the student's gradient checker, judged on backward functions the grader knows (instructor
only: needs the reference and the mutants).

The checker must accept correct backward passes, including ones correct for a *different* loss (the reference with
loss and gradients doubled, and with extra terms in W1 and b2: an honest checker differentiates backward_fn's own
loss), and flag buggy ones. It is judged only on probe inputs where the grader's own central differences agree with
the reference to 10× below the student's tolerance, so a correct checker is never blamed for finite-difference
noise.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass
from types import ModuleType
from typing import Callable, Iterator, Optional

import numpy as np

from grader import outputs
from grader.checks import part3
from grader.checks.solution import numerical_gradient, relative_error
from grader.contract import PARAM_NAMES
from grader.mutants import MUTANTS, mutant
from grader.problems import Problem, random_problem
from grader.results import CheckResult, StudentCodeError, failed, passed
from grader.seeding import rng_for
from grader.student import CANNOT_RUN, Submission

TOL_RANGE = (1e-7, 1e-4)
EPS = 1e-5
MAX_DRAWS = 50
OWN_LOSS_HINT = " Differentiate backward_fn's OWN loss numerically; do not compare with your own backward."
#: Mutants that edit their inputs are judged elsewhere (the checker cannot be blamed for what they do to params).
EXCLUDED_MUTANTS = {"edits_inputs"}


def stated_tolerance(student: Submission):
    """The student's GRAD_CHECK_TOL as a float, or None when missing or not a number."""
    try:
        tol = student.value("grad_check_tol")
    except Exception:  # noqa: BLE001 - a missing attribute simply means no tolerance
        return None
    if isinstance(tol, bool) or not isinstance(tol, (numbers.Real, np.floating)):
        return None
    return float(tol)


def judging_tolerance(student: Submission) -> float:
    """The stated tolerance when it is valid, else the nearest valid one (an invalid one is charged separately)."""
    tol = stated_tolerance(student)
    low, high = TOL_RANGE
    return 1e-6 if tol is None or not np.isfinite(tol) else float(min(max(tol, low), high))


def check_tolerance(student: Submission, reference: ModuleType, seed: int) -> CheckResult:
    """GRAD_CHECK_TOL is a float in [1e-7, 1e-4], used by a grad_check that runs (a tolerance alone earns nothing)."""
    name = student.name_of("grad_check_tol")
    value = student.value("grad_check_tol")
    tol = stated_tolerance(student)
    low, high = TOL_RANGE
    if tol is None:
        return failed(f"{name} is {value!r}: state your pass threshold as a float, e.g. 1e-6.", "no_tolerance")
    if not low <= tol <= high:
        why = ("too loose: bugs such as a missing ReLU mask on a few units can stay below it" if tol > high else
               "too tight: finite differences in float64 are not that accurate")
        return failed(f"{name} = {tol:g} is {why}; it must lie in [{low:g}, {high:g}].", "tolerance_out_of_range")
    # A tolerance earns its share only with a working checker (one returning zeros or inf would otherwise keep
    # it): the same words as check_accepts_correct's, which the item shows once.
    verdict = checker_verdict(student, reference, seed)
    if not (verdict.rejected or verdict.weakness) and verdict.missed_subtle_bug:
        return failed(f"{name} = {tol:g}, but your grad_check accepted a gradient 1% too large (rel_error about "
                      f"5e-3): the tolerance it applies is looser than 1e-3, outside [{low:g}, {high:g}].",
                      "tolerance_out_of_range")
    return check_accepts_correct(student, reference, seed)


def own_errors(backward_fn: Callable, problem: Problem, reg: float) -> dict:
    """The grader's own gradient check of backward_fn: rel_error per parameter, inf for a wrong shape or non-finite."""
    return dict(_own_errors_one_by_one(backward_fn, problem, reg))


def visible(backward_fn: Callable, problem: Problem, reg: float, threshold: float) -> bool:
    """Whether the grader's own check reports at least `threshold`, inf or nan for some parameter (it stops at the
    first: most buggy backward passes show in the first parameter checked)."""
    with np.errstate(all="ignore"):
        return any(not error < threshold for _, error in _own_errors_one_by_one(backward_fn, problem, reg))


def _own_errors_one_by_one(backward_fn: Callable, problem: Problem, reg: float) -> Iterator[tuple[str, float]]:
    """(parameter, rel_error) in turn; the central differences of each parameter are computed only when reached."""
    p = problem.copy()
    _, analytic = backward_fn(p.X, p.y, p.params, reg)
    q = problem.copy()  # perturbed in place, one entry at a time, and restored
    for name in PARAM_NAMES:
        grad = np.asarray(analytic[name])
        if grad.shape != q.params[name].shape or not np.all(np.isfinite(grad)):
            yield name, float("inf")
            continue
        numeric = numerical_gradient(lambda: backward_fn(q.X, q.y, q.params, reg)[0], q.params[name], EPS)
        yield name, relative_error(grad, numeric)


def select_probe(reference: ModuleType, seed: int, tol: float) -> tuple[Problem, float, float]:
    """(problem, reg, the reference's own error): the first draw whose error is at least 10× below tol."""
    rng = rng_for(seed, "part3.grad_check")
    best = None
    for _ in range(MAX_DRAWS):
        problem = random_problem(rng, 5, 4, 3, 3)
        reg = float(rng.uniform(0.1, 0.5))
        error = max(own_errors(reference.backward, problem, reg).values())
        if best is None or error < best[2]:
            best = (problem, reg, error)
        if error <= tol / 10:
            break
    return best


def _student_errors(student: Submission, backward_fn: Callable, problem: Problem, reg: float) -> dict:
    p = problem.copy()
    result = student.call("grad_check", backward_fn, p.X, p.y, p.params, reg, EPS)
    name = student.name_of("grad_check")
    missing = [k for k in PARAM_NAMES if not isinstance(result, dict) or k not in result]
    if missing:
        raise StudentCodeError(f"`{name}` must return a dict with a rel_error for each of W1, b1, W2, b2; "
                               f"{', '.join(missing)} missing.", cause="bad_output")
    return {k: outputs.number(result[k], f"`{name}`'s result for {k!r}") for k in PARAM_NAMES}


def _doubled(reference: ModuleType) -> Callable:
    def backward(X, y, params, reg=0.0):
        loss, grads = reference.backward(X, y, params, reg)
        return 2.0 * loss, {k: 2.0 * v for k, v in grads.items()}
    return backward


def _other_loss(reference: ModuleType, seed: int) -> Callable:
    """The reference for another loss: twice the cross-entropy plus k·ΣW1²/2 + c·Σb2 (k, c from the seed). Its
    gradients are not a multiple of any backward of the contract's loss, so a checker that compares backward_fn
    with the student's own backward, rescaled by the ratio of the losses, rejects it."""
    k, c = rng_for(seed, "part3.grad_check.other_loss").uniform((0.5, 0.1), (1.5, 0.3))

    def backward(X, y, params, reg=0.0):
        loss, grads = reference.backward(X, y, params, reg)
        grads = {name: 2.0 * grad for name, grad in grads.items()}
        grads["W1"] = grads["W1"] + k * params["W1"]
        grads["b2"] = grads["b2"] + c
        return 2.0 * loss + 0.5 * k * float(np.sum(params["W1"] ** 2)) + c * float(np.sum(params["b2"])), grads
    return backward


SUBTLE_BUG = "one_percent_off"
#: A checker must flag at least this share of the buggy backward passes it is shown for accepting the correct ones
#: to count (a central-difference checker flags every one: each errs by 5e-3 or more, 50× the loosest tolerance).
WORKING_SHARE = 0.5


def _one_percent_off(reference: ModuleType, seed: int) -> tuple[Callable, str]:
    """The reference with one parameter's gradient (drawn from the seed) 1% too large: rel_error about 5e-3 there,
    far above any valid tolerance and below a loose one, so a checker that reports small errors as 0 misses it."""
    name = PARAM_NAMES[int(rng_for(seed, "part3.grad_check.subtle").integers(len(PARAM_NAMES)))]

    def backward(X, y, params, reg=0.0):
        loss, grads = reference.backward(X, y, params, reg)
        return loss, {**grads, name: 1.01 * grads[name]}
    return backward, f"d{name} 1% too large (a subtle bug that a tolerance looser than 1e-3 lets through)"


def _buggy_backwards(reference: ModuleType, seed: int) -> dict:
    """kind -> (backward function, words): the mutants (but those that edit their inputs) and the subtle bug."""
    buggy = {kind: (mutant(kind), words) for kind, words in MUTANTS.items() if kind not in EXCLUDED_MUTANTS}
    buggy[SUBTLE_BUG] = _one_percent_off(reference, seed)
    return buggy


def _shapes_and_values_sane(backward_fn: Callable, problem: Problem, reg: float) -> bool:
    """Whether backward_fn's gradients have the parameters' shapes and finite values (its bug is in the values)."""
    p = problem.copy()
    with np.errstate(all="ignore"):
        _, grads = backward_fn(p.X, p.y, p.params, reg)
        return all(np.shape(grads[k]) == p.params[k].shape and np.all(np.isfinite(grads[k])) for k in PARAM_NAMES)


@dataclass
class CheckerVerdict:
    """What the student's grad_check did on the probe: accepting correct backward passes and flagging buggy ones.
    Either alone means nothing (a checker that returns zeros accepts everything, one that returns inf flags
    everything), so each grading test needs both."""

    tol: float
    rejected: Optional[CheckResult]  # None: every correct backward accepted
    counted: list
    missed: list  # the words of the counted buggy backward passes the checker accepted
    flags_value_bugs: bool = True  # it flagged some buggy backward pass whose gradients have the right shapes
    missed_subtle_bug: bool = False  # it accepted the gradient 1% off: its tolerance in effect is above 1e-3

    @property
    def weakness(self) -> Optional[CheckResult]:
        """Why accepting the correct backward passes earns nothing here (None: it is a working checker)."""
        flagged = len(self.counted) - len(self.missed)
        if flagged == 0:
            return failed(f"your grad_check accepted all {len(self.counted)} buggy backward passes as well as the "
                          f"correct ones: it reports no error above {self.tol:g} even for clearly wrong gradients.",
                          "accepts_everything")
        if not self.flags_value_bugs:
            return failed(f"your grad_check flagged only buggy backward passes whose gradients have the wrong shape "
                          f"or are not finite ({flagged} of {len(self.counted)}): it does not compare gradient "
                          f"values with finite differences.", "accepts_everything")
        if flagged < WORKING_SHARE * len(self.counted):
            return failed(f"your grad_check flagged only {flagged} of {len(self.counted)} buggy backward passes: "
                          f"accepting the correct ones earns credit only with a checker that flags at least half "
                          f"(central differences flag every one).", "misses_bugs")
        return None


def checker_verdict(student: Submission, reference: ModuleType, seed: int) -> CheckerVerdict:
    """Run the student's grad_check on the correct and the buggy backward passes (once per run: cached)."""
    return student.remembered(("grad_check", id(reference), seed), lambda: _judge_checker(student, reference, seed))


def _judge_checker(student: Submission, reference: ModuleType, seed: int) -> CheckerVerdict:
    tol = judging_tolerance(student)
    problem, reg, _ = select_probe(reference, seed, tol)
    correct = [("the reference backward", reference.backward, ""),
               ("a backward that is correct for twice the loss (loss and gradients both doubled)", _doubled(reference),
                OWN_LOSS_HINT),
               ("a backward that is correct for another loss (twice the cross-entropy plus terms in W1 and b2)",
                _other_loss(reference, seed), OWN_LOSS_HINT)]
    # Correct and buggy backward passes in an order drawn from the seed: a grad_check answering by call order
    # (accept the first three, flag the rest) gets them wrong. Each buggy pass's visibility is worked out just before
    # its turn, so a grad_check that cannot run fails at its first call, not after the grader's own checks.
    buggy = _buggy_backwards(reference, seed)
    order = [(None, case) for case in correct] + [(kind, None) for kind in buggy]
    rng_for(seed, "part3.grad_check.order").shuffle(order)
    rejections, counted, missed_kinds, flagged_value_bug = {}, [], set(), False
    for kind, case in order:
        if kind is None:
            rejections[case[0]] = _rejection(student, case, problem, reg, tol, seed)
            continue
        backward_fn = buggy[kind][0]
        if not visible(backward_fn, problem, reg, 10 * tol):
            continue  # invisible on these inputs (e.g. the unstable softmax on ordinary logits): not counted
        counted.append(kind)
        try:
            errors = _student_errors(student, backward_fn, problem, reg)
            flagged = not all(np.isfinite(e) and e <= tol for e in errors.values())
        except StudentCodeError as error:  # raising on a buggy backward counts as flagging it
            if error.result.cause in CANNOT_RUN:
                raise
            flagged = True
        if not flagged:
            missed_kinds.add(kind)
        elif not flagged_value_bug:
            flagged_value_bug = _shapes_and_values_sane(backward_fn, problem, reg)
    missed = [words for kind, (_, words) in buggy.items() if kind in missed_kinds]
    # The reference's rejection first: the doubled loss's hint is about a different mistake.
    rejected = next((rejections[label] for label, _, _ in correct if rejections[label]), None)
    return CheckerVerdict(tol, rejected, counted, missed, flagged_value_bug, SUBTLE_BUG in missed_kinds)


def _rejection(student: Submission, case: tuple, problem: Problem, reg: float, tol: float,
               seed: int) -> Optional[CheckResult]:
    """None when the student's grad_check accepts the correct backward pass `case` (label, function, hint)."""
    label, backward_fn, hint = case
    errors = _student_errors(student, backward_fn, problem, reg)
    worst = max(errors, key=lambda k: errors[k] if np.isfinite(errors[k]) else np.inf)
    if all(np.isfinite(e) and e < tol for e in errors.values()):
        return None
    return failed(f"on {label}, your grad_check reported {worst}: {errors[worst]:.3g}, above your tolerance {tol:g}, "
                  f"though the grader's own check gives at most {tol / 10:g}.{hint}"
                  f"{_numerical_gradient_hint(student, seed)}", "rejects_correct")


def _numerical_gradient_hint(student: Submission, seed: int) -> str:
    """When the student's numerical_gradient is itself wrong, say so: grad_check usually calls it."""
    if not student.has("numerical_gradient"):
        return ""
    for check in (part3.check_accuracy, part3.check_convergence):
        try:
            verdict = check(student, seed)
        except StudentCodeError as error:
            verdict = error.result
        if not verdict.passed:
            return (f" Your numerical_gradient fails part3.numerical_gradient too ({verdict.feedback.rstrip('.')}): "
                    f"if grad_check uses it, fix that first.")
    return ""


def check_accepts_correct(student: Submission, reference: ModuleType, seed: int) -> CheckResult:
    """Every error reported for correct backward passes is below GRAD_CHECK_TOL, and the checker works: it flags at
    least half of the buggy backward passes, one of them a bug in the values (not only wrong shapes)."""
    verdict = checker_verdict(student, reference, seed)
    return verdict.rejected or verdict.weakness or passed()


def check_flags_mutants(student: Submission, reference: ModuleType, seed: int) -> CheckResult:
    """Credit for the share of visible buggy backward passes the student's grad_check flags, if it accepts the
    correct ones (else flagging means nothing) and compares values (flagging wrong shapes only is no gradient check);
    feedback names the missed ones."""
    verdict = checker_verdict(student, reference, seed)
    counted, missed = verdict.counted, verdict.missed
    if verdict.rejected:
        return verdict.rejected  # the same words as check_accepts_correct's: the item shows them once
    if len(missed) < len(counted) and not verdict.flags_value_bugs:
        return verdict.weakness  # it flagged wrong shapes only
    if not missed:
        return passed(f"flagged all {len(counted)} buggy backward passes.")
    return CheckResult(1 - len(missed) / len(counted),
                       f"your grad_check (tolerance {verdict.tol:g}) missed {len(missed)} of {len(counted)} buggy "
                       f"backward passes: {'; '.join(missed)}.", "misses_bugs")
