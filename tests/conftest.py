"""Shared fixtures of the grader's own tests.

numpy is imported first: pytester's in-process runs snapshot sys.modules and would otherwise drop it.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Callable

import numpy  # noqa: F401
import pytest

from grader import student
from grader.contract import ENTRY_POINTS

REPO = Path(__file__).resolve().parents[1]
SUBMISSIONS = REPO / "tests" / "submissions"
#: Short limits for the grader's own tests: a correct submission needs well under a second per grading test.
FAST_LIMITS = ["--timeout", "20", "--import-timeout", "5", "--no-timing"]


def run_cli(*args: str, cwd: Path = REPO, timeout: float = 300, env: dict = None) -> subprocess.CompletedProcess:
    """`python -m grader ARGS` in a child process, with the repository importable (and `env` added)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run([sys.executable, "-m", "grader", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


def grade_file(path: Path, report_path: Path, *extra: str, env: dict = None) -> dict:
    """Grade one submission through the CLI; the JSON report plus the exit code and printed output."""
    result = run_cli("grade", str(path), "--json", str(report_path), *FAST_LIMITS, *extra, env=env)
    report = json.loads(report_path.read_text()) if report_path.exists() else None
    return {"code": result.returncode, "stdout": result.stdout, "stderr": result.stderr, "report": report}


def rubric_of(folder: Path, keep: Callable[[str], bool]) -> Path:
    """folder/rubric.yaml: the bundled rubric with only the items whose id `keep` accepts, as they are. For tests
    whose assertions do not involve the others: every item left out is grading time saved."""
    import yaml
    rubric = yaml.safe_load((REPO / "rubrics" / "backprop.yaml").read_text())
    rubric["items"] = [item for item in rubric["items"] if keep(item["id"])]
    path = folder / "rubric.yaml"
    path.write_text(yaml.safe_dump(rubric))
    return path


def mutate(source: str, *replacements: tuple) -> str:
    """`source` with each (old, new) applied; old must occur exactly once, so a test states its bug precisely."""
    for old, new in replacements:
        count = source.count(old)
        assert count == 1, f"{old!r} occurs {count} times in the base submission"
        source = source.replace(old, new)
    return source


#: Worker limits for the grader's own tests (a correct submission needs well under a second per call).
TEST_LIMITS = student.WorkerLimits(call_seconds=20, import_seconds=5)


def load_code(tmp_path: Path, code: str, name: str = "backprop.py") -> student.Submission:
    """Import a submission written inline (dedented) in a worker; the caller closes it."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(code))
    return student.load(student.locate(path, name), dict(ENTRY_POINTS), TEST_LIMITS)


@pytest.fixture
def submission_from(tmp_path):
    """submission_from(code) -> an imported Submission of that code (its workers are killed after the test)."""
    counter = iter(range(1000))
    made: list = []

    def make(code: str) -> student.Submission:
        folder = tmp_path / f"sub{next(counter)}"
        folder.mkdir()
        made.append(load_code(folder, code))
        return made[-1]
    yield make
    for submission in made:
        submission.close()
