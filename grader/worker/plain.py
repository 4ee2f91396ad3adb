"""What the student's code returns, as the plain data types it stands for, before the worker encodes it.

The protocol carries exact types only, so correct code that returns a subclass of a data type (grads in an
`OrderedDict`, a namedtuple, a label as `np.str_` or as a member of `class Label(str, Enum)`) would reach the grader
as an opaque description and be marked wrong. This module runs in the WORKER only: it rebuilds such values as exact
dicts, lists, tuples, strings, ints and floats, which the protocol then sends as it sends any data. The grader's
decoding stays strict: it trusts nothing more than before, and sees plain data only, so a subclass whose methods lie
(`__eq__` always True, a `__getitem__` that answers what it is asked) gains nothing: its lies do not survive.

Subclasses of dict, list, tuple, str, int and float are read with the base type's own methods (`dict.items`,
`list.__iter__`, `str.__str__`, ...), which a subclass cannot override, so reading them runs no student code. Other
Mappings can only be read through their own `items()`: that is student code, so it is bounded (depth, entries) and
any exception makes the whole value fall back to what it was (the encoder then describes it, as before). What is not
a subclass of these types stays as it is: NumPy's numeric scalars (the protocol sends them exactly), ndarray
subclasses and np.matrix (refused: an array whose comparisons always agree is a known cheat; the grader's own
TrackedArray, which a counted call's results are made of, becomes the ndarray it views), other objects.
"""
from __future__ import annotations

from collections.abc import Mapping
from itertools import islice
from typing import Any

import numpy as np

from grader.checks.tracked_arrays import TrackedArray
from grader.worker.protocol import MAX_DEPTH

#: Entries (container items, keys and values) looked at in one value; a larger value is left as it is.
MAX_ENTRIES = 100_000
_EXACT = (type(None), bool, int, float, str, np.ndarray)
#: Base type -> how a subclass instance becomes that exact type, reading it with the base type's own method.
_SCALARS = ((str, str.__str__), (int, int.__int__), (float, float.__float__))


class _TooLarge(Exception):
    """The value has more entries, or is nested deeper, than is converted."""


def plain_data(value: Any) -> Any:
    """`value` with every instance of a subclass of a data type (and every Mapping) replaced by the exact type,
    recursively; `value` itself when that fails for any reason (student code raised, too large, too deep)."""
    try:
        return _Converter().convert(value, 0)
    except BaseException:  # noqa: BLE001 - a Mapping's items() is student code: SystemExit too stays contained
        return value


class _Converter:
    """One conversion, counting the entries it has looked at against MAX_ENTRIES."""

    def __init__(self) -> None:
        self.entries = 0

    def convert(self, value: Any, depth: int) -> Any:
        """The plain form of `value` (type() is used, never isinstance(): __class__ can be faked)."""
        kind = type(value)
        if kind in _EXACT:
            return value
        if kind is TrackedArray:  # the grader's own view of its inputs (a counted call's), also in what it returns
            return value.view(np.ndarray)
        if depth > MAX_DEPTH:
            raise _TooLarge
        if kind is list or kind is tuple:  # exact containers: their length and iteration are the builtin ones
            self._count(len(value))
            return kind([self.convert(v, depth + 1) for v in value])
        if kind is dict:
            self._count(len(value))
            return {self.convert(k, depth + 1): self.convert(v, depth + 1) for k, v in value.items()}
        if issubclass(kind, dict):
            return self._mapping(dict.items(value), depth)
        if issubclass(kind, (list, tuple)):
            base = list if issubclass(kind, list) else tuple
            return base(self.convert(v, depth + 1) for v in self._bounded(base.__iter__(value)))
        if issubclass(kind, np.generic):  # numeric scalars cross as they are; np.str_ is a str below
            return str.__str__(value) if issubclass(kind, str) else value
        for base, exact in _SCALARS:
            if issubclass(kind, base):  # bool is exact (it has no subclasses): it returned above
                return exact(value)
        if issubclass(kind, Mapping):
            return self._mapping(value.items(), depth)
        return value

    def _mapping(self, items: Any, depth: int) -> dict:
        """An exact dict of the converted (key, value) pairs."""
        return {self.convert(k, depth + 1): self.convert(v, depth + 1) for k, v in self._bounded(iter(items))}

    def _count(self, entries: int) -> None:
        self.entries += entries
        if self.entries > MAX_ENTRIES:
            raise _TooLarge

    def _bounded(self, entries: Any) -> Any:
        """The entries of an iterator, counted; _TooLarge past MAX_ENTRIES (a student's iterator may never end)."""
        for entry in islice(entries, MAX_ENTRIES + 1):
            self.entries += 1
            if self.entries > MAX_ENTRIES:
                raise _TooLarge
            yield entry
