# ruff: noqa: F821 - a template: the test replaces `# @BASE@` by an honest solution
"""A notebook exported as a script: the functions, then a training loop that runs (and prints) at import."""
# @BASE@

# In[12]:
rng = np.random.default_rng(0)
X_train, y_train = rng.normal(size=(500, 20)), rng.integers(0, 3, size=500)
params = {"W1": rng.normal(0, 0.1, (20, 50)), "b1": np.zeros(50), "W2": rng.normal(0, 0.1, (50, 3)), "b2": np.zeros(3)}
for epoch in range(10**9):
    loss, grads = backward(X_train, y_train, params, 1e-3)
    for name in ("W1", "b1", "W2", "b2"):
        params[name] -= 1e-2 * grads[name]
    print(f"epoch {epoch}: loss {loss:.4f}")
