"""The grader's side of a worker process: start it, send it requests with a deadline, answer its callbacks, capture
its output, kill it and everything it started.

The worker is `python -I` (no environment variables, no user site, no script folder on sys.path) in its own
session, in a sandbox folder holding a copy of the submission, with BLAS pinned to one thread; the request channel
is a socket and everything it prints (fds 1 and 2) comes through one pipe that a thread drains into a bounded
buffer. Reading and writing the channel both honour the deadline, so a worker that stops answering, or stops
reading, costs at most the call's time limit.

Workers are started one of two ways (`start_method`): forked from a fork server (the default where os.fork and fd
passing exist: Linux, macOS), or spawned, each a fresh interpreter that connects back on loopback (Windows, or
BACKPROP_GRADER_WORKER_START=spawn anywhere). A spawned worker costs an interpreter start and NumPy's import; what
the platform cannot do (resource limits, the stack on a time-out) the worker's report of its protections leaves out.
"""
from __future__ import annotations

import atexit
import functools
import hmac
import os
import re
import secrets
import select
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
#: `spawn` here starts every worker as a fresh interpreter instead of forking it from the fork server: the only way
#: where there is no fork or fd passing (Windows); the variable lets that way be used, and tested, anywhere.
START_VARIABLE = "BACKPROP_GRADER_WORKER_START"
#: A spawned worker's output is drained by a plain blocking read (Windows has no select() on pipes, nor FIONREAD),
#: so `settle` cannot ask how much is unread: it takes the output as complete once the draining thread has waited
#: this long for more.
QUIET_SECONDS = 0.01


def start_method() -> str:
    """How workers start: "fork" (from the fork server, where os.fork and socket.send_fds exist) or "spawn"."""
    if os.environ.get(START_VARIABLE) == "spawn" or not (hasattr(os, "fork") and hasattr(socket, "send_fds")):
        return "spawn"
    return "fork"


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
    call, not the disk). `blocking`: drain with plain blocking reads, which work on any pipe (Windows has no
    select() on pipes), instead of select() and a read under the lock, which let `settle` be exact."""

    def __init__(self, fd: int, limit: int, hard_limit: int = 0, on_overflow: Callable[[], None] = lambda: None,
                 blocking: bool = False):
        self.limit, self.kept, self.total = limit, bytearray(), 0
        self.hard_limit, self._on_overflow, self.overflowed = hard_limit, on_overflow, False
        self._fd, self._closed, self._blocking = fd, False, blocking
        self._lock = threading.Lock()  # held while a chunk is read and counted: see `settle`
        self._waiting_since: Optional[float] = None  # blocking: when the thread began its current read
        self._thread = threading.Thread(target=self._drain_blocking if blocking else self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        try:
            while True:
                select.select([self._fd], [], [])
                with self._lock:
                    chunk = os.read(self._fd, 65536)
                    self._count(chunk)
                if not chunk:
                    return
                self._check_overflow()
        finally:
            self._close()

    def _drain_blocking(self) -> None:
        try:
            while True:
                self._waiting_since = time.monotonic()
                try:
                    chunk = os.read(self._fd, 65536)
                except OSError:  # a broken pipe, as Windows may say at the end: the end all the same
                    chunk = b""
                with self._lock:
                    self._waiting_since = None
                    self._count(chunk)
                if not chunk:
                    return
                self._check_overflow()
        finally:
            self._close()

    def _count(self, chunk: bytes) -> None:
        self.total += len(chunk)
        self.kept += chunk[:max(0, self.limit - len(self.kept))]

    def _check_overflow(self) -> None:
        if self.hard_limit and self.total > self.hard_limit and not self.overflowed:
            self.overflowed = True
            self._on_overflow()

    def _close(self) -> None:
        with self._lock:
            self._closed = True
            os.close(self._fd)

    def settle(self, timeout: float = 0.5) -> None:
        """Wait (at most `timeout` s) until every byte in the pipe is counted. The worker flushes its output before
        it answers, so after an answer this makes `text` complete: the reading thread may lag behind the answer.
        A blocking drain cannot be asked what is unread: there, the output is taken as complete once the thread
        has waited QUIET_SECONDS for more, counted from a moment after this call began (so that a thread that was
        just woken by the last output has had time to count it)."""
        deadline = time.monotonic() + timeout
        if self._blocking:
            time.sleep(QUIET_SECONDS)  # also lets the thread take the GIL and count what it was woken for
        while True:
            with self._lock:
                if self._closed or self._drained():
                    return
            if time.monotonic() > deadline:
                return
            time.sleep(0.001)

    def _drained(self) -> bool:
        """Nothing is left to count (called with the lock held)."""
        if not self._blocking:
            return _unread_bytes(self._fd) == 0
        since = self._waiting_since
        return since is not None and time.monotonic() - since >= QUIET_SECONDS

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
        self.control, theirs = socket.socketpair()
        with theirs:
            self.process = subprocess.Popen(_command("--fork-server"), stdin=theirs, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL, cwd=os.path.abspath(os.sep),
                                            env=_environment(), start_new_session=True, close_fds=True)
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


def _command(mode: str, *options: str) -> list[str]:
    """The command line of a fork server or spawned worker (see BOOTSTRAP), with interpreter `options`."""
    import grader
    root = str(Path(grader.__file__).resolve().parent.parent)
    paths = os.pathsep.join(p for p in sys.path if p and os.path.isdir(p))
    return [sys.executable, "-I", "-S", *options, "-c", BOOTSTRAP, root, mode, paths]


def _environment(**extra: str) -> dict:
    """A fork server's or spawned worker's environment: what it needs, nothing of the grader's secrets."""
    return {**{k: os.environ[k] for k in PASSED_THROUGH if k in os.environ}, **ENVIRONMENT, **extra}


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


def warm_up() -> None:
    """Start what workers are made from ahead of the first (the fork server, which imports NumPy meanwhile); a
    spawned worker has nothing to start ahead."""
    if start_method() == "fork":
        fork_server()


def spawn(seconds: float) -> tuple[subprocess.Popen, socket.socket, int]:
    """Start a worker as a fresh interpreter (no fork server) and wait, at most `seconds`, until it connects back:
    (its process, the grader's end of its channel, the read end of its output pipe). The channel is a loopback
    socket, which select() takes on every platform (pipes it does not on Windows); the worker proves it is the one
    started here with a random token from its environment, so no other local process can take its place."""
    _kill_spawned_at_exit()
    token = secrets.token_bytes(16)
    read_end, write_end = os.pipe()
    try:
        with _loopback_listener() as listener:
            try:
                process = _start_spawned(write_end, f"{listener.getsockname()[1]} {token.hex()}")
            finally:
                os.close(write_end)
            try:
                return process, _accept(listener, token, process, time.monotonic() + seconds), read_end
            except WorkerDied:
                _WORKERS.discard(process.pid)
                processes.kill_tree(process.pid, process.wait, _ours)
                raise
    except BaseException:
        os.close(read_end)
        raise


def _start_spawned(output: int, channel: str) -> subprocess.Popen:
    """A spawned worker's interpreter: fds 1 and 2 the output pipe, stdin the null device, in a group of its own,
    with `channel` (port and token) in its environment. In UTF-8 mode: printing and open() as under the fork
    server's C.UTF-8 locale, also on Windows (where -I ignores PYTHONUTF8 and PYTHONIOENCODING)."""
    with _WORKERS_LOCK:  # registered at once: another worker's kill must not take it for an orphan
        process = subprocess.Popen(_command("--spawned", "-X", "utf8"), stdin=subprocess.DEVNULL, stdout=output,
                                   stderr=output, cwd=os.path.abspath(os.sep), close_fds=True,
                                   env=_environment(**{protocol.CHANNEL_VARIABLE: channel}),
                                   **processes.new_session())
        _WORKERS.add(process.pid)
    return process


def _loopback_listener() -> socket.socket:
    """A socket listening on a free loopback port; on Windows with SO_EXCLUSIVEADDRUSE, so that no other process can
    bind the same port and take the worker's connection."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if hasattr(socket, "SO_EXCLUSIVEADDRUSE"):
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    return listener


@functools.cache
def _kill_spawned_at_exit() -> None:
    """Once: at exit, kill the spawned workers still alive (forked ones go with their fork server)."""
    atexit.register(lambda: [processes.kill_tree(pid, None, _ours) for pid in list(_WORKERS)])


def _accept(listener: socket.socket, token: bytes, process: subprocess.Popen, deadline: float) -> socket.socket:
    """The first connection to `listener` that sends `token`, before `deadline` and while `process` lives (others
    are closed). Raises WorkerDied."""
    while True:
        remaining = deadline - time.monotonic()
        if process.poll() is not None:
            raise WorkerDied(f"the worker ended as it started (exit code {process.returncode})")
        if remaining <= 0:
            raise WorkerDied("the worker did not connect in time")
        listener.settimeout(min(remaining, 0.1))  # short: a worker that died at start-up is seen at once
        try:
            channel, _ = listener.accept()
        except socket.timeout:
            continue
        channel.settimeout(max(deadline - time.monotonic(), 0.001))
        try:
            offered = _receive_exactly(channel, len(token))
        except OSError:
            offered = b""
        if hmac.compare_digest(offered, token):
            channel.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # a request and its reply: no Nagle
            channel.settimeout(None)
            return channel
        channel.close()


class WorkerProcess:
    """One running worker. `request` sends a message and returns the reply, serving callbacks meanwhile."""

    def __init__(self, output_limit: int, run_as: Optional[RunAs] = None, seconds: float = 30,
                 output_hard_limit: int = 0):
        self.run_as = run_as
        self.start = start_method()
        self.process: Optional[subprocess.Popen] = None  # a spawned worker's; a forked one is the server's child
        if self.start == "spawn":
            self.process, self.channel, output = spawn(seconds)
            self.pid = self.process.pid
        else:
            try:
                self.pid, self.channel, output = fork_server().fork(seconds)
            except WorkerDied:  # the server died meanwhile (a submission may kill it): once more with a new one
                self.pid, self.channel, output = fork_server().fork(seconds)
            _WORKERS.add(self.pid)
        self.output = OutputCapture(output, output_limit, output_hard_limit,
                                    lambda: self.kill("it printed too much"), blocking=self.start == "spawn")
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
        return self._exchange(protocol.frame(message, buffers), seconds, on_callback)

    def receive(self, seconds: float,
                on_callback: Optional[Callable[[dict, list], tuple[dict, list]]] = None) -> tuple[dict, list]:
        """The next reply to a request that has several (a batch of calls), as `request` reads it."""
        return self._exchange(None, seconds, on_callback)

    def _exchange(self, data: Optional[bytes], seconds: float,
                  on_callback: Optional[Callable[[dict, list], tuple[dict, list]]]) -> tuple[dict, list]:
        """Send `data` (unless None), then read the next reply, serving callbacks meanwhile."""
        if self.dead:
            raise WorkerDied(self.dead)
        deadline = time.monotonic() + seconds
        try:
            if data is not None:
                self._write(data, deadline)
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
        except BaseException:
            # Anything else (pytest-timeout's exception when a grading test overruns, a failing callback) leaves
            # the worker busy with this request: its late reply would answer the next one. It must not live on.
            self.kill("the grader stopped waiting for its reply")
            raise

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
            try:
                view = view[self.channel.send(view):]  # a message usually fits the socket's buffer at once
            except BlockingIOError:
                self._wait(True, deadline)

    def _where(self) -> list:
        """Ask the worker for its stack (faulthandler prints it on WHERE_SIGNAL): [(file, line)], innermost last;
        [] where there is no such signal (Windows)."""
        start = self.output.total
        if protocol.WHERE_SIGNAL is None:
            return []
        try:
            os.kill(self.pid, protocol.WHERE_SIGNAL)
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
        processes.kill_tree(self.pid, self.process.wait if self.process else None, _ours,
                            self.run_as.uid if self.run_as and all_of_user else None)
        _close(self.channel)
        self.output.finish()


_LIVE: set = set()  # pids of this process's own children (fork servers): orphan-killing leaves them alone
_WORKERS: set = set()  # pids of live workers (one re-parented to us when its fork server died is not an orphan)
_WORKERS_LOCK = threading.Lock()  # held from a spawned worker's start until its pid is in _WORKERS


def _ours() -> set:
    """The processes a kill must spare: fork servers and the other live workers."""
    with _WORKERS_LOCK:
        return _LIVE | _WORKERS


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
    """One line for reports: which protections were active (and, where the platform lacks some, which not)."""
    parts = ["separate worker process" + (" (spawned)" if protections.get("worker_start") == "spawn" else "")]
    parts.append(f"runs as {protections['run_as']}" if protections.get("run_as") else "same user as the grader")
    if protections.get("memory_limit_bytes"):
        parts.append(f"memory ≤ {protections['memory_limit_bytes'] / 2**30:g} GiB")
    if protections.get("process_limit"):
        parts.append(f"≤ {protections['process_limit']} processes")
    readable = protections.get("grader_readable")
    parts.append("reference readable by the submission" if readable else "reference not readable")
    parts += [f"no {what}" for what in protections.get("unavailable", ())]
    return ", ".join(parts)
