"""part4.diagnose: label gradient mismatches by their signature, on a hidden, balanced set of synthetic cases.

Each case is a pair (analytic, numeric) of gradient dicts built from a random "true" gradient and labelled by its
signature as the contract defines it; a matching parameter agrees to 1e-12 relative, a mismatching one is off by at
least 5e-2 relative, and a common factor holds exactly. The score is chance-corrected accuracy: (accuracy - 1/7) /
(1 - 1/7), floored at 0, so a constant answer (right on 1/7 of a balanced set) earns nothing.
"""
from __future__ import annotations

import numpy as np

from grader.contract import DIAGNOSE_LABELS, PARAM_NAMES, param_shapes
from grader.results import CheckResult, StudentCodeError
from grader.seeding import rng_for
from grader.student import Submission

CASES_PER_LABEL = 4


def _true_gradient(rng: np.random.Generator) -> dict:
    D, H, C = (int(v) for v in rng.choice(np.arange(2, 9), size=3, replace=False))  # distinct: transposes show
    return {k: rng.normal(0, 1, size=s) for k, s in param_shapes(D, H, C).items()}


def _off(rng: np.random.Generator, g: np.ndarray) -> np.ndarray:
    """g changed in a way that is off by at least 5e-2 relative, and not a multiple of g."""
    kind = rng.integers(3)
    if kind == 0 and g.size > 1:  # some entries zeroed, as a wrong ReLU mask does
        out = g.copy()
        out.flat[rng.choice(g.size, size=max(1, g.size // 2), replace=False)] = 0.0
        return out
    if kind == 1:
        return g + rng.normal(0, 1, size=g.shape) * (0.5 + np.abs(g))
    return g * rng.uniform(1.5, 3.0) + 0.5 * np.sign(g + 1e-300)


def make_case(rng: np.random.Generator, label: str) -> tuple[dict, dict]:
    """One (analytic, numeric) pair whose signature is `label`."""
    numeric = _true_gradient(rng)
    analytic = {k: v * (1 + 1e-13 * rng.normal(size=v.shape)) for k, v in numeric.items()}
    name = str(rng.choice(PARAM_NAMES))
    if label == "shape":
        g = analytic[name]
        analytic[name] = g.T if g.ndim == 2 else g[None, :]
    elif label == "nan":
        analytic[name] = analytic[name].copy()
        analytic[name].flat[rng.integers(analytic[name].size)] = rng.choice([np.nan, np.inf, -np.inf])
    elif label == "scale":
        c = float(rng.choice([rng.integers(2, 9), 1.0 / rng.integers(2, 9), -1.0, rng.uniform(1.5, 4)]))
        analytic = {k: c * v for k, v in numeric.items()}
    elif label in ("layer1", "layer2"):
        layer = ("W1", "b1") if label == "layer1" else ("W2", "b2")
        for k in [k for k in layer if rng.random() < 0.5] or [layer[rng.integers(2)]]:
            analytic[k] = _off(rng, numeric[k])
    elif label == "other":
        first = str(rng.choice(["W1", "b1"]))
        second = str(rng.choice(["W2", "b2"]))
        analytic[first] = _off(rng, numeric[first])
        analytic[second] = 2.0 * numeric[second] if rng.random() < 0.5 else _off(rng, numeric[second])
    return analytic, numeric


def check_diagnose(student: Submission, seed: int) -> CheckResult:
    """Chance-corrected accuracy over CASES_PER_LABEL synthetic cases of each of the seven labels, shuffled."""
    rng = rng_for(seed, "part4.diagnose")
    labels = [label for label in DIAGNOSE_LABELS for _ in range(CASES_PER_LABEL)]
    # Shuffled: an answer that follows the order of the calls earns nothing.
    cases = [(str(label), *make_case(rng, str(label))) for label in rng.permutation(labels)]
    return score_diagnose(student, cases, "synthetic cases")


def score_diagnose(student: Submission, cases: list, what: str) -> CheckResult:
    """Ask diagnose about every (label, analytic, numeric) case; score (accuracy - 1/7) / (1 - 1/7), floored at 0."""
    wrong: dict = {}
    for label, analytic, numeric in cases:
        try:
            answer = student.call("diagnose", analytic, numeric)
        except StudentCodeError as error:
            if error.result.cause in ("not_implemented", "missing", "import_failed"):
                raise
            answer = f"<raised: {error.result.feedback}>"
        if not (isinstance(answer, str) and answer == label):
            wrong.setdefault(label, []).append(answer if isinstance(answer, str) else repr(answer))
    total, k = len(cases), len(DIAGNOSE_LABELS)
    right = total - sum(len(v) for v in wrong.values())
    score = max(0.0, (k * right - total) / ((k - 1) * total))  # exact 0 at chance level
    if not wrong:
        return CheckResult(1.0, f"all {total} {what} labelled right.")
    per_label = {label: sum(1 for case in cases if case[0] == label) for label in wrong}
    details = "; ".join(f"{label}: {len(answers)} of {per_label[label]} wrong (answered "
                        f"{', '.join(sorted(set(a[:40] for a in answers)))})" for label, answers in wrong.items())
    return CheckResult(score, f"{what}: {right} of {total} right (chance-corrected score {score:.2f}). {details}.",
                       "diagnose_wrong")
