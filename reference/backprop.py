"""Reference solution (instructor only: never shipped to students).

Two-layer classifier: Affine (X·W1 + b1) -> ReLU -> Affine (·W2 + b2) -> softmax -> mean cross-entropy,
with the L2 term 0.5·reg·(ΣW1² + ΣW2²). Shapes: X (N, D), y (N,), W1 (D, H), b1 (H,), W2 (H, C), b2 (C,).
Everything is float64 and vectorized over the batch.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

PARAM_NAMES = ("W1", "b1", "W2", "b2")
GRAD_CHECK_TOL = 1e-6


# ----------------------------------------------------------------------------------------------------------- Part 1
def shapes(N: int, D: int, H: int, C: int) -> dict:
    """Shape of every tensor of the forward and backward pass."""
    return {
        "X": (N, D), "W1": (D, H), "b1": (H,), "z1": (N, H), "h1": (N, H), "W2": (H, C), "b2": (C,),
        "scores": (N, C), "probs": (N, C), "dscores": (N, C), "dW2": (H, C), "db2": (C,), "dh1": (N, H),
        "dz1": (N, H), "dW1": (D, H), "db1": (H,), "dX": (N, D),
    }


# ----------------------------------------------------------------------------------------------------------- Part 2
def forward(X: np.ndarray, params: dict) -> tuple[np.ndarray, tuple]:
    """Scores (N, C) and the cache the backward pass needs."""
    W1, b1, W2, b2 = (params[k] for k in PARAM_NAMES)
    z1 = X @ W1 + b1                                       # (N, D)·(D, H) + (H,) -> (N, H)
    h1 = np.maximum(z1, 0.0)                               # (N, H)
    scores = h1 @ W2 + b2                                  # (N, H)·(H, C) + (C,) -> (N, C)
    return scores, (z1, h1)


def softmax_cross_entropy(scores: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy over the batch and its gradient dscores (N, C)."""
    N = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)   # (N, C), row max 0: exp cannot overflow
    log_norm = np.log(np.exp(shifted).sum(axis=1))         # (N,), log-sum-exp of each row
    log_probs = shifted - log_norm[:, None]                # (N, C), finite even for very unlikely classes
    loss = -log_probs[np.arange(N), y].mean()              # scalar
    dscores = np.exp(log_probs)                            # (N, C) = probs
    dscores[np.arange(N), y] -= 1.0                        # (N, C) = probs - onehot(y)
    dscores /= N                                           # (N, C), the one and only 1/N
    return float(loss), dscores


def backward(X: np.ndarray, y: np.ndarray, params: dict, reg: float = 0.0) -> tuple[float, dict]:
    """Loss (mean cross-entropy + 0.5·reg·(ΣW1² + ΣW2²)) and gradients for W1, b1, W2, b2 and X."""
    W1, W2 = params["W1"], params["W2"]
    scores, (z1, h1) = forward(X, params)                  # (N, C); (N, H), (N, H)
    data_loss, dscores = softmax_cross_entropy(scores, y)  # scalar; (N, C)
    loss = data_loss + 0.5 * reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
    dW2 = h1.T @ dscores + reg * W2                        # (H, N)·(N, C) -> (H, C)
    db2 = dscores.sum(axis=0)                              # (C,), broadcast in forward -> sum in backward
    dh1 = dscores @ W2.T                                   # (N, C)·(C, H) -> (N, H)
    dz1 = dh1 * (z1 > 0)                                   # (N, H), ReLU passes gradient where z1 > 0
    dW1 = X.T @ dz1 + reg * W1                             # (D, N)·(N, H) -> (D, H)
    db1 = dz1.sum(axis=0)                                  # (H,)
    dX = dz1 @ W1.T                                        # (N, H)·(H, D) -> (N, D)
    return float(loss), {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "X": dX}


# ----------------------------------------------------------------------------------------------------------- Part 3
def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Central-difference gradient of f at x, shaped like x. Perturbs x in place, one entry at a time."""
    grad = np.zeros(x.shape, dtype=np.float64)
    for index in np.ndindex(x.shape):
        saved = x[index]
        try:
            x[index] = saved + eps
            f_plus = f(x)
            x[index] = saved - eps
            f_minus = f(x)
        finally:
            x[index] = saved                               # restore exactly, also when f raises
        grad[index] = (f_plus - f_minus) / (2.0 * eps)
    return grad


def rel_error(a: Any, b: Any) -> float:
    """max |a-b| / (|a|+|b|) over entries, 0 where both are 0."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    diff, denom = np.abs(a - b), np.abs(a) + np.abs(b)
    ratio = np.divide(diff, denom, out=np.zeros(np.broadcast(a, b).shape), where=denom > 0)
    return float(np.max(ratio)) if ratio.size else 0.0


def grad_check(backward_fn: Callable, X: np.ndarray, y: np.ndarray, params: dict, reg: float = 0.0,
               eps: float = 1e-5) -> dict:
    """rel_error between backward_fn's gradients and central differences of backward_fn's own loss."""
    _, analytic = backward_fn(X, y, params, reg)
    errors = {}
    for name in PARAM_NAMES:
        grad = np.array(analytic.get(name), dtype=np.float64) if name in analytic else None
        if grad is None or grad.shape != params[name].shape or not np.all(np.isfinite(grad)):
            errors[name] = float("inf")
            continue
        numeric = numerical_gradient(lambda _: backward_fn(X, y, params, reg)[0], params[name], eps)
        errors[name] = rel_error(grad, numeric)
    return errors


# ----------------------------------------------------------------------------------------------------------- Part 4
MATCH_TOL = 1e-6


def diagnose(analytic: dict, numeric: dict) -> str:
    """Label the mismatch between analytic and numeric gradients (see the contract for the labels)."""
    a = {k: np.asarray(analytic[k], dtype=np.float64) for k in PARAM_NAMES}
    n = {k: np.asarray(numeric[k], dtype=np.float64) for k in PARAM_NAMES}
    if any(a[k].shape != n[k].shape for k in PARAM_NAMES):
        return "shape"
    if any(not np.all(np.isfinite(a[k])) for k in PARAM_NAMES):
        return "nan"
    bad = {k for k in PARAM_NAMES if rel_error(a[k], n[k]) > MATCH_TOL}
    if not bad:
        return "ok"
    if bad == set(PARAM_NAMES):
        factors = [np.vdot(a[k], n[k]) / max(np.vdot(n[k], n[k]), 1e-300) for k in PARAM_NAMES]
        c = factors[0]
        if c not in (0.0, 1.0) and all(rel_error(a[k], c * n[k]) < MATCH_TOL for k in PARAM_NAMES):
            return "scale"
    if bad <= {"W1", "b1"}:
        return "layer1"
    if bad <= {"W2", "b2"}:
        return "layer2"
    return "other"


# ----------------------------------------------------------------------------------------------------------- Bonus
def deep_backward(X: np.ndarray, y: np.ndarray, layers: list, reg: float = 0.0) -> tuple[float, list]:
    """L-layer network: (W, b) pairs with ReLU between layers (none after the last), softmax cross-entropy on top,
    loss + 0.5·reg·ΣW² over every W. Returns (loss, [(dW, db), ...]) shaped like layers."""
    activations, pre_activations = [X], []
    for i, (W, b) in enumerate(layers):
        z = activations[-1] @ W + b                        # (N, out)
        pre_activations.append(z)
        activations.append(np.maximum(z, 0.0) if i < len(layers) - 1 else z)
    loss, upstream = softmax_cross_entropy(activations[-1], y)  # scalar; (N, C)
    loss += 0.5 * reg * sum(np.sum(W * W) for W, _ in layers)
    grads = [None] * len(layers)
    for i in reversed(range(len(layers))):
        W = layers[i][0]
        if i < len(layers) - 1:
            upstream = upstream * (pre_activations[i] > 0)     # (N, out), through the ReLU
        grads[i] = (activations[i].T @ upstream + reg * W,     # (in, N)·(N, out) -> (in, out)
                    upstream.sum(axis=0))                      # (out,)
        upstream = upstream @ W.T                              # (N, in)
    return float(loss), grads
