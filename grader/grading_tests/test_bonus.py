"""Bonus items that need no reference: the L-layer backward pass against finite differences."""
import pytest

from grader.checks import bonus
from grader.results import expect


@pytest.mark.parametrize("layers", [1, 2, 3, 4])
def test_deep_backward(student, seed, layers):
    expect(bonus.check_deep(student, seed, layers))
