"""The wire format between the grader and the worker that runs student code: data only, never code.

A message is a JSON header plus raw byte buffers. Reading one can build nothing but exact `numpy.ndarray`s of a
numeric dtype (from raw bytes, never through pickle), NumPy scalars of those dtypes, None, bools, ints, floats,
strings, and lists, tuples and dicts of these. Anything else the student's code returns crosses as an `Opaque`
description (its type name and a short repr), which the grader can only report or hand back to the worker.

Values are tagged JSON so that their types survive exactly (a tuple stays a tuple, a dict keeps non-string keys):
    {"a": [buffer, dtype, shape]}  ndarray         {"s": [buffer, dtype]}  NumPy scalar
    {"l": [...]} list   {"t": [...]} tuple      {"d": [[key, value], ...]} dict   {"D": {key: value}} dict of str keys
    {"o": [type name, repr]}                    an object that stays in the worker, described
    {"f": callback id}                          a grader function the worker may call back during one call
    {"r": [k, array]}                           the k-th array among the current call's arguments (identity),
                                                with its values, or null when unchanged since last sent
Plain JSON scalars stand for themselves (floats round-trip exactly; NaN and infinities are allowed).

Both processes import this module; it imports only the standard library and NumPy.
"""
from __future__ import annotations

import json
import math
import signal
import struct
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable, Iterator, Optional

import numpy as np

#: A message larger than this is refused (the worker's results are a few arrays of the problem's size).
MAX_MESSAGE_BYTES = 512 * 2**20
MAX_DEPTH = 64
_NUMERIC_KINDS = "biufc"
_PLAIN = frozenset((type(None), bool, int, float, str))
_HEAD = struct.Struct("!QI")  # header length, number of buffers
_JSON = json.JSONEncoder(separators=(",", ":"))  # made once: json.dumps with options builds one per call
#: The signal on which the worker prints its current Python stack to its output (the grader asks on a time-out);
#: None where there is no such signal (Windows): a time-out then names the function but not the line.
WHERE_SIGNAL = getattr(signal, "SIGUSR1", None)
#: The environment variable that brings a spawned worker the grader's loopback port and its one-time token.
CHANNEL_VARIABLE = "BACKPROP_GRADER_WORKER_CHANNEL"


class ProtocolError(Exception):
    """A message that is malformed, too large, or holds something other than data."""


@dataclass(frozen=True)
class Opaque:
    """An object the student's code returned that is not data (it stays in the worker): only described."""

    type_name: str
    text: str

    def __repr__(self) -> str:
        return f"<{self.type_name} from the submission: {self.text}>"


@dataclass(frozen=True)
class Callback:
    """Stands for a grader function in a message to the worker."""

    id: int


def walk_arrays(value: Any, depth: int = 0) -> Iterator[np.ndarray]:
    """The ndarrays inside `value` (lists, tuples, dict values), in a fixed order both processes agree on."""
    if depth > MAX_DEPTH:
        return
    if type(value) is np.ndarray:
        yield value
    elif isinstance(value, (list, tuple)):
        for entry in value:
            yield from walk_arrays(entry, depth + 1)
    elif isinstance(value, dict):
        for entry in value.values():
            yield from walk_arrays(entry, depth + 1)


class Encoder:
    """Turns a value into (tree, buffers), `buffers` filled as it goes. describe_others: send what is not data as
    an Opaque description (worker side; else it is refused), after `convert(value)` (worker side: the plain data a
    subclass of a data type stands for, see grader.worker.plain) when that gives something else; `callback(function)
    -> id` registers grader functions (grader side); `identity(array) -> (k, changed) or None` tells the arrays of
    the current call's arguments (the k-th, and whether its values changed since they were last sent)."""

    def __init__(self, describe_others: bool = False, callback: Optional[Callable[[Any], int]] = None,
                 identity: Optional[Callable[[np.ndarray], Optional[tuple]]] = None,
                 convert: Optional[Callable[[Any], Any]] = None):
        self.buffers: list[bytes] = []
        self._describe_others, self._callback, self._identity = describe_others, callback, identity
        self._convert = convert

    def encode(self, value: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            return self._other(value, "nested too deeply")
        kind = type(value)
        if kind in _PLAIN:
            return value
        if kind is np.ndarray:
            if _dtype_text(value.dtype) is None:
                return self._other(value, f"an array of dtype {value.dtype}")
            known = self._identity(value) if self._identity is not None else None
            if known is not None:
                k, changed = known
                return {"r": [k, self._array(value) if changed else None]}
            return self._array(value)
        if isinstance(value, np.generic) and kind.__module__ == "numpy" and value.dtype.kind in _NUMERIC_KINDS:
            self.buffers.append(value.tobytes())
            return {"s": [len(self.buffers) - 1, value.dtype.str]}
        if kind is list:
            return {"l": [self.encode(v, depth + 1) for v in value]}
        if kind is tuple:
            return {"t": [self.encode(v, depth + 1) for v in value]}
        if kind is dict:
            if all(type(k) is str for k in value):  # the usual case, and a JSON object as it is
                return {"D": {k: self.encode(v, depth + 1) for k, v in value.items()}}
            return {"d": [[self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in value.items()]}
        if kind is Opaque:
            return {"o": [value.type_name, value.text]}
        if self._callback is not None and callable(value):
            return {"f": self._callback(value)}
        if self._convert is not None:
            converted = self._convert(value)
            if converted is not value:
                return self.encode(converted, depth)
        return self._other(value, "")

    def _array(self, value: np.ndarray) -> dict:
        self.buffers.append(value.tobytes())  # C order; a method of ndarray, which no submission can replace
        return {"a": [len(self.buffers) - 1, _dtype_text(value.dtype), list(value.shape)]}

    def _other(self, value: Any, why: str) -> dict:
        if not self._describe_others:
            raise ProtocolError(f"cannot send a {type(value).__name__} {why}".rstrip())
        try:
            text = why or repr(value)
        except Exception:  # noqa: BLE001 - a student's __repr__ may raise anything
            text = "?"
        return {"o": [_type_name(value), str(text)[:200]]}


def _type_name(value: Any) -> str:
    try:
        return str(type(value).__name__)[:80]
    except Exception:  # noqa: BLE001
        return "object"


class Decoder:
    """Turns (tree, buffers) back into a value. `callback(id)` builds the worker's stand-in for a grader function;
    `identity(k, array or None)` maps an {"r": ...} array to the receiver's own object (None: unchanged)."""

    def __init__(self, buffers: list, callback: Optional[Callable[[int], Any]] = None,
                 identity: Optional[Callable[[int, np.ndarray], Any]] = None):
        self.buffers, self._callback, self._identity = buffers, callback, identity
        self._used: set = set()  # a buffer backs one value only: two arrays never share memory

    def decode(self, tree: Any, depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise ProtocolError("nested too deeply")
        if type(tree) in _PLAIN:
            return tree
        if type(tree) is not dict or len(tree) != 1:
            raise ProtocolError("malformed value")
        (tag, body), = tree.items()
        if tag == "a":
            return self._array(body)
        if tag == "r":
            k, array = body
            value = self._array(array["a"]) if array is not None else None
            if self._identity is None:
                raise ProtocolError("an argument's identity outside a call")
            return self._identity(k, value)
        if tag == "s":
            index, dtype = body
            return np.frombuffer(self._buffer(index), dtype=_numeric_dtype(dtype))[0]
        if tag in ("l", "t"):
            items = [self.decode(v, depth + 1) for v in body]
            return items if tag == "l" else tuple(items)
        if tag == "D" and type(body) is dict:
            return {k: self.decode(v, depth + 1) for k, v in body.items()}
        if tag == "d":
            return {_hashable(self.decode(k, depth + 1)): self.decode(v, depth + 1) for k, v in body}
        if tag == "o":
            type_name, text = body
            return Opaque(str(type_name), str(text))
        if tag == "f" and self._callback is not None:
            return self._callback(int(body))
        raise ProtocolError(f"unexpected value tag {tag!r}")

    def _array(self, body: list) -> np.ndarray:
        index, dtype, shape = body
        dtype = _numeric_dtype(dtype)
        if type(shape) is not list:
            raise ProtocolError("bad array shape")
        for n in shape:
            if type(n) is not int or n < 0:
                raise ProtocolError("bad array shape")
        data = self._buffer(index)
        if len(data) != math.prod(shape) * dtype.itemsize:
            raise ProtocolError("array size does not match its shape")
        array = np.ndarray(shape, dtype, data)  # over the received bytes, writable, C order
        # A buffer after one of an odd length starts at an odd offset: NumPy computes on unaligned arrays with other
        # loops, whose sums can differ in the last bits. Such an array gets aligned memory of its own.
        return array if array.flags.aligned else array.copy()

    def _buffer(self, index: Any) -> Any:
        if type(index) is not int or not 0 <= index < len(self.buffers) or index in self._used:
            raise ProtocolError("bad buffer index")
        self._used.add(index)
        return self.buffers[index]


_DTYPES: dict = {}  # dtype text -> numeric dtype, for the texts seen so far (a handful)
_TEXTS: dict = {}  # dtype -> its text when numeric, else None


def _numeric_dtype(text: Any) -> np.dtype:
    if type(text) is not str or len(text) > 8:
        raise ProtocolError("bad dtype")
    dtype = _DTYPES.get(text)
    if dtype is not None:
        return dtype
    try:
        dtype = np.dtype(text)
    except TypeError:
        raise ProtocolError(f"bad dtype {text!r}") from None
    if dtype.kind not in _NUMERIC_KINDS or dtype.fields is not None or dtype.subdtype is not None:
        raise ProtocolError(f"not a numeric dtype: {text!r}")
    if len(_DTYPES) < 64:
        _DTYPES[text] = dtype
    return dtype


def _dtype_text(dtype: np.dtype) -> Optional[str]:
    """The text a numeric dtype crosses as ("<f8"), or None for a dtype that is not sent (object, structured, str)."""
    try:
        return _TEXTS[dtype]
    except KeyError:
        pass
    text = dtype.str if dtype.kind in _NUMERIC_KINDS and dtype.fields is None and dtype.subdtype is None else None
    if len(_TEXTS) < 64:
        _TEXTS[dtype] = text
    return text


def _hashable(key: Any) -> Any:
    if isinstance(key, (list, dict, np.ndarray)):
        raise ProtocolError("unhashable dict key")
    return key


# ------------------------------------------------------------------------------------------------------ framing
def frame(message: dict, buffers: list) -> bytes:
    """One message as bytes: the header's length and the number of buffers, the JSON header, the buffers' lengths,
    the buffers."""
    header = _JSON.encode(message).encode("utf-8")
    lengths = struct.pack(f"!{len(buffers)}Q", *map(len, buffers))
    return b"".join([_HEAD.pack(len(header), len(buffers)), header, lengths, *buffers])


def read_message(read_exactly: Callable[[int], bytearray]) -> tuple[dict, list]:
    """(header, buffers), reading with `read_exactly(n)` (which raises EOFError when the other side has closed).
    The buffers are slices of one bytearray (writable; each backs one value: see Decoder)."""
    header_length, count = _HEAD.unpack(read_exactly(_HEAD.size))
    if header_length > MAX_MESSAGE_BYTES or count > 100_000:
        raise ProtocolError("message too large")
    try:
        message = json.loads(read_exactly(header_length).decode("utf-8"))
    except (ValueError, RecursionError) as error:  # RecursionError: a header nested thousands deep
        raise ProtocolError(f"malformed header: {type(error).__name__}") from None
    if not isinstance(message, dict):
        raise ProtocolError("malformed header")
    if not count:
        return message, []
    lengths = struct.unpack(f"!{count}Q", read_exactly(8 * count))
    if header_length + sum(lengths) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message larger than {MAX_MESSAGE_BYTES // 2**20} MiB")
    data = memoryview(read_exactly(sum(lengths)))
    buffers, start = [], 0
    for length in lengths:
        buffers.append(data[start:start + length])
        start += length
    return message, buffers


def reader(stream: BinaryIO) -> Callable[[int], bytearray]:
    """read_exactly for a blocking buffered binary stream (the worker's side)."""
    def read_exactly(size: int) -> bytearray:
        data = stream.read(size)
        if len(data) < size:
            raise EOFError("the other side closed the channel")
        return bytearray(data)
    return read_exactly
