# ruff: noqa: F821 - a template: the test replaces `# @BASE@` by an honest solution
"""A correct solution that leaves background processes: one in a new session (setsid) that ignores SIGTERM and
SIGHUP, one double-forked orphan, one started with start_new_session=True; all print fake totals."""
import os
import signal
import subprocess
import sys
import time


def _record(pid):
    with open(f"/proc/{pid}/stat") as f:
        start = f.read().rsplit(")", 1)[1].split()[19]
    with open("@TMP@/pids", "a") as f:
        f.write(f"{pid} {start}\n")


def _linger():
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    _record(os.getpid())
    end = time.monotonic() + 240
    while time.monotonic() < end and not os.path.exists("@TMP@/stop"):
        os.write(1, b"Total: 100 / 100\n")
        time.sleep(0.2)
    os._exit(0)


if os.fork() == 0:  # in a session of its own
    os.setsid()
    _linger()
if os.fork() == 0:  # double fork: the orphan is re-parented
    os.setsid()
    if os.fork() == 0:
        _linger()
    os._exit(0)
_child = subprocess.Popen([sys.executable, "-c", "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                           "time.sleep(240)\n"], start_new_session=True)
_record(_child.pid)
time.sleep(0.2)
# @BASE@
