"""Benchmark of `backprop-grader batch` (not a test): a generated class of N submissions (mixed correct, buggy and
broken), graded with --jobs 1 and --jobs 2; prints submissions per minute, the speed-up and the peak memory.
Usage: python benchmarks/batch.py [N] [--keep FOLDER]   (N default 200; --keep: copy the --jobs 2 run's gradebook
and summaries into FOLDER, e.g. docs/, where the README's picture comes from)"""
from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from conftest import SUBMISSIONS, mutate  # noqa: E402

BASE = (SUBMISSIONS / "student_correct.py").read_text()
KINDS = {
    "correct": BASE,
    "einsum": (SUBMISSIONS / "style_einsum.py").read_text(),
    "missing_1_over_N": mutate(BASE, ("    dscores /= N\n", "")),
    "relu_mask": mutate(BASE, ("    dz1 = dh1 * (z1 > 0)\n", "    dz1 = dh1 * (dh1 > 0)\n")),
    "unstable": mutate(BASE, ("    shifted = scores - scores.max(axis=1, keepdims=True)", "    shifted = scores")),
    "template": (REPO / "student_template" / "backprop.py").read_text(),
    "syntax_error": "def forward(X, params)\n",
    "loop": mutate(BASE, ("    z1 = X @ W1 + b1                     # (N, H)\n",
                          "    z1 = np.stack([x @ W1 + b1 for x in X])\n")),
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("count", nargs="?", type=int, default=200)
    parser.add_argument("--keep", type=Path, help="copy gradebook.csv, summary.md and summary.png here")
    args = parser.parse_args()
    count = args.count
    folder = Path(tempfile.mkdtemp(prefix="class-"))
    kinds = list(KINDS)
    for i in range(count):
        (folder / f"student{i:04d}.py").write_text(KINDS[kinds[i % len(kinds)]] + f"\n# student {i}\n")
    rates = {}
    for jobs in (1, 2):
        out = Path(tempfile.mkdtemp(prefix="graded-"))
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "grader", "batch", str(folder), "--out", str(out), "--jobs", str(jobs)],
                       check=True, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        elapsed = time.perf_counter() - start
        rates[jobs] = count / elapsed * 60
        print(f"--jobs {jobs}: {count} submissions in {elapsed:.0f} s, {rates[jobs]:.1f} submissions/min")
        if args.keep and jobs == 2:
            args.keep.mkdir(parents=True, exist_ok=True)
            for name in ("gradebook.csv", "summary.md", "summary.png"):
                if (out / name).exists():
                    shutil.copy(out / name, args.keep / name)
        shutil.rmtree(out)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"speed-up with --jobs 2: {rates[2] / rates[1]:.2f}x; peak memory (max RSS of the largest child process, "
          f"as getrusage reports it): {peak:.0f} MiB")
    shutil.rmtree(folder)


if __name__ == "__main__":
    main()
