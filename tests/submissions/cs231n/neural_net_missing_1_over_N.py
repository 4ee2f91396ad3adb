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
    hidden = np.maximum(0, np.dot(X, W1) + b1)
    scores = np.dot(hidden, W2) + b2

    if y is None:
      return scores

    # Compute the loss
    scores_max = np.max(scores, axis=1, keepdims=True)
    exp_scores = np.exp(scores - scores_max)
    sum_exp = np.sum(exp_scores, axis=1, keepdims=True)
    probs = exp_scores / sum_exp
    loss = np.mean(np.log(sum_exp[:, 0]) - (scores - scores_max)[np.arange(N), y])
    loss += reg * (np.sum(W1 * W1) + np.sum(W2 * W2))

    # Backward pass: compute gradients
    grads = {}
    dscores = probs
    dscores[np.arange(N), y] -= 1

    grads['W2'] = np.dot(hidden.T, dscores) + 2 * reg * W2
    grads['b2'] = np.sum(dscores, axis=0)

    dhidden = np.dot(dscores, W2.T)
    dhidden[hidden <= 0] = 0

    grads['W1'] = np.dot(X.T, dhidden) + 2 * reg * W1
    grads['b1'] = np.sum(dhidden, axis=0)

    return loss, grads

  def predict(self, X):
    scores = self.loss(X)
    return np.argmax(scores, axis=1)
