"""Inputs that make every array a call creates visible to the line-event count, for per-example loops run in C.

`np.array(list(map(W1.T.dot, X)))` loops over the rows of X without running a Python line: map and list iterate in
C. But each step makes arrays (the row X[n], the product W1.T @ X[n]), while vectorized code makes the same number of
arrays for any N. Given TrackedArray inputs (a view of the same data: same values, same numpy semantics), every array
derived from them (a view, a ufunc's or matmul's result, a row from iteration) is a TrackedArray too, and numpy calls
its Python `__array_finalize__` once per array created: the tracer sees the call (grader.checks.vectorization counts
calls of FINALIZE). Measured (tests/test_vectorization.py): the C-level map makes 2 arrays per example; every
vectorized style exactly the same number at N=8 and N=1032.

Not seen: code that first converts its inputs with np.asarray / np.array (a plain ndarray again), and C-level loops
that make no arrays (`map(probs.item, rows, y)`, about as cheap per example as fancy indexing).

This module imports only numpy (it runs where the student's code runs).
"""
from __future__ import annotations

from typing import Any

import numpy as np


class TrackedArray(np.ndarray):
    """An ndarray whose every new instance (view, result, row) calls a Python function numpy reports to tracers."""

    def __array_finalize__(self, obj: Any) -> None:
        return None


#: The code object whose calls count the arrays made from TrackedArray inputs.
FINALIZE = TrackedArray.__array_finalize__.__code__


def tracked(value: Any) -> Any:
    """`value` viewed as a TrackedArray if it is an array, a dict with its arrays so viewed (the parameters), or else
    `value` itself."""
    if isinstance(value, np.ndarray):
        return value.view(TrackedArray)
    if isinstance(value, dict):
        return {key: tracked(item) for key, item in value.items()}
    return value

