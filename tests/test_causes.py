"""grader.checks.causes on gradients made in process (no grading run): a mismatch is named by its signature, and a
second mistake that shows only on a larger probe is named too."""
from __future__ import annotations

import numpy as np

from grader.checks.causes import Probe, explain_gradient_mismatch
from grader.compare import REFERENCE_TOL
from grader.mutants import mutant
from grader.problems import random_problem
from reference import backprop as reference


def probes_of(backward, scale_by_N: bool = False) -> list:
    """`backward`'s gradients against the reference's at N=1 and N=7 (as part2.backward_reference probes), each
    multiplied by N when `scale_by_N` (the 1/N missing from the dscores a backward takes from its softmax)."""
    rng = np.random.default_rng(5)
    probes = []
    for N in (1, 7):
        problem = random_problem(rng, N, 5, 6, 4, both_states=2 if N == 1 else 0)
        p, q = problem.copy(), problem.copy()
        _, grads = backward(p.X, p.y, p.params, 0.0)
        _, expected = reference.backward(q.X, q.y, q.params, 0.0)
        grads = {k: v * N if scale_by_N else v for k, v in grads.items()}
        probes.append(Probe(problem, grads, expected, REFERENCE_TOL))
    return probes


def test_the_samples_two_mistakes_are_both_named():
    """examples/backprop.py: the ReLU mask from dh1 (alone at N=1) and dscores without the 1/N (only at N=7)."""
    found = explain_gradient_mismatch(probes_of(mutant("relu_mask_from_dh1"), scale_by_N=True), "differ", "the ref")
    assert found.cause == "relu_mask"
    first, second = found.feedback.split(". A second mistake: ")
    assert first.startswith("differ: with N=1 only layer 1 is wrong, and grads['b1'] (which is dz1 at N=1) is ")
    assert "the ReLU mask is wrong" in first and first.endswith("entries are off)")
    assert second == ("with N=7 layer 2's gradients (W2, b2), which the first does not reach, are 7× too large: the "
                      "1/N of the mean is missing.")


def test_the_other_layer_is_looked_at_after_a_layer_2_signature():
    found = explain_gradient_mismatch(probes_of(mutant("dW2_from_z1"), scale_by_N=True), "differ", "the ref")
    assert found.cause == "layer2"
    assert found.feedback.endswith(". A second mistake: with N=7 layer 1's gradients (W1, b1), which the first does "
                                   "not reach, are 7× too large: the 1/N of the mean is missing.")


def test_one_mistake_alone_names_no_second():
    for kind in ("relu_mask_from_dh1", "dW2_from_z1"):
        found = explain_gradient_mismatch(probes_of(mutant(kind)), "differ", "the ref")
        assert found.cause in ("relu_mask", "layer2") and "second mistake" not in found.feedback, found.feedback
