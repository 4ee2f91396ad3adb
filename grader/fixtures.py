"""Fixtures of the grading tests, registered by the plugin only for a grading run (`--submission`)."""
from __future__ import annotations

from types import ModuleType

import pytest

from grader.student import Submission


def _run(request: pytest.FixtureRequest):
    from grader.plugin import STATE
    return request.config.stash[STATE]


@pytest.fixture(scope="session")
def student(request: pytest.FixtureRequest) -> Submission:
    """The imported submission (or the reason it could not be imported: every call then fails with it)."""
    return _run(request).load_submission()


@pytest.fixture(scope="session")
def seed(request: pytest.FixtureRequest) -> int:
    """The run's seed: every input the checks draw derives from it."""
    return _run(request).seed


@pytest.fixture(scope="session")
def timed(request: pytest.FixtureRequest) -> bool:
    """Whether part2.vectorized may time the student's code against the reference (off with --grade-no-timing)."""
    return not request.config.getoption("--grade-no-timing")


@pytest.fixture(scope="session")
def reg_factor(request: pytest.FixtureRequest) -> float:
    """The rubric's reg convention: the factor in front of reg·(ΣW1² + ΣW2²) in the loss (0.5 or 1)."""
    return _run(request).rubric.reg_factor


@pytest.fixture(scope="session")
def reference(request: pytest.FixtureRequest) -> ModuleType:
    """The reference solution (instructor only), imported by the grader before the submission was loaded."""
    module = _run(request).reference
    if module is None:
        pytest.skip("the reference solution is not installed (items that need it are left out of a kit's rubric)")
    return module


@pytest.fixture(scope="session")
def sample_values(request: pytest.FixtureRequest) -> dict:
    """The fixed sample problem and its expected values: sample_values.json beside the rubric (the student kit's)."""
    from grader.checks import sample
    path = _run(request).rubric.path.parent / sample.SAMPLE_FILE
    if not path.is_file():
        pytest.skip(f"no {sample.SAMPLE_FILE} beside the rubric (`backprop-grader kit` writes one into the kit)")
    return sample.load_sample(path)
