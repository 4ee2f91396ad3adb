"""Part 2 checks that need no reference solution: numerical stability, gradients against finite differences of the
student's own loss, and the regularization contribution.

Each check judges one function's property and nothing else, so a bug is charged only to the item it breaks: stability
compares the student's output on huge logits with the student's own output on the same logits shifted back (softmax
is invariant to adding a constant to a row); regularization compares the student's results at reg > 0 and reg = 0.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from grader.checks import calls
from grader.checks.causes import common_factor
from grader.compare import FD_TOL, REFERENCE_TOL, find_mismatch, looks_float32
from grader.contract import PARAM_NAMES
from grader.problems import random_problem
from grader.results import CheckResult, StudentCodeError, failed, passed
from grader.seeding import rng_for
from grader.student import Submission

#: Row offsets of the "large offsets" probe: every row's logits sit near +1e4 or -1e4 (exp overflows past 709).
OFFSET = 1e4
#: The "large gap" probe puts the true class this far below its row's maximum: exp(-1000) underflows to 0 in float64.
GAP = 1000.0
#: Where the true class towers GAP above the rest, loss and dscores are 0 to within 1e-300; an unstable softmax gives
#: inf, nan or O(1). 1e-9 leaves room for a harmless log(p + 1e-12) (a loss of -1e-12).
SPIKE_TOL = 1e-9


def _offset_probe(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(large scores (N, C), the same shifted back near 0 (N, C), y (N,)): rows alternate near +1e4 and -1e4."""
    rng = rng_for(seed, "part2.stability.offsets")
    N, C = 6, 5
    offsets = OFFSET * np.array([1.0, -1.0] * (N // 2))[:, None] + rng.integers(-50, 50, size=(N, 1))
    large = rng.normal(0, 2, size=(N, C)) + offsets
    return large, large - offsets, rng.integers(0, C, size=N)  # large - offsets is exact (Sterbenz)


def _spike_probe(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(scores (N, C), y (N,)): in every row the true class is GAP above the others, so loss and dscores are 0 to
    within 1e-300. A shift by anything but the row's maximum (a mean, a global max of another row) overflows."""
    rng = rng_for(seed, "part2.stability.spike")
    N, C = 3, 6
    scores = rng.normal(0, 1, size=(N, C))
    y = rng.integers(0, C, size=N)
    scores[np.arange(N), y] += GAP
    return scores, y


def _not_a_cross_entropy(student: Submission, seed: int) -> Optional[CheckResult]:
    """A failure when the loss of single rows of ordinary logits is not proportional to log(Σ exp s) − s[y]: the
    stability probes hold for other losses too (a max-margin loss max(s) − s[y] is shift-invariant and 0 where the
    true class towers), and only a softmax cross-entropy earns stability. Any constant factor is allowed: a wrong
    scale is part2.loss's to charge."""
    rng = rng_for(seed, "part2.stability.one_row")
    ratios, rows = [], []
    while len(ratios) < 3:
        scores, y = rng.normal(0, 2, size=(1, 4)), rng.integers(0, 4, size=1)
        cross_entropy = float(np.log(np.sum(np.exp(scores[0]))) - scores[0, y[0]])
        if cross_entropy < 0.1:  # too close to 0 for a clear ratio
            continue
        loss, _ = calls.loss_and_dscores(student, scores, y, judged=False)
        ratios.append(loss / cross_entropy)
        rows.append((np.round(scores[0], 3).tolist(), int(y[0]), loss, cross_entropy))
    if np.all(np.isfinite(ratios)) and ratios[0] != 0 and np.ptp(ratios) <= 1e-7 * abs(ratios[0]):
        return None
    shown = "; ".join(f"scores {s}, y={label}: your loss {loss:.6g}, log(Σ exp s) − s[y] = {ce:.6g}"
                      for s, label, loss, ce in rows)
    return failed(f"on single rows of ordinary logits your loss is not a softmax cross-entropy (not proportional to "
                  f"log(Σ exp s) − s[y]): {shown}. Stability is judged only for the softmax cross-entropy.",
                  "not_softmax")


def _ignores_input(student: Submission, seed: int) -> Optional[CheckResult]:
    """A failure when softmax_cross_entropy is not finite on ordinary logits, does not depend on them, or is not a
    softmax cross-entropy."""
    _, shifted_back, y = _offset_probe(seed)
    base_loss, base_dscores = calls.loss_and_dscores(student, shifted_back, y, judged=False)
    other_loss, _ = calls.loss_and_dscores(student, shifted_back * 0.5, y, judged=False)
    if not np.isfinite(base_loss) or not np.all(np.isfinite(base_dscores)):
        return failed("softmax_cross_entropy is not finite even on ordinary logits (within ±10).", "not_finite")
    if other_loss == base_loss:
        return failed("softmax_cross_entropy returns the same loss for different scores: it ignores its input.",
                      "ignores_input")
    return _not_a_cross_entropy(student, seed)


def check_large_offsets(student: Submission, seed: int, part: str) -> CheckResult:
    """part "loss" or "dscores": finite and equal to the student's own result shifted back at logits near ±1e4,
    and 0 where the true class towers 1000 above the rest."""
    problem = _ignores_input(student, seed)
    if problem:
        return problem
    large, shifted_back, y = _offset_probe(seed)
    base_loss, base_dscores = calls.loss_and_dscores(student, shifted_back, y, judged=False)
    loss, dscores = calls.loss_and_dscores(student, large, y, judged=False)
    spike_scores, spike_y = _spike_probe(seed)
    spike_loss, spike_dscores = calls.loss_and_dscores(student, spike_scores, spike_y, judged=False)
    # The spike's answer (0) is the formula's, not only stability's: a formula already wrong on ordinary logits (the
    # -1 missing, rows normalized together) is part2.loss's to charge, so the spike is not asked of it here.
    formula_right = _softmax_cross_entropy_up_to_scale(shifted_back, y, base_loss, base_dscores)
    if looks_float32([loss, base_loss, *np.ravel(dscores)]):
        return failed("your loss and dscores have float32 precision: near ±1e4, float32 cannot even represent the "
                      "logits' differences (its spacing there is 1e-3). The exercise requires float64.",
                      "float32_precision")
    hint = ("Subtract each row's own maximum before exp (one global maximum is not enough when rows differ by "
            "2e4, a row mean is not enough when one logit towers above the rest); softmax is unchanged by it.")
    if part == "loss":
        if not np.isfinite(loss):
            return failed(f"with logits near ±1e4 your loss is {loss}. {hint}", "unstable_softmax")
        if find_mismatch(loss, base_loss, REFERENCE_TOL):
            return failed(f"with logits near ±1e4 your loss is {loss:.6g}, but {base_loss:.6g} for the same logits "
                          f"with each row shifted back near 0 (softmax is invariant to such shifts). {hint}",
                          "unstable_softmax")
        if formula_right and not abs(spike_loss) < SPIKE_TOL:
            return failed(f"when the true class's logit is {GAP:g} above the others your loss is {spike_loss} "
                          f"instead of 0. {hint}", "unstable_softmax")
        return passed()
    mismatch = find_mismatch(dscores, base_dscores, REFERENCE_TOL)
    if mismatch:
        shifted_back = mismatch.describe("dscores", "with the rows shifted back near 0 it")
        return failed(f"with logits near ±1e4 dscores is wrong: {shifted_back}. {hint}", "unstable_softmax")
    if formula_right and not np.all(np.abs(spike_dscores) < SPIKE_TOL):
        worst = spike_dscores.flat[int(np.argmax(np.where(np.isfinite(spike_dscores), np.abs(spike_dscores),
                                                          np.inf)))]
        return failed(f"when the true class's logit is {GAP:g} above the others dscores should be 0, but has "
                      f"{worst}. {hint}", "unstable_softmax")
    return passed()


def _softmax_cross_entropy_up_to_scale(scores: np.ndarray, y: np.ndarray, loss: float, dscores: np.ndarray) -> bool:
    """Whether (loss, dscores) on ordinary logits (N, C) are the mean cross-entropy and its gradient softmax − onehot,
    each up to a constant factor (a wrong scale is part2.loss's to charge)."""
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    rows = np.arange(len(y))
    gradient = np.exp(log_probs)
    gradient[rows, y] -= 1.0
    return all(_multiple_of(actual, np.asarray(expected, dtype=float)) for actual, expected in
               ((loss, -log_probs[rows, y].mean()), (dscores, gradient)))


def _multiple_of(actual: object, expected: np.ndarray) -> bool:
    """actual == k·expected for one nonzero k, to 1e-6 (both finite, same shape)."""
    actual = np.asarray(actual, dtype=float)
    if actual.shape != expected.shape or not np.all(np.isfinite(actual)):
        return False
    k = float(np.sum(actual * expected) / np.sum(expected * expected))
    return k != 0.0 and bool(np.allclose(actual, k * expected, rtol=1e-6, atol=1e-12 * abs(k)))


def check_large_gaps(student: Submission, seed: int) -> CheckResult:
    """The loss stays finite when the true class's logit is 1000 below its row's maximum (confidently wrong rows)."""
    problem = _ignores_input(student, seed)
    if problem:
        return problem
    rng = rng_for(seed, "part2.stability.gaps")
    N, C = 4, 3
    scores = rng.normal(0, 1, size=(N, C))
    y = rng.integers(0, C, size=N)
    scores[np.arange(N), y] -= GAP
    loss, dscores = calls.loss_and_dscores(student, scores, y, judged=False)
    if not np.isfinite(loss) or not np.all(np.isfinite(dscores)):
        return failed(f"when the true class's logit is {GAP:g} below the row's maximum, your loss is {loss} (the "
                      f"right value is about {GAP:g}): the true class's probability underflows to 0 and log(0) = -inf. "
                      f"Compute log-softmax directly, log p = (s - max) - log(sum(exp(s - max))), instead of the log "
                      f"of a probability.", "log_of_probability")
    return passed()


def check_regularization(student: Submission, seed: int, reg_factor: float) -> CheckResult:
    """The difference between backward at reg > 0 and at reg = 0: loss + f·reg·(ΣW1²+ΣW2²), dW + 2f·reg·W, db + 0,
    on two problems of the same shape (an answer remembered from an earlier call does not pass)."""
    rng = rng_for(seed, "part2.regularization")
    for _ in range(2):
        result = _regularization_probe(student, rng, reg_factor)
        if not result.passed:
            return result
    return passed()


def _regularization_probe(student: Submission, rng: np.random.Generator, reg_factor: float) -> CheckResult:
    problem = random_problem(rng, 5, 4, 6, 3, kink_margin=0.0)
    reg = float(rng.uniform(0.3, 0.9))
    loss0, raw0 = calls.backward_outputs(student, problem, 0.0, judged=False)
    loss1, raw1 = calls.backward_outputs(student, problem, reg, judged=False)
    grads0, grads1 = calls.valid_grads(raw0, problem, ("W1", "W2")), calls.valid_grads(raw1, problem, ("W1", "W2"))
    for name in ("b1", "b2"):  # judged only when well formed: a malformed bias gradient is the backward items' loss
        try:
            bias0, bias1 = calls.valid_grads(raw0, problem, (name,)), calls.valid_grads(raw1, problem, (name,))
        except StudentCodeError:
            continue
        grads0.update(bias0)
        grads1.update(bias1)
    W = {k: problem.params[k] for k in PARAM_NAMES}
    penalty = reg_factor * reg * (np.sum(W["W1"] ** 2) + np.sum(W["W2"] ** 2))
    expected = {"W1": 2 * reg_factor * reg * W["W1"], "W2": 2 * reg_factor * reg * W["W2"],
                "b1": np.zeros_like(W["b1"]), "b2": np.zeros_like(W["b2"])}
    law = f"{'0.5·' if reg_factor == 0.5 else ''}reg·(ΣW1² + ΣW2²)"
    grad_law = "reg·W" if reg_factor == 0.5 else "2·reg·W"
    N = problem.X.shape[0]
    findings: dict = {}  # (cause, words) -> parameter names, so one mistake in dW1 and dW2 is reported once
    for name in [k for k in ("W1", "W2", "b1", "b2") if k in grads0 and k in grads1]:
        added = grads1[name] - grads0[name]
        # FD_TOL: every reg mistake moves the difference by a factor (0, 2, 1/2, 1/N); lost precision elsewhere
        # (float32, numerical gradients) is charged to the items that judge precision.
        mismatch = find_mismatch(added, expected[name], FD_TOL)
        if mismatch is None:
            continue
        if name in ("b1", "b2"):
            finding = ("reg_on_bias", "a nonzero amount: the L2 term covers W1 and W2 only, not the biases")
        else:
            ratio = _ratio(added, expected[name])
            known = {0.0: ("reg_missing_in_grad", f"nothing: {grad_law} is missing from {{d}}"),
                     2.0: ("reg_doubled_in_grad", f"twice {grad_law}: the loss uses {law}, whose gradient is "
                                                  f"{grad_law}"),
                     0.5: ("reg_halved_in_grad", f"half of {grad_law}: the loss uses {law}, whose gradient is "
                                                 f"{grad_law}"),
                     1.0 / N: ("reg_divided_by_N", f"{grad_law}/N: the L2 term is not averaged over the batch")}
            finding = next((f for value, f in known.items() if ratio is not None and abs(ratio - value) < 1e-6),
                           ("reg_wrong", f"the wrong amount (expected {grad_law}): "
                                         f"{mismatch.describe(f'added d{name}', 'reg·W gives')}"))
        findings.setdefault(finding, []).append(name)
    added_loss = loss1 - loss0
    loss_ratio = added_loss / penalty
    convention = {"reg_doubled_in_grad": 2.0, "reg_halved_in_grad": 0.5}
    if len(findings) == 1 and convention.get(next(iter(findings))[0]) and \
            abs(loss_ratio - convention[next(iter(findings))[0]]) < 1e-6:
        theirs = "reg·ΣW² (gradient 2·reg·W)" if loss_ratio * reg_factor == 1.0 else "0.5·reg·ΣW² (gradient reg·W)"
        return failed(f"with reg={reg:.3g}, your loss and gradients consistently use the {theirs} convention, but "
                      f"this course's loss is mean cross-entropy + {law} (gradient {grad_law}).", "reg_convention")
    if findings:
        (cause, words), names = next(iter(findings.items()))
        which = " and ".join(f"grads[{n!r}]" for n in names)
        words = words.replace("{d}", " and ".join(f"d{n}" for n in names))
        return failed(f"with reg={reg:.3g}, {which} change{'s' if len(names) == 1 else ''} by {words}.", cause)
    if find_mismatch(added_loss, penalty, FD_TOL):
        ratio = loss_ratio
        words = {0.0: "nothing: the L2 term is missing from the loss", 2.0: "twice the L2 term",
                 0.5: "half the L2 term", 1.0 / N: "the L2 term divided by N (averaged over the batch)"}
        found = next((w for v, w in words.items() if abs(ratio - v) < 1e-6), None)
        detail = found or f"{added_loss:.6g} instead of {law} = {penalty:.6g}"
        return failed(f"with reg={reg:.3g} your loss grows by {detail}; the loss is mean cross-entropy + {law}.",
                      "reg_loss_wrong")
    return passed()


def _ratio(actual: np.ndarray, expected: np.ndarray) -> Optional[float]:
    """actual/expected when it is one common factor, else None."""
    if np.allclose(actual, 0.0, atol=1e-15):
        return 0.0
    return common_factor(actual, expected)
