"""part4.diagnose on real bugs (instructor only: needs the reference and grader.mutants).

Cases are the gradients that the known mistakes (grader.mutants) really produce at reg = 0, paired with the
reference's gradient on the same random problem, plus the reference itself ("ok") and the unstable softmax on huge
logits ("nan"). Each case is labelled by its signature as the contract defines it (`label_of`), never by the
mistake's name, and kept only when it is clear-cut (part4.label_of). Four cases per label, scored like the synthetic
set; a label no mistake produced on these problems is filled with synthetic cases.
"""
from __future__ import annotations

from types import ModuleType

import numpy as np

from grader.checks.part4 import CASES_PER_LABEL, label_of, make_case, score_diagnose
from grader.contract import DIAGNOSE_LABELS, PARAM_NAMES
from grader.mutants import MUTANTS, mutant
from grader.problems import random_problem
from grader.results import CheckResult
from grader.seeding import rng_for
from grader.student import Submission


def real_cases(reference: ModuleType, rng: np.random.Generator, problems: int = 6) -> dict:
    """{label: [(kind, analytic, numeric), ...]} from the mistakes' real outputs on random problems."""
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
                pool[label].append((kind, analytic, numeric))
    return pool


def check_diagnose_real(student: Submission, reference: ModuleType, seed: int) -> CheckResult:
    """CASES_PER_LABEL real-bug cases of each label, scored like the synthetic ones. The mix is fixed: the mistakes
    that produce a label take turns in a fixed order, so a partly right diagnose scores the same on every seed."""
    rng = rng_for(seed, "part4.diagnose.real")
    pool = real_cases(reference, rng)
    cases = []
    for label in DIAGNOSE_LABELS:
        by_kind: dict = {}
        for kind, analytic, numeric in pool[label]:
            by_kind.setdefault(kind, []).append((analytic, numeric))
        turns = [case for round_ in range(len(pool[label])) for kind in sorted(by_kind)
                 for case in by_kind[kind][round_:round_ + 1]]
        picks = turns[:CASES_PER_LABEL]
        picks += [make_case(rng, label, variant) for variant in range(len(picks), CASES_PER_LABEL)]
        cases.extend((label, analytic, numeric) for analytic, numeric in picks)
    return score_diagnose(student, cases, rng, "gradients of real bugs")
