"""`backprop-grader package [--rubric FILE] -o autograder.zip`: the autograder zip Gradescope expects.

Gradescope unpacks the zip into /autograder/source, runs setup.sh once (as root) when it builds the image, copies
run_autograder to /autograder and runs it for every submission. The zip holds:
  setup.sh          installs this package from the bundled source into a virtual environment (VENV), every dependency
                    pinned (constraints.txt) to the version installed where `package` ran; creates the unprivileged
                    user RUN_AS that submissions run as
  run_autograder    `backprop-grader gradescope --run-as RUN_AS --rubric /autograder/source/rubric.yaml`
  rubric.yaml       the rubric given with --rubric (the instructor's, with its private salt)
  constraints.txt   the pins
  pyproject.toml, README.md, grader/, reference/, rubrics/, student_template/: the package's source, nothing else
"""
from __future__ import annotations

import importlib.metadata
import os
import re
import sys
import zipfile
from pathlib import Path
from typing import Optional

from grader.rubric import Rubric

#: The repository root: pyproject.toml, grader/, reference/, ... (when running from a source checkout).
SOURCE_ROOT = Path(__file__).resolve().parent.parent
#: What the installed package is built from (pyproject.toml's packages and package-dir).
PACKAGE_SOURCES = ("pyproject.toml", "README.md", "grader", "reference", "rubrics", "student_template")
VENV = "/opt/backprop-grader"
RUN_AS = "student"
EXECUTABLE = 0o755

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image (the zip is unpacked beside it).
# Pins in constraints.txt were taken on Python {python}: choose a base image whose python3 is {python} or newer
# (e.g. Ubuntu 24.04), so that every pinned version has a wheel for it.
set -euo pipefail
SOURCE="$(cd "$(dirname "$0")" && pwd)"
apt-get update
apt-get install -y python3 python3-venv python3-pip
# The system's python3, not one first on root's PATH (a pyenv under /root): the venv links to its interpreter and
# standard library, which the unprivileged user must be able to read.
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON="$(command -v python3)"
"$PYTHON" -m venv "{venv}"
"{venv}/bin/pip" install --constraint "$SOURCE/constraints.txt" "$SOURCE"
# The unprivileged user whose rights the submission's code runs with.
id -u {user} >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin {user}
# The solution stays private to root: the installed reference package, the grader's answers and buggy backward
# passes (grader.package.private_paths, compiled copies included), and this unpacked source. The listing runs
# isolated (-I) from /: run from here, `python -m` would import the unpacked ./grader and list the source's copies.
(cd / && "{venv}/bin/python" -I -m grader.package --private-paths) | xargs -0 chmod -R go-rwx
chmod -R go-rwx "$SOURCE"
# Fail the image build, rather than grade, if the user cannot run the grader's python or can read the solution.
if command -v runuser >/dev/null 2>&1; then
  (cd / && runuser -u {user} -- "{venv}/bin/python" -I -m grader.package --check-private "$SOURCE")
fi
"""

RUN_AUTOGRADER = """#!/bin/sh
# Gradescope runs this, as root, for every submission: grade ROOT/submission into ROOT/results/results.json, running
# the submission's code as the user setup.sh created. Outside Gradescope (to try the zip) set BACKPROP_GRADER_ROOT
# (default /autograder) and BACKPROP_GRADER_RUN_AS (default {user}; empty: no --run-as). Arguments are passed on.
ROOT="${{BACKPROP_GRADER_ROOT:-/autograder}}"
RUN_AS="${{BACKPROP_GRADER_RUN_AS-{user}}}"
PATH="{venv}/bin:$PATH"
export PATH
if [ -n "$RUN_AS" ]; then set -- --run-as "$RUN_AS" "$@"; fi
exec backprop-grader gradescope --root "$ROOT" --rubric "$ROOT/source/rubric.yaml" "$@"
"""


#: What the submission's user must not read, relative to the folder holding the installed `grader` and `reference`
#: packages: the reference solution, the buggy backward passes, the grader's own answers, the reference-based checks.
PRIVATE = ("reference", "grader/mutants.py", "grader/checks/solution.py", "grader/checks/*_reference.py")


def private_paths(site: Optional[Path] = None) -> list[Path]:
    """The installed files and folders of PRIVATE that exist, with their compiled copies in __pycache__."""
    site = Path(site) if site is not None else Path(__file__).resolve().parent.parent
    found = []
    for pattern in PRIVATE:
        for path in sorted(site.glob(pattern)):
            found.append(path)
            if path.is_file():
                found += sorted(path.parent.glob(f"__pycache__/{path.stem}.*.pyc"))
    return found


class SourceTreeMissing(Exception):
    """The command needs the grader's source checkout (pyproject.toml beside grader/), not an installed copy."""


def source_files(root: Path, names: tuple[str, ...]) -> list[Path]:
    """Every file of the files and folders `names` under `root`, relative to it: no caches, no hidden files."""
    found = []
    for name in names:
        path = root / name
        if not path.exists():
            raise SourceTreeMissing(f"{path} is missing: this command needs the grader's source checkout (run it "
                                    f"as `python -m grader ...` in the repository, or after `pip install -e .`)")
        for file in sorted([path] if path.is_file() else path.rglob("*")):
            relative = file.relative_to(root)
            if file.is_file() and file.suffix != ".pyc" and not any(
                    part == "__pycache__" or part.startswith(".") for part in relative.parts):
                found.append(relative)
    return found


def pinned_versions(requirements: list[str]) -> dict[str, str]:
    """{distribution: installed version} for `requirements` and everything they require in turn (markers evaluated
    here, extras left out): what setup.sh installs, so the container grades with the versions tested here."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name
    pins: dict[str, str] = {}
    pending = list(requirements)
    while pending:
        requirement = Requirement(pending.pop())
        name = canonicalize_name(requirement.name)
        if name in pins or (requirement.marker and not requirement.marker.evaluate({"extra": ""})):
            continue
        try:
            pins[name] = importlib.metadata.version(requirement.name)
        except importlib.metadata.PackageNotFoundError:
            raise SourceTreeMissing(f"cannot pin {requirement.name}: it is not installed here") from None
        pending += importlib.metadata.requires(requirement.name) or []
    return dict(sorted(pins.items()))


def _dependencies(root: Path) -> list[str]:
    """The package's own dependencies, from pyproject.toml."""
    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    try:
        import tomllib
    except ImportError:  # Python < 3.11: the one list needed, read without a TOML parser
        block = re.search(r"^dependencies\s*=\s*\[(.*?)\]", text, re.M | re.S)
        return re.findall(r'"([^"]+)"', block.group(1)) if block else []
    return tomllib.loads(text)["project"].get("dependencies", [])


def _add(archive: zipfile.ZipFile, name: str, data: bytes, mode: int = 0o644) -> None:
    """One file in the zip with Unix permissions (Gradescope unzips on Linux) and a fixed date (reproducible)."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.create_system = 3  # Unix: external_attr holds the mode
    info.external_attr = (0o100000 | mode) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, data)


def build_package(rubric: Rubric, output: Path, root: Path = SOURCE_ROOT, venv: str = VENV,
                  run_as: str = RUN_AS) -> list[str]:
    """Write the autograder zip to `output`; the names it holds. Raises SourceTreeMissing. `venv` and `run_as`
    (where setup.sh installs, which user it creates) are for tests that run setup.sh on a shared machine."""
    files = source_files(root, PACKAGE_SOURCES)
    pins = pinned_versions(_dependencies(root))
    python = f"{sys.version_info[0]}.{sys.version_info[1]}"
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(output, "w") as archive:
        _add(archive, "setup.sh", SETUP_SH.format(python=python, venv=venv, user=run_as).encode(), EXECUTABLE)
        _add(archive, "run_autograder", RUN_AUTOGRADER.format(venv=venv, user=run_as).encode(), EXECUTABLE)
        _add(archive, "rubric.yaml", rubric.path.read_bytes())
        _add(archive, "constraints.txt", "".join(f"{name}=={version}\n" for name, version in pins.items()).encode())
        for relative in files:
            _add(archive, relative.as_posix(), (root / relative).read_bytes())
        return archive.namelist()


def readable(paths: list[Path]) -> list[Path]:
    """Those of `paths` this process's real user can read, or enter (a folder whose files it could open by name)."""
    return [path for path in paths
            if os.access(path, os.R_OK) or (path.is_dir() and os.access(path, os.X_OK))]


def main(argv: list[str]) -> int:
    """setup.sh's helpers. `--private-paths`: the installed secrets, NUL-separated, for `xargs -0 chmod`.
    `--check-private [PATH...]`, run as the submission's user: exit 1 naming whatever of them (and of PATHs, the
    unpacked source) it can still read, so that a mistake fails the image build instead of leaking the solution."""
    if argv == ["--private-paths"]:
        sys.stdout.write("\0".join(str(path) for path in private_paths()))
        return 0
    if argv[:1] == ["--check-private"]:
        leaks = readable(private_paths() + [Path(path) for path in argv[1:]])
        for path in leaks:
            print(f"setup.sh: {path} is readable by this user: the submission could read the solution",
                  file=sys.stderr)
        return 1 if leaks else 0
    print("usage: python -m grader.package --private-paths | --check-private [PATH...]", file=sys.stderr)
    return 2


if __name__ == "__main__":  # setup.sh runs these, isolated (-I) from /, so that this is the installed copy
    sys.exit(main(sys.argv[1:]))
