"""The worker: the one process that imports and runs the student's code (started by grader.worker.client).

It speaks grader.worker.protocol over a private channel: a socket, as its original stdin and stdout when forked by
the fork server, or one it connects to the grader on loopback when spawned (`--spawned`: where there is no fork, as
on Windows); file descriptors 1 and 2 both go to the grader's output capture, so whatever the student's code prints
is kept and bounded there. On `load` it limits its own resources, drops to the unprivileged user when asked,
refuses imports of the grader's and the reference's modules, and imports the submission; then it serves requests
one at a time: call a role's function on arguments the grader sent, stash arguments and run a role on them (for
timing, which the grader reads on its own clock), count line events of a call, or read a value such as
GRAD_CHECK_TOL.

Functions the grader passes as arguments arrive as stand-ins that call back into the grader, and only during the
call that received them. Every reply is data (see protocol); every decision about a score is the grader's.
"""
from __future__ import annotations

import errno
import faulthandler
import functools
import importlib
import importlib.abc
import importlib.util
import os
import re
import signal
import socket
import sys
import threading
import time
import traceback
import types
import warnings
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Optional

import numpy as np

from grader import adapter, stand_ins
from grader.checks import memory_growth, tracked_arrays
from grader.results import StudentCodeError
from grader.worker import plain, probes, protocol

#: Modules loaded before privileges are dropped: when the interpreter's own folder is private to root (a Python
#: under /root), the unprivileged user could not import them later.
PRELOAD = ("math", "cmath", "copy", "functools", "itertools", "collections", "random", "time", "numbers", "typing",
           "dataclasses", "fractions", "decimal", "statistics", "string", "operator", "heapq", "bisect",
           "numpy.linalg", "numpy.random", "numpy.fft", "numpy.lib.stride_tricks")
#: Top-level names a submission may not import: the grader and the reference solution.
REFUSED = ("grader", "reference")
MAX_STASHES = 64
#: What `limits` names, as a report says it is missing where the platform cannot set it.
LIMIT_NAMES = {"memory": "memory limit", "file_size": "file size limit", "cpu_seconds": "CPU time limit",
               "processes": "process limit"}


class _RefuseGrader(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname.split(".")[0] in REFUSED:
            raise ImportError(f"the submission may not import the grader's or the reference's modules "
                              f"(`import {fullname}`)", name=fullname)
        return None


class Worker:
    def __init__(self, channel_in, write: Callable[[bytes], None]):
        self.read_exactly, self.write = protocol.reader(channel_in), write
        self.module = None
        self.folder = Path.cwd()
        self.own_files: dict = {}  # file name -> whether it is the submission's (see _in_submission)
        self.entry_points: dict = {}
        self.functions: dict = {}
        self.memory_limit = 0
        self.stashes: dict = {}
        self.next_stash = 0
        # {id: result} of the last measured calls (counted, traced, timed), for the grader to check what they returned
        self.results: dict = {}
        self.next_result = 0
        self.call_token = 0  # grader functions handed to a call work while call_token is unchanged
        self.identities: dict = {}
        self.called_back = False
        # One callback round trip at a time: threads of the student's code share the channel (a grad_check that
        # checks its parameters in threads), and a call's reply waits for the round trip in progress.
        self.channel_lock = threading.Lock()
        self.error_state = np.geterr()  # floating-point error handling for the student's calls: see _run
        self.student_seconds = self.waited = 0.0  # time in the student's code during the current request

    # ---------------------------------------------------------------------------------------------- transport
    def send(self, message: dict, buffers: list = ()) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        self.write(protocol.frame(message, list(buffers)))

    def serve(self) -> None:
        handlers = {"setup": self.setup, "load": self.load, "call": self.call, "stash": self.stash, "run": self.run,
                    "result": self.result,
                    "count": self.count, "peak": self.peak, "value": self.value}
        while True:
            try:
                request, buffers = protocol.read_message(self.read_exactly)
            except (EOFError, ConnectionError):  # the grader closed the channel (a reset, on Windows)
                return
            handler = handlers.get(request.get("op"))
            if handler is None:
                self.send({"protocol_error": f"unknown request {request.get('op')!r}"})
                continue
            self.student_seconds = 0.0
            try:
                reply, reply_buffers = handler(request, buffers)
            except StudentCodeError as error:
                reply, reply_buffers = {"error": error.result.feedback, "cause": error.result.cause}, []
            reply["seconds"] = self.student_seconds  # for the overhead benchmark only: never a score
            self.send(reply, reply_buffers)

    # -------------------------------------------------------------------------------------------------- load
    def setup(self, request: dict, buffers: list) -> tuple[dict, list]:
        """Limit this process, drop to the unprivileged user, and close the door on the grader's modules."""
        limits = request["limits"]
        self.memory_limit = limits.get("memory", 0)
        os.environ["HOME"] = os.environ["TMPDIR"] = request["home"]
        if protocol.WHERE_SIGNAL is not None:  # on a time-out, the grader asks where it was
            faulthandler.register(protocol.WHERE_SIGNAL, all_threads=False)
        for name in PRELOAD:
            importlib.import_module(name)
        applied = _set_limits(limits)
        run_as = request.get("run_as")
        if run_as:
            os.setgroups([])
            os.setgid(run_as["gid"])
            os.setuid(run_as["uid"])
        if "memory" not in applied:
            self.memory_limit = 0
        protections = {"worker_process": True, "run_as": run_as["user"] if run_as else None,
                       "memory_limit_bytes": self.memory_limit or None,
                       "process_limit": limits.get("processes") if "processes" in applied else None,
                       "grader_readable": [p for p in request.get("secret_paths", []) if _readable(p)]}
        unavailable = [LIMIT_NAMES[key] for key in LIMIT_NAMES if limits.get(key) and key not in applied]
        unavailable += ["stack on time-out"] if protocol.WHERE_SIGNAL is None else []
        if unavailable:  # said only where the platform lacks them: a fork server's report stays as it was
            protections["unavailable"] = unavailable
        for name in list(sys.modules):
            if name.split(".")[0] in REFUSED:
                del sys.modules[name]
        sys.meta_path.insert(0, _RefuseGrader())
        sys.path[:] = [p for p in sys.path if os.path.abspath(p) != os.path.abspath(sys.argv[1])]
        return {"protections": protections}, []

    def load(self, request: dict, buffers: list) -> tuple[dict, list]:
        """Import the submission; reply with which roles it defines, or why it could not be imported."""
        self.folder = Path(request["folder"])
        os.chdir(self.folder)
        stand_ins.install(request.get("stand_ins", ()))
        self.entry_points = request["entry_points"]
        error, cause = self._import(request["module_name"], Path(request["module_path"]), request.get("class_api"))
        if error:
            return {"load_error": error, "load_cause": cause}, []
        roles = {}
        for role in self.entry_points:
            present = role in self.functions or hasattr(self.module, self.entry_points[role])
            value = self._attribute(role) if present else None
            roles[role] = {"present": present, "callable": callable(value),
                           "through_backward": bool(getattr(value, "through_backward", False))}
        return {"roles": roles}, []

    def _import(self, name: str, path: Path, class_api: Any) -> tuple[str, str]:
        """('', '') on success, else (what went wrong, its cause code)."""
        filename = path.name
        # Searched after the standard library and the installed packages: a file of the submission's folder is a
        # helper module it imports, never a stand-in for a module of the same name that numpy or Python loads.
        sys.path.append(str(self.folder))
        try:
            if "." in name:  # inside packages: a real package import, so `from cs231n.layers import *` works
                module = importlib.import_module(name)
            else:
                spec = importlib.util.spec_from_file_location(name, path)
                module = importlib.util.module_from_spec(spec)
                sys.modules[name] = module
                spec.loader.exec_module(module)
        except SyntaxError as error:
            python2 = _python2_line(error)
            if python2:
                return (f"{filename} is Python 2 code ({python2}): the grader runs Python 3. Convert it: print(...) "
                        f"is a function, range replaces xrange, `except E as e` replaces `except E, e`.", "python2")
            return f"{filename} does not compile: {_describe_syntax_error(error)}", "import_failed"
        except SystemExit:
            return f"the submission exits when imported ({filename} calls exit() at import).", "exits_at_import"
        except ModuleNotFoundError as error:
            return (f"{filename} imports `{error.name}`, which is not installed where it is graded "
                    f"({_describe_exception(error, self.folder)}). Remove the import if grading does not need it.",
                    "missing_module")
        except BaseException as error:  # noqa: BLE001 - whatever the student's import does is reported
            return f"importing {filename} raised {self._describe(error)}", "import_failed"
        self.module = module
        self.error_state = np.geterr()  # as the submission set it up (np.seterr at import), else numpy's defaults
        if class_api is not None:
            api = SimpleNamespace(**class_api)
            try:
                self.functions = adapter.class_functions(module, api, filename)
            except StudentCodeError as error:
                return error.result.feedback, error.result.cause
        return "", ""

    # -------------------------------------------------------------------------------------------------- calls
    def _attribute(self, role: str) -> Any:
        if role in self.functions:
            return self.functions[role]
        return getattr(self.module, self.entry_points[role])

    def _function(self, role: str) -> Callable:
        if self.module is None:
            raise StudentCodeError("the submission was not imported", cause="import_failed")
        function = self._attribute(role)
        if not callable(function):
            raise StudentCodeError(f"`{self.entry_points[role]}` is not a function.", cause="missing")
        return function

    def call(self, request: dict, buffers: list) -> tuple[dict, list]:
        """Call `role` on each argument list of request["calls"] in turn (a batch spares the grader a round trip per
        call: finite differences, diagnose's cases). Every call but the last gets its reply at once, from here; a
        call that fails ends the batch (its reply is the last) unless request["keep_going"]. See `_call_once`."""
        function, role = self._function(request["role"]), request["role"]
        calls, keep = request["calls"], request.get("keep") or ()
        if type(calls) is not list or not calls:
            raise protocol.ProtocolError("a call without arguments")
        for tree in calls[:-1]:
            reply, reply_buffers = self._call_once(function, role, tree, buffers, keep)
            if "result" not in reply and not request.get("keep_going"):
                return reply, reply_buffers
            reply.update(seconds=self.student_seconds, more=True)  # more replies to this request follow
            self.send(reply, reply_buffers)
        return self._call_once(function, role, calls[-1], buffers, keep)

    def _call_once(self, function: Callable, role: str, tree: Any, buffers: list, keep: Any) -> tuple[dict, list]:
        """One call on the arguments `tree`; the reply holds the result, the arguments as they are after the call
        when the call changed them (the grader mirrors in-place edits), and the warnings it raised."""
        self.call_token += 1
        self.called_back = False
        args = protocol.Decoder(buffers, callback=self._stand_in).decode(tree)
        arrays = list(protocol.walk_arrays(args))
        before = [(a, a.copy()) for a in arrays]
        self.identities = {id(a): [k, a, _state(a)] for k, a in enumerate(arrays)}  # as last sent
        shape = _structure(args)
        caught: list = []
        reply: dict = {}
        try:
            result = self._run(role, lambda: function(*args), caught)
        except _GraderFunctionRaised as raised:
            reply["grader_raised"] = raised.token
        except StudentCodeError as error:
            reply.update(error=error.result.feedback, cause=error.result.cause)
        else:
            reply["result"] = None
        finally:
            self.call_token += 1  # the grader functions handed to this call stop working
            with self.channel_lock:  # ... once the round trip in progress (a thread's) is over
                self.identities = {}
        encoder = protocol.Encoder(describe_others=True, convert=plain.plain_data)
        if "result" in reply:
            reply["result"] = encoder.encode(_without_kept(result, keep))
        # After a call back, the grader's arrays hold what the callback saw: always send the final state.
        changed = self.called_back or _structure(args) != shape or any(not _same(a, b) for a, b in before)
        if changed:
            reply["after"] = encoder.encode(args)
        reply["warnings"] = caught
        return reply, encoder.buffers

    def _run(self, role: str, thunk: Callable[[], Any], caught: list) -> Any:
        """thunk(), with the student's trouble turned into a StudentCodeError naming it and where it happened
        (a grader function's exception and a measurement's Tampered pass through).

        It runs under the floating-point error handling the submission had once imported: numpy's defaults (warn on
        divide, over and invalid; ignore underflow), so that its warnings are recorded, unless it called np.seterr
        at import, which is then respected as it would be in one process (silenced warnings stay silent). A
        np.seterr during a call ends with that call."""
        name = self.entry_points.get(role, role)
        start, self.waited = time.perf_counter(), 0.0
        with warnings.catch_warnings(record=True) as recorded, np.errstate(**self.error_state):
            warnings.simplefilter("always")
            try:
                return thunk()
            except (StudentCodeError, _GraderFunctionRaised, probes.Tampered, memory_growth.TracingStopped):
                raise
            except NotImplementedError:
                raise StudentCodeError(f"`{name}` is not implemented yet (it raises NotImplementedError).",
                                       cause="not_implemented") from None
            except MemoryError:
                limit = f" (the limit is {self.memory_limit / 2**30:g} GiB)" if self.memory_limit else ""
                raise StudentCodeError(f"`{name}` ran out of memory: the submission used more memory than grading "
                                       f"allows{limit}.", cause="memory_limit") from None
            except BaseException as error:  # noqa: BLE001 - SystemExit, KeyboardInterrupt: all are the student's
                if isinstance(error, OSError) and error.errno == errno.EFBIG:
                    raise StudentCodeError(f"`{name}` wrote more output (prints or files) than grading allows; the "
                                           f"write failed with 'File too large'. Remove the prints.",
                                           cause="output_limit") from None
                raise StudentCodeError(f"`{name}` raised {self._describe(error)}", cause="raised") from None
            finally:
                caught.extend(f"{w.category.__name__}: {w.message}" for w in recorded)
                self.student_seconds = time.perf_counter() - start - self.waited

    def _describe(self, error: BaseException) -> str:
        text = _describe_exception(error, self.folder)
        return text if not isinstance(error, MemoryError) else text + " (out of memory)"

    def _stand_in(self, callback_id: int) -> Callable:
        """A function that forwards its call to the grader's function `callback_id`, during this call only."""
        token = self.call_token

        def grader_function(*args: Any, **kwargs: Any) -> Any:
            with self.channel_lock:
                return call_back(args, kwargs)

        def call_back(args: tuple, kwargs: dict) -> Any:
            if self.call_token != token:
                raise RuntimeError("this function was handed to your code for one call only; it no longer works")
            asked = time.perf_counter()  # from here to the decoded answer: the grader's time, not the student's
            try:
                encoder = protocol.Encoder(describe_others=True, identity=self._identity, convert=plain.plain_data)
                tree = encoder.encode([list(args), kwargs])
                self.called_back = True
                self.send({"op": "callback", "id": callback_id, "args": tree}, encoder.buffers)
                reply, buffers = protocol.read_message(self.read_exactly)
                if "raise" in reply:
                    raise _grader_exception(reply["type"])(reply["message"], reply["raise"])
                return protocol.Decoder(buffers).decode(reply["result"])
            finally:
                self.waited += time.perf_counter() - asked
        return grader_function

    def _identity(self, array: np.ndarray) -> Optional[tuple]:
        """(k, changed since last sent) for the k-th array of the current call's arguments, else None. A view of
        all of that array (same memory, shape, strides and dtype, as `x.reshape(-1).reshape(x.shape)` is) counts as
        the array itself: writes through it reach the caller's array."""
        known = self.identities.get(id(array))
        if known is None or known[1] is not array:
            known = next((entry for entry in self.identities.values() if _same_layout(array, entry[1])), None)
        if known is None:
            return None
        k, _, last = known
        now = _state(array)
        if now == last:
            return k, False
        known[2] = now
        return k, True

    # ----------------------------------------------------------------------------------- timing and counting
    def stash(self, request: dict, buffers: list) -> tuple[dict, list]:
        """Keep arguments for a later `run`, so that sending them is not part of what is timed."""
        if len(self.stashes) >= MAX_STASHES:
            self.stashes.pop(next(iter(self.stashes)))
        self.next_stash += 1
        self.stashes[self.next_stash] = protocol.Decoder(buffers).decode(request["args"])
        return {"handle": self.next_stash}, []

    def run(self, request: dict, buffers: list) -> tuple[dict, list]:
        """Call `role` on stashed arguments and keep the result here: the grader times this request on its own clock."""
        function, args = self._function(request["role"]), self.stashes.pop(request["handle"])
        result = self._run(request["role"], lambda: function(*args), [])
        return {"result_id": self._keep(result)}, []

    def _keep(self, result: Any) -> int:
        """Keep a copy of a measured call's result for a later `result` request; its id. A copy: a function may
        return views of buffers it reuses on its next call (a legitimate speed trick)."""
        if len(self.results) >= MAX_STASHES:
            self.results.pop(next(iter(self.results)))
        self.next_result += 1
        self.results[self.next_result] = _copied(plain.plain_data(result))
        return self.next_result

    def result(self, request: dict, buffers: list) -> tuple[dict, list]:
        """What the measured calls request["ids"] returned (see `_keep`), as `call` would send each (`keep`:
        forward's cache stays)."""
        keep = request.get("keep") or ()
        results = [_without_kept(self.results.pop(result_id), keep) for result_id in request["ids"]]
        encoder = protocol.Encoder(describe_others=True, convert=plain.plain_data)
        return {"results": encoder.encode(results)}, encoder.buffers

    def count(self, request: dict, buffers: list) -> tuple[dict, list]:
        """probes.Counts of one call on the arguments sent (decoded before counting starts; with request["tracked"],
        viewed as TrackedArrays), not counting inside the roles in `skip` (the student's forward and
        softmax_cross_entropy, judged on their own); its result is kept (see `_keep`)."""
        role = request["role"]
        function = self._function(role)
        args = protocol.Decoder(buffers).decode(request["args"])
        if request.get("tracked"):
            args = [tracked_arrays.tracked(a) for a in args]
        skip, watched = self._codes(request.get("skip", ())), self._codes(request.get("watch", ()), adapted=True)
        try:
            result, counts = self._run(role, lambda: probes.count_events(lambda: function(*args), skip,
                                                                         self._in_submission, watched), [])
        except probes.Tampered as error:
            return {"tampered": str(error)}, []
        return {**counts._asdict(), "result_id": self._keep(result)}, []

    def _codes(self, roles: list, adapted: bool = False) -> frozenset:
        """The code objects of the submission's functions for `roles`: plain functions, lambdas, partials, bound
        methods, instances with __call__; with a class API and `adapted`, the class's method the contract's
        functions call (watched, never skipped: it is all of backward)."""
        codes = (_code_of(self._attribute(role), adapted) if self._has(role) else None for role in roles)
        return frozenset(code for code in codes if code is not None)

    def _in_submission(self, filename: str) -> bool:
        """Whether code of this file name is the submission's: a file in its folder (not "<frozen abc>" or
        "<string>", which a relative reading would put there). Remembered: every counted call asks it of every code
        object it runs (numpy's too), and the answer is a path resolution."""
        known = self.own_files.get(filename)
        if known is None:
            known = self.own_files[filename] = os.path.isabs(filename) and _inside(Path(filename), self.folder)
        return known

    def peak(self, request: dict, buffers: list) -> tuple[dict, list]:
        """Peak traced memory (bytes) of one call on the arguments sent (decoded before the measurement starts)."""
        role = request["role"]
        function, args = self._function(role), protocol.Decoder(buffers).decode(request["args"])
        try:
            result, peak = self._run(role, lambda: memory_growth.peak_traced_bytes(lambda: function(*args)), [])
        except memory_growth.TracingStopped as error:
            return {"tampered": str(error)}, []
        return {"peak": peak, "result_id": self._keep(result)}, []

    def value(self, request: dict, buffers: list) -> tuple[dict, list]:
        role = request["role"]
        if self.module is None or not self._has(role):
            raise StudentCodeError(f"no `{self.entry_points.get(role, role)}`", cause="missing")
        encoder = protocol.Encoder(describe_others=True, convert=plain.plain_data)
        return {"result": encoder.encode(self._attribute(role))}, encoder.buffers

    def _has(self, role: str) -> bool:
        return role in self.functions or hasattr(self.module, self.entry_points.get(role, ""))


# ------------------------------------------------------------------------------------------------------ helpers
class _GraderFunctionRaised(Exception):
    """Raised inside the student's code when a grader function raised: the grader gets its own exception back."""

    def __init__(self, message: str, token: int):
        super().__init__(message)
        self.token = token


_EXCEPTION_TYPES: dict = {}


def _grader_exception(type_name: str) -> type:
    """An exception class named like the grader's (the student's traceback shows the name the grader used)."""
    if type_name not in _EXCEPTION_TYPES:
        _EXCEPTION_TYPES[type_name] = type(str(type_name), (_GraderFunctionRaised,), {})
    return _EXCEPTION_TYPES[type_name]


def _type(value: Any) -> str:
    return type(value).__name__


def _without_kept(result: Any, keep: Any) -> Any:
    """A tuple or list result with its entries at the positions in `keep` (forward's cache) replaced by
    descriptions: they stay in the worker. Read with the base type's own iterator, and rebuilt as that base type (a
    namedtuple's class cannot be called with one iterable), so that no student code runs here."""
    kind = type(result)
    if not keep or not issubclass(kind, (tuple, list)):
        return result
    base = list if issubclass(kind, list) else tuple
    return base(protocol.Opaque(_type(v), "kept by the worker") if i in keep else v
                for i, v in enumerate(base.__iter__(result)))


def _code_of(function: Any, adapted: bool = False) -> Any:
    """The code object a callable runs (following partials, bound methods, __call__ and, when `adapted`, an
    adapter's student_function), or None."""
    for _ in range(8):
        if adapted:
            function = getattr(function, "student_function", None) or function
        code = getattr(function, "__code__", None)
        if isinstance(code, types.CodeType):
            return code
        if isinstance(function, functools.partial):
            function = function.func
        elif getattr(function, "__func__", None) is not None:
            function = function.__func__
        elif callable(function) and not isinstance(function, type):
            function = type(function).__call__
        else:
            return None
    return None


def _copied(value: Any) -> Any:
    """`value` with its arrays copied, inside plain dicts, lists and tuples too (anything else as it is)."""
    if isinstance(value, np.ndarray):
        return value.copy()
    if type(value) is dict:
        return {key: _copied(item) for key, item in value.items()}
    if type(value) in (list, tuple):
        return type(value)(_copied(item) for item in value)
    return value


def _structure(value: Any, depth: int = 0) -> Any:
    """The identity and layout of the containers and arrays in `value`, to see whether a call rebound an entry."""
    if depth > protocol.MAX_DEPTH:
        return None
    if isinstance(value, dict):
        return ("d", id(value), tuple((k, id(v), _structure(v, depth + 1)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return ("l", id(value), tuple((id(v), _structure(v, depth + 1)) for v in value))
    return None


def _same_layout(view: np.ndarray, array: np.ndarray) -> bool:
    """`view` covers exactly the memory of `array`, laid out the same way (ndarray attributes only)."""
    return (view.__array_interface__["data"][0] == array.__array_interface__["data"][0]
            and view.shape == array.shape and view.strides == array.strides and view.dtype == array.dtype)


def _state(array: np.ndarray) -> tuple:
    """What an array holds (shape, dtype, bytes), to see whether it changed (ndarray's own attributes only)."""
    return array.shape, array.dtype, array.tobytes()


def _same(array: np.ndarray, copy: np.ndarray) -> bool:
    """Bit-for-bit equal, with ndarray's own methods only: a submission can replace numpy's Python functions
    (np.array_equal) in the worker, not the methods of the ndarray type."""
    return array.shape == copy.shape and array.dtype == copy.dtype and array.tobytes() == copy.tobytes()


def _readable(path: str) -> bool:
    try:
        with open(path, "rb") as handle:
            handle.read(1)
        return True
    except OSError:
        return False


def _set_limits(limits: dict) -> set:
    """Set the resource limits asked for; the keys of those set (none where there is no `resource`: not POSIX),
    so that the report says which limits were active."""
    try:
        import resource
    except ImportError:
        return set()
    applied = set()
    for key, which in (("memory", resource.RLIMIT_AS), ("file_size", resource.RLIMIT_FSIZE),
                       ("cpu_seconds", resource.RLIMIT_CPU), ("processes", resource.RLIMIT_NPROC),
                       ("core", resource.RLIMIT_CORE)):
        value = limits.get(key)
        if value is not None:
            resource.setrlimit(which, (int(value), int(value)))
            applied.add(key)
    return applied


PYTHON2_PATTERNS = [re.compile(p) for p in (r"^\s*print\s+[^\s(=]", r"^\s*print\s*$", r"except\s+[\w.]+\s*,\s*\w+\s*:",
                                            r"^\s*exec\s+[\"'\w]", r"`[^`]+`")]


def _python2_line(error: SyntaxError) -> str:
    """'layers.py line 12: `print "loss", loss`' when the syntax error is Python 2 syntax, else ''."""
    line = (error.text or "").rstrip()
    code = line.split("#")[0]  # a backtick in a comment is not Python 2
    if "Missing parentheses in call to" in str(error.msg) or any(p.search(code) for p in PYTHON2_PATTERNS) or \
            re.search(r"\b\d+[lL]\b|\braise\s+\w+\s*,|<>", code):
        return f"{Path(error.filename or '').name or 'line'} line {error.lineno}: `{line.strip()}`"
    return ""


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
    try:
        message = str(error)
    except Exception:  # noqa: BLE001 - a student's exception may fail to print
        message = "?"
    message = message if len(message) <= 300 else message[:300] + "..."
    text = f"{type(error).__name__}: {message}".rstrip(": ")
    frames = [f for f in traceback.extract_tb(error.__traceback__) if _inside(Path(f.filename), folder)]
    if frames:
        frame = frames[-1]
        text += f" at {Path(frame.filename).name} line {frame.lineno}"
        if frame.line:
            text += f": `{frame.line.strip()}`"
    return text


def serve_forks(control: socket.socket) -> None:
    """The fork server: with NumPy and these modules imported once, fork a worker per request. A request brings the
    worker's channel socket and the write end of its output pipe (SCM_RIGHTS); the reply is the worker's pid.
    The server itself never runs student code; it ends when the grader closes the control socket."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # workers are reaped at once (the grader watches their channel)
    for name in PRELOAD:
        importlib.import_module(name)
    _student_builtins()
    while True:
        try:
            _, fds, _, _ = socket.recv_fds(control, 16, 2)
        except OSError:
            return
        if len(fds) != 2:
            return
        pid = os.fork()
        if pid == 0:
            control.close()
            os.setsid()
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            channel, output = fds
            os.dup2(channel, 0)
            os.dup2(channel, 1)
            os.dup2(output, 2)
            os.closerange(3, 65536)
            try:
                _serve_worker()
            finally:
                os._exit(0)
        for fd in fds:
            os.close(fd)
        control.sendall(pid.to_bytes(8, "big"))


def serve_spawned() -> None:
    """A worker started on its own, without a fork server (where there is no fork or fd passing, as on Windows, or
    when BACKPROP_GRADER_WORKER_START=spawn): connect to the grader's loopback port and send the one-time token it
    was given, which proves to the grader that this is its worker. Its fds 1 and 2 are already the output pipe and
    its stdin the null device (the grader's Popen made them so)."""
    port, token = os.environ.pop(protocol.CHANNEL_VARIABLE).split()
    channel = socket.create_connection(("127.0.0.1", int(port)))
    channel.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # a request and its reply: no Nagle delays
    channel.sendall(bytes.fromhex(token))
    _student_builtins()
    Worker(channel.makefile("rb"), channel.sendall).serve()


def _student_builtins() -> None:
    """Started without `site` (python -S): exit() and quit() as students know them."""
    import builtins
    from _sitebuiltins import Quitter
    builtins.exit, builtins.quit = Quitter("exit", "Ctrl-D (i.e. EOF)"), Quitter("quit", "Ctrl-D (i.e. EOF)")


def main() -> None:
    """Entry point: the fork server (`--fork-server`, its stdin the control socket), a spawned worker
    (`--spawned`), or a worker on its stdin and stdout."""
    if sys.argv[2:3] == ["--fork-server"]:
        serve_forks(socket.socket(fileno=os.dup(0)))
    elif sys.argv[2:3] == ["--spawned"]:
        serve_spawned()
    else:
        _serve_worker()


def _serve_worker() -> None:
    """A worker: keep the original stdin/stdout as the grader's channel; fds 0 -> /dev/null, 1 -> 2."""
    channel_in = os.fdopen(os.dup(0), "rb")
    channel_out = os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(2, 1)
    os.close(null)
    Worker(channel_in, _fd_writer(channel_out)).serve()


def _fd_writer(fd: int) -> Callable[[bytes], None]:
    """Write all of a message to a file descriptor (the forked worker's channel)."""
    def write(data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    return write
