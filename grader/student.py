"""The one place where the grader reaches student code: locating the submission and calling it in a worker.

The student's code never runs in the grader's process. A `Submission` owns worker processes (grader.worker) that
import a copy of the submission and run each call; arguments and results cross as data only. Every call goes
through `Submission.call`, which turns whatever the student's code did (NotImplementedError, any exception, a
SystemExit, a hang, a crash of the worker, an in-place edit of the caller's arrays) into a `StudentCodeError` whose
feedback says what happened and where. Functions of the grader passed as arguments (to numerical_gradient and
grad_check) stay in the grader: the worker gets stand-ins that call back, valid only during that call.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, NamedTuple, Optional

import numpy as np

from grader import introspection, processes
from grader.results import StudentCodeError
from grader.sources import SubmissionNotFound, SubmissionSource, locate  # noqa: F401 - part of this API
from grader.worker import client, protocol

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


#: Bytes of arguments a grader function handed to the student's code always accepts (see Submission.call).
CALLBACK_MIN_BYTES = 1 << 20


@dataclass(frozen=True)
class WorkerLimits:
    """Bounds on the student's code, per worker process (defaults: the rubric's `limits`)."""

    call_seconds: float = 10.0  # wall time of one call (callbacks included)
    import_seconds: float = 10.0  # wall time of importing the submission
    memory_bytes: int = 2 * 2**30  # address space
    file_bytes: int = 16 * 2**20  # any one file written (prints go to a pipe, bounded by output_bytes)
    cpu_seconds: int = 600  # CPU time of one worker over its whole life
    processes: int = 64  # processes and threads of the unprivileged user (only with run_as: root ignores it)
    output_bytes: int = 64 * 2**10  # printed output kept for the report

    #: Time for a worker to start (interpreter, NumPy) before the import limit begins.
    startup_seconds: float = 30.0


#: Causes after which no call of the role can work: checks that tolerate a raising call re-raise these.
CANNOT_RUN = frozenset({"not_implemented", "missing", "import_failed", "import_timeout", "exits_at_import",
                        "missing_module", "python2", "timeout", "worker_died"})
#: The roles a class-based API (rubric `class_api`) provides through its class.
CLASS_ROLES = ("forward", "backward", "softmax_cross_entropy")


class Tampered(Exception):
    """A measurement taken in the worker cannot be trusted: the submission switched it off (the worker saw it), or
    its source can reach into the interpreter (`reaching`: grader.introspection found it, before any of it ran)."""

    def __init__(self, what: str, reaching: bool = False):
        super().__init__(what)
        self.reaching = reaching


class Counts(NamedTuple):
    """What one call executed (grader.worker.probes.Counts): Python line events, arrays created from TrackedArray
    inputs (0 unless the call had them), CPU seconds spent outside the calling thread beyond its idle rate (work the
    count cannot see), calls of the submission's own functions and of the watched ones, the call's wall time; and the
    id its result is kept under in the worker (see Submission.measured_results)."""

    lines: int
    arrays: int
    elsewhere_seconds: float = 0.0
    own_calls: int = 0
    watched_calls: int = 0
    seconds: float = 0.0
    result_id: int = 0


class _AfterImport:
    """An attribute of a Submission that the first worker's start sets (as `_name`): reading it waits for that."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.private = "_" + name

    def __get__(self, submission: Any, owner: type = None) -> Any:
        if submission is None:
            return self
        submission._first_worker()
        return getattr(submission, self.private)


class Submission:
    """A submission, run in worker processes: its entry points by role, what it defines, and its output.

    `enter(test, fresh)` is called before each grading test: fresh=True (Part 3) gives the test a worker no other
    rubric item has used, so nothing handed to the student's code in one item can be kept for another.
    """

    def __init__(self, source: SubmissionSource, entry_points: dict, limits: WorkerLimits = WorkerLimits(),
                 class_api: Any = None, stand_ins: tuple = (), run_as: Optional[client.RunAs] = None,
                 secret_paths: tuple = ()):
        self.source, self.entry_points, self.limits, self.run_as = source, dict(entry_points), limits, run_as
        self._sandbox = Path(tempfile.mkdtemp(prefix="backprop-grader-sandbox-"))
        self.class_name = f"{class_api.name}.{class_api.method}" if class_api is not None else ""
        self._load = {"op": "load", "entry_points": self.entry_points, "stand_ins": list(stand_ins),
                      "class_api": dict(class_api.__dict__) if class_api is not None else None}
        self._setup = {"op": "setup", "home": str(self._sandbox), "secret_paths": [str(p) for p in secret_paths],
                       "run_as": run_as.__dict__ if run_as else None,
                       "limits": {"memory": limits.memory_bytes, "file_size": limits.file_bytes,
                                  "cpu_seconds": limits.cpu_seconds, "core": 0,
                                  "processes": limits.processes if run_as else None}}
        self._load_error: Optional[str] = None
        self._load_cause = "import_failed"
        self._roles: dict = {}
        self._protections: dict = {}
        self.warnings: list = []  # warnings raised by the last call, as strings
        self.verdicts: dict = {}  # results several grading tests share, by key
        self.broken: dict = {}  # role -> (feedback, cause): its calls fail at once (it hung or killed its worker)
        self.output_log: list = []  # what the submission printed, per worker
        #: Seconds spent: waiting for requests, in the student's code (as the worker reports it), in the grader's
        #: functions called back, and starting workers while grading waited (benchmarks/worker_overhead.py).
        self.stats = {"requests": 0, "request": 0.0, "student": 0.0, "callbacks": 0.0, "startup": 0.0}
        self._owner: Optional[str] = None  # the fresh-worker test group the current worker belongs to
        self._spare: Optional[threading.Thread] = None
        self._spare_worker: Optional[client.WorkerProcess] = None
        processes.become_subreaper()
        #: Read by the grader before the worker runs any of it: where the source reaches into the interpreter.
        self.reaching = introspection.find_introspection(source.module_path, source.folder, source.files)
        self._folder, self._module_path = _copy_into(source, self._sandbox, run_as)
        self._load.update(folder=str(self._folder), module_path=str(self._module_path),
                          module_name=source.module_name)
        self._worker: Optional[client.WorkerProcess] = None
        self._printed_from = 0
        # The first worker starts (and imports the submission) on a thread: pytest collects the grading tests
        # meanwhile. Whatever needs what the import found waits for it (`_first_worker`).
        self._first: Optional[threading.Thread] = threading.Thread(target=self._start_first, daemon=True)
        self._first.start()

    def _start_first(self) -> None:
        try:
            self._worker = self._start()
        except Exception:  # noqa: BLE001 - the worker could not start (not the submission's doing): see below
            self._worker = None

    def _first_worker(self) -> None:
        """Wait until the first worker has started (or failed to import the submission). If it could not start at
        all (the fork server died, say), start it here: what goes wrong then is raised to the grader, as before."""
        first = self._first
        if first is not None:
            started = time.perf_counter()
            first.join()
            self._first = None
            if self._worker is None and self._load_error is None:
                self._worker = self._start()
            self.stats["startup"] += time.perf_counter() - started

    load_error = _AfterImport()  # why the submission cannot be imported (feedback), or None
    load_cause = _AfterImport()  # its cause code
    roles = _AfterImport()  # role -> what the worker found for it ({"present", "callable", ...})
    protections = _AfterImport()  # the protections the worker reported as active (for reports)

    # ------------------------------------------------------------------------------------------- the workers
    def _start(self) -> Optional[client.WorkerProcess]:
        """A new worker with the submission imported, or None (load_error says why)."""
        started = time.perf_counter()
        try:
            return self._start_worker()
        finally:
            if threading.current_thread() is threading.main_thread():  # a spare is made while grading goes on
                self.stats["startup"] += time.perf_counter() - started

    def _start_worker(self) -> Optional[client.WorkerProcess]:
        # A worker that cannot start (WorkerDied) is not the submission's doing: that propagates (a spare's thread
        # then ends, and the worker is started again when it is needed).
        worker = client.WorkerProcess(self.limits.output_bytes, self.run_as, self.limits.startup_seconds,
                                      self.limits.file_bytes)
        try:
            reply, _ = worker.request(self._setup, [], self.limits.startup_seconds)
            self._protections = {**reply.get("protections", {}), "worker_start": worker.start}
            reply, _ = worker.request(self._load, [], self.limits.import_seconds)
        except client.WorkerTimeout:
            self._fail_load(f"importing {self.filename} took longer than {self.limits.import_seconds:g} s: does it "
                            f"train or run something at import? Put such code under `if __name__ == \"__main__\":`.",
                            "import_timeout", worker)
            return None
        except client.WorkerDied:
            self._fail_load(f"the submission exits when imported ({worker.dead} while importing {self.filename}).",
                            "exits_at_import", worker)
            return None
        if "load_error" in reply:
            self._fail_load(reply["load_error"], reply.get("load_cause", "import_failed"), worker)
            return None
        self._roles = reply.get("roles", {})
        return worker

    def _fail_load(self, feedback: str, cause: str, worker: client.WorkerProcess) -> None:
        self._load_error, self._load_cause = feedback, cause
        self._retire(worker)

    def _retire(self, worker: Optional[client.WorkerProcess], last: bool = False) -> None:
        if worker is not None:
            worker.kill("finished", all_of_user=last)
            self.output_log.append(worker.output.text())

    def _current(self) -> client.WorkerProcess:
        if self.load_error:
            raise StudentCodeError(self.load_error, cause=self.load_cause)
        if self._worker is None or self._worker.dead:
            self._retire(self._worker)
            self._printed_from = 0
            self._worker = self._start()
            if self._worker is None:
                raise StudentCodeError(self.load_error, cause=self.load_cause)
        return self._worker

    def enter(self, group: Optional[str]) -> None:
        """Before a grading test: `group` names a set of tests that must run in a worker of their own (None: the
        shared worker). A change of group retires the current worker."""
        if group == self._owner or self.load_error:
            return
        self._owner = group
        self._retire(self._worker)
        self._worker = self._take_spare()
        self._printed_from = 0
        self._spare = threading.Thread(target=self._make_spare, daemon=True)  # the next one, started meanwhile
        self._spare.start()

    def _make_spare(self) -> None:
        self._spare_worker = self._start()

    def _take_spare(self) -> Optional[client.WorkerProcess]:
        if self._spare is None:
            return self._start()
        started = time.perf_counter()
        self._spare.join()
        self.stats["startup"] += time.perf_counter() - started
        worker, self._spare, self._spare_worker = self._spare_worker, None, None
        return worker if worker is not None and not worker.dead else self._start()

    def printed(self) -> str:
        """What the submission printed in the current worker since the last call of `printed`."""
        self._first_worker()
        if self._worker is None:
            return ""
        text = self._worker.output.text(self._printed_from)
        self._printed_from = len(self._worker.output.kept)
        return text

    def everything_printed(self) -> str:
        """What every worker printed, in order; a worker's output repeated by later workers (what the submission
        prints when imported: each worker imports it afresh) is shown once, with how often it came."""
        texts = [text for text in self.output_log if text.strip()]
        shown = []
        for text in dict.fromkeys(texts):
            repeats = texts.count(text)
            shown.append(text if repeats == 1 else
                         f"{text.rstrip()}\n[the same output {repeats} times: once per fresh import of the submission]")
        return "\n".join(shown)

    def close(self) -> None:
        """Kill every worker (and what they started) and remove the sandbox."""
        self._first_worker()
        if self._spare is not None:
            self._spare.join()
            self._retire(self._spare_worker)
            self._spare = None
        self._retire(self._worker, last=True)
        self._worker = None
        shutil.rmtree(self._sandbox, ignore_errors=True)
        if self.run_as is not None:  # its processes are dead: nothing writes any more
            processes.remove_files_of(self.run_as.uid)

    # -------------------------------------------------------------------------------------------- the calls
    @property
    def filename(self) -> str:
        return self.source.module_path.name

    @property
    def loaded(self) -> bool:
        return self.load_error is None

    def remembered(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """compute(), once per run for this submission: for a verdict that several grading tests need."""
        if key not in self.verdicts:
            self.verdicts[key] = compute()
        return self.verdicts[key]

    def name_of(self, role: str) -> str:
        return self.class_name if self.class_name and role in CLASS_ROLES else self.entry_points[role]

    def has(self, role: str) -> bool:
        return self.loaded and self.roles.get(role, {}).get("present", False)

    def through_backward(self, role: str) -> bool:
        """A class API computes the loss inside backward: it is judged there."""
        return self.roles.get(role, {}).get("through_backward", False)

    def _require(self, role: str) -> None:
        if self.load_error:
            raise StudentCodeError(self.load_error, cause=self.load_cause)
        name = self.name_of(role)
        if not self.has(role):
            raise StudentCodeError(f"{self.filename} has no `{name}`: define it with the template's signature.",
                                   cause="missing")
        if role in self.broken:
            raise StudentCodeError(*self.broken[role])

    def value(self, role: str) -> Any:
        """The submission's value for `role` (GRAD_CHECK_TOL), as data."""
        self._require(role)
        reply, buffers = self._request(role, {"op": "value", "role": role}, [])
        with self._reading(role):
            return protocol.Decoder(buffers).decode(reply["result"])

    def call(self, role: str, *args: Any, passthrough: tuple = (), guard: bool = True, keep: tuple = ()) -> Any:
        """Call the student's function for `role` in the worker; any trouble becomes a StudentCodeError.

        Exceptions of the types in `passthrough` (raised on purpose by a grader callback) propagate unchanged.
        guard: fail the call when it edits the caller's arrays (the worker's edits are mirrored into `args`).
        Checks that judge another property of the function (stability, vectorization, ...) pass fresh copies and
        guard=False, so an in-place edit is charged once, to the items that judge the function itself.
        keep: positions in a tuple result that stay in the worker (forward's cache).
        """
        return self.call_many(role, [args], passthrough=passthrough, guard=guard, keep=keep)[0]

    def call_many(self, role: str, arg_lists: list, passthrough: tuple = (), guard: bool = True,
                  keep: tuple = (), keep_going: bool = False) -> list:
        """[the result of `call(role, *args)` for each args in arg_lists], the calls made in turn in one request: the
        worker answers each as it returns, with no round trip between them (finite differences make hundreds of
        calls). Each call has the time limit of one. The first call that fails raises its StudentCodeError, as
        `call` would, and ends the batch; with keep_going, the error takes that call's place in the list and the
        batch goes on (unless the worker is gone: a time-out or a crash still raises)."""
        self._require(role)
        name = self.name_of(role)
        if not self.roles[role].get("callable"):
            raise StudentCodeError(f"`{name}` in {self.filename} is not a function.", cause="missing")
        if not arg_lists:
            return []
        functions: list = []
        raised: list = []
        encoder = protocol.Encoder(callback=lambda f: functions.append(f) or len(functions) - 1)
        trees = [encoder.encode(list(args)) for args in arg_lists]
        own_arrays = [list(protocol.walk_arrays(args)) for args in arg_lists]
        # The grader's functions run in the grader's process on what the student's code sends them: bounded in size
        # (a few times the call's own arguments) and in total time (the call's limit), or they refuse.
        largest = [max(CALLBACK_MIN_BYTES, 4 * sum(a.nbytes for a in own)) for own in own_arrays]
        replies: list = []  # (reply, buffers) of the calls that have returned: the current call is the next
        spent = [0.0] * len(arg_lists)

        def on_callback(request: dict, buffers: list) -> tuple[dict, list]:
            """A grader function called by the student's code, during call number len(replies) of the batch."""
            current = len(replies)
            own = own_arrays[current]
            started, called = time.perf_counter(), None
            try:
                size = sum(map(len, buffers))
                if size > largest[current]:
                    raise ValueError(f"the grader's function takes arguments of at most {largest[current]:,} bytes "
                                     f"in all here; got {size:,}")
                if spent[current] > self.limits.call_seconds:
                    raise TimeoutError(f"the grader's function was called for more than {self.limits.call_seconds:g}"
                                       f" s in all during this call")
                decoder = protocol.Decoder(buffers, identity=lambda k, array: _mirror_array(own, k, array))
                call_args, kwargs = decoder.decode(request["args"])
                called = time.perf_counter()
                value = functions[request["id"]](*call_args, **kwargs)
            except protocol.ProtocolError:
                raise  # not data: the worker is ended as corrupted
            except Exception as error:  # noqa: BLE001 - the grader's function raised: the student's code sees it
                raised.append(error)
                return {"raise": len(raised) - 1, "type": type(error).__name__, "message": str(error)[:500]}, []
            finally:
                spent[current] += time.perf_counter() - started  # the limit counts decoding what was sent too
                if called is not None:  # the function's own time (decoding is the worker's overhead)
                    self.stats["callbacks"] += time.perf_counter() - called
            out = protocol.Encoder()
            return {"result": out.encode(value)}, out.buffers

        snapshots = [_snapshot(ARGUMENT_NAMES.get(role, ()), args) if guard else [] for args in arg_lists]
        message = {"op": "call", "role": role, "calls": trees, "keep": list(keep), "keep_going": keep_going}
        self._exchange(role, message, encoder.buffers, on_callback, replies, len(arg_lists))
        results = []
        for (reply, buffers), args, before in zip(replies, arg_lists, snapshots):
            try:
                results.append(self._call_result(role, reply, buffers, args, before, raised, passthrough))
            except StudentCodeError as error:
                if not keep_going:
                    raise
                results.append(error)
        if len(results) < len(arg_lists):  # the worker ended the batch early: only a failure that ends all may
            if results and isinstance(results[-1], StudentCodeError):
                raise results[-1]
            with self._reading(role):
                raise protocol.ProtocolError("a batch of calls ended early")
        return results

    def _call_result(self, role: str, reply: dict, buffers: list, args: tuple, snapshots: list, raised: list,
                     passthrough: tuple) -> Any:
        """The result of one call from its reply, after mirroring the call's in-place edits into `args`; or the
        StudentCodeError (or passthrough exception) that the call ended with."""
        name = self.name_of(role)
        decoder = protocol.Decoder(buffers)
        with self._reading(role):
            result = decoder.decode(reply["result"]) if "result" in reply else None
            if "after" in reply:
                _mirror(list(args), decoder.decode(reply["after"]))
            self.warnings[:] = [str(w) for w in reply.get("warnings", [])][:100]
            if "grader_raised" in reply:
                error = raised[max(0, int(reply["grader_raised"]))]
        if "grader_raised" in reply:
            if isinstance(error, passthrough):
                raise error
            raise StudentCodeError(f"`{name}` raised {type(error).__name__}: {error}", cause="raised")
        if "error" in reply:
            raise StudentCodeError(str(reply["error"]), cause=str(reply.get("cause") or "raised"))
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

    def stash(self, role: str, args: tuple) -> int:
        """Send arguments ahead of a `run_stashed`, so that sending them is not part of what is timed."""
        encoder = protocol.Encoder()
        tree = encoder.encode(list(args))
        reply, _ = self._request(role, {"op": "stash", "args": tree}, encoder.buffers)
        with self._reading(role):
            return int(reply["handle"])

    def run_stashed(self, role: str, handle: int) -> int:
        """Run `role` on stashed arguments, its result kept in the worker (the grader times this request); the id
        of that result."""
        reply, _ = self._request(role, {"op": "run", "role": role, "handle": handle}, [])
        if "error" in reply:
            raise StudentCodeError(reply["error"], cause=reply.get("cause") or "raised")
        with self._reading(role):
            return int(reply["result_id"])

    def measured_results(self, role: str, result_ids: list, keep: tuple = ()) -> list:
        """What measured calls (counted, traced or timed; among the last 64) returned, as `call` would give each
        (`keep`: positions that stay in the worker), in one request."""
        reply, buffers = self._request(role, {"op": "result", "ids": list(result_ids), "keep": list(keep)}, [])
        with self._reading(role):
            results = protocol.Decoder(buffers).decode(reply["results"])
            if not isinstance(results, list) or len(results) != len(result_ids):
                raise protocol.ProtocolError("not one result per measured call")
            return results

    def count_events(self, role: str, args: tuple, skip: tuple = (), tracked: bool = False,
                     watch: tuple = ()) -> Counts:
        """Counts of one call of `role` (not counting inside the roles in `skip`; calls of the roles in `watch`),
        and with `tracked` the arrays it creates (its arguments arrive as TrackedArrays: a call can tell, so lines
        are best counted on plain arrays)."""
        message = {"op": "count", "role": role, "skip": list(skip), "tracked": tracked, "watch": list(watch)}
        reply = self._measure(role, message, args)
        with self._reading(role):
            return Counts(int(reply["lines"]), int(reply["arrays"]), float(reply["elsewhere_seconds"]),
                          int(reply["own_calls"]), int(reply["watched_calls"]), float(reply["seconds"]),
                          int(reply["result_id"]))

    def peak_bytes(self, role: str, args: tuple) -> tuple[int, int]:
        """(peak traced memory in bytes of one call of `role` (numpy's buffers and Python's objects), the id its
        result is kept under)."""
        reply = self._measure(role, {"op": "peak", "role": role}, args)
        with self._reading(role):
            return int(reply["peak"]), int(reply["result_id"])

    def _measure(self, role: str, message: dict, args: tuple) -> dict:
        """A measurement the worker takes around one call on `args`: its reply, or Tampered / StudentCodeError."""
        if self.reaching:
            raise Tampered(self.reaching, reaching=True)
        encoder = protocol.Encoder()
        message["args"] = encoder.encode(list(args))
        reply, _ = self._request(role, message, encoder.buffers)
        if "tampered" in reply:
            raise Tampered(str(reply["tampered"]))
        if "error" in reply:
            raise StudentCodeError(str(reply["error"]), cause=str(reply.get("cause") or "raised"))
        return reply

    def _request(self, role: str, message: dict, buffers: list) -> tuple[dict, list]:
        """One request to the current worker and its reply (see `_exchange`)."""
        return self._exchange(role, message, buffers)[0]

    def _exchange(self, role: str, message: dict, buffers: list, on_callback=None, received: Optional[list] = None,
                  replies: int = 1) -> list:
        """Send one request to the current worker and read its replies into `received` (returned): `replies` of
        them, or fewer when one says that its call failed (it ends a batch), each within the time limit of one call.
        A hang or a crash is charged to `role` (later calls fail at once)."""
        self._require(role)
        worker = self._current()
        name = self.name_of(role)
        received = [] if received is None else received
        try:
            while len(received) < replies:
                started = time.perf_counter()
                if received:
                    reply, reply_buffers = worker.receive(self.limits.call_seconds, on_callback)
                else:
                    reply, reply_buffers = worker.request(message, buffers, self.limits.call_seconds, on_callback)
                self.stats["requests"] += 1
                self.stats["request"] += time.perf_counter() - started
                seconds = reply.get("seconds")
                self.stats["student"] += seconds if isinstance(seconds, float) else 0.0
                received.append((reply, reply_buffers))
                if reply.get("more") is not True:
                    break  # the worker's last reply to this request (a batch's others say "more")
        except client.WorkerTimeout:
            self.broken[role] = (f"`{name}` did not return within {self.limits.call_seconds:g} s (the time limit "
                                 f"per call){self._running_line(worker.where)}: an infinite loop, or something "
                                 f"very slow?{_printed(worker)}", "timeout")
            raise StudentCodeError(*self.broken[role]) from None
        except client.WorkerDied:
            if worker.output.overflowed:
                self.broken[role] = (f"`{name}` printed more than {self.limits.file_bytes // 2**20} MiB, more output "
                                     f"than grading allows (prints or files); the run was stopped. Remove the "
                                     f"prints.", "output_limit")
            else:
                self.broken[role] = (f"running `{name}` ended the process that runs your code ({worker.dead}): did "
                                     f"it call exit() or os._exit(), or crash?{_printed(worker)}", "worker_died")
            raise StudentCodeError(*self.broken[role]) from None
        except BaseException:
            # Between two replies of a batch (pytest-timeout's exception, say): the worker's replies still to come
            # would answer the next request. It must not live on.
            worker.kill("the grader stopped waiting for its replies")
            raise
        reply = received[0][0]
        if "error" in reply and message["op"] not in ("call", "run", "count", "peak"):
            raise StudentCodeError(reply["error"], cause=reply.get("cause") or "raised")
        return received

    @contextlib.contextmanager
    def _reading(self, role: str) -> Iterator[None]:
        """Reading a worker's reply: one that is not what the protocol promises ends that worker."""
        try:
            yield
        except (protocol.ProtocolError, LookupError, TypeError, ValueError, RecursionError) as problem:
            if self._worker is not None:
                self._worker.kill(f"it sent something that is not a valid reply ({problem})")
            raise StudentCodeError(f"`{self.name_of(role)}` returned something the grader cannot read ({problem}).",
                                   "bad_output") from None

    def _running_line(self, frames: list) -> str:
        """", while running backprop.py line 12: `while True:`": the submission's innermost line in the stack."""
        for filename, line in reversed(frames):
            path = Path(filename)
            if path.is_file() and path.resolve().is_relative_to(self._folder.resolve()):
                lines = path.read_text(errors="replace").splitlines()
                code = lines[line - 1].strip() if 0 < line <= len(lines) else ""
                return f", while running {path.name} line {line}" + (f": `{code}`" if code else "")
        return ""


def _printed(worker: client.WorkerProcess) -> str:
    text = worker.output.text().strip()
    return f" Its last output: {text[-300:]!r}" if text else ""


def _copy_into(source: SubmissionSource, sandbox: Path, run_as: Optional[client.RunAs]) -> tuple[Path, Path]:
    """Copy the submission (its file, or its folder without caches and large files) into the worker's sandbox:
    the worker never sees the original folder, and files it writes land in the sandbox."""
    folder = sandbox / "submission"
    folder.mkdir()
    files = source.files if source.given.is_dir() else (source.module_path,)
    for path in files:
        target = folder / path.relative_to(source.folder)
        if path.stat().st_size <= MAX_COPIED_FILE:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    if run_as is not None:
        for path in [sandbox, *sandbox.rglob("*")]:
            os.chown(path, run_as.uid, run_as.gid)
    return folder, folder / source.module_path.relative_to(source.folder)


#: Files of a submission folder larger than this (datasets, checkpoints) are not copied for the worker.
MAX_COPIED_FILE = 10 * 2**20


def _mirror_array(own: list, k: Any, array: Optional[np.ndarray]) -> Any:
    """The caller's own array number k, updated to the worker's copy's values (None: unchanged since last sent),
    so that a function called back gets the caller's own object, as it would in one process."""
    if type(k) is not int or not 0 <= k < len(own):
        raise protocol.ProtocolError("an unknown argument")
    if array is None:
        return own[k]
    if own[k].shape == array.shape and own[k].dtype == array.dtype and own[k].flags.writeable:
        np.copyto(own[k], array)
        return own[k]
    return array


def _mirror(mine: Any, theirs: Any) -> Any:
    """Make `mine` (the caller's arguments) look like `theirs` (the worker's after the call), in place where the
    types allow: arrays are written into, dict and list entries replaced. Returns the value to keep."""
    if isinstance(mine, np.ndarray) and isinstance(theirs, np.ndarray) and mine.shape == theirs.shape and \
            mine.dtype == theirs.dtype and mine.flags.writeable:
        np.copyto(mine, theirs)
        return mine
    if isinstance(mine, dict) and isinstance(theirs, dict):
        for key in [k for k in mine if k not in theirs]:
            del mine[key]
        for key, value in theirs.items():
            mine[key] = _mirror(mine.get(key), value)
        return mine
    if isinstance(mine, list) and isinstance(theirs, list):
        mine[:] = [_mirror(mine[i] if i < len(mine) else None, v) for i, v in enumerate(theirs)]
        return mine
    if isinstance(mine, tuple) and isinstance(theirs, tuple) and len(mine) == len(theirs):
        for m, t in zip(mine, theirs):
            _mirror(m, t)
        return mine
    return theirs


def load(source: SubmissionSource, entry_points: dict, limits: WorkerLimits = WorkerLimits(), class_api=None,
         stand_ins: tuple = (), run_as: Optional[client.RunAs] = None, secret_paths: tuple = ()) -> Submission:
    """Start a worker and import the submission in it (with a class-based API, the contract's functions are built
    from the class there); a submission that cannot be imported has `load_error` set."""
    return Submission(source, entry_points, limits, class_api, stand_ins, run_as, secret_paths)


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


