"""Part 2 against the reference solution (instructor only)."""
from grader.checks import part2_reference
from grader.results import expect


def test_forward_matches_reference(student, reference, seed):
    expect(part2_reference.check_forward(student, reference, seed))


def test_loss_matches_reference(student, reference, seed):
    expect(part2_reference.check_loss(student, reference, seed))


def test_backward_matches_reference(student, reference, seed):
    expect(part2_reference.check_backward(student, reference, seed))


def test_dX_matches_reference(student, reference, seed):
    expect(part2_reference.check_dX(student, reference, seed))
