"""Measurements taken inside the worker, around one call of the student's code: Python line events, and arrays
created from TrackedArray inputs (grader.checks.tracked_arrays).

The tracing functions are captured when this module is imported, before the submission is. A call that replaces
the tracer, or calls sys.settrace / sys.setprofile, raises `Tampered`. Imports only the standard library and the
tracked-array module (NumPy).
"""
from __future__ import annotations

import sys
import threading
import time
from typing import Callable, NamedTuple

try:
    import resource
except ImportError:  # Windows
    resource = None

from grader.checks.tracked_arrays import FINALIZE

_settrace, _gettrace, _setprofile = sys.settrace, sys.gettrace, sys.setprofile
# The clocks too: a submission that replaces time.perf_counter & co. does not reach the measurement.
_perf_counter, _sleep, _process_time, _thread_time = time.perf_counter, time.sleep, time.process_time, time.thread_time
_getrusage = getattr(resource, "getrusage", None)
_threading_gettrace = getattr(threading, "gettrace", lambda: None)  # Python 3.10+
_WATCHED = {"sys.settrace": _settrace, "sys.gettrace": _gettrace, "sys.setprofile": _setprofile}


#: The idle time taken to see how busy the other threads are on their own: a call's own time, within these bounds.
IDLE_SECONDS = (0.02, 0.05)
#: The share of a core other threads may use with no call running for a call's hidden work to be measured.
BUSY_ON_THEIR_OWN = 0.1
#: Code not counted: numpy's printing (formatting an array runs Python lines per entry; a debug print is no loop).
NOT_WORK = ("arrayprint.py",)
#: Calls not counted as calls of the submission's functions: a generator's or coroutine's resumptions (each is a
#: call event) and comprehensions (a function each, in Python 3.11): the loop they belong to is no function call.
RESUMABLE = 0x20 | 0x80 | 0x100 | 0x200  # CO_GENERATOR, CO_COROUTINE, CO_ITERABLE_COROUTINE, CO_ASYNC_GENERATOR
COMPREHENSIONS = frozenset({"<listcomp>", "<dictcomp>", "<setcomp>", "<genexpr>"})


class Tampered(Exception):
    """The submission switched the measurement off or replaced the tracing functions."""


def replaced() -> list[str]:
    """The tracing functions the submission has replaced since this module was imported."""
    return [name for name, original in _WATCHED.items() if getattr(sys, name.split(".")[1]) is not original]


class Counts(NamedTuple):
    """What one call ran: line events (any Python code: the student's and numpy's), arrays made from TrackedArray
    inputs, CPU seconds spent outside the calling thread beyond what was spent there anyway (other threads, children
    waited for: work the tracer does not follow), the function calls (not comprehensions or generators'
    resumptions) in the submission's own files, the calls of the `watched` code objects (the student's
    forward and softmax: the loss's path), and the call's wall time."""

    lines: int
    arrays: int
    elsewhere_seconds: float
    own_calls: int
    watched_calls: int
    seconds: float


def count_events(call: Callable[[], object], skip: frozenset = frozenset(),
                 own: Callable[[str], bool] = lambda filename: False,
                 watched: frozenset = frozenset()) -> tuple[object, Counts]:
    """(what `call()` returned, its Counts): line events in every frame of the calling thread and of threads the
    call starts, arrays as calls of tracked_arrays.FINALIZE (whose own lines are not counted); nothing inside calls of
    the code objects in `skip` (and everything they call) or inside numpy's printing (a debug print is not work);
    `own(filename)` tells the submission's files."""
    if replaced():
        raise Tampered(f"the submission replaced {', '.join(replaced())}")
    count, skipping, arrays, own_calls, watched_calls = 0, 0, 0, 0, 0
    owned: dict = {}

    def is_own(code) -> bool:
        known = owned.get(code)
        if known is None:
            known = owned[code] = bool(own(code.co_filename))
        return known

    def on_call(frame, event, arg):
        nonlocal skipping, arrays, own_calls, watched_calls
        if skipping:
            return None
        code = frame.f_code
        if code is FINALIZE:
            arrays += 1
            return None
        if code in watched:
            watched_calls += 1
        if code in skip or code.co_filename.endswith(NOT_WORK):
            skipping += 1
            return in_skipped
        if is_own(code) and not code.co_flags & RESUMABLE and code.co_name not in COMPREHENSIONS:
            own_calls += 1
        return on_line

    def in_skipped(frame, event, arg):
        nonlocal skipping
        if event == "return":
            skipping -= 1
        return in_skipped

    def on_line(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return on_line

    touched = []

    def refuse(name):
        def watched(*args):
            if name == "sys.settrace" and args and args[0] is on_call:  # a new thread installing the count's tracer
                _settrace(on_call)
                return
            touched.append(name)
        return watched

    previous = _gettrace()
    sys.settrace, sys.setprofile = refuse("sys.settrace"), refuse("sys.setprofile")
    # A submission that checks for a tracer sees none (a count must look like any other call).
    sys.gettrace = threading.gettrace = lambda: None
    before = _cpu_elsewhere()
    threading.settrace(on_call)  # threads the call starts are counted too
    _settrace(on_call)
    started = _perf_counter()
    try:
        result = call()
    finally:
        elapsed = _perf_counter() - started
        still_ours = _gettrace() is on_call
        _settrace(previous)
        threading.settrace(None)
        sys.settrace, sys.setprofile, sys.gettrace = _settrace, _setprofile, _gettrace
        threading.gettrace = _threading_gettrace
    if touched or not still_ours:
        raise Tampered(f"it called {touched[0]}" if touched else "the tracer was replaced during the call")
    return result, Counts(count, arrays, _beyond_idle(_cpu_elsewhere() - before, elapsed), own_calls,
                          watched_calls, elapsed)


def _cpu_elsewhere() -> float:
    """CPU seconds so far of this process outside the calling thread, and of its children that were waited for."""
    seconds = _process_time() - _thread_time()
    if _getrusage is not None:
        children = _getrusage(resource.RUSAGE_CHILDREN)
        seconds += children.ru_utime + children.ru_stime
    return seconds


def _beyond_idle(during: float, elapsed: float) -> float:
    """Of `during` CPU seconds spent outside the calling thread in `elapsed` seconds of a call, what goes beyond what
    is spent there with no call running; 0 when other threads are busy on their own (a thread left spinning: its
    share of a call cannot be told from the call's work, whatever the machine's load)."""
    if during <= 0.0:
        return 0.0
    idle = max(IDLE_SECONDS[0], min(elapsed, IDLE_SECONDS[1]))
    start, started = _cpu_elsewhere(), _perf_counter()
    _sleep(idle)
    rate = (_cpu_elsewhere() - start) / (_perf_counter() - started)
    return 0.0 if rate > BUSY_ON_THEIR_OWN else max(during - rate * elapsed, 0.0)
