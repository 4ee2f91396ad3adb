"""Two-layer classifier with a log-sum-exp cross-entropy, gradients derived by hand."""
import numpy as np

GRAD_CHECK_TOL = 5e-6
KEYS = ("W1", "b1", "W2", "b2")


def shapes(N, D, H, C):
    return dict(
        X=[N, D], W1=[D, H], b1=[H], z1=[N, H], h1=[N, H], W2=[H, C], b2=[C],
        scores=[N, C], probs=[N, C], dscores=[N, C], dW2=[H, C], db2=[C],
        dh1=[N, H], dz1=[N, H], dW1=[D, H], db1=[H], dX=[N, D],
    )


def forward(X, params):
    z1 = X.dot(params["W1"]) + params["b1"]        # (N, H)
    relu_mask = z1 > 0                             # (N, H) bool
    h1 = z1 * relu_mask                            # (N, H)
    scores = h1.dot(params["W2"]) + params["b2"]   # (N, C)
    cache = {"X": X, "h1": h1, "mask": relu_mask}
    return scores, cache


def softmax_cross_entropy(scores, y):
    N = scores.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)                         # (N, C)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))    # (N, C)
    loss = -log_probs[np.arange(N), y].mean()                                   # scalar
    probs = np.exp(log_probs)                                                   # (N, C)
    dscores = probs                                                             # (N, C), a fresh array
    dscores[np.arange(N), y] -= 1.0                                             # (N, C)
    dscores *= 1.0 / N                                                          # (N, C)
    return loss, dscores


def backward(X, y, params, reg=0.0):
    scores, cache = forward(X, params)                     # (N, C)
    loss, dscores = softmax_cross_entropy(scores, y)       # scalar, (N, C)
    W1, W2 = params["W1"], params["W2"]                    # (D, H), (H, C)
    loss = loss + 0.5 * reg * ((W1 ** 2).sum() + (W2 ** 2).sum())

    dW2 = cache["h1"].T.dot(dscores) + reg * W2            # (H, C)
    db2 = dscores.sum(0)                                   # (C,)
    dh1 = dscores.dot(W2.T)                                # (N, H)
    dz1 = dh1 * cache["mask"]                              # (N, H)
    dW1 = X.T.dot(dz1) + reg * W1                          # (D, H)
    db1 = dz1.sum(0)                                       # (H,)
    dX = dz1.dot(W1.T)                                     # (N, D)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2, "X": dX}


def numerical_gradient(f, x, eps=1e-5):
    grad = np.zeros(x.shape)                               # float64, shaped like x
    with np.nditer(x, flags=["multi_index"], op_flags=["readwrite"]) as it:
        for _ in it:
            i = it.multi_index
            keep = x[i]
            try:
                x[i] = keep + eps
                hi = float(f(x))
                x[i] = keep - eps
                lo = float(f(x))
            finally:
                x[i] = keep
            grad[i] = (hi - lo) / (2.0 * eps)
    return grad


def rel_error(a, b):
    a = np.atleast_1d(np.asarray(a, dtype=np.float64))
    b = np.atleast_1d(np.asarray(b, dtype=np.float64))
    a, b = np.broadcast_arrays(a, b)
    finite = np.isfinite(a) & np.isfinite(b)
    with np.errstate(over="ignore", invalid="ignore"):
        num = np.abs(a - b)
        den = np.abs(a) + np.abs(b)
    err = np.full(a.shape, np.inf)              # non-finite entries never pass
    err[finite & (den == 0)] = 0.0              # both zero: no error
    ok = finite & (den > 0)
    err[ok] = num[ok] / den[ok]
    return float(err.max()) if err.size else 0.0


def _analytic_copy(grads, name, param):
    """A private float64 copy of grads[name], or None if it is unusable."""
    try:
        g = np.array(grads[name], dtype=np.float64)
    except (KeyError, TypeError, ValueError):
        return None
    if g.shape != np.shape(param) or not np.isfinite(g).all():
        return None
    return g


def _check_param(backward_fn, X, y, params, reg, eps, name, analytic):
    """rel_error between analytic and central differences of backward_fn's own loss."""
    if analytic is None:
        return float("inf")
    loss_of = lambda _: backward_fn(X, y, params, reg)[0]
    numeric = numerical_gradient(loss_of, params[name], eps)
    return rel_error(analytic, numeric)


def grad_check(backward_fn, X, y, params, reg=0.0, eps=1e-5):
    _, grads = backward_fn(X, y, params, reg)
    analytic = {k: _analytic_copy(grads, k, params[k]) for k in KEYS}
    snapshot = [(X, X.copy())] + [(params[k], params[k].copy()) for k in KEYS]
    try:
        return {k: _check_param(backward_fn, X, y, params, reg, eps, k, analytic[k]) for k in KEYS}
    finally:
        for arr, saved in snapshot:
            if not np.array_equal(arr, saved, equal_nan=True):
                arr[...] = saved


def _factor(a, n):
    """Least-squares c with a ~ c * n, or None when n is all zeros."""
    nn = float(np.vdot(n, n))
    return None if nn == 0.0 else float(np.vdot(a, n)) / nn


def _agree(a, n, tol=1e-6):
    err = np.abs(a - n)
    bound = tol * (np.abs(a) + np.abs(n)) + 1e-12 * max(np.abs(a).max(initial=0), np.abs(n).max(initial=0))
    return bool((err <= bound).all())


def diagnose(analytic, numeric):
    a, n = {}, {}
    for k in KEYS:
        if k not in analytic:
            return "shape"
        a[k], n[k] = np.asarray(analytic[k]), np.asarray(numeric[k])
        if a[k].shape != n[k].shape:
            return "shape"
    if not all(np.isfinite(a[k]).all() for k in KEYS):
        return "nan"
    a = {k: v.astype(np.float64) for k, v in a.items()}
    n = {k: v.astype(np.float64) for k, v in n.items()}
    match = {k: _agree(a[k], n[k]) for k in KEYS}
    if all(match.values()):
        return "ok"
    factors = [_factor(a[k], n[k]) for k in KEYS]
    if not any(match.values()) and None not in factors:
        c = factors[0]
        if (all(abs(ck - c) <= 1e-6 * abs(c) for ck in factors)
                and all(_agree(a[k], c * n[k]) for k in KEYS)
                and abs(c) > 1e-6 and abs(c - 1.0) > 1e-6):
            return "scale"
    layer1_ok = match["W1"] and match["b1"]
    layer2_ok = match["W2"] and match["b2"]
    if layer2_ok:
        return "layer1"
    if layer1_ok:
        return "layer2"
    return "other"
