"""The memory rule of part2.vectorized: peak traced memory, and the N² rule on recorded peaks."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from grader.checks import memory_growth
from grader.checks.memory_growth import BYTES_PER_PAIR, n_squared_coefficient, peak_traced_bytes, quadratic_growth

#: Peak traced bytes of one call at N = 256, 512, 1024 (D = H = C = 2, numpy 2.4), recorded with
#: vectorization.peaks_by_batch_size; whether it builds an N×N array.
RECORDED = {
    "student_correct backward": ({256: 40592, 512: 84504, 1024: 174592}, False),
    "broadcasting forward (N x D x H)": ({256: 35808, 512: 68576, 1024: 134112}, False),
    "loop over classes in the softmax": ({256: 19704, 512: 35296, 1024: 68576}, False),
    "C-level map over rows in forward": ({256: 48608, 512: 95648, 1024: 190400}, False),
    "np.diag(logp[:, y]) in the softmax": ({256: 537400, 512: 2118488, 1024: 8426328}, True),
    "y[:, None] == y[None, :] (N x N booleans)": ({256: 199352, 512: 395992, 1024: 1182424}, True),
}


@pytest.mark.parametrize("name", RECORDED)
def test_recorded_peaks(name):
    peaks, quadratic = RECORDED[name]
    assert (quadratic_growth(peaks) is not None) is quadratic
    coefficient = n_squared_coefficient(peaks)
    assert coefficient >= 15 * BYTES_PER_PAIR if quadratic else abs(coefficient) <= BYTES_PER_PAIR / 10


def test_peaks_that_fall_between_two_sizes_do_not_grow_as_n_squared():
    """A debug print of the (N, 2) scores (recorded): all of it printed at N=256, a summary from N=512 on. The three
    points curve upwards (coefficient above the limit), but the peak falls from 256 to 512."""
    peaks = {256: 180130, 512: 84152, 1024: 173992}
    assert n_squared_coefficient(peaks) > BYTES_PER_PAIR and quadratic_growth(peaks) is None
    assert quadratic_growth({256: 537400, 512: 537400, 1024: 8426328}) is None  # flat, then a jump: not N²


def test_the_feedback_shows_the_figures():
    peaks = RECORDED["np.diag(logp[:, y]) in the softmax"][0]
    assert quadratic_growth(peaks) == "peak memory 8.4 MB at N=1024 vs 2.1 MB at N=512 (grows as N²)"


def test_the_coefficient_is_bytes_per_pair_of_examples():
    assert n_squared_coefficient({n: 100 + 56 * n + 8 * n * n for n in (512, 256, 1024)}) == pytest.approx(8.0)
    assert n_squared_coefficient({n: 100 + 56 * n for n in (256, 512, 1024)}) == 0.0
    assert n_squared_coefficient({256: 65536, 512: 98304, 1024: 98304}) < 0  # a capped buffer bends growth down


def test_peak_traced_bytes_counts_numpy_buffers_made_during_the_call_only():
    before = np.ones(500_000)  # 4 MB made before the call: not counted
    first = peak_traced_bytes(lambda: np.zeros(1_000_000) + before[0])[1]  # 8 MB each, but not both at once
    assert 8_000_000 <= first < 8_100_000
    # deterministic to a few KB (Python's own small allocations vary): the N² check's limit is 64 KB at 1024²
    assert abs(peak_traced_bytes(lambda: np.zeros(1_000_000) + before[0])[1] - first) < 4_096
    assert peak_traced_bytes(lambda: None) == (None, pytest.approx(0, abs=1_000))
    assert not tracemalloc.is_tracing()  # left as found


def test_peak_traced_bytes_keeps_someone_elses_tracing_on():
    tracemalloc.start()
    try:
        assert 8_000_000 <= peak_traced_bytes(lambda: np.zeros(1_000_000))[1] < 8_100_000
        assert tracemalloc.is_tracing()
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("switch_off", [tracemalloc.stop, lambda: (tracemalloc.stop(), tracemalloc.start())])
def test_a_call_that_stops_tracing_is_refused(switch_off):
    try:
        with pytest.raises(memory_growth.TracingStopped):
            peak_traced_bytes(switch_off)
    finally:
        if tracemalloc.is_tracing():
            tracemalloc.stop()
