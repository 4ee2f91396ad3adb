"""Grade a whole class: `backprop-grader batch DIR --out FOLDER [--jobs N]`.

Every entry of DIR (a .py file or a folder) is one student, named after it (other files are not graded: a warning
names them); a Gradescope "export submissions" folder (with submission_metadata.yml) is read too, naming each
submission folder after its submitter (a group submission is graded once; each member gets its report and a row).
Entries whose names clash (`a b.py` and `a_b.py`, `carl.py` and `carl/`, one sid twice) are all graded, as name,
name-2, ..., with a warning. A folder without a file to grade is that student's mistake: a report with score 0 says
what it holds.
Submissions are graded in parallel processes (one grading process each, as `grade` does), with a progress line.
FOLDER gets:
  reports/<student>.json  the `grade --json` report, plus "files" (sha256 of every file) and "rubric_sha256"
  gradebook.csv           student, one column per autograded item, total
  summary.md              score histogram, per-item pass rates, the most common mistakes by cause code
  summary.png             the same as pictures (only with matplotlib installed: the optional extra "plots")
Run again into the same FOLDER, it keeps every report that is complete and matches the current files and rubric,
and grades the rest; reports of students no longer in DIR are left in reports/, and named. One broken or hanging
submission never stops the batch: grading is bounded per submission.
"""
from __future__ import annotations

import csv
import hashlib
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import yaml

from grader import student
from grader.mutants import MUTANTS
from grader.report import ItemResult, Report, write_atomically
from grader.rubric import Rubric
from grader.seeding import derive_seed

METADATA = "submission_metadata.yml"
#: Words for the cause codes in summary.md (the codes themselves are in every report's items). A code missing here
#: is named by the mutant it matched (grader.mutants), else shown as it is; tests/test_batch.py checks the coverage.
CAUSE_WORDS = {
    # the backward pass, by signature (grader.checks.causes) or by the mutant it matches
    "missing_1_over_N": "the 1/N of the mean missing", "double_1_over_N": "the 1/N applied twice",
    "grads_1_over_N_of_loss": "gradients averaged but the loss summed", "sign_flipped": "gradients of the wrong sign",
    "constant_factor": "gradients off by a constant factor", "sum_instead_of_mean": "the loss summed, not averaged",
    "relu_mask": "a wrong ReLU mask", "relu_mask_from_dh1": "the ReLU mask built from the upstream gradient",
    "no_relu_mask": "no ReLU mask", "no_relu_in_forward": "a ReLU mask in backward but no ReLU in forward",
    "bias_averaged": "bias gradients averaged instead of summed", "transposed": "a transposed gradient",
    "layer1": "layer 1's gradients wrong", "layer2": "layer 2's gradients wrong", "unknown": "an unexplained mismatch",
    "dscores_wrong": "dscores wrong", "dX_wrong": "dX wrong (bonus)", "deep_wrong": "deep_backward wrong (bonus)",
    # forward, loss, stability, regularization
    "no_relu": "no ReLU in forward", "no_b1": "b1 left out of forward", "no_b2": "b2 left out of forward",
    "forward_wrong": "forward's scores wrong", "loss_wrong": "the loss wrong",
    "not_softmax": "a loss that is not a softmax cross-entropy", "constant_loss": "a constant loss",
    "ignores_input": "outputs that ignore the input", "not_finite": "inf or nan outputs",
    "unstable_softmax": "softmax without the row-max shift", "log_of_probability": "the log of a probability",
    "reg_missing_in_grad": "reg·W missing from dW", "reg_doubled_in_grad": "reg·W doubled in dW",
    "reg_halved_in_grad": "reg·W halved in dW", "reg_convention": "the other reg convention",
    "reg_loss_wrong": "the regularization loss wrong",
    "float32": "float32 instead of float64", "float32_precision": "float32 rounding somewhere",
    "dtype": "a wrong dtype", "wrong_shape": "a wrong shape", "bad_output": "outputs of the wrong type",
    "modifies_input": "in-place edits of the inputs", "shapes": "wrong shapes in part 1",
    "loops_over_batch": "a loop over the batch", "numerical_not_analytic": "a numerical backward pass",
    "hidden_work": "work done outside the calling thread (not checkable)",
    "not_working": "functions that do not work yet (vectorization not judged)",
    "tampering": "switches the measurement off",
    "wrong_when_measured": "other results when measured than the reference's or a plain call's",
    "reaches_into_interpreter": "code that reaches into the interpreter (frames, modules)",
    # the gradient checker (part 3) and diagnose (part 4)
    "one_sided": "one-sided differences", "not_central": "differences that are not central",
    "ignores_eps": "numerical_gradient ignores eps", "numgrad_inaccurate": "an inaccurate numerical gradient",
    "all_zeros": "a numerical gradient of zeros", "never_perturbs": "x never perturbed",
    "perturbs_many": "several entries perturbed at once", "perturbs_copy": "a copy of x perturbed",
    "not_restored": "x not restored by numerical_gradient",
    "not_restored_on_exception": "x not restored when f raises", "swallows_exception": "f's exception swallowed",
    "floored_at_1": "rel_error floored at 1", "nan_on_zero": "rel_error nan for 0 vs 0",
    "not_max": "rel_error not the max over entries", "not_symmetric": "rel_error not symmetric",
    "rel_error_wrong": "rel_error wrong", "no_tolerance": "no GRAD_CHECK_TOL",
    "tolerance_out_of_range": "GRAD_CHECK_TOL out of range", "rejects_correct": "grad_check rejects a correct backward",
    "accepts_everything": "grad_check accepts everything", "misses_bugs": "grad_check misses bugs",
    "diagnose_wrong": "diagnose mislabels cases", "diagnose_inconsistent": "diagnose contradicts itself",
    # the submission as a whole
    "not_implemented": "not implemented", "missing": "a function missing", "raised": "raises an exception",
    "import_failed": "does not import", "not_attempted": "bonus not attempted", "timeout": "too slow (timed out)",
    "python2": "Python 2 code", "import_timeout": "runs something long at import",
    "exits_at_import": "exits when imported", "missing_module": "imports a module that is not installed",
    "worker_died": "crashes or exits while graded", "memory_limit": "out of memory", "output_limit": "too much output",
    "submission_not_found": "no file to grade (e.g. two .py files, none named as the rubric's)",
}


#: Causes named from a mismatch's shape alone (grader.checks.causes): the same bug of backward gets one of these from
#: part2.backward_fd and, from part2.backward_reference, the known mistake (a MUTANTS kind) it reproduces exactly
#: (a 1/N applied twice is grads_1_over_N_of_loss against the student's own loss).
SIGNATURE_CAUSES = {"relu_mask", "layer1", "layer2", "transposed", "constant_factor", "sign_flipped", "unknown",
                    "grads_1_over_N_of_loss"}
#: The grading tests that judge backward's gradients: one bug of backward is seen by each of their items.
GRADIENT_TESTS = frozenset({"test_part2_reference.py::test_backward_matches_reference",
                            "test_part2_fd.py::test_backward_matches_finite_differences"})


#: Causes that are no mistake: an optional bonus left out.
NOT_MISTAKES = frozenset({"not_attempted"})


def gradient_items(rubric: Rubric) -> frozenset[str]:
    """The ids of the rubric's items that judge backward's gradients (GRADIENT_TESTS)."""
    return frozenset(item.id for item in rubric.items if GRADIENT_TESTS & set(item.tests))


def student_causes(report: Report, gradient_ids: frozenset[str]) -> set[str]:
    """The causes of one student's failed items, each mistake once. When an item judging backward's gradients
    (`gradient_ids`) recognised the known mistake they reproduce exactly, the signatures those items name are that
    mistake seen again (one ReLU mask built from dh1 is not also "a wrong ReLU mask") and are left out. A known
    mistake named by another item says nothing about backward: part2.loss's missing 1/N leaves a ReLU mask bug of
    backward counted."""
    failed = [item for item in report.items
              if item.cause and item.status != "passed" and item.cause not in NOT_MISTAKES]
    known = any(item.cause in MUTANTS for item in failed if item.id in gradient_ids)
    return {item.cause for item in failed
            if not (known and item.id in gradient_ids and item.cause in SIGNATURE_CAUSES)}


def cause_words(code: str) -> str:
    """What cause `code` means, for people."""
    return CAUSE_WORDS.get(code) or MUTANTS.get(code) or code


@dataclass(frozen=True)
class Entry:
    """One submission of the class: the name it is graded under (its report's and gradebook row's), its path, and,
    when another entry had that name first, the name it would have had."""

    student: str
    path: Path
    clashes_with: Optional[str] = None


def find_submissions(folder: Path) -> list[Entry]:
    """One entry per .py file or folder in `folder` (hidden ones and the metadata file left out), named after it;
    in a Gradescope export, one entry per submitter of each submission folder (a group's members share its folder).
    Every entry gets a name of its own: see distinct_names."""
    names = _gradescope_names(folder)
    found = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith((".", "_")) or path.name == METADATA:
            continue
        if path.is_dir() or path.suffix == ".py":
            found += [(_safe(name), path) for name in names.get(path.name, [_stem(path)])]
    return distinct_names(found)


def not_submissions(folder: Path) -> list[str]:
    """The files of `folder` that find_submissions leaves out because they are neither a .py file nor a folder
    (notes.txt, a zip): hidden ones and the export's metadata file are not counted."""
    return [path.name for path in sorted(folder.iterdir())
            if path.is_file() and path.suffix != ".py" and not path.name.startswith((".", "_"))
            and path.name != METADATA]


def reports_without_submission(out: Path, students: set[str]) -> list[str]:
    """The students of reports in `out`/reports whose submission is no longer graded (removed from the folder since
    an earlier run): their reports are left as they are."""
    reports = out / "reports"
    if not reports.is_dir():
        return []
    return sorted(path.stem for path in reports.glob("*.json")
                  if not path.name.startswith(".") and path.stem not in students)


def distinct_names(found: list[tuple[str, Path]]) -> list[Entry]:
    """Entries for (name, path) pairs whose names may clash (`a b.py` and `a_b.py` are both a_b, `carl.py` and
    `carl/` both carl, two export folders may have one sid): an entry whose file or folder is named exactly so keeps
    the name first, then the others in order of their path's name, so a second run gives the same names; the next
    ones get name-2, name-3, ... (never a name another entry has). In the order of `found` (sorted by path; the
    members of a group submission, one path, in the order of the export's metadata)."""
    taken = {name for name, _ in found}
    given: dict[int, Entry] = {}
    first: set[str] = set()
    for index in sorted(range(len(found)), key=lambda i: (_stem(found[i][1]) != found[i][0], found[i][1].name, i)):
        name, path = found[index]
        if name not in first:
            first.add(name)
            given[index] = Entry(name, path)
            continue
        number = 2
        while f"{name}-{number}" in taken:
            number += 1
        taken.add(f"{name}-{number}")
        given[index] = Entry(f"{name}-{number}", path, clashes_with=name)
    return [given[index] for index in range(len(found))]


def _stem(path: Path) -> str:
    """What an entry is named after when it is not in a Gradescope export: a file's stem, a folder's name."""
    return path.stem if path.is_file() else path.name


def name_clashes(entries: list[Entry]) -> list[str]:
    """One warning per name several entries had, naming them and the names they are graded under."""
    clashing = {entry.clashes_with for entry in entries if entry.clashes_with}
    warnings = []
    for name in sorted(clashing):
        group = [entry for entry in entries if name in (entry.student, entry.clashes_with)]
        listed = ", ".join(f"{entry.path.name} as {entry.student}" for entry in group)
        warnings.append(f"{len(group)} submissions would be named {name}: each is graded under a name of its own "
                        f"({listed})")
    return warnings


def by_submission(entries: list[Entry]) -> dict[Path, list[Entry]]:
    """{path: its entries}: one entry per student, several for a Gradescope group submission (one per member),
    which is graded once; each member gets the report and a gradebook row."""
    by_path: dict[Path, list[Entry]] = {}
    for entry in entries:
        by_path.setdefault(entry.path, []).append(entry)
    return by_path


def group_submissions(entries: list[Entry]) -> dict[Path, list[Entry]]:
    """{path: its entries} for every path several entries share (see by_submission)."""
    return {path: group for path, group in by_submission(entries).items() if len(group) > 1}


def group_note(entries: list[Entry]) -> Optional[str]:
    """One line naming the group submissions (entries sharing a path), graded once each, and their members."""
    groups = group_submissions(entries)
    if not groups:
        return None
    listed = ", ".join(f"{path.name} ({', '.join(entry.student for entry in group)})" for path, group in groups.items())
    count = f"{len(groups)} group submission{'s' if len(groups) != 1 else ''}"
    return f"{count}, each graded once, with a report and a gradebook row for every member: {listed}"


def _gradescope_names(folder: Path) -> dict[str, list[str]]:
    """{submission folder: its submitters} from Gradescope's submission_metadata.yml, each named by sid, else email,
    else name, else the folder's name. A group submission lists several submitters."""
    path = folder / METADATA
    if not path.is_file():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    names = {}
    for submission, meta in data.items():
        submitters = (meta or {}).get(":submitters") or (meta or {}).get("submitters") or []
        if submitters:
            names[str(submission)] = [_submitter_name(submitter, str(submission)) for submitter in submitters]
    return names


def _submitter_name(submitter: dict, submission: str) -> str:
    """One submitter of the export's metadata by sid, else email, else name, else the submission folder's name."""
    fields = {str(key).lstrip(":"): value for key, value in (submitter or {}).items()}
    return str(fields.get("sid") or fields.get("email") or fields.get("name") or submission)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.@" else "_" for c in name) or "student"


def file_hashes(source: student.SubmissionSource) -> dict[str, str]:
    root = source.given if source.given.is_dir() else source.given.parent
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest() for path in source.files}


def _reusable(report_path: Path, hashes: dict, rubric: Rubric) -> Optional[Report]:
    """The earlier report when it is complete (every item of the rubric, once, adding up to its score) and was made
    from these files and this rubric."""
    try:
        data = json.loads(report_path.read_text(encoding="utf-8"))
        if data.get("files") != hashes or data.get("rubric_sha256") != rubric.digest or data.get("error"):
            return None
        report = Report.from_json(data)
        ids = [item.id for item in report.items]
        earned = sum(float(item.score) for item in report.items if item.status != "manual")
        if sorted(ids) != sorted(item.id for item in rubric.items) or abs(earned - float(report.score)) > 1e-6:
            return None
        return report
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def grade_one(entry: Entry, rubric: Rubric, out: Path, timed: bool,
              run: Callable) -> tuple[Entry, Report, bool]:
    """(entry, report, reused?) for one student; a submission without a file to grade gets a report saying so."""
    report_path = out / "reports" / f"{entry.student}.json"
    try:
        source = student.locate(entry.path, rubric.submission)
    except student.SubmissionNotFound as error:
        report = not_found_report(rubric, entry, str(error))
        write_atomically(report_path, json.dumps({**report.to_json(), "files": {},
                                                  "rubric_sha256": rubric.digest}, indent=2) + "\n")
        return entry, report, False
    hashes = file_hashes(source)
    earlier = _reusable(report_path, hashes, rubric)
    if earlier is not None:
        return entry, earlier, True
    report, _ = run(source, rubric, derive_seed(source.files, rubric.salt), timed=timed)
    write_atomically(report_path, json.dumps({**report.to_json(), "files": hashes, "rubric_sha256": rubric.digest},
                                             indent=2) + "\n")
    return entry, report, False


def not_found_report(rubric: Rubric, entry: Entry, message: str) -> Report:
    """The report of a submission with no file to grade (a folder with two .py files, none of them the rubric's, or
    none): the student's mistake, not the grader's. Score 0, every autograded item failed saying what was found."""
    from grader.scoring import make_report, score_item
    feedback = f"not graded: {message}"
    items = [score_item(item, []) if item.manual else
             ItemResult(item.id, item.title, 0.0, item.points, "failed", feedback, cause="submission_not_found")
             for item in rubric.items]
    return make_report(rubric, items, None, str(entry.path))


class Progress:
    """done/total, rate and time left, on one line of stderr."""

    def __init__(self, total: int, stream=sys.stderr):
        self.total, self.done, self.kept, self.started, self.stream = total, 0, 0, time.monotonic(), stream
        self.lock = threading.Lock()

    def step(self, kept: bool = False) -> None:
        """One more submission done; `kept`: its earlier report was reused (it does not count in the rate)."""
        with self.lock:
            self.done += 1
            self.kept += kept
            elapsed = time.monotonic() - self.started
            graded = self.done - self.kept
            rate = graded / elapsed if elapsed > 0 and graded else 0.0
            left = (self.total - self.done) / rate if rate > 0 else 0.0
            kept_note = f", {self.kept} kept from the last run" if self.kept else ""
            speed = f" {rate * 60:.1f} submissions/min, {left:.0f} s left" if graded else ""  # none graded: no rate
            self.stream.write(f"\r[{self.done}/{self.total}{kept_note}]{speed}   ")
            if self.done == self.total:
                self.stream.write("\n")
            self.stream.flush()


def run_batch(entries: list[Entry], out: Path, rubric: Rubric, jobs: int, timed: bool, run: Callable) -> dict:
    """Grade every entry (find_submissions: their names are distinct) into `out`; {student: (report, reused?)}.
    The members of a group submission (entries sharing a path) are graded once, as the first of them: each of the
    others gets a copy of that report under its own name, and a gradebook row."""
    members = by_submission(entries)
    progress = Progress(len(members))
    results = {}
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:  # each job waits on its own grading process
        futures = [pool.submit(grade_one, group[0], rubric, out, timed, run) for group in members.values()]
        for future in as_completed(futures):
            entry, report, reused = future.result()
            for member in members[entry.path]:
                if member is not entry:
                    copy_report(out, entry, member)
                results[member.student] = (report, reused)
            progress.step(kept=reused)
    results = dict(sorted(results.items()))
    write_gradebook(out / "gradebook.csv", rubric, results)
    write_summary(out, rubric, results)
    return results


def copy_report(out: Path, graded: Entry, member: Entry) -> None:
    """reports/<member>.json: the report of `graded`, a member of the same group submission, as it is."""
    reports = out / "reports"
    write_atomically(reports / f"{member.student}.json",
                     (reports / f"{graded.student}.json").read_text(encoding="utf-8"))


def _cents(points: float) -> str:
    """Points to two decimals, without trailing zeros: 8, 2.67, 95.47."""
    return f"{round(points, 2):g}"


def write_gradebook(path: Path, rubric: Rubric, results: dict) -> None:
    items = [item.id for item in rubric.items if not item.manual]
    with open(path, "w", newline="", encoding="utf-8") as stream:
        writer = csv.writer(stream)
        writer.writerow(["student", *items, "total"])
        for name, (report, _) in results.items():
            scores = {item.id: item.score for item in report.items}
            writer.writerow([name, *(_cents(scores.get(i, 0)) for i in items), _cents(report.score)])


def write_summary(out: Path, rubric: Rubric, results: dict) -> None:
    """summary.md (and summary.png with matplotlib): histogram, per-item pass rates, most common causes."""
    reports = [report for report, _ in results.values()]
    max_score = max((r.max_score for r in reports), default=0) or 1
    bins = [0] * 10
    for report in reports:
        bins[min(int(10 * report.score / max_score), 9)] += 1
    lines = [f"# {rubric.title}: {len(reports)} submissions", "",
             "## Scores", "", "| score | students |", "|---|---|"]
    lines += [f"| {10 * i}–{10 * (i + 1)}%{' (bonus points above 100% included)' if i == 9 else ''} | {count} |"
              for i, count in enumerate(bins)]
    lines += ["", "## Items", "", "| item | passed | partial | failed | error | mean score |",
              "|---|---|---|---|---|---|"]
    rates = {}
    for item in (i for i in rubric.items if not i.manual):
        found = [next((x for x in r.items if x.id == item.id), None) for r in reports]
        found = [x for x in found if x is not None]
        counts = {s: sum(1 for x in found if x.status == s) for s in ("passed", "partial", "failed", "error")}
        mean = sum(x.score for x in found) / len(found) if found else 0.0
        rates[item.id] = counts["passed"] / len(found) if found else 0.0
        lines.append(f"| {item.id} | {counts['passed']} | {counts['partial']} | {counts['failed']} | "
                     f"{counts['error']} | {mean:.2f} / {item.points:g} |")
    causes: dict = {}
    judging_gradients = gradient_items(rubric)
    for name, (report, _) in results.items():
        for cause in student_causes(report, judging_gradients):
            causes.setdefault(cause, set()).add(name)
    lines += ["", "## Most common mistakes", ""]
    lines += [f"- {cause_words(cause)} (`{cause}`): {len(names)} student{'s' if len(names) != 1 else ''}"
              for cause, names in sorted(causes.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:15]] or ["- none"]
    picture = _plot(out / "summary.png", bins, rates)
    lines += ["", "![scores and pass rates](summary.png)" if picture else
              '(No summary.png: matplotlib is not installed. The optional extra "plots" adds it: `pip install '
              '".[plots]"` in the grader\'s source folder.)']
    write_atomically(out / "summary.md", "\n".join(lines) + "\n")


def _plot(path: Path, bins: list, rates: dict) -> bool:
    """The score histogram (the same ten bins as summary.md) and the share passing each item, as a PNG."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
    except ImportError:
        return False
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4))
    left.bar([10 * i + 5 for i in range(10)], bins, width=9.5, color="tab:blue")
    left.set(title="Scores", xlabel="% of the maximum score (bonus above 100% in the last bar)", ylabel="students",
             xlim=(0, 100))
    left.yaxis.set_major_locator(MaxNLocator(integer=True))  # whole students
    right.barh(list(rates), [100 * v for v in rates.values()], color="tab:green")
    right.set(title="Passed, per item", xlabel="% of students", xlim=(0, 100))
    right.invert_yaxis()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return True
