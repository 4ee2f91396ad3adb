# ruff: noqa: F821 - a template: the test replaces `# @BASE@` by an honest solution
"""A correct solution that calls sys.exit(0) at import."""
import sys

sys.exit(0)
# @BASE@
