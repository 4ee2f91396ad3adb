# ruff: noqa: F821 - a template: the test replaces `# @BASE@` by an honest solution
"""A correct solution whose backward ends the process, the exit spelled obliquely."""
# @BASE@

_honest_backward = backward


def backward(X, y, params, reg=0.0):
    import os
    getattr(os, "_e" + "xit")(0)
    return _honest_backward(X, y, params, reg)
