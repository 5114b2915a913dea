"""The nearest-mean classifier: each class is represented by the mean of its samples."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._validation import accuracy, check_fitted, check_n_features, check_X, check_y


class NearestMeanClassifier:
    r"""Predict the class whose mean is nearest in Euclidean distance.

    ``fit`` stores the class means μ_k; ``predict`` returns the class k that minimises
    |x - μ_k|² (ties go to the first class in ``classes_``). It is naturally multiclass.

    For two classes the rule is linear. Expanding the squares,

        |x - μ_0|² - |x - μ_1|² = 2 (μ_1 - μ_0)·x + |μ_0|² - |μ_1|² = w·x + b,

    so x is nearer μ_1 exactly when w·x + b > 0: the boundary is the perpendicular bisector
    of the segment between the means. ``as_linear()`` returns that (w, b). Because the boundary
    only depends on the means, it can cut through classes that a line separates, such as two
    long parallel classes shifted along their length (``cr.data.make_elongated``).

    Attributes
    ----------
    means_ : ndarray of shape (n_classes, n_features), row k the mean of ``classes_[k]``
    classes_ : ndarray of the sorted labels
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from chainrule.classic import NearestMeanClassifier
    >>> X = np.array([[0.0, 0.0], [0.0, 2.0], [4.0, 0.0], [4.0, 2.0]])
    >>> clf = NearestMeanClassifier().fit(X, ["a", "a", "b", "b"])
    >>> clf.means_
    array([[0., 1.],
           [4., 1.]])
    >>> clf.predict([[1.0, 5.0], [3.0, -5.0]])
    array(['a', 'b'], dtype='<U1')
    >>> w, b = clf.as_linear()  # 2 (μ_1 - μ_0) and |μ_0|² - |μ_1|²
    >>> w, b
    (array([8., 0.]), -16.0)
    """

    means_: NDArray[np.float64]
    classes_: NDArray[Any]
    n_features_in_: int

    def __repr__(self) -> str:
        return "NearestMeanClassifier()"

    def fit(self, X: ArrayLike, y: ArrayLike) -> NearestMeanClassifier:
        """Store the mean of each class's samples; return self."""
        samples = check_X(X, "NearestMeanClassifier.fit")
        labels, classes = check_y(y, len(samples), "NearestMeanClassifier.fit")
        self.means_ = np.stack([samples[labels == label].mean(axis=0) for label in classes])
        self.classes_ = classes
        self.n_features_in_ = samples.shape[1]
        return self

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """The label of the nearest class mean for each row of X."""
        check_fitted(self, "means_")
        samples = check_X(X, "NearestMeanClassifier.predict")
        check_n_features(samples, self.n_features_in_, "NearestMeanClassifier.predict")
        distances = squared_distances(samples, self.means_)
        labels: NDArray[Any] = self.classes_[np.argmin(distances, axis=1)]
        return labels

    def score(self, X: ArrayLike, y: ArrayLike) -> float:
        """Accuracy: the fraction of samples whose predicted label equals y."""
        return accuracy(self.predict(X), y, "NearestMeanClassifier.score")

    def as_linear(self) -> tuple[NDArray[np.float64], float]:
        """The two-class rule as a line: (w, b) with w = 2 (μ_1 - μ_0), b = |μ_0|² - |μ_1|².

        w·x + b > 0 predicts ``classes_[1]``, exactly where x is nearer μ_1 than μ_0.

        Raises
        ------
        ValueError
            If the model was fitted on more than two classes: their regions are bounded by
            several lines, not one.
        """
        check_fitted(self, "means_")
        if len(self.classes_) != 2:
            raise ValueError(
                f"NearestMeanClassifier.as_linear needs exactly two classes, but the model was "
                f"fitted on {len(self.classes_)} ({self.classes_.tolist()}); with more classes "
                "the regions are bounded by several lines, not one"
            )
        mean_0, mean_1 = self.means_
        w = 2.0 * (mean_1 - mean_0)
        b = float(mean_0 @ mean_0 - mean_1 @ mean_1)
        return w, b


def squared_distances(
    samples: NDArray[np.float64], means: NDArray[np.float64]
) -> NDArray[np.float64]:
    """|x - μ_k|² for each row x of ``samples`` and each row μ_k of ``means``, shape
    (n_samples, n_classes).

    One class at a time: the distances stay exact differences (no |x|² - 2x·μ + |μ|²
    cancellation) and memory stays (n_samples, n_features) for any number of classes.
    """
    return np.stack([((samples - mean) ** 2).sum(axis=1) for mean in means], axis=1)
