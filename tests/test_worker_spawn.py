"""Spawned workers (BACKPROP_GRADER_WORKER_START=spawn): the portable way to start a worker, the only one on Windows
(no fork, no fd passing, no select() on pipes). Forced here on Linux, where it must grade exactly as the fork server
does: the same scores, time-outs bounded and named, the same feedback for an exit at import, the output captured,
and a report that says the worker was spawned. (The student kit in spawn mode: tests/test_kit.py.)"""
from __future__ import annotations

import os
import socket
import time

import pytest

from conftest import SUBMISSIONS, grade_file
from grader.results import StudentCodeError
from grader.worker import client

CORRECT = (SUBMISSIONS / "student_correct.py").read_text()
SPAWN = {client.START_VARIABLE: "spawn"}


@pytest.fixture
def spawned(monkeypatch):
    """Workers started in this test are spawned, not forked."""
    monkeypatch.setenv(client.START_VARIABLE, "spawn")
    assert client.start_method() == "spawn"


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict:
    """student_correct.py graded through the CLI with forked and with spawned workers: the JSON reports."""
    folder = tmp_path_factory.mktemp("spawn")
    graded = {}
    for mode in ("fork", "spawn"):
        result = grade_file(SUBMISSIONS / "student_correct.py", folder / f"{mode}.json",
                            env={client.START_VARIABLE: mode})
        assert result["code"] == 0, result["stderr"]
        graded[mode] = result["report"]
    return graded


@pytest.mark.xdist_group("spawn")
def test_spawned_workers_grade_as_forked_ones(reports):
    spawned, forked = reports["spawn"], reports["fork"]
    assert spawned["score"] == forked["score"] == 105
    assert [(i["id"], i["score"], i["status"]) for i in spawned["items"]] == \
        [(i["id"], i["score"], i["status"]) for i in forked["items"]]
    assert spawned["protections"]["worker_start"] == "spawn" and forked["protections"]["worker_start"] == "fork"
    assert spawned["protections"]["summary"].startswith("separate worker process (spawned), same user")
    assert "memory ≤ 2 GiB" in spawned["protections"]["summary"]  # Linux has resource limits, also when spawned
    assert forked["protections"]["summary"].startswith("separate worker process, same user")


def test_a_hang_in_a_spawned_worker_is_bounded_and_named(spawned, submission_from):
    student = submission_from(CORRECT.replace("def rel_error(a, b):\n", "def rel_error(a, b):\n    while True:\n"
                                                                        "        pass\n"))
    student.limits = type(student.limits)(call_seconds=1.0)
    started = time.monotonic()
    with pytest.raises(StudentCodeError, match=r"`rel_error` did not return within 1 s \(the time limit per call\), "
                                               r"while running backprop.py line \d+: `(while True:|pass)`") as error:
        student.call("rel_error", 1.0, 2.0)
    assert error.value.result.cause == "timeout"
    assert time.monotonic() - started < 5
    assert student.call("shapes", 2, 3, 4, 5)["X"] == (2, 3)  # a new spawned worker for the others


@pytest.mark.parametrize("exits", ["exit(3)", "import os; os._exit(3)"])
def test_an_exit_at_import_gets_the_feedback_of_the_fork_server(monkeypatch, submission_from, exits):
    feedback = {}
    for mode in ("fork", "spawn"):
        monkeypatch.setenv(client.START_VARIABLE, mode)
        student = submission_from(exits + "\n" + CORRECT)
        feedback[mode] = (student.load_error, student.load_cause)
    assert feedback["spawn"] == feedback["fork"]
    assert feedback["spawn"][1] == "exits_at_import" and "exits when imported" in feedback["spawn"][0]


def test_what_a_spawned_worker_prints_is_captured(spawned, submission_from):
    student = submission_from("print('importing')\n" + CORRECT.replace(
        "def rel_error(a, b):\n", "def rel_error(a, b):\n    import sys; print('debug:', a, b, file=sys.stderr)\n"))
    student.call("rel_error", 1.0, 2.0)
    assert student.printed() == "importing\ndebug: 1.0 2.0\n"
    assert student.printed() == ""
    assert student.protections["worker_start"] == "spawn"
    student.close()
    assert "debug: 1.0 2.0" in "".join(student.output_log)


def test_the_blocking_drain_settles_on_what_was_written():
    """The output capture of spawned workers (a blocking read, no FIONREAD): written before settle, counted after."""
    read_end, write_end = os.pipe()
    capture = client.OutputCapture(read_end, limit=10, blocking=True)
    try:
        for text in (b"first ", b"second, longer than the limit"):
            os.write(write_end, text)
            capture.settle()
        assert capture.total == 35 and capture.text().startswith("first seco")
    finally:
        os.close(write_end)
        capture.finish()


class _Running:
    returncode = None

    def poll(self):
        return None


def test_only_the_worker_with_the_token_is_accepted():
    """Another local process connecting first, with a wrong token or none, is dropped; the worker is accepted."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        address = listener.getsockname()
        intruders = [socket.create_connection(address), socket.create_connection(address)]
        intruders[0].sendall(b"x" * 16)
        intruders[1].close()  # connects and sends nothing
        worker = socket.create_connection(address)
        worker.sendall(b"t" * 16)
        channel = client._accept(listener, b"t" * 16, _Running(), time.monotonic() + 5)
        channel.sendall(b"ok")
        assert worker.recv(2) == b"ok"
        for sock in (channel, worker, intruders[0]):
            sock.close()
        with pytest.raises(client.WorkerDied, match="did not connect in time"):
            client._accept(listener, b"t" * 16, _Running(), time.monotonic() + 0.2)


def test_a_report_says_which_protections_the_platform_lacks():
    """As on Windows: no resource limits, no signal to ask for the stack."""
    summary = client.describe_protections({"worker_start": "spawn", "run_as": None, "memory_limit_bytes": None,
                                            "grader_readable": ["reference/backprop.py"],
                                            "unavailable": ["memory limit", "stack on time-out"]})
    assert summary == ("separate worker process (spawned), same user as the grader, reference readable by the "
                       "submission, no memory limit, no stack on time-out")
