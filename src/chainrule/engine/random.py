"""The library's one random generator, seeded by ``manual_seed``.

Every function that draws takes an optional ``rng`` (a ``numpy.random.Generator``); without one
it draws from this generator, so ``cr.manual_seed(n)`` makes a whole run reproducible.
"""

from __future__ import annotations

import numpy as np

_generator = np.random.default_rng()


def check_seed(seed: object, where: str, name: str = "seed") -> int:
    """``seed`` as a Python int, after checking it is one ``np.random.default_rng`` takes.

    ``where`` (the function's name) and ``name`` (the argument's) start the messages, so a user
    reads "manual_seed: seed must be a non-negative integer, got -1" instead of NumPy's
    "expected non-negative integer".

    Raises
    ------
    TypeError
        If ``seed`` is not an integer (Python or NumPy). Bools and floats are refused: ``True``
        and ``1.0`` are most likely a mistake, and ``1.5`` has no integer meaning.
    ValueError
        If ``seed`` is negative.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        shown = repr(seed) if len(repr(seed)) <= 40 else repr(seed)[:37] + "..."
        raise TypeError(
            f"{where}: {name} must be a non-negative integer, got {shown} ({type(seed).__name__})"
        )
    if seed < 0:
        raise ValueError(f"{where}: {name} must be a non-negative integer, got {seed}")
    return int(seed)


def manual_seed(seed: int) -> np.random.Generator:
    """Reseed the library's generator and return it.

    Raises
    ------
    TypeError, ValueError
        If ``seed`` is not a non-negative integer (see ``check_seed``).
    """
    global _generator
    _generator = np.random.default_rng(check_seed(seed, "manual_seed"))
    return _generator


def default_generator() -> np.random.Generator:
    """The generator used when a function is not given an ``rng``."""
    return _generator


def resolve_rng(rng: np.random.Generator | None) -> np.random.Generator:
    """Return ``rng`` if given, else the library's generator."""
    return _generator if rng is None else rng
