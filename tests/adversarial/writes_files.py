# ruff: noqa: F821 - a template: the test replaces `# @BASE@` by an honest solution
"""A correct solution that writes files where it can reach: its working folder, HOME, TMPDIR, and a folder next to
its own source (found through /proc). All of these must land in (or be refused outside) the grader's sandbox."""
import os
import tempfile

_cwd = os.getcwd()
with open("@TMP@/sandbox", "w") as _f:
    _f.write(_cwd)
for _path in ("escape_cwd.txt", os.path.expanduser("~/escape_home.txt"),
              os.path.join(tempfile.gettempdir(), "escape_tmp.txt"),
              os.path.join(os.path.dirname(os.path.abspath(__file__)), "escape_beside.txt")):
    try:
        with open(_path, "w") as _f:
            _f.write("written by the submission")
    except OSError:
        pass
# @BASE@
