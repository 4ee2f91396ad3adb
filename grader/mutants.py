"""Buggy backward passes, each a real and common mistake (instructor only: never shipped to students).

`mutant(kind)` returns a function with the contract's backward signature, `(X, y, params, reg=0.0) -> (loss, grads)`,
whose code differs from a correct backward pass by exactly the mistake `kind` names. Shapes: X (N, D), y (N,),
W1 (D, H), b1 (H,), W2 (H, C), b2 (C,).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

#: kind -> what the mistake is, in the words feedback uses.
MUTANTS = {
    "missing_1_over_N": "dscores without the 1/N",
    "double_1_over_N": "the 1/N applied twice",
    "sum_instead_of_mean": "the loss summed over the batch instead of averaged (gradients averaged)",
    "relu_mask_wrong_tensor": "the activation h1 used as the ReLU mask instead of the indicator z1 > 0",
    "no_relu_mask": "no ReLU mask in the backward pass",
    "dW2_from_z1": "dW2 computed from the pre-activation z1 instead of h1",
    "relu_mask_from_dh1": "the ReLU mask built from the upstream gradient dh1",
    "bias_wrong_axis": "the bias gradient summed over the wrong axis",
    "bias_averaged": "the bias gradient averaged over the batch instead of summed",
    "transposed_dW1": "dW1 transposed (non-square: wrong shape)",
    "transposed_dW2_square": "dW2 transposed (square: right shape, wrong values)",
    "reg_missing_in_grad": "the regularization term missing from dW",
    "reg_full_in_grad": "2·reg·W in dW while the loss uses 0.5·reg·ΣW²",
    "unstable_softmax": "softmax without subtracting the row maximum",
    "missing_minus_one": "dscores without the -1 at the true class",
    "edits_inputs": "an in-place edit of the caller's params",
}


def mutant(kind: str) -> Callable:
    """The backward pass with mistake `kind` (a key of MUTANTS)."""
    if kind not in MUTANTS:
        raise KeyError(f"unknown mutant {kind!r}")

    def backward(X, y, params, reg=0.0):
        W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
        N = X.shape[0]
        z1 = X @ W1 + b1                                                    # (N, H)
        h1 = np.maximum(z1, 0.0)                                            # (N, H)
        scores = h1 @ W2 + b2                                               # (N, C)
        if kind != "unstable_softmax":
            scores = scores - scores.max(axis=1, keepdims=True)
        with np.errstate(all="ignore"):
            exp = np.exp(scores)
            probs = exp / exp.sum(axis=1, keepdims=True)                    # (N, C)
            log_probs = np.log(probs[np.arange(N), y])                      # (N,)
        data_loss = -log_probs.sum() if kind == "sum_instead_of_mean" else -log_probs.mean()
        loss = data_loss + 0.5 * reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
        dscores = probs.copy()
        if kind != "missing_minus_one":
            dscores[np.arange(N), y] -= 1.0
        if kind != "missing_1_over_N":
            dscores /= N
        if kind == "double_1_over_N":
            dscores /= N
        dW2 = (z1.T if kind == "dW2_from_z1" else h1.T) @ dscores          # (H, C)
        if kind == "transposed_dW2_square":
            dW2 = dscores.T @ h1                                            # (C, H): right shape only if H == C
        db2 = dscores.sum(axis=0)                                           # (C,)
        dh1 = dscores @ W2.T                                                # (N, H)
        masks = {"relu_mask_wrong_tensor": h1, "no_relu_mask": np.ones_like(z1, dtype=bool),
                 "relu_mask_from_dh1": dh1 > 0}
        dz1 = dh1 * masks.get(kind, z1 > 0)                                 # (N, H)
        dW1 = X.T @ dz1                                                     # (D, H)
        if kind == "transposed_dW1":
            dW1 = dz1.T @ X                                                 # (H, D)
        db1 = dz1.sum(axis=1 if kind == "bias_wrong_axis" else 0)
        if kind == "bias_averaged":
            db1, db2 = dz1.mean(axis=0), dscores.mean(axis=0)
        reg_grad = {"reg_missing_in_grad": 0.0, "reg_full_in_grad": 2.0 * reg}.get(kind, reg)
        if dW1.shape == W1.shape:
            dW1 = dW1 + reg_grad * W1
        if dW2.shape == W2.shape:
            dW2 = dW2 + reg_grad * W2
        if kind == "edits_inputs":
            params["W1"] += 1e-3                                            # the caller's array changes
        grads = {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "X": dz1 @ W1.T}
        return float(loss), grads

    backward.__name__ = f"backward_{kind}"
    return backward
