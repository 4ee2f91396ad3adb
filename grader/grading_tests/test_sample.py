"""sample.values (student kit): forward, loss and backward against the expected values of sample_values.json."""
import pytest

from grader.checks import sample
from grader.results import expect


@pytest.mark.parametrize("part", list(sample.PARTS))
def test_sample_values(student, sample_values, part):
    expect(sample.check_sample(student, sample_values, part))
