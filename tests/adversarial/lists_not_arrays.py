# ruff: noqa: F821 - a template: the test replaces `# @BASE@` by an honest solution
"""An otherwise correct solution whose Part 2 functions return Python lists instead of arrays."""
# @BASE@

_honest = {"forward": forward, "softmax_cross_entropy": softmax_cross_entropy, "backward": backward}


def _call_honestly(name, *args):
    """The honest function, with the honest helpers in place while it runs."""
    saved = {k: globals()[k] for k in _honest}
    globals().update(_honest)
    try:
        return _honest[name](*args)
    finally:
        globals().update(saved)


def forward(X, params):
    scores, cache = _call_honestly("forward", X, params)
    return scores.tolist(), cache


def softmax_cross_entropy(scores, y):
    loss, dscores = _call_honestly("softmax_cross_entropy", np.asarray(scores), y)
    return loss, dscores.tolist()


def backward(X, y, params, reg=0.0):
    loss, grads = _call_honestly("backward", X, y, params, reg)
    return loss, {k: v.tolist() for k, v in grads.items()}
