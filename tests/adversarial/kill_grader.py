"""Pure cheat: finds the grading process (pytest) among its ancestors through /proc and SIGKILLs it, hoping the
report of a run that never finished counts for something (and that its sandbox, never cleaned, stays behind)."""
import os
import signal


def _record(pid):
    with open(f"/proc/{pid}/stat") as f:
        start = f.read().rsplit(")", 1)[1].split()[19]
    with open("@TMP@/pids", "a") as f:
        f.write(f"{pid} {start}\n")


_record(os.getpid())
_record(os.getppid())
with open("@TMP@/sandbox", "w") as _f:  # the grader's sandbox (this copy's folder) must not outlive the run
    _f.write(os.getcwd())
_pid = os.getppid()
while _pid > 1:
    with open(f"/proc/{_pid}/cmdline", "rb") as _f:
        _argv = _f.read().split(b"\0")
    if b"pytest" in _argv and b"--submission" in _argv:
        os.kill(_pid, signal.SIGKILL)
        break
    with open(f"/proc/{_pid}/stat") as _f:
        _pid = int(_f.read().rsplit(")", 1)[1].split()[1])
