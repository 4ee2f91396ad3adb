"""Random inputs for the two-layer network, kept away from the ReLU kink.

Weights are variance-scaled (std 1/sqrt(fan_in)), so activations and scores are of order 1, the loss is near log C,
and finite differences are accurate. For checks that use finite differences, every pre-activation z1 = X·W1 + b1
is at least `kink_margin` away from 0: an eps-step then never flips a ReLU, which would make the numerical gradient
wrong by about half the slope (a spurious mismatch charged to the student).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from grader.contract import PARAM_NAMES

#: 1e-3 is 25× the largest change of z1 an eps = 1e-5 step can cause (|X|, |W1| <= 4 here).
KINK_MARGIN = 1e-3


@dataclass
class Problem:
    """One set of inputs: X (N, D) float64, y (N,) int, params {"W1": (D, H), "b1": (H,), "W2": (H, C), "b2": (C,)}."""

    X: np.ndarray
    y: np.ndarray
    params: dict

    @property
    def sizes(self) -> tuple[int, int, int, int]:
        """(N, D, H, C)."""
        (N, D), (H, C) = self.X.shape, self.params["W2"].shape
        return N, D, H, C

    def copy(self) -> Problem:
        """Fresh copies of every array: each call into student code gets its own, so in-place edits show."""
        return Problem(self.X.copy(), self.y.copy(), {k: v.copy() for k, v in self.params.items()})

    def z1(self) -> np.ndarray:
        """Pre-activations (N, H)."""
        return self.X @ self.params["W1"] + self.params["b1"]


def random_problem(rng: np.random.Generator, N: int, D: int, H: int, C: int,
                   kink_margin: float = KINK_MARGIN, both_states: int = 0, max_tries: int = 1000) -> Problem:
    """Draw inputs until every pre-activation is at least `kink_margin` from 0 (0 disables the margin) and every
    example has at least `both_states` active and as many inactive hidden units (to localise ReLU-mask bugs)."""
    for _ in range(max_tries):
        X = np.clip(rng.standard_normal((N, D)), -4, 4)
        params = {
            "W1": np.clip(rng.standard_normal((D, H)), -4, 4) / np.sqrt(D),
            "b1": 0.5 * rng.standard_normal(H),  # large enough that leaving b1 out changes the ReLU mask
            "W2": rng.standard_normal((H, C)) / np.sqrt(H),
            "b2": 0.5 * rng.standard_normal(C),
        }
        problem = Problem(X, rng.integers(0, C, size=N), {k: params[k] for k in PARAM_NAMES})
        z1 = problem.z1()
        active = (z1 > 0).sum(axis=1)
        if np.min(np.abs(z1)) >= kink_margin and np.all(active >= both_states) and np.all(H - active >= both_states):
            return problem
    raise RuntimeError(f"no inputs with a kink margin of {kink_margin} in {max_tries} draws for N={N}, H={H}")
