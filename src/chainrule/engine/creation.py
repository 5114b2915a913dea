"""Making tensors: from data, filled with constants, ranges and random draws."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from .dtypes import get_default_dtype
from .random import resolve_rng
from .tensor import Tensor


def tensor(data: ArrayLike, dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data``.

    NumPy arrays keep their dtype; Python numbers and lists become the default dtype (float32
    unless ``cr.set_default_dtype`` says otherwise); booleans stay boolean.

    Examples
    --------
    >>> import chainrule as cr
    >>> cr.tensor([1, 2]).dtype
    dtype('float32')
    """
    return Tensor(data, dtype=dtype, requires_grad=requires_grad)


def _shape(shape: tuple[Any, ...]) -> tuple[int, ...]:
    if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
        return tuple(int(s) for s in shape[0])
    return tuple(int(s) for s in shape)


def _made(array: np.ndarray, requires_grad: bool) -> Tensor:
    result = Tensor._wrap(array)
    if requires_grad:
        result.requires_grad_(True)
    return result


def zeros(*shape: Any, dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros."""
    return _made(np.zeros(_shape(shape), dtype or get_default_dtype()), requires_grad)


def ones(*shape: Any, dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones."""
    return _made(np.ones(_shape(shape), dtype or get_default_dtype()), requires_grad)


def full(
    shape: Any, fill_value: float, dtype: DTypeLike | None = None, requires_grad: bool = False
) -> Tensor:
    """A tensor of ``shape`` filled with ``fill_value``."""
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    return _made(np.full(shape, fill_value, dtype or get_default_dtype()), requires_grad)


def zeros_like(x: Any, dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    """Zeros with the shape (and dtype, unless given) of ``x``."""
    array = np.asarray(x)
    return _made(np.zeros(array.shape, dtype or array.dtype), requires_grad)


def ones_like(x: Any, dtype: DTypeLike | None = None, requires_grad: bool = False) -> Tensor:
    """Ones with the shape (and dtype, unless given) of ``x``."""
    array = np.asarray(x)
    return _made(np.ones(array.shape, dtype or array.dtype), requires_grad)


def arange(
    start: float,
    stop: float | None = None,
    step: float = 1,
    dtype: DTypeLike | None = None,
    requires_grad: bool = False,
) -> Tensor:
    """Evenly spaced values in [start, stop), as ``numpy.arange``.

    Without ``dtype``, integer arguments give int64 (as NumPy and PyTorch do) and any float
    argument gives the default float dtype.
    """
    if stop is None:
        start, stop = 0, start
    if dtype is None and not all(isinstance(v, (int, np.integer)) for v in (start, stop, step)):
        dtype = get_default_dtype()
    return _made(np.arange(start, stop, step, dtype=dtype), requires_grad)


def eye(
    n: int, m: int | None = None, dtype: DTypeLike | None = None, requires_grad: bool = False
) -> Tensor:
    """The n x m identity matrix (square by default)."""
    return _made(np.eye(n, m, dtype=dtype or get_default_dtype()), requires_grad)


def rand(
    *shape: Any,
    dtype: DTypeLike | None = None,
    requires_grad: bool = False,
    rng: np.random.Generator | None = None,
) -> Tensor:
    """Uniform draws from [0, 1), from ``rng`` or the library's generator."""
    draws = resolve_rng(rng).random(_shape(shape))
    return _made(draws.astype(dtype or get_default_dtype()), requires_grad)


def randn(
    *shape: Any,
    dtype: DTypeLike | None = None,
    requires_grad: bool = False,
    rng: np.random.Generator | None = None,
) -> Tensor:
    """Standard normal draws, from ``rng`` or the library's generator."""
    draws = resolve_rng(rng).standard_normal(_shape(shape))
    return _made(draws.astype(dtype or get_default_dtype()), requires_grad)
