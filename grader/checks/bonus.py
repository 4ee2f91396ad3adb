"""bonus.deep: an L-layer backward pass, `deep_backward(X, y, layers, reg) -> (loss, [(dW, db), ...])`, judged
against central differences of its own loss (no reference needed), and analytic (a count of its line events, as for
backward: finite differences would agree with themselves).

`layers` is a list of (W (in, out), b (out,)) pairs, ReLU between layers and none after the last, softmax
cross-entropy on top, plus an L2 term over every W. Only consistency is judged here (gradients of the function's own
loss, at reg > 0); the reg convention is part2.regularization's. Every hidden pre-activation is kept 1e-3 from the
kink.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from grader import outputs
from grader.checks.solution import FD_EPS, from_perturbed, perturbed
from grader.checks.vectorization import ANALYTIC_N, LARGE_D, SMALL_D, numerical_growth
from grader.compare import FD_TOL, find_mismatch
from grader.problems import KINK_MARGIN
from grader.results import CheckResult, StudentCodeError, failed, passed
from grader.seeding import rng_for
from grader.student import Submission, Tampered

#: Layer widths (D, hidden..., C) for L = 1 to 4.
WIDTHS = {1: (4, 3), 2: (4, 5, 3), 3: (4, 5, 4, 3), 4: (3, 4, 5, 4, 3)}
N = 4


def _deep_problem(rng: np.random.Generator, widths: tuple, n: int = N) -> tuple[np.ndarray, np.ndarray, list]:
    """X (n, D), y (n,), layers [(W, b), ...] with every hidden pre-activation KINK_MARGIN away from 0."""
    for _ in range(1000):
        X = rng.standard_normal((n, widths[0]))
        layers = [(rng.standard_normal((a, b)) / np.sqrt(a), 0.5 * rng.standard_normal(b))
                  for a, b in zip(widths[:-1], widths[1:])]
        h, ok = X, True
        for W, b in layers[:-1]:
            z = h @ W + b
            ok = ok and np.min(np.abs(z)) >= KINK_MARGIN
            h = np.maximum(z, 0.0)
        if ok:
            return X, rng.integers(0, widths[-1], size=n), layers
    raise RuntimeError("no deep problem away from the kink")


def _copy(layers: list) -> list:
    return [(W.copy(), b.copy()) for W, b in layers]


def _call(student: Submission, X: np.ndarray, y: np.ndarray, layers: list, reg: float):
    result = student.call("deep_backward", X.copy(), y.copy(), _copy(layers), reg)
    loss, grads = outputs.unpack_pair(result, "`deep_backward`", "(loss, grads)")
    return outputs.number(loss, "the loss returned by `deep_backward`"), grads


def _losses(student: Submission, X: np.ndarray, y: np.ndarray, states: list, reg: float) -> list[float]:
    """deep_backward's loss for each list of layers in `states` (one batch of calls, on copies; the gradients stay
    in the worker)."""
    results = student.call_many("deep_backward", [(X.copy(), y.copy(), layers, reg) for layers in states],
                                guard=False, keep=(1,))
    return [outputs.number(outputs.unpack_pair(result, "`deep_backward`", "(loss, grads)")[0],
                           "the loss returned by `deep_backward`", strict=False) for result in results]


def check_deep(student: Submission, seed: int, L: int) -> CheckResult:
    """deep_backward's gradients for an L-layer network (reg > 0) agree with central differences of its loss."""
    if student.loaded and not student.has("deep_backward"):
        return failed("not attempted (optional bonus: deep_backward(X, y, layers, reg) for an L-layer network).",
                      "not_attempted")
    numerical = student.remembered(("deep_numerical", seed), lambda: _numerical(student, seed))
    if numerical:
        return numerical
    rng = rng_for(seed, f"bonus.deep.{L}")
    X, y, layers = _deep_problem(rng, WIDTHS[L])
    reg = float(rng.uniform(0.1, 0.5))
    loss, grads = _call(student, X, y, layers, reg)
    if not isinstance(grads, (list, tuple)) or len(grads) != L:
        raise StudentCodeError(f"deep_backward must return one (dW, db) pair per layer: {L} for L={L}, got "
                               f"{len(grads) if isinstance(grads, (list, tuple)) else type(grads).__name__}.",
                               cause="bad_output")
    for i, ((W, b), pair) in enumerate(zip(layers, grads), start=1):
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise StudentCodeError(f"grads[{i - 1}] from deep_backward must be a pair (dW, db).", cause="bad_output")
        for name, param, given in (("dW", W, pair[0]), ("db", b, pair[1])):
            given = outputs.float64_array(given, f"layer {i}'s {name} from `deep_backward`", param.shape,
                                          bias=name == "db")
            states = perturbed(param, FD_EPS, lambda: _copy(layers))
            numeric = from_perturbed(_losses(student, X, y, states, reg), param, FD_EPS)
            mismatch = find_mismatch(given, numeric, FD_TOL)
            if mismatch:
                return failed(f"L={L} (reg={reg:.3g}): layer {i} of {L} is the first whose gradient disagrees with "
                              f"central differences of your loss: {mismatch.describe(name, 'the numerical gradient')}.",
                              "deep_wrong")
    return passed()


def _numerical(student: Submission, seed: int) -> Optional[CheckResult]:
    """A failure when deep_backward's gradients come from finite differences of its loss, told as for backward
    (vectorization.numerical_growth): its counts on a two-layer network (one example) at input and hidden widths D, H
    in {SMALL_D, LARGE_D} grow with the product D·H; an analytic pass's do not."""
    rng = rng_for(seed, "bonus.deep.analytic")
    counts = {}
    try:
        for D in (SMALL_D, LARGE_D):
            for H in (SMALL_D, LARGE_D):
                X, y, layers = _deep_problem(rng, (D, H, 3), ANALYTIC_N)
                student.count_events("deep_backward", (X, y, layers, 0.0))  # warm-up
                counts[D, H] = min((student.count_events("deep_backward", (X, y, _copy(layers), 0.0))
                                    for _ in range(2)), key=lambda c: (c.own_calls, c.lines))  # no loss path
    except Tampered as error:
        return failed(f"the measurement of `deep_backward` was switched off: {error}.", "tampering")
    growth = numerical_growth(counts)
    if growth is None:
        return None
    return failed(f"`deep_backward` computes its gradients numerically, not analytically: {growth}, as finite "
                  f"differences do. Derive the gradients with the chain rule, layer by layer.",
                  "numerical_not_analytic")
