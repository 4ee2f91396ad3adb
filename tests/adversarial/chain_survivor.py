# ruff: noqa: F821 - a template: the test replaces `# @BASE@` by an honest solution
"""A correct solution that leaves a chain of 60 background processes, each the child of the one before and each in a
session of its own. Killing the head makes its child the head; every process that becomes the head tells the tail,
which adds one process at the end: a killer that takes one generation at a time never reaches the end. No busy
loop: each process blocks on a pipe from its parent (EOF when the parent dies). The chain is started by the first
import only; it stops by itself once @TMP@/stop exists, or after 240 s."""
import os
import subprocess
import sys

_CHAIN = r"""
import os, select, time
STOP, DEADLINE, DEPTH = "@TMP@/stop", time.monotonic() + 240, 60
grow_r, grow_w = os.pipe()


def record():
    with open("/proc/self/stat") as f:
        start = f.read().rsplit(")", 1)[1].split()[19]
    with open("@TMP@/pids", "a") as f:
        f.write(f"{os.getpid()} {start}\n")


def spawn(parent_r):
    # Fork the next process of the chain: (True, its pipe from us) in the child, (False, parent_r) in the parent.
    r, w = os.pipe()
    if os.fork() == 0:
        os.close(w)
        if parent_r is not None:
            os.close(parent_r)
        os.setsid()
        record()
        return True, r
    os.close(r)
    return False, parent_r


def live(parent_r, tail):
    # Block until the parent dies (then tell the tail) or, at the tail, until asked to grow.
    told = False
    while time.monotonic() < DEADLINE and not os.path.exists(STOP):
        watched = [fd for fd in (None if told else parent_r, grow_r if tail else None) if fd is not None]
        ready = select.select(watched, [], [], 1.0)[0]
        if parent_r in ready and not told:
            os.read(parent_r, 1)  # EOF: the parent is gone, this one is the head now
            told = True
            os.write(grow_w, b"+")
        if tail and grow_r in ready:
            for _ in os.read(grow_r, 64):
                child, parent_r_new = spawn(parent_r if not told else None)
                if child:  # the new tail
                    parent_r, told = parent_r_new, False
                else:  # this one is a middle link now
                    tail = False
                    break
    os._exit(0)


parent_r = None
for _ in range(DEPTH):
    child, parent_r = spawn(parent_r)
    if not child:
        live(parent_r, tail=False)
live(parent_r, tail=True)
"""

try:
    os.close(os.open("@TMP@/chain_started", os.O_WRONLY | os.O_CREAT | os.O_EXCL))
    subprocess.Popen([sys.executable, "-I", "-S", "-c", _CHAIN], start_new_session=True,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
except FileExistsError:
    pass
# @BASE@
