"""part3.grad_check, with backward passes the grader knows: the reference and the mutants (instructor only)."""
import pytest

from grader.checks import part3_reference
from grader.results import expect

#: Each Part 3 item runs in a fresh worker: nothing handed to grad_check can be kept for another item.
pytestmark = pytest.mark.fresh_worker


def test_grad_check_tolerance(student, reference, seed):
    expect(part3_reference.check_tolerance(student, reference, seed))


def test_grad_check_accepts_correct(student, reference, seed):
    expect(part3_reference.check_accepts_correct(student, reference, seed))


def test_grad_check_flags_mutants(student, reference, seed):
    expect(part3_reference.check_flags_mutants(student, reference, seed))
