"""Part 4: diagnose, on hidden synthetic cases."""
from grader.checks import part4
from grader.results import expect


def test_diagnose(student, seed):
    expect(part4.check_diagnose(student, seed))
