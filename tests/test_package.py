"""`backprop-grader package`: the autograder zip holds setup.sh and run_autograder (executable) at its root, the
rubric, the pins and the package's source and nothing else; its run_autograder grades an /autograder-shaped folder
without setup.sh having run (the grader is taken from the zip's own source)."""
from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from conftest import FAST_LIMITS, REPO, SUBMISSIONS, run_cli
from grader.package import build_package, private_paths
from grader.rubric import default_rubric_path, load_rubric

pytestmark = pytest.mark.xdist_group("package")


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("package") / "autograder.zip"
    result = run_cli("package", "-o", str(output), "--allow-default-salt")  # the bundled rubric: to try it only
    assert result.returncode == 0, result.stderr
    assert "still has the default salt" in result.stderr
    assert result.stdout.endswith(" It is for trying the autograder out only: its rubric has the default, public "
                                  "salt, so anyone can precompute its grading inputs. For an assignment, set a "
                                  "private salt and build it again.\n") and "Upload it" not in result.stdout
    return output


def test_package_into_a_folder_is_a_usage_error(tmp_path):
    result = run_cli("package", "-o", str(tmp_path), "--allow-default-salt")
    assert result.returncode == 2 and result.stdout == "" and not any(tmp_path.iterdir())
    assert result.stderr == (f"backprop-grader: -o {tmp_path}: is a folder; give the zip's file name (e.g. "
                             f"{tmp_path / 'autograder.zip'})\n")


def test_package_refuses_the_default_salt(tmp_path):
    output = tmp_path / "autograder.zip"
    result = run_cli("package", "-o", str(output))
    assert result.returncode == 2 and not output.exists()
    assert "still has the default, public salt" in result.stderr and "--allow-default-salt" in result.stderr
    rubric = tmp_path / "mine.yaml"
    rubric.write_text((REPO / "rubrics" / "backprop.yaml").read_text().replace("change-me", "my own secret"))
    result = run_cli("package", "-o", str(output), "--rubric", str(rubric))
    assert result.returncode == 0 and output.exists(), result.stderr
    assert "default salt" not in result.stderr
    assert result.stdout.endswith("the grader's source). Upload it as the assignment's autograder.\n")


def unpack(package: Path, folder: Path) -> None:
    """Unzip as Gradescope does, keeping each file's mode (setup.sh and run_autograder are executable)."""
    with zipfile.ZipFile(package) as archive:
        for info in archive.infolist():
            archive.extract(info, folder)
            os.chmod(folder / info.filename, (info.external_attr >> 16) & 0o777)


@pytest.fixture(scope="module")
def autograder(package, tmp_path_factory) -> Path:
    """The zip unpacked as Gradescope does: /autograder/source, run_autograder copied to /autograder."""
    root = tmp_path_factory.mktemp("container") / "autograder"
    unpack(package, root / "source")
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    shutil.copy(SUBMISSIONS / "student_correct.py", root / "submission" / "backprop.py")
    return root


def test_zip_holds_the_scripts_the_rubric_the_pins_and_the_source_only(package):
    with zipfile.ZipFile(package) as archive:
        modes = {info.filename: (info.external_attr >> 16) & 0o777 for info in archive.infolist()}
        setup, pins = archive.read("setup.sh").decode(), archive.read("constraints.txt").decode()
        run_autograder = archive.read("run_autograder").decode()
        assert archive.read("rubric.yaml") == (REPO / "rubrics" / "backprop.yaml").read_bytes()
    names = set(modes)
    assert modes["setup.sh"] == modes["run_autograder"] == 0o755 and modes["grader/cli.py"] == 0o644
    source = {str(path.relative_to(REPO)) for top in ("grader", "reference", "rubrics", "student_template")
              for path in (REPO / top).rglob("*") if path.is_file() and "__pycache__" not in path.parts}
    assert names == source | {"setup.sh", "run_autograder", "rubric.yaml", "constraints.txt", "pyproject.toml",
                              "README.md"}
    assert not any(n.startswith(("tests/", ".git", "examples/", "benchmarks/")) or "__pycache__" in n for n in names)
    assert "useradd --system" in setup and "apt-get update" in setup  # the solution private to root:
    assert '(cd / && "/opt/backprop-grader/bin/python" -I -m grader.package --private-paths) | xargs -0 chmod' in setup
    assert "PYTHON=/usr/bin/python3" in setup and "--check-private" in setup
    assert 'chmod -R go-rwx "$SOURCE"' in setup
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    packages = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    for package_name in packages["packages"]:  # everything pip needs to install the package from the zip
        folder = packages["package-dir"].get(package_name, package_name.replace(".", "/"))
        assert any(n.startswith(folder + "/") for n in names), package_name
    for folder in {path.parent for path in (REPO / "grader").rglob("*.py")}:  # ... and pip installs every module
        assert ".".join(folder.relative_to(REPO).parts) in packages["packages"], folder
    for name in ("numpy", "pytest", "pytest-timeout", "pyyaml"):
        assert f"{name}=={importlib.metadata.version(name)}\n" in pins
    assert '--constraint "$SOURCE/constraints.txt" "$SOURCE"' in setup and "useradd" in setup
    assert "backprop-grader gradescope" in run_autograder and 'RUN_AS="${BACKPROP_GRADER_RUN_AS-student}"' in \
        run_autograder
    assert subprocess.run(["bash", "-n"], input=setup, text=True).returncode == 0  # the scripts parse
    assert subprocess.run(["sh", "-n"], input=run_autograder, text=True).returncode == 0


def _run_autograder(root: Path, tmp_path: Path, *args: str, run_as: str = None) -> subprocess.CompletedProcess:
    """run_autograder with `backprop-grader` on PATH running the zip's own source (setup.sh never ran)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "backprop-grader"
    shim.write_text(f'#!/bin/sh\nPYTHONPATH="{root / "source"}" exec "{sys.executable}" -m grader "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "BACKPROP_GRADER_ROOT": str(root)}
    env.pop("BACKPROP_GRADER_RUN_AS", None)
    if run_as is not None:
        env["BACKPROP_GRADER_RUN_AS"] = run_as
    return subprocess.run([str(root / "run_autograder"), *args], env=env, capture_output=True, text=True,
                          timeout=300)


def test_run_autograder_grades_the_submission(autograder, tmp_path):
    result = _run_autograder(autograder, tmp_path, *FAST_LIMITS, run_as="")  # "": no unprivileged user here
    assert result.returncode == 0, result.stderr
    results = json.loads((autograder / "results" / "results.json").read_text())
    assert results["score"] == 105 and len(results["tests"]) == 15
    assert f"{autograder / 'source' / 'rubric.yaml'} still has the default salt" in result.stderr  # the zip's rubric


def test_run_autograder_runs_code_as_its_user_by_default(tmp_path):
    """Without setup.sh the zip's user does not exist: grading refuses to run (as root) and says why. (The zip names
    a user of the test's own, absent here: `student` may exist on a machine where setup.sh once ran.)"""
    absent = "bpg-never-created"
    with pytest.raises(KeyError):
        import pwd
        pwd.getpwnam(absent)
    root = tmp_path / "autograder"
    build_package(load_rubric(default_rubric_path()), tmp_path / "autograder.zip", run_as=absent)
    unpack(tmp_path / "autograder.zip", root / "source")
    shutil.copy2(root / "source" / "run_autograder", root / "run_autograder")
    (root / "submission").mkdir()
    shutil.copy(SUBMISSIONS / "student_correct.py", root / "submission" / "backprop.py")
    result = _run_autograder(root, tmp_path, *FAST_LIMITS)
    assert result.returncode == 2
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 0 and f"--run-as {absent}: no such user" in results["output"]


def test_private_paths_are_the_secrets_with_their_compiled_copies(tmp_path):
    files = ["reference/backprop.py", "grader/mutants.py", "grader/__pycache__/mutants.cpython-311.pyc",
             "grader/__pycache__/cli.cpython-311.pyc", "grader/cli.py", "grader/checks/solution.py",
             "grader/checks/part2.py", "grader/checks/part2_reference.py",
             "grader/checks/__pycache__/part2_reference.cpython-311.pyc",
             "grader/checks/__pycache__/part2.cpython-311.pyc"]
    for name in files:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    found = {path.relative_to(tmp_path).as_posix() for path in private_paths(tmp_path)}
    assert found == {"reference", "grader/mutants.py", "grader/__pycache__/mutants.cpython-311.pyc",
                     "grader/checks/solution.py", "grader/checks/part2_reference.py",
                     "grader/checks/__pycache__/part2_reference.cpython-311.pyc"}
    listed = subprocess.run([sys.executable, "-m", "grader.package", "--private-paths"], cwd=REPO,
                            capture_output=True, check=True)
    paths = [Path(p) for p in listed.stdout.decode().split("\0")]
    assert REPO / "reference" in paths and REPO / "grader" / "mutants.py" in paths and all(p.exists() for p in paths)


#: The user the setup.sh test creates: its own, so that the test runs where `student` already exists.
SETUP_USER = "bpg-setup"
READ_AS_USER = """import getpass, json, sys
result = {}
for path in sys.argv[1:]:
    try:
        with open(path, "rb") as handle:
            handle.read(1)
        result[path] = True
    except OSError:
        result[path] = False
print(json.dumps(result))
"""


def _readable_as(user: str, python: Path, paths: list[Path]) -> dict[str, bool]:
    """{path: whether `user` can open it}, asked of the venv's python running as that user (importing getpass: the
    standard library must be readable to it too)."""
    result = subprocess.run(["runuser", "-u", user, "--", str(python), "-I", "-c", READ_AS_USER, *map(str, paths)],
                            cwd="/", capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_setup_sh_makes_the_installed_solution_unreadable_to_the_user(tmp_path):
    """setup.sh as Gradescope runs it, as root from the unpacked source folder (apt-get stubbed out; the venv and the
    user are the test's own): afterwards the user cannot read the installed reference, mutants.py or solution.py,
    their compiled copies, or the unpacked source, and can read the rest of the grader. Run from the source folder,
    `python -m grader.package` once imported the unpacked copy and left the installed files world-readable."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or not (shutil.which("useradd") and shutil.which("runuser")):
        pytest.skip("needs root, useradd and runuser: setup.sh creates a user and checks as that user")
    base = Path(tempfile.mkdtemp(prefix="bpg-setup-", dir="/tmp"))  # unlike tmp_path, reachable by other users
    try:
        base.chmod(0o755)
        venv, source = base / "venv", base / "autograder" / "source"
        build_package(load_rubric(default_rubric_path()), base / "autograder.zip", venv=str(venv), run_as=SETUP_USER)
        unpack(base / "autograder.zip", source)
        stub = tmp_path / "bin" / "apt-get"
        stub.parent.mkdir()
        stub.write_text("#!/bin/sh\nexit 0\n")
        stub.chmod(0o755)
        env = {**os.environ, "PATH": f"{stub.parent}{os.pathsep}{os.environ['PATH']}"}
        result = subprocess.run(["bash", "setup.sh"], cwd=source, env=env, capture_output=True, text=True,
                                timeout=600)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        site = next(venv.glob("lib/python3*/site-packages"))
        secrets = [site / "reference" / "backprop.py", site / "grader" / "mutants.py",
                   site / "grader" / "checks" / "solution.py", source / "reference" / "backprop.py",
                   source / "grader" / "mutants.py", source / "grader" / "checks" / "solution.py"]
        compiled = [next(path.parent.glob(f"__pycache__/{path.stem}.*.pyc")) for path in secrets[:3]]
        assert all(path.is_file() for path in secrets + compiled)
        public = [site / "grader" / "cli.py", next(site.glob("grader/__pycache__/cli.*.pyc"))]
        seen = _readable_as(SETUP_USER, venv / "bin" / "python", secrets + compiled + public)
        assert [path for path in secrets + compiled if seen[str(path)]] == []
        assert all(seen[str(path)] for path in public)  # the check is not passing for another reason
    finally:
        shutil.rmtree(base, ignore_errors=True)
