"""Part 1: the shape of every tensor of the forward and backward pass."""
from __future__ import annotations

import numbers

import numpy as np

from grader.checks.solution import tensor_shapes
from grader.results import CheckResult
from grader.seeding import rng_for
from grader.student import Submission


def _as_shape(value) -> tuple | None:
    if isinstance(value, (tuple, list)) and all(isinstance(v, numbers.Integral) and not isinstance(v, bool)
                                                 for v in value):
        return tuple(int(v) for v in value)
    return None


def _symbolic(shape: tuple, sizes: dict) -> str:
    names = {size: name for name, size in sizes.items()}
    return "(" + ", ".join(names.get(s, str(s)) for s in shape) + (",)" if len(shape) == 1 else ")")


def check_shapes(student: Submission, seed: int) -> CheckResult:
    """Credit per correct entry of shapes(N, D, H, C) for four distinct sizes drawn from the seed (so a swapped pair
    of dimensions always shows, and no answer can be hard-coded); feedback names the wrong ones symbolically."""
    values = [int(v) for v in rng_for(seed, "part1.shapes").choice(np.arange(2, 30), size=4, replace=False)]
    sizes = dict(zip("NDHC", values))
    answer = student.call("shapes", *values)
    expected = tensor_shapes(*values)
    if not isinstance(answer, dict):
        return CheckResult(0.0, f"shapes must return a dict, got a {type(answer).__name__}.", "bad_output")
    wrong = []
    for name, shape in expected.items():
        given = _as_shape(answer.get(name))
        if given != shape:
            shown = _symbolic(given, sizes) if given is not None else repr(answer.get(name, "nothing"))
            wrong.append(f"{name} should be {_symbolic(shape, sizes)}, you gave {shown}")
    if not wrong:
        return CheckResult(1.0, "")
    hint = " (a gradient always has the shape of the tensor it is the gradient of)"
    return CheckResult(1 - len(wrong) / len(expected),
                       f"{len(wrong)} of {len(expected)} shapes are wrong: " + "; ".join(wrong) + hint, "shapes")
