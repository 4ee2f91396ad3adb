# ruff: noqa: F821 - a template: the test replaces `# @BASE@` by an honest solution
"""forged_line_count.py with the names it needs computed at run time, so that no reading of the source finds them:
the known gap (README, "Limits today") that the corpus keeps visible."""
import sys

_get = getattr(sys, "_get" + "frame")
_frame = _get()
while _frame is not None:
    _probes = getattr(_frame, "f_glo" + "bals").get("probes")
    if _probes is not None and hasattr(_probes, "count_events"):
        def _constant_count(call, *measurement_options):
            return call(), _probes.Counts(1000, 0, 0.0, 0, 0, 0.001)  # the same counts whatever N, D and H are
        _probes.count_events = _constant_count
        break
    _frame = getattr(_frame, "f_ba" + "ck")
del _frame
# @BASE@
