"""Small two-dimensional data sets for pictures and for the lectures' classic problems.

Each returns ``(X, y)``: X float32 of shape (n_samples, 2) (or as stated), y int64 class labels,
drawn from ``np.random.default_rng(seed)`` or, without a seed, from the library's generator (so
``cr.manual_seed`` makes them reproducible).

Every argument is checked: a count that is not an integer (bools and floats included) or a
number that is not a finite real is a ``TypeError``; a count too small for the classes, a
negative ``noise`` or ``std``, or a negative ``seed`` is a ``ValueError``. Each message names the
function and the argument.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ..engine.dtypes import get_default_dtype
from .preparation import _check_int, _check_number, _generator


def _finish(
    X: np.ndarray, y: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(len(X))
    return X[order].astype(get_default_dtype()), y[order].astype(np.int64)


def _split(n_samples: object, n_classes: int, where: str, per: str = "class") -> list[int]:
    """``n_samples`` shared out as evenly as possible; at least one for each of the classes."""
    count = _check_int(n_samples, where, "n_samples", n_classes, f" (one per {per})")
    base, extra = divmod(count, n_classes)
    return [base + (1 if k < extra else 0) for k in range(n_classes)]


def make_xor(
    n_samples: int = 200, noise: float = 0.1, seed: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Points around the corners of the unit square, labelled x1 XOR x2.

    ``make_xor(4, noise=0)`` is the truth table itself. No straight line separates the classes.
    """
    counts = _split(n_samples, 4, "make_xor", per="corner")
    scale = _check_number(noise, "make_xor", "noise", low=0)
    rng = _generator(seed, "make_xor")
    corners = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    labels = np.array([0, 1, 1, 0])
    which = np.concatenate([np.full(n, k) for k, n in enumerate(counts)])
    X = corners[which] + scale * rng.standard_normal((len(which), 2))
    return _finish(X, labels[which], rng)


def make_moons(
    n_samples: int = 200, noise: float = 0.1, seed: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles."""
    n_upper, n_lower = _split(n_samples, 2, "make_moons")
    scale = _check_number(noise, "make_moons", "noise", low=0)
    rng = _generator(seed, "make_moons")
    upper = np.linspace(0, np.pi, n_upper)
    lower = np.linspace(0, np.pi, n_lower)
    X = np.concatenate(
        [
            np.column_stack([np.cos(upper), np.sin(upper)]),
            np.column_stack([1 - np.cos(lower), 0.5 - np.sin(lower)]),
        ]
    )
    X += scale * rng.standard_normal(X.shape)
    y = np.concatenate([np.zeros(n_upper), np.ones(n_lower)])
    return _finish(X, y, rng)


def make_circles(
    n_samples: int = 200, noise: float = 0.05, factor: float = 0.5, seed: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A small circle (class 1, radius ``factor``) inside a large one (class 0, radius 1)."""
    n_outer, n_inner = _split(n_samples, 2, "make_circles")
    scale = _check_number(noise, "make_circles", "noise", low=0)
    if not 0 < _check_number(factor, "make_circles", "factor") < 1:
        raise ValueError(f"make_circles: factor must be in (0, 1), got {factor}")
    rng = _generator(seed, "make_circles")
    outer = np.linspace(0, 2 * np.pi, n_outer, endpoint=False)
    inner = np.linspace(0, 2 * np.pi, n_inner, endpoint=False)
    X = np.concatenate(
        [
            np.column_stack([np.cos(outer), np.sin(outer)]),
            factor * np.column_stack([np.cos(inner), np.sin(inner)]),
        ]
    )
    X += scale * rng.standard_normal(X.shape)
    y = np.concatenate([np.zeros(n_outer), np.ones(n_inner)])
    return _finish(X, y, rng)


def make_spirals(
    n_samples: int = 300,
    noise: float = 0.2,
    n_classes: int = 2,
    turns: float = 1.5,
    seed: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``n_classes`` interleaved spiral arms, each turning ``turns`` times around the origin
    (a negative ``turns`` winds the other way)."""
    classes = _check_int(n_classes, "make_spirals", "n_classes", 1)
    counts = _split(n_samples, classes, "make_spirals")
    scale = _check_number(noise, "make_spirals", "noise", low=0)
    winding = _check_number(turns, "make_spirals", "turns")
    rng = _generator(seed, "make_spirals")
    parts, labels = [], []
    for k, count in enumerate(counts):
        radius = np.linspace(0.05, 1, count)
        angle = 2 * np.pi * (winding * radius + k / classes) + scale * rng.standard_normal(count)
        parts.append(np.column_stack([radius * np.cos(angle), radius * np.sin(angle)]))
        labels.append(np.full(count, k))
    return _finish(np.concatenate(parts), np.concatenate(labels), rng)


def make_blobs(
    n_samples: int = 200,
    centers: int | ArrayLike = 3,
    std: float = 1.0,
    n_features: int | None = None,
    box: tuple[float, float] = (-8.0, 8.0),
    seed: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian clusters of standard deviation ``std``, one per class, around ``centers``.

    ``centers`` is either a number of centres, drawn uniformly from the square ``box`` in
    ``n_features`` dimensions (2 when not given), or the centres themselves, an array of shape
    (n_centers, n_features); ``n_features``, if given then, must equal its second size.
    """
    given = _given_centers(centers, n_features)
    if given is None:
        shape = (
            _check_int(centers, "make_blobs", "centers", 1),
            2 if n_features is None else _check_int(n_features, "make_blobs", "n_features", 1),
        )
    else:
        shape = given.shape
    counts = _split(n_samples, shape[0], "make_blobs", per="centre")
    spread = _check_number(std, "make_blobs", "std", low=0)
    low, high = _check_box(box)
    rng = _generator(seed, "make_blobs")
    middle = rng.uniform(low, high, shape) if given is None else given
    parts, labels = [], []
    for k, count in enumerate(counts):
        parts.append(middle[k] + spread * rng.standard_normal((count, middle.shape[1])))
        labels.append(np.full(count, k))
    return _finish(np.concatenate(parts), np.concatenate(labels), rng)


def _given_centers(centers: object, n_features: object) -> np.ndarray | None:
    """The given centres as a float array (n_centers, n_features); None for a number of
    centres (an integer), which the caller draws."""
    if isinstance(centers, (bool, np.bool_, float, np.floating)):
        raise TypeError(
            "make_blobs: centers must be a number of centres (an integer) or an array of shape "
            f"(n_centers, n_features), got {centers!r} ({type(centers).__name__})"
        )
    if isinstance(centers, (int, np.integer)):
        return None
    width = None if n_features is None else _check_int(n_features, "make_blobs", "n_features", 1)
    try:
        middle = np.asarray(centers, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(
            "make_blobs: centers must be a number of centres (an integer) or an array of shape "
            f"(n_centers, n_features) of numbers, got {centers!r}"
        ) from None
    if middle.ndim != 2 or middle.shape[0] == 0 or middle.shape[1] == 0:
        raise ValueError(
            "make_blobs: centers must be an array of shape (n_centers, n_features) with at "
            f"least one centre and one feature, got shape {middle.shape}"
        )
    if not np.all(np.isfinite(middle)):
        raise ValueError("make_blobs: centers must be finite numbers (found nan or inf)")
    if width is not None and width != middle.shape[1]:
        raise ValueError(
            f"make_blobs: n_features is {width} but the given centers have {middle.shape[1]} "
            "features each (leave n_features out with explicit centers)"
        )
    return middle


def _check_box(box: object) -> tuple[float, float]:
    """``box`` as (low, high), two finite numbers with low < high."""
    if not isinstance(box, (tuple, list)) or len(box) != 2:
        raise TypeError(f"make_blobs: box must be a pair (low, high) of numbers, got {box!r}")
    low = _check_number(box[0], "make_blobs", "box[0]")
    high = _check_number(box[1], "make_blobs", "box[1]")
    if not low < high:
        raise ValueError(f"make_blobs: box must be (low, high) with low < high, got {box!r}")
    return low, high


_MAX_ROUNDS = 100


def make_separable(
    n_samples: int = 100, margin: float = 0.3, seed: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Two classes in [-1, 1]² on either side of a random line through the middle, with no
    point closer to the line than ``margin`` / 2: linearly separable, so the perceptron
    converges. ``margin`` must be in [0, 1)."""
    count = _check_int(n_samples, "make_separable", "n_samples", 1)
    if isinstance(margin, bool) or not isinstance(margin, (int, float, np.integer, np.floating)):
        raise TypeError(f"make_separable: margin must be a number, got {margin!r}")
    if not 0 <= margin < 1:
        raise ValueError(f"make_separable: margin must be in [0, 1), got {margin}")
    rng = _generator(seed, "make_separable")
    angle = rng.uniform(0, 2 * np.pi)
    normal = np.array([np.cos(angle), np.sin(angle)])
    points: list[np.ndarray] = []
    # With margin < 1 at least half of the square lies outside the band, so each round keeps
    # about n_samples points or more; the bound only guards against the impossible.
    while sum(len(p) for p in points) < count:
        if len(points) == _MAX_ROUNDS:
            raise RuntimeError(
                f"make_separable: too few points outside the margin {margin} after "
                f"{_MAX_ROUNDS} rounds of {2 * count} draws"
            )
        candidates = rng.uniform(-1, 1, (2 * count, 2))
        points.append(candidates[np.abs(candidates @ normal) >= margin / 2])
    X = np.concatenate(points)[:count]
    y = (X @ normal > 0).astype(np.int64)
    return _finish(X, y, rng)


def make_elongated(
    n_samples: int = 200, length: float = 10.0, gap: float = 1.0, seed: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Two long, thin, parallel classes, shifted against each other along their length.

    Class 0 lies just above the x axis and class 1 just below, so the line y = 0 separates them
    (a perceptron finds it); but their means are far apart along x, so the nearest-mean
    boundary, which is perpendicular to the line joining the means, cuts through both classes.
    ``length`` and ``gap`` must be positive (with no gap the classes would touch).
    """
    n_upper, n_lower = _split(n_samples, 2, "make_elongated")
    length = _check_number(length, "make_elongated", "length", low=0, low_open=True)
    gap = _check_number(gap, "make_elongated", "gap", low=0, low_open=True)
    rng = _generator(seed, "make_elongated")
    thickness = gap * 0.3
    upper = np.column_stack(
        [
            rng.uniform(-length, 0.6 * length, n_upper),
            gap / 2 + rng.uniform(-thickness, thickness, n_upper),
        ]
    )
    lower = np.column_stack(
        [
            rng.uniform(-0.6 * length, length, n_lower),
            -gap / 2 + rng.uniform(-thickness, thickness, n_lower),
        ]
    )
    y = np.concatenate([np.zeros(n_upper), np.ones(n_lower)])
    return _finish(np.concatenate([upper, lower]), y, rng)


def make_encoder(n: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """The n-bit encoder task: n one-hot inputs, each its own target (learn n -> log2 n -> n)."""
    size = _check_int(n, "make_encoder", "n", 2)
    patterns = np.eye(size, dtype=get_default_dtype())
    return patterns, patterns.copy()
