"""The playground's data: points in the plane, made by chainrule's own generators, drawn by the
user, or read from a table; and the input features computed from them.

Generated sets are scaled into the square [-6, 6]² the page draws (as TensorFlow Playground
does), so that the features sin x1 and x1² mean the same on every data set. Noise can push a
point beyond the square; it is then clipped onto the square's edge, so that every point the
network trains on is one the page shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import data
from .settings import Settings

__all__ = ["DOMAIN", "Points", "feature_matrix", "generate", "split_parts"]

DOMAIN = (-6.0, 6.0, -6.0, 6.0)


@dataclass
class Points:
    """Points in the plane with a label each (a class index, or a number for regression) and
    the part each belongs to (0 training, 1 test)."""

    xy: np.ndarray  # (n, 2) float64
    labels: np.ndarray  # (n,) int64 class indices, or float64 targets
    part: np.ndarray  # (n,) int8
    problem: str = "classification"
    classes: list[str] = field(default_factory=list)
    domain: tuple[float, float, float, float] = DOMAIN

    def __len__(self) -> int:
        return len(self.xy)

    def records(self) -> list[list[float]]:
        """Each point as [x, y, label, part], for the page."""
        labels = self.labels.astype(np.float64)
        return [
            [round(float(x), 5), round(float(y), 5), float(label), int(part)]
            for (x, y), label, part in zip(self.xy, labels, self.part)
        ]

    def part_of(self, which: int) -> tuple[np.ndarray, np.ndarray]:
        chosen = self.part == which
        return self.xy[chosen], self.labels[chosen]


def feature_matrix(xy: np.ndarray, features: tuple[str, ...]) -> np.ndarray:
    """The inputs the network sees: the chosen features of each point, in the order of
    ``settings.FEATURES``."""
    x1, x2 = xy[:, 0], xy[:, 1]
    columns: dict[str, Callable[[], np.ndarray]] = {
        "x1": lambda: x1,
        "x2": lambda: x2,
        "x1sq": lambda: x1 * x1,
        "x2sq": lambda: x2 * x2,
        "x1x2": lambda: x1 * x2,
        "sinx1": lambda: np.sin(x1),
        "sinx2": lambda: np.sin(x2),
    }
    return np.column_stack([columns[name]() for name in features]).astype(np.float64)


def split_parts(n: int, train_ratio: float, rng: np.random.Generator) -> np.ndarray:
    """A random assignment of n points to training (0) and test (1), with train_ratio percent
    (at least one point each, when there are two or more) for training."""
    n_train = int(round(n * train_ratio / 100))
    if n >= 2:
        n_train = min(max(n_train, 1), n - 1)
    part = np.ones(n, dtype=np.int8)
    part[rng.permutation(n)[:n_train]] = 0
    return part


def generate(settings: Settings) -> Points:
    """The data set the settings name, drawn from ``settings.seed``."""
    if settings.dataset == "own":  # an empty plane, for the user's own points
        return Points(
            np.zeros((0, 2)),
            np.zeros(0, np.int64),
            np.zeros(0, np.int8),
            classes=["class 0", "class 1"],
        )
    n, seed = settings.points, settings.seed
    noise = settings.noise / 100  # 0 to 0.5
    maker = _MAKERS[settings.dataset]
    xy, labels = maker(n, noise, seed, settings.classes)
    problem = settings.problem
    if problem == "classification":
        labels = labels.astype(np.int64)
        count = int(labels.max()) + 1
        classes = [f"class {k}" for k in range(count)]
    else:
        labels = labels.astype(np.float64)
        classes = []
    part = split_parts(n, settings.trainRatio, np.random.default_rng([seed, 1]))
    low, high = DOMAIN[0], DOMAIN[1]
    xy = np.clip(xy.astype(np.float64), low, high)
    return Points(xy, labels, part, problem, classes)


def _circle(n: int, noise: float, seed: int, _: int) -> tuple[np.ndarray, np.ndarray]:
    xy, y = data.make_circles(n, noise=0.02 + 0.3 * noise, factor=0.45, seed=seed)
    return 5 * xy, y  # the inner disc is class 1 (blue on the page), the ring class 0


def _xor(n: int, noise: float, seed: int, _: int) -> tuple[np.ndarray, np.ndarray]:
    xy, y = data.make_xor(n, noise=0.12 + 0.4 * noise, seed=seed)
    return 5 * (xy - 0.5), y


def _gauss(n: int, noise: float, seed: int, _: int) -> tuple[np.ndarray, np.ndarray]:
    centres = np.array([[-2.0, -2.0], [2.0, 2.0]])
    return data.make_blobs(n, centers=centres, std=0.6 + 2.5 * noise, seed=seed)


def _spiral(n: int, noise: float, seed: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    xy, y = data.make_spirals(n, noise=0.03 + 0.6 * noise, n_classes=classes, turns=1.0, seed=seed)
    return 5.5 * xy, y


def _moons(n: int, noise: float, seed: int, _: int) -> tuple[np.ndarray, np.ndarray]:
    xy, y = data.make_moons(n, noise=0.05 + 0.4 * noise, seed=seed)
    return 3.2 * (xy - np.array([0.5, 0.25])), y


def _blobs(n: int, noise: float, seed: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    return data.make_blobs(n, centers=classes, std=0.5 + 2.0 * noise, box=(-4.0, 4.0), seed=seed)


def _separable(n: int, noise: float, seed: int, _: int) -> tuple[np.ndarray, np.ndarray]:
    xy, y = data.make_separable(n, margin=max(0.3 * (1 - 2 * noise), 0.0), seed=seed)
    return 5 * xy, y


def _elongated(n: int, noise: float, seed: int, _: int) -> tuple[np.ndarray, np.ndarray]:
    xy, y = data.make_elongated(n, length=10.0, gap=1.0 + 2 * noise, seed=seed)
    return 0.5 * xy, y


def _plane(n: int, noise: float, seed: int, _: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([seed, 2])
    xy = rng.uniform(-5, 5, (n, 2))
    target = (xy[:, 0] + xy[:, 1]) / 10 + noise * rng.standard_normal(n)
    return xy, target


def _gauss_regression(n: int, noise: float, seed: int, _: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([seed, 3])
    xy = rng.uniform(-5, 5, (n, 2))
    centres = rng.uniform(-4, 4, (4, 2))
    signs = np.array([1.0, -1.0, 1.0, -1.0])
    distance = ((xy[:, None, :] - centres[None]) ** 2).sum(axis=2)
    target = (signs * np.exp(-distance / 4)).sum(axis=1) + noise * rng.standard_normal(n)
    return xy, np.clip(target, -1, 1)


_MAKERS: dict[str, Any] = {
    "circle": _circle,
    "xor": _xor,
    "gauss": _gauss,
    "spiral": _spiral,
    "moons": _moons,
    "blobs": _blobs,
    "separable": _separable,
    "elongated": _elongated,
    "plane": _plane,
    "gauss-regression": _gauss_regression,
}
