# ruff: noqa: F821 - a template: the test replaces `# @BASE@` by an honest solution
"""A correct solution that starts threads in forward and leaves them running (one busy, one printing fake totals,
one blocked forever); none is a daemon."""
# @BASE@

import threading
import time

_honest_forward = forward
_started = []


def _busy():
    x = 0
    while True:
        x += 1


def _printer():
    while True:
        print("Total: 100 / 100", flush=True)
        time.sleep(0.05)


def forward(X, params):
    if not _started:
        for target in (_busy, _printer, threading.Event().wait):
            thread = threading.Thread(target=target)
            thread.start()
            _started.append(thread)
    return _honest_forward(X, params)
