# ruff: noqa: F821 - a template: the test replaces `# @BASE@` by an honest solution
"""A correct solution that imports the grader's comparison module, hoping to patch it."""
from grader import compare

compare.find_mismatch = lambda *a, **k: None
# @BASE@
