"""Rosenblatt's perceptron: the mistake-driven rule for a linear classifier."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..engine.random import default_generator
from ._validation import accuracy, check_fitted, check_n_features, check_X, check_y


class PerceptronUpdate(NamedTuple):
    """One update of a perceptron: the sample that caused it and the weights just after it.

    ``coef`` and ``intercept`` have the shapes of ``Perceptron.coef_`` and ``intercept_``; for
    two classes the boundary after the update is ``coef[0] @ x + intercept[0] = 0``.
    """

    epoch: int
    """Epoch of the update, counted from 1."""
    sample: int
    """Row of X that was a mistake."""
    coef: NDArray[np.float64]
    """Weights after the update, shape (n_outputs, n_features)."""
    intercept: NDArray[np.float64]
    """Biases after the update, shape (n_outputs,)."""


class Perceptron:
    r"""Rosenblatt's perceptron, trained by its mistake-driven rule.

    The weights w and bias b start at zero. Samples are visited in order (or in a fresh random
    order each epoch with ``shuffle=True``); a sample x with target t in {-1, +1} is a mistake
    when

        t (w·x + b) <= 0,

    and only mistakes update the model:

        w ← w + lr·t·x,    b ← b + lr·t.

    Training stops after the first epoch without a mistake (``converged_`` is True), or after
    ``max_epochs`` epochs (``converged_`` is False; this happens whenever no line separates the
    classes, as in XOR). On separable data with margin γ and samples within radius R of the
    origin (counting the bias input 1), Novikoff's theorem bounds the updates by (R/γ)².

    This update is one step of stochastic gradient descent with learning rate ``lr`` on the
    perceptron criterion max(0, -t·z) with z = w·x + b (``nn.HingeLoss()``): its gradient is
    -t·x for a mistake and 0 otherwise. From the zero start, ``lr`` only scales the weights, so
    any positive value gives the same predictions.

    Binary labels may be any two values: t = +1 for ``classes_[1]`` and -1 for ``classes_[0]``.
    With more classes it trains one perceptron per class against the rest (in the same pass
    over the data) and predicts the class of largest decision value.

    Parameters
    ----------
    lr : float
        Learning rate, positive.
    max_epochs : int
        Most passes over the data, at least 1.
    shuffle : bool
        Visit the samples in a new random order each epoch.
    seed : int or None
        Seed for the shuffling generator ``numpy.random.default_rng(seed)``; None draws from
        the library's generator (``cr.manual_seed``). Unused without ``shuffle``.

    Attributes
    ----------
    coef_ : ndarray of shape (1, n_features) for two classes, else (n_classes, n_features)
    intercept_ : ndarray of shape (1,) or (n_classes,)
    classes_ : ndarray of the sorted labels
    converged_ : bool, True when the last epoch had no mistake
    n_epochs_ : int, epochs run (the clean one included)
    n_updates_ : int, updates made, summed over the one-vs-rest perceptrons
    n_features_in_ : int
    history_ : list of PerceptronUpdate, or None
        One entry per sample that caused an update, when fitted with ``record=True``.

    Examples
    --------
    >>> import numpy as np
    >>> from chainrule.classic import Perceptron
    >>> X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    >>> clf = Perceptron().fit(X, [0, 0, 0, 1])  # logical AND is linearly separable
    >>> clf.predict(X)
    array([0, 0, 0, 1])
    >>> clf.converged_, clf.n_epochs_, clf.n_updates_
    (True, 9, 18)
    >>> clf.coef_, clf.intercept_  # the line 3 x1 + 2 x2 = 4
    (array([[3., 2.]]), array([-4.]))
    """

    coef_: NDArray[np.float64]
    intercept_: NDArray[np.float64]
    classes_: NDArray[Any]
    converged_: bool
    n_epochs_: int
    n_updates_: int
    n_features_in_: int
    history_: list[PerceptronUpdate] | None

    def __init__(
        self,
        lr: float = 1.0,
        max_epochs: int = 100,
        shuffle: bool = False,
        seed: int | None = None,
    ) -> None:
        # Settings are only stored here and checked in fit, as scikit-learn estimators do.
        self.lr = lr
        self.max_epochs = max_epochs
        self.shuffle = shuffle
        self.seed = seed

    def __repr__(self) -> str:
        return (
            f"Perceptron(lr={self.lr!r}, max_epochs={self.max_epochs!r}, "
            f"shuffle={self.shuffle!r}, seed={self.seed!r})"
        )

    def _check_settings(self) -> None:
        lr = self.lr
        if isinstance(lr, bool) or not isinstance(lr, (int, float, np.integer, np.floating)):
            raise TypeError(f"Perceptron: lr must be a number, got {type(lr).__name__}")
        if not (math.isfinite(lr) and lr > 0):
            raise ValueError(f"Perceptron: lr must be positive and finite, got {lr}")
        epochs = self.max_epochs
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)):
            raise TypeError(
                f"Perceptron: max_epochs must be an integer, got {type(epochs).__name__}"
            )
        if epochs < 1:
            raise ValueError(f"Perceptron: max_epochs must be at least 1, got {epochs}")
        if not isinstance(self.shuffle, (bool, np.bool_)):
            raise TypeError(
                f"Perceptron: shuffle must be True or False, got {type(self.shuffle).__name__}"
            )
        seed = self.seed
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))):
            raise TypeError(f"Perceptron: seed must be an integer or None, got {seed!r}")
        if seed is not None and seed < 0:
            raise ValueError(f"Perceptron: seed must be non-negative, got {seed}")

    def fit(self, X: ArrayLike, y: ArrayLike, *, record: bool = False) -> Perceptron:
        """Train from zero weights by the perceptron rule; return self.

        Parameters
        ----------
        X : array of shape (n_samples, n_features)
        y : array of shape (n_samples,), at least two distinct labels
        record : bool
            Keep a ``PerceptronUpdate`` (the weights after it) for every update in
            ``history_``, for instance to draw the boundary after each update.
        """
        for _ in self.fit_epochs(X, y, record=record):
            pass
        return self

    def fit_epochs(self, X: ArrayLike, y: ArrayLike, *, record: bool = False) -> Iterator[int]:
        """Train as ``fit`` does, one epoch at a time: yields each epoch's number (from 1) with
        the fitted attributes holding the weights at its end, and stops where ``fit`` stops
        (an epoch without a mistake, or ``max_epochs``). For showing training as it goes
        without running every epoch first."""
        self._check_settings()
        samples = check_X(X, "Perceptron.fit")
        labels, classes = check_y(y, len(samples), "Perceptron.fit")
        targets = _signed_targets(labels, classes)
        n_samples, n_features = samples.shape
        n_outputs = targets.shape[1]
        coef = np.zeros((n_outputs, n_features))
        intercept = np.zeros(n_outputs)
        history: list[PerceptronUpdate] | None = [] if record else None
        rng = self._shuffle_generator()
        lr = float(self.lr)
        n_updates = 0
        converged = False
        epoch = 0
        self.classes_ = classes
        self.n_features_in_ = n_features
        self.history_ = history
        while epoch < self.max_epochs and not converged:
            epoch += 1
            order = rng.permutation(n_samples) if rng is not None else range(n_samples)
            mistakes_this_epoch = 0
            for index in order:
                x = samples[index]
                t = targets[index]
                # A score of exactly 0 counts as a mistake, so the zero start always moves.
                mistakes = t * (coef @ x + intercept) <= 0
                if not mistakes.any():
                    continue
                coef[mistakes] += (lr * t[mistakes])[:, None] * x
                intercept[mistakes] += lr * t[mistakes]
                count = int(np.count_nonzero(mistakes))
                mistakes_this_epoch += count
                n_updates += count
                if history is not None:
                    history.append(
                        PerceptronUpdate(epoch, int(index), coef.copy(), intercept.copy())
                    )
            converged = mistakes_this_epoch == 0
            self.coef_ = coef.copy()
            self.intercept_ = intercept.copy()
            self.converged_ = converged
            self.n_epochs_ = epoch
            self.n_updates_ = n_updates
            yield epoch

    def _shuffle_generator(self) -> np.random.Generator | None:
        if not self.shuffle:
            return None
        if self.seed is None:
            return default_generator()
        return np.random.default_rng(int(self.seed))

    def decision_function(self, X: ArrayLike) -> NDArray[np.float64]:
        """Scores z = X·wᵀ + b: shape (n_samples,) for two classes (z > 0 means ``classes_[1]``),
        else (n_samples, n_classes), one column per one-vs-rest perceptron."""
        check_fitted(self, "coef_")
        samples = check_X(X, "Perceptron.decision_function")
        check_n_features(samples, self.n_features_in_, "Perceptron.decision_function")
        scores: NDArray[np.float64] = samples @ self.coef_.T + self.intercept_
        if len(self.classes_) == 2:
            return scores[:, 0]
        return scores

    def predict(self, X: ArrayLike) -> NDArray[Any]:
        """Labels: ``classes_[1]`` where z > 0 (two classes), else the class of largest z."""
        scores = self.decision_function(X)
        if scores.ndim == 1:
            chosen = (scores > 0).astype(np.intp)
        else:
            chosen = np.argmax(scores, axis=1)
        labels: NDArray[Any] = self.classes_[chosen]
        return labels

    def score(self, X: ArrayLike, y: ArrayLike) -> float:
        """Accuracy: the fraction of samples whose predicted label equals y."""
        return accuracy(self.predict(X), y, "Perceptron.score")


def _signed_targets(labels: NDArray[Any], classes: NDArray[Any]) -> NDArray[np.float64]:
    """Targets in {-1, +1} of shape (n_samples, n_outputs).

    Two classes give one column, +1 for ``classes[1]``; more give one column per class, +1 for
    that class and -1 for the rest (one-vs-rest).
    """
    if len(classes) == 2:
        positive = (labels == classes[1])[:, None]
    else:
        positive = labels[:, None] == classes[None, :]
    return np.where(positive, 1.0, -1.0)
