"""The YAML rubric: loading and strict validation. The schema is documented in the README ("Rubric format").

Every problem is reported as one `RubricError` naming the file, the item and the field, before anything runs.
"""
from __future__ import annotations

import argparse
import ast
import difflib
import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

from grader.contract import ENTRY_POINTS, REG_CONVENTIONS

GRADING_TESTS_DIR = Path(__file__).resolve().parent / "grading_tests"
SCORING = ("all_or_nothing", "fraction")
VISIBILITY = ("visible", "hidden", "after_due_date", "after_published")
TIME_LIMIT_KEYS = {"import": "seconds to import the submission",
                   "call": "seconds for one call of a student function",
                   "test": "seconds per grading test",
                   "total": "seconds for the whole grading run"}
TOP_KEYS = {"title", "submission", "entry_points", "class_api", "stand_ins", "reg_convention", "time_limits",
            "worker_limits", "salt", "items"}
#: Bounds on the worker process that runs the student's code, with their defaults.
WORKER_LIMITS = {"memory_mb": 2048, "output_kb": 64, "processes": 64}
CLASS_API_KEYS = {"name", "constructor", "weights", "method", "reg"}
CONSTRUCTOR_VALUES = ("D", "H", "C", "reg")
STAND_INS = ("matplotlib", "past", "future")
ITEM_KEYS = {"id", "title", "points", "tests", "scoring", "visibility", "manual", "bonus"}


class RubricError(Exception):
    """A malformed rubric: the message names the file, the item and the field."""


@dataclass(frozen=True)
class Item:
    id: str
    title: str
    points: float
    tests: tuple[str, ...]  # "test_module.py::test_function", in grader/grading_tests
    scoring: str = "all_or_nothing"
    visibility: str = "visible"
    manual: bool = False
    bonus: bool = False


@dataclass(frozen=True)
class ClassApi:
    """A class-based submission (CS231n style): how to build the object and call it.

    name:        the class in the submission module
    constructor: keyword -> "D", "H", "C", "reg" or a number (e.g. {input_size: D, hidden_size: H, output_size: C})
    weights:     the dict attribute holding W1, b1, W2, b2 (e.g. "params"), or "attributes" for self.W1, ...
    method:      method(X) gives the scores; method(X, y, ...) gives (loss, grads)
    reg:         "argument" (method(X, y, reg=reg)) or "constructor" (the constructor's keyword mapped to reg)
    """

    name: str
    constructor: dict
    weights: str
    method: str
    reg: str


@dataclass(frozen=True)
class Rubric:
    path: Path
    title: str
    submission: str
    entry_points: dict
    reg_convention: str
    time_limits: dict
    salt: str
    items: tuple[Item, ...]
    digest: str  # sha256 of the rubric file's bytes
    class_api: Optional[ClassApi] = None
    stand_ins: tuple = ()  # modules stood in for when missing (grader.stand_ins)
    worker_limits: dict = field(default_factory=lambda: dict(WORKER_LIMITS))
    overridden: frozenset = frozenset()  # the time limits with_time_limits replaced (from a command line)

    @property
    def reg_factor(self) -> float:
        return REG_CONVENTIONS[self.reg_convention]

    def with_time_limits(self, **overrides: Optional[float]) -> Rubric:
        """A copy with some time limits replaced (None keeps the rubric's value); `overridden` names them."""
        given = {k: v for k, v in overrides.items() if v is not None}
        return Rubric(**{**self.__dict__, "time_limits": {**self.time_limits, **given},
                         "overridden": self.overridden | frozenset(given)})

    def visibility(self) -> dict[str, str]:
        """{item id: its Gradescope visibility}, for results.json."""
        return {item.id: item.visibility for item in self.items}

    def item_of_test(self) -> dict[str, Item]:
        return {test: item for item in self.items for test in item.tests}


def seconds_value(text: str) -> float:
    """A time limit given on a command line (--timeout and the like): a positive, finite number of seconds. Zero or
    less would fail every grading test and blame the student for it ("did not return within -5 s")."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not _positive(value):
        raise argparse.ArgumentTypeError(f"{text} is not a positive, finite number of seconds")
    return value


def _positive(value: float) -> bool:
    """A usable limit: positive and finite (NaN compares false to everything, so `value <= 0` would let it pass)."""
    return math.isfinite(value) and value > 0


def default_rubric_path() -> Path:
    """rubrics/backprop.yaml: in the source tree beside grader/, or installed inside the package."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "rubrics" / "backprop.yaml", here.parent / "rubrics" / "backprop.yaml"):
        if candidate.is_file():
            return candidate
    raise RubricError("the default rubric rubrics/backprop.yaml is not installed; pass --rubric FILE")


#: What a --rubric option takes, in the help of every command that has one (find_rubric reads it).
RUBRIC_HELP = "a rubric YAML file, or a bundled rubric's name such as cs231n_two_layer"


def find_rubric(name: Path) -> Path:
    """A rubric path as given, or else a bundled rubric by name: `cs231n_two_layer` or `rubrics/cs231n_fc_net.yaml`
    work from anywhere once the package is installed."""
    name = Path(name)
    if name.exists():
        return name
    bundled = default_rubric_path().parent
    for candidate in (bundled / name.name, bundled / f"{name.name}.yaml"):
        if candidate.is_file():
            return candidate
    return name


def available_tests() -> set[str]:
    """Every grading test as "module.py::function", read from the source without importing it."""
    found = set()
    for module in sorted(GRADING_TESTS_DIR.glob("test_*.py")):
        tree = ast.parse(module.read_text(encoding="utf-8"))
        found.update(f"{module.name}::{node.name}" for node in tree.body
                     if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"))
    return found


def load_rubric(path: Path) -> Rubric:
    """Parse and validate; raises RubricError with one clear message."""
    path = Path(path)
    try:
        raw = path.read_bytes()
        data = yaml.safe_load(raw)
    except OSError as error:
        raise RubricError(f"{path}: cannot read the rubric: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise RubricError(f"{path}: not valid YAML: {error}") from None
    return _validate(path, data, hashlib.sha256(raw).hexdigest())


def _validate(path: Path, data: Any, digest: str) -> Rubric:
    def fail(where: str, message: str) -> RubricError:
        return RubricError(f"{path}: {where}: {message}")

    if not isinstance(data, dict):
        raise fail("top level", "the rubric must be a mapping of keys (title, submission, items, ...)")
    _no_unknown_keys(data, TOP_KEYS, lambda key: fail(f"field {key!r}", "unknown key"))
    for key in ("title", "submission", "salt", "items"):
        if key not in data:
            raise fail(f"field {key!r}", "missing")
    title = _string(data["title"], lambda m: fail("field 'title'", m))
    submission = _string(data["submission"], lambda m: fail("field 'submission'", m))
    if not submission.endswith(".py"):
        raise fail("field 'submission'", f"must be a .py file name, got {submission!r}")
    salt = _string(data["salt"], lambda m: fail("field 'salt'", m))

    entry_points = dict(ENTRY_POINTS)
    given = data.get("entry_points") or {}
    if not isinstance(given, dict):
        raise fail("field 'entry_points'", "must be a mapping of role: name")
    for role, name in given.items():
        if role not in ENTRY_POINTS:
            raise fail(f"entry_points: field {role!r}", f"unknown role; roles are {', '.join(ENTRY_POINTS)}")
        if not isinstance(name, str) or not name.isidentifier():
            raise fail(f"entry_points: field {role!r}", f"must be a Python identifier, got {name!r}")
        entry_points[role] = name

    reg_convention = data.get("reg_convention", "half")
    if reg_convention not in REG_CONVENTIONS:
        raise fail("field 'reg_convention'", f"must be one of {', '.join(REG_CONVENTIONS)}, got {reg_convention!r}")

    time_limits = _positive_numbers(data, "time_limits", {"import": 10.0, "call": 10.0, "test": 30.0, "total": 600.0},
                                    "number of seconds", fail)
    worker_limits = _positive_numbers(data, "worker_limits", dict(WORKER_LIMITS), "number", fail)

    if not isinstance(data["items"], list) or not data["items"]:
        raise fail("field 'items'", "must be a non-empty list")
    tests_available = available_tests()
    items, seen_ids, seen_tests = [], set(), {}
    for position, raw_item in enumerate(data["items"], start=1):
        item = _validate_item(raw_item, position, tests_available, fail)
        if item.id in seen_ids:
            raise fail(f"item {item.id!r}: field 'id'", "used by two items")
        for test in item.tests:
            if test in seen_tests:
                raise fail(f"item {item.id!r}: field 'tests'", f"{test} is already graded by item {seen_tests[test]!r}")
            seen_tests[test] = item.id
        seen_ids.add(item.id)
        items.append(item)
    class_api = _validate_class_api(data["class_api"], fail) if "class_api" in data else None
    stand_ins = data.get("stand_ins", [])
    if not isinstance(stand_ins, list) or any(name not in STAND_INS for name in stand_ins):
        raise fail("field 'stand_ins'", f"must be a list of modules from {', '.join(STAND_INS)}, got {stand_ins!r}")
    return Rubric(path.resolve(), title, submission, entry_points, reg_convention, time_limits, salt, tuple(items),
                  digest, class_api, tuple(stand_ins), worker_limits)


def _positive_numbers(data: dict, field: str, defaults: dict, unit: str, fail) -> dict:
    """The rubric's mapping `field` of positive numbers over `defaults` (its keys are the only ones allowed)."""
    values = data.get(field) or {}
    if not isinstance(values, dict):
        raise fail(f"field {field!r}", "must be a mapping")
    for key, value in values.items():
        if key not in defaults:
            raise fail(f"{field}: field {key!r}", f"unknown key; keys are {', '.join(defaults)}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not _positive(value):
            raise fail(f"{field}: field {key!r}", f"must be a positive {unit}, got {value!r}")
        defaults[key] = float(value)
    return defaults


def _validate_class_api(raw: Any, fail) -> ClassApi:
    if not isinstance(raw, dict):
        raise fail("field 'class_api'", "must be a mapping with name, constructor, weights, method, reg")
    _no_unknown_keys(raw, CLASS_API_KEYS, lambda key: fail(f"class_api: field {key!r}", "unknown key"))
    for key in sorted(CLASS_API_KEYS):
        if key not in raw:
            raise fail(f"class_api: field {key!r}", "missing")
    for key in ("name", "weights", "method"):
        if not isinstance(raw[key], str) or not raw[key].isidentifier():
            raise fail(f"class_api: field {key!r}", f"must be a Python identifier, got {raw[key]!r}")
    constructor = raw["constructor"]
    if not isinstance(constructor, dict) or not all(
            isinstance(k, str) and k.isidentifier() and (v in CONSTRUCTOR_VALUES or
                                                          (isinstance(v, (int, float)) and not isinstance(v, bool)))
            for k, v in constructor.items()):
        allowed = ", ".join(CONSTRUCTOR_VALUES)
        raise fail("class_api: field 'constructor'",
                   f"must map keyword names to one of {allowed} or a number, got {constructor!r}")
    if raw["reg"] not in ("argument", "constructor"):
        raise fail("class_api: field 'reg'", f"must be argument or constructor, got {raw['reg']!r}")
    if raw["reg"] == "constructor" and "reg" not in constructor.values():
        raise fail("class_api: field 'constructor'", "reg: constructor needs a keyword mapped to reg")
    return ClassApi(raw["name"], dict(constructor), raw["weights"], raw["method"], raw["reg"])


def _validate_item(raw: Any, position: int, tests_available: set, fail) -> Item:
    if not isinstance(raw, dict):
        raise fail(f"item #{position}", "must be a mapping with id, title, points, ...")
    where = f"item {raw.get('id', f'#{position}')!r}"
    _no_unknown_keys(raw, ITEM_KEYS, lambda key: fail(f"{where}: field {key!r}",
                                                      f"unknown key; keys are {', '.join(sorted(ITEM_KEYS))}"))
    for key in ("id", "title", "points"):
        if key not in raw:
            raise fail(f"{where}: field {key!r}", "missing")
    item_id = _string(raw["id"], lambda m: fail(f"{where}: field 'id'", m))
    title = _string(raw["title"], lambda m: fail(f"{where}: field 'title'", m))
    points = raw["points"]
    if isinstance(points, bool) or not isinstance(points, (int, float)) or points < 0:
        raise fail(f"{where}: field 'points'", f"must be a number >= 0, got {points!r}")
    manual = raw.get("manual", False)
    bonus = raw.get("bonus", False)
    for key, value in (("manual", manual), ("bonus", bonus)):
        if not isinstance(value, bool):
            raise fail(f"{where}: field {key!r}", f"must be true or false, got {value!r}")
    scoring = raw.get("scoring", "all_or_nothing")
    if scoring not in SCORING:
        raise fail(f"{where}: field 'scoring'", f"must be one of {', '.join(SCORING)}, got {scoring!r}")
    visibility = raw.get("visibility", "visible")
    if visibility not in VISIBILITY:
        raise fail(f"{where}: field 'visibility'", f"must be one of {', '.join(VISIBILITY)}, got {visibility!r}")
    tests = raw.get("tests", [])
    if not isinstance(tests, list) or not all(isinstance(t, str) for t in tests):
        raise fail(f"{where}: field 'tests'", "must be a list of grading test names (module.py::test_name)")
    if manual and tests:
        raise fail(f"{where}: field 'tests'", "a manual item has no tests")
    if not manual and not tests:
        raise fail(f"{where}: field 'tests'", "missing: an autograded item needs at least one grading test")
    for test in tests:
        if test not in tests_available:
            raise fail(f"{where}: field 'tests'", f"no grading test {test!r} in {GRADING_TESTS_DIR}")
    return Item(item_id, title, float(points), tuple(tests), scoring, visibility, manual, bonus)


def _no_unknown_keys(mapping: dict, allowed: set, error) -> None:
    for key in mapping:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
            exc = error(key)
            if close:
                exc.args = (f"{exc.args[0]} (did you mean {close[0]!r}?)",)
            raise exc


def _string(value: Any, error) -> str:
    if not isinstance(value, str) or not value.strip():
        raise error(f"must be a non-empty string, got {value!r}")
    return value
