"""The CLI's contract: what it accepts, its exit codes, reproducible seeds, time limits, and reports that are
always written (JSON and Gradescope's results.json)."""
from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest
import yaml

from conftest import REPO, SUBMISSIONS, grade_file, mutate, rubric_of, run_cli
from grader.seeding import derive_seed

BASE = (SUBMISSIONS / "student_correct.py").read_text()
REFERENCE = REPO / "reference" / "backprop.py"


def items_of(report: dict) -> dict:
    return {item["id"]: item for item in report["items"]}


def lost(report: dict) -> set:
    """Items that lost points, leaving out bonus.deep (student_correct.py does not attempt it)."""
    return {i["id"] for i in report["items"]
            if i["status"] != "manual" and i["score"] < i["max_score"] and i["id"] != "bonus.deep"}


def test_usage_errors_exit_2(tmp_path):
    missing = run_cli("grade", str(tmp_path / "nope.py"))
    assert missing.returncode == 2 and "no such file or folder" in missing.stderr
    folder = tmp_path / "two"
    folder.mkdir()
    (folder / "a.py").write_text("x = 1\n")
    (folder / "b.py").write_text("x = 2\n")
    ambiguous = run_cli("grade", str(folder))
    assert ambiguous.returncode == 2 and "expected backprop.py (or exactly one .py file)" in ambiguous.stderr
    assert "found a.py, b.py" in ambiguous.stderr
    assert run_cli().returncode == 2


def test_report_paths_are_checked_before_grading(tmp_path):
    """A --json or --gradescope that cannot be written is a usage error before anything is graded (it was a traceback
    after the whole grading, with a temporary file left behind)."""
    a_file, folder = tmp_path / "notes.txt", tmp_path / "reports"
    a_file.write_text("kept\n")
    folder.mkdir()
    cases = {
        ("--json", folder): f"{folder}: is a folder; give a file name (e.g. {folder / 'report.json'})",
        ("--gradescope", folder): f"{folder}: is a folder; give a file name (e.g. {folder / 'results.json'})",
        ("--json", tmp_path / "nowhere" / "r.json"): f"{tmp_path / 'nowhere' / 'r.json'}: {tmp_path / 'nowhere'} does "
                                                     f"not exist",
        ("--gradescope", a_file / "r.json"): f"{a_file / 'r.json'}: {a_file} is not a folder",
    }
    for (option, path), message in cases.items():
        result = run_cli("grade", str(SUBMISSIONS / "student_correct.py"), option, str(path))
        assert result.returncode == 2 and result.stdout == "", (option, path, result.stdout)  # no score table
        assert result.stderr == f"backprop-grader: {option} {message}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "reports"] and not any(folder.iterdir())


def test_an_unknown_rubric_name_lists_the_bundled_ones(tmp_path):
    result = run_cli("grade", str(SUBMISSIONS / "student_correct.py"), "--rubric", "cs231n_two_layers")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == ("backprop-grader: --rubric cs231n_two_layers: no such file, nor a bundled rubric of that "
                             "name (bundled: backprop, cs231n_fc_net, cs231n_two_layer)\n")


def test_reports_are_written_whole_with_the_umask_and_leave_no_temporary_file(tmp_path):
    """0666 less the umask (as open() makes the gradebook), not mkstemp's 0600; a failed write leaves nothing."""
    from grader.report import write_atomically
    before = os.umask(0o022)
    try:
        write_atomically(tmp_path / "a.json", "{}\n")
        os.umask(0o077)
        write_atomically(tmp_path / "b.json", "{}\n")
    finally:
        os.umask(before)
    assert oct((tmp_path / "a.json").stat().st_mode & 0o777) == oct(0o644)
    assert oct((tmp_path / "b.json").stat().st_mode & 0o777) == oct(0o600)
    (tmp_path / "folder").mkdir()
    with pytest.raises(IsADirectoryError):
        write_atomically(tmp_path / "folder", "{}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.json", "folder"]


@pytest.mark.parametrize("option", ["--timeout", "--import-timeout", "--call-timeout", "--total-timeout"])
def test_a_time_limit_that_is_not_positive_and_finite_is_a_usage_error(option):
    """Not a report that fails every item and blames the student ("did not return within -5 s")."""
    for value in ("0", "-5", "nan", "inf"):
        result = run_cli("grade", str(SUBMISSIONS / "student_correct.py"), f"{option}={value}")
        assert result.returncode == 2, (value, result.stdout)
        assert f"argument {option}: {value} is not a positive, finite number of seconds" in result.stderr
    assert "is not a number of seconds" in run_cli("batch", "x", "--out", "y", option, "soon").stderr


def test_help_says_it_all():
    """The description is the docstring's whole first paragraph, and every --rubric takes a bundled name too."""
    assert "(also `python -m grader ...`)." in " ".join(run_cli("--help").stdout.split())
    for command in ("grade", "batch", "gradescope", "package", "kit"):
        assert "bundled rubric's name such as cs231n_two_layer" in " ".join(run_cli(command, "--help").stdout.split())


def test_folder_submission_with_a_helper_module(tmp_path):
    folder = tmp_path / "alice"
    folder.mkdir()
    (folder / "layers.py").write_text("import numpy as np\n\ndef relu(z):\n    return np.maximum(z, 0.0)\n")
    (folder / "notes.txt").write_text("not code\n")
    (folder / "backprop.py").write_text(mutate(
        BASE, ("    h1 = np.maximum(z1, 0.0)             # (N, H)\n", "    h1 = relu(z1)\n"),
        ("import numpy as np\n", "import numpy as np\nfrom layers import relu\n")))
    rubric = rubric_of(tmp_path, lambda item: item in ("part2.forward", "part2.backward_reference"))
    result = grade_file(folder, tmp_path / "r.json", "--rubric", str(rubric))
    assert result["code"] == 0 and result["report"]["score"] == 8 + 12, result["stdout"]


def test_other_file_name_and_entry_points_from_the_rubric(tmp_path):
    rubric = yaml.safe_load((REPO / "rubrics" / "backprop.yaml").read_text())
    rubric.update(submission="my_net.py", entry_points={"backward": "loss_and_grads", "grad_check_tol": "TOL"})
    rubric_path = tmp_path / "rubric.yaml"
    rubric_path.write_text(yaml.safe_dump(rubric))
    source = BASE.replace("def backward(", "def loss_and_grads(").replace("forward(X, params)    # (N, C)",
                                                                           "forward(X, params)    # (N, C)")
    source = source.replace("GRAD_CHECK_TOL = 1e-6", "TOL = 1e-6")
    folder = tmp_path / "bob"
    folder.mkdir()
    (folder / "my_net.py").write_text(source)
    result = grade_file(folder, tmp_path / "r.json", "--rubric", str(rubric_path))
    assert result["report"]["score"] == 105, result["stdout"]
    # The same file under the default rubric lacks `backward` and `GRAD_CHECK_TOL`, and is told so.
    (tmp_path / "default").mkdir()
    default_rubric = rubric_of(tmp_path / "default", "part2.backward_fd".__eq__)
    default = grade_file(folder / "my_net.py", tmp_path / "d.json", "--rubric", str(default_rubric))
    feedback = items_of(default["report"])["part2.backward_fd"]["feedback"]
    assert "my_net.py has no `backward`: define it with the template's signature." in feedback


def test_seed_is_derived_from_content_and_salt_and_can_be_overridden(tmp_path):
    a = tmp_path / "a.py"
    a.write_text(BASE)
    b = tmp_path / "b.py"
    b.write_text(BASE + "\n# edited\n")
    assert derive_seed([a], "salt") == derive_seed([a], "salt")
    assert derive_seed([a], "salt") != derive_seed([a], "pepper")
    assert derive_seed([a], "salt") != derive_seed([b], "salt")
    first = grade_file(a, tmp_path / "1.json", "--seed", "12345")["report"]
    second = grade_file(a, tmp_path / "2.json", "--seed", "12345")["report"]
    assert first["seed"] == 12345
    assert first == second


def test_same_bug_same_report_whatever_the_seed(tmp_path):
    path = tmp_path / "backprop.py"
    path.write_text(mutate(BASE, ("    dscores /= N\n", "")))
    rubric = str(rubric_of(tmp_path, lambda item: not item.startswith(("part3.", "part4."))))  # never call backward
    causes = set()
    for seed in ("1", "2"):
        report = grade_file(path, tmp_path / f"{seed}.json", "--seed", seed, "--rubric", rubric)["report"]
        assert lost(report) == {"part2.loss", "part2.backward_reference", "part2.backward_fd", "bonus.dX"}
        causes.add(items_of(report)["part2.backward_reference"]["cause"])
    assert causes == {"missing_1_over_N"}


def test_hanging_import_and_infinite_loop_are_bounded(tmp_path):
    sleepy = tmp_path / "sleepy"
    sleepy.mkdir()
    (sleepy / "backprop.py").write_text("import time\ntime.sleep(60)\n" + BASE)
    report = grade_file(sleepy, tmp_path / "s.json", "--import-timeout", "1")["report"]
    assert report["score"] == 0
    assert "took longer than 1 s" in items_of(report)["part2.forward"]["feedback"]

    looping = tmp_path / "looping"
    looping.mkdir()
    (looping / "backprop.py").write_text(mutate(BASE, ('    names = ("W1", "b1", "W2", "b2")\n',
                                                       '    while True:\n        pass\n')))
    result = grade_file(looping, tmp_path / "l.json", "--call-timeout", "1")
    report = result["report"]
    assert result["code"] == 0
    assert lost(report) == {"part4.diagnose"}
    assert "`diagnose` did not return within 1 s (the time limit per call), while running backprop.py line" in \
        items_of(report)["part4.diagnose"]["feedback"]
    source = (looping / "backprop.py").read_text().splitlines()
    loop = source.index("    while True:") + 1  # the stack names the loop's line or its body's, wherever it stopped
    feedback = items_of(report)["part4.diagnose"]["feedback"]
    assert re.search(rf"line ({loop}: `while True:`|{loop + 1}: `pass`)", feedback)
    assert items_of(report)["part4.diagnose"]["cause"] == "timeout"


def test_exit_at_import_is_named(tmp_path):
    path = tmp_path / "backprop.py"
    path.write_text("import sys\nsys.exit(0)\n" + BASE)
    report = grade_file(path, tmp_path / "r.json")["report"]
    assert report["score"] == 0
    assert "the submission exits when imported" in items_of(report)["part1.shapes"]["feedback"]


def test_grader_failure_still_writes_both_reports_and_exits_1(tmp_path):
    path = tmp_path / "backprop.py"
    path.write_text(mutate(BASE, ("    W1, W2 = params[\"W1\"], params[\"W2\"]   # (D, H), (H, C)\n",
                                  "    import time; time.sleep(60)\n")))
    out, gradescope = tmp_path / "report.json", tmp_path / "results.json"
    result = run_cli("grade", str(path), "--json", str(out), "--gradescope", str(gradescope),
                     "--timeout", "60", "--total-timeout", "3")
    assert result.returncode == 1
    report = json.loads(out.read_text())
    # the limit is the command line's, and pytest's progress characters (".F..") are no output worth showing
    assert report["score"] == 0 and report["error"] == "grading did not finish within 3 s (the limit set by " \
                                                       "--total-timeout)."
    assert {i["status"] for i in report["items"]} == {"error", "manual"}
    results = json.loads(gradescope.read_text())
    assert results["score"] == 0 and "Grading failed" in results["output"]


def test_manual_items_say_why_no_write_up_was_found_and_where_it_goes(tmp_path):
    """The template's docstring is not a write-up, and the feedback says so (not "no docstring found"); a file
    without one says that; both say where the derivation and the write-up go. writeup.md in a folder is read."""
    rubric = str(rubric_of(tmp_path, lambda item: item.startswith("part1.")))
    where = ": put the derivation and the write-up in writeup.md beside backprop.py (hand in the folder, or a zip of " \
            "it) or in place of backprop.py's module docstring"
    cases = {"template": ((REPO / "student_template" / "backprop.py").read_text(),
                          "graded by hand; no writeup.md, and the module docstring of backprop.py is still the "
                          "template's" + where),
             "bare": ("x = 1\n", "graded by hand; no writeup.md, and no module docstring in backprop.py" + where)}
    for name, (code, feedback) in cases.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "backprop.py").write_text(code)
        report = grade_file(tmp_path / name / "backprop.py", tmp_path / f"{name}.json", "--rubric", rubric)["report"]
        assert items_of(report)["part1.derivation"]["feedback"] == feedback, name
        assert "writeup" not in report
    (tmp_path / "template" / "writeup.md").write_text("dL/dW2 = h1^T dscores ...\n")
    report = grade_file(tmp_path / "template", tmp_path / "folder.json", "--rubric", rubric)["report"]
    assert items_of(report)["part1.derivation"]["feedback"] == "graded by hand, from writeup.md (26 characters)"


def test_a_failed_grading_says_why_no_write_up_was_found_too(tmp_path):
    from grader.report import explain_missing_writeup
    from grader.rubric import load_rubric
    from grader.scoring import failure_report
    rubric = load_rubric(rubric_of(tmp_path, lambda item: item.startswith("part1.")))
    template = REPO / "student_template" / "backprop.py"
    report = explain_missing_writeup(failure_report(rubric, 1, str(template), "it broke"), template)
    assert "the module docstring of backprop.py is still the template's" in \
        items_of(report.to_json())["part1.derivation"]["feedback"]


def test_a_failure_report_says_where_the_limit_came_from_and_shows_no_progress_characters():
    from grader.cli import limit_source, readable_output
    from grader.rubric import load_rubric
    rubric = load_rubric(REPO / "rubrics" / "backprop.yaml")
    assert limit_source(rubric, "total") == "the rubric's total limit, time_limits: total in backprop.yaml"
    assert limit_source(rubric.with_time_limits(total=3, test=None), "total") == "the limit set by --total-timeout"
    assert limit_source(rubric.with_time_limits(total=3), "test") == "the rubric's test limit, time_limits: test in " \
                                                                      "backprop.yaml"
    log = ("...FFFF.....F.FFF.......                                           [ 80%]\n"
           "FFF\nTraceback (most recent call last):\n  MemoryError\n")
    assert readable_output(log) == "Traceback (most recent call last):\n  MemoryError"
    assert readable_output("FFFF.....F.FFF................          [100%]\n") == ""


def test_gradescope_results_follow_the_specification(tmp_path):
    rubric = yaml.safe_load((REPO / "rubrics" / "backprop.yaml").read_text())
    next(i for i in rubric["items"] if i["id"] == "part4.diagnose")["visibility"] = "after_published"
    rubric_path = tmp_path / "rubric.yaml"
    rubric_path.write_text(yaml.safe_dump(rubric))
    path = tmp_path / "backprop.py"
    path.write_text(mutate(BASE, ("    dscores /= N\n", "")))
    out = tmp_path / "results.json"
    result = run_cli("grade", str(path), "--rubric", str(rubric_path), "--gradescope", str(out), "--timeout", "20",
                     "--no-timing")
    assert result.returncode == 0
    results = json.loads(out.read_text())
    assert set(results) == {"score", "execution_time", "output", "stdout_visibility", "tests"}
    assert isinstance(results["score"], float) and results["score"] == 70
    assert isinstance(results["execution_time"], float) and results["execution_time"] > 0
    assert results["stdout_visibility"] in ("hidden", "visible")
    names = [t["name"] for t in results["tests"]]
    assert not any(n.startswith(("part1.derivation", "part4.writeup")) for n in names)  # manual: graded by hand
    assert len(names) == 15
    for test in results["tests"]:
        assert set(test) == {"name", "number", "score", "max_score", "status", "output", "visibility"}
        assert test["status"] in ("passed", "failed")
        assert isinstance(test["score"], float) and isinstance(test["max_score"], float)
        assert test["visibility"] in ("visible", "hidden", "after_due_date", "after_published")
    by_id = {t["name"].split(":")[0]: t for t in results["tests"]}
    assert by_id["part4.diagnose"]["visibility"] == "after_published"
    assert by_id["part2.loss"]["status"] == "failed" and "1/N" in by_id["part2.loss"]["output"]
    assert by_id["bonus.dX"]["max_score"] == 5.0


def test_python_dash_m_and_console_script_agree(tmp_path):
    import shutil
    import subprocess
    script = shutil.which("backprop-grader")
    if script is None:
        pytest.skip("the package is not installed (pip install .): no console script to compare")
    rubric = rubric_of(tmp_path, lambda item: item in ("part1.shapes", "part2.forward", "bonus.deep"))
    options = ["--rubric", str(rubric), "--seed", "7", "--timeout", "20", "--no-timing"]
    via_script = subprocess.run([script, "grade", str(REFERENCE), *options], capture_output=True, text=True,
                                cwd=tmp_path)
    via_module = run_cli("grade", str(REFERENCE), *options)
    assert via_script.returncode == via_module.returncode == 0
    assert via_script.stdout == via_module.stdout
    assert "Total: 21 / 16" in via_script.stdout  # 8 + 8 + a bonus of 5


SEED_PROBE = """
def shapes(N, D, H, C):
    import glob, os
    text = os.environ.get("BACKPROP_GRADER_SEED", "")
    for path in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            text += open(path, "rb").read().replace(bytes(1), b" ").decode() + chr(10)
        except OSError:
            pass
    open(@SEEN@, "w").write(text)
    raise ValueError("looked")
"""


def test_the_seed_is_not_on_any_command_line_the_submission_can_read(tmp_path):
    """The submission can read the grading process's command line (the probe sees its --rubric) but no seed there
    nor in its own environment: else it could rebuild the grader's inputs from the readable grader code."""
    path, seen = tmp_path / "backprop.py", tmp_path / "seen.txt"
    path.write_text(BASE + SEED_PROBE.replace("@SEEN@", repr(str(seen))))
    result = grade_file(path, tmp_path / "report.json", "--rubric", str(rubric_of(tmp_path, "part1.shapes".__eq__)))
    text = seen.read_text()
    assert "--rubric" in text and "grader.plugin" in text  # the grading process's command line was read
    assert str(result["report"]["seed"]) not in text


def test_memory_bomb_output_bomb_and_background_processes_are_bounded(tmp_path):
    memory = tmp_path / "memory"
    memory.mkdir()
    (memory / "backprop.py").write_text(mutate(BASE, ('    W1, b1 = params["W1"], params["b1"]  # (D, H), (H,)\n',
                                                      '    hog = np.ones(2**31)  # 16 GiB\n'
                                                      '    W1, b1 = params["W1"], params["b1"]\n')))
    rubric = str(rubric_of(tmp_path, lambda item: item in ("part1.shapes", "part2.forward")))
    report = grade_file(memory, tmp_path / "m.json", "--rubric", rubric)["report"]
    assert "`forward` ran out of memory: the submission used more memory than grading allows (the limit is 2 GiB)" \
        in items_of(report)["part2.forward"]["feedback"]
    assert items_of(report)["part1.shapes"]["status"] == "passed"  # the grading went on

    pid_file = tmp_path / "sleeper.pid"
    noisy = tmp_path / "noisy"
    noisy.mkdir()
    (noisy / "backprop.py").write_text(
        "import subprocess\n"
        f"open({str(pid_file)!r}, 'w').write(str(subprocess.Popen(['sleep', '60']).pid))\n"
        + mutate(BASE, ("    return {\n", "    while True:\n        print('x' * 100_000)\n    return {\n")))
    result = grade_file(noisy, tmp_path / "n.json", "--rubric", rubric)
    shapes = items_of(result["report"])["part1.shapes"]
    assert result["code"] == 0 and shapes["cause"] == "output_limit"  # past 16 MiB the call ends; grading goes on
    assert "`shapes` printed more than 16 MiB, more output than grading allows" in shapes["feedback"]
    assert items_of(result["report"])["part2.forward"]["status"] == "passed"
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):  # killed with the grading process's group, and reaped
        for _ in range(50):
            os.kill(pid, 0)
            time.sleep(0.1)


def test_a_process_that_leaves_the_group_is_killed_too(tmp_path):
    """setsid() takes a process out of the grading process's group; the CLI, a child subreaper, still finds it."""
    if not Path("/proc").is_dir():
        pytest.skip("needs Linux (/proc and PR_SET_CHILD_SUBREAPER)")
    pid_file = tmp_path / "escaped.pid"
    path = tmp_path / "backprop.py"
    path.write_text("import subprocess\n"
                    f"open({str(pid_file)!r}, 'w').write(str(subprocess.Popen(['sleep', '60'], "
                    "start_new_session=True).pid))\n" + BASE)
    rubric = rubric_of(tmp_path, "part1.shapes".__eq__)
    assert grade_file(path, tmp_path / "r.json", "--rubric", str(rubric))["report"]["score"] == 8
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        for _ in range(50):
            os.kill(pid, 0)
            time.sleep(0.1)


def test_a_grading_test_that_overruns_leaves_the_other_items_alone(tmp_path):
    """deep_backward sleeps on every call: each call is within the call limit, the bonus test as a whole is not.
    The worker must die with that test: left alive, its late reply answered the next test's request, and a correct
    submission lost part1.shapes, part2.stability, backward_fd and regularization to answers of other calls."""
    first_line = "    activations, pre_activations = [X], []\n"
    slow = mutate(REFERENCE.read_text(), (first_line, "    import time; time.sleep(0.4)\n" + first_line))
    path = tmp_path / "backprop.py"
    path.write_text(slow)
    rubric = rubric_of(tmp_path, lambda item: not item.startswith(("part3.", "part4.")))  # a test limit of 2 s: short
    report = grade_file(path, tmp_path / "r.json", "--timeout", "2", "--rubric", str(rubric))["report"]
    items = items_of(report)
    assert items["bonus.deep"]["score"] == 0 and "did not finish within 2 s" in items["bonus.deep"]["feedback"]
    assert {i["id"] for i in report["items"]
            if i["status"] != "manual" and i["score"] < i["max_score"]} == {"bonus.deep"}
