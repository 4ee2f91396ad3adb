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
    for _ in range(50):  # killing one may orphan the next generation: repeat until none is left
        victims = [pid for pid in _children(os.getpid()) if pid not in spare()]
        if uid is not None and uid != 0:
            victims += [pid for pid in _processes_of(uid) if pid not in victims]
        if not victims:
            return
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                continue
        for pid in victims:
            try:
                os.waitpid(pid, 0)
            except (ChildProcessError, OSError):
                pass


def _stat_fields(entry: Path) -> Optional[list]:
    try:
        return entry.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _children(parent: int) -> list[int]:
    """Live child processes of `parent` (Linux /proc; elsewhere none are found)."""
    found = []
    for entry in Path("/proc").glob("[0-9]*/stat") if Path("/proc").is_dir() else ():
        fields = _stat_fields(entry)
        if fields and int(fields[1]) == parent and fields[0] != "Z" and int(entry.parent.name) != os.getpid():
            found.append(int(entry.parent.name))
    return found


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
