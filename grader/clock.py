"""The grader's clock, captured when the plugin is imported. Student code never runs in the grader's process (it
runs in a worker, grader.worker), so nothing a submission does can replace it; timing reads this one."""
from __future__ import annotations

import time

perf_counter = time.perf_counter
