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
from typing import Callable

from grader.checks.tracked_arrays import FINALIZE

_settrace, _gettrace, _setprofile = sys.settrace, sys.gettrace, sys.setprofile
_threading_gettrace = getattr(threading, "gettrace", lambda: None)  # Python 3.10+
_WATCHED = {"sys.settrace": _settrace, "sys.gettrace": _gettrace, "sys.setprofile": _setprofile}


#: The longest idle time taken to see how busy the other threads are on their own (a call's own time, at most this).
IDLE_SECONDS = 0.05


class Tampered(Exception):
    """The submission switched the measurement off or replaced the tracing functions."""


def replaced() -> list[str]:
    """The tracing functions the submission has replaced since this module was imported."""
    return [name for name, original in _WATCHED.items() if getattr(sys, name.split(".")[1]) is not original]


def count_events(call: Callable[[], object], skip: frozenset = frozenset()) -> tuple[object, tuple[int, int, float]]:
    """(what `call()` returned, (line events, arrays created, CPU seconds of threads that ran before the call)): line
    events in any frame (the student's and numpy's Python code) of the calling thread and of threads the call starts,
    arrays as calls of tracked_arrays.FINALIZE (whose own lines are not counted); neither inside calls of the code
    objects in `skip` (and everything they call). Work handed to a thread that already ran (a pool made at import)
    escapes the tracer: the third figure shows it."""
    if replaced():
        raise Tampered(f"the submission replaced {', '.join(replaced())}")
    count, skipping, arrays = 0, 0, 0

    def on_call(frame, event, arg):
        nonlocal skipping, arrays
        if skipping:
            return None
        if frame.f_code is FINALIZE:
            arrays += 1
            return None
        if frame.f_code in skip:
            skipping += 1
            return in_skipped
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
    others = other_threads_cpu()
    threading.settrace(on_call)  # threads the call starts are counted too
    _settrace(on_call)
    started = time.perf_counter()
    try:
        result = call()
    finally:
        elapsed = time.perf_counter() - started
        still_ours = _gettrace() is on_call
        _settrace(previous)
        threading.settrace(None)
        sys.settrace, sys.setprofile, sys.gettrace = _settrace, _setprofile, _gettrace
        threading.gettrace = _threading_gettrace
    if touched or not still_ours:
        raise Tampered(f"it called {touched[0]}" if touched else "the tracer was replaced during the call")
    during = _cpu_since(others)
    if during == 0.0:  # no other thread, or none that ran: nothing to compare with
        return result, (count, arrays, 0.0)
    # What those threads use when no call runs (a thread busy on its own is not the call's work), at that rate.
    idle = min(elapsed, IDLE_SECONDS)
    before_idle = other_threads_cpu()
    time.sleep(idle)
    rate = _cpu_since(before_idle) / idle if idle > 0 else 0.0
    return result, (count, arrays, max(during - rate * elapsed, 0.0))


def _cpu_since(clocks: dict[int, float]) -> float:
    """CPU seconds the threads in `clocks` ({ident: CPU seconds then}) have used since."""
    now = other_threads_cpu()
    return sum(max(now.get(ident, seconds) - seconds, 0.0) for ident, seconds in clocks.items())


def other_threads_cpu() -> dict[int, float]:
    """{thread ident: CPU seconds so far} for the live threads other than the calling one (where the platform has
    per-thread CPU clocks; else {})."""
    clocks = {}
    for thread in threading.enumerate():
        if thread is threading.current_thread() or thread.ident is None:
            continue
        try:
            clocks[thread.ident] = time.clock_gettime(time.pthread_getcpuclockid(thread.ident))
        except (AttributeError, OSError, ValueError):  # no per-thread clocks (Windows, macOS), or it just ended
            continue
    return clocks
