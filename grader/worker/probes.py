"""Measurements taken inside the worker, around one call of the student's code: Python line events, and arrays
created from TrackedArray inputs (grader.checks.tracked_arrays).

The tracing functions are captured when this module is imported, before the submission is. A call that replaces
the tracer, or calls sys.settrace / sys.setprofile, raises `Tampered`. Imports only the standard library and the
tracked-array module (NumPy).
"""
from __future__ import annotations

import sys
import threading
from typing import Callable

from grader.checks.tracked_arrays import FINALIZE

_settrace, _gettrace, _setprofile = sys.settrace, sys.gettrace, sys.setprofile
_WATCHED = {"sys.settrace": _settrace, "sys.gettrace": _gettrace, "sys.setprofile": _setprofile}


class Tampered(Exception):
    """The submission switched the measurement off or replaced the tracing functions."""


def replaced() -> list[str]:
    """The tracing functions the submission has replaced since this module was imported."""
    return [name for name, original in _WATCHED.items() if getattr(sys, name.split(".")[1]) is not original]


def count_events(call: Callable[[], object], skip: frozenset = frozenset()) -> tuple[int, int]:
    """(line events, arrays created) while running `call()`: line events in any frame (the student's and numpy's
    Python code), arrays as calls of tracked_arrays.FINALIZE (whose own lines are not counted); neither inside calls
    of the code objects in `skip` (and everything they call)."""
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
    sys.gettrace = lambda: None  # a submission that checks for a tracer sees none
    threading.settrace(on_call)  # threads the call starts are counted too
    _settrace(on_call)
    try:
        call()
    finally:
        still_ours = _gettrace() is on_call
        _settrace(previous)
        threading.settrace(None)
        sys.settrace, sys.setprofile, sys.gettrace = _settrace, _setprofile, _gettrace
    if touched or not still_ours:
        raise Tampered(f"it called {touched[0]}" if touched else "the tracer was replaced during the call")
    return count, arrays
