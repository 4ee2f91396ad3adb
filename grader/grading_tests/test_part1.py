"""Part 1: shapes."""
from grader.checks import part1
from grader.results import expect


def test_shapes(student, seed):
    expect(part1.check_shapes(student, seed))
