"""Peak memory against the batch size N: an N×N intermediate (`probs[:, y]`, `np.diag(...)`, `y[:, None] == y`)
makes a function's peak memory grow as N², vectorized code's grows linearly.

tracemalloc traces numpy's data allocations (numpy reports each buffer to it) as well as Python's, by the bytes
requested, so the peak of one call is deterministic: the same inputs' sizes give the same figure to within a few
hundred bytes (list over-allocation, caches), whatever the machine's load. Three batch sizes fit
peak(N) = a + b·N + c·N² exactly; c, in bytes per pair of examples, is 8 for an N×N float64 array, 1 for booleans, and
between -0.0002 and 0.0061 for every vectorized style measured (einsum, np.eye(C)[y], np.add.at, a loop over classes,
broadcasting, np.take_along_axis; benchmarks/vectorization.py).

This module imports only the standard library (it runs where the student's code runs); `quadratic_growth` is the
pure rule, tested on recorded peaks.
"""
from __future__ import annotations

import _tracemalloc
import tracemalloc
from collections.abc import Mapping
from typing import Callable, Optional

#: Batch sizes of the three measured calls: an N×N float64 array is 8.4 MB at the largest.
SIZES = (256, 512, 1024)
#: Bytes per pair of examples (the fitted N² coefficient) from which growth counts as quadratic: 16× below an N×N
#: boolean array, 10× above the largest coefficient of correct code measured (0.0061 byte: over-allocated lists).
BYTES_PER_PAIR = 1 / 16

# Captured when the grader imports this module, before any submission runs: replacing tracemalloc's functions later
# does not reach the measurement.
_start, _stop, _is_tracing = tracemalloc.start, tracemalloc.stop, tracemalloc.is_tracing
_traced_memory, _reset_peak, _traceback_of = (tracemalloc.get_traced_memory, tracemalloc.reset_peak,
                                              tracemalloc.get_object_traceback)


#: What a call sees of tracemalloc while it is measured: a module that is not tracing (a measured call must look
#: like any other).
_LOOKS_OFF = {"is_tracing": lambda: False, "get_traced_memory": lambda: (0, 0)}


class TracingStopped(Exception):
    """The call stopped (or restarted) tracemalloc, so its peak memory is unknown."""


def peak_traced_bytes(call: Callable[[], object]) -> tuple[object, int]:
    """(what `call()` returned, the peak bytes (numpy's buffers and Python objects) allocated during it above those
    allocated when it started). Arguments must be prepared before: only the call is measured. Raises TracingStopped
    when the call stops or restarts tracemalloc (its traces, a marker's included, would be gone)."""
    started_here = not _is_tracing()
    if started_here:
        _start()
    hidden = [(module, name, getattr(module, name)) for module in (tracemalloc, _tracemalloc) for name in _LOOKS_OFF
              if started_here and hasattr(module, name)]
    try:
        marker = bytearray(64)  # traced from here on: a restart drops its trace
        before = _traced_memory()[0]
        for module, name, _ in hidden:
            setattr(module, name, _LOOKS_OFF[name])
        _reset_peak()
        try:
            result = call()
        finally:
            for module, name, original in hidden:
                setattr(module, name, original)
        peak = _traced_memory()[1]
        if not _is_tracing() or _traceback_of(marker) is None:
            raise TracingStopped("it stopped tracemalloc")
        return result, max(peak - before, 0)
    finally:
        if started_here and _is_tracing():
            _stop()


def n_squared_coefficient(peaks: Mapping[int, int]) -> float:
    """The N² coefficient, in bytes per pair of examples, of the quadratic through three (N, peak bytes) points (the
    second divided difference): 0 for linear growth."""
    (n1, p1), (n2, p2), (n3, p3) = sorted(peaks.items())
    return ((p3 - p2) / (n3 - n2) - (p2 - p1) / (n2 - n1)) / (n3 - n1)


def quadratic_growth(peaks: Mapping[int, int]) -> Optional[str]:
    """None when peak memory over three batch sizes ({N: peak bytes}) grows at most linearly; else the figures that
    show it grows as N², e.g. "peak memory 8.4 MB at N=1024 vs 2.1 MB at N=512 (grows as N²)".

    An N×N array makes the peak rise from each size to the next (its N² term dwarfs any noise); peaks that fall
    between two sizes do not grow as N², however the three points curve: a debug print of an (N, 2) array prints all
    of it at N=256 and only a summary from N=512 on (numpy's threshold is 1000 entries), a large peak at the smallest
    size only."""
    (_, p1), (n2, p2), (n3, p3) = sorted(peaks.items())
    if n_squared_coefficient(peaks) < BYTES_PER_PAIR or not p1 < p2 < p3:
        return None
    return f"peak memory {p3 / 1e6:.1f} MB at N={n3} vs {p2 / 1e6:.1f} MB at N={n2} (grows as N²)"
