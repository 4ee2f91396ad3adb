# ruff: noqa: F821 - a template: the test replaces `# @BASE@` by an honest solution
"""An otherwise correct solution that computes in float32."""
# @BASE@

_honest_forward, _honest_loss, _honest_backward = forward, softmax_cross_entropy, backward


def _f32(params):
    return {k: np.asarray(v, dtype=np.float32) for k, v in params.items()}


def forward(X, params):
    scores, cache = _honest_forward(X.astype(np.float32), _f32(params))
    return scores, cache


def softmax_cross_entropy(scores, y):
    loss, dscores = _honest_loss(scores.astype(np.float32), y)
    return float(loss), dscores


def backward(X, y, params, reg=0.0):
    loss, grads = _honest_backward(X.astype(np.float32), y, _f32(params), np.float32(reg))
    return loss, grads
