# ruff: noqa: F821 - a template: the test replaces `# @BASE@` by an honest solution
"""A solution whose forward loops over the examples (part2.vectorized charges it). The worker that runs it is its
own process: at import it walks up the stack to the worker's module and replaces the line counter with one that
reports the same count whatever N is."""
import sys

_frame = sys._getframe()
while _frame is not None:
    _probes = _frame.f_globals.get("probes")
    if _probes is not None and hasattr(_probes, "count_events"):
        def _constant_count(call, skip=frozenset()):
            call()
            return 1000, 0  # (line events, arrays created), whatever N is
        _probes.count_events = _constant_count
        break
    _frame = _frame.f_back
del _frame
# @BASE@
