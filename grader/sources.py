"""Where a submission lives: the file or folder given, the module to import, and every file that makes it up.
Standard library only: the CLI reads submissions without importing NumPy (a tenth of a second per grading)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional


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


def locate(path: Path, filename: str, shown_as: Optional[str] = None) -> SubmissionSource:
    """A .py file, or a folder holding `filename` (or exactly one .py file). `shown_as`: what the messages call a
    folder without a file to grade (e.g. "your upload", where its path is the grader's own business)."""
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
        if shown_as:
            raise SubmissionNotFound(f"{shown_as} holds {found}: expected {filename} (or exactly one .py file)")
        raise SubmissionNotFound(f"{path}: expected {filename} (or exactly one .py file) in the folder, found {found}")
    return SubmissionSource(path.resolve(), candidates[0].resolve(), files)
