# ruff: noqa: F821 - a template: the test replaces `# @BASE@` by an honest solution
"""A buggy solution (no 1/N in dscores) that patches NumPy's comparisons to always agree, hoping the grader uses
the same NumPy."""
# @BASE@

import numpy
import numpy.testing

numpy.allclose = lambda *a, **k: True
numpy.isclose = lambda a, b, *r, **k: numpy.ones(numpy.broadcast(a, b).shape, dtype=bool)
numpy.testing.assert_allclose = lambda *a, **k: None
numpy.testing.assert_array_almost_equal = lambda *a, **k: None
numpy.testing.assert_equal = lambda *a, **k: None
