"""The library's one random generator, seeded by ``manual_seed``.

Every function that draws takes an optional ``rng`` (a ``numpy.random.Generator``); without one
it draws from this generator, so ``cr.manual_seed(n)`` makes a whole run reproducible.
"""

from __future__ import annotations

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the library's generator and return it."""
    global _generator
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"manual_seed: seed must be an integer, got {type(seed).__name__}")
    _generator = np.random.default_rng(int(seed))
    return _generator


def default_generator() -> np.random.Generator:
    """The generator used when a function is not given an ``rng``."""
    return _generator


def resolve_rng(rng: np.random.Generator | None) -> np.random.Generator:
    """Return ``rng`` if given, else the library's generator."""
    return _generator if rng is None else rng
