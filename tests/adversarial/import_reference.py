# ruff: noqa: F821 - a template: the test replaces `# @BASE@` by an honest solution
"""A correct solution that imports the reference solution."""
import reference.backprop  # noqa: F401
# @BASE@
