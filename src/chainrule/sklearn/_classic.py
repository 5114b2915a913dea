"""The classic classifiers of ``chainrule.classic`` as scikit-learn estimators.

The wrappers add what scikit-learn expects around the classic rules: input checks through
``validate_data`` (so ``n_features_in_``, lists, pandas frames and the error messages follow
scikit-learn), ``get_params``/``set_params``, ``random_state`` and a ``ConvergenceWarning``. The
learning itself is the classic model's, kept in ``classic_``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import classic
from ..classic.nearest_mean import squared_distances
from ._common import check_at_least_two_classes, seed_from


class Perceptron(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    r"""Rosenblatt's perceptron (``chainrule.classic.Perceptron``) as a scikit-learn classifier.

    Weights start at zero; a sample is a mistake when t (w·x + b) <= 0 (t = +1 for
    ``classes_[1]``, -1 otherwise) and only mistakes update the model,
    w ← w + lr·t·x, b ← b + lr·t. Training stops after the first epoch without a mistake, or
    after ``max_epochs``; in the second case (always when no hyperplane separates the classes)
    ``converged_`` is False and a ``ConvergenceWarning`` says so. The model is then the last
    weights, not an average. More than two classes: one perceptron per class against the rest.

    Unlike ``sklearn.linear_model.Perceptron`` (an SGD classifier with ``eta0``, ``max_iter``,
    penalties and shuffling on by default), this is the textbook rule with the settings of
    ``chainrule.classic.Perceptron``.

    Parameters
    ----------
    lr : float, default=1.0
        Learning rate, positive. From the zero start it only scales the weights, so it does not
        change the predictions.
    max_epochs : int, default=100
        Most passes over the data.
    shuffle : bool, default=False
        Visit the samples in a new random order each epoch.
    random_state : int, RandomState, Generator or None, default=None
        Seeds the shuffling (unused without ``shuffle``); None draws from chainrule's library
        generator (``cr.manual_seed``).

    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features) for two classes, else (n_classes, n_features)
    intercept_ : ndarray of shape (1,) or (n_classes,)
    classes_ : ndarray of shape (n_classes,)
    converged_ : bool
        True when the last epoch made no mistake.
    n_epochs_ : int
        Epochs run, the clean one included.
    n_iter_ : int
        The same as ``n_epochs_``, under scikit-learn's name.
    n_updates_ : int
        Updates made, summed over the one-vs-rest perceptrons.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X has string column names (a pandas DataFrame).
    classic_ : chainrule.classic.Perceptron
        The fitted classic model.

    Examples
    --------
    >>> import numpy as np
    >>> from chainrule.sklearn import Perceptron
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    >>> clf = Perceptron().fit(X, [0, 0, 0, 1])  # logical AND is linearly separable
    >>> clf.predict(X), clf.converged_
    (array([0, 0, 0, 1]), True)
    >>> clf.coef_, clf.intercept_
    (array([[3., 2.]]), array([-4.]))
    """

    def __init__(
        self,
        lr: float = 1.0,
        max_epochs: int = 100,
        shuffle: bool = False,
        random_state: Any = None,
    ) -> None:
        self.lr = lr
        self.max_epochs = max_epochs
        self.shuffle = shuffle
        self.random_state = random_state

    def fit(self, X: ArrayLike, y: ArrayLike) -> Perceptron:
        """Train from zero weights by the perceptron rule; return self.

        Warns with ``ConvergenceWarning`` when ``max_epochs`` ran out before an epoch without a
        mistake (the data are not linearly separable, or need more epochs).
        """
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        classes = np.unique(y)
        check_at_least_two_classes(classes, type(self).__name__)
        seed = seed_from(self.random_state) if self.shuffle else None
        model = classic.Perceptron(
            lr=self.lr, max_epochs=self.max_epochs, shuffle=self.shuffle, seed=seed
        ).fit(X, y)
        self.classic_ = model
        self.coef_ = model.coef_
        self.intercept_ = model.intercept_
        self.classes_ = model.classes_
        self.converged_ = model.converged_
        self.n_epochs_ = model.n_epochs_
        self.n_iter_ = model.n_epochs_
        self.n_updates_ = model.n_updates_
        if not model.converged_:
            warnings.warn(
                f"Perceptron made mistakes in each of its max_epochs={self.max_epochs} epochs "
                "and stopped without converging: the classes may not be linearly separable, or "
                "need more epochs. The model is the last weights.",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def decision_function(self, X: ArrayLike) -> NDArray[np.float64]:
        """Scores z = X·coef_ᵀ + intercept_: shape (n_samples,) for two classes (z > 0 means
        ``classes_[1]``), else (n_samples, n_classes), one column per class."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        scores: NDArray[np.float64] = self.classic_.decision_function(X)
        return scores

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """The label of each row: ``classes_[1]`` where z > 0 (two classes), else the class of
        largest z."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        labels: NDArray[Any] = self.classic_.predict(X)
        return labels


class NearestMeanClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    r"""The nearest-mean classifier (``chainrule.classic.NearestMeanClassifier``) for
    scikit-learn.

    ``fit`` stores the mean μ_k of each class; ``predict`` returns the class whose mean is
    nearest in Euclidean distance (ties go to the first class in ``classes_``). For two classes
    the rule is the line w·x + b > 0 with w = 2 (μ_1 - μ_0), b = |μ_0|² - |μ_1|², which
    ``as_linear()`` returns. It is scikit-learn's ``NearestCentroid`` with the Euclidean metric
    and no shrinkage, kept for teaching next to the perceptron.

    Attributes
    ----------
    means_ : ndarray of shape (n_classes, n_features)
        Row k is the mean of the samples of ``classes_[k]``.
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when X has string column names (a pandas DataFrame).
    classic_ : chainrule.classic.NearestMeanClassifier
        The fitted classic model.

    Examples
    --------
    >>> import numpy as np
    >>> from chainrule.sklearn import NearestMeanClassifier
    >>> X = np.array([[0.0, 0.0], [0.0, 2.0], [4.0, 0.0], [4.0, 2.0]])
    >>> clf = NearestMeanClassifier().fit(X, ["a", "a", "b", "b"])
    >>> clf.predict([[1.0, 5.0], [3.0, -5.0]])
    array(['a', 'b'], dtype='<U1')
    >>> clf.decision_function([[1.0, 5.0], [3.0, -5.0]])  # |x - μ_0|² - |x - μ_1|²
    array([-8.,  8.])
    """

    def fit(self, X: ArrayLike, y: ArrayLike) -> NearestMeanClassifier:
        """Store the mean of each class's samples; return self."""
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        check_at_least_two_classes(np.unique(y), type(self).__name__)
        model = classic.NearestMeanClassifier().fit(X, y)
        self.classic_ = model
        self.means_ = model.means_
        self.classes_ = model.classes_
        return self

    def decision_function(self, X: ArrayLike) -> NDArray[np.float64]:
        """For two classes |x - μ_0|² - |x - μ_1|², shape (n_samples,), which equals
        w·x + b of ``as_linear()`` and is > 0 exactly where ``classes_[1]`` is predicted;
        for more classes -|x - μ_k|², shape (n_samples, n_classes), largest for the nearest
        mean."""
        check_is_fitted(self)
        samples = validate_data(self, X, dtype=np.float64, reset=False)
        # The classic predict's own distances, so that the scores agree with predict exactly,
        # ties included (a tie is 0 here and the first class there).
        distances = squared_distances(samples, self.means_)
        if len(self.classes_) == 2:
            scores: NDArray[np.float64] = distances[:, 0] - distances[:, 1]
            return scores
        return -distances

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """The label of the nearest class mean for each row of X."""
        check_is_fitted(self)
        samples = validate_data(self, X, dtype=np.float64, reset=False)
        labels: NDArray[Any] = self.classic_.predict(samples)
        return labels

    def as_linear(self) -> tuple[NDArray[np.float64], float]:
        """The two-class rule as a line, ``(w, b)``: w·x + b > 0 predicts ``classes_[1]``.

        Raises
        ------
        ValueError
            When the model was fitted on more than two classes.
        """
        check_is_fitted(self)
        return self.classic_.as_linear()
