"""part4.diagnose on the gradients of real bugs (instructor only)."""
from grader.checks import part4_reference
from grader.results import expect


def test_diagnose_on_real_bugs(student, reference, seed):
    expect(part4_reference.check_diagnose_real(student, reference, seed))
