"""Small two-dimensional data sets for pictures and for the lectures' classic problems.

Each returns ``(X, y)``: X float32 of shape (n_samples, 2) (or as stated), y int64 class labels,
drawn from ``np.random.default_rng(seed)`` or, without a seed, from the library's generator (so
``cr.manual_seed`` makes them reproducible).
"""

from __future__ import annotations

import numpy as np

from ..dtypes import get_default_dtype
from ..random import default_generator


def _generator(seed: int | None) -> np.random.Generator:
    """A generator of its own for a seed, else the library's (``cr.manual_seed``)."""
    return np.random.default_rng(seed) if seed is not None else default_generator()


def _finish(
    X: np.ndarray, y: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(len(X))
    return X[order].astype(get_default_dtype()), y[order].astype(np.int64)


def _split(n_samples: int, n_classes: int) -> list[int]:
    if n_samples < n_classes:
        raise ValueError(f"need at least {n_classes} samples, got {n_samples}")
    base, extra = divmod(n_samples, n_classes)
    return [base + (1 if k < extra else 0) for k in range(n_classes)]


def make_xor(
    n_samples: int = 200, noise: float = 0.1, seed: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Points around the corners of the unit square, labelled x1 XOR x2.

    ``make_xor(4, noise=0)`` is the truth table itself. No straight line separates the classes.
    """
    rng = _generator(seed)
    corners = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float64)
    labels = np.array([0, 1, 1, 0])
    which = np.concatenate([np.full(n, k) for k, n in enumerate(_split(n_samples, 4))])
    X = corners[which] + noise * rng.standard_normal((n_samples, 2))
    return _finish(X, labels[which], rng)


def make_moons(
    n_samples: int = 200, noise: float = 0.1, seed: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles."""
    rng = _generator(seed)
    n_upper, n_lower = _split(n_samples, 2)
    upper = np.linspace(0, np.pi, n_upper)
    lower = np.linspace(0, np.pi, n_lower)
    X = np.concatenate(
        [
            np.column_stack([np.cos(upper), np.sin(upper)]),
            np.column_stack([1 - np.cos(lower), 0.5 - np.sin(lower)]),
        ]
    )
    X += noise * rng.standard_normal(X.shape)
    y = np.concatenate([np.zeros(n_upper), np.ones(n_lower)])
    return _finish(X, y, rng)


def make_circles(
    n_samples: int = 200, noise: float = 0.05, factor: float = 0.5, seed: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A small circle (class 1, radius ``factor``) inside a large one (class 0, radius 1)."""
    if not 0 < factor < 1:
        raise ValueError(f"make_circles: factor must be in (0, 1), got {factor}")
    rng = _generator(seed)
    n_outer, n_inner = _split(n_samples, 2)
    outer = np.linspace(0, 2 * np.pi, n_outer, endpoint=False)
    inner = np.linspace(0, 2 * np.pi, n_inner, endpoint=False)
    X = np.concatenate(
        [
            np.column_stack([np.cos(outer), np.sin(outer)]),
            factor * np.column_stack([np.cos(inner), np.sin(inner)]),
        ]
    )
    X += noise * rng.standard_normal(X.shape)
    y = np.concatenate([np.zeros(n_outer), np.ones(n_inner)])
    return _finish(X, y, rng)


def make_spirals(
    n_samples: int = 300,
    noise: float = 0.2,
    n_classes: int = 2,
    turns: float = 1.5,
    seed: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """``n_classes`` interleaved spiral arms, each turning ``turns`` times around the origin."""
    rng = _generator(seed)
    parts, labels = [], []
    for k, count in enumerate(_split(n_samples, n_classes)):
        radius = np.linspace(0.05, 1, count)
        angle = 2 * np.pi * (turns * radius + k / n_classes) + noise * rng.standard_normal(count)
        parts.append(np.column_stack([radius * np.cos(angle), radius * np.sin(angle)]))
        labels.append(np.full(count, k))
    return _finish(np.concatenate(parts), np.concatenate(labels), rng)


def make_blobs(
    n_samples: int = 200,
    centers: int | np.ndarray = 3,
    std: float = 1.0,
    n_features: int = 2,
    box: tuple[float, float] = (-8.0, 8.0),
    seed: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian clusters, one per class, around ``centers`` (or that many random centres)."""
    rng = _generator(seed)
    if isinstance(centers, (int, np.integer)):
        middle = rng.uniform(box[0], box[1], (int(centers), n_features))
    else:
        middle = np.asarray(centers, dtype=np.float64)
    parts, labels = [], []
    for k, count in enumerate(_split(n_samples, len(middle))):
        parts.append(middle[k] + std * rng.standard_normal((count, middle.shape[1])))
        labels.append(np.full(count, k))
    return _finish(np.concatenate(parts), np.concatenate(labels), rng)


_MAX_ROUNDS = 100


def make_separable(
    n_samples: int = 100, margin: float = 0.3, seed: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Two classes in [-1, 1]² on either side of a random line through the middle, with no
    point closer to the line than ``margin`` / 2: linearly separable, so the perceptron
    converges. ``margin`` must be in [0, 1)."""
    if not 0 <= margin < 1:
        raise ValueError(f"make_separable: margin must be in [0, 1), got {margin}")
    rng = _generator(seed)
    angle = rng.uniform(0, 2 * np.pi)
    normal = np.array([np.cos(angle), np.sin(angle)])
    points: list[np.ndarray] = []
    # With margin < 1 at least half of the square lies outside the band, so each round keeps
    # about n_samples points or more; the bound only guards against the impossible.
    while sum(len(p) for p in points) < n_samples:
        if len(points) == _MAX_ROUNDS:
            raise RuntimeError(
                f"make_separable: too few points outside the margin {margin} after "
                f"{_MAX_ROUNDS} rounds of {2 * n_samples} draws"
            )
        candidates = rng.uniform(-1, 1, (2 * n_samples, 2))
        points.append(candidates[np.abs(candidates @ normal) >= margin / 2])
    X = np.concatenate(points)[:n_samples]
    y = (X @ normal > 0).astype(np.int64)
    return _finish(X, y, rng)


def make_elongated(
    n_samples: int = 200, length: float = 10.0, gap: float = 1.0, seed: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Two long, thin, parallel classes, shifted against each other along their length.

    Class 0 lies just above the x axis and class 1 just below, so the line y = 0 separates them
    (a perceptron finds it); but their means are far apart along x, so the nearest-mean
    boundary, which is perpendicular to the line joining the means, cuts through both classes.
    """
    rng = _generator(seed)
    n_upper, n_lower = _split(n_samples, 2)
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
    if n < 2:
        raise ValueError(f"make_encoder: n must be at least 2, got {n}")
    patterns = np.eye(n, dtype=get_default_dtype())
    return patterns, patterns.copy()
