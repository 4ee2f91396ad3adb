"""Name the likely mistake behind a gradient mismatch from its signature, and only when the evidence shows it.

Input: the student's gradients and the expected ones (from the reference or from finite differences) on one or more
probes of different batch sizes N. Signatures, in the order they are tried:
  - every parameter off by one common factor: N (1/N missing), 1/N (1/N applied twice), -1, or another constant;
  - a square weight gradient equal to the transpose of the right one;
  - only the bias gradients off, by 1/N (averaged instead of summed);
  - only layer 1 off, and on the N=1 probe only for hidden units whose ReLU is off (the ReLU mask);
  - only layer 1, or only layer 2, off.
Otherwise the feedback says that no known signature fits and shows the worst entry.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from grader.compare import Tolerance, find_mismatch
from grader.contract import PARAM_NAMES
from grader.problems import Problem
from grader.results import CheckResult, failed

LAYER1, LAYER2, BIASES = {"W1", "b1"}, {"W2", "b2"}, {"b1", "b2"}
#: A factor counts as "the" factor when every parameter fits it this well; bugs that are not pure factors miss by far.
FACTOR_TOL = 1e-6


@dataclass
class Probe:
    """One comparison: the problem, the student's gradients and the expected ones (dicts by parameter name)."""

    problem: Problem
    actual: dict
    expected: dict
    tol: Tolerance

    @property
    def N(self) -> int:
        return self.problem.X.shape[0]

    def mismatched(self) -> dict:
        """{param: Mismatch} for the parameters that are off."""
        found = {k: find_mismatch(self.actual[k], self.expected[k], self.tol) for k in PARAM_NAMES}
        return {k: m for k, m in found.items() if m is not None}


def common_factor(actual: np.ndarray, expected: np.ndarray) -> Optional[float]:
    """c when actual ≈ c·expected (least squares, then checked entrywise), else None."""
    norm = float(np.vdot(expected, expected))
    if norm == 0.0 or not np.all(np.isfinite(actual)):
        return None
    c = float(np.vdot(actual, expected)) / norm
    scale = float(np.max(np.abs(actual))) + 1e-300
    return c if float(np.max(np.abs(actual - c * expected))) <= FACTOR_TOL * scale else None


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= FACTOR_TOL * max(abs(a), abs(b))


def _factor_cause(probe: Probe, names: Sequence[str]) -> Optional[tuple[float, str, str]]:
    """(factor, cause, words) when every parameter in `names` is off by one common factor on this probe."""
    factors = [common_factor(probe.actual[k], probe.expected[k]) for k in names]
    if any(f is None for f in factors) or not all(_close(f, factors[0]) for f in factors):
        return None
    c, N = factors[0], probe.N
    if N > 1 and _close(c, N):
        return c, "missing_1_over_N", f"{N}× too large: the 1/N of the mean is missing"
    if N > 1 and _close(c, 1.0 / N):
        return c, "double_1_over_N", f"{N}× too small: the 1/N is applied twice"
    if _close(c, -1.0):
        return c, "sign_flipped", "of the wrong sign"
    return c, "constant_factor", f"{c:.4g}× the expected value"


def _relu_inactive_only(probe: Probe) -> bool:
    """On an N=1 probe, db1 is dz1 itself: are its wrong entries exactly at units whose ReLU is off?"""
    if probe.N != 1:
        return False
    inactive = probe.problem.z1()[0] <= 0
    wrong = np.abs(probe.actual["b1"] - probe.expected["b1"]) > probe.tol.rtol * np.abs(probe.expected["b1"]) + 1e-9
    return bool(wrong.any()) and bool(np.all(inactive[wrong]))


def explain_gradient_mismatch(probes: Sequence[Probe], what: str, expected_label: str) -> Optional[CheckResult]:
    """None when every probe matches; otherwise a failed CheckResult naming the cause and the probe that shows it."""
    bad = [(probe, probe.mismatched()) for probe in probes]
    failing = [(probe, mism) for probe, mism in bad if mism]
    if not failing:
        return None
    good_sizes = [probe.N for probe, mism in bad if not mism]
    probe, mism = failing[-1]
    evidence = f"with N={probe.N}, "
    if good_sizes:
        evidence = f"with N={good_sizes[0]} your gradients match; " + evidence
    worst_name = max(mism, key=lambda k: abs(mism[k].actual - mism[k].expected) / (mism[k].allowed or 1))
    worst = mism[worst_name].describe(f"grads[{worst_name!r}]", expected_label)

    if set(mism) == set(PARAM_NAMES):
        found = _factor_cause(probe, PARAM_NAMES)
        if found:
            _, cause, words = found
            return failed(f"{what}: {evidence}every gradient is {words}. ({worst})", cause)
    for name in ("W1", "W2"):
        a, e = probe.actual[name], probe.expected[name]
        if name in mism and a.shape[0] == a.shape[1] and find_mismatch(a, e.T, probe.tol) is None:
            return failed(f"{what}: {evidence}grads[{name!r}] is the transpose of the right gradient: "
                          f"d{name} = (input)ᵀ·(upstream gradient) has the parameter's shape. ({worst})", "transposed")
    if set(mism) == BIASES or set(mism) <= BIASES:
        found = _factor_cause(probe, sorted(mism))
        if found and probe.N > 1 and _close(found[0], 1.0 / probe.N):
            return failed(f"{what}: {evidence}the bias gradients are {probe.N}× too small: a bias gradient is a sum "
                          f"over the batch, not a mean. ({worst})", "bias_averaged")
    if set(mism) <= LAYER1:
        one = [p for p, m in bad if p.N == 1 and m and set(m) <= LAYER1]
        if one and _relu_inactive_only(one[0]):
            return failed(f"{what}: only layer 1 is wrong, and with N=1 grads['b1'] is wrong exactly at hidden units "
                          f"whose ReLU is off (z1 <= 0): the ReLU mask is wrong; the gradient must be zero where "
                          f"z1 <= 0 and pass through unchanged elsewhere. ({worst})", "relu_mask")
        return failed(f"{what}: {evidence}only layer 1 (W1, b1) is wrong while layer 2 matches: look at the ReLU "
                      f"backward step and below it. ({worst})", "layer1")
    if set(mism) <= LAYER2:
        return failed(f"{what}: {evidence}only layer 2 (W2, b2) is wrong while layer 1 matches: look at dW2 and db2. "
                      f"({worst})", "layer2")
    return failed(f"{what}: {evidence}{', '.join(sorted(mism))} are wrong and the mismatch fits no signature the "
                  f"grader knows (a common factor, a transpose, one layer only). Worst entry: {worst}", "unknown")
