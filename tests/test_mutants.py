"""Every known mistake (grader/mutants.py), written into an otherwise correct submission, loses exactly the items
its function breaks, and part2.backward_reference names it. The submission is student_correct.py with its backward
replaced by the mutant's code (pasted in as source, as a student would have written it). The rubric leaves out the
items of Parts 3 and 4: their checks never call the student's backward (grad_check is handed the grader's own
backward functions), and they are a third of a grading's time."""
from __future__ import annotations

import pytest

from conftest import REPO, SUBMISSIONS, grade_file, mutate, rubric_of
from grader.mutants import MUTANTS

BASE = (SUBMISSIONS / "student_correct.py").read_text()
MUTANTS_SOURCE = (REPO / "grader" / "mutants.py").read_text().replace("from __future__ import annotations\n", "")
BACKWARD = ("backward_reference", "backward_fd")

#: kind -> (items lost, cause named by part2.backward_reference or None when that item is kept).
EXPECTED = {
    "missing_1_over_N": ({*BACKWARD, "dX"}, "missing_1_over_N"),
    "double_1_over_N": ({*BACKWARD, "dX"}, "double_1_over_N"),
    "sum_instead_of_mean": (set(BACKWARD), "sum_instead_of_mean"),
    "relu_mask_wrong_tensor": ({*BACKWARD, "dX"}, "relu_mask_wrong_tensor"),
    "no_relu_mask": ({*BACKWARD, "dX"}, "no_relu_mask"),
    "dW2_from_z1": (set(BACKWARD), "dW2_from_z1"),
    "relu_mask_from_dh1": ({*BACKWARD, "dX"}, "relu_mask_from_dh1"),
    "bias_wrong_axis": (set(BACKWARD), "wrong_shape"),
    "bias_averaged": (set(BACKWARD), "bias_averaged"),
    "transposed_dW1": ({*BACKWARD, "regularization"}, "transposed"),
    "transposed_dW2_square": ({*BACKWARD, "regularization"}, "transposed"),
    "reg_missing_in_grad": ({"regularization"}, None),
    "reg_full_in_grad": ({"regularization"}, None),
    "unstable_softmax": ({"stability"}, None),
    "missing_minus_one": ({*BACKWARD, "dX"}, "missing_minus_one"),
    # Charged to the items that judge backward itself; the other items call it on copies. (Its dX is computed
    # after the edit, with the changed W1, so it is really wrong.)
    "edits_inputs": ({*BACKWARD, "dX"}, "modifies_input"),
}
#: Extra words the feedback of an item must contain, per kind.
WORDS = {
    "missing_1_over_N": {"part2.backward_fd": "the 1/N of the mean is missing"},
    "sum_instead_of_mean": {"part2.backward_fd": "the loss sums over the batch"},
    "reg_missing_in_grad": {"part2.regularization": "reg·W is missing from dW"},
    "reg_full_in_grad": {"part2.regularization": "twice reg·W"},
    "unstable_softmax": {"part2.stability": "maximum"},
    "edits_inputs": {"part2.backward_fd": "modified its input `params['W1']` in place"},
    "transposed_dW1": {"part2.backward_reference": "transposed?"},
    "bias_wrong_axis": {"part2.backward_reference": "grads['b1'] returned by `backward` has shape (1,), expected (6,) "
                                                    "= (H,): sum over axis 0 (the batch): a bias gradient has one "
                                                    "entry per unit, like its bias."},
}


def test_every_mutant_kind_is_covered():
    assert set(EXPECTED) == set(MUTANTS) and len(MUTANTS) >= 12


def submission_from_mutant(kind: str) -> str:
    source = (BASE + "\n\n# ---- the backward pass, with one mistake ----\n" + MUTANTS_SOURCE
              + f"\nbackward = mutant({kind!r})\n")
    if kind == "unstable_softmax":  # the same student writes softmax_cross_entropy without the shift too
        source = mutate(source, ("    shifted = scores - scores.max(axis=1, keepdims=True)", "    shifted = scores"))
    return source


@pytest.mark.parametrize("kind", [pytest.param(k, marks=pytest.mark.xdist_group(f"mutant-{k}")) for k in MUTANTS])
def test_mutant_loses_exactly_its_items(tmp_path, kind):
    path = tmp_path / "backprop.py"
    path.write_text(submission_from_mutant(kind))
    rubric = rubric_of(tmp_path, lambda item: not item.startswith(("part3.", "part4.")))
    report = grade_file(path, tmp_path / "report.json", "--rubric", str(rubric))["report"]
    items = {item["id"]: item for item in report["items"]}
    assert "part2.backward_fd" in items and "part3.grad_check" not in items
    lost = {i for i, item in items.items() if item["status"] != "manual" and item["score"] < item["max_score"]
            and i != "bonus.deep"}  # not attempted by student_correct.py
    expected_lost, cause = EXPECTED[kind]
    expected_lost = {("bonus." if name == "dX" else "part2.") + name for name in expected_lost}
    assert lost == expected_lost, {i: items[i]["feedback"] for i in lost ^ expected_lost}
    if cause:
        assert items["part2.backward_reference"].get("cause") == cause, items["part2.backward_reference"]
    for item_id, words in WORDS.get(kind, {}).items():
        assert words in items[item_id]["feedback"], items[item_id]


def test_reference_loses_nothing_and_mutants_are_not_shipped_to_the_template():
    assert "mutant" not in (REPO / "student_template" / "backprop.py").read_text()


def test_a_bias_gradient_of_the_wrong_shape_is_told_which_axis_to_sum():
    """db1 = dz1.sum(axis=1) gives (N,), with keepdims=True (1, H): the shape error says why, for biases only."""
    import numpy as np

    from grader.outputs import gradient_dict
    from grader.results import StudentCodeError
    shapes, labels = {"W1": (4, 6), "b1": (6,)}, {"W1": "(D, H)", "b1": "(H,)"}
    messages = {}
    for name, b1 in (("wrong axis", np.zeros(7)), ("keepdims", np.zeros((1, 6)))):
        with pytest.raises(StudentCodeError) as error:
            gradient_dict({"W1": np.zeros((4, 6)), "b1": b1}, "`backward`", shapes, labels)
        messages[name] = str(error.value)
    assert messages == {
        "wrong axis": "grads['b1'] returned by `backward` has shape (7,), expected (6,) = (H,): sum over axis 0 (the "
                      "batch): a bias gradient has one entry per unit, like its bias.",
        "keepdims": "grads['b1'] returned by `backward` has shape (1, 6), expected (6,) = (H,): a bias gradient is "
                    "1-D, like its bias: sum over axis 0 (the batch) without keepdims=True."}
    with pytest.raises(StudentCodeError, match=r"has shape \(4, 5\), expected \(4, 6\) = \(D, H\)\.$"):
        gradient_dict({"W1": np.zeros((4, 5)), "b1": np.zeros(6)}, "`backward`", shapes, labels)  # a weight: no hint
