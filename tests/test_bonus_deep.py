"""bonus.deep: the L-layer backward pass, judged against central differences of its own loss for L = 1 to 4."""
from __future__ import annotations

import pytest

from conftest import REPO
from grader.checks import bonus
from grader.results import CheckResult, StudentCodeError

REFERENCE = (REPO / "reference" / "backprop.py").read_text()


def outcome(student, seed, L) -> CheckResult:
    try:
        return bonus.check_deep(student, seed, L)
    except StudentCodeError as error:
        return error.result


def variant(old: str, new: str) -> str:
    assert REFERENCE.count(old) == 1
    return REFERENCE.replace(old, new)


@pytest.mark.parametrize("L", [1, 2, 3, 4])
@pytest.mark.parametrize("seed", [0, 1])
def test_reference_passes_every_depth(submission_from, seed, L):
    assert outcome(submission_from(REFERENCE), seed, L) == CheckResult(1.0, "")


#: name -> (replaced, replacement, depths that fail, words in the feedback).
WRONG = {
    # the ReLU's mask also applied after the last layer (to the scores' gradient)
    "mask_after_last_layer": ("        if i < len(layers) - 1:\n            upstream = upstream",
                              "        if True:\n            upstream = upstream", {1, 2, 3, 4}, "layer"),
    # reg·W forgotten in every layer's dW
    "no_reg_in_dW": ("        grads[i] = (activations[i].T @ upstream + reg * W,",
                     "        grads[i] = (activations[i].T @ upstream,", {1, 2, 3, 4}, "dW"),
    # the gradient passed down without the weights' transpose for layers below the top one: wrong from L = 2
    "upstream_not_through_W": ("        upstream = upstream @ W.T ", "        upstream = upstream @ np.ones_like(W).T ",
                               {2, 3, 4}, "layer 1"),
}


@pytest.mark.parametrize("name", WRONG)
def test_wrong_deep_backward_fails_exactly_its_depths(submission_from, name):
    old, new, failing, words = WRONG[name]
    student = submission_from(variant(old, new))
    for L in (1, 2, 3, 4):
        result = outcome(student, 0, L)
        if L in failing:
            assert (result.fraction, result.cause) == (0.0, "deep_wrong"), (L, result)
            assert words in result.feedback and f"L={L}" in result.feedback
        else:
            assert result == CheckResult(1.0, ""), (L, result)


def test_not_attempted_and_wrong_shapes(submission_from):
    result = outcome(submission_from("import numpy as np\n"), 0, 2)
    assert (result.fraction, result.cause) == (0.0, "not_attempted")
    reversed_grads = submission_from(variant("    return float(loss), grads\n",
                                             "    return float(loss), grads[::-1]\n"))
    result = outcome(reversed_grads, 0, 2)  # layer 1's pair is layer 2's: (5, 3) where (4, 5) belongs
    assert (result.fraction, result.cause) == (0.0, "wrong_shape")
    assert "layer 1's dW from `deep_backward` has shape (5, 3), expected (4, 5)" in result.feedback


NUMERICAL_DEEP = REFERENCE + '''

_analytic_deep = deep_backward


def deep_backward(X, y, layers, reg=0.0):
    """Central differences of the loss, entry by entry: right to 1e-8, and numerical."""
    loss = _analytic_deep(X, y, layers, reg)[0]
    work = [(W.copy(), b.copy()) for W, b in layers]
    grads = []
    for W, b in work:
        pair = []
        for param in (W, b):
            grad = np.zeros_like(param)
            for i in np.ndindex(param.shape):
                saved = param[i]
                param[i] = saved + 1e-5
                plus = _analytic_deep(X, y, work, reg)[0]
                param[i] = saved - 1e-5
                minus = _analytic_deep(X, y, work, reg)[0]
                param[i] = saved
                grad[i] = (plus - minus) / 2e-5
            pair.append(grad)
        grads.append(tuple(pair))
    return loss, grads
'''


def test_a_numerical_deep_backward_earns_no_depth(submission_from):
    """Finite differences agree with themselves: the count of line events against D·H tells them apart."""
    student = submission_from(NUMERICAL_DEEP)
    for L in (1, 4):
        result = outcome(student, 0, L)
        assert (result.fraction, result.cause) == (0.0, "numerical_not_analytic"), (L, result)
        assert "`deep_backward` computes its gradients numerically, not analytically" in result.feedback
