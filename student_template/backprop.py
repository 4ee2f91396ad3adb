"""Backpropagation by hand, in NumPy, for a two-layer classifier.

    X (N, D) --Affine W1 (D, H), b1 (H,)--> z1 (N, H) --ReLU--> h1 (N, H)
             --Affine W2 (H, C), b2 (C,)--> scores (N, C) --softmax--> probs (N, C) --> mean cross-entropy

N examples, D inputs, H hidden units, C classes. `params` is a dict {"W1", "b1", "W2", "b2"} of float64 arrays,
X is (N, D) float64 and y is (N,) int with labels in 0..C-1. Everything is float64. No Python loop over the N examples
in forward, softmax_cross_entropy or backward. Never modify the caller's arrays in place (make copies first).

Fill in every function; each one raises NotImplementedError until you do. Check your work by running `pytest` in
the student kit's folder (its README says how), or `backprop-grader grade backprop.py` where the grader is installed.

Two answers are written, and graded by hand: the derivation of the gradients (Part 1) and the debugging write-up
(Part 4: two bugs, each with its symptom, how you localised it and the fix). Put them in a file writeup.md beside
this one and hand in both (the folder, or a zip of it), or write them here, in place of this docstring. A docstring
left as the template's is not read.
"""
import numpy as np  # noqa: F401 - the exercise is written in NumPy


# ------------------------------------------------------------------------------------------------------ Part 1
def shapes(N, D, H, C):
    """Return a dict mapping each of "X", "W1", "b1", "z1", "h1", "W2", "b2", "scores", "probs", "dscores",
    "dW2", "db2", "dh1", "dz1", "dW1", "db1", "dX" to its shape, a tuple of ints, e.g. {"X": (N, D), ...}.

    z1 = X·W1 + b1, h1 = ReLU(z1), scores = h1·W2 + b2; a "d" name is the gradient of the loss with respect to
    that tensor.
    """
    raise NotImplementedError


# ------------------------------------------------------------------------------------------------------ Part 2
def forward(X, params):
    """Forward pass.

    X: (N, D) float64; params: {"W1": (D, H), "b1": (H,), "W2": (H, C), "b2": (C,)}.
    Returns (scores, cache): scores (N, C) float64; cache is anything your backward pass wants to keep.
    """
    raise NotImplementedError


def softmax_cross_entropy(scores, y):
    """Softmax followed by cross-entropy, averaged over the batch.

    scores: (N, C) float64; y: (N,) int.
    Returns (loss, dscores): loss a float, the MEAN cross-entropy over the N examples; dscores (N, C), the gradient
    of that mean loss with respect to scores. Must stay finite for very large or very negative scores.
    """
    raise NotImplementedError


def backward(X, y, params, reg=0.0):
    """Loss and gradients of the whole network.

    X: (N, D); y: (N,); params as in forward; reg: L2 strength.
    loss = mean cross-entropy + 0.5 * reg * (sum(W1**2) + sum(W2**2)).
    Returns (loss, grads): loss a float; grads {"W1": (D, H), "b1": (H,), "W2": (H, C), "b2": (C,)}, each the
    gradient of loss with respect to that parameter. Optional bonus: grads["X"] (N, D), the input gradient.
    """
    raise NotImplementedError


# ------------------------------------------------------------------------------------------------------ Part 3
def numerical_gradient(f, x, eps=1e-5):
    """Central-difference gradient of f at x.

    f: a function of x returning a float; x: float64 array of any shape; eps: step size.
    Perturb x IN PLACE, one entry at a time: x[i] + eps, then x[i] - eps, and put the saved original value back,
    so that x is exactly unchanged afterwards, also if f raises. Returns an array shaped like x.
    """
    raise NotImplementedError


def rel_error(a, b):
    """Relative error max(|a - b| / (|a| + |b|)) over all entries; 0 where both are 0.

    a, b: numbers or arrays of the same shape. Returns a float.
    """
    raise NotImplementedError


def grad_check(backward_fn, X, y, params, reg=0.0, eps=1e-5):
    """Compare backward_fn's analytic gradients with numerical_gradient of backward_fn's OWN loss.

    backward_fn has the signature of backward. Returns {"W1": err, "b1": err, "W2": err, "b2": err}, each the
    rel_error for that parameter, or float("inf") if its analytic gradient has the wrong shape or non-finite
    values. Must leave params and X unchanged.
    """
    raise NotImplementedError


# The rel_error below which grad_check counts a gradient as correct. Set it to a float in [1e-7, 1e-4]: float64
# central differences are not more accurate than about 1e-7, and above 1e-4 real bugs can pass.
GRAD_CHECK_TOL = None


# ------------------------------------------------------------------------------------------------------ Part 4
def diagnose(analytic, numeric):
    """Name the signature of a gradient mismatch.

    analytic, numeric: dicts {"W1", "b1", "W2", "b2"} of arrays (numeric is the true gradient).
    Returns the first label that applies, in this order:
      "shape"  an analytic gradient's shape differs from its parameter's
      "nan"    an analytic value is nan or inf
      "ok"     every parameter matches
      "scale"  every parameter mismatches by one common factor c (c not 0 or 1)
      "layer1" only W1 and/or b1 mismatch
      "layer2" only W2 and/or b2 mismatch
      "other"  anything else
    """
    raise NotImplementedError


# ------------------------------------------------------------------------------------------------------ Bonus
def deep_backward(X, y, layers, reg=0.0):
    """Optional bonus: loss and gradients of an L-layer network.

    layers: a list of (W, b) pairs, W (in, out) and b (out,), from the input (in = D) to the scores (out = C); ReLU
    between layers, none after the last; softmax cross-entropy on top; loss + 0.5 * reg * (sum of every W**2).
    Returns (loss, grads) with grads a list of (dW, db) pairs shaped like layers. Delete this function if you skip it.
    """
    raise NotImplementedError
