"""The one place where the grader touches student code: locating, importing and calling the submission.

Every call into the submission goes through `Submission.call`, which turns whatever the student's code does
(NotImplementedError, any exception, a SystemExit, an in-place edit of the caller's arrays) into a
`StudentCodeError` whose feedback says what happened and where. Keeping this module narrow is what lets the calls
move into a separate worker process without touching the checks.
"""
from __future__ import annotations

import contextlib
import errno
import importlib
import importlib.util
import re
import signal
import sys
import traceback
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Iterator, Optional

import numpy as np

from grader import adapter
from grader import stand_ins as stand_in_modules
from grader.results import StudentCodeError

#: Argument names of each role, for messages about in-place edits.
ARGUMENT_NAMES = {
    "shapes": ("N", "D", "H", "C"),
    "forward": ("X", "params"),
    "softmax_cross_entropy": ("scores", "y"),
    "backward": ("X", "y", "params", "reg"),
    "numerical_gradient": ("f", None, "eps"),  # x is perturbed in place by contract: part3.perturbation judges it
    "rel_error": ("a", "b"),
    "grad_check": ("backward_fn", "X", "y", "params", "reg", "eps"),
    "diagnose": ("analytic", "numeric"),
    "deep_backward": ("X", "y", "layers", "reg"),
}


class SubmissionNotFound(Exception):
    """The SUBMISSION argument names no usable file (a usage error)."""


@dataclass(frozen=True)
class SubmissionSource:
    """Where a submission lives: the path given, the module file to import, and every file that makes it up."""

    given: Path
    module_path: Path
    files: tuple[Path, ...]

    @property
    def folder(self) -> Path:
        """The import root: the folder given, or the file's folder (helper modules and packages are found here)."""
        return self.given if self.given.is_dir() else self.module_path.parent

    @property
    def module_name(self) -> str:
        """The module's import name: its file name, or a dotted path for a module inside packages of the folder
        (cs231n/classifiers/fc_net.py -> cs231n.classifiers.fc_net)."""
        return ".".join(self.module_path.relative_to(self.folder).with_suffix("").parts)


def locate(path: Path, filename: str) -> SubmissionSource:
    """A .py file, or a folder holding `filename` (or exactly one .py file)."""
    path = Path(path)
    if path.is_file():
        if path.suffix != ".py":
            kind = path.suffix or "plain"
            raise SubmissionNotFound(f"{path}: a submission is a .py file or a folder, not a {kind} file")
        return SubmissionSource(path.resolve(), path.resolve(), (path.resolve(),))
    if not path.is_dir():
        raise SubmissionNotFound(f"{path}: no such file or folder")
    files = tuple(sorted(p.resolve() for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts))
    candidates = [path / filename] if (path / filename).is_file() else sorted(path.glob("*.py"))  # filename: a/b.py
    if len(candidates) != 1:
        found = ", ".join(p.name for p in candidates) or "no .py file"
        raise SubmissionNotFound(f"{path}: expected {filename} (or exactly one .py file) in the folder, found {found}")
    return SubmissionSource(path.resolve(), candidates[0].resolve(), files)


@dataclass
class Submission:
    """An imported submission (or the reason it could not be imported) and its entry-point names by role."""

    source: SubmissionSource
    entry_points: dict
    module: Optional[ModuleType] = None
    load_error: Optional[str] = None
    load_cause: str = "import_failed"
    warnings: list = field(default_factory=list)  # warnings raised by the last call, as strings
    functions: dict = field(default_factory=dict)  # role -> function built by grader.adapter (class-based API)
    class_name: str = ""  # "TwoLayerNet.loss" for a class-based API
    verdicts: dict = field(default_factory=dict, repr=False)  # results several grading tests share, by key

    def remembered(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """compute(), once per run for this submission: for a verdict that several grading tests need."""
        if key not in self.verdicts:
            self.verdicts[key] = compute()
        return self.verdicts[key]

    @property
    def filename(self) -> str:
        return self.source.module_path.name

    def name_of(self, role: str) -> str:
        return self.class_name if role in self.functions else self.entry_points[role]

    def has(self, role: str) -> bool:
        return self.module is not None and (role in self.functions or hasattr(self.module, self.name_of(role)))

    def attribute(self, role: str) -> Any:
        """The submission's value for `role` (a function, or GRAD_CHECK_TOL)."""
        if self.module is None:
            raise StudentCodeError(f"{self.load_error}", cause=self.load_cause)
        if role in self.functions:
            return self.functions[role]
        name = self.name_of(role)
        if not hasattr(self.module, name):
            raise StudentCodeError(f"{self.filename} has no `{name}`: define it with the contract's signature.",
                                   cause="missing")
        return getattr(self.module, name)

    def call(self, role: str, *args: Any, passthrough: tuple = (), guard: bool = True, **kwargs: Any) -> Any:
        """Call the student's function for `role`; any trouble becomes a StudentCodeError naming what happened.

        Exceptions of the types in `passthrough` (raised on purpose by a grader callback) propagate unchanged.
        guard: fail the call when it edits the caller's arrays. Checks that judge another property of the function
        (stability, vectorization, ...) pass fresh copies and guard=False, so an in-place edit is charged once,
        to the items that judge the function itself.
        """
        function, name = self.attribute(role), self.name_of(role)
        if not callable(function):
            raise StudentCodeError(f"`{name}` in {self.filename} is not a function.", cause="missing")
        snapshots = _snapshot(ARGUMENT_NAMES.get(role, ()), args) if guard else []
        try:
            with _recording_warnings(self.warnings):
                result = function(*args, **kwargs)
        except passthrough:
            raise
        except StudentCodeError:  # raised by a grader.adapter function: already says what is wrong
            raise
        except NotImplementedError:
            raise StudentCodeError(f"`{name}` is not implemented yet (it raises NotImplementedError).",
                                   cause="not_implemented") from None
        except (Exception, SystemExit, KeyboardInterrupt) as error:
            if isinstance(error, OSError) and error.errno == errno.EFBIG:  # past the grading process's file limit
                raise StudentCodeError(f"`{name}` wrote more output (prints or files) than grading allows; the "
                                       f"write failed with 'File too large'. Remove the prints.",
                                       cause="output_limit") from None
            raise StudentCodeError(f"`{name}` raised {_describe_exception(error, self.source.folder)}",
                                   cause="raised") from None
        for arg_name, current, before in snapshots:
            if not _unchanged(before, current()):
                if role == "grad_check":
                    raise StudentCodeError(
                        f"`{name}` left its input `{arg_name}` changed after it returned: every entry that "
                        f"numerical_gradient perturbs must be put back exactly (save it, restore it), and grad_check "
                        f"must not modify params or X.", cause="modifies_input")
                raise StudentCodeError(
                    f"`{name}` modified its input `{arg_name}` in place (e.g. `{arg_name} -= ...` or a write into a "
                    f"view of it); the caller's arrays must stay unchanged, so work on a copy.",
                    cause="modifies_input")
        return result


def load(source: SubmissionSource, entry_points: dict, import_timeout: float, class_api=None,
         stand_ins: tuple = ()) -> Submission:
    """Import the submission's module (its folder first on sys.path, for helper modules and packages), bounded in
    time; with a class-based API (rubric `class_api`), build the contract's functions from the class."""
    submission = Submission(source, entry_points)
    stand_in_modules.install(stand_ins)
    name = source.module_name
    sys.path.insert(0, str(source.folder))
    try:
        with _time_limit(import_timeout):
            if "." in name:  # inside packages: a real package import, so `from cs231n.layers import *` works
                module = importlib.import_module(name)
            else:
                spec = importlib.util.spec_from_file_location(name, source.module_path)
                module = importlib.util.module_from_spec(spec)
                sys.modules[name] = module
                spec.loader.exec_module(module)
    except _ImportTimeout:
        submission.load_error = (f"importing {submission.filename} took longer than {import_timeout:g} s: does it "
                                 f"train or run something at import? Put such code under "
                                 f"`if __name__ == \"__main__\":`.")
    except SyntaxError as error:
        python2 = _python2_line(error)
        if python2:
            submission.load_error = (f"{submission.filename} is Python 2 code ({python2}): the grader runs Python 3. "
                                     f"Convert it: print(...) is a function, range replaces xrange, "
                                     f"`except E as e` replaces `except E, e`.")
            submission.load_cause = "python2"
        else:
            submission.load_error = f"{submission.filename} does not compile: {_describe_syntax_error(error)}"
    except SystemExit:
        submission.load_error = f"the submission exits when imported ({submission.filename} calls exit() at import)."
    except ModuleNotFoundError as error:
        submission.load_error = (f"{submission.filename} imports `{error.name}`, which is not installed where it is "
                                 f"graded ({_describe_exception(error, source.folder)}). Remove the import if grading "
                                 f"does not need it.")
        submission.load_cause = "missing_module"
    except BaseException as error:  # noqa: BLE001 - whatever the student's import does is reported, not raised
        submission.load_error = (f"importing {submission.filename} raised "
                                 f"{_describe_exception(error, source.folder)}")
    else:
        submission.module = module
        if class_api is not None:
            try:
                submission.functions = adapter.class_functions(module, class_api, submission.filename)
                submission.class_name = f"{class_api.name}.{class_api.method}"
            except StudentCodeError as error:
                submission.module, submission.load_error = None, error.result.feedback
                submission.load_cause = error.result.cause
    if submission.module is None:
        sys.modules.pop(name, None)
    return submission


PYTHON2_PATTERNS = [re.compile(p) for p in (r"^\s*print\s+[^\s(=]", r"^\s*print\s*$", r"except\s+[\w.]+\s*,\s*\w+\s*:",
                                            r"^\s*exec\s+[\"'\w]", r"`[^`]+`")]


def _python2_line(error: SyntaxError) -> Optional[str]:
    """'layers.py line 12: `print "loss", loss`' when the syntax error is Python 2 syntax, else None."""
    line = (error.text or "").rstrip()
    code = line.split("#")[0]  # a backtick in a comment is not Python 2
    if "Missing parentheses in call to" in str(error.msg) or any(p.search(code) for p in PYTHON2_PATTERNS) or \
            re.search(r"\b\d+[lL]\b|\braise\s+\w+\s*,|<>", code):
        return f"{Path(error.filename or '').name or 'line'} line {error.lineno}: `{line.strip()}`"
    return None


# ------------------------------------------------------------------------------------------------------ helpers
class _ImportTimeout(BaseException):
    """Raised by the alarm; a BaseException so that a student's `except Exception:` does not swallow it."""


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    if not hasattr(signal, "setitimer") or seconds <= 0:
        yield
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise _ImportTimeout()

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _recording_warnings(sink: list) -> Iterator[None]:
    """Record (not print) the call's warnings, with numpy's floating-point warnings on whatever the global state."""
    sink.clear()
    with warnings.catch_warnings(record=True) as caught, np.errstate(divide="warn", over="warn", invalid="warn",
                                                                      under="ignore"):
        warnings.simplefilter("always")
        try:
            yield
        finally:
            sink.extend(f"{w.category.__name__}: {w.message}" for w in caught)


def _snapshot(names: tuple, args: tuple) -> list:
    """(label, read-current-value, copy-of-original) for every array among the arguments, also inside dicts, lists
    and tuples (a list of (W, b) pairs)."""
    snapshots: list = []

    def visit(label: str, read, value) -> None:
        if isinstance(value, np.ndarray):
            snapshots.append((label, read, value.copy()))
        elif isinstance(value, dict):
            for key, entry in value.items():
                visit(f"{label}[{key!r}]", lambda value=value, key=key: value.get(key), entry)
        elif isinstance(value, (list, tuple)):
            for i, entry in enumerate(value):
                visit(f"{label}[{i}]", lambda value=value, i=i: value[i] if i < len(value) else None, entry)

    for name, value in zip(names, args):
        if name is not None:
            visit(name, lambda value=value: value, value)
    return snapshots


def _unchanged(before: np.ndarray, after: Any) -> bool:
    return (isinstance(after, np.ndarray) and before.shape == after.shape and before.dtype == after.dtype
            and np.array_equal(before, after, equal_nan=True))


def _describe_syntax_error(error: SyntaxError) -> str:
    text = f"{type(error).__name__} at line {error.lineno}: {error.msg}"
    if error.text:
        text += f" in `{error.text.strip()}`"
    return text


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder)
        return True
    except (ValueError, OSError):
        return False


def _describe_exception(error: BaseException, folder: Path) -> str:
    """'ValueError: ... at backprop.py line 42: `dW1 = dz1 @ X`', pointing at the student's deepest line."""
    message = str(error)
    message = message if len(message) <= 300 else message[:300] + "..."
    text = f"{type(error).__name__}: {message}".rstrip(": ")
    frames = [f for f in traceback.extract_tb(error.__traceback__) if _inside(Path(f.filename), folder)]
    if frames:
        frame = frames[-1]
        text += f" at {Path(frame.filename).name} line {frame.lineno}"
        if frame.line:
            text += f": `{frame.line.strip()}`"
    return text
