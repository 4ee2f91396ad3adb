"""`backprop-grader gradescope [--root DIR]`: the entry point inside Gradescope's autograder container.

Gradescope puts the student's upload in DIR/submission (DIR is /autograder), runs run_autograder, and reads
DIR/results/results.json. This command grades the upload as `grade` does and ALWAYS writes a valid results.json: a
missing or empty upload, an upload without a .py file, a bad rubric or an unknown --run-as user give score 0 and an
`output` saying what is wrong (every rubric item listed at 0 when the rubric loaded), and results.json is written
in every case. Exit codes: 0 graded, or the upload could not be graded (the student's mistake: results.json tells
the student why); 1 the grader itself failed; 2 the instructor's usage error (a bad rubric, an unknown user).
"""
from __future__ import annotations

import argparse
import stat
import sys
import tempfile
import time
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Optional

from grader import student
from grader.cli import UsageError, check_run_as, grade_source, load_rubric_option, warn_default_salt
from grader.report import Report, format_table, show, write_gradescope
from grader.rubric import Rubric, RubricError
from grader.scoring import failure_report

#: Entries of an upload that are not the student's files (added by zip tools and file managers).
IGNORED = ("__MACOSX",)
#: Bounds on a zip found in the upload (far more than a backprop.py submission needs): files, and bytes unpacked
#: (counted as they are written, whatever the zip's headers claim: a zip bomb stops here).
ZIP_MAX_FILES = 200
ZIP_MAX_BYTES = 20 * 2**20
CHUNK = 2**16


def find_upload(folder: Path, filename: str, scratch: Optional[Path] = None,
                shown_as: str = "your upload") -> student.SubmissionSource:
    """The submission in Gradescope's upload folder: the folder itself, or the single folder it holds when the
    student uploaded a zipped folder (Gradescope unzips uploads), or, when the folder holds a single .zip and
    `scratch` is given, that zip unpacked into scratch (other platforms, and this command run by hand, leave it
    zipped). Raises SubmissionNotFound saying what is wrong, in the student's terms: the folder is `shown_as`, a
    zip is named, never a path of the grader's (the scratch folder is a temporary one)."""
    if not folder.is_dir():
        raise student.SubmissionNotFound(f"nothing was uploaded ({folder} does not exist)")
    entries = [path for path in folder.iterdir() if not path.name.startswith(".") and path.name not in IGNORED]
    if not entries:
        raise student.SubmissionNotFound("the upload is empty")
    if len(entries) == 1 and entries[0].is_dir():
        return find_upload(entries[0], filename, scratch, f"{shown_as}'s folder {entries[0].name}")
    if len(entries) == 1 and entries[0].suffix.lower() == ".zip" and scratch is not None:
        unpack_zip(entries[0], scratch)
        return find_upload(scratch, filename, shown_as=f"your zip {entries[0].name}")  # a zip in it stays zipped
    return student.locate(folder, filename, shown_as)


def unpack_zip(archive_path: Path, folder: Path) -> None:
    """Unpack an uploaded zip into `folder` (existing, empty), refusing what could write elsewhere or fill the disk:
    absolute paths, `..`, links and other special files, more than ZIP_MAX_FILES files or ZIP_MAX_BYTES bytes.
    Raises SubmissionNotFound saying what is wrong (nothing is graded from a refused zip)."""
    name = archive_path.name
    try:
        with zipfile.ZipFile(archive_path) as archive:
            members = [info for info in archive.infolist() if not info.is_dir()]
            if len(members) > ZIP_MAX_FILES:
                raise student.SubmissionNotFound(f"{name} holds {len(members)} files (at most {ZIP_MAX_FILES})")
            budget = ZIP_MAX_BYTES
            for info in members:
                budget = _unpack_member(archive, info, folder / _safe_relative(info, name), budget, name)
    except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError, ValueError) as error:
        raise student.SubmissionNotFound(f"{name} could not be unzipped ({error})") from None


def _safe_relative(info: zipfile.ZipInfo, name: str) -> PurePosixPath:
    """The member's path inside the zip, when it stays inside the folder and is a regular file."""
    path = PurePosixPath(info.filename.replace("\\", "/"))
    kind = stat.S_IFMT(info.external_attr >> 16) if info.create_system == 3 else 0
    if path.is_absolute() or ".." in path.parts or ":" in info.filename or not path.parts:
        raise student.SubmissionNotFound(f"{name} holds a path outside its folder ({info.filename!r})")
    if kind not in (0, stat.S_IFREG):
        raise student.SubmissionNotFound(f"{name} holds a link or special file ({info.filename!r})")
    return path


def _unpack_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, budget: int, name: str) -> int:
    """Write one member, counting the bytes really unpacked against `budget`; the budget left."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with archive.open(info) as source, open(target, "xb") as sink:
        while chunk := source.read(CHUNK):
            budget -= len(chunk)
            if budget < 0:
                raise student.SubmissionNotFound(f"{name} unpacks to more than {ZIP_MAX_BYTES // 2**20} MiB")
            sink.write(chunk)
    return budget


def run_gradescope(args: argparse.Namespace) -> int:
    """Grade args.root/submission into args.root/results/results.json; the exit code (see the module's doc)."""
    with tempfile.TemporaryDirectory(prefix="backprop-grader-upload-") as scratch:  # an uploaded zip, unpacked
        return _grade_upload(args, Path(scratch))


def _grade_upload(args: argparse.Namespace, scratch: Path) -> int:
    """run_gradescope's work; `scratch`: an empty folder for an uploaded zip's files, removed afterwards."""
    results = Path(args.root) / "results" / "results.json"
    started = time.monotonic()
    rubric: Optional[Rubric] = None
    try:
        rubric = load_rubric_option(args)
        check_run_as(args.run_as)
        source = find_upload(Path(args.root) / "submission", rubric.submission, scratch)
    except student.SubmissionNotFound as error:  # the student's upload, not the instructor's command line
        _write_failure(results, rubric, f"Your submission could not be graded: {error}. Upload "
                                        f"{rubric.submission} (the file itself, or a zip holding it).", started)
        print(f"backprop-grader: {error} (results.json says so to the student)", file=sys.stderr)
        return 0
    except (RubricError, UsageError) as error:
        _write_failure(results, rubric, f"The autograder is misconfigured ({error}); please tell your instructor.",
                       started)
        print(f"backprop-grader: {error}", file=sys.stderr)
        return 2
    warn_default_salt(rubric)
    report, log, elapsed = grade_source(source, rubric, args)
    write_gradescope(report, results, rubric.visibility(), elapsed)  # first: nothing printed may keep it from us
    show(format_table(report))  # Gradescope keeps stdout for the instructor (stdout_visibility: hidden)
    show(protections_note(report, args.run_as))
    if report.error:
        show(log)
    return 1 if report.error else 0


def protections_note(report: Report, run_as: Optional[str]) -> str:
    """The report's protections line for staff (stdout), with a loud warning when the submission ran as the
    unprivileged user and could still read the reference: then the image leaks the solution (setup.sh's chmod did
    not take), and nothing in the students' results would show it."""
    protections = report.protections
    if not protections:
        return "Protections: unknown (the submission was never loaded)"
    note = f"Protections: {protections.get('summary', '')}"
    readable = protections.get("grader_readable")
    if run_as and readable:
        note += (f"\n\n!!! WARNING: the submission, running as {run_as}, can READ THE REFERENCE SOLUTION "
                 f"({', '.join(readable)}). Make it private to root in the image (setup.sh: "
                 f"`python -I -m grader.package --private-paths | xargs -0 chmod -R go-rwx`, run from /). !!!")
    return note


def _write_failure(path: Path, rubric: Optional[Rubric], message: str, started: float) -> None:
    """results.json with score 0 and `message` as its output; every rubric item at 0 when there is a rubric."""
    report = (failure_report(rubric, None, str(path.parent.parent / "submission"), message) if rubric else
              Report(score=0.0, max_score=0.0, seed=None, error=message))
    write_gradescope(report, path, rubric.visibility() if rubric else {}, time.monotonic() - started, message)
