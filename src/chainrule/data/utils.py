"""Label encoding and splitting."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ..dtypes import get_default_dtype
from ..random import default_generator


def one_hot(y: ArrayLike, num_classes: int | None = None) -> np.ndarray:
    """Rows of the identity: ``one_hot([2, 0], 3)`` is [[0, 0, 1], [1, 0, 0]] (default dtype)."""
    labels = np.asarray(y)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"one_hot: labels must be integers, got dtype {labels.dtype}")
    classes = int(labels.max()) + 1 if num_classes is None else num_classes
    if labels.size and (labels.min() < 0 or labels.max() >= classes):
        raise ValueError(
            f"one_hot: labels must be in [0, {classes - 1}], got {labels.min()}..{labels.max()}"
        )
    encoded: np.ndarray = np.eye(classes, dtype=get_default_dtype())[labels]
    return encoded


def train_val_split(
    X: ArrayLike, y: ArrayLike, val_fraction: float = 0.2, seed: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A random split, returned as ``X_train, X_val, y_train, y_val`` (scikit-learn's order).

    The order comes from ``np.random.default_rng(seed)`` or, without a seed, from the library's
    generator (``cr.manual_seed``).
    """
    X, y = np.asarray(X), np.asarray(y)
    if len(X) != len(y):
        raise ValueError(f"train_val_split: X has {len(X)} samples but y has {len(y)}")
    if not 0 < val_fraction < 1:
        raise ValueError(f"train_val_split: val_fraction must be in (0, 1), got {val_fraction}")
    count = len(X)
    n_val = max(1, int(round(count * val_fraction)))
    if n_val >= count:
        raise ValueError(f"train_val_split: {count} samples are too few to split")
    rng = np.random.default_rng(seed) if seed is not None else default_generator()
    order = rng.permutation(count)
    val, train = order[:n_val], order[n_val:]
    return X[train], X[val], y[train], y[val]
