"""Checks: plain functions that take the submission (and, where needed, the reference) and return a CheckResult."""
