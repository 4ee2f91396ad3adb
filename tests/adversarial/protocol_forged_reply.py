# ruff: noqa: F821 - a template: the test replaces `# @BASE@` by an honest solution
"""A correct solution whose `shapes` writes well-framed but hostile replies into its channel: a header nested
100 000 levels deep (json.loads raises RecursionError), then its honest answer."""
# @BASE@

import os
import struct

_honest_shapes = shapes


def _frame(header: bytes) -> bytes:
    return struct.pack("!QI", len(header), 0) + header


def shapes(N, D, H, C):
    deep = b'{"result": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                os.write(int(name), _frame(deep))
        except OSError:
            pass
    return _honest_shapes(N, D, H, C)
