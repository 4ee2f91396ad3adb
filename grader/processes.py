"""Killing a process and everything it started, also what left its process group (Linux /proc; elsewhere the
group only; on Windows the tree of live descendants, by `taskkill /T`).

A process that calls setsid() leaves its group, and one whose parent died is re-parented. Making the grader a child
subreaper (Linux) brings such orphans back to the grader as children, where `kill_tree` finds them. Each round
stops every process of the tree before killing any, so a process cannot replace itself by forking meanwhile.
"""
from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Optional

_SUBREAPER = False
WINDOWS = os.name == "nt"


def new_session() -> dict:
    """Popen keywords that start a child in a group of its own, so that it and what it starts can be killed
    together: its own session on POSIX (its process group is its pid), a new process group on Windows."""
    if WINDOWS:
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def become_subreaper() -> None:
    """Linux: orphans of this process's descendants are re-parented here instead of to init, so none escapes."""
    global _SUBREAPER
    if sys.platform.startswith("linux") and not _SUBREAPER:
        try:
            import ctypes
            _SUBREAPER = ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
        except (OSError, AttributeError):
            pass


def kill_tree(pid: int, wait: Optional[Callable[[], object]] = None, spare: Callable[[], set] = set,
              uid: Optional[int] = None) -> None:
    """SIGKILL the process `pid`, its process group and all its descendants, then every orphan re-parented to this
    process and its descendants, except the processes `spare()` names and their descendants (our other live
    processes). Each round stops every target first and kills them after, so that nothing forks meanwhile; rounds
    repeat until none is left. `wait()` reaps `pid` when it is our child. Without a subreaper (not Linux), every
    process of `uid` (a dedicated user) is killed too."""
    if WINDOWS:
        _kill_tree_windows(pid, wait)
        return
    roots = {pid}
    for round_ in range(100):
        table = _process_table()
        kept = spare()
        roots |= {child for child, (parent, _) in table.items() if parent == os.getpid() and child not in kept}
        victims = _with_descendants(roots, table, kept)
        if uid is not None and uid != 0 and not _SUBREAPER:
            victims |= {other for other in _processes_of(uid) if other not in kept}
        victims.discard(os.getpid())
        if round_ == 0:
            victims.add(pid)
        elif not any(not _dead(victim, table) for victim in victims):
            break
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            for victim in victims:
                try:
                    os.kill(victim, sig)
                except OSError:
                    pass
        if round_ == 0:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
            if wait is not None:
                wait()
        _reap(victims - {pid} if wait is not None else victims)  # `pid` is ours to reap only without wait()
        roots = set()


def _kill_tree_windows(pid: int, wait: Optional[Callable[[], object]]) -> None:
    """Windows has no signals, groups to kill or /proc: `taskkill /T /F` ends the process and its live descendants
    (one whose parent already died is not found: Windows keeps no re-parenting), then `wait()` reaps `pid`."""
    try:
        subprocess.run(["taskkill", "/T", "/F", "/PID", str(pid)], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=10)
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        os.kill(pid, signal.SIGTERM)  # on Windows: TerminateProcess, in case taskkill was missing or failed
    except OSError:
        pass
    if wait is not None:
        wait()


def _with_descendants(roots: set, table: dict, kept: set) -> set:
    """The live processes among `roots` and all their descendants, not entering the subtrees of `kept`."""
    children: dict = {}
    for child, (parent, _) in table.items():
        children.setdefault(parent, []).append(child)
    found, todo = set(), [root for root in roots if root not in kept]
    while todo:
        current = todo.pop()
        if current in found:
            continue
        if current in table:
            found.add(current)
        todo += [child for child in children.get(current, ()) if child not in kept]
    return found


def _reap(pids: set) -> None:
    """Collect the exit status of those that are our children (zombies otherwise stay in the process table)."""
    for victim in pids:
        try:
            os.waitpid(victim, os.WNOHANG)
        except (ChildProcessError, OSError):
            pass
    deadline = time.monotonic() + 1.0
    for victim in pids:
        while time.monotonic() < deadline:
            try:
                if os.waitpid(victim, os.WNOHANG)[0] or not _alive(victim):
                    break
            except (ChildProcessError, OSError):
                break
            time.sleep(0.005)


def _dead(pid: int, table: dict) -> bool:
    """A zombie that only waits for a parent other than us to collect it: no thread of it runs (a process whose
    main thread has exited shows as a zombie while its other threads run on). Ours are collected by _reap."""
    if table.get(pid, (0, ""))[1] != "Z" or table[pid][0] == os.getpid():
        return False
    try:
        return len(os.listdir(f"/proc/{pid}/task")) <= 1
    except OSError:
        return True


def _process_table() -> dict:
    """pid -> (parent pid, state) of every process (Linux /proc; elsewhere empty)."""
    table = {}
    for entry in Path("/proc").glob("[0-9]*/stat") if Path("/proc").is_dir() else ():
        fields = _stat_fields(entry)
        if fields:
            table[int(entry.parent.name)] = (int(fields[1]), fields[0])
    return table


def _stat_fields(entry: Path) -> Optional[list]:
    try:
        return entry.read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


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


#: Folders any user may write to on usual systems: where a submission run as a dedicated user can leave files.
SHARED_WRITABLE = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock", "/dev/mqueue", "/var/crash")
#: Where other world-writable folders may sit (one level down is searched: /run/screen, /var/mail, ...).
SHARED_PARENTS = ("/", "/var", "/run", "/dev", "/var/lib")


def shared_writable_folders(known: tuple = SHARED_WRITABLE, parents: tuple = SHARED_PARENTS) -> list[str]:
    """The world-writable folders of this system: `known` ones that exist and any world-writable folder directly in
    `parents`, each once (/var/lock is usually a link to /run/lock) and as its real path."""
    found = []
    candidates = list(known)
    for parent in parents:
        try:
            candidates += [entry.path for entry in os.scandir(parent) if entry.is_dir(follow_symlinks=True)]
        except OSError:
            continue
    for path in candidates:
        try:
            real = os.path.realpath(path)
            if os.stat(real).st_mode & stat.S_IWOTH and real not in found:
                found.append(real)
        except OSError:
            continue
    return found


def remove_files_of(uid: int, roots: Optional[list] = None) -> list[str]:
    """Remove every file and folder owned by `uid` (a dedicated run-as user, after its processes are killed) under
    `roots` (default: every world-writable folder, `shared_writable_folders`), without following links; the removed
    paths. What a submission leaves there could pass answers to a later grading run as the same user, or to a
    regrade."""
    if uid in (0, os.getuid()):
        return []  # never the grader's own files: only a dedicated user's are known to be the submission's
    removed = []
    for root in shared_writable_folders() if roots is None else roots:
        for folder, subfolders, files in os.walk(root, onerror=lambda error: None):
            for name in list(subfolders) + files:
                path = os.path.join(folder, name)
                try:
                    if os.lstat(path).st_uid != uid:
                        continue
                    if name in subfolders and not os.path.islink(path):
                        subfolders.remove(name)
                        shutil.rmtree(path, ignore_errors=True)
                    else:
                        os.unlink(path)
                    removed.append(path)
                except OSError:
                    continue
    return removed
