"""The grader's own answers to parts of the exercise: Part 1's shapes, the contract's rel_error, the signature
classifier behind diagnose, and central differences. Never in the student kit (grader.kit denies this module and,
by its import rule, every module that imports it): a student who could read these could copy them.
"""
from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np

from grader.contract import PARAM_NAMES
from grader.problems import Problem


def tensor_shapes(N: int, D: int, H: int, C: int) -> dict[str, tuple[int, ...]]:
    """Part 1's answer: the shape of every tensor of the forward and backward pass (a gradient has its tensor's)."""
    return {
        "X": (N, D), "W1": (D, H), "b1": (H,), "z1": (N, H), "h1": (N, H), "W2": (H, C), "b2": (C,),
        "scores": (N, C), "probs": (N, C), "dscores": (N, C), "dW2": (H, C), "db2": (C,), "dh1": (N, H),
        "dz1": (N, H), "dW1": (D, H), "db1": (H,), "dX": (N, D),
    }


def relative_error(a: Any, b: Any) -> float:
    """max |a-b| / (|a|+|b|) over entries, 0 where both are 0: the contract's rel_error, the grader's own copy."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        diff, denom = np.abs(a - b), np.abs(a) + np.abs(b)
        finite = np.isfinite(diff) & np.isfinite(denom)
        ratio = np.divide(diff, denom, out=np.zeros(np.broadcast(a, b).shape), where=finite & (denom > 0))
    ratio = np.where(finite, ratio, np.inf)
    return float(np.max(ratio)) if ratio.size else 0.0


MATCH, MISMATCH = 1e-10, 2e-2
LAYER1, LAYER2 = ("W1", "b1"), ("W2", "b2")


def _scaled_error(a: np.ndarray, n: np.ndarray) -> float:
    scale = max(float(np.max(np.abs(a))), float(np.max(np.abs(n))))
    return float(np.max(np.abs(a - n))) / scale if scale > 0 else 0.0


def label_of(analytic: dict, numeric: dict) -> Optional[str]:
    """The contract's label for (analytic, numeric), or None when the case is not clear-cut enough to send."""
    a = {k: np.asarray(analytic[k], dtype=np.float64) for k in PARAM_NAMES}
    n = {k: np.asarray(numeric[k], dtype=np.float64) for k in PARAM_NAMES}
    if any(a[k].shape != n[k].shape for k in PARAM_NAMES):
        return "shape"
    if any(not np.all(np.isfinite(a[k])) for k in PARAM_NAMES):
        return "nan"
    bad = set()
    for k in PARAM_NAMES:
        if relative_error(a[k], n[k]) <= MATCH:
            continue
        if _scaled_error(a[k], n[k]) < MISMATCH:
            return None
        bad.add(k)
    if not bad:
        return "ok"
    if bad == set(PARAM_NAMES):
        flat_a = np.concatenate([a[k].ravel() for k in PARAM_NAMES])
        flat_n = np.concatenate([n[k].ravel() for k in PARAM_NAMES])
        c = float(np.vdot(flat_a, flat_n) / np.vdot(flat_n, flat_n))
        if c not in (0.0, 1.0) and all(relative_error(a[k], c * n[k]) <= MATCH for k in PARAM_NAMES):
            return "scale"
    if bad <= set(LAYER1):
        return "layer1"
    if bad <= set(LAYER2):
        return "layer2"
    return "other"


#: The step of the grader's own central differences.
FD_EPS = 1e-5


def numerical_gradient(loss: Callable[[], float], array: np.ndarray, eps: float = FD_EPS) -> np.ndarray:
    """The grader's own central differences of `loss()` with respect to `array`, perturbed in place and restored."""
    return from_perturbed(perturbed(array, eps, loss), array, eps)


def perturbed(array: np.ndarray, eps: float, capture: Callable[[], Any]) -> list:
    """What `capture()` returns with each entry of `array` (in np.ndindex order) set to its value + eps, then - eps
    (in place; restored after): the loss itself, or a copy of the inputs whose losses are all computed later, in
    one request to the student's worker (from_perturbed takes them in this order)."""
    captured = []
    for index in np.ndindex(array.shape):
        saved = array[index]
        array[index] = saved + eps
        captured.append(capture())
        array[index] = saved - eps
        captured.append(capture())
        array[index] = saved
    return captured


def from_perturbed(losses: list, array: np.ndarray, eps: float) -> np.ndarray:
    """Central differences, shaped like `array`, from the losses at `perturbed(array, eps, ...)`."""
    grad = np.zeros_like(array)
    for i, index in enumerate(np.ndindex(array.shape)):
        grad[index] = (losses[2 * i] - losses[2 * i + 1]) / (2 * eps)
    return grad


def central_differences(losses_at: Callable[[list[Problem]], list[float]], problem: Problem,
                        eps: float = FD_EPS) -> dict:
    """The grader's own numerical gradient with respect to every parameter, from `losses_at(problems)`: the losses
    at a list of perturbed copies of `problem`, all asked at once (one batch of calls to the student's code)."""
    copies = {name: perturbed(problem.params[name], eps, problem.copy) for name in PARAM_NAMES}
    losses = iter(losses_at([copy for name in PARAM_NAMES for copy in copies[name]]))
    return {name: from_perturbed([next(losses) for _ in copies[name]], problem.params[name], eps)
            for name in PARAM_NAMES}
