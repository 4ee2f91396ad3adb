# ruff: noqa: F821 - a template: the test replaces `# @BASE@` by an honest solution
"""A buggy solution (no 1/N in dscores); the sitecustomize.py and usercustomize.py beside it patch NumPy's
comparisons and the grader, if Python ever runs them."""
# @BASE@
