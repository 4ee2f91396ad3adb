# ruff: noqa: F821 - a template: the test replaces `# @BASE@` by an honest solution
"""A correct solution except that diagnose never returns."""
# @BASE@


def diagnose(analytic, numeric):
    while True:
        pass
