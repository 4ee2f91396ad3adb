"""Backprop assignment. One-hot targets from an identity matrix; ReLU with np.maximum / np.where."""
import numpy as np

GRAD_CHECK_TOL = 1e-7
PARAM_NAMES = ["W1", "b1", "W2", "b2"]


def shapes(N, D, H, C):
    table = {}
    for name in ["X", "dX"]:
        table[name] = (N, D)
    for name in ["W1", "dW1"]:
        table[name] = (D, H)
    for name in ["b1", "db1"]:
        table[name] = (H,)
    for name in ["z1", "h1", "dh1", "dz1"]:
        table[name] = (N, H)
    for name in ["W2", "dW2"]:
        table[name] = (H, C)
    for name in ["b2", "db2"]:
        table[name] = (C,)
    for name in ["scores", "probs", "dscores"]:
        table[name] = (N, C)
    return table


def forward(X, params):
    z1 = np.dot(X, params["W1"]) + params["b1"]          # (N, D)·(D, H) + (H,) -> (N, H)
    h1 = np.maximum(0.0, z1)                             # (N, H)
    scores = np.dot(h1, params["W2"]) + params["b2"]     # (N, H)·(H, C) + (C,) -> (N, C)
    return scores, [z1, h1]


def softmax_cross_entropy(scores, y):
    N, C = scores.shape
    onehot = np.eye(C)[y]                                            # (N, C)
    shifted = scores - np.max(scores, axis=1, keepdims=True)         # (N, C)
    log_norm = np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))  # (N, 1)
    log_probs = shifted - log_norm                                   # (N, C)
    probs = np.exp(log_probs)                                        # (N, C)
    loss = -np.sum(onehot * log_probs) / N                           # scalar
    dscores = (probs - onehot) / N                                   # (N, C)
    return loss, dscores


def backward(X, y, params, reg=0.0):
    scores, (z1, h1) = forward(X, params)                 # (N, C), (N, H), (N, H)
    loss, dscores = softmax_cross_entropy(scores, y)      # scalar, (N, C)
    W1 = params["W1"]                                     # (D, H)
    W2 = params["W2"]                                     # (H, C)
    loss += 0.5 * reg * np.sum(W1 ** 2) + 0.5 * reg * np.sum(W2 ** 2)

    grads = {}
    grads["W2"] = np.dot(h1.T, dscores) + reg * W2        # (H, N)·(N, C) -> (H, C)
    grads["b2"] = np.sum(dscores, axis=0)                 # (C,)
    dh1 = np.dot(dscores, W2.T)                           # (N, C)·(C, H) -> (N, H)
    dz1 = np.where(z1 > 0, dh1, 0.0)                      # (N, H)
    grads["W1"] = np.dot(X.T, dz1) + reg * W1             # (D, N)·(N, H) -> (D, H)
    grads["b1"] = np.sum(dz1, axis=0)                     # (H,)
    grads["X"] = np.dot(dz1, W1.T)                        # (N, H)·(H, D) -> (N, D)
    return loss, grads


def numerical_gradient(f, x, eps=1e-5):
    grad = np.zeros_like(x, dtype=np.float64)
    for idx in np.ndindex(x.shape):
        original = x[idx]
        try:
            x[idx] = original + eps
            up = f(x)
            x[idx] = original - eps
            down = f(x)
        finally:
            x[idx] = original
        grad[idx] = (up - down) / (2 * eps)
    return grad


def rel_error(a, b):
    diff = np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))
    total = np.abs(np.asarray(a, dtype=np.float64)) + np.abs(np.asarray(b, dtype=np.float64))
    both_zero = (total == 0)
    ratio = diff / np.where(both_zero, 1.0, total)         # both 0 -> 0 / 1 = 0
    if ratio.size == 0:
        return 0.0
    if np.isnan(ratio).any():
        return float("inf")
    return float(ratio.max())


def grad_check(backward_fn, X, y, params, reg=0.0, eps=1e-5):
    _, grads = backward_fn(X, y, params, reg)
    saved_grads = {}
    for name in PARAM_NAMES:
        saved_grads[name] = np.array(grads[name], dtype=np.float64) if name in grads else None
    X_before = X.copy()
    params_before = {name: params[name].copy() for name in PARAM_NAMES}

    def loss_only(_):
        return backward_fn(X, y, params, reg)[0]

    result = {}
    try:
        for name in PARAM_NAMES:
            g = saved_grads[name]
            if g is None or g.shape != params[name].shape:
                result[name] = float("inf")
            elif not np.isfinite(g).all():
                result[name] = float("inf")
            else:
                result[name] = rel_error(g, numerical_gradient(loss_only, params[name], eps))
    finally:
        if not np.array_equal(X_before, X, equal_nan=True):
            X[...] = X_before
        for name in PARAM_NAMES:
            if not np.array_equal(params_before[name], params[name], equal_nan=True):
                params[name][...] = params_before[name]
    return result


def diagnose(analytic, numeric):
    # 1) shapes, 2) non-finite values
    for name in PARAM_NAMES:
        if name not in analytic or np.shape(analytic[name]) != np.shape(numeric[name]):
            return "shape"
    a = {k: np.asarray(analytic[k], dtype=np.float64) for k in PARAM_NAMES}
    n = {k: np.asarray(numeric[k], dtype=np.float64) for k in PARAM_NAMES}
    if any(np.isnan(a[k]).any() or np.isinf(a[k]).any() for k in PARAM_NAMES):
        return "nan"

    def same(u, v):
        # relative comparison by norms: ||u - v|| small compared with ||u|| + ||v||
        return np.linalg.norm(u - v) <= 1e-7 * (np.linalg.norm(u) + np.linalg.norm(v))

    wrong = set(k for k in PARAM_NAMES if not same(a[k], n[k]))
    if not wrong:
        return "ok"

    # 3) one common factor: signed ratio of norms per parameter, then a ~ c * n
    if wrong == set(PARAM_NAMES):
        factors = []
        for k in PARAM_NAMES:
            nn = np.linalg.norm(n[k])
            if nn == 0:
                break
            c = np.sign(np.sum(a[k] * n[k])) * np.linalg.norm(a[k]) / nn
            if not same(a[k], c * n[k]):
                break
            factors.append(c)
        else:
            c0 = factors[0]
            if np.allclose(factors, c0, rtol=1e-6, atol=0.0) and c0 != 0 and not np.isclose(c0, 1.0, rtol=0, atol=1e-6):
                return "scale"

    # 4) which layer
    if wrong <= {"W1", "b1"}:
        return "layer1"
    if wrong <= {"W2", "b2"}:
        return "layer2"
    return "other"
