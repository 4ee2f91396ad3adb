"""Command line: `backprop-grader grade SUBMISSION ...`, `batch DIR --out FOLDER ...`, `gradescope [--root DIR]` (the
Gradescope container's entry), `package -o autograder.zip` and `kit -o FOLDER` (also `python -m grader ...`).

`grade` runs the grading tests through pytest in a child process (one process per submission: a fresh interpreter,
no module caching between submissions, and a crash or hang of the run cannot take the CLI down), bounded by the
rubric's total time limit. Whatever happens, a report is produced.

Exit codes: 0 a report was produced (whatever the score); 1 the grader itself failed (a report saying so is still
written); 2 a usage or rubric error.
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

import grader
from grader import processes, sources
from grader.report import Report, explain_missing_writeup, format_table, show, write_gradescope, write_json
from grader.rubric import (
    GRADING_TESTS_DIR,
    RUBRIC_HELP,
    Rubric,
    RubricError,
    default_rubric_path,
    find_rubric,
    load_rubric,
    seconds_value,
)
from grader.scoring import failure_report
from grader.seeding import SEED_VARIABLE, derive_seed, seed_value
from grader.writeup import find_writeup

if TYPE_CHECKING:  # grader.batch is imported by `batch` only
    from grader.batch import Entry

#: Output of the grading process kept for error reports, in characters.
LOG_TAIL = 4000
#: Bounds on the grading process (it runs the submission): address space, and the size of any file it writes
#: (its captured output included: printing gigabytes ends the run instead of filling the disk).
MEMORY_LIMIT = 4 * 2**30
OUTPUT_LIMIT = 64 * 2**20
#: Pin BLAS to one thread: timings stay stable under load, and memory limits see one thread's buffers.
CHILD_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
             "PYTHONDONTWRITEBYTECODE": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}


#: The option that overrides each of the rubric's time limits (`time_limits:`), as messages name it.
LIMIT_OPTIONS = {"test": "--timeout", "import": "--import-timeout", "call": "--call-timeout",
                 "total": "--total-timeout"}
#: A line of pytest's progress (-q): a character per grading test (. F E s x X), maybe its percentage. Nothing a
#: reader of a report can use: left out of the output a failure report shows.
PROGRESS_LINE = re.compile(r"[.FEsxX]+(\s+\[\s*\d+%\])?")


#: What `grade` writes, by option, as named in the example of a usage error.
OUTPUT_NAMES = {"--json": "report.json", "--gradescope": "results.json"}


class UsageError(Exception):
    """A command line that cannot run (exit code 2), e.g. an unknown --run-as user."""


def _grading_options(command: argparse.ArgumentParser) -> None:
    """The options `grade`, `batch` and `gradescope` share: the rubric, its limits, and the user code runs as."""
    command.add_argument("--rubric", type=Path, help=f"{RUBRIC_HELP} (default: rubrics/backprop.yaml)")
    command.add_argument("--timeout", type=seconds_value, metavar="S",
                         help="override the rubric's seconds per grading test")
    command.add_argument("--import-timeout", type=seconds_value, metavar="S",
                         help="override the rubric's import limit")
    command.add_argument("--call-timeout", type=seconds_value, metavar="S",
                         help="override the rubric's limit for one call of a student function")
    command.add_argument("--total-timeout", type=seconds_value, metavar="S",
                         help="override the rubric's limit for grading one submission")
    command.add_argument("--no-timing", action="store_true", help="skip the timing part of part2.vectorized (for "
                                                                   "tests that must not depend on the machine's speed)")
    command.add_argument("--run-as", metavar="USER", help="run the submission's code as this unprivileged user "
                                                          "(when the grader runs as root)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="backprop-grader", description=_first_paragraph(__doc__))
    parser.add_argument("--version", action="version", version=f"backprop-grader {grader.__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    grade = commands.add_parser("grade", help="grade one submission and print the score table")
    grade.add_argument("submission", type=Path, help="a .py file, or a folder holding the rubric's file name")
    grade.add_argument("--json", type=Path, metavar="FILE", help="write the JSON report here")
    grade.add_argument("--gradescope", type=Path, metavar="FILE", help="write Gradescope's results.json here")
    grade.add_argument("--seed", type=seed_value, help="input seed, 0 to 2**32-1 (default: derived from the "
                                                     "submission and the salt)")
    grade.add_argument("-v", "--verbose", action="store_true", help="also show pytest's own output")
    _grading_options(grade)
    batch = commands.add_parser("batch", help="grade every submission in a folder: gradebook, reports, summary")
    batch.add_argument("folder", type=Path, help="one .py file or folder per student (or a Gradescope export)")
    batch.add_argument("--out", type=Path, required=True, metavar="FOLDER", help="where the gradebook goes")
    batch.add_argument("--jobs", type=int, default=os.cpu_count() or 1,
                       help="submissions graded at once (default: %(default)s, the number of CPUs)")
    _grading_options(batch)
    gradescope = commands.add_parser("gradescope", help="the Gradescope container's entry: grade ROOT/submission "
                                                        "into ROOT/results/results.json")
    gradescope.add_argument("--root", type=Path, default=Path("/autograder"), metavar="DIR",
                            help="the autograder folder (default: /autograder)")
    _grading_options(gradescope)
    package = commands.add_parser("package", help="build the autograder.zip Gradescope expects")
    package.add_argument("--rubric", type=Path,
                         help=f"the rubric bundled in the zip: {RUBRIC_HELP} (default: rubrics/backprop.yaml)")
    package.add_argument("-o", "--output", type=Path, required=True, metavar="ZIP", help="the zip to write")
    package.add_argument("--allow-default-salt", action="store_true",
                         help="build even though the rubric has the bundled, public salt (to try the zip only)")
    kit = commands.add_parser("kit", help="build the student kit: template, public checks, sample values")
    kit.add_argument("--rubric", type=Path,
                     help=f"the rubric the kit is derived from: {RUBRIC_HELP} (default: rubrics/backprop.yaml)")
    kit.add_argument("-o", "--output", type=Path, required=True, metavar="FOLDER", help="the kit folder to write")
    return parser


def _first_paragraph(text: str) -> str:
    """The first paragraph of a docstring, for --help: its first line alone stops mid-sentence."""
    return " ".join(text.split("\n\n")[0].split())


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    if args.command == "gradescope":
        from grader.gradescope import run_gradescope
        return run_gradescope(args)
    try:
        rubric = load_rubric_option(args)
        if args.command == "package":
            return _package(args, rubric)
        if args.command == "kit":
            return _kit(args, rubric)
        check_run_as(args.run_as)
        if args.run_as and "," in args.run_as and args.command != "batch":
            raise UsageError("--run-as takes one user here (several, comma-separated, only for batch)")
        if args.command == "batch":
            return _batch(args, rubric)
        source = sources.locate(args.submission, rubric.submission)
        for option in OUTPUT_NAMES:  # before grading: a report that cannot be written is no report
            check_output_file(option, getattr(args, option[2:]))
    except (RubricError, sources.SubmissionNotFound, UsageError) as error:
        print(f"backprop-grader: {error}", file=sys.stderr)
        return 2
    warn_default_salt(rubric)
    report, log, elapsed = grade_source(source, rubric, args)
    if args.json:  # the reports first: nothing printed may keep them from being written
        write_json(report, args.json)
    if args.gradescope:
        write_gradescope(report, args.gradescope, rubric.visibility(), elapsed)
    if args.verbose:
        show(log)
    show(format_table(report))
    return 1 if report.error else 0


def load_rubric_option(args: argparse.Namespace) -> Rubric:
    """The rubric named by --rubric (a file or a bundled rubric's name; default rubrics/backprop.yaml), with the
    command line's time limits applied. Raises RubricError."""
    path = find_rubric(args.rubric) if args.rubric else default_rubric_path()
    if not path.exists():
        raise RubricError(f"--rubric {args.rubric}: no such file, nor a bundled rubric of that name (bundled: "
                          f"{', '.join(bundled_rubrics()) or 'none installed'})")
    rubric = load_rubric(path)
    return rubric.with_time_limits(test=getattr(args, "timeout", None), total=getattr(args, "total_timeout", None),
                                   call=getattr(args, "call_timeout", None),
                                   **{"import": getattr(args, "import_timeout", None)})


def bundled_rubrics() -> list[str]:
    """The names --rubric accepts besides a file: the bundled rubrics, without .yaml."""
    try:
        return sorted(path.stem for path in default_rubric_path().parent.glob("*.yaml"))
    except RubricError:  # none installed
        return []


def check_output_file(option: str, path: Optional[Path]) -> None:
    """Raise UsageError unless `path` (the value of `option`, None when absent) can be written as a file: not a
    folder, in a folder that exists."""
    if path is None:
        return
    if path.is_dir():
        raise UsageError(f"{option} {path}: is a folder; give a file name (e.g. {path / OUTPUT_NAMES[option]})")
    if not path.parent.is_dir():
        problem = "is not a folder" if path.parent.exists() else "does not exist"
        raise UsageError(f"{option} {path}: {path.parent} {problem}")


def check_run_as(user: Optional[str]) -> None:
    """Raise UsageError unless --run-as is absent or names a user of this system: better a clear refusal now than
    a grading process that cannot drop its privileges."""
    if user is None:
        return
    try:
        import pwd
    except ImportError:
        raise UsageError("--run-as is not supported on this system (it has no POSIX user database)") from None
    for name in user.split(","):
        try:
            pwd.getpwnam(name)
        except KeyError:
            raise UsageError(f"--run-as {name}: no such user on this system") from None


def has_default_salt(rubric: Rubric) -> bool:
    """Whether the rubric still has the bundled placeholder salt: its seeds, so its inputs, are then public."""
    return rubric.salt.startswith("change-me")


def warn_default_salt(rubric: Rubric) -> None:
    """Warn on stderr when the rubric still has the bundled placeholder salt (its inputs are then public)."""
    if has_default_salt(rubric):
        print(f"backprop-grader: warning: {rubric.path} still has the default salt; set a private one so that "
              f"inputs cannot be precomputed", file=sys.stderr)


def grade_source(source: sources.SubmissionSource, rubric: Rubric,
                 args: argparse.Namespace) -> tuple[Report, str, float]:
    """Grade one located submission as the command line says (seed, timing, user); (report, log, seconds)."""
    seed = getattr(args, "seed", None)
    seed = derive_seed(source.files, rubric.salt) if seed is None else seed
    started = time.monotonic()
    report, log = run_grading(source, rubric, seed, timed=not args.no_timing, run_as=args.run_as)
    return report, log, time.monotonic() - started


def _batch(args: argparse.Namespace, rubric: Rubric) -> int:
    """Grade a folder. With --run-as USER1,USER2,... each grading running at once has a user of its own: gradings
    run as one user could signal each other's processes, and the end of one kills every process of its user."""
    from grader.batch import group_note, name_clashes, not_submissions, reports_without_submission, run_batch
    entries = batch_entries(args)
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as error:  # a file on the way, no permission
        raise UsageError(f"--out {args.out}: cannot make the folder ({error.strerror})") from None
    warn_default_salt(rubric)
    for warning in name_clashes(entries):
        print(f"backprop-grader: warning: {warning}", file=sys.stderr)
    groups = group_note(entries)
    if groups:
        print(f"backprop-grader: {groups}", file=sys.stderr)
    skipped = not_submissions(args.folder)
    if skipped:
        print(f"backprop-grader: warning: {_count(len(skipped), 'file')} in {args.folder} not graded (a submission "
              f"is a .py file or a folder): {', '.join(skipped)}", file=sys.stderr)
    users = queue.Queue()
    jobs = args.jobs
    names = args.run_as.split(",") if args.run_as else [None] * max(1, jobs)  # a token per grading running at once
    for name in names:
        users.put(name)
    if args.run_as and len(names) < jobs:
        print(f"backprop-grader: warning: --jobs {jobs} needs {jobs} users for --run-as (one per grading running at "
              f"once), {len(names)} given: grading {len(names)} at a time", file=sys.stderr)
        jobs = len(names)

    def run(*arguments, **keywords):
        user = users.get()
        try:
            return run_grading(*arguments, run_as=user, **keywords)
        finally:
            users.put(user)
    results = run_batch(entries, args.out, rubric, jobs, not args.no_timing, run)
    reused = {entry.path: results[entry.student][1] for entry in entries}  # per submission: a group's is one
    graded = sum(1 for kept in reused.values() if not kept)
    students = f" ({_count(len(results), 'student')})" if len(results) != len(reused) else ""
    print(f"{_count(len(reused), 'submission')}{students}: {graded} graded, {len(reused) - graded} kept from an "
          f"earlier run. Gradebook: {args.out / 'gradebook.csv'}; summary: {args.out / 'summary.md'}"
          f"{_orphans_note(reports_without_submission(args.out, set(results)))}")
    return 0


def _orphans_note(students: list[str]) -> str:
    """The end of batch's last line when reports/ holds reports of students no longer in the folder (kept)."""
    if not students:
        return ""
    has = "has" if len(students) == 1 else "have"
    return (f". {_count(len(students), 'report')} in reports/ {has} no submission any more (kept, not in the "
            f"gradebook): {', '.join(students)}")


def _count(number: int, noun: str) -> str:
    """"1 file", "2 files"."""
    return f"{number} {noun}{'' if number == 1 else 's'}"


def batch_entries(args: argparse.Namespace) -> list[Entry]:
    """The submissions `batch` grades, once its command line is checked: raises UsageError or
    SubmissionNotFound, before anything is graded or written."""
    from grader.batch import find_submissions
    if args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs}: the number of submissions graded at once is 1 or more")
    if not args.folder.is_dir():
        raise sources.SubmissionNotFound(f"{args.folder}: not a folder")
    if args.out.exists() and not args.out.is_dir():
        raise UsageError(f"--out {args.out}: is a file; give a folder (made when it does not exist)")
    entries = find_submissions(args.folder)
    if not entries:
        raise UsageError(f"no submissions in {args.folder} (a .py file or a folder per student)")
    return entries


def _package(args: argparse.Namespace, rubric: Rubric) -> int:
    from grader.package import SourceTreeMissing, build_package
    if args.output.is_dir():
        raise UsageError(f"-o {args.output}: is a folder; give the zip's file name (e.g. "
                         f"{args.output / 'autograder.zip'})")
    if has_default_salt(rubric) and not args.allow_default_salt:  # a real assignment's seeds must not be public
        raise UsageError(f"{rubric.path} still has the default, public salt: anyone could precompute the grading "
                         f"inputs. Copy rubrics/backprop.yaml (or the rubric you use), set its `salt:` to a private "
                         f"string, and pass the copy with --rubric (or add --allow-default-salt to build a zip only "
                         f"for trying it out)")
    warn_default_salt(rubric)
    try:
        names = build_package(rubric, args.output)
    except SourceTreeMissing as error:
        raise UsageError(str(error)) from None
    print(f"{args.output}: {len(names)} files (setup.sh, run_autograder, {rubric.path.name} as rubric.yaml, the "
          f"grader's source). {_package_use(rubric)}")
    return 0


def _package_use(rubric: Rubric) -> str:
    """What the zip `package` built is for: a real assignment's autograder, or, with the public default salt
    (--allow-default-salt), trying it out only."""
    if has_default_salt(rubric):
        return ("It is for trying the autograder out only: its rubric has the default, public salt, so anyone can "
                "precompute its grading inputs. For an assignment, set a private salt and build it again.")
    return "Upload it as the assignment's autograder."



def _kit(args: argparse.Namespace, rubric: Rubric) -> int:
    from grader.kit import build_kit
    try:
        kit_rubric = build_kit(rubric, args.output)
    except ImportError as error:
        raise UsageError(f"the kit's sample values come from the reference solution, which is not installed "
                         f"({error})") from None
    except (FileExistsError, ValueError) as error:
        raise UsageError(str(error)) from None
    print(f"{args.output}: the student kit ({len(kit_rubric['items'])} public items). Students run `pytest` in it.")
    return 0


def pytest_command(source: sources.SubmissionSource, rubric: Rubric, seed: int, work_dir: Path, timed: bool = True,
                   run_as: Optional[str] = None) -> list[str]:
    """The child pytest command line that grades `source`; it writes its JSON report to work_dir/report.json. The
    seed is not on it (any user can read a command line in /proc): it goes in the environment, SEED_VARIABLE."""
    limits = rubric.time_limits
    command = [sys.executable, "-m", "pytest", "-p", "grader.plugin", "-p", "pytest_timeout",
               "-p", "no:cacheprovider", "-q", "-rN", "-c", str(work_dir / "pytest.ini"), "--rootdir", str(work_dir),
               "--confcutdir", str(GRADING_TESTS_DIR), "--submission", str(source.given),
               "--rubric", str(rubric.path), "--grade-json", str(work_dir / "report.json"),
               "--grade-timeout", str(limits["test"]), "--grade-import-timeout", str(limits["import"]),
               "--grade-call-timeout", str(limits["call"])]
    if not timed:
        command.append("--grade-no-timing")
    if run_as is not None:
        command += ["--grade-run-as", run_as]
    return command


def run_grading(source: sources.SubmissionSource, rubric: Rubric, seed: int, timed: bool = True,
                run_as: Optional[str] = None) -> tuple[Report, str]:
    """Grade in a child pytest process; (report, the tail of its output). Never raises for the submission's sake.
    run_as: the user the submission's code runs as (the plugin's --grade-run-as), checked by check_run_as."""
    processes.become_subreaper()
    with tempfile.TemporaryDirectory(prefix="backprop-grader-") as work:
        work_dir = Path(work)
        report_path = work_dir / "report.json"
        (work_dir / "pytest.ini").write_text("[pytest]\n")
        limits = rubric.time_limits
        command = pytest_command(source, rubric, seed, work_dir, timed, run_as)
        env = {**os.environ, **CHILD_ENV,
               "PYTHONPATH": os.pathsep.join(filter(None, [str(Path(grader.__file__).resolve().parent.parent),
                                                          os.environ.get("PYTHONPATH")])),
               "TMPDIR": work,  # the workers' sandboxes go in here: removed below even if grading is killed
               SEED_VARIABLE: str(seed)}
        if run_as is not None:
            os.chmod(work_dir, 0o711)  # the user can reach its sandbox inside, not list or read the rest
        log_path = work_dir / "pytest.log"
        with open(log_path, "wb") as log_file:
            with _ACTIVE_LOCK:
                process = subprocess.Popen(command, cwd=work_dir, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                                           stdin=subprocess.DEVNULL, **_child_options())
                _ACTIVE.add(process.pid)
            try:
                code = process.wait(timeout=limits["total"])
                problem = None if code in (0, 1) else _exit_reason(code)
            except subprocess.TimeoutExpired:
                problem = f"grading did not finish within {limits['total']:g} s ({limit_source(rubric, 'total')})"
            _kill_group(process)  # also whatever the submission started in the background
        log = _tail(log_path)
        report = _read_report(report_path)
        if report is None:
            reason = problem or "the grading process wrote no report"
            output = readable_output(log)
            report = failure_report(rubric, seed, str(source.module_path),
                                    f"{reason}. Last output:\n{output}" if output else f"{reason}.",
                                    find_writeup(source))
            return explain_missing_writeup(report, source.module_path), log
        return report, log


def limit_source(rubric: Rubric, name: str) -> str:
    """Where time limit `name` (a key of time_limits) came from, in a message's words: the command line's option
    or the rubric."""
    if name in rubric.overridden:
        return f"the limit set by {LIMIT_OPTIONS[name]}"
    return f"the rubric's {name} limit, time_limits: {name} in {rubric.path.name}"


def readable_output(log: str) -> str:
    """The grading process's output as a failure report shows it: without pytest's progress lines."""
    return "\n".join(line for line in log.splitlines() if line.strip() and not PROGRESS_LINE.fullmatch(line.strip()))


def _child_options() -> dict:
    """Popen keywords of the grading process: a group of its own, so that it is killed with what it started, and on
    POSIX its resource limits (Windows has no preexec_fn: there the grading process itself runs unbounded)."""
    options = processes.new_session()
    if not processes.WINDOWS:
        options["preexec_fn"] = _bounded
    return options


def _bounded() -> None:
    """In the grading process, before it starts: cap memory and file sizes, no core dumps (POSIX only)."""
    try:
        import resource
    except ImportError:
        return
    for limit, value in ((resource.RLIMIT_AS, MEMORY_LIMIT), (resource.RLIMIT_FSIZE, OUTPUT_LIMIT),
                         (resource.RLIMIT_CORE, 0)):
        resource.setrlimit(limit, (value, value))


def _exit_reason(code: int) -> str:
    if code == -getattr(signal, "SIGXFSZ", 0):
        return f"the submission wrote more than {OUTPUT_LIMIT // 2**20} MiB (printed output or files)"
    if code < 0:
        return f"the grading process was killed by signal {signal.Signals(-code).name}"
    return f"the grading process exited with code {code}"


def _read_report(path: Path) -> Optional[Report]:
    try:
        return Report.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _kill_group(process: subprocess.Popen) -> None:
    """Kill the grading process and everything left of it; `batch` runs several at once: leave the others alone."""
    with _ACTIVE_LOCK:
        _ACTIVE.discard(process.pid)

    def others() -> set:
        with _ACTIVE_LOCK:
            return set(_ACTIVE)
    processes.kill_tree(process.pid, process.wait, others)


_ACTIVE: set = set()  # grading processes running now (children of this process that are not orphans)
_ACTIVE_LOCK = threading.Lock()


def _tail(path: Path) -> str:
    data = path.read_bytes()
    text = data[-LOG_TAIL:].decode("utf-8", errors="replace")
    return text if len(data) <= LOG_TAIL else "..." + text
