"""What running student code in a worker process adds to a full grading run, in wall-clock seconds.

Each run grades a submission in a fresh `python -m pytest -p grader.plugin` process (as `backprop-grader grade`
does) and reads the Submission's own accounting (grader.student.Submission.stats):

    overhead = Σ request wall time - Σ time in the student's code (as the worker reports it)
               - Σ time in the grader's functions the student's code called back + worker start-ups waited for

that is, everything the separate process costs: starting it (the fork server, forks, imports the grading waited
for), encoding and decoding every argument and result (also around a callback, on both sides: the worker counts
from before it encodes the call to after it decoded the answer; the grader times only its function), and the round
trips. The machine's speed varies (other tenants): the run starts with a yardstick, a pure-Python loop of 3 million
additions, so that figures taken on different days can be compared. Usage:

    python benchmarks/worker_overhead.py [--runs 10] [SUBMISSION ...]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT = [REPO / "tests" / "submissions" / "student_correct.py", REPO / "reference" / "backprop.py"]
PROBE = '''
import json, os
from grader.plugin import STATE
def pytest_unconfigure(config):
    with open(os.environ["BENCH_STATS"], "w") as out:
        json.dump(config.stash[STATE].submission.stats, out)
'''


def one_run(submission: Path, work: Path) -> dict:
    (work / "bench_probe.py").write_text(PROBE)
    (work / "pytest.ini").write_text("[pytest]\n")
    env = {**os.environ, "PYTHONPATH": f"{REPO}{os.pathsep}{work}", "OPENBLAS_NUM_THREADS": "1",
           "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "BENCH_STATS": str(work / "stats.json")}
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "pytest", "-p", "grader.plugin", "-p", "pytest_timeout",
                    "-p", "bench_probe", "-p", "no:cacheprovider", "-q", "-c", str(work / "pytest.ini"),
                    "--rootdir", str(work), "--submission", str(submission), "--grade-no-timing"],
                   cwd=work, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    stats = json.loads((work / "stats.json").read_text())
    stats["overhead"] = stats["request"] - stats["student"] - stats["callbacks"] + stats["startup"]
    stats["wall"] = wall
    return stats


def yardstick() -> float:
    """Seconds for a pure-Python loop of 3 million additions (best of 3)."""
    best = float("inf")
    for _ in range(3):
        started, total = time.perf_counter(), 0
        for i in range(3_000_000):
            total += i
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("submissions", nargs="*", type=Path, default=DEFAULT)
    args = parser.parse_args()
    print(f"yardstick: a pure-Python loop of 3 million additions takes {yardstick():.2f} s here")
    with tempfile.TemporaryDirectory() as work:
        for submission in args.submissions:
            runs = [one_run(submission.resolve(), Path(work)) for _ in range(args.runs)]
            overhead = [r["overhead"] for r in runs]
            print(f"{submission.name}: {args.runs} runs, {runs[0]['requests']} requests each; "
                  f"worker overhead median {statistics.median(overhead):.3f} s, max {max(overhead):.3f} s "
                  f"(start-ups waited for {statistics.median(r['startup'] for r in runs):.3f} s); whole grading "
                  f"run median {statistics.median(r['wall'] for r in runs):.2f} s")
    print(f"yardstick after: {yardstick():.2f} s")


if __name__ == "__main__":
    main()
