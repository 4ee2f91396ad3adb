"""Array comparison with justified tolerances and numpy.testing-style messages that show the worst entry.

An entry passes when |actual - expected| <= rtol·|expected| + atol, with atol = atol_scale·max|expected|: the
absolute floor is scaled to the array's own magnitude, so entries near zero are never judged by relative error alone.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import numpy as np


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol_scale: float
    atol_min: float = 0.0  # floor for arrays that are (almost) all zero


#: Student vs reference, both float64 on the same inputs. They differ only by rounding in a different order of
#: operations (about 1e-15 of the array's scale for these sizes); the smallest bug the grader must catch moves
#: entries by 1e-2 relative or more, and float32 anywhere on the way (6e-8 rounding) by 1e-8 of the scale or more.
#: rtol 1e-9 with an absolute floor of 1e-11 of the scale keeps a margin of 1e4 above float64 noise and still
#: rejects float32 every time (precision_loss then names it).
REFERENCE_TOL = Tolerance(rtol=1e-9, atol_scale=1e-11, atol_min=1e-14)

#: Analytic vs central differences with eps = 1e-5 on a loss of order 1: truncation error eps²·|f'''|/6 ≈ 1e-11,
#: rounding error 1e-16·|f|/eps ≈ 1e-11, so about 1e-10 absolute on gradients of order 1e-2..1; inputs keep every ReLU
#: pre-activation 1e-3 away from the kink, 25× more than any eps-step moves it. Bugs move entries by >= 1e-2 relative.
FD_TOL = Tolerance(rtol=1e-5, atol_scale=1e-6, atol_min=1e-8)


@dataclass(frozen=True)
class Mismatch:
    """The worst failing entry of a comparison."""

    index: tuple[int, ...]
    actual: float
    expected: float
    allowed: float
    n_bad: int
    size: int

    def describe(self, name: str, expected_label: str = "expected") -> str:
        where = f"{name}[{', '.join(map(str, self.index))}]" if self.index else name
        digits = _digits_to_tell_apart(self.actual, self.expected)
        text = (f"{where} is {self.actual:.{digits}g} but {expected_label} is {self.expected:.{digits}g} "
                f"(off by {abs(self.actual - self.expected):.2g}, allowed {self.allowed:.2g})")
        if self.size > 1:
            text += f"; {self.n_bad} of {self.size} entries are off"
        return text


def _digits_to_tell_apart(a: float, b: float) -> int:
    """Significant digits (6 to 17) that show two different numbers as different."""
    for digits in range(6, 18):
        if f"{a:.{digits}g}" != f"{b:.{digits}g}":
            return digits
    return 6


def find_mismatch(actual: Any, expected: Any, tol: Tolerance) -> Optional[Mismatch]:
    """None when every entry is within tolerance, else the worst entry (non-finite entries count as worst)."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    allowed = tol.rtol * np.abs(expected) + max(tol.atol_scale * scale, tol.atol_min)
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(actual - expected)
        excess = np.where(np.isfinite(diff), diff / allowed, np.inf)
    bad = ~(excess <= 1.0)
    if not bad.any():
        return None
    flat = int(np.argmax(np.where(np.isnan(excess), np.inf, excess)))
    index = np.unravel_index(flat, actual.shape) if actual.ndim else ()
    return Mismatch(
        index=tuple(int(i) for i in index),
        actual=float(actual[index]),
        expected=float(expected[index]),
        allowed=float(allowed[index]) if np.ndim(allowed) else float(allowed),
        n_bad=int(bad.sum()),
        size=int(actual.size),
    )


#: Errors between these bounds, relative to the array's largest entry, are rounding, not a formula: float32 carries
#: about 7 significant digits (6e-8 rounding, growing through a few layers); formula bugs move entries by >= 1e-2.
PRECISION_BAND = (1e-9, 1e-4)


def precision_loss(actual: Any, expected: Any) -> Optional[float]:
    """The size of the error relative to the array's scale when it looks like lost precision (float32), else None."""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    scale = float(np.max(np.abs(expected))) if expected.size else 0.0
    if scale == 0.0 or not np.all(np.isfinite(actual)):
        return None
    error = float(np.max(np.abs(actual - expected))) / scale
    return error if PRECISION_BAND[0] < error < PRECISION_BAND[1] else None


def precision_words(error: float) -> str:
    return (f"the values are off by about {error:.0e} of their size: that is float32 rounding, not a formula error. "
            f"Is something computed in float32 (e.g. X.astype(np.float32))? The exercise requires float64")


def looks_float32(values: Any) -> bool:
    """True when at least three distinct nonzero finite values are all exactly float32 numbers: a float64 computation
    lands on one by chance with probability 2**-29 per value."""
    finite = [float(v) for v in np.ravel(np.asarray(values, dtype=np.float64)) if np.isfinite(v) and v != 0]
    return len(set(finite)) >= 3 and all(float(np.float32(v)) == v for v in finite)
