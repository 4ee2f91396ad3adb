"""part4.diagnose: label gradient mismatches by their signature, on a hidden, balanced set of synthetic cases.

Each case is a pair (analytic, numeric) of gradient dicts built from a random "true" gradient and labelled by its
signature as the contract defines it (`label_of`); a case is sent only when it is clear-cut under any sensible
threshold: a matching parameter agrees to 1e-10 entrywise, a mismatching one is off by at least 2e-2 of its largest
entry (so also by 1e-2 entrywise), a common factor holds to 1e-10. Every label gets the same fixed mix of variants
(which parameters are off, and how), so a partly right diagnose scores the same on every seed.

Scoring: every case is asked twice, in shuffled order; a diagnose whose answers differ for identical inputs does
not read its input and earns 0. Otherwise the score is chance-corrected with a margin of three standard deviations of
guessing (3σ): max(0, (right - chance - margin) / (total - chance - margin)), so constant, random or input-blind
answers earn 0 and a fully right diagnose earns 1.
"""
from __future__ import annotations

import numpy as np

from grader.checks.solution import label_of
from grader.contract import DIAGNOSE_LABELS, param_shapes
from grader.results import CheckResult, StudentCodeError
from grader.seeding import rng_for
from grader.student import CANNOT_RUN, Submission

CASES_PER_LABEL = 4
def _true_gradient(rng: np.random.Generator) -> dict:
    D, H, C = (int(v) for v in rng.choice(np.arange(2, 9), size=3, replace=False))  # distinct: transposes show
    return {k: rng.normal(0, 1, size=s) for k, s in param_shapes(D, H, C).items()}


def _off(rng: np.random.Generator, g: np.ndarray, how: int) -> np.ndarray:
    """g changed so that it is clearly off and not a multiple of g: 0 half its entries zeroed (a wrong ReLU mask),
    1 noise added, 2 scaled and shifted."""
    if how == 0 and g.size > 1:
        out = g.copy()
        out.flat[rng.choice(g.size, size=max(1, g.size // 2), replace=False)] = 0.0
        return out
    if how == 1:
        return g + rng.normal(0, 1, size=g.shape) * (0.5 + np.abs(g))
    return g * rng.uniform(1.5, 3.0) + 0.5 * np.sign(g + 1e-300)


#: The fixed mix per label: which parameters each of the CASES_PER_LABEL variants touches.
VARIANTS = {
    "shape": ["W1", "b1", "W2", "b2"],
    "nan": ["W1", "b1", "W2", "b2"],
    "ok": [None, None, None, None],
    "scale": ["N", "1/N", "-1", "any"],
    "layer1": [("W1",), ("b1",), ("W1", "b1"), ("W1",)],
    "layer2": [("W2",), ("b2",), ("W2", "b2"), ("W2",)],
    "other": [("W1", "W2"), ("b1", "b2"), ("W1", "b2"), ("W1", "b1", "W2", "b2")],  # all four, no common factor
}


def make_case(rng: np.random.Generator, label: str, variant: int = 0) -> tuple[dict, dict]:
    """One clear-cut (analytic, numeric) pair whose signature is `label`, of the given variant (see VARIANTS)."""
    while True:
        numeric = _true_gradient(rng)
        analytic = {k: v * (1 + 1e-13 * rng.normal(size=v.shape)) for k, v in numeric.items()}
        touch = VARIANTS[label][variant % CASES_PER_LABEL]
        if label == "shape":
            g = analytic[touch]
            analytic[touch] = g.T if g.ndim == 2 else g[None, :]
        elif label == "nan":
            analytic[touch] = analytic[touch].copy()
            analytic[touch].flat[rng.integers(analytic[touch].size)] = rng.choice([np.nan, np.inf, -np.inf])
        elif label == "scale":
            N = int(rng.integers(2, 9))
            c = {"N": N, "1/N": 1.0 / N, "-1": -1.0, "any": float(rng.uniform(1.5, 4))}[touch]
            analytic = {k: c * v for k, v in numeric.items()}
        elif label != "ok":
            for k in touch:
                analytic[k] = _off(rng, numeric[k], int(rng.integers(3)))
        if label_of(analytic, numeric) == label:
            return analytic, numeric


def check_diagnose(student: Submission, seed: int) -> CheckResult:
    """Synthetic cases: CASES_PER_LABEL of each of the seven labels, in the fixed mix of VARIANTS."""
    rng = rng_for(seed, "part4.diagnose")
    cases = [(label, *make_case(rng, label, variant))
             for label in DIAGNOSE_LABELS for variant in range(CASES_PER_LABEL)]
    return score_diagnose(student, cases, rng, "synthetic cases")


def score_diagnose(student: Submission, cases: list, rng: np.random.Generator, what: str) -> CheckResult:
    """Ask diagnose about every (label, analytic, numeric) case twice, in shuffled order, and score the answers."""
    order = rng.permutation(2 * len(cases))  # shuffled: an answer that follows the order of calls earns nothing
    indices = [int(position) % len(cases) for position in order]
    replies = student.call_many("diagnose", [cases[index][1:] for index in indices], keep_going=True)
    answers: dict = {}
    raised = ""
    for index, answer in zip(indices, replies):
        if isinstance(answer, StudentCodeError):
            if answer.result.cause in CANNOT_RUN:
                raise answer
            raised = raised or answer.result.feedback
            answer = "<it raised>"
        answers.setdefault(index, []).append(answer if isinstance(answer, str) else repr(answer))
    inconsistent = [i for i, given in answers.items() if given[0] != given[1]]
    if inconsistent:
        given = answers[inconsistent[0]]
        return CheckResult(0.0, f"{what}: diagnose answered {given[0][:40]!r} and then {given[1][:40]!r} for the "
                                f"same gradients ({len(inconsistent)} of {len(cases)} cases asked twice got two "
                                f"answers): its answer must depend on its input only.", "diagnose_inconsistent")
    wrong: dict = {}
    for index, (label, _, _) in enumerate(cases):
        if answers[index][0] != label:
            wrong.setdefault(label, []).append(answers[index][0])
    total, k = len(cases), len(DIAGNOSE_LABELS)
    right = total - sum(len(v) for v in wrong.values())
    chance = total / k
    margin = 3 * np.sqrt(total * (1 / k) * (1 - 1 / k))  # three standard deviations of guessing
    score = max(0.0, (right - chance - margin) / (total - chance - margin))
    if not wrong:
        return CheckResult(1.0, f"all {total} {what} labelled right.")
    per_label = {label: sum(1 for case in cases if case[0] == label) for label in wrong}
    details = "; ".join(f"{label}: {len(given)} of {per_label[label]} wrong (answered "
                        f"{', '.join(sorted(set(a[:40] for a in given)))})" for label, given in wrong.items())
    also = f" On some cases {raised}" if raised else ""
    return CheckResult(score, f"{what}: {right} of {total} right (score {score:.2f} after correcting for "
                              f"guessing). {details}.{also}", "diagnose_wrong")
