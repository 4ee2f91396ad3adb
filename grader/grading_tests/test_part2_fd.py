"""part2.backward_fd: gradients vs the grader's own central differences of the student's loss (instructor only)."""
from grader.checks import part2_fd
from grader.results import expect


def test_backward_matches_finite_differences(student, seed):
    expect(part2_fd.check_backward_fd(student, seed))
