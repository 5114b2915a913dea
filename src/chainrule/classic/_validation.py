"""Input checks shared by the classic classifiers: each error names what is wrong and where."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray


class NotFittedError(ValueError, AttributeError):
    """A method that needs a fitted model was called before ``fit``.

    It is both a ``ValueError`` and an ``AttributeError``, as scikit-learn's error of that name,
    so code written for either catches it.
    """


def check_X(X: ArrayLike, owner: str) -> NDArray[np.float64]:
    """Return X as a float64 array of shape (n_samples, n_features) with finite values.

    float64 whatever the input's dtype: the classic rules are plain NumPy arithmetic, and in
    float64 small hand-made examples are computed exactly.
    """
    array = np.asarray(X)
    if array.ndim != 2:
        hint = "; for one feature use X.reshape(-1, 1)" if array.ndim == 1 else ""
        raise ValueError(
            f"{owner}: X must be 2-D (n_samples, n_features), got shape {array.shape}{hint}"
        )
    if array.shape[0] == 0:
        raise ValueError(f"{owner}: X has no samples (shape {array.shape})")
    if array.shape[1] == 0:
        raise ValueError(f"{owner}: X has no features (shape {array.shape})")
    # Object arrays (say, from a list of Python numbers of mixed types) are converted;
    # strings and complex numbers are refused rather than parsed or silently truncated.
    if array.dtype.kind not in "biufO":
        raise TypeError(f"{owner}: X must hold real numbers, got dtype {array.dtype}")
    try:
        values = array.astype(np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{owner}: X must hold real numbers, got dtype {array.dtype}") from None
    bad = int(np.count_nonzero(~np.isfinite(values)))
    if bad:
        raise ValueError(f"{owner}: X contains {bad} non-finite value(s) (NaN or inf)")
    return values


def check_y(y: ArrayLike, n_samples: int, owner: str) -> tuple[NDArray[Any], NDArray[Any]]:
    """Return ``(y, classes)``: y as a 1-D array of length n_samples, and its sorted classes.

    Labels may be any values NumPy can sort (integers, strings, ...); there must be two or more.
    """
    labels = np.asarray(y)
    if labels.ndim != 1:
        hint = "; use y.ravel()" if labels.ndim == 2 and labels.shape[1] == 1 else ""
        raise ValueError(f"{owner}: y must be 1-D (n_samples,), got shape {labels.shape}{hint}")
    if len(labels) != n_samples:
        raise ValueError(
            f"{owner}: X has {n_samples} samples but y has {len(labels)} labels; they must be equal"
        )
    if labels.dtype.kind in "fc" and not np.all(np.isfinite(labels)):
        raise ValueError(f"{owner}: y contains non-finite labels (NaN or inf)")
    try:
        classes = np.unique(labels)
    except TypeError:
        raise TypeError(
            f"{owner}: the labels in y cannot be sorted (dtype {labels.dtype}); "
            "use numbers or strings"
        ) from None
    if len(classes) < 2:
        raise ValueError(
            f"{owner}: y must contain at least two classes, got only {classes.tolist()}"
        )
    return labels, classes


def check_fitted(model: object, attribute: str) -> None:
    """Raise ``NotFittedError`` unless ``fit`` has set ``attribute`` on ``model``."""
    if not hasattr(model, attribute):
        name = type(model).__name__
        raise NotFittedError(f"This {name} is not fitted yet: call fit(X, y) first")


def check_n_features(X: NDArray[np.float64], expected: int, owner: str) -> None:
    """Raise ``ValueError`` unless X has the number of features the model was fitted with."""
    if X.shape[1] != expected:
        raise ValueError(
            f"{owner}: X has {X.shape[1]} features, but the model was fitted with "
            f"{expected} features"
        )


def accuracy(predicted: NDArray[Any], y: ArrayLike, owner: str) -> float:
    """The fraction of ``predicted`` labels that equal y; ``ValueError`` when the shapes differ."""
    labels = np.asarray(y)
    if labels.shape != predicted.shape:
        raise ValueError(f"{owner}: y has shape {labels.shape}, expected {predicted.shape}")
    return float(np.mean(predicted == labels))
