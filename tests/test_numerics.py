"""The grader's numerical building blocks: tolerances that never judge near-zero entries by relative error alone,
messages that show the worst entry, inputs away from the ReLU kink, and the reference's own consistency."""
from __future__ import annotations

import numpy as np
import pytest

from grader.checks.solution import central_differences, relative_error
from grader.compare import FD_TOL, REFERENCE_TOL, find_mismatch
from grader.problems import KINK_MARGIN, random_problem
from reference import backprop as reference


def test_near_zero_entries_are_judged_against_the_arrays_scale():
    expected = np.array([1.0, 1e-14, -0.5])
    actual = expected + np.array([0.0, 3e-13, 0.0])  # relative error 30 at a ~0 entry, absolutely negligible
    assert find_mismatch(actual, expected, REFERENCE_TOL) is None
    assert find_mismatch(expected * (1 + 1e-5), expected, REFERENCE_TOL) is not None


def test_mismatch_shows_the_worst_entry_and_counts():
    expected = np.arange(12.0).reshape(3, 4) + 1
    actual = expected.copy()
    actual[2, 1] += 0.5
    actual[0, 0] += 0.01
    mismatch = find_mismatch(actual, expected, REFERENCE_TOL)
    assert mismatch.index == (2, 1) and mismatch.n_bad == 2 and mismatch.size == 12
    text = mismatch.describe("dW1")
    assert text.startswith("dW1[2, 1] is 10.5 but expected is 10 (off by 0.5, allowed")
    assert text.endswith("2 of 12 entries are off")


def test_non_finite_entries_are_always_the_worst():
    expected = np.ones(4)
    actual = np.array([1.0, 2.0, np.nan, 1.0])
    mismatch = find_mismatch(actual, expected, REFERENCE_TOL)
    assert mismatch.index == (2,) and mismatch.n_bad == 2


def test_grader_relative_error_matches_the_contract():
    assert relative_error(1e-6, 2e-6) == pytest.approx(1 / 3)
    assert relative_error(0.0, 0.0) == 0.0
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_error(np.array([1.0, np.nan]), np.array([1.0, 1.0])) == np.inf
    assert relative_error(np.inf, np.inf) == np.inf


@pytest.mark.parametrize("seed", range(5))
def test_problems_keep_away_from_the_relu_kink(seed):
    problem = random_problem(np.random.default_rng(seed), 8, 5, 10, 4, both_states=2)
    z1 = problem.z1()
    assert np.min(np.abs(z1)) >= KINK_MARGIN
    assert np.all((z1 > 0).sum(axis=1) >= 2) and np.all((z1 < 0).sum(axis=1) >= 2)
    assert problem.X.dtype == np.float64 and problem.y.dtype.kind == "i"


def test_reference_agrees_with_central_differences_within_the_fd_tolerance():
    """FD_TOL is justified by this: the reference's analytic gradients sit inside it, a 1e-3 bug does not."""
    rng = np.random.default_rng(0)
    for N in (1, 6):
        problem = random_problem(rng, N, 4, 6, 3)
        numeric = central_differences(lambda ps: [reference.backward(p.X, p.y, p.params)[0] for p in ps],
                                      problem.copy())
        _, analytic = reference.backward(problem.X, problem.y, problem.params)
        for name in numeric:
            assert find_mismatch(analytic[name], numeric[name], FD_TOL) is None
            assert find_mismatch(analytic[name] * (1 + 1e-3), numeric[name], FD_TOL) is not None


def test_reference_softmax_is_stable_and_exact_under_row_shifts():
    scores = np.array([[1e4, 1e4 - 1, 1e4 - 2], [-1e4, -1e4 + 1, -1e4 + 5]])
    loss, dscores = reference.softmax_cross_entropy(scores, np.array([0, 1]))
    shifted_loss, shifted_dscores = reference.softmax_cross_entropy(scores - scores[:, :1], np.array([0, 1]))
    assert np.isfinite(loss) and loss == pytest.approx(shifted_loss, rel=1e-12)
    np.testing.assert_allclose(dscores, shifted_dscores, rtol=1e-12)
    far, _ = reference.softmax_cross_entropy(np.array([[0.0, 1000.0]]), np.array([0]))
    assert far == pytest.approx(1000.0)
