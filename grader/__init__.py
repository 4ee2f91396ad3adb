"""backprop-grader: an autograder for the "backprop by hand in NumPy" exercise."""
__version__ = "0.1.0"
