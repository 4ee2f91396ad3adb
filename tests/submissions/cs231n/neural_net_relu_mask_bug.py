import numpy as np


class TwoLayerNet(object):
  """
  A two-layer fully-connected neural network:

  input - fully connected layer - ReLU - fully connected layer - softmax
  """

  def __init__(self, input_size, hidden_size, output_size, std=1e-4):
    self.params = {}
    self.params['W1'] = std * np.random.randn(input_size, hidden_size)
    self.params['b1'] = np.zeros(hidden_size)
    self.params['W2'] = std * np.random.randn(hidden_size, output_size)
    self.params['b2'] = np.zeros(output_size)

  def loss(self, X, y=None, reg=0.0):
    """
    Returns scores (N, C) if y is None, else (loss, grads).
    """
    W1, b1 = self.params['W1'], self.params['b1']
    W2, b2 = self.params['W2'], self.params['b2']
    N, D = X.shape

    # Compute the forward pass
    hidden_layer = np.maximum(0, X.dot(W1) + b1)
    scores = hidden_layer.dot(W2) + b2

    if y is None:
      return scores

    # Compute the loss
    shifted = scores - np.max(scores, axis=1, keepdims=True)
    exp_scores = np.exp(shifted)
    sum_exp = np.sum(exp_scores, axis=1, keepdims=True)
    probs = exp_scores / sum_exp
    data_loss = np.sum(np.log(sum_exp[:, 0]) - shifted[np.arange(N), y]) / N
    reg_loss = reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
    loss = data_loss + reg_loss

    # Backward pass: compute gradients
    grads = {}
    dscores = probs.copy()
    dscores[np.arange(N), y] -= 1
    dscores /= N

    grads['W2'] = hidden_layer.T.dot(dscores) + 2 * reg * W2
    grads['b2'] = np.sum(dscores, axis=0)

    dhidden = dscores.dot(W2.T)
    # relu backward: only let positive gradients through
    dhidden = dhidden * (dhidden > 0)

    grads['W1'] = X.T.dot(dhidden) + 2 * reg * W1
    grads['b1'] = np.sum(dhidden, axis=0)

    return loss, grads

  def predict(self, X):
    return np.argmax(self.loss(X), axis=1)
