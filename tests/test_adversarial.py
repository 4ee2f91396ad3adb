"""Adversarial submissions (tests/adversarial/): cheats and broken inputs, each graded through the CLI with short
limits. For each: the run ends within its limit, the report is valid JSON and genuine, the score is at most the
honest one (a cheat wrapped around a correct or buggy solution loses exactly what that solution loses; a pure cheat
scores 0 on what it attacks), the feedback names what happened, and afterwards none of its processes survives and
no file it wrote is left outside the grader's sandbox.

The corpus is graded once, in parallel, by one test (pytest-xdist would otherwise grade it once per worker); the
suite then waits once, a few seconds, before checking for survivors. Corpus files are templates: `# @BASE@` stands
for an honest solution (tests/submissions/student_correct.py, or it with one bug), `@TMP@` for a scratch folder
outside the sandbox where a submission records the pids it starts and which files it reached. A folder entry's
NAME.in is written as NAME (conftest_hooks/conftest.py.in: pytest must not load it while collecting this suite).
"""
from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import pytest

from conftest import FAST_LIMITS, REPO, SUBMISSIONS, grade_file, mutate, rubric_of, run_cli

CORPUS = Path(__file__).resolve().parent / "adversarial"
BASE = (SUBMISSIONS / "student_correct.py").read_text()
#: Honest solutions the corpus wraps: the correct one, and ones with a bug (or a syntax error).
BASES = {
    "correct": BASE,
    "no_1_over_N": mutate(BASE, ("    dscores /= N\n", "")),
    "inplace_softmax": mutate(BASE, ("    shifted = scores - scores.max(axis=1, keepdims=True)             "
                                     "# (N, C), row max is 0\n",
                                     "    scores -= scores.max(axis=1, keepdims=True)  # in place: the caller's "
                                     "scores change\n    shifted = scores\n")),
    "syntax_error": mutate(BASE, ("    return float(loss), grads\n", "    return float(loss), grads)\n")),
    "loop_forward": mutate(BASE, ("    z1 = X @ W1 + b1                     # (N, H)\n",
                                  "    z1 = np.array([x @ W1 + b1 for x in X])  # one example at a time\n")),
}
#: The bases graded on their own, as yardsticks for the entries that wrap them.
YARDSTICKS = ("correct", "no_1_over_N", "inplace_softmax", "loop_forward")
HONEST_SCORE = 105  # student_correct.py: 100 + bonus.dX (it does not attempt bonus.deep)
NO_1_OVER_N_LOST = {"part2.loss", "part2.backward_reference", "part2.backward_fd", "bonus.dX"}
TOTAL_TIMEOUT = 60
LIMITS = ("--call-timeout", "2", "--import-timeout", "2", "--total-timeout", str(TOTAL_TIMEOUT))
SURVIVOR_WAIT = 3.0
PART2 = ("part2.forward", "part2.loss", "part2.stability", "part2.backward_reference", "part2.backward_fd",
         "part2.regularization", "part2.vectorized", "bonus.dX")
EVERYTHING = ("part1.shapes", *PART2, "part3.numerical_gradient", "part3.perturbation", "part3.rel_error",
              "part3.grad_check", "part4.diagnose")


@dataclass
class Case:
    """One corpus entry and what its grading must show.

    base:     the honest solution substituted for `# @BASE@` (None: the entry is complete as it is).
    honest:   the base's name whose grading is the yardstick: the entry loses exactly what it loses, no more points.
    lost:     the exact set of items that lose points (None: not checked), in addition to `honest`'s.
    zero:     items that must score 0 (what a pure cheat attacks).
    score:    the exact score, or `max_score` an upper bound.
    feedback: {item id, or "error" for the report's error: phrases its feedback must contain}.
    code:     the CLI's exit code.
    absent:   files (relative to the scratch folder) that must not exist afterwards.
    present:  files the trick leaves in the scratch folder when it ran (evidence that it was tried).
    gains:    items a known gap lets the entry keep although the honest solution loses them (README, "Limits
              today"): asserted exactly, so that the gap is visible and cannot grow unnoticed.
    """

    source: str
    base: Optional[str] = None
    honest: Optional[str] = None
    lost: Optional[set] = None
    zero: tuple = ()
    score: Optional[float] = None
    max_score: Optional[float] = None
    feedback: dict = field(default_factory=dict)
    code: int = 0
    absent: tuple = ()
    present: tuple = ()
    gains: set = field(default_factory=set)


EXITS_AT_IMPORT = "the submission exits when imported"
REFUSED = "may not import the grader's or the reference's modules"
REACHING = ("backprop.py line 7: `sys._getframe` reaches into the interpreter (frames, modules, function "
            "internals or code built at run time)")
NOT_A_REPLY = "ended the process that runs your code (it sent something that is not a valid reply"

CASES = {
    # ---------------------------------------------------------------------------------------- fake scores
    "fake_score_print": Case("fake_score_print.py", score=0, zero=EVERYTHING, present=("pids",),
                             feedback={"part2.forward": ["must return a pair (scores, cache), got a NoneType"]}),
    "fake_results_file": Case("fake_results_file.py", score=0, zero=EVERYTHING, present=("targets", "pids"),
                              feedback={"part2.forward": ["not implemented"]}),
    # ------------------------------------------------------------------------------------------- exiting
    "exit_at_import": Case("exit_at_import.py", "correct", score=0, zero=EVERYTHING,
                           feedback={item: [EXITS_AT_IMPORT, "calls exit() at import"] for item in EVERYTHING}),
    "os_exit_at_import": Case("os_exit_at_import.py", "correct", score=0, zero=EVERYTHING,
                              feedback={item: [EXITS_AT_IMPORT] for item in EVERYTHING}),
    "oblique_exit_in_backward": Case(
        "oblique_exit_in_backward.py", "correct", honest="correct",
        lost={"part2.backward_reference", "part2.backward_fd", "part2.regularization", "part2.vectorized", "bonus.dX"},
        zero=("part2.backward_reference", "part2.backward_fd", "part2.regularization", "bonus.dX"),
        feedback={"part2.backward_reference": ["running `backward` ended the process that runs your code",
                                               "did it call exit() or os._exit(), or crash?"]}),
    # ---------------------------------------------------------------------- patching the grader's tools
    "patched_allclose_buggy": Case("patched_allclose_buggy.py", "no_1_over_N", honest="no_1_over_N", lost=set(),
                                   feedback={"part2.loss": ["1/N of the mean is missing"]}),
    "patched_array_equal_inplace": Case(
        "patched_array_equal_inplace.py", "inplace_softmax", honest="inplace_softmax", lost=set(),
        feedback={"part2.loss": ["modified its input `scores` in place"]}),
    "import_grader": Case("import_grader.py", "correct", score=0, zero=EVERYTHING,
                          feedback={item: [REFUSED, "(`import grader`)"] for item in EVERYTHING}),
    "from_grader_import_compare": Case("from_grader_import_compare.py", "correct", score=0, zero=EVERYTHING,
                                       feedback={"part2.forward": [REFUSED, "(`import grader`)",
                                                                    "`from grader import compare`"]}),
    "import_reference": Case("import_reference.py", "correct", score=0, zero=EVERYTHING,
                             feedback={"part2.forward": [REFUSED, "`import reference"]}),
    "conftest_hooks": Case("conftest_hooks", score=0, zero=EVERYTHING, absent=("conftest_loaded",
                                                                            "conftest_report.json"),
                           present=("../submission/conftest.py",),
                           feedback={"part2.forward": ["not implemented"]}),
    "sitecustomize": Case("sitecustomize", "no_1_over_N", honest="no_1_over_N", lost=set(),
                          absent=("sitecustomize_ran", "usercustomize_ran"),
                          feedback={"part2.loss": ["1/N of the mean is missing"]}),
    # --------------------------------------------------------------------------- values that lie
    # The worker sends a float subclass as the float it holds (grader.worker.plain), so its lying comparisons never
    # reach the grader: this entry scores exactly what plain zeros score, nothing (a constant rel_error earns
    # nothing, nor does a grad_check that accepts every buggy backward pass).
    "always_equal": Case("always_equal.py", score=0, zero=EVERYTHING,
                         feedback={"part2.forward": ["must be a NumPy array, got a float"],
                                   "part2.backward_reference": ["grads['W1'] returned by `backward` must be a NumPy "
                                                                "array, got a int"],
                                   "part3.rel_error": ["rel_error returned 0.0 for every probe"],
                                   "part3.grad_check": ["accepted all 15 buggy backward passes"]}),
    "returns_inputs": Case("returns_inputs.py", zero=("part1.shapes", "part2.forward", "part2.loss",
                                                       "part2.backward_reference", "part2.backward_fd",
                                                       "part2.regularization", "bonus.dX",
                                                       "part3.numerical_gradient", "part3.rel_error"),
                           max_score=0,
                           feedback={"part2.forward": ["has shape"]}),
    # ------------------------------------------------------------------------------- processes
    "kill_fork_server": Case("kill_fork_server.py", "correct", honest="correct", lost=set(), score=HONEST_SCORE,
                             present=("killed_parents",)),
    "kill_grader": Case("kill_grader.py", score=0, zero=EVERYTHING, code=1, present=("pids", "sandbox"),
                        feedback={"error": ["the grading process was killed by signal SIGKILL"]}),
    "setsid_survivor": Case("setsid_survivor.py", "correct", honest="correct", lost=set(), score=HONEST_SCORE,
                            present=("pids",)),
    "chain_survivor": Case("chain_survivor.py", "correct", honest="correct", lost=set(), score=HONEST_SCORE,
                           present=("pids",)),
    "threads_left_running": Case("threads_left_running.py", "correct", honest="correct", lost=set(),
                                 score=HONEST_SCORE),
    # The line count runs in the submission's own process, which can rewrite the counter: the grader reads the
    # source first, and what rests on those counts is not awarded to code that reaches into the interpreter.
    "forged_line_count": Case("forged_line_count.py", "loop_forward", honest="loop_forward",
                              lost={"part2.backward_reference", "part2.backward_fd"},
                              zero=("part2.vectorized", "part2.backward_reference", "part2.backward_fd"),
                              feedback={item: [REACHING] for item in ("part2.vectorized", "part2.backward_reference",
                                                                       "part2.backward_fd")}),
    # A known gap: the same with the names computed at run time; forward is not timed, so the loop goes unseen. It
    # gains part2.vectorized and nothing else.
    "forged_line_count_obfuscated": Case("forged_line_count_obfuscated.py", "loop_forward", honest="loop_forward",
                                         lost=set(), gains={"part2.vectorized"}),
    "surrogate_feedback": Case("surrogate_feedback.py", "correct", honest="correct", lost={"part1.shapes"},
                               zero=("part1.shapes",), feedback={"part1.shapes": ["bad \ud800 shape"]}),
    "writes_files": Case("writes_files.py", "correct", honest="correct", lost=set(), score=HONEST_SCORE,
                         present=("sandbox",)),
    # ---------------------------------------------------------------------------- the channel
    "protocol_garbage": Case("protocol_garbage.py", "correct", honest="correct", lost={"part1.shapes"},
                             feedback={"part1.shapes": ["running `shapes` " + NOT_A_REPLY]}),
    "protocol_forged_reply": Case("protocol_forged_reply.py", "correct", honest="correct", lost={"part1.shapes"},
                                  feedback={"part1.shapes": ["running `shapes` " + NOT_A_REPLY]}),
    # --------------------------------------------------------------------------------- resources
    "memory_bomb": Case("memory_bomb.py", "correct", honest="correct",
                        lost={"part3.numerical_gradient", "part3.perturbation", "part3.grad_check"},
                        zero=("part3.numerical_gradient",),
                        feedback={"part3.numerical_gradient": ["`numerical_gradient` ran out of memory",
                                                               "(the limit is 2 GiB)"]}),
    "infinite_loop": Case("infinite_loop.py", "correct", honest="correct", lost={"part4.diagnose"},
                          feedback={"part4.diagnose": ["`diagnose` did not return within 2 s (the time limit per "
                                                       "call)"]}),
    "bare_except_signals": Case("bare_except_signals.py", "correct", honest="correct", lost={"part1.shapes"},
                                feedback={"part1.shapes": ["`shapes` did not return within 2 s (the time limit "
                                                           "per call)"]}),
    "output_bomb": Case("output_bomb.py", "correct", honest="correct", lost={"part1.shapes"},
                        feedback={"part1.shapes": ["`shapes` printed more than 16 MiB"]}),
    "file_bomb": Case("file_bomb.py", "correct", honest="correct", lost={"part4.diagnose"},
                      feedback={"part4.diagnose": ["wrote more output (prints or files) than grading allows"]}),
    # ------------------------------------------------------------------------- broken honest inputs
    "syntax_error": Case("syntax_error.py", "syntax_error", score=0, zero=EVERYTHING,
                         feedback={"part2.forward": ["backprop.py does not compile: SyntaxError at line",
                                                     "unmatched ')'"]}),
    "notebook_training": Case("notebook_training.py", "correct", score=0, zero=EVERYTHING,
                              feedback={"part2.forward": ["took longer than 2 s: does it train or run something "
                                                          "at import?"]}),
    "lists_not_arrays": Case("lists_not_arrays.py", "correct", honest="correct",
                             zero=("part2.forward", "part2.loss", "part2.backward_reference", "part2.backward_fd"),
                             feedback={"part2.forward": ["the scores returned by `forward` must be a NumPy array, "
                                                         "got a list"]}),
    "nan_everywhere": Case("nan_everywhere.py", "correct", honest="correct",
                           zero=("part2.forward", "part2.loss", "part2.backward_reference", "part2.backward_fd",
                                 "part2.regularization", "part3.numerical_gradient", "part3.rel_error",
                                 "part4.diagnose", "bonus.dX")),
    "float32": Case("float32.py", "correct", honest="correct",
                    zero=("part2.forward", "part2.backward_reference"),
                    feedback={"part2.forward": ["float32"]}),
}


# ---------------------------------------------------------------------------------------------------- helpers
def materialize(case: Case, scratch: Path, into: Path) -> Path:
    """Write the corpus entry (file or folder) into `into`, placeholders filled; the path to grade."""
    def fill(text: str) -> str:
        if case.base is not None:
            text = text.replace("# @BASE@\n", BASES[case.base])
        return text.replace("@TMP@", str(scratch))

    source = CORPUS / case.source
    into.mkdir(parents=True)
    if source.is_dir():
        for path in sorted(source.iterdir()):
            if path.is_file():  # NAME.in is written as NAME: a conftest.py kept as such would be loaded by pytest
                (into / path.name.removesuffix(".in")).write_text(fill(path.read_text()))
        assert case.base is None or BASES[case.base] in (into / "backprop.py").read_text(), case.source
        return into
    (into / "backprop.py").write_text(fill(source.read_text()))
    assert case.base is None or BASES[case.base] in (into / "backprop.py").read_text(), case.source
    return into / "backprop.py"


def lost(report: dict) -> set:
    return {i["id"] for i in report["items"] if i["status"] != "manual" and i["score"] < i["max_score"]
            and i["id"] != "bonus.deep"}


def items_of(report: dict) -> dict:
    return {item["id"]: item for item in report["items"]}


def start_time(pid: int) -> Optional[str]:
    """The process's start time (field 22 of /proc/PID/stat), or None when it is gone or a zombie."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] in ("Z", "X") else fields[19]


def survivors(scratch: Path) -> list:
    """Processes the submission recorded (`pid [start time]` per line in scratch/pids) that are still running."""
    alive = []
    pids = scratch / "pids"
    for line in pids.read_text().split("\n") if pids.exists() else ():
        if not line.strip():
            continue
        pid, *start = line.split()
        now = start_time(int(pid))
        if now is not None and (not start or start[0] == now):
            alive.append(int(pid))
    return alive


def grade(name: str, case: Case, root: Path) -> dict:
    scratch = root / name / "scratch"
    scratch.mkdir(parents=True)
    path = materialize(case, scratch, root / name / "submission")
    before = sorted(p.name for p in path.parent.rglob("*")) if path.is_file() else sorted(
        p.name for p in path.rglob("*"))
    started = time.monotonic()
    result = grade_file(path, root / name / "report.json", *LIMITS)
    result.update(elapsed=time.monotonic() - started, scratch=scratch, path=path, files_before=before)
    return result


def problems_of(name: str, case: Case, result: dict, results: dict) -> list:
    """What is wrong with one entry's grading (empty: all as expected)."""
    problems = []
    report = result["report"]
    if result["elapsed"] > TOTAL_TIMEOUT + 20:
        problems.append(f"took {result['elapsed']:.0f} s, more than its limit of {TOTAL_TIMEOUT} s")
    if report is None:
        return problems + [f"no JSON report (exit code {result['code']}): {result['stdout'][-500:]} "
                           f"{result['stderr'][-500:]}"]
    if result["code"] != case.code:
        problems.append(f"exit code {result['code']}, expected {case.code}: {report.get('error')}")
    items = items_of(report)
    for item in report["items"]:
        if "the grader itself failed" in item["feedback"]:
            problems.append(f"{item['id']}: {item['feedback'][:300]}")
    totals = re.findall(r"^Total: (\S+) / 100\b", result["stdout"], flags=re.M)
    if len(totals) != 1 or abs(float(totals[0]) - report["score"]) > 0.01:
        problems.append(f"the CLI printed totals {totals}, the report says {report['score']:g}")
    if case.score is not None and report["score"] != case.score:
        problems.append(f"score {report['score']}, expected {case.score}")
    if case.max_score is not None and report["score"] > case.max_score:
        problems.append(f"score {report['score']}, more than {case.max_score}")
    if case.honest is not None:
        honest = results[f"honest_{case.honest}"]["report"]
        gained = sum(item["max_score"] - item["score"] for item in honest["items"] if item["id"] in case.gains)
        if report["score"] > honest["score"] + gained:
            problems.append(f"score {report['score']}, more than the honest solution's {honest['score']}"
                            + (f" plus the known gap's {gained:g}" if gained else ""))
        expected = (lost(honest) - case.gains) | (case.lost or set())
        if case.lost is not None and lost(report) != expected:
            problems.append(f"lost {sorted(lost(report))}, expected {sorted(expected)} (the honest solution's losses "
                            f"plus {sorted(case.lost)}, minus the known gap's {sorted(case.gains)})")
    elif case.lost is not None and lost(report) != case.lost:
        problems.append(f"lost {sorted(lost(report))}, expected {sorted(case.lost)}")
    for item_id in case.zero:
        if items[item_id]["score"] != 0:
            problems.append(f"{item_id} scored {items[item_id]['score']}, expected 0 ({items[item_id]['feedback']})")
    for where, phrases in case.feedback.items():
        text = report.get("error") or "" if where == "error" else items[where]["feedback"]
        for phrase in phrases:
            if phrase not in text:
                problems.append(f"{where}: feedback lacks {phrase!r}: {text[:400]!r}")
    return problems


def leftovers_of(name: str, case: Case, result: dict) -> list:
    """What the submission left behind after the wait: processes, files outside the sandbox, a tampered report."""
    problems = []
    scratch = result["scratch"]
    alive = survivors(scratch)
    if alive:
        problems.append(f"processes still running: {alive}")
    for relative in case.absent:
        if (scratch / relative).exists():
            problems.append(f"{relative} exists: code beside the submission ran")
    for relative in case.present:
        if not (scratch / relative).exists():
            problems.append(f"{relative} is missing: the trick never ran, so this entry tests nothing")
    path = result["path"]
    after = sorted(p.name for p in path.parent.rglob("*")) if path.is_file() else sorted(
        p.name for p in path.rglob("*"))
    if after != result["files_before"]:
        problems.append(f"the submission's own folder changed: {sorted(set(after) - set(result['files_before']))}")
    sandbox = scratch / "sandbox"
    if sandbox.exists() and Path(sandbox.read_text()).exists():
        problems.append(f"the sandbox {sandbox.read_text()} was not removed")
    report_path = path.parent.parent / "report.json" if path.is_file() else path.parent / "report.json"
    if result["report"] is not None:
        final = json.loads(report_path.read_text())
        if final != result["report"]:
            problems.append(f"the report changed after the CLI wrote it: {json.dumps(final)[:200]}")
    if "FAKE-REPORT" in json.dumps(result["report"]):
        problems.append("the report is the submission's fake")
    return problems


# ------------------------------------------------------------------------------------------------------ tests
def test_corpus_covers_every_entry():
    entries = {p.name for p in CORPUS.iterdir() if not p.name.startswith((".", "__"))}
    assert entries == {case.source for case in CASES.values()}
    assert len(entries) >= 20


def test_adversarial_corpus(tmp_path, subtests):
    """Every corpus entry, graded through the CLI in parallel with the honest yardsticks; one wait for survivors."""
    jobs = {f"honest_{name}": Case("", None) for name in YARDSTICKS}
    jobs.update(CASES)
    for name in YARDSTICKS:
        (tmp_path / "honest" / name).mkdir(parents=True)
        (tmp_path / "honest" / name / "backprop.py").write_text(BASES[name])
    results: dict = {}
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = {}
            for name, case in sorted(jobs.items(), key=lambda job: job[0] not in SLOW):
                if name.startswith("honest_"):
                    futures[name] = pool.submit(_grade_honest, name, tmp_path)
                else:
                    futures[name] = pool.submit(grade, name, case, tmp_path)
            results = {name: future.result() for name, future in futures.items()}
        time.sleep(SURVIVOR_WAIT)
        leftovers = {name: leftovers_of(name, case, results[name]) for name, case in CASES.items()}
    finally:
        for name in CASES:
            scratch = tmp_path / name / "scratch"
            if scratch.exists():
                (scratch / "stop").write_text("stop")
                _kill_recorded(scratch)
    honest = results["honest_correct"]["report"]
    assert honest["score"] == HONEST_SCORE and lost(honest) == set(), results["honest_correct"]["stdout"]
    assert lost(results["honest_no_1_over_N"]["report"]) == NO_1_OVER_N_LOST
    assert lost(results["honest_inplace_softmax"]["report"]) == {"part2.loss"}
    assert lost(results["honest_loop_forward"]["report"]) == {"part2.vectorized"}
    for name, case in CASES.items():
        with subtests.test(msg=name):
            problems = problems_of(name, case, results[name], results) + leftovers[name]
            assert not problems, f"{name}:\n  " + "\n  ".join(problems)


#: Entries that wait for a time limit: started first, so the pool ends sooner.
SLOW = {"infinite_loop", "bare_except_signals", "notebook_training", "memory_bomb"}


def _grade_honest(name: str, root: Path) -> dict:
    started = time.monotonic()
    result = grade_file(root / "honest" / name.removeprefix("honest_") / "backprop.py", root / f"{name}.json",
                        *LIMITS)
    result["elapsed"] = time.monotonic() - started
    return result


def _kill_recorded(scratch: Path) -> None:
    """Clean up after a failure: SIGKILL what the submission recorded (the chain also stops at scratch/stop), and
    remove a sandbox the grader left behind."""
    for pid in survivors(scratch):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    recorded = scratch / "sandbox"
    if recorded.exists():
        sandbox = Path(recorded.read_text()).parent
        if sandbox.name.startswith("backprop-grader-sandbox-"):
            shutil.rmtree(sandbox, ignore_errors=True)


# ------------------------------------------------------------------------------------------- under --run-as
RUN_AS_USER = "bpg-student"
FORK_BOMB = BASE + '''

def grad_check(backward_fn, X, y, params, reg=0.0, eps=1e-5):
    import os
    import time
    with open("@TMP@/pids", "a") as f:
        f.write(f"{os.getpid()}\\n")
    while True:  # every process forks again; RLIMIT_NPROC of the dedicated user ends it
        try:
            os.fork()
        except OSError:
            time.sleep(0.001)
'''


def _run_as_user(name: str = RUN_AS_USER) -> pwd.struct_passwd:
    """A dedicated unprivileged user (created when missing); skips unless this is root with useradd."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("useradd") is None:
        pytest.skip("needs root and useradd, to create a dedicated unprivileged user for --run-as")
    try:
        return pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
                       capture_output=True, text=True)
    return pwd.getpwnam(name)


def _processes_of(uid: int) -> list:
    """Live processes whose real, effective or saved uid is `uid` (from /proc/PID/status, not the folder's owner)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*"):
        try:
            uids = next(line for line in (entry / "status").read_text().splitlines() if line.startswith("Uid:"))
        except (OSError, StopIteration):
            continue
        if str(uid) in uids.split()[1:4] and start_time(int(entry.name)) is not None:
            found.append(int(entry.name))
    return found


def grade_as(path: Path, report_path: Path, user: str, repo: Path = REPO, rubric: Optional[Path] = None) -> dict:
    """Grade under --run-as USER through the CLI when it has the flag; otherwise through pytest with the plugin's
    --grade-run-as, the way grader/cli.py runs its child pytest (a fresh process in its own session, bounded, and
    everything it left killed afterwards). `repo`: where the grader (and the reference) are imported from; `rubric`:
    another rubric than the bundled one (the CLI only)."""
    env = {"PYTHONPATH": str(repo)}
    if "--run-as" in run_cli("grade", "--help", env=env).stdout:
        started = time.monotonic()
        result = run_cli("grade", str(path), "--json", str(report_path), *FAST_LIMITS, *LIMITS, "--run-as", user,
                         *(["--rubric", str(rubric)] if rubric else []), cwd=repo, env=env)
        return {"code": result.returncode, "stdout": result.stdout, "via": "cli", "elapsed": time.monotonic() - started,
                "report": json.loads(report_path.read_text()) if report_path.exists() else None}
    work = Path(tempfile.mkdtemp(prefix="bpg-run-as-"))
    (work / "pytest.ini").write_text("[pytest]\n")
    command = [sys.executable, "-m", "pytest", "-p", "grader.plugin", "-p", "pytest_timeout", "-p", "no:cacheprovider",
               "-q", "-rN", "-c", str(work / "pytest.ini"), "--rootdir", str(work),
               "--confcutdir", str(repo / "grader" / "grading_tests"), "--submission", str(path),
               "--grade-json", str(report_path), "--grade-timeout", "20", "--grade-import-timeout", "2",
               "--grade-call-timeout", "2", "--grade-no-timing", "--grade-run-as", user]
    child_env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                 "PYTHONDONTWRITEBYTECODE": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONPATH": str(repo)}
    started = time.monotonic()
    process = subprocess.Popen(command, cwd=work, env=child_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, start_new_session=True, text=True)
    try:
        stdout, _ = process.communicate(timeout=TOTAL_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        stdout, _ = process.communicate()
    elapsed = time.monotonic() - started
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:
        pass
    shutil.rmtree(work, ignore_errors=True)
    return {"code": process.returncode, "stdout": stdout, "via": "pytest --grade-run-as", "elapsed": elapsed,
            "report": json.loads(report_path.read_text()) if report_path.exists() else None}


@pytest.fixture
def run_as_lock():
    """The tests under --run-as share one user: the grader kills every process of it, so they run one at a time."""
    import fcntl
    with open(Path(tempfile.gettempdir()) / "bpg-run-as-tests.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield _run_as_user()


def test_fork_bomb_is_bounded_under_run_as(tmp_path, request, run_as_lock):
    """A fork bomb in grad_check: RLIMIT_NPROC of the dedicated user bounds it, the call's time limit ends it, every
    process of the user is killed, and only grad_check loses points."""
    user = run_as_lock
    scratch = Path(tempfile.mkdtemp(prefix="bpg-fork-bomb-"))  # under /tmp: the unprivileged worker can reach it
    os.chmod(scratch, 0o777)
    request.addfinalizer(lambda: shutil.rmtree(scratch, ignore_errors=True))
    (scratch / "pids").touch(mode=0o666)  # root's: what the run-as user owns in /tmp is removed after grading
    os.chmod(scratch / "pids", 0o666)
    path = tmp_path / "bomb" / "backprop.py"
    path.parent.mkdir()
    path.write_text(FORK_BOMB.replace("@TMP@", str(scratch)))
    result = grade_as(path, tmp_path / "report.json", user.pw_name)
    report = result["report"]
    assert report is not None, result["stdout"][-2000:]
    time.sleep(SURVIVOR_WAIT)
    left = _processes_of(user.pw_uid)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"processes of {user.pw_name} survived grading: {left}"
    assert result["elapsed"] < TOTAL_TIMEOUT
    assert (scratch / "pids").read_text(), "the fork bomb never ran"
    assert report["protections"]["run_as"] == user.pw_name and report["protections"]["process_limit"]
    items = items_of(report)
    assert lost(report) == {"part3.grad_check"}, (result["via"], {i: items[i]["feedback"][:300] for i in lost(report)})
    assert "`grad_check` did not return within 2 s (the time limit per call)" in items["part3.grad_check"]["feedback"]


READS_REFERENCE = '''"""A correct solution that looks for the reference solution through the fork server's command line
(the grader's folder is its argument) and tries to read it, and to write beside the grader's report."""
import os

def _ancestors():
    pid = os.getppid()
    while pid > 1:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\\0")]
            with open(f"/proc/{pid}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            return
        yield argv
        pid = parent

for _argv in _ancestors():
    if "--fork-server" in _argv:
        _path = os.path.join(_argv[_argv.index("--fork-server") - 1], "reference", "backprop.py")
        try:
            with open(_path) as _f:
                print("REFERENCE: READ", len(_f.read()), "characters of", _path)
        except OSError as _error:
            print("REFERENCE: unreadable", type(_error).__name__, _path)
    for _flag in ("--grade-json", "--json"):
        if _flag in _argv:
            _target = os.path.join(os.path.dirname(_argv[_argv.index(_flag) + 1]), "written-by-the-submission")
            try:
                with open(_target, "w") as _f:
                    _f.write("fake")
                print("WROTE", _target)
            except OSError as _error:
                print("NOT WRITTEN", type(_error).__name__, _target)
'''


def test_reference_is_not_readable_under_run_as_from_a_private_folder(tmp_path, run_as_lock):
    """With the grader (and its reference) in a folder private to root, a submission running as the dedicated user
    finds the reference's path but cannot read it, cannot write beside the report, and still earns its score."""
    user = run_as_lock
    private = Path(tempfile.mkdtemp(prefix="bpg-private-grader-"))  # 0700, root's
    try:
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        for folder in ("grader", "reference", "rubrics"):
            shutil.copytree(REPO / folder, private / folder, ignore=ignore)
        assert os.stat(private).st_mode & 0o077 == 0
        path = tmp_path / "reader" / "backprop.py"
        path.parent.mkdir()
        path.write_text(READS_REFERENCE + BASE)
        report_path = tmp_path / "out" / "report.json"
        report_path.parent.mkdir()
        result = grade_as(path, report_path, user.pw_name, repo=private)
        report = result["report"]
        assert report is not None, result["stdout"][-2000:]
        assert Path(report["rubric"]).resolve().is_relative_to(private.resolve())  # the private copy graded it
        output = report.get("output") or ""
        assert "REFERENCE: unreadable PermissionError" in output and "REFERENCE: READ" not in output, output
        assert f"{private}/reference/backprop.py" in output  # it did find where the reference is
        assert report["protections"]["grader_readable"] == []
        assert "reference not readable" in report["protections"]["summary"]
        assert "NOT WRITTEN PermissionError" in output and "WROTE" not in output
        assert not (report_path.parent / "written-by-the-submission").exists()
        assert report["score"] == HONEST_SCORE, {i: items_of(report)[i]["feedback"][:300] for i in lost(report)}
        assert not _processes_of(user.pw_uid)
    finally:
        shutil.rmtree(private, ignore_errors=True)


SABOTEUR = """
import os, signal, threading, time


def _kill_the_others():  # every other process of this user: another student's worker, when they share it
    while True:
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) != os.getpid():
                try:
                    if os.stat("/proc/" + entry).st_uid == os.getuid():
                        os.kill(int(entry), signal.SIGKILL)
                except OSError:
                    pass
        time.sleep(0.02)


threading.Thread(target=_kill_the_others, daemon=True).start()
"""


def test_batch_under_run_as_gives_each_running_grading_its_own_user(tmp_path, run_as_lock):
    """With --run-as U1,U2 --jobs 2 a submission that kills every process of its user cannot touch the other
    grading's worker; with one user for two jobs the batch grades one at a time (and says so). (Three items are
    enough: the saboteur is at work from its import on.)"""
    users = f"{run_as_lock.pw_name},{_run_as_user(RUN_AS_USER + '2').pw_name}"
    folder = tmp_path / "class"
    folder.mkdir()
    (folder / "saboteur.py").write_text(BASE + SABOTEUR)
    (folder / "victim.py").write_text(BASE)
    rubric = rubric_of(tmp_path, lambda item: item in ("part1.shapes", "part2.forward", "part2.backward_reference"))
    for run_as, out in ((users, tmp_path / "two"), (run_as_lock.pw_name, tmp_path / "one")):
        result = run_cli("batch", str(folder), "--out", str(out), "--jobs", "2", *FAST_LIMITS, *LIMITS,
                         "--run-as", run_as, "--rubric", str(rubric))
        assert result.returncode == 0, result.stderr
        victim = json.loads((out / "reports" / "victim.json").read_text())
        assert len(victim["items"]) == 3 and lost(victim) == set(), [i["feedback"] for i in victim["items"]]
    assert "grading 1 at a time" in result.stderr


#: Where everyone may write on usual Linux systems (/var/lock is usually a link to /run/lock).
SHARED_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock")
LEAVES_FILES = """
import os
for _folder in @FOLDERS@:
    if not os.path.isdir(_folder):
        continue
    try:
        with open(os.path.join(_folder, "@NAME@"), "w") as _f:
            _f.write("answers for the next grading")
        os.makedirs(os.path.join(_folder, "@NAME@-dir", "deeper"), exist_ok=True)
        if not os.path.lexists(os.path.join(_folder, "@NAME@-dir", "deeper", "link")):  # imported once per worker
            os.symlink("/etc/passwd", os.path.join(_folder, "@NAME@-dir", "deeper", "link"))
    except OSError as _error:
        print("NOT WRITTEN", _folder, _error)
"""


def test_files_left_in_shared_folders_are_removed_under_run_as(tmp_path, run_as_lock):
    """What a submission run as the dedicated user writes where everyone may write (/tmp, /var/tmp, /dev/shm,
    /run/lock) could pass answers to a later grading as that user: it is removed after grading. Nobody else's file is
    touched."""
    name = f"bpg-left-{os.getpid()}-{time.monotonic_ns()}"
    bystander = Path("/tmp") / f"{name}-bystander"  # the grader's own user's: must stay
    bystander.write_text("not the submission's")
    try:
        path = tmp_path / "leaves" / "backprop.py"
        path.parent.mkdir()
        path.write_text(LEAVES_FILES.replace("@NAME@", name).replace("@FOLDERS@", repr(SHARED_FOLDERS)) + BASE)
        rubric = rubric_of(tmp_path, lambda item: item in ("part1.shapes", "part3.rel_error"))  # two workers
        report = grade_as(path, tmp_path / "report.json", run_as_lock.pw_name, rubric=rubric)["report"]
        assert report is not None and report["score"] == 8 + 4
        assert "NOT WRITTEN" not in (report.get("output") or "")
        for folder in SHARED_FOLDERS:
            if Path(folder).is_dir():
                assert not (Path(folder) / name).exists() and not (Path(folder) / f"{name}-dir").exists(), folder
        assert bystander.read_text() == "not the submission's" and Path("/etc/passwd").exists()
    finally:
        bystander.unlink()
