"""The student contract: names and shapes every check agrees on.

Shapes: X (N, D), y (N,), W1 (D, H), b1 (H,), W2 (H, C), b2 (C,), scores (N, C).
"""
from __future__ import annotations

PARAM_NAMES = ("W1", "b1", "W2", "b2")

#: Roles a rubric maps to names in the submission (`entry_points:`), with the contract's default names.
ENTRY_POINTS = {
    "shapes": "shapes",
    "forward": "forward",
    "softmax_cross_entropy": "softmax_cross_entropy",
    "backward": "backward",
    "numerical_gradient": "numerical_gradient",
    "rel_error": "rel_error",
    "grad_check": "grad_check",
    "grad_check_tol": "GRAD_CHECK_TOL",
    "diagnose": "diagnose",
    "deep_backward": "deep_backward",
}

#: Reg conventions: the factor in front of reg·(ΣW1² + ΣW2²) in the loss.
REG_CONVENTIONS = {"half": 0.5, "full": 1.0}

DIAGNOSE_LABELS = ("shape", "nan", "ok", "scale", "layer1", "layer2", "other")


def param_shapes(D: int, H: int, C: int) -> dict[str, tuple[int, ...]]:
    """Shape of each parameter for layer sizes D, H, C."""
    return {"W1": (D, H), "b1": (H,), "W2": (H, C), "b2": (C,)}
