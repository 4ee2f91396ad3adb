"""Part 2 against the reference solution (instructor only)."""
import pytest

from grader.checks import part2_reference, vectorization
from grader.results import expect


def test_forward_matches_reference(student, reference, seed):
    expect(part2_reference.check_forward(student, reference, seed))


def test_loss_matches_reference(student, reference, seed):
    expect(part2_reference.check_loss(student, reference, seed))


def test_backward_matches_reference(student, reference, seed):
    expect(part2_reference.check_backward(student, reference, seed))


def test_dX_matches_reference(student, reference, seed):
    expect(part2_reference.check_dX(student, reference, seed))


@pytest.mark.parametrize("role", ["forward", "softmax_cross_entropy", "backward"])
def test_vectorized_with_timing(student, reference, seed, timed, role):
    expect(vectorization.check_vectorized(student, role, seed, reference, timed))
