"""Validation of what student functions return: the contract's types, shapes and dtype, with precise messages.

Each function returns the value in the form the checks use (a float, a float64 array, a dict of arrays) or raises
`StudentCodeError` saying what was wrong with the returned value.
"""
from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import numpy as np

from grader.results import StudentCodeError
from grader.worker.protocol import Opaque


def _type_name(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape}"
    if isinstance(value, Opaque):  # what the worker could only describe
        return f"a {value.type_name}"
    return f"a {type(value).__name__}"


def unpack_pair(value: Any, what: str, names: str) -> tuple[Any, Any]:
    """A 2-tuple (or 2-list) such as `(scores, cache)`; `names` spells it out for the message."""
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise StudentCodeError(f"{what} must return a pair {names}, got {_type_name(value)}.", cause="bad_output")
    return value[0], value[1]


def number(value: Any, what: str, strict: bool = True) -> float:
    """A Python float or int, a NumPy real scalar, or a 0-d array, as float. strict=False also reads a size-1
    array (its shape is then charged only where the contract's types are judged)."""
    if isinstance(value, np.ndarray) and (value.ndim == 0 or (not strict and value.size == 1)):
        value = value.reshape(())[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.floating, np.integer)):
        hint = " (use float(...) or .item())" if isinstance(value, np.ndarray) and value.size == 1 else ""
        raise StudentCodeError(f"{what} must be a number (a float or a 0-d array), got {_type_name(value)}{hint}.",
                               cause="bad_output")
    return float(value)


def float64_array(value: Any, what: str, shape: tuple[int, ...], shape_label: str = "",
                  bias: bool = False) -> np.ndarray:
    """An np.ndarray of dtype float64 and the given shape; `bias`: it is a bias gradient (a wrong shape is then
    most likely a sum over the wrong axis, and the message says so)."""
    if not isinstance(value, np.ndarray):
        raise StudentCodeError(f"{what} must be a NumPy array, got {_type_name(value)}.", cause="bad_output")
    if value.dtype != np.float64:
        if value.dtype == np.float32:
            raise StudentCodeError(f"{what} is float32: the exercise requires float64 (do not cast to float32).",
                                   cause="float32")
        raise StudentCodeError(f"{what} has dtype {value.dtype}; the exercise requires float64.", cause="dtype")
    if value.shape != tuple(shape):
        label = f" = {shape_label}" if shape_label else ""
        transposed = len(shape) == 2 and value.shape == tuple(shape)[::-1]
        hint = (": transposed? A gradient has the shape of its parameter, which fixes the order of a product such "
                "as Xᵀ·G") if transposed else _bias_hint(value.shape, tuple(shape)) if bias else ""
        raise StudentCodeError(f"{what} has shape {value.shape}, expected {tuple(shape)}{label}{hint}.",
                               cause="transposed" if transposed else "wrong_shape")
    return value


def _bias_hint(shape: tuple[int, ...], expected: tuple[int, ...]) -> str:
    """Why a bias gradient has `shape` instead of `expected` (one entry per unit): kept dimensions, or a sum over
    another axis than the batch's (dz.sum(axis=1) gives one entry per example: (N,))."""
    if shape == (1, *expected):
        return ": a bias gradient is 1-D, like its bias: sum over axis 0 (the batch) without keepdims=True"
    return ": sum over axis 0 (the batch): a bias gradient has one entry per unit, like its bias"


def gradient_dict(value: Any, function: str, shapes: dict, labels: dict) -> dict[str, np.ndarray]:
    """A dict holding a float64 array of the right shape for every key of `shapes` (other keys are ignored)."""
    if not isinstance(value, Mapping):
        raise StudentCodeError(f"the grads returned by {function} must be a dict of arrays, got "
                               f"{_type_name(value)}.", cause="bad_output")
    missing = [k for k in shapes if k not in value]
    if missing:
        raise StudentCodeError(f"the grads returned by {function} have no {', '.join(repr(k) for k in missing)} "
                               f"(they have {', '.join(repr(k) for k in value) or 'no keys'}).", cause="bad_output")
    return {k: float64_array(value[k], f"grads[{k!r}] returned by {function}", shape, labels.get(k, ""),
                             bias=len(shape) == 1)  # weights and dX are 2-D
            for k, shape in shapes.items()}
