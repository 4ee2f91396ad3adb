"""sample.values (the student kit): forward, loss and backward on one fixed small problem, against expected values.

The kit has no reference solution; instead it ships `sample_values.json`, the reference's outputs on that problem,
computed when the kit was built (values only). Students see the problem and the values, so this item is a
debugging aid, not a grade: the instructor's items compare with the reference on fresh random inputs.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from grader.checks import calls
from grader.compare import REFERENCE_TOL, find_mismatch
from grader.contract import PARAM_NAMES
from grader.problems import Problem
from grader.results import CheckResult, failed, passed
from grader.student import Submission

#: The file of fixed inputs and expected outputs, beside the kit's rubric.
SAMPLE_FILE = "sample_values.json"
#: The parts checked, and the role (the function) each one judges.
PARTS = {"forward": "forward", "loss": "softmax_cross_entropy", "backward": "backward"}


def load_sample(path: Path) -> dict:
    """The sample's JSON (X, y, params, reg, and the expected scores, loss, dscores, grads)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def sample_problem(values: dict) -> Problem:
    """The sample's inputs as a Problem of float64 arrays."""
    return Problem(np.array(values["X"], dtype=np.float64), np.array(values["y"], dtype=np.int64),
                   {name: np.array(values["params"][name], dtype=np.float64) for name in PARAM_NAMES})


def check_sample(student: Submission, values: dict, part: str) -> CheckResult:
    """part "forward": forward's scores; "loss": softmax_cross_entropy's loss and dscores on the expected scores;
    "backward": backward's loss and gradients at the sample's reg. Each against the sample's expected values."""
    problem = sample_problem(values)
    where = f"on the sample problem ({SAMPLE_FILE}, N, D, H, C = {', '.join(map(str, problem.sizes))})"
    if part == "forward":
        compared = {"scores": (calls.forward_scores(student, problem), values["scores"])}
    elif part == "loss":
        loss, dscores = calls.loss_and_dscores(student, np.array(values["scores"]), problem.y)
        compared = {"the loss": (loss, values["loss"]), "dscores": (dscores, values["dscores"])}
    else:
        loss, grads = calls.loss_and_grads(student, problem, values["reg"])
        compared = {"backward's loss": (loss, values["backward"]["loss"]),
                    **{f"grads['{name}']": (grads[name], values["backward"]["grads"][name]) for name in PARAM_NAMES}}
    wrong = [mismatch.describe(name) for name, (actual, expected) in compared.items()
             if (mismatch := find_mismatch(actual, expected, REFERENCE_TOL))]
    if wrong:
        return failed(f"`{student.name_of(PARTS[part])}` differs from the expected values {where}: {'; '.join(wrong)}.",
                      f"sample_{part}")
    return passed()
