"""Label encoding and splitting, and the argument checks the data makers share."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from ..engine.dtypes import get_default_dtype
from ..engine.random import check_seed, default_generator


def _check_int(value: object, where: str, name: str, minimum: int, why: str = "") -> int:
    """``value`` as an int: TypeError unless an integer (bools refused), ValueError below
    ``minimum`` (``why`` says why, e.g. " (one per class)"); both messages name the function
    and the argument."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"{where}: {name} must be an integer, got {value!r} ({type(value).__name__})"
        )
    if value < minimum:
        raise ValueError(f"{where}: {name} must be at least {minimum}{why}, got {value}")
    return int(value)


def _check_number(
    value: object, where: str, name: str, *, low: float | None = None, low_open: bool = False
) -> float:
    """``value`` as a finite float, at least ``low`` (above it when ``low_open``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{where}: {name} must be a number, got {value!r} ({type(value).__name__})")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{where}: {name} must be a finite number, got {number}")
    if low is not None and (number <= low if low_open else number < low):
        bound = f"> {low:g}" if low_open else f">= {low:g}"
        raise ValueError(f"{where}: {name} must be {bound}, got {value}")
    return number


def _generator(seed: object, where: str) -> np.random.Generator:
    """A generator of its own for a seed, else the library's (``cr.manual_seed``)."""
    if seed is None:
        return default_generator()
    return np.random.default_rng(check_seed(seed, where))


def one_hot(y: ArrayLike, num_classes: int | None = None) -> np.ndarray:
    """Rows of the identity: ``one_hot([2, 0], 3)`` is [[0, 0, 1], [1, 0, 0]] (default dtype).

    The result has ``y``'s shape plus a last axis of ``num_classes`` (``max(y) + 1`` when not
    given; it must be given when ``y`` is empty).

    Raises
    ------
    TypeError
        If the labels are not integers, or ``num_classes`` is not an integer.
    ValueError
        If ``num_classes`` is below 1, or a label lies outside ``[0, num_classes - 1]``.
    """
    labels = np.asarray(y)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"one_hot: labels must be integers, got dtype {labels.dtype}")
    if num_classes is None:
        if labels.size == 0:
            raise ValueError("one_hot: num_classes must be given when y is empty")
        if labels.min() < 0:
            raise ValueError(f"one_hot: labels must be non-negative, got {labels.min()}")
        classes = int(labels.max()) + 1
    else:
        classes = _check_int(num_classes, "one_hot", "num_classes", 1)
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

    ``round(len(X) * val_fraction)`` samples (at least one) go to validation, the rest (at least
    one) to training. The order comes from ``np.random.default_rng(seed)`` or, without a seed,
    from the library's generator (``cr.manual_seed``).

    Raises
    ------
    TypeError
        If ``val_fraction`` is not a number or ``seed`` not an integer.
    ValueError
        If X or y has no first axis, their lengths differ, ``val_fraction`` is not in (0, 1),
        there are too few samples to split, or ``seed`` is negative.
    """
    X, y = np.asarray(X), np.asarray(y)
    for name, array in (("X", X), ("y", y)):
        if array.ndim == 0:
            raise ValueError(
                f"train_val_split: {name} must have a first axis of samples, got a 0-d array"
            )
    if len(X) != len(y):
        raise ValueError(f"train_val_split: X has {len(X)} samples but y has {len(y)}")
    fraction = _check_number(val_fraction, "train_val_split", "val_fraction")
    if not 0 < fraction < 1:
        raise ValueError(f"train_val_split: val_fraction must be in (0, 1), got {val_fraction}")
    rng = _generator(seed, "train_val_split")
    count = len(X)
    n_val = max(1, int(round(count * fraction)))
    if n_val >= count:
        raise ValueError(
            f"train_val_split: {count} samples are too few to split with val_fraction "
            f"{val_fraction} (each part needs at least one)"
        )
    order = rng.permutation(count)
    val, train = order[:n_val], order[n_val:]
    return X[train], X[val], y[train], y[val]
