import numpy as np


class TwoLayerNet(object):
    """
    A two-layer fully-connected neural network with a softmax loss and L2
    regularization on the weight matrices:

    input - fully connected layer - ReLU - fully connected layer - softmax
    """

    def __init__(self, input_size, hidden_size, output_size, std=1e-4):
        """
        W1: First layer weights; has shape (D, H)
        b1: First layer biases; has shape (H,)
        W2: Second layer weights; has shape (H, C)
        b2: Second layer biases; has shape (C,)
        """
        self.params = {}
        self.params['W1'] = std * np.random.randn(input_size, hidden_size)
        self.params['b1'] = np.zeros(hidden_size)
        self.params['W2'] = std * np.random.randn(hidden_size, output_size)
        self.params['b2'] = np.zeros(output_size)

    def loss(self, X, y=None, reg=0.0):
        """
        Compute the loss and gradients for a two layer fully connected neural
        network.

        Returns scores (N, C) if y is None, else (loss, grads).
        """
        W1, b1 = self.params['W1'], self.params['b1']
        W2, b2 = self.params['W2'], self.params['b2']
        N, D = X.shape

        # Compute the forward pass
        scores = None
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        z1 = X.dot(W1) + b1
        a1 = np.maximum(0, z1)
        scores = a1.dot(W2) + b2
        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        # If the targets are not given then jump out, we're done
        if y is None:
            return scores

        # Compute the loss
        loss = None
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        scores = scores - np.max(scores, axis=1).reshape(-1, 1)
        exp_scores = np.exp(scores)
        sum_exp = np.sum(exp_scores, axis=1).reshape(-1, 1)
        softmax = exp_scores / sum_exp
        loss = np.sum(-scores[range(N), y] + np.log(sum_exp[:, 0]))
        loss /= N
        loss += 0.5 * reg * (np.sum(W1 * W1) + np.sum(W2 * W2))
        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        # Backward pass: compute gradients
        grads = {}
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        dscores = softmax
        dscores[range(N), y] -= 1
        dscores /= N

        grads['W2'] = a1.T.dot(dscores) + reg * W2
        grads['b2'] = np.sum(dscores, axis=0)

        da1 = dscores.dot(W2.T)
        dz1 = da1 * (z1 > 0)

        grads['W1'] = X.T.dot(dz1) + reg * W1
        grads['b1'] = np.sum(dz1, axis=0)
        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****

        return loss, grads

    def predict(self, X):
        """
        Predict labels for data points: the class with the highest score.
        """
        y_pred = None
        # *****START OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        y_pred = np.argmax(self.loss(X), axis=1)
        # *****END OF YOUR CODE (DO NOT DELETE/MODIFY THIS LINE)*****
        return y_pred
