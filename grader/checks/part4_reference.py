"""part4.diagnose on real bugs (instructor only: needs the reference and grader.mutants).

Cases are the gradients that the known mistakes (grader.mutants) really produce at reg = 0, paired with the
reference's gradient on the same random problem, plus the reference itself ("ok") and the unstable softmax on huge
logits ("nan"). Each case is labelled by its signature as the contract defines it (`label_of`), never by the
mistake's name, and kept only when it is unambiguous: matching parameters agree to 1e-10, mismatching ones differ by
1e-2 or more (relative, entrywise), a common factor holds to 1e-10. Four cases per label are drawn, shuffled, and
scored chance-corrected like the synthetic set; a label no mistake produced on these problems is filled with
synthetic cases.
"""
from __future__ import annotations

from types import ModuleType
from typing import Optional

import numpy as np

from grader.checks.part4 import CASES_PER_LABEL, make_case, score_diagnose
from grader.compare import relative_error
from grader.contract import DIAGNOSE_LABELS, PARAM_NAMES
from grader.mutants import MUTANTS, mutant
from grader.problems import random_problem
from grader.results import CheckResult
from grader.seeding import rng_for
from grader.student import Submission

MATCH, MISMATCH = 1e-10, 1e-2


def label_of(analytic: dict, numeric: dict) -> Optional[str]:
    """The contract's label for (analytic, numeric), or None when the case is not clear-cut enough to send."""
    a = {k: np.asarray(analytic[k], dtype=np.float64) for k in PARAM_NAMES}
    n = {k: np.asarray(numeric[k], dtype=np.float64) for k in PARAM_NAMES}
    if any(a[k].shape != n[k].shape for k in PARAM_NAMES):
        return "shape"
    if any(not np.all(np.isfinite(a[k])) for k in PARAM_NAMES):
        return "nan"
    errors = {k: relative_error(a[k], n[k]) for k in PARAM_NAMES}
    if any(MATCH < e < MISMATCH for e in errors.values()):
        return None
    bad = {k for k, e in errors.items() if e >= MISMATCH}
    if not bad:
        return "ok"
    if bad == set(PARAM_NAMES):
        flat_a = np.concatenate([a[k].ravel() for k in PARAM_NAMES])
        flat_n = np.concatenate([n[k].ravel() for k in PARAM_NAMES])
        c = float(np.vdot(flat_a, flat_n) / np.vdot(flat_n, flat_n))
        if c not in (0.0, 1.0) and all(relative_error(a[k], c * n[k]) <= MATCH for k in PARAM_NAMES):
            return "scale"
    if bad <= {"W1", "b1"}:
        return "layer1"
    if bad <= {"W2", "b2"}:
        return "layer2"
    return "other"


def real_cases(reference: ModuleType, rng: np.random.Generator, problems: int = 6) -> dict:
    """{label: [(analytic, numeric), ...]} from the mistakes' real outputs on random problems."""
    pool: dict = {label: [] for label in DIAGNOSE_LABELS}
    for _ in range(problems):
        N, D, H, C = (int(v) for v in rng.integers(2, 9, size=4))
        problem = random_problem(rng, N, D, H, C)
        huge = problem.copy()
        huge.params["W2"] *= 2000.0  # scores of order 1e3: exp overflows without the max shift
        for kind in ("reference", *MUTANTS):
            if kind == "edits_inputs":
                continue
            case_problem = huge if kind == "unstable_softmax" else problem
            p, q = case_problem.copy(), case_problem.copy()
            backward = reference.backward if kind == "reference" else mutant(kind)
            with np.errstate(all="ignore"):
                analytic = {k: v for k, v in backward(p.X, p.y, p.params, 0.0)[1].items() if k in PARAM_NAMES}
            numeric = {k: v for k, v in reference.backward(q.X, q.y, q.params, 0.0)[1].items() if k in PARAM_NAMES}
            label = label_of(analytic, numeric)
            if label is not None:
                pool[label].append((analytic, numeric))
    return pool


def check_diagnose_real(student: Submission, reference: ModuleType, seed: int) -> CheckResult:
    """Chance-corrected accuracy on CASES_PER_LABEL real-bug cases of each label."""
    rng = rng_for(seed, "part4.diagnose.real")
    pool = real_cases(reference, rng)
    cases = []
    for label in DIAGNOSE_LABELS:
        found = pool[label]
        picks = [found[i] for i in rng.permutation(len(found))[:CASES_PER_LABEL]]
        picks += [make_case(rng, label) for _ in range(CASES_PER_LABEL - len(picks))]
        cases.extend((label, analytic, numeric) for analytic, numeric in picks)
    return score_diagnose(student, [cases[i] for i in rng.permutation(len(cases))], "gradients of real bugs")
