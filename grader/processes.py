"""Killing a process and everything it started, also what left its process group (Linux /proc; elsewhere the
group only).

A process that calls setsid() leaves its group, and one whose parent died is re-parented. Making the grader a child
subreaper (Linux) brings such orphans back to the grader as children, where `kill_tree` finds them; processes of
the unprivileged user the submission runs as (`--run-as`) are all killed, whatever their parent.
"""
from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path
from typing import Callable, Optional


def become_subreaper() -> None:
    """Linux: orphans of this process's descendants are re-parented here instead of to init, so none escapes."""
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
        except (OSError, AttributeError):
            pass


def kill_tree(pid: int, wait: Optional[Callable[[], object]] = None, spare: Callable[[], set] = set,
              uid: Optional[int] = None) -> None:
    """SIGKILL the process group led by `pid` (then `wait()` for it, when it is our child), then every orphan
    re-parented to this process (except the pids `spare()` names: other live processes of ours), and every
    process of `uid` when given (a dedicated user)."""
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except OSError:
            pass
    if wait is not None:
        wait()
    else:  # not our child: wait until it is gone, so that its orphans have been re-parented to us
        for _ in range(100):
            if not _alive(pid):
                break
            time.sleep(0.01)
    for _ in range(50):  # killing one may orphan the next generation: repeat until none is left
        victims = [child for child in _children(os.getpid()) if child not in spare()]
        if uid is not None and uid != 0:
            victims += [other for other in _processes_of(uid) if other not in victims]
        if not victims:
            return
        for victim in victims:
            try:
                os.kill(victim, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                continue
        for victim in victims:
            try:
                os.waitpid(victim, 0)
            except (ChildProcessError, OSError):
                pass


def _stat_fields(entry: Path) -> Optional[list]:
    try:
        return entry.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _children(parent: int) -> list[int]:
    """Child processes of `parent`, zombies included (to be reaped) (Linux /proc; elsewhere none are found)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*/stat") if Path("/proc").is_dir() else ():
        fields = _stat_fields(entry)
        if fields and int(fields[1]) == parent and int(entry.parent.name) != os.getpid():
            found.append(int(entry.parent.name))
    return found


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie."""
    fields = _stat_fields(Path(f"/proc/{pid}/stat"))
    if fields is None:
        try:
            os.kill(pid, 0)
            return not Path("/proc").is_dir()
        except OSError:
            return False
    return fields[0] != "Z"


def _processes_of(uid: int) -> list[int]:
    """Live processes owned by `uid` (Linux /proc)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*") if Path("/proc").is_dir() else ():
        try:
            if entry.stat().st_uid == uid:
                fields = _stat_fields(entry / "stat")
                if fields and fields[0] != "Z":
                    found.append(int(entry.name))
        except OSError:
            continue
    return found
