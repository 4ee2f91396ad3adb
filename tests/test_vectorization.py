"""part2.vectorized: check_vectorized's verdicts, role by role, on full submissions written in many styles.

Each variant is the typical correct submission (submissions/student_correct.py) with one function replaced. Every
variant computes the right numbers (checked against the reference first), so the only thing that differs is how it
iterates. student_correct's backward calls its forward and softmax_cross_entropy: a loop in either is charged to that
function only (backward's count leaves out the student's own forward and softmax), while a backward that inlines a
looping forward pass loops itself.
"""
from __future__ import annotations

import re
import textwrap

import numpy as np
import pytest

from conftest import SUBMISSIONS
from grader.checks import tracked_arrays
from grader.checks.vectorization import check_analytic, check_vectorized
from grader.problems import random_problem
from grader.worker.probes import count_events
from reference import backprop as reference

ROLES = ("forward", "softmax_cross_entropy", "backward")
BASE = (SUBMISSIONS / "student_correct.py").read_text()


def with_replaced(code: str) -> str:
    """The correct submission with the functions defined in `code` replaced (a later def wins at import)."""
    return BASE + "\n\n# ---- replaced for this test\n" + textwrap.dedent(code)


#: name -> (the replacing code, the roles that loop over the batch).
LOOPING = {
    # A row loop whose results are remembered by the inputs' bytes: every measured call gets new inputs.
    "memoized_row_loop": ('''
        _memo = {}
        def forward(X, params):
            key = (X.tobytes(), params["W1"].tobytes())
            if key not in _memo:
                W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
                z1 = np.empty((X.shape[0], W1.shape[1]))
                for n in range(X.shape[0]):
                    z1[n] = X[n] @ W1 + b1
                h1 = np.maximum(z1, 0.0)
                _memo[key] = (h1 @ W2 + b2, (X, z1, h1))
            return _memo[key]
        ''', {"forward"}),
    # A for loop over the rows of X in forward.
    "forward_row_loop": ('''
        def forward(X, params):
            W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
            z1 = np.empty((X.shape[0], W1.shape[1]))
            for n in range(X.shape[0]):
                z1[n] = X[n] @ W1 + b1
            h1 = np.maximum(z1, 0.0)
            return h1 @ W2 + b2, (X, z1, h1)
        ''', {"forward"}),
    # A loop only in backward: dW2 as a sum of per-example outer products.
    "backward_only_loop": ('''
        def backward(X, y, params, reg=0.0):
            W1, W2 = params["W1"], params["W2"]
            scores, (_, z1, h1) = forward(X, params)
            loss, dscores = softmax_cross_entropy(scores, y)
            loss = loss + 0.5 * reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
            dW2 = np.zeros_like(W2)
            for n in range(X.shape[0]):
                dW2 += np.outer(h1[n], dscores[n])
            dz1 = (dscores @ W2.T) * (z1 > 0)
            grads = {"W1": X.T @ dz1 + reg * W1, "b1": dz1.sum(axis=0), "W2": dW2 + reg * W2,
                     "b2": dscores.sum(axis=0), "X": dz1 @ W1.T}
            return float(loss), grads
        ''', {"backward"}),
    # backward with its own (looping) forward pass inlined: backward loops, forward does not.
    "backward_inlines_a_looping_forward": ('''
        def backward(X, y, params, reg=0.0):
            W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
            z1 = np.stack([x @ W1 + b1 for x in X])
            h1 = np.maximum(z1, 0.0)
            loss, dscores = softmax_cross_entropy(h1 @ W2 + b2, y)
            loss = loss + 0.5 * reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
            dz1 = (dscores @ W2.T) * (z1 > 0)
            grads = {"W1": X.T @ dz1 + reg * W1, "b1": dz1.sum(axis=0), "W2": h1.T @ dscores + reg * W2,
                     "b2": dscores.sum(axis=0), "X": dz1 @ W1.T}
            return float(loss), grads
        ''', {"backward"}),
    # ReLU through np.vectorize: a Python call per entry of z1.
    "np_vectorize": ('''
        relu = np.vectorize(lambda v: v if v > 0 else 0.0, otypes=[np.float64])
        def forward(X, params):
            W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
            z1 = X @ W1 + b1
            h1 = relu(z1)
            return h1 @ W2 + b2, (X, z1, h1)
        ''', {"forward"}),
    # Softmax row by row through np.apply_along_axis.
    "apply_along_axis": ('''
        def softmax_cross_entropy(scores, y):
            N = scores.shape[0]
            def row_softmax(row):
                e = np.exp(row - row.max())
                return e / e.sum()
            probs = np.apply_along_axis(row_softmax, 1, scores)
            loss = -np.mean(np.log(probs[np.arange(N), y]))
            dscores = probs.copy()
            dscores[np.arange(N), y] -= 1
            return loss, dscores / N
        ''', {"softmax_cross_entropy"}),
    # The loss gathered by a list comprehension over the examples.
    "list_comprehension": ('''
        def softmax_cross_entropy(scores, y):
            N = scores.shape[0]
            shifted = scores - scores.max(axis=1, keepdims=True)
            log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            loss = -np.mean([log_probs[n, y[n]] for n in range(N)])
            dscores = np.exp(log_probs)
            dscores[np.arange(N), y] -= 1
            return loss, dscores / N
        ''', {"softmax_cross_entropy"}),
    # A for loop over the rows inside the softmax.
    "softmax_row_loop": ('''
        def softmax_cross_entropy(scores, y):
            N = scores.shape[0]
            probs = np.empty_like(scores)
            for n in range(N):
                e = np.exp(scores[n] - np.max(scores[n]))
                probs[n] = e / np.sum(e)
            loss = -np.mean(np.log(probs[np.arange(N), y]))
            dscores = probs.copy()
            dscores[np.arange(N), y] -= 1
            return loss, dscores / N
        ''', {"softmax_cross_entropy"}),
}

#: Correct styles the timing must leave alone too (the benchmark measures them): broadcasting instead of matmul.
BROADCASTING = """
    def forward(X, params):
        W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
        z1 = (X[:, :, None] * W1[None]).sum(axis=1) + b1
        h1 = np.maximum(z1, 0.0)
        return (h1[:, :, None] * W2[None]).sum(axis=1) + b2, (X, z1, h1)
    """


#: name -> the replacing code; vectorized over the batch, so every role passes.
VECTORIZED = {
    "student_correct": "",
    # Debug prints left in: numpy prints small arrays whole and large ones as a summary (peak memory falls with N).
    "debug_prints": '''
        def forward(X, params):
            z1 = X @ params["W1"] + params["b1"]
            h1 = np.maximum(z1, 0.0)
            scores = h1 @ params["W2"] + params["b2"]
            print("debug: scores", scores)
            return scores, (X, z1, h1)

        def softmax_cross_entropy(scores, y):
            N = scores.shape[0]
            shifted = scores - scores.max(axis=1, keepdims=True)
            log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            dscores = np.exp(log_probs)
            dscores[np.arange(N), y] -= 1
            print("debug: dscores", dscores, "loss", -log_probs[np.arange(N), y].mean())
            return -log_probs[np.arange(N), y].mean(), dscores / N
        ''',
    # einsum for both affine layers.
    "einsum": '''
        def forward(X, params):
            z1 = np.einsum("nd,dh->nh", X, params["W1"]) + params["b1"]
            h1 = np.maximum(z1, 0.0)
            return np.einsum("nh,hc->nc", h1, params["W2"]) + params["b2"], (X, z1, h1)
        ''',
    # One-hot labels by np.eye(C)[y].
    "one_hot_eye": '''
        def softmax_cross_entropy(scores, y):
            N, C = scores.shape
            onehot = np.eye(C)[y]
            shifted = scores - scores.max(axis=1, keepdims=True)
            log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            return -np.sum(onehot * log_probs) / N, (np.exp(log_probs) - onehot) / N
        ''',
    # The -1 at the true class by np.add.at.
    "add_at": '''
        def softmax_cross_entropy(scores, y):
            N = scores.shape[0]
            shifted = scores - scores.max(axis=1, keepdims=True)
            log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            dscores = np.exp(log_probs)
            np.add.at(dscores, (np.arange(N), y), -1.0)
            return -log_probs[np.arange(N), y].mean(), dscores / N
        ''',
    # A Python loop over the C classes (its length does not grow with N: allowed).
    "class_loop": '''
        def softmax_cross_entropy(scores, y):
            N, C = scores.shape
            shifted = scores - scores.max(axis=1, keepdims=True)
            log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            dscores = np.exp(log_probs)
            loss = 0.0
            for c in range(C):
                rows = y == c
                loss -= log_probs[rows, c].sum()
                dscores[rows, c] -= 1.0
            return loss / N, dscores / N
        ''',
    # Broadcasting instead of matmul: an N x D x H intermediate, still one pass over the batch.
    "broadcasting": BROADCASTING,
    # Every product of backward by broadcasting and a sum (N x D x H, N x H x C intermediates).
    "broadcasting_backward": '''
        def backward(X, y, params, reg=0.0):
            W1, W2 = params["W1"], params["W2"]
            scores, (_, z1, h1) = forward(X, params)
            loss, dscores = softmax_cross_entropy(scores, y)
            loss = loss + 0.5 * reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
            dz1 = (dscores[:, None, :] * W2[None]).sum(axis=2) * (z1 > 0)
            grads = {"W1": (X[:, :, None] * dz1[:, None, :]).sum(0) + reg * W1, "b1": dz1.sum(axis=0),
                     "W2": (h1[:, :, None] * dscores[:, None, :]).sum(0) + reg * W2,
                     "b2": dscores.sum(axis=0), "X": (dz1[:, None, :] * W1[None]).sum(axis=2)}
            return float(loss), grads
        ''',
    # Every product of backward by einsum.
    "einsum_backward": '''
        def backward(X, y, params, reg=0.0):
            W1, W2 = params["W1"], params["W2"]
            scores, (_, z1, h1) = forward(X, params)
            loss, dscores = softmax_cross_entropy(scores, y)
            loss = loss + 0.5 * reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
            dz1 = np.einsum("nc,hc->nh", dscores, W2) * (z1 > 0)
            grads = {"W1": np.einsum("nd,nh->dh", X, dz1) + reg * W1, "b1": dz1.sum(axis=0),
                     "W2": np.einsum("nh,nc->hc", h1, dscores) + reg * W2,
                     "b2": dscores.sum(axis=0), "X": np.einsum("nh,dh->nd", dz1, W1)}
            return float(loss), grads
        ''',
    # The true class's probability by np.take_along_axis, a one-hot matrix filled by fancy indexing.
    "take_along_axis": '''
        def softmax_cross_entropy(scores, y):
            N = scores.shape[0]
            shifted = scores - np.max(scores, axis=1)[:, np.newaxis]
            probs = np.exp(shifted) / np.sum(np.exp(shifted), axis=1, keepdims=True)
            loss = -np.mean(np.log(np.take_along_axis(probs, y[:, None], axis=1)))
            onehot = np.zeros_like(probs)
            onehot[np.arange(N), y] = 1
            return loss, (probs - onehot) / N
        ''',
}


def assert_computes_the_reference(student) -> None:
    """The variant is correct: same loss and gradients as the reference (so only its iteration style is judged)."""
    problem = random_problem(np.random.default_rng(0), 6, 4, 5, 3)
    loss, grads = student.call("backward", problem.X, problem.y, problem.params, 0.1)
    expected_loss, expected = reference.backward(problem.X, problem.y, problem.params, 0.1)
    assert loss == pytest.approx(expected_loss, rel=1e-12)
    for k in ("W1", "b1", "W2", "b2"):
        np.testing.assert_allclose(grads[k], expected[k], rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", LOOPING)
def test_loops_over_the_batch_fail_their_roles(submission_from, name, seed):
    code, looping = LOOPING[name]
    student = submission_from(with_replaced(code))
    assert_computes_the_reference(student)
    for role in ROLES:
        result = check_vectorized(student, role, seed)
        if role in looping:
            assert (result.fraction, result.cause) == (0.0, "loops_over_batch"), (role, result)
            assert f"`{role}` loops over the examples" in result.feedback
            assert "N=8" in result.feedback and "N=1032" in result.feedback
        else:
            assert (result.fraction, result.cause) == (1.0, None), (role, result)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("name", VECTORIZED)
def test_vectorized_styles_pass_every_role(submission_from, name, seed):
    student = submission_from(with_replaced(VECTORIZED[name]))
    assert_computes_the_reference(student)
    for role in ROLES:
        result = check_vectorized(student, role, seed)
        assert (result.fraction, result.cause) == (1.0, None), (role, result)
        assert "line events" in result.feedback


#: Per-example work that runs no Python line: name -> (the replacing code, the role that fails, a pattern of its
#: feedback). A loop run in C creates arrays per example (the array count sees them); an N×N intermediate makes peak
#: memory grow as N² (memory_growth). Timing could not tell them from correct code that broadcasts (see the README).
NO_PYTHON_LOOP = {
    "c_level_map": ("""
        def forward(X, params):
            W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
            z1 = np.array(list(map(W1.T.dot, X))) + b1    # one dot product per example, looped in C
            h1 = np.maximum(z1, 0.0)
            return h1 @ W2 + b2, (X, z1, h1)
        """, "forward", r"loops over the examples in C: it creates \d\d arrays at N=8 but 2,0\d\d at N=1032"),
    "c_level_map_in_softmax": ("""
        def softmax_cross_entropy(scores, y):
            N = scores.shape[0]
            e = np.array(list(map(np.exp, scores - scores.max(axis=1, keepdims=True))))  # np.exp row by row
            probs = e / e.sum(axis=1, keepdims=True)
            loss = -np.mean(np.log(probs[np.arange(N), y]))
            dscores = probs.copy()
            dscores[np.arange(N), y] -= 1
            return loss, dscores / N
        """, "softmax_cross_entropy", r"loops over the examples in C: it creates \d\d arrays at N=8 but 2,0\d\d at "
                                     r"N=1032"),
    "n_by_n_intermediate": ("""
        def softmax_cross_entropy(scores, y):
            N = scores.shape[0]
            shifted = scores - scores.max(axis=1, keepdims=True)
            logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            loss = -np.mean(np.diag(logp[:, y]))            # logp[:, y] is N x N
            dscores = np.exp(logp)
            dscores[np.arange(N), y] -= 1
            return loss, dscores / N
        """, "softmax_cross_entropy", r"builds an N×N array: peak memory 8\.4 MB at N=1024 vs 2\.1 MB at N=512 "
                                     r"\(grows as N²\)"),
    "n_by_n_booleans": ("""
        def softmax_cross_entropy(scores, y):
            N, C = scores.shape
            same = y[:, None] == y[None, :]                  # N x N booleans
            shifted = scores - scores.max(axis=1, keepdims=True)
            logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
            onehot = (np.arange(C)[None, :] == y[:, None]) & same.any(axis=1, keepdims=True)
            return -np.sum(onehot * logp) / N, (np.exp(logp) - onehot) / N
        """, "softmax_cross_entropy", r"builds an N×N array: peak memory 1\.\d MB at N=1024 vs 0\.\d MB at N=512"),
    "n_by_n_in_backward": ("""
        def backward(X, y, params, reg=0.0):
            W1, W2 = params["W1"], params["W2"]
            scores, (_, z1, h1) = forward(X, params)
            N = X.shape[0]
            shifted = scores - scores.max(axis=1, keepdims=True)
            probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
            loss = -np.mean(np.log(probs[:, y].diagonal()))  # probs[:, y] is N x N
            loss = loss + 0.5 * reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
            dscores = (probs - np.eye(probs.shape[1])[y]) / N
            dz1 = (dscores @ W2.T) * (z1 > 0)
            grads = {"W1": X.T @ dz1 + reg * W1, "b1": dz1.sum(axis=0), "W2": h1.T @ dscores + reg * W2,
                     "b2": dscores.sum(axis=0), "X": dz1 @ W1.T}
            return float(loss), grads
        """, "backward", r"builds an N×N array: peak memory 8\.\d MB at N=1024 vs 2\.\d MB at N=512"),
}


@pytest.mark.parametrize("name", NO_PYTHON_LOOP)
def test_per_example_work_without_python_lines_fails_its_role(submission_from, name):
    """Deterministic (no timing): the array count and peak memory decide. backward calls the student's softmax, so a
    softmax's N×N shows in backward's memory too: charged to softmax_cross_entropy only."""
    code, looping, shown = NO_PYTHON_LOOP[name]
    student = submission_from(with_replaced(code))
    assert_computes_the_reference(student)
    for role in ROLES:
        result = check_vectorized(student, role, 0)
        if role == looping:
            assert (result.fraction, result.cause) == (0.0, "loops_over_batch"), (role, result)
            assert re.search(f"`{role}` {shown}", result.feedback), result.feedback
        else:
            assert (result.fraction, result.cause) == (1.0, None), (role, result)
    if looping == "softmax_cross_entropy" and "N×N" in shown:  # backward calls the student's softmax
        assert "`backward` builds an N×N array through `softmax_cross_entropy`, charged there" in check_vectorized(
            student, "backward", 0).feedback


def test_the_array_count_sees_arrays_made_in_c():
    rows = tracked_arrays.tracked(np.zeros((100, 3)))
    assert count_events(lambda: list(rows))[1][1] == 100  # one view per row, made by list() in C
    assert count_events(lambda: rows.sum(axis=1) + 1.0)[1][1] == 2
    assert count_events(lambda: list(np.zeros((100, 3))))[1][1] == 0  # plain arrays are not counted


def test_stopping_tracemalloc_is_tampering(submission_from):
    for stop in ("_tracemalloc.stop()", "_tracemalloc.stop(); _tracemalloc.start()"):
        student = submission_from(with_replaced(f"""
            import tracemalloc as _tracemalloc
            _softmax = softmax_cross_entropy
            def softmax_cross_entropy(scores, y):
                if len(y) >= 256:               # the memory measurement's batch sizes
                    {stop}
                return _softmax(scores, y)
            """))
        result = check_vectorized(student, "softmax_cross_entropy", 0)  # the worker's tracemalloc, not ours
        assert (result.fraction, result.cause) == (0.0, "tampering"), stop
        assert "it stopped tracemalloc" in result.feedback


NUMERICAL_BACKWARD = """
    def backward(X, y, params, reg=0.0):
        def loss_of(p):
            scores, _ = forward(X, p)
            loss, _ = softmax_cross_entropy(scores, y)
            return loss + 0.5 * reg * (np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2))
        work = {k: v.copy() for k, v in params.items()}
        grads = {k: numerical_gradient(lambda _: loss_of(work), work[k]) for k in ("W1", "b1", "W2", "b2")}
        return float(loss_of(work)), grads
    """


#: Central differences for every parameter at once, all perturbed networks in one batch: no loop anywhere, so the
#: line and array counts and the D×H count pass it, and its memory grows linearly. Timing catches it (hundreds of times
#: the reference per example at D = H = 10, C = 5; recorded in tests/test_timing.py).
VECTORIZED_NUMERICAL_BACKWARD = """
    def backward(X, y, params, reg=0.0):
        eps, names = 1e-5, ("W1", "b1", "W2", "b2")
        flat = np.concatenate([params[k].ravel() for k in names])
        P = flat.size
        shifted_params = np.concatenate([np.eye(P), -np.eye(P)]) * eps + flat   # (2P, P): one network per row
        cuts = np.cumsum([params[k].size for k in names])[:-1]
        W1, b1, W2, b2 = (p.reshape((2 * P,) + params[k].shape)
                          for p, k in zip(np.split(shifted_params, cuts, axis=1), names))
        h1 = np.maximum(np.matmul(X[None], W1) + b1[:, None, :], 0.0)        # (2P, N, H)
        scores = np.matmul(h1, W2) + b2[:, None, :]                            # (2P, N, C)
        shifted = scores - scores.max(axis=2, keepdims=True)
        logp = shifted - np.log(np.exp(shifted).sum(axis=2, keepdims=True))
        losses = -logp[:, np.arange(X.shape[0]), y].mean(axis=1)
        losses = losses + 0.5 * reg * ((W1 ** 2).sum(axis=(1, 2)) + (W2 ** 2).sum(axis=(1, 2)))
        grad = (losses[:P] - losses[P:]) / (2 * eps)
        grads = {k: g.reshape(params[k].shape) for k, g in zip(names, np.split(grad, cuts))}
        loss, _ = softmax_cross_entropy(forward(X, params)[0], y)
        return float(loss + 0.5 * reg * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))), grads
    """


def test_a_numerical_backward_vectorized_over_the_parameters_is_left_to_timing(submission_from):
    student = submission_from(with_replaced(VECTORIZED_NUMERICAL_BACKWARD))
    problem = random_problem(np.random.default_rng(0), 6, 4, 5, 3)
    loss, grads = student.call("backward", problem.X, problem.y, problem.params, 0.1)
    expected_loss, expected = reference.backward(problem.X, problem.y, problem.params, 0.1)
    assert loss == pytest.approx(expected_loss, rel=1e-12)
    for k in ("W1", "b1", "W2", "b2"):
        np.testing.assert_allclose(grads[k], expected[k], rtol=1e-6, atol=1e-9)  # finite differences' accuracy
    assert check_analytic(student, 0) is None
    assert check_vectorized(student, "backward", 0).passed  # untimed: no deterministic rule sees it


#: An analytic backward with a loop over input features, each step an einsum (hundreds of Python lines in numpy):
#: its count grows with D, but not with D·H.
FEATURE_LOOP_BACKWARD = """
    def backward(X, y, params, reg=0.0):
        W1, W2 = params["W1"], params["W2"]
        scores, (_, z1, h1) = forward(X, params)
        loss, dscores = softmax_cross_entropy(scores, y)
        loss = loss + 0.5 * reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
        dz1 = (dscores @ W2.T) * (z1 > 0)
        dW1 = np.stack([np.einsum("n,nh->h", X[:, d], dz1, optimize=True) for d in range(X.shape[1])])
        grads = {"W1": dW1 + reg * W1, "b1": dz1.sum(axis=0), "W2": h1.T @ dscores + reg * W2,
                 "b2": dscores.sum(axis=0), "X": dz1 @ W1.T}
        return float(loss), grads
    """

#: A numerical backward that remembers its answers: fresh inputs on every measured call defeat the memory.
MEMO_NUMERICAL_BACKWARD = NUMERICAL_BACKWARD.replace("    def backward(X, y, params, reg=0.0):", """    _memo = {}
    def backward(X, y, params, reg=0.0):
        key = (X.tobytes(), params["W1"].tobytes())
        if key not in _memo:
            _memo[key] = _backward(X, y, params, reg)
        return _memo[key]
    def _backward(X, y, params, reg=0.0):""")


def test_numerical_backward_is_told_apart_from_an_analytic_one(submission_from):
    for code in (NUMERICAL_BACKWARD, MEMO_NUMERICAL_BACKWARD):
        result = check_analytic(submission_from(with_replaced(code)), 0)
        assert (result.fraction, result.cause) == (0.0, "numerical_not_analytic")
        assert "numerically, not analytically" in result.feedback and "D=H=4" in result.feedback
    assert check_analytic(submission_from(BASE), 0) is None
    for name, code in {**VECTORIZED, "feature_loop": FEATURE_LOOP_BACKWARD, "broadcasting": BROADCASTING}.items():
        student = submission_from(with_replaced(code))
        assert_computes_the_reference(student)
        assert check_analytic(student, 0) is None, name


def test_backward_is_not_timed_when_its_slowness_would_be_charged_elsewhere(submission_from):
    """A numerical backward, or one that calls a looping forward, passes part2.vectorized whatever its time: it is
    not timed (deterministic: these calls never reach the clock)."""
    numerical = check_vectorized(submission_from(with_replaced(NUMERICAL_BACKWARD)), "backward", 0, reference)
    assert numerical.passed and "not timed: it is numerical, charged to the backward items" in numerical.feedback
    looping_forward = submission_from(with_replaced(NO_PYTHON_LOOP["c_level_map"][0]))
    through = check_vectorized(looping_forward, "backward", 0, reference)
    assert through.passed and "not timed: it calls `forward`, which fails this item itself" in through.feedback
    assert check_vectorized(looping_forward, "forward", 0, reference, timed=False).cause == "loops_over_batch"


def test_switching_the_tracer_off_is_tampering(submission_from):
    student = submission_from(with_replaced("""
        import sys as _sys
        _forward = forward
        def forward(X, params):
            getattr(_sys, "set" + "trace")(None)  # hide what follows from the line count (and from a reading)
            return _forward(X, params)
        """))
    result = check_vectorized(student, "forward", 0)
    assert (result.fraction, result.cause) == (0.0, "tampering")
    assert "it called sys.settrace" in result.feedback
    assert check_vectorized(student, "softmax_cross_entropy", 0).passed  # the worker's tracer was restored


def test_replacing_the_tracing_functions_at_import_is_tampering(submission_from):
    student = submission_from(BASE + "\nimport sys\nsetattr(sys, 'set' + 'trace', lambda *args: None)\n")
    result = check_vectorized(student, "backward", 0)
    assert (result.fraction, result.cause) == (0.0, "tampering")
    assert "replaced sys.settrace" in result.feedback


def test_replacing_the_clock_changes_nothing_the_grader_reads(submission_from):
    """The submission's process is not the grader's: its time.perf_counter is not the clock that decides."""
    student = submission_from(BASE + "\nimport time\ntime.perf_counter = lambda: 0.0\n")
    result = check_vectorized(student, "backward", 0, reference, timed=True)
    assert (result.fraction, result.cause) == (1.0, None), result.feedback
    assert "time per extra example" in result.feedback and " 0 µs vs" not in result.feedback


#: Ways a submission could tell a measured call from a plain one, each guarding a loop over the examples in forward.
TELLS = {
    "tracked arrays": "type(X) is not np.ndarray",
    "threading.gettrace": "threading.gettrace() is not None",
    "sys.gettrace": "sys.gettrace() is not None",
}


@pytest.mark.parametrize("tell", TELLS)
def test_a_loop_that_hides_from_the_measurement_is_still_counted(submission_from, tell):
    """The lines are counted on plain arrays with every tracer hidden: a loop that runs only when the call does not
    look measured runs in the count too."""
    student = submission_from(with_replaced(f"""
        import sys, threading
        _forward = forward
        def forward(X, params):
            if {TELLS[tell]}:
                return _forward(X, params)                       # measured: vectorized
            rows = [_forward(X[n:n + 1], params)[0] for n in range(X.shape[0])]
            return np.concatenate(rows), _forward(X, params)[1]
        """))
    result = check_vectorized(student, "forward", 0)
    assert (result.fraction, result.cause) == (0.0, "loops_over_batch"), result
    assert "`forward` loops over the examples" in result.feedback


def test_finite_differences_run_inside_forward_are_seen(submission_from):
    """The D×H count takes in everything backward calls: finite differences hidden in the student's forward behind an
    extra argument grow with D·H there."""
    student = submission_from(with_replaced('''
        _forward = forward
        def forward(X, params, _fd=None):
            if _fd is None:
                return _forward(X, params)
            y, reg = _fd
            def loss_of(p):
                loss, _ = softmax_cross_entropy(_forward(X, p)[0], y)
                return loss + 0.5 * reg * (np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2))
            work = {k: v.copy() for k, v in params.items()}
            grads = {k: numerical_gradient(lambda _: loss_of(work), work[k]) for k in ("W1", "b1", "W2", "b2")}
            return float(loss_of(work)), grads

        def backward(X, y, params, reg=0.0):
            return forward(X, params, _fd=(y, reg))
        '''))
    result = check_analytic(student, 0)
    assert result is not None and result.cause == "numerical_not_analytic", result
    assert "computes its gradients numerically" in result.feedback


def test_work_handed_to_threads_made_at_import_fails_as_hidden(submission_from):
    """A pool made at import runs the loop over the examples where the tracer never is: the CPU those threads use
    during a counted call shows it."""
    student = submission_from(with_replaced('''
        from concurrent.futures import ThreadPoolExecutor
        _pool = ThreadPoolExecutor(1)
        _pool.submit(lambda: None).result()  # the worker thread exists from the import on
        _softmax = softmax_cross_entropy
        def softmax_cross_entropy(scores, y):
            def rows():
                total = 0.0
                for _ in range(20):                          # per-example work, made heavy enough to measure
                    for n in range(scores.shape[0]):
                        total += float(scores[n].max())
                return total
            _pool.submit(rows).result()
            return _softmax(scores, y)
        '''))
    result = check_vectorized(student, "softmax_cross_entropy", 0)
    assert (result.fraction, result.cause) == (0.0, "hidden_work"), result
    assert "has its work done outside the thread that calls it" in result.feedback


def test_a_measured_call_must_compute_what_the_reference_computes(submission_from):
    """The numerical backward vectorized over the parameters (only timing sees it), made fast with a wrong answer at
    the timing's batch sizes: the measured calls' results are compared with the reference's (to finite differences'
    accuracy), as the function matches the reference elsewhere (the memory measurement at N=1024 sees it first)."""
    fast_when_timed = VECTORIZED_NUMERICAL_BACKWARD.replace("""        eps, names = 1e-5, ("W1", "b1", "W2", "b2")""",
                                                            """        if X.shape[0] in (64, 1024):
            return 0.0, {k: np.zeros_like(v) for k, v in params.items()}
        eps, names = 1e-5, ("W1", "b1", "W2", "b2")""")
    result = check_vectorized(submission_from(with_replaced(fast_when_timed)), "backward", 0, reference)
    assert (result.fraction, result.cause) == (0.0, "wrong_when_measured"), result
    assert re.search(r"`backward` returned something else when the grader measured it \(N=1024, D=2, H=2, C=2\) "
                     r"than the reference's: the loss differs \(the loss is 0 but expected is 0\.\d+ .*\)\. What "
                     r"the grader counts, traces and times must be the real computation, right at every size\.",
                     result.feedback), \
        result.feedback


def test_a_numerical_backward_that_answers_the_count_s_sizes_cheaply_fails(submission_from):
    """Finite differences everywhere but at the D×H count's batch of one, where the gradients are left out (zeros):
    the counted calls' results are compared with the reference's, so the backward items fail all the same."""
    work = "        work = {k: v.copy() for k, v in params.items()}"
    cheap = """        if X.shape[0] == 1:                 # the D×H count's batch
            return float(loss_of(params)), {k: np.zeros_like(v) for k, v in params.items()}
"""
    student = submission_from(with_replaced(NUMERICAL_BACKWARD.replace(work, cheap + work)))
    assert check_analytic(student, 0) is None  # without the reference: the plain call answers the same
    result = check_analytic(student, 0, reference)
    assert result is not None and result.cause == "wrong_when_measured", result
    assert re.search(r"`backward` returned something else when the grader measured it \(N=1, D=4, H=4, C=5\) than "
                     r"the reference's: grads\['W1'\] differs \(grads\['W1'\]\[\d, \d\] is 0 but expected is ",
                     result.feedback), result.feedback


#: Analytic backward passes whose work grows with D·H in honest ways: loops over features and hidden units calling
#: numpy (whose Python code runs per weight) or a helper of their own, once in forward and once in backward; a
#: sanity check per weight (isinstance against numbers.Real runs the standard library's frozen abc code, whose file
#: name "<frozen abc>" is not the submission's); a debug print.
HONEST_D_BY_H = {
    "np_sum_per_weight": '''
        _backward = backward
        def backward(X, y, params, reg=0.0):
            loss, grads = _backward(X, y, params, reg)
            scores, (_, z1, h1) = forward(X, params)
            dz1 = (softmax_cross_entropy(scores, y)[1] @ params["W2"].T) * (z1 > 0)
            D, H = params["W1"].shape
            dW1 = np.zeros((D, H))
            for d in range(D):
                for j in range(H):
                    dW1[d, j] = np.sum(X[:, d] * dz1[:, j])
            return loss, {**grads, "W1": dW1 + reg * params["W1"]}
        ''',
    "helper_per_weight_twice": '''
        def _product(a, b):
            return a * b
        def forward(X, params):
            W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
            z1 = np.zeros((X.shape[0], W1.shape[1])) + b1
            for d in range(W1.shape[0]):
                for j in range(W1.shape[1]):
                    z1[:, j] += _product(X[:, d], W1[d, j])
            h1 = np.maximum(z1, 0.0)
            return h1 @ W2 + b2, (X, z1, h1)
        def backward(X, y, params, reg=0.0):
            W1, W2 = params["W1"], params["W2"]
            scores, (_, z1, h1) = forward(X, params)
            loss, dscores = softmax_cross_entropy(scores, y)
            dz1 = (dscores @ W2.T) * (z1 > 0)
            dX = np.zeros_like(X)
            for d in range(X.shape[1]):
                for j in range(dz1.shape[1]):
                    dX[:, d] += _product(dz1[:, j], W1[d, j])
            grads = {"W1": X.T @ dz1 + reg * W1, "b1": dz1.sum(axis=0), "W2": h1.T @ dscores + reg * W2,
                     "b2": dscores.sum(axis=0), "X": dX}
            return float(loss + 0.5 * reg * (np.sum(W1 * W1) + np.sum(W2 * W2))), grads
        ''',
    "checks_per_weight": '''
        import numbers
        _backward = backward
        def _check(value):
            assert isinstance(value, numbers.Real) and np.isclose(value, value)   # abc code runs per weight
            return value
        def backward(X, y, params, reg=0.0):
            loss, grads = _backward(X, y, params, reg)
            D, H = grads["W1"].shape
            grads["W1"] = np.array([[_check(float(grads["W1"][d, j])) for j in range(H)] for d in range(D)])
            return loss, grads
        ''',
    "debug_print_of_the_gradients": '''
        _backward = backward
        def backward(X, y, params, reg=0.0):
            loss, grads = _backward(X, y, params, reg)
            print("dW1 =", grads["W1"])
            return loss, grads
        ''',
}


@pytest.mark.parametrize("name", HONEST_D_BY_H)
def test_honest_work_that_grows_with_d_times_h_is_analytic(submission_from, name):
    student = submission_from(with_replaced(HONEST_D_BY_H[name]))
    assert_computes_the_reference(student)
    assert check_analytic(student, 0, reference) is None


def test_work_done_in_a_thread_the_call_starts_without_threading_is_hidden(submission_from):
    """_thread's threads get no tracer (threading.settrace reaches threading's only): their CPU shows the work."""
    student = submission_from(with_replaced('''
        import _thread
        _softmax = softmax_cross_entropy
        def softmax_cross_entropy(scores, y):
            box, done = [], _thread.allocate_lock()
            done.acquire()
            def rows():
                total = 0.0
                for _ in range(20):
                    for n in range(scores.shape[0]):         # per-example work, heavy enough to measure
                        total += float(scores[n].max())
                box.append(_softmax(scores, y))
                done.release()
            _thread.start_new_thread(rows, ())
            done.acquire()
            return box[0]
        '''))
    result = check_vectorized(student, "softmax_cross_entropy", 0)
    assert (result.fraction, result.cause) == (0.0, "hidden_work"), result


def test_every_measured_call_is_checked_not_only_the_last_of_its_size(submission_from):
    """A loop over the examples that answers every other large call with a cheap wrong result (the count keeps the
    smaller of two calls' lines): that answer is caught among the measured calls' results."""
    student = submission_from(with_replaced('''
        _calls = [0]
        _softmax = softmax_cross_entropy
        def softmax_cross_entropy(scores, y):
            if len(y) > 1000:
                _calls[0] += 1
                if _calls[0] % 2:
                    return 0.0, np.zeros_like(scores)
            rows = [_softmax(scores[n:n + 1], y[n:n + 1]) for n in range(len(y))]
            return (sum(loss for loss, _ in rows) / len(y),
                    np.concatenate([d for _, d in rows]) / len(y))
        '''))
    result = check_vectorized(student, "softmax_cross_entropy", 0, reference, timed=False)
    assert (result.fraction, result.cause) == (0.0, "wrong_when_measured"), result
    assert re.search(r"returned something else when the grader measured it \(N=1032, C=5\) than the reference's: "
                     r"the loss differs \(the loss is 0 but expected is ", result.feedback), result.feedback


def test_results_in_reused_buffers_are_checked_as_they_were_returned(submission_from):
    """A legitimate speed trick: dscores written into one buffer kept between calls of the same shape. The measured
    calls' results are copied when they return, so a later call overwriting the buffer changes nothing."""
    student = submission_from(with_replaced('''
        _buffers = {}
        _softmax = softmax_cross_entropy
        def softmax_cross_entropy(scores, y):
            loss, dscores = _softmax(scores, y)
            out = _buffers.setdefault(scores.shape, np.empty(scores.shape))
            out[...] = dscores
            return loss, out
        '''))
    result = check_vectorized(student, "softmax_cross_entropy", 0, reference, timed=False)
    assert (result.fraction, result.cause) == (1.0, None), result


#: Central differences over every entry, on copies of the parameters (plain arrays).
_FD = '''
def _fd(L, params):
    P = {k: np.array(v, dtype=np.float64, copy=True) for k, v in params.items()}
    grads = {}
    for k in ("W1", "b1", "W2", "b2"):
        p, g = P[k].reshape(-1), np.zeros(P[k].size)
        for i in range(p.size):
            o = p[i]; p[i] = o + 1e-5; a = L(P); p[i] = o - 1e-5; b = L(P); p[i] = o
            g[i] = (a - b) / 2e-5
        grads[k] = g.reshape(params[k].shape)
    return grads
'''
#: Finite differences that neither call the student's functions by name nor run many lines: forward and the softmax
#: as instances with __call__ (their calls are watched all the same), or the loss in one compact helper (the arrays
#: computed from the inputs grow with D·H).
HIDDEN_FINITE_DIFFERENCES = {
    "callable_instances": _FD + '''
class _Forward:
    def __call__(self, X, params):
        z1 = X @ params["W1"] + params["b1"]; h1 = np.maximum(z1, 0.0)
        return h1 @ params["W2"] + params["b2"], (X, z1, h1)

class _SCE:
    def __call__(self, scores, y):
        N = scores.shape[0]; s = scores - np.maximum.reduce(scores, 1)[:, None]; e = np.exp(s)
        S = np.add.reduce(e, 1); p = e / S[:, None]; p[np.arange(N), y] -= 1
        return np.add.reduce(np.log(S) - s[np.arange(N), y]) / N, p / N

forward, softmax_cross_entropy = _Forward(), _SCE()

def backward(X, y, params, reg=0.0):
    def L(P):
        return float(softmax_cross_entropy(forward(X, P)[0], y)[0]
                     + 0.5 * reg * (np.add.reduce((P["W1"] ** 2).ravel()) + np.add.reduce((P["W2"] ** 2).ravel())))
    return L(params), _fd(L, params)
''',
    "compact_loss": _FD + '''
def _L(X, y, P, reg):
    s = np.maximum(X @ P["W1"] + P["b1"], 0) @ P["W2"] + P["b2"]; m = np.maximum.reduce(s, 1)
    return float(np.add.reduce(np.log(np.add.reduce(np.exp(s - m[:, None]), 1)) + m - s[np.arange(len(y)), y])
                 / len(y) + 0.5 * reg * (np.add.reduce((P["W1"] * P["W1"]).ravel())
                                         + np.add.reduce((P["W2"] * P["W2"]).ravel())))

def backward(X, y, params, reg=0.0):
    return _L(X, y, params, reg), _fd(lambda P: _L(X, y, P, reg), params)
''',
}


@pytest.mark.parametrize("name", HIDDEN_FINITE_DIFFERENCES)
def test_finite_differences_without_named_calls_or_many_lines_are_numerical(submission_from, name):
    student = submission_from(BASE + "\n" + HIDDEN_FINITE_DIFFERENCES[name])
    result = check_analytic(student, 0)
    assert result is not None and result.cause == "numerical_not_analytic", result
    assert "computes its gradients numerically, not analytically" in result.feedback
