"""Class-based submissions (CS231n style): the contract's functions, built from the student's class.

For a rubric with `class_api`, forward, backward and softmax_cross_entropy are functions of this module's making
that construct the student's object (its constructor arguments from D, H, C and reg), set the grader's weights on
it (in its params dict or as attributes), and call its method: method(X) for the scores, method(X, y[, reg=reg])
for (loss, grads). softmax_cross_entropy(scores, y) goes through the same method on a network made to output
exactly `scores`: X = I, W1 = I, b1 = 0 (so h1 = I), W2 = scores, b2 = 0; then dscores = grads["W2"].
They run student code only through the student's own class; grader.student wraps every call as usual.
"""
from __future__ import annotations

from types import ModuleType
from typing import Callable

import numpy as np

from grader.contract import PARAM_NAMES
from grader.results import StudentCodeError
from grader.rubric import ClassApi


def class_functions(module: ModuleType, api: ClassApi, filename: str) -> dict[str, Callable]:
    """{"forward", "backward", "softmax_cross_entropy"}: the contract's functions over the student's class."""
    if not isinstance(getattr(module, api.name, None), type):
        raise StudentCodeError(f"{filename} has no class `{api.name}`.", cause="missing")
    cls = getattr(module, api.name)

    def build(params: dict, reg: float):
        (D, H), C = params["W1"].shape, params["W2"].shape[1]
        sizes = {"D": D, "H": H, "C": C, "reg": reg}
        net = cls(**{keyword: sizes.get(value, value) for keyword, value in api.constructor.items()})
        if api.weights == "attributes":
            for name in PARAM_NAMES:
                _put(net.__dict__, name, params[name])
        else:
            store = getattr(net, api.weights, None)
            if not isinstance(store, dict):
                raise StudentCodeError(f"`{api.name}` has no dict `{api.weights}` holding W1, b1, W2, b2 (if it "
                                       f"keeps them as attributes, the rubric needs `weights: attributes`).",
                                       cause="missing")
            for name in PARAM_NAMES:
                _put(store, name, params[name])
        return getattr(net, api.method)

    def forward(X, params):
        return build(params, 0.0)(X), None

    def backward(X, y, params, reg=0.0):
        method = build(params, reg)
        return method(X, y=y, reg=reg) if api.reg == "argument" else method(X, y=y)

    def softmax_cross_entropy(scores, y):
        N, C = scores.shape
        eye = np.eye(N)
        params = {"W1": eye.copy(), "b1": np.zeros(N), "W2": scores, "b2": np.zeros(C)}
        loss, grads = backward(eye, y, params, 0.0)
        return loss, grads["W2"] if isinstance(grads, dict) and "W2" in grads else grads
    softmax_cross_entropy.through_backward = True  # O(N²) by construction: part2.vectorized judges backward instead
    for function in (forward, softmax_cross_entropy):  # the student's own code on the loss's path (the D×H count)
        function.student_function = getattr(cls, api.method, None)

    return {"forward": forward, "backward": backward, "softmax_cross_entropy": softmax_cross_entropy}


def _put(store: dict, name: str, value: np.ndarray) -> None:
    """Set a weight: written into the object's own array when it has one of that shape (so an alias such as
    self.W1 = self.params['W1'] sees it too), else bound to the name."""
    current = store.get(name)
    if isinstance(current, np.ndarray) and current.shape == value.shape and current.dtype == np.float64 \
            and current.flags.writeable:
        current[...] = value
    else:
        store[name] = value
