"""The worker process that runs student code: the data-only protocol, the stand-ins for grader functions, fresh
workers, limits, and the mirroring of in-place edits. Through grader.student.Submission, as the checks use it."""
from __future__ import annotations

import collections
import enum
import itertools
import os
import re
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import ENTRY_POINTS, SUBMISSIONS, TEST_LIMITS
from grader import outputs, processes
from grader import student as student_module
from grader.results import StudentCodeError
from grader.worker import plain, protocol

CORRECT = (SUBMISSIONS / "student_correct.py").read_text()


def round_trip(value, callback=None):
    encoder = protocol.Encoder(callback=callback)
    tree = encoder.encode(value)
    message, buffers = protocol.read_message(_reader(protocol.frame({"value": tree}, encoder.buffers)))
    return protocol.Decoder(buffers).decode(message["value"])


def _reader(data: bytes):
    view = memoryview(data)

    def read_exactly(size: int) -> bytearray:
        nonlocal view
        if len(view) < size:
            raise EOFError
        chunk, view = bytearray(view[:size]), view[size:]
        return chunk
    return read_exactly


def test_data_crosses_exactly():
    value = {"W1": np.arange(6.0).reshape(2, 3), 3: (1, 2.5, None, True, "s"), (1, 2): [np.float32(1.5)],
             "nan": float("nan"), "f32": np.ones(2, np.float32), "i": np.array([1, 2]), "empty": np.zeros((0, 3)),
             "scalar": np.int64(7), "0d": np.array(2.0)}
    back = round_trip(value)
    assert list(back) == list(value) and type(back[3]) is tuple and type(back[(1, 2)]) is list
    for key in ("W1", "f32", "i", "empty", "0d"):
        assert type(back[key]) is np.ndarray and back[key].dtype == value[key].dtype
        np.testing.assert_array_equal(back[key], value[key])
        assert back[key].flags.writeable
    assert type(back[(1, 2)][0]) is np.float32 and type(back["scalar"]) is np.int64
    assert np.isnan(back["nan"])


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix, on purpose
def test_what_is_not_data_is_refused_or_only_described():
    class AlwaysEqual:
        def __eq__(self, other):
            return True

    for value in (AlwaysEqual(), np.array([object()]), np.ma.masked_array([1.0]), np.matrix([[1.0]])):
        with pytest.raises(protocol.ProtocolError):
            protocol.Encoder().encode(value)  # the grader never sends such things
        described = round_trip_described(value)
        assert isinstance(described, protocol.Opaque) and described.type_name == type(value).__name__
    with pytest.raises(StudentCodeError, match="must be a NumPy array, got a AlwaysEqual"):
        outputs.float64_array(round_trip_described(AlwaysEqual()), "the scores", (1,))


def test_subclasses_of_data_types_become_those_types_in_the_worker_only():
    class Label(str, enum.Enum):
        OK = "ok"

    class Lying(dict):  # its own methods lie: what crosses is what it holds
        def __getitem__(self, key):
            return np.zeros(1)

        def items(self):
            return [("W1", np.zeros(1))]

    Pair = collections.namedtuple("Pair", "first second")
    array = np.arange(3.0)
    value = (collections.OrderedDict(W1=array), Pair(np.str_("nan"), Label.OK), Lying(W1=array),
             enum.IntEnum("Size", "ONE")(1), np.float64(0.5), collections.UserDict(a=[1]))
    plain_value = plain.plain_data(value)
    assert plain_value == ({"W1": array}, ("nan", "ok"), {"W1": array}, 1, 0.5, {"a": [1]})
    assert [type(v) for v in plain_value] == [dict, tuple, dict, int, np.float64, dict]
    assert [type(v) for v in plain_value[1]] == [str, str] and plain_value[0]["W1"] is array  # arrays not copied
    described = round_trip_described(value)  # the decoding stays exact: a subclass is still only described
    assert [type(v) for v in described[:4]] == [protocol.Opaque] * 4


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix, on purpose
def test_what_cannot_be_converted_stays_as_it_was():
    class Raises(collections.abc.Mapping):
        def __getitem__(self, key):
            raise SystemExit

        def __len__(self):
            return 1

        def __iter__(self):
            return iter([1])

    class Endless(Raises):
        def __iter__(self):
            return itertools.count()

    class AlwaysEqual(np.ndarray):
        def __eq__(self, other):
            return np.ones(np.shape(self), bool)

    class Deep(list):
        pass

    nested = Deep()
    for _ in range(protocol.MAX_DEPTH + 2):
        nested = Deep([nested])
    for value in (Raises(), Endless(), np.ones(2).view(AlwaysEqual), np.matrix([[1.0]]), nested,
                  [np.str_("x")] * (plain.MAX_ENTRIES + 1)):
        assert plain.plain_data(value) is value


def round_trip_described(value):
    encoder = protocol.Encoder(describe_others=True)
    return protocol.Decoder(encoder.buffers).decode(encoder.encode(value))


@pytest.mark.parametrize("tree, buffers", [
    ({"a": [0, "|O", [1]]}, [bytearray(8)]),           # object dtype: could run code when read
    ({"a": [0, "<f8", [2]]}, [bytearray(8)]),          # size does not match the shape
    ({"a": [1, "<f8", [1]]}, [bytearray(8)]),          # no such buffer
    ({"a": [0, "V8", [1]]}, [bytearray(8)]),           # not numeric
    ({"x": 1}, []),                                    # unknown tag
    ({"f": 1}, []),                                    # a function where none may be
    ({"r": [0, None]}, []),                            # an argument reference outside a call
    ({"l": [{"a": [0, "<f8", [1]]}, {"a": [0, "<f8", [1]]}]}, [bytearray(8)]),  # two arrays on one buffer
])
def test_malformed_values_are_refused(tree, buffers):
    with pytest.raises(protocol.ProtocolError):
        protocol.Decoder(buffers).decode(tree)


def test_too_deep_nesting_is_refused():
    tree = 1
    for _ in range(protocol.MAX_DEPTH + 2):
        tree = {"l": [tree]}
    with pytest.raises(protocol.ProtocolError, match="nested too deeply"):
        protocol.Decoder([]).decode(tree)


# ------------------------------------------------------------------------------------------------ submissions
KEEPER = CORRECT + textwrap.dedent('''
    _kept = []
    _grad_check = grad_check

    def grad_check(backward_fn, X, y, params, reg=0.0, eps=1e-5):
        _kept.append(backward_fn)           # keep the grader's function for later
        return _grad_check(backward_fn, X, y, params, reg, eps)

    def backward(X, y, params, reg=0.0):
        if not _kept:
            raise NotImplementedError
        return _kept[-1](X, y, params, reg)  # ... and use it as my own backward
    ''')


def test_a_grader_function_works_only_during_the_call_that_received_it(submission_from):
    student = submission_from(KEEPER)
    X, y, params = _problem()

    def secret_backward(X, y, params, reg=0.0):
        return 0.0, {k: np.zeros_like(v) for k, v in params.items()}

    assert set(student.call("grad_check", secret_backward, X, y, params, 0.0, 1e-5)) >= {"W1", "b1", "W2", "b2"}
    with pytest.raises(StudentCodeError, match="raised RuntimeError: this function was handed to your code for one "
                                               "call only; it no longer works"):
        student.call("backward", X, y, params, 0.0)


def test_threads_calling_a_grader_function_at_once_each_get_their_own_answer(submission_from):
    """A grad_check that checks its parameters in threads: their callbacks share one channel, one at a time."""
    student = submission_from(CORRECT + '''
import threading
NAMES = ("W1", "b1", "W2", "b2")
def grad_check(backward_fn, X, y, params, reg=0.0, eps=1e-5):
    answers = {}
    def check(name):
        mine = {k: v.copy() for k, v in params.items()}
        mine["W1"][...] = NAMES.index(name) + 1
        answers[name] = [backward_fn(X, y, mine, reg)[0] / mine["W1"].size for _ in range(40)]
    threads = [threading.Thread(target=check, args=(name,)) for name in NAMES]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return {name: max(abs(a - NAMES.index(name) - 1) for a in got) for name, got in answers.items()}
''')
    X, y, params = _problem()
    result = student.call("grad_check", lambda X, y, p, reg: (float(p["W1"].sum()), {}), X, y, params, 0.0, 1e-5)
    assert result == {"W1": 0.0, "b1": 0.0, "W2": 0.0, "b2": 0.0}
    assert student.call("shapes", 4, 5, 6, 3)  # the channel is still in step


def test_a_grader_function_refuses_arguments_far_larger_than_the_call_s(submission_from):
    """The grader's functions run in the grader's process: a grad_check cannot make it compute on gigabytes."""
    student = submission_from(CORRECT + '''
def grad_check(backward_fn, X, y, params, reg=0.0, eps=1e-5):
    big = np.ones((400_000, X.shape[1]))
    return backward_fn(big, np.zeros(400_000, dtype=int), params, reg)
''')
    X, y, params = _problem()
    calls = []
    with pytest.raises(StudentCodeError, match="raised ValueError: the grader's function takes arguments of at "
                                               "most 1,048,576 bytes in all here; got 1[0-9],[0-9,]+"):
        student.call("grad_check", lambda *a: calls.append(a), X, y, params, 0.0, 1e-5)
    assert calls == []


def test_each_fresh_group_gets_a_worker_of_its_own(submission_from):
    student = submission_from(KEEPER)
    X, y, params = _problem()
    student.enter("part3.grad_check")
    student.call("grad_check", lambda *a, **k: (0.0, {n: np.zeros_like(v) for n, v in params.items()}),
                 X, y, params, 0.0, 1e-5)
    student.enter(None)  # the next item: a new worker, nothing kept from the last one
    with pytest.raises(StudentCodeError, match="not implemented yet") as error:
        student.call("backward", X, y, params, 0.0)
    assert error.value.result.cause == "not_implemented"


def test_the_submission_may_not_import_the_grader_or_the_reference(submission_from):
    for line in ("import grader", "from grader import compare", "import reference.backprop"):
        student = submission_from(line + "\n" + CORRECT)
        assert "may not import the grader's or the reference's modules" in student.load_error
        assert student.load_cause == "import_failed"


def test_edits_of_the_arguments_are_mirrored_and_charged(submission_from):
    student = submission_from(CORRECT.replace('def forward(X, params):\n',
                                              'def forward(X, params):\n    X *= 1.0000001\n'))
    X, _, params = _problem()
    original = X.copy()
    with pytest.raises(StudentCodeError, match="`forward` modified its input `X` in place"):
        student.call("forward", X, params)
    assert not np.array_equal(X, original)  # the caller's own array shows the edit, as in one process
    X = original.copy()
    student.call("forward", X, params, guard=False)
    student = submission_from(CORRECT.replace('def forward(X, params):\n',  # rebinds the caller's dict entry
                                              'def forward(X, params):\n    params["W1"] = params["W1"] + 1.0\n'))
    with pytest.raises(StudentCodeError, match=r"modified its input `params\['W1'\]`"):
        student.call("forward", original.copy(), params)


def test_a_view_of_all_of_an_argument_reaches_a_grader_function_as_that_argument(submission_from):
    """Same memory, shape, strides and dtype: the grader's function gets the caller's own array, as in one process.
    A copy, a part of it, another shape, order or dtype is another array."""
    student = submission_from("""\
import numpy as np

def numerical_gradient(f, x, eps=1e-5):
    views = [x, x.reshape(-1).reshape(x.shape), x[:], x.view(), x.copy(), x[:2], x.reshape(-1), x[::-1],
             x.view(np.int64)]
    return [f(v) for v in views]
""")
    x = np.arange(12.0).reshape(3, 4)
    seen = []
    student.call("numerical_gradient", lambda array: seen.append(array is x) or 0.0, x, 1e-5)
    assert seen == [True, True, True, True, False, False, False, False, False]


def test_calls_run_under_the_floating_point_error_handling_set_up_at_import(submission_from):
    """numpy's defaults (0/0 warns, and the warning is recorded), or the submission's np.seterr at import; a
    np.seterr made during one call ends with that call."""
    divide = ("def rel_error(a, b):\n    if a == 1.0:\n        np.seterr(all='ignore')\n"
              "    return float(np.float64(0.0) / b)\n")
    default = submission_from("import numpy as np\n\n" + divide)
    silenced = submission_from("import numpy as np\n\nnp.seterr(all='ignore')\n\n" + divide)
    for a, student, warns in ((0.0, default, True), (0.0, silenced, False), (1.0, default, False),
                              (0.0, default, True)):
        assert np.isnan(student.call("rel_error", a, 0.0))
        assert bool(student.warnings) == warns, (a, student.warnings)
    assert "invalid value encountered" in default.warnings[0]


def test_a_hang_is_bounded_named_and_charged_to_its_function_only(submission_from):
    student = submission_from(CORRECT.replace("def rel_error(a, b):\n", "def rel_error(a, b):\n    while True:\n"
                                                                        "        pass\n"))
    student.limits = type(student.limits)(call_seconds=1.0)
    with pytest.raises(StudentCodeError, match=r"`rel_error` did not return within 1 s \(the time limit per call\), "
                                               r"while running backprop.py line \d+: `(while True:|pass)`") as error:
        student.call("rel_error", 1.0, 2.0)
    assert error.value.result.cause == "timeout"
    with pytest.raises(StudentCodeError, match="did not return within 1 s"):
        student.call("rel_error", 1.0, 2.0)  # at once: the function is known to hang
    assert student.call("shapes", 2, 3, 4, 5)["X"] == (2, 3)  # a new worker for the others


FLAKY_REL_ERROR = """
import time
def rel_error(a, b):
    time.sleep(b)
    if a == 3:
        raise ValueError("three")
    if a == 4:
        a = a.pop()
    return a * 2
"""


def test_a_batch_of_calls_answers_each_and_stops_at_the_first_failure(submission_from):
    student = submission_from(FLAKY_REL_ERROR)
    assert student.call_many("rel_error", [(1, 0.0), (2, 0.0)]) == [2, 4]
    with pytest.raises(StudentCodeError, match="raised ValueError: three") as error:
        student.call_many("rel_error", [(1, 0.0), (3, 0.0), (2, 0.0)])
    assert error.value.result.cause == "raised"
    assert student.call("rel_error", 5, 0.0) == 10  # the worker did not go on with the batch: no stale replies
    answers = student.call_many("rel_error", [(1, 0.0), (3, 0.0), (4, 0.0), (2, 0.0)], keep_going=True)
    assert answers[0] == 2 and answers[3] == 4
    assert [answer.result.feedback.split(":")[0] for answer in answers[1:3]] == [
        "`rel_error` raised ValueError", "`rel_error` raised AttributeError"]


def test_a_batch_whose_function_cannot_be_called_ends_at_once(submission_from):
    """The worker answers a request whose function is gone with one error: the grader reads no more replies (it
    used to wait, with keep_going, for replies that never came, and reported a time-out)."""
    student = submission_from(FLAKY_REL_ERROR + "\ndef shapes(N, D, H, C):\n    global rel_error\n    rel_error = 3\n")
    student.call("shapes", 1, 2, 3, 4)
    with pytest.raises(StudentCodeError, match="`rel_error` is not a function") as error:
        student.call_many("rel_error", [(1, 0.0), (2, 0.0)], keep_going=True)
    assert error.value.result.cause == "missing" and "rel_error" not in student.broken
    assert student.call_many("rel_error", []) == []


def test_a_first_worker_that_cannot_start_is_started_again(tmp_path, monkeypatch):
    """Not the submission's doing (the fork server failed, say): the next start is tried, not "no `backward`"."""
    from conftest import load_code
    from grader.worker import client
    real, attempts = client.WorkerProcess, []

    def fails_once(*args, **kwargs):
        attempts.append(1)
        if len(attempts) == 1:
            raise client.WorkerDied("the fork server failed (simulated)")
        return real(*args, **kwargs)
    monkeypatch.setattr(client, "WorkerProcess", fails_once)
    student = load_code(tmp_path, FLAKY_REL_ERROR)
    try:
        assert student.loaded and student.call("rel_error", 2, 0.0) == 4 and len(attempts) == 2
    finally:
        student.close()


def test_arrays_after_an_odd_sized_buffer_arrive_aligned():
    """A float32 scalar before an array puts the array's bytes at an odd offset of the message: the decoded array
    gets aligned memory of its own (NumPy's sums over unaligned arrays can differ in the last bits)."""
    back = round_trip((np.float32(1.5), np.arange(10_000.0), np.int8(3), np.ones((3, 4))))
    assert all(a.flags.aligned and a.flags.writeable for a in back[1::2])
    assert np.sum(back[1]) == np.sum(np.arange(10_000.0))


def test_each_call_of_a_batch_has_the_time_limit_of_one(submission_from):
    student = submission_from(FLAKY_REL_ERROR)
    student.limits = type(student.limits)(call_seconds=0.5)
    assert student.call_many("rel_error", [(1, 0.15)] * 6) == [2] * 6  # 0.9 s in all
    with pytest.raises(StudentCodeError, match=r"did not return within 0.5 s") as error:
        student.call_many("rel_error", [(1, 0.0), (1, 5.0)])
    assert error.value.result.cause == "timeout"


def test_a_function_that_ends_its_process_is_named(submission_from):
    exits = "def rel_error(a, b):\n    import os\n    getattr(os, '_ex' + 'it')(3)\n"
    student = submission_from(CORRECT.replace("def rel_error(a, b):\n", exits))
    with pytest.raises(StudentCodeError, match="running `rel_error` ended the process that runs your code") as error:
        student.call("rel_error", 1.0, 2.0)
    assert error.value.result.cause == "worker_died"
    assert student.call("shapes", 2, 3, 4, 5)["X"] == (2, 3)


def test_what_the_code_prints_is_captured_per_test(submission_from):
    student = submission_from("print('importing')\n" + CORRECT.replace(
        "def rel_error(a, b):\n", "def rel_error(a, b):\n    print('debug:', a, b)\n"))
    student.call("rel_error", 1.0, 2.0)
    assert student.printed() == "importing\ndebug: 1.0 2.0\n"
    assert student.printed() == ""
    student.close()
    assert "debug: 1.0 2.0" in "".join(student.output_log)


def test_output_printed_at_every_import_is_reported_once(submission_from):
    student = submission_from("print('importing')\n" + CORRECT)
    for group in ("part3.a", "part3.b", None):  # three workers, each importing the submission
        student.enter(group)
        student.call("rel_error", 1.0, 2.0)
    student.close()
    printed = student.everything_printed()  # (a spare worker, started for the next item, imports it too)
    assert re.fullmatch(r"importing\n\[the same output [345] times: once per fresh import of the submission\]",
                        printed), printed


SUBCLASSES = CORRECT + textwrap.dedent('''
    import collections
    import enum

    class Label(str, enum.Enum):
        SHAPE, NAN, OK, SCALE, LAYER1, LAYER2, OTHER = "shape", "nan", "ok", "scale", "layer1", "layer2", "other"

    class Loss(float):
        pass

    class Scores(np.ndarray):
        pass

    Forward = collections.namedtuple("Forward", "scores cache")
    _forward, _backward, _diagnose = forward, backward, diagnose

    def forward(X, params):
        return Forward(*_forward(X, params))

    def backward(X, y, params, reg=0.0):
        loss, grads = _backward(X, y, params, reg)
        return Loss(loss), collections.OrderedDict(grads)

    def diagnose(analytic, numeric):
        return Label(_diagnose(analytic, numeric))

    def numerical_gradient(f, x, eps=1e-5):
        return np.zeros_like(x).view(Scores)  # an ndarray subclass: still refused
    ''')


def test_subclasses_of_data_types_returned_by_the_submission_arrive_as_those_types(submission_from):
    student = submission_from(SUBCLASSES)
    X, y, params = _problem()
    scores, cache = student.call("forward", X, params, keep=(1,))  # a namedtuple, its cache kept in the worker
    assert type(scores) is np.ndarray and isinstance(cache, protocol.Opaque)
    loss, grads = student.call("backward", X, y, params, 0.0)
    assert type(loss) is float and type(grads) is dict and set(grads) == {"W1", "b1", "W2", "b2", "X"}
    assert outputs.gradient_dict(grads, "backward", {k: v.shape for k, v in params.items()}, {})
    answer = student.call("diagnose", grads, grads)
    assert type(answer) is str and answer == "ok"
    gradient = student.call("numerical_gradient", lambda x: 0.0, X, 1e-5)
    with pytest.raises(StudentCodeError, match="must be a NumPy array, got a Scores"):
        outputs.float64_array(gradient, "the gradient", X.shape)


def test_the_cache_stays_in_the_worker(submission_from):
    student = submission_from(CORRECT)
    X, _, params = _problem()
    scores, cache = student.call("forward", X, params, keep=(1,))
    assert scores.shape == (4, 3) and isinstance(cache, protocol.Opaque)


def _problem():
    rng = np.random.default_rng(0)
    params = {"W1": rng.normal(size=(5, 6)), "b1": rng.normal(size=6), "W2": rng.normal(size=(6, 3)),
              "b2": rng.normal(size=3)}
    return rng.normal(size=(4, 5)), np.array([0, 1, 2, 1]), params


@pytest.mark.skipif(not hasattr(os, "fork") or not os.path.isdir("/proc"), reason="needs fork and /proc (Linux)")
def test_killing_a_child_of_ours_that_is_already_dead_collects_it():
    """A worker whose fork server was killed is re-parented to the grader (a subreaper): when it is killed without
    a Popen to wait on, kill_tree must collect it, not look at its zombie round after round."""
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    while processes._stat_fields(Path(f"/proc/{pid}/stat"))[0] != "Z":  # dead, not yet collected
        time.sleep(0.01)
    processes.kill_tree(pid)
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # collected by kill_tree
    assert not Path(f"/proc/{pid}").exists()


ZOMBIE_LEADER = """
import ctypes, os, sys, threading, time
def work():
    while True:
        with open(sys.argv[1], "a") as marker:
            marker.write("x")
        time.sleep(0.05)
os.setsid()
threading.Thread(target=work).start()
time.sleep(0.3)
ctypes.CDLL(None).syscall(60, 0)  # exit(2) of the main thread only (x86-64): /proc shows "Z", the other thread runs
"""


@pytest.mark.skipif(not os.path.isdir("/proc") or os.uname().machine != "x86_64", reason="Linux x86-64 syscall")
def test_a_process_that_looks_dead_but_runs_is_killed(tmp_path):
    """A descendant whose main thread has exited shows as a zombie in /proc while another thread of it runs on:
    kill_tree must kill it, not take it for dead."""
    import subprocess
    import sys
    marker = tmp_path / "marker"
    marker.touch()
    starter = subprocess.Popen([sys.executable, "-c", "import subprocess, sys, time; subprocess.Popen([sys.executable,"
                                " '-c', sys.argv[1], sys.argv[2]]); time.sleep(60)", ZOMBIE_LEADER, str(marker)],
                               start_new_session=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not any(state == "Z" for parent, state in processes._process_table().values()
                                                  if parent == starter.pid):
        time.sleep(0.05)
    processes.kill_tree(starter.pid, starter.wait)
    size = marker.stat().st_size
    time.sleep(0.3)
    assert marker.stat().st_size == size  # nothing writes any more


def test_shared_writable_folders_are_found_once_by_their_real_paths(tmp_path):
    """Cleanup after --run-as searches every world-writable folder (/run/lock too, not only /tmp): known ones that
    exist and those directly in the parent folders, a link to one counted once as its target."""
    shared, private = tmp_path / "shared", tmp_path / "private"
    shared.mkdir()
    private.mkdir()
    shared.chmod(0o1777)
    private.chmod(0o755)
    (tmp_path / "lock").symlink_to(shared)
    found = processes.shared_writable_folders(known=(str(tmp_path / "missing"), str(tmp_path / "lock")),
                                              parents=(str(tmp_path),))
    assert found == [str(shared.resolve())]
    assert "/tmp" in processes.shared_writable_folders()


def test_a_file_of_the_folder_cannot_stand_in_for_another_module(tmp_path):
    """The submission's folder is searched last: its helper modules import, a file named like a module of the
    standard library (or of numpy's) does not replace that module."""
    (tmp_path / "colorsys.py").write_text("raise SystemExit('the folder colorsys.py was imported')\n")
    (tmp_path / "helpers.py").write_text("def double(x):\n    return 2 * x\n")
    uses = "\nimport colorsys\nfrom helpers import double\nassert double(2) == 4 and hasattr(colorsys, 'rgb_to_hsv')\n"
    (tmp_path / "backprop.py").write_text(CORRECT + uses)
    student = student_module.load(student_module.locate(tmp_path, "backprop.py"), dict(ENTRY_POINTS), TEST_LIMITS)
    try:
        assert student.load_error is None, student.load_error
        assert student.call("shapes", 4, 5, 6, 3)
    finally:
        student.close()
