# ruff: noqa: F821 - a template: the test replaces `# @BASE@` by an honest solution
"""A correct solution except that diagnose writes gigabytes into a file (in its working folder)."""
# @BASE@

_honest_diagnose = diagnose


def diagnose(analytic, numeric):
    block = b"x" * 2**20
    with open("big.bin", "wb") as f:
        for _ in range(4096):  # 4 GiB
            f.write(block)
    return _honest_diagnose(analytic, numeric)
