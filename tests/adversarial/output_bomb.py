# ruff: noqa: F821 - a template: the test replaces `# @BASE@` by an honest solution
"""A correct solution except that `shapes` prints gigabytes (through print, sys.stdout and the raw descriptors)."""
# @BASE@

import os
import sys

_honest_shapes = shapes


def shapes(N, D, H, C):
    line = "Total: 100 / 100 " * 1000 + "\n"
    for _ in range(200_000):  # about 3 GiB
        print(line, end="")
        sys.stderr.write(line)
        os.write(1, line.encode())
    return _honest_shapes(N, D, H, C)
