# ruff: noqa: F821 - a template: the test replaces `# @BASE@` by an honest solution
"""A solution whose softmax shifts its input in place (a bug the grader charges). When softmax_cross_entropy returns,
it leaves numpy.array_equal (and the other comparisons) patched to always agree, so that the edit looks like no
edit to whatever compares arrays next in this process; every other function restores them first, so that nothing
else is disturbed."""
# @BASE@

import numpy
import numpy.testing

_originals = {name: getattr(numpy, name) for name in ("array_equal", "array_equiv", "allclose")}


def _patch():
    for name in _originals:
        setattr(numpy, name, lambda *a, **k: True)
    numpy.testing.assert_array_equal = lambda *a, **k: None


def _restore():
    for name, function in _originals.items():
        setattr(numpy, name, function)


def _restoring(function):
    def wrapper(*args, **kwargs):
        _restore()
        return function(*args, **kwargs)
    return wrapper


_honest_loss = softmax_cross_entropy
shapes, forward, backward, numerical_gradient, rel_error, grad_check, diagnose = map(
    _restoring, (shapes, forward, backward, numerical_gradient, rel_error, grad_check, diagnose))


def softmax_cross_entropy(scores, y):
    _restore()
    try:
        return _honest_loss(scores, y)
    finally:
        _patch()
