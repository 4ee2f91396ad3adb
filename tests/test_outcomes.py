"""End to end through the CLI: each submission loses exactly the items its mistake breaks, with feedback that names
the mistake. Buggy submissions are the typical correct one (submissions/student_correct.py) with one bug written in,
shown as the (old, new) lines replaced, so each row of the table reads as a diff.
"""
from __future__ import annotations

import ast

import pytest

from conftest import REPO, SUBMISSIONS, grade_file, mutate, rubric_of
from grader.report import ItemResult, Report, format_table

AUTOGRADED = ["part1.shapes", "part2.forward", "part2.loss", "part2.stability", "part2.backward_reference",
              "part2.backward_fd", "part2.regularization", "part2.vectorized", "part3.numerical_gradient",
              "part3.perturbation", "part3.rel_error", "part3.grad_check", "part4.diagnose", "bonus.dX"]
MANUAL = ["part1.derivation", "part4.writeup"]
OTHER = ["bonus.deep"]  # judged in test_bonus_deep.py: student_correct.py does not attempt it

BASE = (SUBMISSIONS / "student_correct.py").read_text()
FORWARD_INLINE = ('    scores, cache = forward(X, params)    # (N, C)\n'
                  '    _, z1, h1 = cache                     # (N, H), (N, H)\n',
                  '    z1 = X @ W1 + params["b1"]            # (N, H): forward pass inlined in float64\n'
                  '    h1 = np.maximum(z1, 0.0)              # (N, H)\n'
                  '    scores = h1 @ W2 + params["b2"]       # (N, C)\n')

#: name -> (replacements on the base, or a file; items lost; {item: (cause, words the feedback must contain)}).
CASES = {
    "reference": (REPO / "reference" / "backprop.py", set(), {}),
    "template": (REPO / "student_template" / "backprop.py", set(AUTOGRADED),
                 {item: (None, "not implemented") for item in AUTOGRADED if item != "part3.grad_check"}),
    "student_correct": (SUBMISSIONS / "student_correct.py", set(), {}),
    "style_einsum": (SUBMISSIONS / "style_einsum.py", set(), {}),
    "style_eye": (SUBMISSIONS / "style_eye.py", set(), {}),
    "style_logsumexp": (SUBMISSIONS / "style_logsumexp.py", set(), {}),
    "missing_1_over_N": (
        [("    dscores /= N\n", "")],
        {"part2.loss", "part2.backward_reference", "part2.backward_fd", "bonus.dX"},
        {"part2.loss": ("missing_1_over_N", "1/N of the mean is missing"),
         "part2.backward_reference": ("missing_1_over_N", "with N=1 your gradients match; with N=7 every gradient is "
                                                          "7× too large: the 1/N of the mean is missing"),
         "part2.backward_fd": ("missing_1_over_N", "6× too large"),
         "bonus.dX": ("dX_wrong", "dX inherits their error through dz1")}),
    "sample_mask_and_1_over_N": (  # examples/backprop.py's two bugs: each backward item names both
        [("    dscores /= N\n", ""), ("    dz1 = dh1 * (z1 > 0)\n", "    dz1 = dh1 * (dh1 > 0)\n")],
        {"part2.loss", "part2.backward_reference", "part2.backward_fd", "bonus.dX"},
        {"part2.loss": ("missing_1_over_N", "1/N of the mean is missing"),
         "part2.backward_reference": ("relu_mask", "the ReLU mask is wrong"),
         "part2.backward_fd": ("relu_mask", "the ReLU mask is wrong")}),
    "no_max_shift": (
        [("    shifted = scores - scores.max(axis=1, keepdims=True)", "    shifted = scores")],
        {"part2.stability"},
        {"part2.stability": ("unstable_softmax", "maximum")}),
    "missing_minus_one_in_softmax": (  # stable (the row max is subtracted): the formula is part2.loss's to charge
        [("    dscores[range(N), y] -= 1                                        # (N, C)\n", "")],
        {"part2.loss", "part2.backward_reference", "part2.backward_fd", "bonus.dX"},
        {"part2.loss": ("missing_minus_one", "dscores lacks the -1 at the true class")}),
    "log_of_probability_plus_eps": (  # the row max subtracted, and a harmless epsilon in the log: nothing lost
        [("    loss = -np.mean(shifted[range(N), y] - np.log(sum_exp[:, 0]))   # scalar\n",
          "    loss = -np.mean(np.log(probs[range(N), y] + 1e-12))\n")],
        set(), {}),
    "max_margin_loss": (  # shift-invariant and 0 where the true class towers: stable, but not a softmax
        [("    loss = -np.mean(shifted[range(N), y] - np.log(sum_exp[:, 0]))   # scalar\n",
          "    loss = -np.mean(shifted[range(N), y])\n"),
         ("    dscores = probs.copy()                                           # (N, C)\n",
          "    dscores = np.zeros_like(scores)\n    dscores[range(N), scores.argmax(axis=1)] += 1\n")],
        {"part2.loss", "part2.stability", "part2.backward_reference", "bonus.dX"},  # backward_fd: self-consistent
        {"part2.stability": ("not_softmax", "your loss is not a softmax cross-entropy")}),
    "relu_mask_from_upstream": (
        [("    dz1 = dh1 * (z1 > 0)\n", "    dz1 = dh1 * (dh1 > 0)\n")],
        {"part2.backward_reference", "part2.backward_fd", "bonus.dX"},
        {"part2.backward_reference": ("relu_mask_from_dh1", "exactly those of a backward pass with the ReLU mask "
                                                            "built from the upstream gradient dh1"),
         "part2.backward_fd": ("relu_mask", "ReLU mask")}),
    "no_relu_mask": (
        [("    dz1 = dh1 * (z1 > 0)\n", "    dz1 = dh1\n")],
        {"part2.backward_reference", "part2.backward_fd", "bonus.dX"},
        {"part2.backward_reference": ("no_relu_mask", "ReLU is off"), "part2.backward_fd": ("relu_mask", "z1 <= 0")}),
    "float32_forward": (
        [FORWARD_INLINE, ("    scores = h1 @ W2 + b2                # (N, C)\n",
                          "    scores = (h1 @ W2 + b2).astype(np.float32)\n")],
        {"part2.forward"},
        {"part2.forward": ("float32", "float32: the exercise requires float64")}),
    "syntax_error": (
        [("def forward(X, params):", "def forward(X, params)")],
        set(AUTOGRADED),
        {item: ("import_failed", "SyntaxError at line") for item in AUTOGRADED if item != "part3.grad_check"}),
    "bias_averaged": (
        [("    db1 = dz1.sum(axis=0)\n", "    db1 = dz1.mean(axis=0)\n")],
        {"part2.backward_reference", "part2.backward_fd"},
        {"part2.backward_reference": ("bias_averaged", "a bias gradient is a sum over the batch"),
         "part2.backward_fd": ("bias_averaged", "6× too small")}),
    "reg_missing_in_dW1": (
        [("    dW1 = dW1 + reg * W1                  # (D, H)\n", "")],
        {"part2.regularization"},
        {"part2.regularization": ("reg_missing_in_grad", "reg·W is missing from dW1")}),
    "in_place_shift": (
        [("    shifted = scores - scores.max(axis=1, keepdims=True)",
          "    scores -= scores.max(axis=1, keepdims=True)\n    shifted = scores")],
        {"part2.loss"},
        {"part2.loss": ("modifies_input", "`softmax_cross_entropy` modified its input `scores` in place")}),
    "loss_of_shape_1": (  # charged to part2.loss only: elsewhere a size-1 loss is read as a number
        [("    return loss, dscores\n", "    return np.array([loss]), dscores\n"),
         ("    loss, dscores = softmax_cross_entropy(scores, y)                 # scalar, (N, C)\n",
          "    loss, dscores = softmax_cross_entropy(scores, y)\n    loss = loss[0]\n")],
        {"part2.loss"},
        {"part2.loss": ("bad_output", "got an array of shape (1,) (use float(...) or .item())")}),
    "X_cast_to_float32_inside": (
        [("    z1 = X @ W1 + b1                     # (N, H)\n", "    z1 = X.astype(np.float32) @ W1 + b1\n")],
        {"part2.forward", "part2.backward_reference", "bonus.dX"},
        {"bonus.dX": ("float32_precision", "float32 rounding"),
         "part2.forward": ("float32_precision", "float32 rounding, not a formula error"),
         "part2.backward_reference": ("float32_precision", "float32 rounding")}),
    "reg_missing_in_both": (
        [("    dW1 = dW1 + reg * W1                  # (D, H)\n", ""),
         ("    dW2 = dW2 + reg * W2                  # (H, C)\n", "")],
        {"part2.regularization"},
        {"part2.regularization": ("reg_missing_in_grad", "grads['W1'] and grads['W2'] change by nothing: reg·W is "
                                                         "missing from dW1 and dW2")}),
    "memoizing_backward": (  # answers remembered per shape: right the first time, stale afterwards
        [("# ---------------------------------------------------------------- Part 3\n",
          "_memo, _backward = {}, backward\n\n\ndef backward(X, y, params, reg=0.0):\n"
          "    key = (X.shape, params['W2'].shape, reg)\n"
          "    if key not in _memo:\n        _memo[key] = _backward(X, y, params, reg)\n"
          "    return _memo[key]\n\n\n# ---------------------------------------------------------------- Part 3\n")],
        {"part2.backward_reference", "part2.backward_fd", "part2.regularization", "part2.vectorized", "bonus.dX"},
        {"part2.backward_fd": ("constant_loss", "does not change when any parameter changes"),
         "part2.vectorized": ("wrong_when_measured", "returned something else when the grader measured it")}),
    "row_mean_shift": (
        [("    shifted = scores - scores.max(axis=1, keepdims=True)",
          "    shifted = scores - scores.mean(axis=1, keepdims=True)")],
        {"part2.stability"},
        {"part2.stability": ("unstable_softmax", "a row mean is not enough")}),
    "no_relu_in_forward": (
        [("    h1 = np.maximum(z1, 0.0)             # (N, H)\n", "    h1 = z1\n")],
        {"part2.forward", "part2.backward_reference", "part2.backward_fd", "bonus.dX"},
        {"part2.forward": ("no_relu", "as if there were no ReLU"),
         "part2.backward_fd": ("no_relu_in_forward", "does not apply the ReLU")}),
    "full_reg_convention_consistently": (
        [("    dW1 = dW1 + reg * W1                  # (D, H)\n", "    dW1 = dW1 + 2 * reg * W1\n"),
         ("    dW2 = dW2 + reg * W2                  # (H, C)\n", "    dW2 = dW2 + 2 * reg * W2\n"),
         ("    loss = loss + 0.5 * reg * (np.sum(W1 * W1) + np.sum(W2 * W2))   # scalar\n",
          "    loss = loss + reg * (np.sum(W1 * W1) + np.sum(W2 * W2))\n")],
        {"part2.regularization"},
        {"part2.regularization": ("reg_convention", "consistently use the reg·ΣW² (gradient 2·reg·W) convention")}),
    "keyboard_interrupt_in_diagnose": (  # a BaseException from student code is caught like any other
        [('    names = ("W1", "b1", "W2", "b2")\n', '    raise KeyboardInterrupt\n')],
        {"part4.diagnose"},
        {"part4.diagnose": (None, "raised KeyboardInterrupt")}),
    "reg_doubled_in_dW2": (
        [("    dW2 = dW2 + reg * W2                  # (H, C)\n", "    dW2 = dW2 + 2 * reg * W2\n")],
        {"part2.regularization"},
        {"part2.regularization": ("reg_doubled_in_grad", "twice reg·W")}),
    "reaches_into_interpreter": (  # correct, but what is measured in its process is not trusted (grader.introspection)
        [("import numpy as np\n", "import inspect  # for debugging\nimport numpy as np\n")],
        {"part2.vectorized", "part2.backward_reference", "part2.backward_fd"},
        {item: ("reaches_into_interpreter", "backprop.py line 2: `import inspect` reaches into the interpreter")
         for item in ("part2.vectorized", "part2.backward_reference", "part2.backward_fd")}),
    # Correct code returning subclasses of the data types (the worker sends them as the plain types): no loss.
    "grads_ordereddict": (
        [('    grads = {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "X": dX}\n',
          '    from collections import OrderedDict\n'
          '    grads = OrderedDict([("W1", dW1), ("b1", db1), ("W2", dW2), ("b2", db2), ("X", dX)])\n')],
        set(), {}),
    "grad_check_ordereddict": (
        [("    return errors\n", "    from collections import OrderedDict\n    return OrderedDict(errors)\n")],
        set(), {}),
    "diagnose_np_str": (
        [("def diagnose(analytic, numeric):\n", "def _diagnose(analytic, numeric):\n"),
         ('    return "other"\n', '    return "other"\n\n\n'
                                  'LABELS = np.array(["shape", "nan", "ok", "scale", "layer1", "layer2",\n'
                                  '                   "other"])\n\n\n'
                                  'def diagnose(analytic, numeric):\n'
                                  '    return LABELS[list(LABELS).index(_diagnose(analytic, numeric))]\n')],
        set(), {}),
    "diagnose_str_enum": (
        [("def diagnose(analytic, numeric):\n", "def _diagnose(analytic, numeric):\n"),
         ('    return "other"\n', '    return "other"\n\n\n'
                                  'import enum  # noqa: E402\n\n\n'
                                  'class Label(str, enum.Enum):\n'
                                  '    SHAPE = "shape"; NAN = "nan"; OK = "ok"; SCALE = "scale"; LAYER1 = "layer1"\n'
                                  '    LAYER2 = "layer2"; OTHER = "other"\n\n\n'
                                  'def diagnose(analytic, numeric):\n'
                                  '    return Label(_diagnose(analytic, numeric))\n')],
        set(), {}),
}
#: Correct submissions: every item's full score (the reference also attempts bonus.deep).
CORRECT_CASES = ("reference", "student_correct", "style_einsum", "style_eye", "style_logsumexp", "grads_ordereddict",
                 "grad_check_ordereddict", "diagnose_np_str", "diagnose_str_enum")
#: The functions of Parts 1 and 2, which the checks of Parts 3 and 4 never call (the last test below shows it).
PARTS_1_2 = ("shapes", "forward", "softmax_cross_entropy", "backward")
PARTS_3_4 = ("part3.", "part4.")


def _rest(source: str) -> str:
    """The source without the functions of Parts 1 and 2, as an AST dump ("" when it does not parse)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ""
    tree.body = [node for node in tree.body if not (isinstance(node, ast.FunctionDef) and node.name in PARTS_1_2)]
    return ast.dump(tree)


#: Buggy cases that change nothing but the functions of Parts 1 and 2, and lose nothing of Parts 3 and 4: graded
#: without the items of Parts 3 and 4 (a third of a grading's time; they would grade exactly as the base's).
PARTS_1_2_ONLY = {name for name, (spec, lost, _) in CASES.items()
                  if isinstance(spec, list) and name not in CORRECT_CASES
                  and not any(item.startswith(PARTS_3_4) for item in lost)
                  and _rest(mutate(BASE, *spec)) == _rest(BASE) != ""}


def expected_items(name: str) -> set:
    every = set(AUTOGRADED) | set(MANUAL) | set(OTHER)
    return {item for item in every if not item.startswith(PARTS_3_4)} if name in PARTS_1_2_ONLY else every


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    """graded[name]: the CLI's result for case `name`, graded once per test process on first use (so pytest-xdist
    spreads the gradings over its workers)."""
    folder = tmp_path_factory.mktemp("outcomes")

    class Cache(dict):
        def __missing__(self, name):
            spec = CASES[name][0]
            path = spec
            if isinstance(spec, list):
                path = folder / name / "backprop.py"
                path.parent.mkdir()
                path.write_text(mutate(BASE, *spec))
            rubric = []
            if name in PARTS_1_2_ONLY:
                (folder / f"{name}-rubric").mkdir()
                rubric = ["--rubric", str(rubric_of(folder / f"{name}-rubric",
                                                    lambda item: not item.startswith(PARTS_3_4)))]
            self[name] = grade_file(path, folder / f"{name}.report.json", *rubric)
            return self[name]
    return Cache()


def on_one_worker(*names):
    """Each case's tests run in the test process that graded it (pytest-xdist --dist loadgroup)."""
    return [pytest.param(name, marks=pytest.mark.xdist_group(name)) for name in names]


@pytest.mark.parametrize("name", on_one_worker(*CASES))
def test_exact_items_lost_and_feedback(graded, name):
    _, lost, feedback = CASES[name]
    result = graded[name]
    assert result["code"] == 0, result["stderr"]
    report = result["report"]
    items = {item["id"]: item for item in report["items"]}
    assert set(items) == expected_items(name)
    autograded = [i for i in AUTOGRADED if i in items]
    actually_lost = {i for i in autograded if items[i]["score"] < items[i]["max_score"]}
    assert actually_lost == lost, {i: items[i]["feedback"] for i in actually_lost ^ lost}
    for item_id in autograded:
        item = items[item_id]
        assert item["status"] == ("passed" if item_id not in lost else item["status"])
        if item_id in lost:
            assert item["status"] in ("failed", "partial") and item["feedback"], item
    for item_id, (cause, words) in feedback.items():
        assert words in items[item_id]["feedback"], items[item_id]
        if cause:
            assert items[item_id].get("cause") == cause, items[item_id]
    for item_id in MANUAL:
        if item_id in items:
            assert items[item_id]["status"] == "manual" and items[item_id]["score"] == 0
    assert report["max_score"] == (100 if name not in PARTS_1_2_ONLY else 64)  # 36 points in Parts 3 and 4
    assert report["score"] == pytest.approx(sum(items[i]["score"] for i in autograded + OTHER))
    assert isinstance(report["seed"], int)


@pytest.mark.parametrize("name", on_one_worker(*CORRECT_CASES))
def test_correct_submissions_earn_every_point_and_the_bonus(graded, name):
    report = graded[name]["report"]
    total = 110 if name == "reference" else 105  # only the reference attempts bonus.deep
    assert report["score"] == total and report["max_score"] == 100
    assert f"Total: {total} / 100" in graded[name]["stdout"]


@pytest.mark.xdist_group("template")
def test_template_says_not_implemented_for_every_item(graded):
    report = graded["template"]["report"]
    assert report["score"] == 0
    grad_check = next(i for i in report["items"] if i["id"] == "part3.grad_check")
    assert "GRAD_CHECK_TOL is None" in grad_check["feedback"] and "not implemented" in grad_check["feedback"]


@pytest.mark.xdist_group("syntax_error")
def test_syntax_error_feedback_quotes_the_line(graded):
    items = {i["id"]: i for i in graded["syntax_error"]["report"]["items"]}
    assert "`def forward(X, params)`" in items["part2.forward"]["feedback"]
    assert "backprop.py does not compile" in items["part2.forward"]["feedback"]
    writeup = graded["syntax_error"]["report"]["writeup"]  # the docstring above the error is kept for the human grader
    assert writeup["source"] == "the docstring of backprop.py" and writeup["text"].startswith("Backprop exercise:")


def test_manual_items_are_never_shown_as_zero():
    """A manual item's feedback cut in the table is given in full below it, still as "-/10 manual", never as 0/10."""
    report = Report(score=8, max_score=8, seed=1, items=[
        ItemResult("part1.shapes", "Shapes", 8, 8, "passed", ""),
        ItemResult("part1.derivation", "Derivation", 0, 10, "manual", "graded by hand, from " + "x" * 200)])
    table = format_table(report, width=80)
    assert "- part1.derivation (-/10 manual):" in table and "0/10" not in table


def test_one_message_shared_by_several_items_is_given_in_full_once():
    """A syntax error fails every item with the same message: "In full" shows it once and names the other items
    (the JSON report and results.json keep each item's own feedback)."""
    error = "backprop.py does not compile: SyntaxError at line 1: expected ':' in `def forward(X, params)`"
    other = "with N=8 dscores is 8× too large: the 1/N of the mean is missing (your loss value is right)"
    report = Report(score=0, max_score=24, seed=1, items=[
        ItemResult("part1.shapes", "Shapes", 0, 8, "failed", error, "import_failed"),
        ItemResult("part2.loss", "Loss", 0, 8, "failed", other, "missing_1_over_N"),
        ItemResult("part2.forward", "Forward", 0, 8, "failed", error, "import_failed"),
        ItemResult("bonus.dX", "dX", 0, 5, "failed", error, "import_failed")])
    assert format_table(report, width=100).split("In full:\n")[1] == (
        f"- part1.shapes (0/8):\n  {error}\n  (the same for part2.forward, bonus.dX)\n"
        f"- part2.loss (0/8):\n  {other}")


@pytest.mark.xdist_group("missing_1_over_N")
def test_a_known_mistake_is_introduced_once(graded):
    """"your gradients differ from the reference's" once, then the known mistake, then its detail."""
    items = {i["id"]: i for i in graded["missing_1_over_N"]["report"]["items"]}
    feedback = items["part2.backward_reference"]["feedback"]
    assert feedback.count("your gradients differ from the reference's") == 1
    assert "(at N=1 and N=7). In detail, with N=1 your gradients match; with N=7 every gradient is 7× too large" \
        in feedback


@pytest.mark.xdist_group("sample_mask_and_1_over_N")
def test_both_mistakes_of_the_sample_are_named(graded):
    """The ReLU mask shows alone at N=1, the missing 1/N only on the larger probe: both are named."""
    items = {i["id"]: i for i in graded["sample_mask_and_1_over_N"]["report"]["items"]}
    for item_id, N in (("part2.backward_reference", 7), ("part2.backward_fd", 6)):
        assert items[item_id]["feedback"].endswith(
            f"entries are off). A second mistake: with N={N} layer 2's gradients (W2, b2), which the first does not "
            f"reach, are {N}× too large: the 1/N of the mean is missing."), items[item_id]["feedback"]


@pytest.mark.xdist_group("missing_1_over_N")
def test_table_lists_every_item_with_points_and_status(graded):
    stdout = graded["missing_1_over_N"]["stdout"]
    assert "part2.loss" in stdout and "0/8" in stdout and "failed" in stdout
    assert "part1.derivation" in stdout and "manual" in stdout
    assert "Total: 34 / 64" in stdout  # graded without Parts 3 and 4 (PARTS_1_2_ONLY): 64 points, 30 lost


def test_parts_3_and_4_never_call_the_functions_of_parts_1_and_2(tmp_path):
    """What lets the cases that change only those functions be graded without Parts 3 and 4 (PARTS_1_2_ONLY): with
    each of them raising, every item of Parts 3 and 4 still earns full marks, and every item of Parts 1 and 2 none."""
    raising = "".join(f"\n\ndef {name}(*args, **kwargs):\n    raise RuntimeError('{name} was called')\n"
                      for name in PARTS_1_2)
    path = tmp_path / "backprop.py"
    path.write_text(BASE + raising)
    report = grade_file(path, tmp_path / "report.json")["report"]
    scores = {item["id"]: (item["score"], item["max_score"]) for item in report["items"] if item["status"] != "manual"}
    assert all(scores[i][0] == scores[i][1] > 0 for i in scores if i.startswith(PARTS_3_4)), scores
    assert all(scores[i][0] == 0 for i in scores if i.startswith(("part1.", "part2."))), scores
    assert len(PARTS_1_2_ONLY) > 15
