# ruff: noqa: F821 - a template: the test replaces `# @BASE@` by an honest solution
"""A correct solution that kills its worker's parent, the fork server, at import (every worker does)."""
import os
import signal

with open("@TMP@/killed_parents", "a") as _f:
    _f.write(f"{os.getppid()}\n")
os.kill(os.getppid(), signal.SIGKILL)
# @BASE@
