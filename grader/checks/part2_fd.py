"""part2.backward_fd: backward's gradients against the grader's own central differences of the student's loss (so
not in the student kit: it imports grader.checks.solution)."""
from __future__ import annotations

import numpy as np

from grader.checks import calls, vectorization
from grader.checks.causes import Probe, explain_gradient_mismatch
from grader.checks.solution import central_differences
from grader.compare import FD_TOL, looks_float32
from grader.problems import random_problem
from grader.results import CheckResult, failed, passed
from grader.seeding import rng_for
from grader.student import Submission


def check_backward_fd(student: Submission, seed: int) -> CheckResult:
    """backward's gradients (reg = 0) agree with central differences of backward's own loss, at N=1 and N=6, and
    are analytic (a backward that is itself finite differences would agree trivially)."""
    numerical = vectorization.check_analytic(student, seed)
    if numerical:
        return numerical
    rng = rng_for(seed, "part2.backward_fd")
    probes = []
    for N in (1, 6):
        problem = random_problem(rng, N, 4, 6, 3, both_states=2 if N == 1 else 0)
        loss, grads = calls.loss_and_grads(student, problem)
        if not np.isfinite(loss):
            return failed(f"backward's loss is {loss} on ordinary inputs (N={N}).", "not_finite")
        losses: list = []  # kept to see whether they are float32

        def losses_at(problems: list) -> list:
            losses[:] = calls.backward_losses(student, problems)
            return losses

        numeric = central_differences(losses_at, problem.copy())
        if looks_float32(losses):
            return failed("backward's loss has float32 precision (every value is exactly a float32): finite "
                          "differences of it are rounding noise. The exercise requires float64.", "float32_precision")
        if not any(np.any(g) for g in numeric.values()):
            return failed(f"backward's loss does not change when any parameter changes (N={N}): gradients of a "
                          f"constant say nothing. The loss is the mean cross-entropy of the network's scores.",
                          "constant_loss")
        probes.append(Probe(problem, grads, numeric, FD_TOL, own_loss=True))
    problem_found = explain_gradient_mismatch(
        probes, "your gradients disagree with central differences of your own loss", "the numerical gradient")
    return problem_found or passed()
