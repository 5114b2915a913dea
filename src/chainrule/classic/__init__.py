"""Classic classifiers: Rosenblatt's perceptron, the nearest-mean classifier, and decision
trees turned into equivalent networks (``tree_to_network``).

Both follow scikit-learn's conventions (``fit`` returns the model; fitted attributes end in an
underscore; ``predict`` before ``fit`` raises ``NotFittedError``) and work on NumPy arrays.
"""

from ._validation import NotFittedError
from .nearest_mean import NearestMeanClassifier
from .perceptron import Perceptron, PerceptronUpdate
from .tree import tree_to_network

__all__ = [
    "NearestMeanClassifier",
    "NotFittedError",
    "Perceptron",
    "PerceptronUpdate",
    "tree_to_network",
]
