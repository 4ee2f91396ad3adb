"""Part 2 without the reference: stability, regularization, vectorization."""
import pytest

from grader.checks import part2, vectorization
from grader.results import expect


@pytest.mark.parametrize("part", ["loss", "dscores"])
def test_stability_large_offsets(student, seed, part):
    expect(part2.check_large_offsets(student, seed, part))


def test_stability_large_gaps(student, seed):
    expect(part2.check_large_gaps(student, seed))


def test_regularization(student, seed, reg_factor):
    expect(part2.check_regularization(student, seed, reg_factor))


@pytest.mark.parametrize("role", ["forward", "softmax_cross_entropy", "backward"])
def test_vectorized(student, seed, role):
    expect(vectorization.check_vectorized(student, role, seed))
