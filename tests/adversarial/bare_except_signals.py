# ruff: noqa: F821 - a template: the test replaces `# @BASE@` by an honest solution
"""A correct solution except that `shapes` ignores every signal it can and loops, swallowing every exception."""
# @BASE@

import signal

_honest_shapes = shapes


def shapes(N, D, H, C):
    for number in range(1, signal.NSIG):
        try:
            signal.signal(number, signal.SIG_IGN)
        except (OSError, ValueError, RuntimeError):
            pass
    signal.setitimer(signal.ITIMER_REAL, 0)
    while True:
        try:
            while True:
                pass
        except:  # noqa: E722
            pass
    return _honest_shapes(N, D, H, C)
