"""The grader's side of a worker process: start it, send it requests with a deadline, answer its callbacks, capture
its output, kill it and everything it started.

The worker is `python -I` (no environment variables, no user site, no script folder on sys.path) in its own
session, in a sandbox folder holding a copy of the submission, with BLAS pinned to one thread; its stdin and stdout
are the request channel and everything it prints (fds 1 and 2) comes through one pipe that a thread drains into
a bounded buffer. Reading and writing the channel both honour the deadline, so a worker that stops answering, or
stops reading, costs at most the call's time limit.
"""
from __future__ import annotations

import atexit
import os
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from grader import processes
from grader.worker import protocol

#: Started with `python -I -S -c BOOTSTRAP GRADER_ROOT --fork-server PATHS`: isolated, and without `site` (a tenth of
#: a second less to start); sys.path is the grader's own (site-packages included), its folder first for the worker's
#: modules only: the worker removes it before the submission is imported.
BOOTSTRAP = ("import sys; sys.path[:] = [sys.argv[1]] + sys.argv[3].split(__import__('os').pathsep); "
             "from grader.worker.main import main; main()")
ENVIRONMENT = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "LC_ALL": "C.UTF-8",
               "PYTHONDONTWRITEBYTECODE": "1"}
PASSED_THROUGH = ("PATH", "BACKPROP_GRADER_HIDE_MODULES", "SYSTEMROOT")
#: Bytes asked of the channel per read: below malloc's mmap threshold (a 1 MiB request costs a fresh mapping and
#: its page faults every time, about 0.15 ms).
RECEIVE_CHUNK = 65536


class WorkerTimeout(Exception):
    """The worker did not answer within the deadline (it has been killed)."""


class WorkerDied(Exception):
    """The worker process ended, or sent something that is not a message (it has been killed)."""


@dataclass
class RunAs:
    """The unprivileged user the worker drops to (the grader must be root)."""

    user: str
    uid: int
    gid: int

    @classmethod
    def lookup(cls, user: str) -> RunAs:
        import pwd
        entry = pwd.getpwnam(user)
        return cls(user, entry.pw_uid, entry.pw_gid)


class OutputCapture:
    """Drains a pipe (a file descriptor, which it closes) on a thread, keeping its first `limit` bytes and counting
    the rest; past `hard_limit` bytes it calls `on_overflow` once (the worker is killed: printing gigabytes ends the
    call, not the disk)."""

    def __init__(self, fd: int, limit: int, hard_limit: int = 0, on_overflow: Callable[[], None] = lambda: None):
        self.limit, self.kept, self.total = limit, bytearray(), 0
        self.hard_limit, self._on_overflow, self.overflowed = hard_limit, on_overflow, False
        self._fd, self._closed = fd, False
        self._lock = threading.Lock()  # held while a chunk is read and counted: see `settle`
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        try:
            while True:
                select.select([self._fd], [], [])
                with self._lock:
                    chunk = os.read(self._fd, 65536)
                    self.total += len(chunk)
                    self.kept += chunk[:max(0, self.limit - len(self.kept))]
                    if not chunk:
                        return
                if self.hard_limit and self.total > self.hard_limit and not self.overflowed:
                    self.overflowed = True
                    self._on_overflow()
        finally:
            with self._lock:
                self._closed = True
                os.close(self._fd)

    def settle(self, timeout: float = 0.5) -> None:
        """Wait (at most `timeout` s) until every byte in the pipe is counted. The worker flushes its output before
        it answers, so after an answer this makes `text` complete: the reading thread may lag behind the answer."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if self._closed or _unread_bytes(self._fd) == 0:
                    return
            if time.monotonic() > deadline:
                return
            time.sleep(0.001)

    def text(self, start: int = 0) -> str:
        """What was printed from byte `start` on (within what was kept), with a note of what was dropped."""
        self.settle()
        with self._lock:
            kept, total = bytes(self.kept[start:]), self.total
        text = kept.decode("utf-8", errors="replace")
        dropped = total - max(start, len(self.kept)) if total > self.limit else 0
        return text + (f"\n[... {dropped:,} more bytes of output not kept]" if dropped > 0 else "")

    def cut(self, start: int) -> None:
        """Forget what was kept from byte `start` on."""
        with self._lock:
            del self.kept[start:]

    def finish(self, timeout: float = 1.0) -> None:
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)


def _unread_bytes(fd: int) -> int:
    """Bytes waiting in a pipe (FIONREAD)."""
    import fcntl
    import termios
    return struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]


class ForkServer:
    """A process that has imported NumPy and the worker's modules once and forks a worker per request (a fresh
    worker then costs a fork and the submission's import, not a new interpreter). It never runs student code.
    One per grader process (`fork_server()`), shared by its submissions and restarted if it dies."""

    def __init__(self) -> None:
        import grader
        root = str(Path(grader.__file__).resolve().parent.parent)
        env = {**{k: os.environ[k] for k in PASSED_THROUGH if k in os.environ}, **ENVIRONMENT}
        self.control, theirs = socket.socketpair()
        with theirs:
            paths = os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))
            self.process = subprocess.Popen([sys.executable, "-I", "-S", "-c", BOOTSTRAP, root, "--fork-server", paths],
                                            stdin=theirs, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                            cwd=os.path.abspath(os.sep), env=env, start_new_session=True,
                                            close_fds=True)
        _LIVE.add(self.process.pid)

    def fork(self, seconds: float) -> tuple[int, socket.socket, int]:
        """(pid, the grader's end of the worker's channel, the read end of its output pipe)."""
        mine, theirs = socket.socketpair()
        read_end, write_end = os.pipe()
        try:
            socket.send_fds(self.control, [b"w"], [theirs.fileno(), write_end])
            self.control.settimeout(seconds)
            pid = int.from_bytes(_receive_exactly(self.control, 8), "big")
        except OSError as error:
            for fd in (mine, read_end):
                _close(fd)
            raise WorkerDied(f"the fork server failed ({error})") from None
        finally:
            theirs.close()
            os.close(write_end)
        return pid, mine, read_end

    def close(self) -> None:
        _close(self.control)
        _LIVE.discard(self.process.pid)
        processes.kill_tree(self.process.pid, self.process.wait)  # at exit: with every worker it forked


_SERVER: Optional[ForkServer] = None
_SERVER_LOCK = threading.Lock()


def fork_server() -> ForkServer:
    """This process's fork server, started (or restarted, if it died) when needed; stopped at exit."""
    global _SERVER
    with _SERVER_LOCK:
        if _SERVER is None or _SERVER.process.poll() is not None:
            if _SERVER is None:
                atexit.register(lambda: _SERVER.close() if _SERVER is not None else None)
            _SERVER = ForkServer()
        return _SERVER


class WorkerProcess:
    """One running worker. `request` sends a message and returns the reply, serving callbacks meanwhile."""

    def __init__(self, output_limit: int, run_as: Optional[RunAs] = None, seconds: float = 30,
                 output_hard_limit: int = 0):
        self.run_as = run_as
        try:
            self.pid, self.channel, output = fork_server().fork(seconds)
        except WorkerDied:  # the server died meanwhile (a submission may kill it): once more with a new one
            self.pid, self.channel, output = fork_server().fork(seconds)
        _WORKERS.add(self.pid)
        self.output = OutputCapture(output, output_limit, output_hard_limit,
                                    lambda: self.kill("it printed too much"))
        self.channel.setblocking(False)
        self._fd = self.channel.fileno()
        self._received = bytearray()
        self.dead: Optional[str] = None  # why the worker is gone
        self.where: list = []  # (file, line) frames of the stack the worker was running when it timed out

    def request(self, message: dict, buffers: list, seconds: float,
                on_callback: Optional[Callable[[dict, list], tuple[dict, list]]] = None) -> tuple[dict, list]:
        """Send `message`, then read until the reply (answering callback requests with on_callback), all within
        `seconds` plus the time on_callback takes. Raises WorkerTimeout or WorkerDied; either way the worker has
        then been killed."""
        if self.dead:
            raise WorkerDied(self.dead)
        deadline = time.monotonic() + seconds
        try:
            self._write(protocol.frame(message, buffers), deadline)
            while True:
                reply, reply_buffers = protocol.read_message(lambda n: self._read(n, deadline))
                if reply.get("op") != "callback":
                    return reply, reply_buffers
                if on_callback is None:
                    raise protocol.ProtocolError("a callback outside a call")
                started = time.monotonic()
                answer = on_callback(reply, reply_buffers)
                deadline += time.monotonic() - started  # the grader's own time is not the student's
                self._write(protocol.frame(*answer), deadline)
        except WorkerTimeout:
            self.where = self._where()
            self.kill("timed out")
            raise
        except (EOFError, OSError):
            self.kill("the process ended")
            raise WorkerDied(self.dead) from None
        except (protocol.ProtocolError, ValueError, LookupError, TypeError, RecursionError) as error:  # corrupted
            self.kill(f"it sent something that is not a valid reply ({error})")
            raise WorkerDied(self.dead) from None

    def _wait(self, writing: bool, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise WorkerTimeout()
        fds = [self._fd]
        ready = select.select([], fds, [], remaining) if writing else select.select(fds, [], [], remaining)
        if not any(ready):
            raise WorkerTimeout()

    def _read(self, size: int, deadline: float) -> bytearray:
        while len(self._received) < size:
            self._wait(False, deadline)
            try:
                chunk = self.channel.recv(RECEIVE_CHUNK)
            except BlockingIOError:
                continue
            if not chunk:
                raise EOFError()
            self._received += chunk
        data = self._received[:size]
        del self._received[:size]
        return data

    def _write(self, data: bytes, deadline: float) -> None:
        view = memoryview(data)
        while view:
            self._wait(True, deadline)
            try:
                view = view[self.channel.send(view):]
            except BlockingIOError:
                continue

    def _where(self) -> list:
        """Ask the worker for its stack (faulthandler prints it on WHERE_SIGNAL): [(file, line)], innermost last."""
        start = self.output.total
        try:
            os.kill(self.pid, signal.SIGUSR1)
        except OSError:
            return []
        deadline = time.monotonic() + 0.5
        while time.monotonic() < deadline and "Current thread" not in self.output.text(min(start, self.output.limit)):
            time.sleep(0.02)
        time.sleep(0.05)
        dump = self.output.text(min(start, self.output.limit))
        self.output.cut(start)  # the stack is the grader's business, not part of what the code printed
        return [(m.group(1), int(m.group(2))) for m in re.finditer(r'File "([^"]+)", line (\d+)', dump)][::-1]

    def kill(self, why: str, all_of_user: bool = False) -> None:
        """SIGKILL the worker and everything it started (all_of_user: every process of the run-as user too, once
        no other worker of the run is alive); `dead` says why it is gone."""
        self.dead = self.dead or why
        _WORKERS.discard(self.pid)
        processes.kill_tree(self.pid, None, lambda: _LIVE | _WORKERS,
                            self.run_as.uid if self.run_as and all_of_user else None)
        _close(self.channel)
        self.output.finish()


_LIVE: set = set()  # pids of this process's own children (fork servers): orphan-killing leaves them alone
_WORKERS: set = set()  # pids of live workers (one re-parented to us when its fork server died is not an orphan)


def _receive_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise OSError("the fork server closed its socket")
        data += chunk
    return data


def _close(handle) -> None:
    try:
        handle.close() if hasattr(handle, "close") else os.close(handle)
    except OSError:
        pass


def describe_protections(protections: dict) -> str:
    """One line for reports: which protections were active."""
    parts = ["separate worker process"]
    parts.append(f"runs as {protections['run_as']}" if protections.get("run_as") else "same user as the grader")
    if protections.get("memory_limit_bytes"):
        parts.append(f"memory ≤ {protections['memory_limit_bytes'] / 2**30:g} GiB")
    if protections.get("process_limit"):
        parts.append(f"≤ {protections['process_limit']} processes")
    readable = protections.get("grader_readable")
    parts.append("reference readable by the submission" if readable else "reference not readable")
    return ", ".join(parts)
