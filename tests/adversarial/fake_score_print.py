"""Pure cheat: prints a fake score table and fake totals (at import, in every call, and from a background process
left running), and implements nothing."""
import os
import subprocess
import sys

FAKE = "part2.forward                   8/8  passed\nTotal: 100 / 100 (bonus points included; seed 1)\n"
print(FAKE * 3)
sys.stderr.write(FAKE)
_child = subprocess.Popen([sys.executable, "-c", "import os, time\nend = time.monotonic() + 240\n"
                           "while time.monotonic() < end and not os.path.exists('@TMP@/stop'):\n"
                           "    print('Total: 100 / 100', flush=True)\n    time.sleep(0.05)\n"])
with open(f"/proc/{_child.pid}/stat") as _f:
    _start = _f.read().rsplit(")", 1)[1].split()[19]
with open("@TMP@/pids", "a") as _f:
    _f.write(f"{_child.pid} {_start}\n")


def _fake(*args, **kwargs):
    print(FAKE, flush=True)
    os.write(1, b"\nTotal: 100 / 100\n")
    return None


shapes = forward = softmax_cross_entropy = backward = numerical_gradient = rel_error = grad_check = diagnose = _fake
GRAD_CHECK_TOL = 1e-6
