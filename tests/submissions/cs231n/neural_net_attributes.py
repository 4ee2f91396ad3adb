import numpy as np


class TwoLayerNet(object):
  """
  Two-layer net: input - fully connected layer - ReLU - fully connected layer - softmax.

  I keep the weights as attributes (self.W1, self.b1, self.W2, self.b2) because
  it's less typing than the params dict.
  """

  def __init__(self, input_size, hidden_size, output_size, std=1e-4):
    self.W1 = std * np.random.randn(input_size, hidden_size)   # (D, H)
    self.b1 = np.zeros(hidden_size)                            # (H,)
    self.W2 = std * np.random.randn(hidden_size, output_size)  # (H, C)
    self.b2 = np.zeros(output_size)                            # (C,)

  def loss(self, X, y=None, reg=0.0):
    """
    If y is None, return the scores of shape (N, C).
    Otherwise return (loss, grads), grads a dict with keys W1, b1, W2, b2.
    """
    N = X.shape[0]

    # forward pass
    h = X.dot(self.W1) + self.b1
    h_relu = np.maximum(h, 0)
    scores = h_relu.dot(self.W2) + self.b2

    if y is None:
      return scores

    # softmax loss
    scores_shift = scores - scores.max(axis=1, keepdims=True)
    log_probs = scores_shift - np.log(np.sum(np.exp(scores_shift), axis=1, keepdims=True))
    probs = np.exp(log_probs)
    loss = -np.sum(log_probs[np.arange(N), y]) / N
    loss += reg * (np.sum(self.W1 * self.W1) + np.sum(self.W2 * self.W2))

    # backward pass
    grads = {}
    dscores = probs
    dscores[np.arange(N), y] -= 1
    dscores /= N

    grads['W2'] = h_relu.T.dot(dscores) + 2 * reg * self.W2
    grads['b2'] = dscores.sum(axis=0)
    dh_relu = dscores.dot(self.W2.T)
    dh = dh_relu * (h > 0)
    grads['W1'] = X.T.dot(dh) + 2 * reg * self.W1
    grads['b1'] = dh.sum(axis=0)

    return loss, grads

  def predict(self, X):
    return np.argmax(self.loss(X), axis=1)
