"""Pure cheat: hands the grader's own input arrays back (forward returns X, backward returns params as grads, ...)."""
GRAD_CHECK_TOL = 1e-6


def shapes(N, D, H, C):
    return (N, D, H, C)


def forward(X, params):
    return X, (X, params)


def softmax_cross_entropy(scores, y):
    return scores, scores


def backward(X, y, params, reg=0.0):
    grads = dict(params)
    grads["X"] = X
    return 0.0, grads


def numerical_gradient(f, x, eps=1e-5):
    return x


def rel_error(a, b):
    return a


def grad_check(backward_fn, X, y, params, reg=0.0, eps=1e-5):
    return params


def diagnose(analytic, numeric):
    return analytic
