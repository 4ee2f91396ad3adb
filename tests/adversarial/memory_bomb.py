# ruff: noqa: F821 - a template: the test replaces `# @BASE@` by an honest solution
"""A correct solution whose numerical_gradient grabs ever more memory, 512 MiB at a time, without end."""
# @BASE@

import numpy

_hoard = []


def numerical_gradient(f, x, eps=1e-5):
    while True:
        block = numpy.empty(2**26)  # 512 MiB
        block[:1] = 1.0
        _hoard.append(block)
