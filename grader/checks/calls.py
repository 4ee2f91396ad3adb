"""Typed calls into the student's Part 2 functions: call on fresh copies of the inputs, validate what comes back.

Shapes: X (N, D), y (N,), params {"W1": (D, H), "b1": (H,), "W2": (H, C), "b2": (C,)}, scores (N, C).
"""
from __future__ import annotations

import numpy as np

from grader import outputs
from grader.contract import PARAM_NAMES, param_shapes
from grader.problems import Problem
from grader.results import StudentCodeError
from grader.student import Submission

PARAM_LABELS = {"W1": "(D, H)", "b1": "(H,)", "W2": "(H, C)", "b2": "(C,)", "X": "(N, D)"}


def forward_scores(student: Submission, problem: Problem) -> np.ndarray:
    """The scores (N, C) from the student's forward (the one item that judges forward: in-place edits fail it)."""
    p = problem.copy()
    N, _, _, C = p.sizes
    result = student.call("forward", p.X, p.params, keep=(1,))  # keep: the cache stays in the worker
    scores, _cache = outputs.unpack_pair(result, "`forward`", "(scores, cache)")
    return outputs.float64_array(scores, "the scores returned by `forward`", (N, C), "(N, C)")


def loss_and_dscores(student: Submission, scores: np.ndarray, y: np.ndarray,
                     judged: bool = True) -> tuple[float, np.ndarray]:
    """(loss, dscores (N, C)) from the student's softmax_cross_entropy, on copies of scores and y.

    judged: this call judges the function's output itself (part2.loss): in-place edits fail it and the loss must
    be a number as the contract says. Otherwise a size-1 array is read as a number and edits are not checked.
    """
    result = student.call("softmax_cross_entropy", scores.copy(), y.copy(), guard=judged)
    loss, dscores = outputs.unpack_pair(result, "`softmax_cross_entropy`", "(loss, dscores)")
    loss = outputs.number(loss, "the loss returned by `softmax_cross_entropy`", strict=judged)
    return loss, outputs.float64_array(dscores, "dscores returned by `softmax_cross_entropy`", scores.shape, "(N, C)")


def backward_outputs(student: Submission, problem: Problem, reg: float = 0.0,
                     judged: bool = True) -> tuple[float, object]:
    """(loss, grads as returned) from the student's backward on fresh copies; the loss is validated.

    judged: as in loss_and_dscores (part2.backward_reference and part2.backward_fd judge backward itself).
    """
    p = problem.copy()
    loss, grads = outputs.unpack_pair(student.call("backward", p.X, p.y, p.params, reg, guard=judged), "`backward`",
                                      "(loss, grads)")
    return outputs.number(loss, "the loss returned by `backward`", strict=judged), grads


def valid_grads(grads: object, problem: Problem, keys: tuple = PARAM_NAMES) -> dict:
    """grads[k] validated for each k in `keys` (parameter names, and "X" for the optional input gradient)."""
    N, D, H, C = problem.sizes
    shapes = {**param_shapes(D, H, C), "X": (N, D)}
    if "X" in keys and isinstance(grads, dict) and "X" not in grads:
        raise StudentCodeError("not attempted: backward's grads have no 'X' (optional: add the input gradient dX, "
                               "shaped like X).", cause="not_attempted")
    return outputs.gradient_dict(grads, "`backward`", {k: shapes[k] for k in keys}, PARAM_LABELS)


def loss_and_grads(student: Submission, problem: Problem, reg: float = 0.0,
                   keys: tuple = PARAM_NAMES, judged: bool = True) -> tuple[float, dict]:
    """(loss, grads) from the student's backward, validating only the gradients in `keys`: a check validates
    what it judges, so a malformed gradient is charged to the items that judge it."""
    loss, grads = backward_outputs(student, problem, reg, judged)
    return loss, valid_grads(grads, problem, keys)


def backward_losses(student: Submission, problems: list[Problem], reg: float = 0.0) -> list[float]:
    """Only the losses from the student's backward at each of `problems` (for finite differences: one batch; the
    gradients stay in the worker)."""
    results = student.call_many("backward", [(p.X, p.y, p.params, reg) for p in problems], guard=False, keep=(1,))
    return [outputs.number(outputs.unpack_pair(result, "`backward`", "(loss, grads)")[0],
                           "the loss returned by `backward`", strict=False) for result in results]
