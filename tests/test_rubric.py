"""The rubric schema is strict: every malformed rubric gets one error naming the file, the item and the field,
and the CLI refuses it with exit code 2 before anything runs."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from conftest import REPO, run_cli
from grader import scoring
from grader.kit import KIT_TESTS, SAMPLE_ITEM
from grader.rubric import Item, RubricError, available_tests, default_rubric_path, load_rubric

DEFAULT = yaml.safe_load((REPO / "rubrics" / "backprop.yaml").read_text())


def write(tmp_path: Path, data) -> Path:
    path = tmp_path / "rubric.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False) if not isinstance(data, str) else data)
    return path


def edited(change) -> dict:
    data = yaml.safe_load((REPO / "rubrics" / "backprop.yaml").read_text())
    change(data)
    return data


def item(data, item_id):
    return next(i for i in data["items"] if i["id"] == item_id)


def test_default_rubric_is_valid_and_totals_100():
    rubric = load_rubric(default_rubric_path())
    autograded = [i for i in rubric.items if not i.manual and not i.bonus]
    assert sum(i.points for i in autograded) == 100
    assert [i.id for i in rubric.items if i.manual] == ["part1.derivation", "part4.writeup"]
    assert [i.id for i in rubric.items if i.bonus] == ["bonus.dX", "bonus.deep"]
    assert rubric.reg_factor == 0.5 and rubric.submission == "backprop.py"


def test_every_grading_test_is_used_by_the_default_rubric():
    used = {t for i in load_rubric(default_rubric_path()).items for t in i.tests}
    kit_only = set(KIT_TESTS.values()) | set(SAMPLE_ITEM["tests"])  # for the kit's rubric, without the reference
    assert used == available_tests() - kit_only


BAD = [
    ("misspelt item key", lambda d: item(d, "part2.loss").update(pionts=8),
     "item 'part2.loss': field 'pionts': unknown key", "did you mean 'points'?"),
    ("unknown top-level key", lambda d: d.update(time_limit={"test": 1}),
     "field 'time_limit': unknown key", "did you mean 'time_limits'?"),
    ("missing points", lambda d: item(d, "part2.forward").pop("points"),
     "item 'part2.forward': field 'points': missing", None),
    ("bad scoring", lambda d: item(d, "part2.stability").update(scoring="partial"),
     "item 'part2.stability': field 'scoring': must be one of all_or_nothing, fraction", None),
    ("bad visibility", lambda d: item(d, "part1.shapes").update(visibility="secret"),
     "item 'part1.shapes': field 'visibility': must be one of visible, hidden, after_due_date, after_published", None),
    ("unknown grading test", lambda d: item(d, "part2.loss").update(tests=["test_part2.py::test_nothing"]),
     "item 'part2.loss': field 'tests': no grading test 'test_part2.py::test_nothing'", None),
    ("test graded twice", lambda d: item(d, "part2.loss").update(tests=["test_part1.py::test_shapes"]),
     "item 'part2.loss': field 'tests': test_part1.py::test_shapes is already graded by item 'part1.shapes'", None),
    ("duplicate id", lambda d: item(d, "part2.loss").update(id="part2.forward"),
     "item 'part2.forward': field 'id': used by two items", None),
    ("negative points", lambda d: item(d, "part2.loss").update(points=-1),
     "item 'part2.loss': field 'points': must be a number >= 0", None),
    ("manual item with tests", lambda d: item(d, "part4.writeup").update(tests=["test_part4.py::test_diagnose"]),
     "item 'part4.writeup': field 'tests': a manual item has no tests", None),
    ("autograded item without tests", lambda d: item(d, "part2.loss").pop("tests"),
     "item 'part2.loss': field 'tests': missing", None),
    ("unknown entry-point role", lambda d: d.update(entry_points={"forwards": "fwd"}),
     "entry_points: field 'forwards': unknown role", None),
    ("bad reg convention", lambda d: d.update(reg_convention="double"),
     "field 'reg_convention': must be one of half, full", None),
    ("bad time limit", lambda d: d.update(time_limits={"test": 0}),
     "time_limits: field 'test': must be a positive number of seconds", None),
    ("infinite time limit", lambda d: d.update(time_limits={"total": float("inf")}),
     "time_limits: field 'total': must be a positive number of seconds", None),
    ("missing salt", lambda d: d.pop("salt"), "field 'salt': missing", None),
    ("not a .py submission", lambda d: d.update(submission="backprop.ipynb"),
     "field 'submission': must be a .py file name", None),
    ("class_api without method", lambda d: d.update(class_api={"name": "Net", "constructor": {}, "weights": "params",
                                                               "reg": "argument"}),
     "class_api: field 'method': missing", None),
    ("class_api constructor value", lambda d: d.update(class_api={"name": "Net", "constructor": {"n": "hidden"},
                                                                  "weights": "params", "method": "loss",
                                                                  "reg": "argument"}),
     "class_api: field 'constructor': must map keyword names to one of D, H, C, reg or a number", None),
    ("class_api reg in the constructor without a keyword", lambda d: d.update(
        class_api={"name": "Net", "constructor": {"d": "D"}, "weights": "params", "method": "loss",
                   "reg": "constructor"}),
     "class_api: field 'constructor': reg: constructor needs a keyword mapped to reg", None),
    ("unknown stand-in", lambda d: d.update(stand_ins=["seaborn"]),
     "field 'stand_ins': must be a list of modules from matplotlib, past, future", None),
]


@pytest.mark.parametrize("label, change, message, hint", BAD, ids=[b[0] for b in BAD])
def test_malformed_rubric_names_file_item_and_field(tmp_path, label, change, message, hint):
    path = write(tmp_path, edited(change))
    with pytest.raises(RubricError) as error:
        load_rubric(path)
    assert str(error.value).startswith(f"{path}: ")
    assert message in str(error.value)
    if hint:
        assert hint in str(error.value)


@pytest.mark.parametrize("name", ["cs231n_two_layer.yaml", "cs231n_fc_net.yaml"])
def test_cs231n_rubrics_are_valid(name):
    rubric = load_rubric(REPO / "rubrics" / name)
    assert rubric.class_api.name == "TwoLayerNet" and rubric.stand_ins == ("matplotlib", "past", "future")
    assert sum(i.points for i in rubric.items) == 100


def test_not_yaml_and_not_a_mapping(tmp_path):
    with pytest.raises(RubricError, match="not valid YAML"):
        load_rubric(write(tmp_path, "items: [unclosed"))
    with pytest.raises(RubricError, match="top level: the rubric must be a mapping"):
        load_rubric(write(tmp_path, "- just\n- a list\n"))
    with pytest.raises(RubricError, match="cannot read the rubric"):
        load_rubric(tmp_path / "missing.yaml")


def test_entry_points_and_limits_are_read(tmp_path):
    path = write(tmp_path, edited(lambda d: d.update(entry_points={"backward": "loss_and_grads"},
                                                     time_limits={"test": 3}, reg_convention="full")))
    rubric = load_rubric(path)
    assert rubric.entry_points["backward"] == "loss_and_grads"
    assert rubric.entry_points["forward"] == "forward"
    assert rubric.time_limits == {"import": 10.0, "call": 10.0, "test": 3.0, "total": 600.0}
    assert rubric.worker_limits == {"memory_mb": 2048, "output_kb": 64, "processes": 64}
    assert rubric.reg_factor == 1.0
    assert rubric.with_time_limits(test=1.5, total=None).time_limits["test"] == 1.5


def test_cli_rejects_a_malformed_rubric_before_running(tmp_path):
    path = write(tmp_path, edited(lambda d: item(d, "part2.loss").update(scoring="al_or_nothing")))
    result = run_cli("grade", str(REPO / "reference" / "backprop.py"), "--rubric", str(path),
                     "--json", str(tmp_path / "r.json"))
    assert result.returncode == 2
    assert f"{path}: item 'part2.loss': field 'scoring'" in result.stderr
    assert not (tmp_path / "r.json").exists()


def test_an_item_shows_its_feedback_and_what_was_printed_once():
    """Parametrized tests with the same failure give one feedback; output printed at import (charged to whichever
    test started a fresh worker) is shown once, not as a second, different feedback."""
    item = Item("bonus.deep", "Deep", 5, ("test_bonus.py::test_deep_backward",), scoring="fraction", bonus=True)
    test = item.tests[0]
    outcomes = [scoring.TestOutcome(test, 0.0, "not attempted.", "not_attempted", printed="loaded my backprop"),
                scoring.TestOutcome(test, 0.0, "not attempted.", "not_attempted"),
                scoring.TestOutcome(test, 0.0, "not attempted.", "not_attempted", printed="loaded my backprop")]
    result = scoring.score_item(item, outcomes)
    assert result.feedback == ("not attempted. [Your code printed during this item's tests: loaded my backprop]")
    passing = scoring.score_item(item, [scoring.TestOutcome(test, 1.0, "", printed="debug output")])
    assert "printed" not in passing.feedback and passing.status == "passed"
