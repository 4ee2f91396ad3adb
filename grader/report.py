"""Reports: the JSON report, Gradescope's results.json, and the score table printed for people."""
from __future__ import annotations

import json
import os
import secrets
import shutil
import sys
import textwrap
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Optional

#: "not run": the item's tests were left out of a pytest run filtered with -k, -m, -x, ... (never in a run of the
#: command line, which does not filter), not an error.
STATUSES = ("passed", "failed", "partial", "error", "manual", "not run")


@dataclass
class ItemResult:
    id: str
    title: str
    score: float
    max_score: float
    status: str  # one of STATUSES
    feedback: str
    cause: Optional[str] = None


@dataclass
class Report:
    score: float  # autograded points earned, bonus included
    max_score: float  # autograded points available, bonus excluded
    seed: Optional[int]
    items: list = field(default_factory=list)
    submission: str = ""
    rubric: str = ""
    grader_version: str = ""
    error: Optional[str] = None  # set when grading itself failed
    writeup: Optional[dict] = None  # {"source", "text"}: what the manual items are graded on
    output: Optional[str] = None  # what the submission printed (bounded), for the student to see
    protections: Optional[dict] = None  # which isolation the worker had (grader.worker.client.describe_protections)
    #: Only in a pytest run filtered with -k, -x, ... (grader.plugin): {"reason": the options, e.g. "-k rel_error",
    #: "max_score": the points of the items that ran, bonus excluded, "items": how many items did not run at all,
    #: "partly": how many ran only some of their tests}.
    not_run: Optional[dict] = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["items"] = [{k: v for k, v in asdict(item).items() if k != "cause" or v} for item in self.items]
        for optional in ("error", "writeup", "output", "protections", "not_run"):
            if data[optional] is None:
                del data[optional]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Report:
        items = [ItemResult(**{k: item.get(k) for k in ItemResult.__dataclass_fields__ if k in item or k == "cause"})
                 for item in data["items"]]
        return cls(**{**{k: data.get(k) for k in cls.__dataclass_fields__ if k in data}, "items": items})


def explain_missing_writeup(report: Report, module: Path) -> Report:
    """`report` with its manual items' feedback saying, when no write-up was found, why (the module docstring of
    `module`, the submission's file, is still the template's, or there is none) and where the write-up goes."""
    if report.writeup is not None:
        return report
    from grader.writeup import why_no_writeup
    feedback = f"graded by hand; {why_no_writeup(module)}"
    report.items = [replace(item, feedback=feedback) if item.status == "manual" else item for item in report.items]
    return report


def write_atomically(path: Path, text: str) -> None:
    """Write via a temporary file and a rename, so a reader never sees half a report. The file gets the permissions
    of any file its user creates (0666 less the umask: 0644 usually), as the gradebook and summary.png do: reports
    hold nothing the gradebook beside them does not. (tempfile.mkstemp would make them 0600 by accident.) On failure
    (a folder at `path`, a full disk) the temporary file is removed and the error raised."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = _new_temporary(path)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _new_temporary(path: Path) -> tuple[int, Path]:
    """(descriptor, path) of a new, empty file beside `path`, created with mode 0666 so that the umask applies."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)  # O_BINARY: Windows, as mkstemp
    while True:
        temporary = path.parent / f".{path.name}.{secrets.token_hex(6)}"
        try:
            return os.open(temporary, flags, 0o666), temporary
        except FileExistsError:  # that name is taken: draw another
            continue


def show(text: str, stream=None) -> None:
    """Print for people, whatever the text holds (a lone surrogate from a student's exception, a terminal that is
    not UTF-8): what cannot be encoded is escaped, never an error that stops the reports being written."""
    stream = stream or sys.stdout
    encoding = getattr(stream, "encoding", None) or "utf-8"
    stream.write(text.encode(encoding, "backslashreplace").decode(encoding) + "\n")
    stream.flush()


def write_json(report: Report, path: Path) -> None:
    write_atomically(path, json.dumps(report.to_json(), indent=2) + "\n")


def gradescope_results(report: Report, visibility: dict[str, str], execution_time: float,
                       output: str = "") -> dict[str, Any]:
    """Gradescope's results.json: manual items are left out (graded by hand there); bonus items keep their points."""
    tests = [{
        "name": f"{item.id}: {item.title}",
        "number": str(number),
        "score": item.score,
        "max_score": item.max_score,
        "status": "passed" if item.status == "passed" else "failed",
        "output": item.feedback or ("passed" if item.status == "passed" else ""),
        "visibility": visibility.get(item.id, "visible"),
    } for number, item in enumerate((i for i in report.items if i.status != "manual"), start=1)]
    results = {
        "score": report.score,
        "execution_time": round(execution_time, 3),
        "output": output or summary_line(report) + (f"\n\nWhat your code printed:\n{report.output}"
                                                    if report.output else ""),
        "stdout_visibility": "hidden",
        "tests": tests,
    }
    return results


def write_gradescope(report: Report, path: Path, visibility: dict[str, str], execution_time: float,
                     output: str = "") -> None:
    results = gradescope_results(report, visibility, execution_time, output)
    write_atomically(path, json.dumps(results, indent=2) + "\n")


def summary_line(report: Report) -> str:
    """"Total: 70 / 100 (bonus points included; seed N)": the bonus note only where the rubric has bonus items (the
    student kit has none: there it would promise points that do not exist). In a run filtered with -k or -x, the
    total is that of the items run, and says so: "Total: 4 / 4 of the items run (seed N); 9 items not run (-k x)"."""
    bonus = "bonus points included; " if _has_bonus(report) else ""
    if report.not_run:
        text = (f"Total: {_points(report.score)} / {_points(report.not_run['max_score'])} of the items run "
                f"({bonus}seed {report.seed}); {_not_run_counts(report.not_run)} ({report.not_run['reason']})")
    else:
        text = f"Total: {_points(report.score)} / {_points(report.max_score)} ({bonus}seed {report.seed})"
    if report.error:
        text += f". Grading failed: {report.error}"
    return text


def _not_run_counts(not_run: dict) -> str:
    """"9 items not run", "1 item not run, 1 item only partly run"."""
    counts = [f"{number} item{'s' if number != 1 else ''} {what}"
              for number, what in ((not_run.get("items", 0), "not run"), (not_run.get("partly", 0), "only partly run"))
              if number]
    return ", ".join(counts)


def _has_bonus(report: Report) -> bool:
    """Whether some autograded item is a bonus: bonus items are the ones whose points max_score leaves out."""
    return sum(item.max_score for item in report.items if item.status != "manual") > report.max_score


def format_table(report: Report, width: Optional[int] = None) -> str:
    """Item, points, status and one line of feedback per item; the total; then in full every feedback the table
    had to cut, so nothing a student needs to act on is lost."""
    width = width or max(80, min(shutil.get_terminal_size((120, 20)).columns, 160))
    id_width = max(len("item"), *(len(i.id) for i in report.items))
    lines = [f"{'item':<{id_width}}  {'points':>9}  {'status':<7}  feedback"]
    truncated = []
    for item in report.items:
        points = _item_points(item)
        prefix = f"{item.id:<{id_width}}  {points:>9}  {item.status:<7}  "
        feedback = item.feedback.replace("\n", " ")
        room = max(20, width - len(prefix))
        if len(feedback) > room:
            truncated.append(item)
            feedback = feedback[:room - 3] + "..."
        lines.append((prefix + feedback).rstrip())  # no trailing spaces where an item has no feedback
    lines.append("")
    lines.append(summary_line(report))
    if truncated:
        lines.append("")
        lines.append("In full:")
        lines += _in_full(truncated, width)
    return "\n".join(lines)


def _in_full(items: list, width: int) -> list[str]:
    """The "In full" lines of the items whose feedback the table cut: each feedback once, under the first item that
    has it, followed by the other items that have it too (a syntax error fails every item with one message)."""
    lines = []
    for item in items:
        same = [other.id for other in items if other.feedback == item.feedback]
        if same[0] != item.id:
            continue
        lines.append(f"- {item.id} ({_item_points(item)}{' manual' if item.status == 'manual' else ''}):")
        lines.append(_wrap(item.feedback, width))
        if len(same) > 1:
            lines.append(_wrap(f"(the same for {', '.join(same[1:])})", width))
    return lines


def _wrap(text: str, width: int) -> str:
    return textwrap.fill(text, width=width - 4, initial_indent="  ", subsequent_indent="    ",
                         break_long_words=False, break_on_hyphens=False)


def _item_points(item) -> str:
    """"6/8"; "-/10" for a manual item (graded by hand: its 0 is not a score)."""
    return f"{_points(item.score)}/{_points(item.max_score)}" if item.status != "manual" else \
        f"-/{_points(item.max_score)}"


def _points(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.2f}".rstrip("0")
