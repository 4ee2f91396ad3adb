# ruff: noqa: F821 - a template: the test replaces `# @BASE@` by an honest solution
"""A correct solution that ends its process with os._exit(0) at import."""
import os

os._exit(0)
# @BASE@
