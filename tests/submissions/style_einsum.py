"""Two-layer net, backprop by hand; every contraction written as an einsum."""
import numpy as np

GRAD_CHECK_TOL = 1e-5
LAYERS = ("W1", "b1", "W2", "b2")


def shapes(N, D, H, C):
    s = dict(X=(N, D), W1=(D, H), b1=(H,), z1=(N, H), h1=(N, H), W2=(H, C), b2=(C,))
    s.update(scores=(N, C), probs=(N, C), dscores=(N, C))
    s.update(dW2=(H, C), db2=(C,), dh1=(N, H), dz1=(N, H), dW1=(D, H), db1=(H,), dX=(N, D))
    return s


def forward(X, params):
    z1 = np.einsum("nd,dh->nh", X, params["W1"]) + params["b1"]        # (N, H)
    h1 = np.maximum(z1, 0.0)                                           # (N, H)
    scores = np.einsum("nh,hc->nc", h1, params["W2"]) + params["b2"]   # (N, C)
    return scores, {"X": X, "z1": z1, "h1": h1}


def softmax_cross_entropy(scores, y):
    n = scores.shape[0]
    y = np.asarray(y)                                          # (N,)
    rows = np.arange(n)                                        # (N,)
    m = np.max(scores, axis=1, keepdims=True)                  # (N, 1)
    e = np.exp(scores - m)                                     # (N, C)
    z = np.einsum("nc->n", e)                                  # (N,)
    lse = m[:, 0] + np.log(z)                                  # (N,)  log-sum-exp
    loss = np.mean(lse - scores[rows, y])                      # scalar
    p = e / z[:, None]                                         # (N, C)
    dscores = (p - (np.arange(scores.shape[1]) == y[:, None])) / n   # (N, C)
    return loss, dscores


def backward(X, y, params, reg=0.0):
    scores, cache = forward(X, params)                         # (N, C)
    data_loss, dscores = softmax_cross_entropy(scores, y)      # scalar, (N, C)
    W1, W2 = params["W1"], params["W2"]                        # (D, H), (H, C)
    reg_loss = 0.5 * reg * (np.einsum("dh,dh->", W1, W1) + np.einsum("hc,hc->", W2, W2))

    dW2 = np.einsum("nh,nc->hc", cache["h1"], dscores) + reg * W2   # (H, C)
    db2 = np.einsum("nc->c", dscores)                               # (C,)
    dh1 = np.einsum("nc,hc->nh", dscores, W2)                       # (N, H)
    dz1 = np.einsum("nh,nh->nh", dh1, (cache["z1"] > 0).astype(np.float64))  # (N, H)
    dW1 = np.einsum("nd,nh->dh", X, dz1) + reg * W1                 # (D, H)
    db1 = np.einsum("nh->h", dz1)                                   # (H,)
    dX = np.einsum("nh,dh->nd", dz1, W1)                            # (N, D)
    return data_loss + reg_loss, dict(W1=dW1, b1=db1, W2=dW2, b2=db2, X=dX)


def numerical_gradient(f, x, eps=1e-5):
    grad = np.empty(x.shape, dtype=np.float64)
    flat = x.reshape(-1)
    if np.shares_memory(flat, x):
        # contiguous: flat is a view, so writing flat[i] writes x
        flat_grad = grad.reshape(-1)
        for i in range(flat.size):
            saved = flat[i]
            try:
                flat[i] = saved + eps
                fp = f(x)
                flat[i] = saved - eps
                fm = f(x)
            finally:
                flat[i] = saved
            flat_grad[i] = (float(fp) - float(fm)) / (2 * eps)
    else:
        # reshape had to copy: index x itself
        for idx in np.ndindex(*x.shape):
            saved = x[idx]
            try:
                x[idx] = saved + eps
                fp = f(x)
                x[idx] = saved - eps
                fm = f(x)
            finally:
                x[idx] = saved
            grad[idx] = (float(fp) - float(fm)) / (2 * eps)
    return grad


def rel_error(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        r = np.abs(a - b) / np.maximum(np.abs(a) + np.abs(b), 1e-12)   # 0/1e-12 = 0 when both 0
    if r.size == 0:
        return 0.0
    worst = np.max(r)
    return float("inf") if np.isnan(worst) else float(worst)


def grad_check(backward_fn, X, y, params, reg=0.0, eps=1e-5):
    _, raw = backward_fn(X, y, params, reg)
    analytic = {}
    for k in LAYERS:
        g = raw.get(k) if hasattr(raw, "get") else None
        analytic[k] = None if g is None else np.array(g, dtype=np.float64)   # private copy
    before_X = np.copy(X)
    before_p = {k: np.copy(params[k]) for k in LAYERS}

    def f(_):
        return backward_fn(X, y, params, reg)[0]

    out = {}
    try:
        for k in LAYERS:
            g = analytic[k]
            if g is None or g.shape != np.shape(params[k]) or not np.isfinite(g).all():
                out[k] = float("inf")
            else:
                out[k] = rel_error(g, numerical_gradient(f, params[k], eps))
    finally:
        if not np.array_equal(X, before_X, equal_nan=True):
            np.copyto(X, before_X)
        for k in LAYERS:
            if not np.array_equal(params[k], before_p[k], equal_nan=True):
                np.copyto(params[k], before_p[k])
    return out


def diagnose(analytic, numeric):
    A, Nm = {}, {}
    for k in LAYERS:
        if k not in analytic or np.shape(analytic[k]) != np.shape(numeric[k]):
            return "shape"
        A[k] = np.asarray(analytic[k], dtype=np.float64)
        Nm[k] = np.asarray(numeric[k], dtype=np.float64)
    if not all(np.isfinite(A[k]).all() for k in LAYERS):
        return "nan"

    def close(u, v):
        scale = max(np.abs(u).max(initial=0.0), np.abs(v).max(initial=0.0))
        return bool((np.abs(u - v) <= 1e-6 * (np.abs(u) + np.abs(v)) + 1e-12 * scale).all())

    good = [close(A[k], Nm[k]) for k in LAYERS]
    if all(good):
        return "ok"
    if not any(good):
        cs = []
        for k in LAYERS:
            u, v = A[k].reshape(-1), Nm[k].reshape(-1)
            den = np.einsum("i,i->", v, v)
            c = np.einsum("i,i->", u, v) / den if den > 0 else np.nan
            cs.append(c if np.isfinite(c) and close(A[k], c * Nm[k]) else np.nan)
        cs = np.array(cs)
        if np.isfinite(cs).all() and np.ptp(cs) <= 1e-6 * abs(cs[0]):
            if abs(cs[0]) > 1e-6 and abs(cs[0] - 1.0) > 1e-6:
                return "scale"
    w1, b1, w2, b2 = good
    if w2 and b2:
        return "layer1"
    if w1 and b1:
        return "layer2"
    return "other"
