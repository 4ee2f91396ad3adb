"""Class-based submissions in the CS231n style, graded with rubrics/cs231n_two_layer.yaml (and its documented
options) and rubrics/cs231n_fc_net.yaml, item by item. matplotlib and `past` (the `future` package) are hidden from
the grading process, as in a clean grading environment, even where they are installed."""
from __future__ import annotations

import pytest
import yaml

from conftest import REPO, SUBMISSIONS, grade_file

CS231N = SUBMISSIONS / "cs231n"
TWO_LAYER = REPO / "rubrics" / "cs231n_two_layer.yaml"
FC_NET = REPO / "rubrics" / "cs231n_fc_net.yaml"
ITEMS = ["part2.forward", "part2.loss", "part2.stability", "part2.backward_reference", "part2.backward_fd",
         "part2.regularization", "part2.vectorized"]
CLEAN = {"BACKPROP_GRADER_HIDE_MODULES": "matplotlib,past,future"}
ALL = set(ITEMS)

#: name -> (submission, rubric changes, items lost, {item: (cause, words in the feedback)}).
CASES = {
    "correct, reg·ΣW² convention": ("neural_net_full.py", {}, set(), {}),
    "correct, 0.5·reg·ΣW² convention": ("neural_net_half.py", {"reg_convention": "half"}, set(), {}),
    "correct, weights as attributes": ("neural_net_attributes.py", {"weights": "attributes"}, set(), {}),
    "correct, fc_net with its helper package": ("fc_net", FC_NET, set(), {}),
    "correct, with matplotlib and past.builtins imports": ("neural_net_with_imports.py", {}, set(), {}),
    "0.5·reg file under the reg·ΣW² rubric": (
        "neural_net_half.py", {}, {"part2.regularization"},
        {"part2.regularization": ("reg_convention", "consistently use the 0.5·reg·ΣW² (gradient reg·W) convention")}),
    "attributes file without the option": (
        "neural_net_attributes.py", {}, ALL,
        {"part2.forward": ("missing", "the rubric needs `weights: attributes`")}),
    "missing 1/N": (
        "neural_net_missing_1_over_N.py", {}, {"part2.loss", "part2.backward_reference", "part2.backward_fd"},
        {"part2.loss": ("missing_1_over_N", "the 1/N of the mean is missing"),
         "part2.backward_reference": ("missing_1_over_N", "dscores without the 1/N")}),
    "ReLU mask from the upstream gradient": (
        "neural_net_relu_mask_bug.py", {}, {"part2.backward_reference", "part2.backward_fd"},
        {"part2.backward_reference": ("relu_mask_from_dh1", "the ReLU mask built from the upstream gradient dh1")}),
    "loop over the examples": (
        "neural_net_loop.py", {}, {"part2.vectorized"},
        {"part2.vectorized": ("loops_over_batch", "`TwoLayerNet.loss` loops over the examples")}),
    "Python 2 print statements": (
        "neural_net_py2.py", {}, ALL,
        {item: ("python2", "is Python 2 code (neural_net_py2.py line 62: `print") for item in ITEMS}),
}


def rubric_for(changes, tmp_path):
    if not isinstance(changes, dict):
        return changes
    data = yaml.safe_load(TWO_LAYER.read_text())
    for key, value in changes.items():
        (data["class_api"] if key == "weights" else data)[key] = value
    path = tmp_path / "rubric.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.mark.parametrize("name", CASES)
def test_class_based_submission(tmp_path, name):
    submission, changes, lost, feedback = CASES[name]
    result = grade_file(CS231N / submission, tmp_path / "report.json", "--rubric", str(rubric_for(changes, tmp_path)),
                        env=CLEAN)
    assert result["code"] == 0, result["stderr"]
    items = {item["id"]: item for item in result["report"]["items"]}
    assert list(items) == ITEMS  # only the items the class API has functions for
    actually_lost = {i for i, item in items.items() if item["score"] < item["max_score"]}
    assert actually_lost == lost, {i: items[i]["feedback"] for i in actually_lost ^ lost}
    for item_id, (cause, words) in feedback.items():
        assert items[item_id].get("cause") == cause, items[item_id]
        assert words in items[item_id]["feedback"], items[item_id]
    if not lost:
        assert result["report"]["score"] == 100


def test_a_missing_import_is_named_with_its_line(tmp_path):
    source = (CS231N / "neural_net_full.py").read_text()
    path = tmp_path / "neural_net.py"
    path.write_text("import numpy as np\nimport seaborn_plots_helper\n" + source)
    report = grade_file(path, tmp_path / "r.json", "--rubric", str(TWO_LAYER), env=CLEAN)["report"]
    forward = next(i for i in report["items"] if i["id"] == "part2.forward")
    assert forward["cause"] == "missing_module"
    assert "imports `seaborn_plots_helper`, which is not installed" in forward["feedback"]
    assert "line 2: `import seaborn_plots_helper`" in forward["feedback"]


def test_hidden_modules_really_are_missing_without_stand_ins(tmp_path):
    """The same file with the default rubric (no stand-ins) fails on matplotlib: the hiding is real."""
    report = grade_file(CS231N / "neural_net_with_imports.py", tmp_path / "r.json", env=CLEAN)["report"]
    shapes = next(i for i in report["items"] if i["id"] == "part1.shapes")
    assert shapes["cause"] == "missing_module" and "`matplotlib" in shapes["feedback"]


def test_bundled_rubric_by_name_and_plotting_leftovers(tmp_path):
    """`--rubric cs231n_two_layer` finds the bundled rubric; notebook-style plotting set-up at import, past.utils and
    future.standard_library all work with the stand-ins."""
    path = tmp_path / "neural_net.py"
    path.write_text("import matplotlib.pyplot as plt\nfrom past.utils import old_div\n"
                    "from future import standard_library\nstandard_library.install_aliases()\n"
                    "plt.rcParams['figure.figsize'] = (10.0, 8.0)\nfig, (ax1, ax2) = plt.subplots(1, 2)\n"
                    "assert old_div(7, 2) == 3 and old_div(7.0, 2) == 3.5\n"
                    + (CS231N / "neural_net_full.py").read_text())
    report = grade_file(path, tmp_path / "r.json", "--rubric", "cs231n_two_layer", env=CLEAN)["report"]
    assert report["score"] == 100, [i["feedback"] for i in report["items"] if i["status"] != "passed"]


def test_python2_diagnosis_is_precise(submission_from):
    """Python 2 syntax is named with its file and line; a Python 3 error with a backtick in a comment is not."""
    py2 = submission_from("import numpy as np\n\ndef f(x):\n    raise ValueError, 'no'\n")
    assert py2.load_cause == "python2" and "backprop.py line 4: `raise ValueError, 'no'`" in py2.load_error
    py3 = submission_from("def f(x):\n    return x +  # see `g`\n")
    assert py3.load_cause == "import_failed" and "does not compile" in py3.load_error


def test_weights_aliased_between_params_and_attributes(tmp_path):
    """self.params holds the same arrays as self.W1, ...: the grader writes its weights into them, so a loss that
    reads the attributes sees them too."""
    path = tmp_path / "neural_net.py"
    path.write_text((CS231N / "neural_net_attributes.py").read_text() + "\n\n_Base = TwoLayerNet\n\n\n"
                    "class TwoLayerNet(_Base):\n    def __init__(self, *args, **kwargs):\n"
                    "        _Base.__init__(self, *args, **kwargs)\n"
                    "        self.params = {'W1': self.W1, 'b1': self.b1, 'W2': self.W2, 'b2': self.b2}\n")
    report = grade_file(path, tmp_path / "r.json", "--rubric", str(TWO_LAYER), env=CLEAN)["report"]
    assert report["score"] == 100, [i["feedback"] for i in report["items"] if i["status"] != "passed"]
