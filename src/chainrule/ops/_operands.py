"""Coercing operands: constants to tensors, mixed dtypes to one dtype, axes to tuples."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.dtypes import is_float
from ..engine.tensor import Tensor, _value, as_tensor


def binary_operands(x: Any, y: Any) -> tuple[Tensor, Tensor]:
    """Both operands as tensors of one dtype.

    Python numbers take the other operand's dtype. A float tensor meeting an integer or
    boolean one lends it its dtype (as in PyTorch, not NumPy, whose int64 + float32 gives
    float64); two float dtypes meet at the wider one through a recorded cast.
    """
    if not isinstance(x, Tensor):
        x = as_tensor(x, like=y if isinstance(y, Tensor) else None)
    if not isinstance(y, Tensor):
        y = as_tensor(y, like=x)
    if x.data.dtype != y.data.dtype:
        x, y = _promote(x, y)
    return x, y


def _promote(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    from .elementwise import astype

    common = common_dtype([x.data.dtype, y.data.dtype])
    return astype(x, common), astype(y, common)


def common_dtype(dtypes: list[np.dtype]) -> np.dtype:
    """The dtype operands meet at: the widest float among them if there is one (a float lends
    its dtype to integers, as in PyTorch), else NumPy's promotion."""
    floats = [dtype for dtype in dtypes if is_float(dtype)]
    return np.result_type(*floats) if floats else np.result_type(*dtypes)


def normalize_axes(axis: Any, ndim: int, op: str) -> tuple[int, ...]:
    """``axis`` (None, an int or a tuple) as a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    result = []
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"{op}: axis {a} is out of bounds for a tensor with {ndim} dimensions")
        result.append(int(a) % ndim)
    if len(set(result)) != len(result):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(result))


def kept_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    """``shape`` with the reduced ``axes`` kept as size 1 (what ``keepdims=True`` gives)."""
    return tuple(1 if i in axes else size for i, size in enumerate(shape))


def value(x: Any) -> Any:
    """The array inside a Tensor, or ``x`` itself; for masks that carry no gradient."""
    return _value(x)
