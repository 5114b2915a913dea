"""Classic linear classifiers: Rosenblatt's perceptron and the nearest-mean classifier.

Both follow scikit-learn's conventions (``fit`` returns the model; fitted attributes end in an
underscore; ``predict`` before ``fit`` raises ``NotFittedError``) and work on NumPy arrays.
"""

from ._validation import NotFittedError
from .nearest_mean import NearestMeanClassifier
from .perceptron import Perceptron, PerceptronUpdate

__all__ = ["NearestMeanClassifier", "NotFittedError", "Perceptron", "PerceptronUpdate"]
