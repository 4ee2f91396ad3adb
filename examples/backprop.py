"""A sample student submission with two classic bugs (dscores without the 1/N; the ReLU mask taken from the
upstream gradient), to show what the grader reports. Grade it with `backprop-grader grade examples/backprop.py`."""
import numpy as np

GRAD_CHECK_TOL = 1e-6  # analytic vs central differences in float64 agree to ~1e-8 or better


# ---------------------------------------------------------------- Part 1
def shapes(N, D, H, C):
    return {
        "X": (N, D), "W1": (D, H), "b1": (H,), "z1": (N, H), "h1": (N, H),
        "W2": (H, C), "b2": (C,), "scores": (N, C), "probs": (N, C),
        "dscores": (N, C), "dW2": (H, C), "db2": (C,), "dh1": (N, H),
        "dz1": (N, H), "dW1": (D, H), "db1": (H,), "dX": (N, D),
    }


# ---------------------------------------------------------------- Part 2
def forward(X, params):
    W1, b1 = params["W1"], params["b1"]  # (D, H), (H,)
    W2, b2 = params["W2"], params["b2"]  # (H, C), (C,)
    z1 = X @ W1 + b1                     # (N, H)
    h1 = np.maximum(z1, 0.0)             # (N, H)
    scores = h1 @ W2 + b2                # (N, C)
    cache = (X, z1, h1)
    return scores, cache


def softmax_cross_entropy(scores, y):
    N = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)             # (N, C), row max is 0
    exp_scores = np.exp(shifted)                                     # (N, C)
    sum_exp = exp_scores.sum(axis=1, keepdims=True)                  # (N, 1)
    probs = exp_scores / sum_exp                                     # (N, C)
    # log p[y] = shifted[y] - log(sum exp): never log(0), even for confident mistakes
    loss = -np.mean(shifted[range(N), y] - np.log(sum_exp[:, 0]))   # scalar
    dscores = probs.copy()                                           # (N, C)
    dscores[range(N), y] -= 1                                        # (N, C)
    # (N, C): the one factor 1/N of the mean
    return loss, dscores


def backward(X, y, params, reg=0.0):
    W1, W2 = params["W1"], params["W2"]   # (D, H), (H, C)
    scores, cache = forward(X, params)    # (N, C)
    _, z1, h1 = cache                     # (N, H), (N, H)
    loss, dscores = softmax_cross_entropy(scores, y)                 # scalar, (N, C)
    loss = loss + 0.5 * reg * (np.sum(W1 * W1) + np.sum(W2 * W2))   # scalar

    dW2 = h1.T @ dscores                  # (H, C)
    db2 = dscores.sum(axis=0)             # (C,)
    dh1 = dscores @ W2.T                  # (N, H)
    # (N, H): ReLU passes the gradient only where the unit was active
    dz1 = dh1 * (dh1 > 0)
    # (D, H)
    dW1 = X.T @ dz1
    # (H,)
    db1 = dz1.sum(axis=0)
    dX = dz1 @ W1.T                       # (N, D)

    dW1 = dW1 + reg * W1                  # (D, H)
    dW2 = dW2 + reg * W2                  # (H, C)
    grads = {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "X": dX}
    return float(loss), grads


# ---------------------------------------------------------------- Part 3
def numerical_gradient(f, x, eps=1e-5):
    grad = np.zeros(x.shape, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        old = x[ix].copy()                # saved original value
        try:
            x[ix] = old + eps
            f_plus = float(f(x))
            x[ix] = old - eps
            f_minus = float(f(x))
        finally:
            x[ix] = old                   # restore, also if f raised
        grad[ix] = (f_plus - f_minus) / (2.0 * eps)
        it.iternext()
    return grad


def rel_error(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        num = np.abs(a - b)
        den = np.abs(a) + np.abs(b)
        err = np.where(num == 0, 0.0, num / den)   # 0 where both are 0 (or equal)
    err = np.where(np.isnan(err), np.inf, err)     # nan/inf inputs never pass
    if err.size == 0:
        return 0.0
    return float(np.max(err))


def grad_check(backward_fn, X, y, params, reg=0.0, eps=1e-5):
    _, grads = backward_fn(X, y, params, reg)
    analytic = {}
    for name in ("W1", "b1", "W2", "b2"):
        try:
            analytic[name] = np.array(grads[name], dtype=np.float64, copy=True)
        except (KeyError, TypeError, ValueError):
            analytic[name] = None

    X_saved = X.copy()
    params_saved = {k: np.copy(v) for k, v in params.items()}
    errors = {}
    try:
        for name in ("W1", "b1", "W2", "b2"):
            a = analytic[name]
            p = params[name]
            if a is None or a.shape != np.shape(p) or not np.all(np.isfinite(a)):
                errors[name] = float("inf")
                continue
            f = lambda _: backward_fn(X, y, params, reg)[0]
            num = numerical_gradient(f, p, eps)
            errors[name] = rel_error(a, num)
    finally:
        # a backward_fn that edits its inputs must not leave them changed
        if not np.array_equal(X, X_saved, equal_nan=True):
            X[...] = X_saved
        for k, v in params_saved.items():
            if not np.array_equal(params[k], v, equal_nan=True):
                params[k][...] = v
    return errors


# ---------------------------------------------------------------- Part 4
def _matches(a, b, tol=1e-6):
    floor = 1e-12 * max(np.max(np.abs(b), initial=0.0), np.max(np.abs(a), initial=0.0))
    return bool(np.all(np.abs(a - b) <= tol * (np.abs(a) + np.abs(b)) + floor))


def diagnose(analytic, numeric):
    names = ("W1", "b1", "W2", "b2")
    a = {k: np.asarray(analytic[k], dtype=np.float64) if k in analytic else None for k in names}
    n = {k: np.asarray(numeric[k], dtype=np.float64) for k in names}
    if any(a[k] is None or a[k].shape != n[k].shape for k in names):
        return "shape"
    if any(not np.all(np.isfinite(a[k])) for k in names):
        return "nan"
    ok = {k: _matches(a[k], n[k]) for k in names}
    if all(ok.values()):
        return "ok"
    if not any(ok.values()):
        # least-squares factor per parameter: a ~ c * n
        factors = []
        for k in names:
            nn = np.sum(n[k] * n[k])
            if nn == 0:
                break
            c = np.sum(a[k] * n[k]) / nn
            if not _matches(a[k], c * n[k]):
                break
            factors.append(c)
        if len(factors) == len(names):
            c0 = factors[0]
            same = all(abs(c - c0) <= 1e-6 * abs(c0) for c in factors)
            if same and abs(c0) > 1e-6 and abs(c0 - 1) > 1e-6:
                return "scale"
    if ok["W2"] and ok["b2"]:
        return "layer1"
    if ok["W1"] and ok["b1"]:
        return "layer2"
    return "other"
