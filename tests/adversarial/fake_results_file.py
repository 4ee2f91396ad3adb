"""Pure cheat: finds the report paths the grader will write (--grade-json of the grading process, --json of the CLI)
in /proc/<pid>/cmdline of its ancestors, and leaves a background process (out of its session) that sleeps 1 s,
writes a fake perfect report there, and keeps rewriting it whenever it changes."""
import json
import os
import time

FAKE = {"score": 100.0, "max_score": 100, "seed": 1, "items": [], "submission": "FAKE-REPORT", "rubric": "",
        "grader_version": "0"}


def _targets():
    found, pid = [], os.getppid()
    while pid > 1:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().decode(errors="replace").split("\0")
            with open(f"/proc/{pid}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            break
        for flag in ("--grade-json", "--json"):
            if flag in argv and argv.index(flag) + 1 < len(argv):
                path = argv[argv.index(flag) + 1]
                cwd = os.readlink(f"/proc/{pid}/cwd")
                found.append(os.path.join(cwd, path))
        pid = parent
    return found


def _writer(targets):
    time.sleep(1.0)
    stop = time.monotonic() + 240
    written = {}
    while time.monotonic() < stop and not os.path.exists("@TMP@/stop"):
        for path in targets:
            try:
                mtime = os.stat(path).st_mtime_ns
            except OSError:
                mtime = None
            if written.get(path) != mtime:
                try:
                    with open(path, "w") as f:
                        json.dump(FAKE, f)
                    written[path] = os.stat(path).st_mtime_ns
                except OSError:
                    pass
        time.sleep(0.001)


_paths = _targets()
with open("@TMP@/targets", "w") as _f:
    _f.write("\n".join(_paths))
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        with open("@TMP@/pids", "a") as _f:
            _f.write(f"{os.getpid()}\n")
        try:
            _writer(_paths)
        finally:
            os._exit(0)
    os._exit(0)
time.sleep(0.1)


def _nothing(*args, **kwargs):
    raise NotImplementedError


shapes = forward = softmax_cross_entropy = backward = numerical_gradient = rel_error = grad_check = diagnose = _nothing
