"""What the estimators share: random generators from ``random_state``, and the class checks."""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..engine.random import default_generator

SEED_BOUND = 2**63
"""Exclusive upper bound of the seeds drawn from a generator (any non-negative int64)."""


def seed_from(random_state: Any) -> int | None:
    """An integer seed from scikit-learn's ``random_state`` conventions, or None.

    An int is the seed itself; a ``numpy.random.RandomState`` or ``Generator`` gives one draw
    (advancing it, as scikit-learn estimators do); None stays None, so that the caller can fall
    back on chainrule's library generator, which ``cr.manual_seed`` seeds.
    """
    if random_state is None:
        return None
    if isinstance(random_state, (int, np.integer)) and not isinstance(random_state, bool):
        if random_state < 0:
            raise ValueError(f"random_state must be non-negative, got {random_state}")
        return int(random_state)
    if isinstance(random_state, np.random.RandomState):
        return int(random_state.randint(np.iinfo(np.int32).max))
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(SEED_BOUND))
    raise ValueError(
        "random_state must be None, an int, a numpy.random.RandomState or a "
        f"numpy.random.Generator, got {random_state!r}"
    )


def generator_from(random_state: Any) -> np.random.Generator:
    """A fresh generator for one fit: seeded by ``seed_from(random_state)``, or for None by one
    draw from chainrule's library generator (so ``cr.manual_seed(n)`` makes the fit repeatable).
    """
    seed = seed_from(random_state)
    if seed is None:
        seed = int(default_generator().integers(SEED_BOUND))
    return np.random.default_rng(seed)


def check_at_least_two_classes(classes: NDArray[Any], owner: str) -> None:
    """Raise ``ValueError`` when the targets hold a single class: there is nothing to separate.

    The message names the one class, as scikit-learn's own classifiers do.
    """
    if len(classes) < 2:
        raise ValueError(
            f"{owner} needs samples of at least two classes, but y has 1 class: {classes.tolist()}"
        )


def check_number(
    name: str,
    value: Any,
    *,
    low: float,
    high: float = math.inf,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    """Raise ``ValueError`` unless ``value`` is a real number in the interval, naming the
    setting and the interval."""
    inside = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if inside:
        # NaN fails every comparison, so it is refused along with the values outside.
        above = value > low if low_open else value >= low
        below = value < high if high_open else value <= high
        inside = above and below and not math.isinf(value)
    if not inside:
        left = "(" if low_open else "["
        right = ")" if high_open or high == math.inf else "]"
        raise ValueError(f"{name} must be a number in {left}{low}, {high}{right}, got {value!r}")


def check_count(name: str, value: Any) -> None:
    """Raise ``ValueError`` unless ``value`` is an integer of at least 1."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
