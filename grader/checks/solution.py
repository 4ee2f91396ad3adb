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


def numerical_gradient(loss: Callable[[], float], array: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """The grader's own central differences of `loss()` with respect to `array`, perturbed in place and restored."""
    grad = np.zeros_like(array)
    for index in np.ndindex(array.shape):
        saved = array[index]
        array[index] = saved + eps
        plus = loss()
        array[index] = saved - eps
        minus = loss()
        array[index] = saved
        grad[index] = (plus - minus) / (2 * eps)
    return grad


def central_differences(loss_at: Callable[[Problem], float], problem: Problem, eps: float = 1e-5) -> dict:
    """The grader's own numerical gradient of `loss_at(problem)` with respect to every parameter."""
    return {name: numerical_gradient(lambda: loss_at(problem), problem.params[name], eps) for name in PARAM_NAMES}
