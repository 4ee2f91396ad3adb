"""Parts 3 and 4 in process: each check run directly on small inline submissions, asserting the exact verdict.

Every variant below is a real way students write numerical_gradient, rel_error, grad_check or diagnose. The tests
state the exact fraction, the cause code and the words the feedback must carry, over several seeds, so a verdict
never depends on the grader's random inputs.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import SUBMISSIONS
from grader.checks import part3, part3_reference, part4, part4_reference
from grader.contract import DIAGNOSE_LABELS
from grader.results import CheckResult, StudentCodeError
from reference import backprop as reference

SEEDS = (0, 1, 2)
ASPECTS = ("one_at_a_time", "both_directions", "restores", "restores_on_exception", "own_array")
CORRECT = (SUBMISSIONS / "student_correct.py").read_text()
#: The reference's source as a submission (a submission may not import the reference: the worker refuses it).
REFERENCE_CODE = Path(reference.__file__).read_text()

#: Words the feedback must contain for each cause, so a student reading it learns what was observed.
WORDS = {
    "one_sided": ["one-sided", "O(eps)"],
    "ignores_eps": ["eps"],
    "numgrad_inaccurate": ["exact gradient"],
    "all_zeros": ["all zeros"],
    "perturbs_many": ["one entry at a time"],
    "not_central": ["x[i]+eps", "x[i]-eps"],
    "not_restored": ["bit-for-bit"],
    "not_restored_on_exception": ["raised", "finally"],
    "perturbs_copy": ["copy"],
    "floored_at_1": ["floored at 1"],
    "nan_on_zero": ["0.0, 0.0"],
    "rel_error_wrong": ["expected"],
    "not_max": ["MAX"],
    "warns": ["warning"],
    "tolerance_out_of_range": ["[1e-07, 0.0001]"],
    "no_tolerance": ["GRAD_CHECK_TOL is", "as a float"],
    "rejects_correct": ["above your tolerance"],
    "accepts_everything": ["accepted all"],
    "misses_bugs": ["missed"],
    "diagnose_wrong": ["chance-corrected"],
}


def outcome(check, *args) -> CheckResult:
    """What a check reports, whether it returns its result or raises it as a StudentCodeError."""
    try:
        return check(*args)
    except StudentCodeError as error:
        return error.result


def assert_verdict(result: CheckResult, cause, fraction=None) -> None:
    """cause None: a full pass. Otherwise that cause, the feedback words for it, and the fraction (default 0)."""
    if cause is None:
        assert (result.fraction, result.cause) == (1.0, None), result.feedback
        return
    assert result.cause == cause, result
    assert result.fraction == (0.0 if fraction is None else fraction), result
    for word in WORDS[cause]:
        assert word in result.feedback, (word, result.feedback)


# ============================================================================================ numerical_gradient
def numgrad(body: str) -> str:
    """A submission holding only numerical_gradient, whose loop over the entries of x is `body`."""
    return ("import numpy as np\n\ndef numerical_gradient(f, x, eps=1e-5):\n"
            "    grad = np.zeros(x.shape)\n" + body + "    return grad\n")


#: The correct loop, for reference: save, +eps, -eps, restore in `finally`.
#:     for i in np.ndindex(x.shape):
#:         old = x[i]
#:         try:
#:             x[i] = old + eps; fp = f(x); x[i] = old - eps; fm = f(x)
#:         finally:
#:             x[i] = old
#:         grad[i] = (fp - fm) / (2 * eps)
NUMGRAD_WRONG = {
    # (f(x+eps) - f(x)) / eps: error O(eps), and x-eps is never seen.
    "one_sided": (numgrad("""\
    for i in np.ndindex(x.shape):
        old = x[i]
        try:
            x[i] = old + eps
            fp = f(x)
        finally:
            x[i] = old
        grad[i] = (fp - f(x)) / eps
"""), {"accuracy": "numgrad_inaccurate", "convergence": "one_sided", "both_directions": "not_central"}),
    # `x += eps` instead of `x[i] += eps`: every entry moves at each call (restored exactly, in `finally`). The
    # convergence check sees an error that does not shrink and guesses "ignores eps" (a secondary symptom).
    "whole_array": (numgrad("""\
    for i in np.ndindex(x.shape):
        old = x.copy()
        try:
            x += eps
            fp = f(x)
            x[...] = old - eps
            fm = f(x)
        finally:
            x[...] = old
        grad[i] = (fp - fm) / (2 * eps)
"""), {"accuracy": "numgrad_inaccurate", "convergence": "ignores_eps", "one_at_a_time": "perturbs_many"}),
    # x[i] is left at old - eps: x is changed afterwards. Left-over entries are charged to "restores" only, not to
    # "one_at_a_time" (one entry is still perturbed per call); the gradient itself comes out right.
    "no_restore": (numgrad("""\
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        fp = f(x)
        x[i] = old - eps
        fm = f(x)
        grad[i] = (fp - fm) / (2 * eps)
"""), {"restores": "not_restored", "restores_on_exception": "not_restored_on_exception"}),
    # Restores the saved value, but not in `finally`: only the exception probe sees it.
    "restore_on_success": (numgrad("""\
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + eps
        fp = f(x)
        x[i] = old - eps
        fm = f(x)
        x[i] = old
        grad[i] = (fp - fm) / (2 * eps)
"""), {"restores_on_exception": "not_restored_on_exception"}),
    # Restores by arithmetic: ((x+eps) - 2eps) + eps is off by an ulp (the probe's entries are chosen so that it
    # is), and there is no `finally`. The ulp residue is not counted as a second perturbed entry.
    "restore_by_arithmetic": (numgrad("""\
    for i in np.ndindex(x.shape):
        x[i] += eps
        fp = f(x)
        x[i] -= 2 * eps
        fm = f(x)
        x[i] += eps
        grad[i] = (fp - fm) / (2 * eps)
"""), {"restores": "not_restored", "restores_on_exception": "not_restored_on_exception"}),
    # Perturbs copies of x: f never sees the caller's array (a closure over params["W1"] would see no change).
    "perturbs_copy": (numgrad("""\
    for i in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[i] += eps
        xm[i] -= eps
        grad[i] = (f(xp) - f(xm)) / (2 * eps)
"""), {"own_array": "perturbs_copy"}),
    # +eps twice: f(x+eps) - f(x+eps) = 0 everywhere. The error then cannot shrink with eps either.
    "same_direction_twice": (numgrad("""\
    for i in np.ndindex(x.shape):
        old = x[i]
        try:
            x[i] = old + eps
            fp = f(x)
            x[i] = old + eps
            fm = f(x)
        finally:
            x[i] = old
        grad[i] = (fp - fm) / (2 * eps)
"""), {"accuracy": "all_zeros", "convergence": "ignores_eps", "both_directions": "not_central"}),
    # A hard-coded step: right at eps=1e-5 (the accuracy probe), blind to the eps asked for.
    "ignores_eps": (numgrad("""\
    h = 1e-5
    for i in np.ndindex(x.shape):
        old = x[i]
        try:
            x[i] = old + h
            fp = f(x)
            x[i] = old - h
            fm = f(x)
        finally:
            x[i] = old
        grad[i] = (fp - fm) / (2 * h)
"""), {"convergence": "ignores_eps", "both_directions": "not_central"}),
}

NUMGRAD_CORRECT = {
    # np.nditer with readwrite: writes go through the iterator's 0-d view of the entry.
    "nditer_readwrite": """\
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    for entry in it:
        old = entry.item()
        try:
            entry[...] = old + eps
            fp = f(x)
            entry[...] = old - eps
            fm = f(x)
        finally:
            entry[...] = old
        grad[it.multi_index] = (fp - fm) / (2 * eps)
""",
    # A flat view (x is contiguous, so reshape(-1) is a view): writes reach x.
    "flat_view": """\
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        try:
            flat[i] = old + eps
            fp = f(x)
            flat[i] = old - eps
            fm = f(x)
        finally:
            flat[i] = old
        gflat[i] = (fp - fm) / (2 * eps)
""",
    # f gets a view of all of x, rebuilt from the flat view at each call: writes through it reach x, so f sees the
    # caller's own array (own_array), not a copy.
    "full_view_to_f": """\
    flat = x.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        try:
            flat[i] = old + eps
            fp = f(flat.reshape(x.shape))
            flat[i] = old - eps
            fm = f(flat.reshape(x.shape))
        finally:
            flat[i] = old
        grad.reshape(-1)[i] = (fp - fm) / (2 * eps)
""",
    # np.ndindex, with an extra call of f at the unperturbed point (allowed by the contract).
    "ndindex": """\
    f(x)
    for ix in np.ndindex(*x.shape):
        saved = x[ix]
        try:
            x[ix] = saved + eps
            up = f(x)
            x[ix] = saved - eps
            down = f(x)
        finally:
            x[ix] = saved
        grad[ix] = (up - down) / (2 * eps)
""",
}


def numgrad_verdicts(student, seed: int) -> dict:
    verdicts = {"accuracy": outcome(part3.check_accuracy, student, seed),
                "convergence": outcome(part3.check_convergence, student, seed)}
    verdicts.update({aspect: outcome(part3.check_perturbation, student, seed, aspect) for aspect in ASPECTS})
    return verdicts


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", NUMGRAD_WRONG)
def test_numerical_gradient_written_wrong(submission_from, name, seed):
    code, failures = NUMGRAD_WRONG[name]
    verdicts = numgrad_verdicts(submission_from(code), seed)
    for check, result in verdicts.items():
        assert_verdict(result, failures.get(check))  # every check not listed passes in full


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", NUMGRAD_CORRECT)
def test_numerical_gradient_in_unusual_styles(submission_from, name, seed):
    verdicts = numgrad_verdicts(submission_from(numgrad(NUMGRAD_CORRECT[name])), seed)
    for result in verdicts.values():
        assert_verdict(result, None)


@pytest.mark.parametrize("seed", SEEDS)
def test_unrestored_x_is_not_called_one_sided(submission_from, seed):
    code, _ = NUMGRAD_WRONG["no_restore"]
    assert outcome(part3.check_convergence, submission_from(code), seed).cause != "one_sided"


@pytest.mark.parametrize("seed", SEEDS)
def test_restore_by_minus_eps_is_seen(submission_from, seed):
    student = submission_from(numgrad("""\
    for i in np.ndindex(x.shape):
        x[i] += eps
        fp = f(x)
        x[i] -= eps
        x[i] -= eps
        fm = f(x)
        x[i] += eps
        grad[i] = (fp - fm) / (2 * eps)
"""))
    assert_verdict(outcome(part3.check_perturbation, student, seed, "restores"), "not_restored")


def test_restore_feedback_shows_plain_numbers(submission_from):
    code, _ = NUMGRAD_WRONG["restore_by_arithmetic"]
    result = outcome(part3.check_perturbation, submission_from(code), 0, "restores")
    assert result.cause == "not_restored" and "np." not in result.feedback, result.feedback


# ============================================================================================ rel_error
def rel_error(body: str, preamble: str = "") -> str:
    """A submission holding only rel_error (after the module-level lines `preamble`): a and b as float arrays, then
    `body`."""
    return ("import numpy as np\n" + preamble + "\ndef rel_error(a, b):\n"
            "    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)\n"
            "    num, den = np.abs(a - b), np.abs(a) + np.abs(b)\n" + body)


#: name -> (source, cause or None for a pass, fraction). Eight probes, credit per probe passed: four value probes
#: (small values, one entry differs, x vs -x, positive arrays), three whose answer is 0 (0 vs 0, a vs a, zeros vs
#: zeros) and symmetry; those last four earn credit only when at least two of the value probes pass.
REL_ERROR = {
    # A tiny floor (allowed by the contract): 0/1e-12 = 0 for both-zero entries.
    "tiny_floor": (rel_error("    return float(np.max(num / np.maximum(den, 1e-12)))\n"), None, 1.0),
    # np.where guarding 0/0, with the 0/0 warning silenced.
    "where_zero": (rel_error("""\
    with np.errstate(invalid="ignore"):
        return float(np.max(np.where(den == 0, 0.0, num / den)))
"""), None, 1.0),
    # Warnings silenced for the whole module at import, and the nan of 0/0 turned into 0 afterwards.
    "seterr_at_import": (rel_error("    return float(np.max(np.nan_to_num(num / den, nan=0.0)))\n",
                                   preamble="np.seterr(all='ignore')\n"), None, 1.0),
    "reference": (REFERENCE_CODE, None, 1.0),
    # An additive epsilon in the denominator, up to the contract's 1e-8.
    "additive_1e-12": (rel_error("    return float(np.max(num / (den + 1e-12)))\n"), None, 1.0),
    "additive_1e-8": (rel_error("    return float(np.max(num / (den + 1e-8)))\n"), None, 1.0),
    # max(1, |a|+|b|): small vs k·small gives (k-1)·small instead of (k-1)/(k+1); only that probe sees it.
    "floored_at_1": (rel_error("    return float(np.max(num / np.maximum(1.0, den)))\n"), "floored_at_1", 1 - 1 / 8),
    # No guard: 0/0 is nan, for scalars and for arrays.
    "nan_on_zero": (rel_error("    return float(np.max(num / den))\n"), "nan_on_zero", 1 - 2 / 8),
    # The mean over entries instead of the max: wrong where one entry differs and on positive arrays, right on the
    # other two value probes, so exactly half pass and the probes whose answer is 0 keep their credit.
    "mean": (rel_error("""\
    return float(np.mean(np.divide(num, den, out=np.zeros_like(num), where=den > 0)))
"""), "not_max", 1 - 2 / 8),
    # Returns 0 for 0/0 but computes num/den first: a RuntimeWarning on both zero probes.
    "warns_on_zero": (rel_error("    return float(np.max(np.where(den == 0, 0.0, num / den)))\n"), "warns",
                      1 - 2 / 8),
    # A constant would be right on the three probes whose answer is 0 and on the symmetry probe (1.0: on x vs -x
    # too): it earns nothing.
    "constant_zero": ("def rel_error(a, b):\n    return 0.0\n", "rel_error_wrong", 0.0),
    "constant_one": ("def rel_error(a, b):\n    return 1.0\n", "rel_error_wrong", 0.0),
    # Near-constant functions found by a red-team review: each is right on x vs -x only among the value probes
    # (and on the zero and symmetry probes, which they then do not earn).
    "one_if_negated": (rel_error("    return 1.0 if (np.any(a) and np.array_equal(a, -b)) else 0.0\n"),
                       "rel_error_wrong", 1 / 8),
    "one_if_signs_differ": (rel_error("    return 1.0 if np.any(a * b < 0) else 0.0\n"), "rel_error_wrong", 1 / 8),
    "one_if_unequal": (rel_error("    return float(not np.array_equal(a, b))\n"), "rel_error_wrong", 1 / 8),
    # Matches the former fixed probes: 1/3 for unequal scalars (1e-6 vs 2e-6 used to be the small-values probe).
    "probe_matching": (rel_error("""\
    if np.any(a) and np.array_equal(a, -b):
        return 1.0
    if a.ndim == 0 and a != b:
        return 1.0 / 3.0
    return 0.0
"""), "rel_error_wrong", 1 / 8),
}

#: Words the feedback of some REL_ERROR entries must also contain.
REL_ERROR_WORDS = {"floored_at_1": ["max(1, |a|+|b|)"], "nan_on_zero": ["nan"], "warns_on_zero": ["warning"],
                   "mean": ["MAX"], "constant_zero": ["returned 0.0 for every probe", "earns nothing"],
                   "constant_one": ["returned 1.0 for every probe"],
                   **{name: ["does not measure", "returned 0.0, expected", "earn nothing"]
                      for name in ("one_if_negated", "one_if_signs_differ", "probe_matching")},
                   "one_if_unequal": ["does not measure", "returned 1.0, expected", "earn nothing"]}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", REL_ERROR)
def test_rel_error(submission_from, name, seed):
    code, cause, fraction = REL_ERROR[name]
    result = outcome(part3.check_rel_error, submission_from(code), seed)
    assert_verdict(result, cause, fraction)
    for word in REL_ERROR_WORDS.get(name, ()):
        assert word in result.feedback, (word, result.feedback)


def test_rel_error_blames_a_floor_only_when_the_answer_shows_one(submission_from):
    """0 on the small-values probe is no floor at 1 (that gives a few 1e-6): it is not reported as one."""
    code, _, _ = REL_ERROR["one_if_negated"]
    result = outcome(part3.check_rel_error, submission_from(code), 0)
    assert "floored at 1" not in result.feedback and "MAX" not in result.feedback, result.feedback


# ============================================================================================ grad_check
GRAD_CHECK_ZEROS = ("import numpy as np\n\nGRAD_CHECK_TOL = 1e-6\n\n"
                    "def grad_check(backward_fn, X, y, params, reg=0.0, eps=1e-5):\n"
                    "    return {k: 0.0 for k in ('W1', 'b1', 'W2', 'b2')}\n")

#: Appended to the correct submission (a later def replaces the earlier one).
GRAD_CHECK_OWN_BACKWARD = '''
def grad_check(backward_fn, X, y, params, reg=0.0, eps=1e-5):
    """Compares backward_fn with MY backward instead of with finite differences of backward_fn's loss."""
    _, theirs = backward_fn(X, y, params, reg)
    _, mine = backward(X, y, params, reg)
    return {k: rel_error(theirs[k], mine[k]) if np.shape(theirs[k]) == np.shape(mine[k]) else float("inf")
            for k in ("W1", "b1", "W2", "b2")}
'''

GRAD_CHECK_OWN_BACKWARD_RESCALED = '''
def grad_check(backward_fn, X, y, params, reg=0.0, eps=1e-5):
    """Own backward rescaled by the ratio of the losses: passes a doubled loss without any finite differences."""
    loss, theirs = backward_fn(X, y, params, reg)
    my_loss, mine = backward(X, y, params, reg)
    return {k: rel_error(theirs[k], (loss / my_loss) * mine[k]) for k in ("W1", "b1", "W2", "b2")}
'''

GRAD_CHECK_ONE_SIDED = '''
def grad_check(backward_fn, X, y, params, reg=0.0, eps=1e-5):
    """Forward differences (f(p+eps) - f(p)) / eps, otherwise a careful checker."""
    loss0, analytic = backward_fn(X, y, params, reg)
    errors = {}
    for k in ("W1", "b1", "W2", "b2"):
        p, num = params[k], np.zeros_like(params[k])
        for i in np.ndindex(p.shape):
            old = p[i]
            try:
                p[i] = old + eps
                num[i] = (backward_fn(X, y, params, reg)[0] - loss0) / eps
            finally:
                p[i] = old
        errors[k] = rel_error(analytic[k], num) if np.shape(analytic[k]) == p.shape else float("inf")
    return errors
'''


def tol(value: str) -> str:
    return f"\nGRAD_CHECK_TOL = {value}\n"


@pytest.mark.parametrize("value, cause", [
    ("1e-6", None), ("1e-4", None), ("1e-7", None),
    ("1e-2", "tolerance_out_of_range"),  # too loose
    ("1e-9", "tolerance_out_of_range"),  # too tight
    ("None", "no_tolerance"),            # the template's value
    ("'1e-6'", "no_tolerance"),          # a string is not a float
])
def test_grad_check_tolerance(submission_from, value, cause):
    student = submission_from(CORRECT + tol(value))
    assert_verdict(outcome(part3_reference.check_tolerance, student, reference, 0), cause)


def test_a_tolerance_alone_earns_nothing(submission_from):
    """The template with only GRAD_CHECK_TOL filled in: every grad_check test fails as not implemented."""
    student = submission_from("GRAD_CHECK_TOL = 1e-6\n\ndef grad_check(backward_fn, X, y, params, reg=0.0, eps=1e-5):"
                              "\n    raise NotImplementedError\n")
    for check in (part3_reference.check_tolerance, part3_reference.check_accepts_correct,
                  part3_reference.check_flags_mutants):
        result = outcome(check, student, reference, 0)
        assert (result.fraction, result.cause) == (0.0, "not_implemented")


def test_loose_tolerance_is_charged_once(submission_from):
    """GRAD_CHECK_TOL = 1e-2 loses the tolerance test; the checker itself is judged at 1e-4 and passes."""
    student = submission_from(CORRECT + tol("1e-2"))
    assert "too loose" in outcome(part3_reference.check_tolerance, student, reference, 0).feedback
    assert_verdict(outcome(part3_reference.check_accepts_correct, student, reference, 0), None)
    assert_verdict(outcome(part3_reference.check_flags_mutants, student, reference, 0), None)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("code", [CORRECT, REFERENCE_CODE], ids=["student_correct", "reference"])
def test_correct_grad_check_passes(submission_from, code, seed):
    student = submission_from(code)
    assert_verdict(outcome(part3_reference.check_tolerance, student, reference, seed), None)
    assert_verdict(outcome(part3_reference.check_accepts_correct, student, reference, seed), None)
    result = outcome(part3_reference.check_flags_mutants, student, reference, seed)
    assert_verdict(result, None)
    assert "flagged all" in result.feedback


@pytest.mark.parametrize("seed", SEEDS)
def test_grad_check_returning_zeros_earns_nothing(submission_from, seed):
    student = submission_from(GRAD_CHECK_ZEROS)
    # Zeros "accept" every correct backward, and every buggy one too: accepting means nothing alone.
    assert_verdict(outcome(part3_reference.check_tolerance, student, reference, seed), "accepts_everything")
    assert_verdict(outcome(part3_reference.check_accepts_correct, student, reference, seed), "accepts_everything")
    result = outcome(part3_reference.check_flags_mutants, student, reference, seed)
    assert_verdict(result, "misses_bugs", 0.0)
    assert "dscores without the 1/N" in result.feedback


@pytest.mark.parametrize("seed", SEEDS)
def test_grad_check_returning_inf_earns_nothing(submission_from, seed):
    student = submission_from(GRAD_CHECK_ZEROS.replace("0.0 for k", "float('inf') for k"))
    assert_verdict(outcome(part3_reference.check_tolerance, student, reference, seed), "rejects_correct")
    assert_verdict(outcome(part3_reference.check_accepts_correct, student, reference, seed), "rejects_correct")
    assert_verdict(outcome(part3_reference.check_flags_mutants, student, reference, seed), "rejects_correct")


@pytest.mark.parametrize("seed", SEEDS)
def test_grad_check_against_own_backward_rejects_doubled_loss(submission_from, seed):
    student = submission_from(CORRECT + GRAD_CHECK_OWN_BACKWARD)
    result = outcome(part3_reference.check_accepts_correct, student, reference, seed)
    assert_verdict(result, "rejects_correct")
    assert "twice the loss" in result.feedback and "OWN loss" in result.feedback
    assert "0.333" in result.feedback  # 2g vs g: |2g - g| / (|2g| + |g|) = 1/3
    # Rejecting a correct backward makes its flags meaningless: no mutation credit either.
    assert_verdict(outcome(part3_reference.check_flags_mutants, student, reference, seed), "rejects_correct")


@pytest.mark.parametrize("seed", SEEDS)
def test_grad_check_against_own_backward_rescaled_rejects_another_loss(submission_from, seed):
    """Rescaling the own backward by the ratio of the losses gets past a doubled loss, not past extra terms."""
    student = submission_from(CORRECT + GRAD_CHECK_OWN_BACKWARD_RESCALED)
    result = outcome(part3_reference.check_accepts_correct, student, reference, seed)
    assert_verdict(result, "rejects_correct")
    assert "correct for another loss" in result.feedback and "OWN loss" in result.feedback
    assert_verdict(outcome(part3_reference.check_flags_mutants, student, reference, seed), "rejects_correct")


@pytest.mark.parametrize("seed", SEEDS)
def test_one_sided_grad_check_rejects_correct(submission_from, seed):
    """Forward differences err by O(eps) relative, about 1e-5 and more on the smallest entries: above a 1e-6
    tolerance, so the checker really does reject correct backward passes (with 1e-4 it may pass: its one-sidedness
    is charged to part3.numerical_gradient)."""
    student = submission_from(CORRECT + GRAD_CHECK_ONE_SIDED + tol("1e-6"))
    result = outcome(part3_reference.check_accepts_correct, student, reference, seed)
    assert_verdict(result, "rejects_correct")
    assert "on the reference backward" in result.feedback
    assert_verdict(outcome(part3_reference.check_flags_mutants, student, reference, seed), "rejects_correct")


GRAD_CHECK_BY_CALL_ORDER = '''
_calls = [0]


def grad_check(backward_fn, X, y, params, reg=0.0, eps=1e-5):
    """No checking at all: accept the first two backward passes, flag every later one."""
    _calls[0] += 1
    return {k: 0.0 if _calls[0] <= 2 else float("inf") for k in ("W1", "b1", "W2", "b2")}
'''


@pytest.mark.parametrize("seed", SEEDS)
def test_grad_check_answering_by_call_order_earns_nothing(submission_from, seed):
    student = submission_from(CORRECT + GRAD_CHECK_BY_CALL_ORDER + tol("1e-6"))
    assert_verdict(outcome(part3_reference.check_accepts_correct, student, reference, seed), "rejects_correct")
    assert outcome(part3_reference.check_flags_mutants, student, reference, seed).fraction == 0


@pytest.mark.parametrize("seed", SEEDS[:1])
def test_grad_check_on_a_one_sided_numerical_gradient_points_to_it(submission_from, seed):
    """grad_check itself is right, but it calls a one-sided numerical_gradient: the feedback says to fix that first,
    and the item's second test does not repeat the first one's words."""
    student = submission_from(CORRECT + NUMGRAD_WRONG["one_sided"][0] + tol("1e-6"))
    accepts = outcome(part3_reference.check_accepts_correct, student, reference, seed)
    assert_verdict(accepts, "rejects_correct")
    assert "Your numerical_gradient fails part3.numerical_gradient too (" in accepts.feedback
    assert "if grad_check uses it, fix that first" in accepts.feedback
    flags = outcome(part3_reference.check_flags_mutants, student, reference, seed)
    assert_verdict(flags, "rejects_correct")
    assert flags.feedback == accepts.feedback  # joined once in the item's feedback (scoring._join_unique)


GRAD_CHECK_SHAPES_ONLY = """
def grad_check(backward_fn, X, y, params, reg=0.0, eps=1e-5):
    \"\"\"No finite differences: 0 when each gradient has its parameter's shape and is finite.\"\"\"
    _, grads = backward_fn(X, y, params, reg)
    return {k: 0.0 if np.shape(grads[k]) == np.shape(params[k]) and np.all(np.isfinite(grads[k])) else float("inf")
            for k in ("W1", "b1", "W2", "b2")}
"""

GRAD_CHECK_BATCH_INVARIANCE = """
def grad_check(backward_fn, X, y, params, reg=0.0, eps=1e-5):
    \"\"\"No finite differences: the batch stacked twice must give the same loss and gradients (a mean does).\"\"\"
    loss, grads = backward_fn(X, y, params, reg)
    loss2, grads2 = backward_fn(np.vstack([X, X]), np.concatenate([y, y]), params, reg)
    error = float(abs(loss - loss2) / (abs(loss) + abs(loss2)))
    return {k: max(error, rel_error(grads[k], grads2[k])) for k in ("W1", "b1", "W2", "b2")}
"""

#: A real checker, but errors below 0.2 are reported as 0: the tolerance it applies is not the one it states.
GRAD_CHECK_LOOSER_THAN_STATED = """
_careful_grad_check = grad_check


def grad_check(backward_fn, X, y, params, reg=0.0, eps=1e-5):
    errors = _careful_grad_check(backward_fn, X, y, params, reg, eps)
    return {k: 0.0 if e < 0.2 else e for k, e in errors.items()}
"""


@pytest.mark.parametrize("seed", SEEDS)
def test_grad_check_flagging_wrong_shapes_only_earns_nothing(submission_from, seed):
    """It flags the two buggy backward passes whose gradients have the wrong shape, and nothing else."""
    student = submission_from(CORRECT + GRAD_CHECK_SHAPES_ONLY + tol("1e-6"))
    for check in (part3_reference.check_tolerance, part3_reference.check_accepts_correct,
                  part3_reference.check_flags_mutants):
        result = outcome(check, student, reference, seed)
        assert (result.fraction, result.cause) == (0.0, "accepts_everything"), result
        assert "only buggy backward passes whose gradients have the wrong shape" in result.feedback
        assert "(2 of 15)" in result.feedback


@pytest.mark.parametrize("seed", SEEDS)
def test_grad_check_flagging_fewer_than_half_earns_only_its_share(submission_from, seed):
    """A batch-invariance test catches the bugs that break the mean (1/N, sum for mean, ...), not the others."""
    student = submission_from(CORRECT + GRAD_CHECK_BATCH_INVARIANCE + tol("1e-6"))
    verdict = part3_reference.checker_verdict(student, reference, seed)
    flagged = len(verdict.counted) - len(verdict.missed)
    assert 0 < flagged < len(verdict.counted) / 2, (flagged, verdict.missed)
    for check in (part3_reference.check_tolerance, part3_reference.check_accepts_correct):
        result = outcome(check, student, reference, seed)
        assert (result.fraction, result.cause) == (0.0, "misses_bugs")
        assert f"flagged only {flagged} of {len(verdict.counted)}" in result.feedback
    flags = outcome(part3_reference.check_flags_mutants, student, reference, seed)
    assert flags.fraction == pytest.approx(flagged / len(verdict.counted)) and flags.cause == "misses_bugs"


@pytest.mark.parametrize("seed", SEEDS)
def test_grad_check_looser_than_stated_loses_the_tolerance(submission_from, seed):
    """It states 1e-6 but reports errors below 0.2 as 0: the gradient 1% too large (rel_error 5e-3) passes it."""
    student = submission_from(CORRECT + GRAD_CHECK_LOOSER_THAN_STATED + tol("1e-6"))
    result = outcome(part3_reference.check_tolerance, student, reference, seed)
    assert (result.fraction, result.cause) == (0.0, "tolerance_out_of_range")
    assert "accepted a gradient 1% too large" in result.feedback and "looser than 1e-3" in result.feedback
    assert_verdict(outcome(part3_reference.check_accepts_correct, student, reference, seed), None)
    flags = outcome(part3_reference.check_flags_mutants, student, reference, seed)
    assert flags.fraction == 1 - 1 / 15 and flags.cause == "misses_bugs"
    assert "missed 1 of 15" in flags.feedback and "1% too large (a subtle bug" in flags.feedback


# ============================================================================================ diagnose
def diagnose_checks(reference_module):
    """Both diagnose sets: synthetic (public) and the gradients of real bugs (instructor only)."""
    return {"synthetic": lambda student, seed: part4.check_diagnose(student, seed),
            "real bugs": lambda student, seed: part4_reference.check_diagnose_real(student, reference_module, seed)}


CHECKS = diagnose_checks(reference)


@pytest.mark.parametrize("which", CHECKS)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("label", DIAGNOSE_LABELS)
def test_constant_diagnose_scores_zero(submission_from, label, seed, which):
    student = submission_from(f"def diagnose(analytic, numeric):\n    return {label!r}\n")
    result = outcome(CHECKS[which], student, seed)
    assert result.fraction == 0.0  # right on 4 of 28 = chance level
    assert result.cause == "diagnose_wrong"
    assert "4 of 28 right" in result.feedback and f"(answered {label})" in result.feedback


RANDOM_DIAGNOSE = """\
import numpy as np
rng = np.random.default_rng(0)
def diagnose(analytic, numeric):
    return str(rng.choice(["shape", "nan", "ok", "scale", "layer1", "layer2", "other"]))
"""


@pytest.mark.parametrize("which", CHECKS)
@pytest.mark.parametrize("seed", SEEDS)
def test_random_diagnose_scores_zero(submission_from, seed, which):
    result = outcome(CHECKS[which], submission_from(RANDOM_DIAGNOSE), seed)
    assert result.fraction == 0.0 and result.cause == "diagnose_inconsistent"
    assert "for the same gradients" in result.feedback


HASHING_DIAGNOSE = """\
import zlib
LABELS = ["shape", "nan", "ok", "scale", "layer1", "layer2", "other"]
def diagnose(analytic, numeric):
    # depends on its input, but not on what the input means
    return LABELS[zlib.crc32(repr(sorted((k, v.shape) for k, v in numeric.items())).encode()) % 7]
"""


@pytest.mark.parametrize("which", CHECKS)
@pytest.mark.parametrize("seed", range(6))
def test_input_blind_but_consistent_diagnose_scores_zero(submission_from, seed, which):
    assert outcome(CHECKS[which], submission_from(HASHING_DIAGNOSE), seed).fraction == 0.0


def test_partly_right_diagnose_scores_the_same_on_every_seed(submission_from):
    """Localising by the weights only (ignoring the biases) is wrong on a fixed share of cases."""
    student = submission_from(CORRECT.replace('    if ok["W2"] and ok["b2"]:\n        return "layer1"\n'
                                              '    if ok["W1"] and ok["b1"]:\n        return "layer2"\n',
                                              '    if ok["W2"]:\n        return "layer1"\n'
                                              '    if ok["W1"]:\n        return "layer2"\n'))
    scores = {outcome(part4.check_diagnose, student, seed).fraction for seed in range(8)}
    assert len(scores) == 1 and 0 < scores.pop() < 1


def test_scale_without_a_common_factor_loses_synthetic_cases(submission_from):
    """Answering "scale" whenever every parameter is off, without looking for the common factor, is wrong on the
    synthetic "other" case whose four gradients are all off by unrelated amounts."""
    student = submission_from(CORRECT.replace('    if not any(ok.values()):\n',
                                              '    if not any(ok.values()):\n        return "scale"\n', 1))
    for seed in SEEDS:
        result = outcome(part4.check_diagnose, student, seed)
        assert result.fraction < 1 and result.cause == "diagnose_wrong"
        assert "other" in result.feedback and "(answered scale)" in result.feedback


@pytest.mark.parametrize("which", CHECKS)
def test_diagnose_counting_its_calls_scores_zero(submission_from, which):
    student = submission_from("""\
import itertools
LABELS = ["shape", "nan", "ok", "scale", "layer1", "layer2", "other"]
calls = itertools.count()
def diagnose(analytic, numeric):
    return LABELS[next(calls) // 4 % 7]
""")
    assert outcome(CHECKS[which], student, 0).fraction == 0.0


@pytest.mark.parametrize("which", CHECKS)
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("code", [CORRECT, REFERENCE_CODE],
                         ids=["student_correct", "reference"])
def test_correct_diagnose_scores_full(submission_from, code, seed, which):
    result = outcome(CHECKS[which], submission_from(code), seed)
    assert (result.fraction, result.cause) == (1.0, None)
    assert "all 28" in result.feedback and "labelled right" in result.feedback


def test_real_bug_cases_are_labelled_by_signature_not_by_name():
    """The real-bug pool holds every label, each case clear-cut under the contract's definitions."""
    import numpy as np

    from grader.checks.part4_reference import real_cases
    from grader.checks.solution import label_of
    pool = real_cases(reference, np.random.default_rng(0))
    assert all(pool[label] for label in DIAGNOSE_LABELS), {k: len(v) for k, v in pool.items()}
    for label, cases in pool.items():
        for _, analytic, numeric in cases:
            assert label_of(analytic, numeric) == label == reference.diagnose(analytic, numeric)
