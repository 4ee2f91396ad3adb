"""Name the likely mistake behind a gradient mismatch from its signature, and only when the evidence shows it.

Input: the student's gradients and the expected ones (from the reference or from finite differences) on one or more
probes of different batch sizes N. Signatures, in the order they are tried:
  - every parameter off by one common factor: N (1/N missing), 1/N (1/N applied twice), -1, or another constant;
  - a square weight gradient equal to the transpose of the right one;
  - only the bias gradients off, by 1/N (averaged instead of summed);
  - only layer 1 off, and on the N=1 probe db1 (= dz1) wrong only as a wrong ReLU mask makes it (the mask);
  - only layer 1, or only layer 2, off.
Otherwise the feedback says that no known signature fits and shows the worst entry. After a signature of one layer,
a second mistake that shows only on a larger probe is named too: the other layer off by a common factor there (the
1/N missing from the dscores backward uses is invisible at N=1, where the first is found).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from grader.compare import Tolerance, find_mismatch, precision_loss, precision_words
from grader.contract import PARAM_NAMES
from grader.problems import Problem
from grader.results import CheckResult, failed

LAYER1, LAYER2, BIASES = {"W1", "b1"}, {"W2", "b2"}, {"b1", "b2"}
#: Signatures of one layer, and the layer the mistake they name cannot reach (where a second mistake may show).
OTHER_LAYER = {"relu_mask": (2, LAYER2), "no_relu_in_forward": (2, LAYER2), "layer1": (2, LAYER2),
               "layer2": (1, LAYER1)}
#: A factor counts as "the" factor when every parameter fits it this well; bugs that are not pure factors miss by far.
FACTOR_TOL = 1e-6


@dataclass
class Probe:
    """One comparison: the problem, the student's gradients and the expected ones (dicts by parameter name)."""

    problem: Problem
    actual: dict
    expected: dict
    tol: Tolerance
    own_loss: bool = False  # expected = finite differences of the student's own loss (not the reference)

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
    if N > 1 and _close(c, 1.0 / N) and probe.own_loss:
        return c, "grads_1_over_N_of_loss", (f"{N}× smaller than the derivative of your own loss: the gradients "
                                             f"have the 1/N twice, or the loss sums over the batch instead of "
                                             f"averaging")
    if N > 1 and _close(c, 1.0 / N):
        return c, "double_1_over_N", f"{N}× too small: the 1/N is applied twice"
    if _close(c, -1.0):
        return c, "sign_flipped", "of the wrong sign"
    return c, "constant_factor", f"{c:.4g}× the expected value"


def _relu_mask_signature(probe: Probe) -> Optional[tuple[str, str]]:
    """On an N=1 probe db1 is dz1 itself. (cause, words) when every wrong entry is either nonzero at a unit whose
    ReLU is off or zero at an active unit (a wrong mask), or when the truth is nonzero at inactive units where the
    student's gradient is 0 (the forward pass has no ReLU but the backward pass masks); else None."""
    if probe.N != 1:
        return None
    inactive = probe.problem.z1()[0] <= 0
    actual, expected = probe.actual["b1"], probe.expected["b1"]
    wrong = np.abs(actual - expected) > probe.tol.rtol * np.abs(expected) + 1e-9
    if not wrong.any():
        return None
    expected_zero = np.abs(expected) <= 1e-9
    if probe.own_loss and np.all(wrong <= inactive) and np.all(actual[wrong] == 0) and not expected_zero[wrong].any():
        return "no_relu_in_forward", (f"your loss changes with {int(wrong.sum())} hidden unit(s) whose z1 <= 0, so "
                                      f"your forward pass does not apply the ReLU (h1 = max(z1, 0)), while your "
                                      f"backward pass masks those units")
    leaks = wrong & inactive & expected_zero & (actual != 0)
    blocks = wrong & ~inactive & (actual == 0)
    if np.any(wrong & ~leaks & ~blocks):
        return None
    parts = []
    if leaks.any():
        parts.append(f"nonzero at {int(leaks.sum())} hidden unit(s) whose ReLU is off (z1 <= 0)")
    if blocks.any():
        parts.append(f"zero at {int(blocks.sum())} active unit(s) (z1 > 0)")
    return "relu_mask", (f"grads['b1'] (which is dz1 at N=1) is {' and '.join(parts)}: the ReLU mask is wrong. The "
                         f"gradient must be zero where z1 <= 0 and pass through unchanged where z1 > 0: "
                         f"dz1 = dh1 * (z1 > 0)")


def explain_gradient_mismatch(probes: Sequence[Probe], what: str, expected_label: str) -> Optional[CheckResult]:
    """None when every probe matches; otherwise a failed CheckResult naming the cause and the probe that shows it.

    Failing probes are read smallest N first and the first recognised signature is reported (with two bugs at
    once, N=1 often shows one of them alone, since a missing 1/N is invisible there); if none is recognised, the
    feedback says so and shows the worst entry of the largest probe.
    """
    compared = [(probe, probe.mismatched()) for probe in sorted(probes, key=lambda p: p.N)]
    failing = [(probe, mism) for probe, mism in compared if mism]
    if not failing:
        return None
    matching_sizes = [probe.N for probe, mism in compared if not mism]
    for probe, mism in failing:
        evidence = f"with N={probe.N} "
        if matching_sizes and matching_sizes[0] < probe.N:
            evidence = f"with N={matching_sizes[0]} your gradients match; " + evidence
        worst_name = max(mism, key=lambda k: abs(mism[k].actual - mism[k].expected) / (mism[k].allowed or 1))
        worst = mism[worst_name].describe(f"grads[{worst_name!r}]", expected_label)
        found = _signature(probe, mism, evidence, worst)
        if found:
            second = _second_mistake(failing, probe, found[0])
            return failed(f"{what}: {found[1]}. {second}" if second else f"{what}: {found[1]}", found[0])
    return failed(f"{what}: {evidence}{', '.join(sorted(mism))} are wrong and the mismatch fits no signature the "
                  f"grader knows (a common factor, a transpose, one layer only, the ReLU mask). Worst entry: {worst}",
                  "unknown")


def _second_mistake(failing: list, first: Probe, cause: str) -> str:
    """"A second mistake: ..." when `cause` (found on probe `first`) is a signature of one layer and, on a larger
    failing probe, the gradients of the other layer, which that mistake cannot reach, are all off by one common
    factor; else "". The sample submission's ReLU mask shows alone at N=1, its missing 1/N only at N=7."""
    if cause not in OTHER_LAYER:
        return ""
    layer, names = OTHER_LAYER[cause]
    for probe, mism in failing:
        found = _factor_cause(probe, sorted(names)) if probe.N > first.N and names <= set(mism) else None
        if found:
            return (f"A second mistake: with N={probe.N} layer {layer}'s gradients ({', '.join(sorted(names))}), "
                    f"which the first does not reach, are {found[2]}.")
    return ""


def _signature(probe: Probe, mism: dict, evidence: str, worst: str) -> Optional[tuple[str, str]]:
    """(cause, words) for the first signature this probe's mismatch fits, else None."""
    errors = [precision_loss(probe.actual[k], probe.expected[k]) for k in mism]
    if all(errors) and not probe.own_loss:  # against finite differences, float32 breaks the loss itself
        return "float32_precision", f"{evidence}{precision_words(max(errors))}. ({worst})"
    if set(mism) == set(PARAM_NAMES):
        found = _factor_cause(probe, PARAM_NAMES)
        if found:
            return found[1], f"{evidence}every gradient is {found[2]}. ({worst})"
    for name in ("W1", "W2"):
        a, e = probe.actual[name], probe.expected[name]
        if name in mism and a.shape[0] == a.shape[1] and find_mismatch(a, e.T, probe.tol) is None:
            return "transposed", (f"{evidence}grads[{name!r}] is the transpose of the right gradient: d{name} = "
                                  f"(input)ᵀ·(upstream gradient) has the parameter's shape. ({worst})")
    if set(mism) <= BIASES:
        found = _factor_cause(probe, sorted(mism))
        if found and probe.N > 1 and _close(found[0], 1.0 / probe.N):
            return "bias_averaged", (f"{evidence}the bias gradients are {probe.N}× too small: a bias gradient is a "
                                     f"sum over the batch, not a mean. ({worst})")
    if set(mism) <= LAYER1:
        signature = _relu_mask_signature(probe)
        if signature:
            return signature[0], f"{evidence}only layer 1 is wrong, and {signature[1]}. ({worst})"
        return "layer1", (f"{evidence}only layer 1 (W1, b1) is wrong while layer 2 matches: look at the ReLU "
                          f"backward step and below it. ({worst})")
    if set(mism) <= LAYER2:
        return "layer2", (f"{evidence}only layer 2 (W2, b2) is wrong while layer 1 matches: look at dW2 and db2. "
                          f"({worst})")
    return None
