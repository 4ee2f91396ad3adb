"""Part 3 without the reference: numerical_gradient observed directly, and rel_error on known values."""
import pytest

from grader.checks import part3
from grader.results import expect

#: Each Part 3 item runs in a fresh worker: nothing handed to grad_check can be kept for another item.
pytestmark = pytest.mark.fresh_worker


def test_numerical_gradient_accuracy(student, seed):
    expect(part3.check_accuracy(student, seed))


def test_numerical_gradient_is_central(student, seed):
    expect(part3.check_convergence(student, seed))


@pytest.mark.parametrize("aspect", ["one_at_a_time", "both_directions", "restores", "restores_on_exception",
                                    "own_array"])
def test_perturbation(student, seed, aspect):
    expect(part3.check_perturbation(student, seed, aspect))


def test_rel_error(student, seed):
    expect(part3.check_rel_error(student, seed))
