# ruff: noqa: F821 - a template: the test replaces `# @BASE@` by an honest solution
"""A correct solution with one syntax error (an unmatched parenthesis, written into the base by the test)."""
# @BASE@
