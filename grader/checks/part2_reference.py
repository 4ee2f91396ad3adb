"""Part 2 checks against the reference solution (instructor only: these need `reference/` and grader.mutants).

`reference` is any object with the contract's forward, softmax_cross_entropy and backward (normally the module
`reference.backprop`); it is passed in, never imported here, so these checks run wherever the reference is present.
"""
from __future__ import annotations

from types import ModuleType
from typing import Optional

import numpy as np

from grader.checks import calls, vectorization
from grader.checks.causes import Probe, explain_gradient_mismatch
from grader.compare import REFERENCE_TOL, find_mismatch, precision_loss, precision_words
from grader.contract import PARAM_NAMES
from grader.mutants import MUTANTS, mutant
from grader.problems import random_problem
from grader.results import CheckResult, StudentCodeError, failed, passed
from grader.seeding import rng_for
from grader.student import Submission


def check_forward(student: Submission, reference: ModuleType, seed: int) -> CheckResult:
    """forward's scores (N, C) match the reference's, on problems of two sizes (one size twice, with other data:
    an answer remembered from an earlier call of the same shape does not pass)."""
    rng = rng_for(seed, "part2.forward")
    for N, D, H, C in ((9, 7, 5, 3), (1, 4, 6, 2), (9, 7, 5, 3)):
        problem = random_problem(rng, N, D, H, C, kink_margin=0.0)
        scores = calls.forward_scores(student, problem)
        p = problem.copy()
        expected = reference.forward(p.X, p.params)[0]
        mismatch = find_mismatch(scores, expected, REFERENCE_TOL)
        rounding = _float32_rounding(f"forward's scores (N={N})", "scores", scores, expected, mismatch)
        if rounding:
            return rounding
        if mismatch:
            cause, words = _forward_signature(scores, problem)
            return failed(f"forward's scores are wrong{words} (N={N}, D={D}, H={H}, C={C}): "
                          f"{mismatch.describe('scores')}.", cause)
    return passed()


def _float32_rounding(what: str, name: str, actual, expected, mismatch) -> Optional[CheckResult]:
    """The float32_precision failure when `mismatch` is only float32 rounding, else None."""
    error = precision_loss(actual, expected) if mismatch else None
    if error is None:
        return None
    return failed(f"{what}: {precision_words(error)}. ({mismatch.describe(name)})", "float32_precision")


def _forward_signature(scores: np.ndarray, problem) -> tuple[str, str]:
    """Recognise a forward pass that skips the ReLU or a bias."""
    X, W1, b1, W2, b2 = problem.X, *(problem.params[k] for k in ("W1", "b1", "W2", "b2"))
    variants = {
        "no_relu": (", as if there were no ReLU", (X @ W1 + b1) @ W2 + b2),
        "no_b1": (", as if b1 were left out", np.maximum(X @ W1, 0) @ W2 + b2),
        "no_b2": (", as if b2 were left out", np.maximum(X @ W1 + b1, 0) @ W2),
    }
    for cause, (words, value) in variants.items():
        if find_mismatch(scores, value, REFERENCE_TOL) is None:
            return cause, words
    return "forward_wrong", ""


def check_loss(student: Submission, reference: ModuleType, seed: int) -> CheckResult:
    """softmax_cross_entropy's loss and dscores match the reference's, at N=1 and twice at N=8 on ordinary logits."""
    rng = rng_for(seed, "part2.loss")
    matched_at = []
    for N, C in ((1, 3), (8, 5), (8, 5)):
        scores = rng.normal(0, 3, size=(N, C))
        y = rng.integers(0, C, size=N)
        loss, dscores = calls.loss_and_dscores(student, scores, y)
        expected_loss, expected_dscores = reference.softmax_cross_entropy(scores.copy(), y.copy())
        loss_mismatch = find_mismatch(loss, expected_loss, REFERENCE_TOL)
        if loss_mismatch:
            ratio = loss / expected_loss
            if N > 1 and abs(ratio - N) < 1e-6 * N:
                return failed(f"with N={N} your loss is {loss:.6g}, {N}× the right {expected_loss:.6g}: it sums over "
                              f"the batch instead of averaging.", "sum_instead_of_mean")
            rounding = _float32_rounding(f"your loss (N={N})", "the loss", loss, expected_loss, loss_mismatch)
            if rounding:
                return rounding
            return failed(f"with N={N} the loss is not the mean cross-entropy: "
                          f"{loss_mismatch.describe('your loss')}.", "loss_wrong")
        mismatch = find_mismatch(dscores, expected_dscores, REFERENCE_TOL)
        rounding = _float32_rounding(f"dscores (N={N})", "dscores", dscores, expected_dscores, mismatch)
        if rounding:
            return rounding
        if mismatch:
            evidence = f"with N={matched_at[0]} your dscores match; " if matched_at else ""
            onehot = np.eye(C)[y]
            signatures = {
                "missing_1_over_N": (expected_dscores * N, f"with N={N} dscores is {N}× too large: the 1/N of the "
                                                           f"mean is missing (your loss value is right)"),
                "double_1_over_N": (expected_dscores / N, f"with N={N} dscores is {N}× too small: the 1/N is applied "
                                                          f"twice"),
                "missing_minus_one": (expected_dscores + onehot / N, "dscores lacks the -1 at the true class: "
                                                                     "dscores = (probs - onehot(y)) / N"),
            }
            for cause, (value, words) in signatures.items():
                if N > 1 or cause == "missing_minus_one":
                    if find_mismatch(dscores, value, REFERENCE_TOL) is None:
                        return failed(f"{evidence}{words}. ({mismatch.describe('dscores')})", cause)
            return failed(f"with N={N} dscores is wrong: {mismatch.describe('dscores')}.", "dscores_wrong")
        matched_at.append(N)
    return passed()


def _backward_probes(student: Submission, reference: ModuleType, seed: int, key: str, keys: tuple = PARAM_NAMES):
    """The student's and the reference's (loss, grads) at reg = 0 on an N=1 and two N=7 problems (D=5 != H=6)."""
    rng = rng_for(seed, key)
    runs = []
    for N in (1, 7, 7):
        problem = random_problem(rng, N, 5, 6, 4, both_states=2 if N == 1 else 0)
        loss, grads = calls.loss_and_grads(student, problem, 0.0, keys, judged=key != "bonus.dX")
        p = problem.copy()
        expected_loss, expected = reference.backward(p.X, p.y, p.params, 0.0)
        runs.append((problem, loss, grads, expected_loss, expected))
    return runs


def check_backward(student: Submission, reference: ModuleType, seed: int) -> CheckResult:
    """backward's loss and gradients (reg = 0) match the reference's; a mismatch is explained by the known mistake
    whose gradients it reproduces exactly, or else by its signature. A numerical backward fails."""
    numerical = vectorization.check_analytic(student, seed, reference)
    if numerical:
        return numerical
    runs = _backward_probes(student, reference, seed, "part2.backward_reference")
    for problem, loss, _, expected_loss, _ in runs:
        N = problem.X.shape[0]
        mismatch = find_mismatch(loss, expected_loss, REFERENCE_TOL)
        if mismatch:
            if N > 1 and abs(loss - N * expected_loss) <= 1e-9 * abs(N * expected_loss):
                return failed(f"with N={N} backward's loss is {loss:.6g}, {N}× the right {expected_loss:.6g}: it "
                              f"sums the cross-entropy over the batch instead of averaging it.", "sum_instead_of_mean")
            rounding = _float32_rounding(f"backward's loss (N={N})", "the loss", loss, expected_loss, mismatch)
            if rounding:
                return rounding
            return failed(f"backward's loss is wrong (N={N}, reg=0): {mismatch.describe('the loss')}.", "loss_wrong")
    probes = [Probe(problem, grads, expected, REFERENCE_TOL) for problem, _, grads, _, expected in runs]
    what = "your gradients differ from the reference's"
    found = explain_gradient_mismatch(probes, what, "the reference's")
    if found is None:
        return passed()
    kind = _reproduced_mistake(probes)
    if kind is None:
        return found
    sizes = " and ".join(f"N={N}" for N in sorted({probe.N for probe in probes}))  # N=7 is probed twice
    detail = "" if found.cause == "unknown" else f" In detail, {found.feedback[len(what) + 2:]}"  # said once
    return failed(f"{what}: they are exactly those of a backward pass with {MUTANTS[kind]} (at {sizes}).{detail}",
                  kind)


def _reproduced_mistake(probes: list) -> Optional[str]:
    """The known mistake (grader.mutants) whose gradients equal the student's on every probe, if any."""
    for kind in MUTANTS:
        if kind in ("edits_inputs", "unstable_softmax", "sum_instead_of_mean"):  # no gradient signature at reg=0
            continue
        backward = mutant(kind)
        for probe in probes:
            p = probe.problem.copy()
            with np.errstate(all="ignore"):
                _, grads = backward(p.X, p.y, p.params, 0.0)
            if any(np.shape(grads[k]) != probe.actual[k].shape or
                   find_mismatch(probe.actual[k], grads[k], REFERENCE_TOL) for k in PARAM_NAMES):
                break
        else:
            return kind
    return None


def check_dX(student: Submission, reference: ModuleType, seed: int) -> CheckResult:
    """Bonus: grads["X"] (N, D), the input gradient, matches the reference's."""
    for problem, _, grads, _, expected in _backward_probes(student, reference, seed, "bonus.dX", ("X",)):
        mismatch = find_mismatch(grads["X"], expected["X"], REFERENCE_TOL)
        rounding = _float32_rounding(f"grads['X'] (N={problem.X.shape[0]})", "dX", grads["X"], expected["X"],
                                     mismatch)
        if rounding:
            return rounding
        if mismatch:
            upstream = "" if _parameter_grads_right(student, problem, expected) else (
                " Your parameter gradients are wrong too (see part2.backward_reference): dX inherits their error "
                "through dz1, so fix those first.")
            return failed(f"grads['X'] is wrong (N={problem.X.shape[0]}): {mismatch.describe('dX')}. "
                          f"dX = dz1·W1ᵀ has X's shape (N, D).{upstream}", "dX_wrong")
    return passed()


def _parameter_grads_right(student: Submission, problem, expected: dict) -> bool:
    try:
        _, grads = calls.loss_and_grads(student, problem, 0.0, PARAM_NAMES, judged=False)
    except StudentCodeError:
        return False
    return all(find_mismatch(grads[k], expected[k], REFERENCE_TOL) is None for k in PARAM_NAMES)
