"""The grader's own clock and tracing hooks, captured when the plugin is imported: before any submission runs.

Checks time and trace with these, never with whatever `time.perf_counter` or `sys.settrace` is by then, and
`tampered()` names the ones a submission has replaced.
"""
from __future__ import annotations

import sys
import time

perf_counter = time.perf_counter
settrace = sys.settrace
gettrace = sys.gettrace
setprofile = sys.setprofile

_WATCHED = {
    "time.perf_counter": (time, "perf_counter"),
    "time.perf_counter_ns": (time, "perf_counter_ns"),
    "time.monotonic": (time, "monotonic"),
    "time.process_time": (time, "process_time"),
    "sys.settrace": (sys, "settrace"),
    "sys.gettrace": (sys, "gettrace"),
    "sys.setprofile": (sys, "setprofile"),
}
_ORIGINAL = {name: getattr(owner, attribute) for name, (owner, attribute) in _WATCHED.items()}


def tampered() -> list[str]:
    """The clock and tracing functions that are no longer the ones the grader started with."""
    return [name for name, (owner, attribute) in _WATCHED.items() if getattr(owner, attribute) is not _ORIGINAL[name]]
