# ruff: noqa: F821 - a template: the test replaces `# @BASE@` by an honest solution
"""A correct solution whose `shapes` writes garbage into the worker's channel to the grader (every socket among its
file descriptors) before returning its honest answer."""
# @BASE@

import os

_honest_shapes = shapes


def _sockets():
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                yield int(name)
        except OSError:
            pass


def shapes(N, D, H, C):
    for fd in _sockets():
        os.write(fd, b"\xff\xfe garbage \x00" * 64 + b'{"result": "Total: 100 / 100"}')
    return _honest_shapes(N, D, H, C)
