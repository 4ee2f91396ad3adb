# ruff: noqa: F821 - a template: the test replaces `# @BASE@` by an honest solution
"""A correct solution whose `shapes` raises with a lone surrogate in its message: the feedback cannot be encoded as
UTF-8, yet the report must be written (and the table printed, escaped)."""
# @BASE@


def shapes(N, D, H, C):
    raise ValueError("bad \ud800 shape")
