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

    # Compute the loss (same as softmax_loss_naive from the softmax exercise)
    num_train = N
    num_classes = scores.shape[1]
    loss = 0.0
    dscores = np.zeros_like(scores)
    for i in range(num_train):
      f = scores[i] - np.max(scores[i])  # shift for numeric stability
      exp_f = np.exp(f)
      sum_exp = np.sum(exp_f)
      loss += -f[y[i]] + np.log(sum_exp)
      for j in range(num_classes):
        p = exp_f[j] / sum_exp
        dscores[i, j] += p
        if j == y[i]:
          dscores[i, j] -= 1

    loss /= num_train
    dscores /= num_train
    loss += reg * (np.sum(W1 * W1) + np.sum(W2 * W2))

    # Backward pass: compute gradients
    grads = {}
    grads['W2'] = hidden_layer.T.dot(dscores) + 2 * reg * W2
    grads['b2'] = np.sum(dscores, axis=0)

    dhidden = dscores.dot(W2.T)
    dhidden[hidden_layer <= 0] = 0

    grads['W1'] = X.T.dot(dhidden) + 2 * reg * W1
    grads['b1'] = np.sum(dhidden, axis=0)

    return loss, grads

  def predict(self, X):
    return np.argmax(self.loss(X), axis=1)
