"""Operations that move elements around: reshaping, reordering axes, joining, indexing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ..engine.broadcast import unbroadcast
from ..engine.graph import Value
from ..engine.tensor import Axis, Tensor, TensorLike, as_tensor
from ._operands import common_dtype, normalize_axes
from .elementwise import astype


def reshape(x: TensorLike, shape: Any) -> Tensor:
    """x with a new shape holding the same elements. Gradient: g reshaped back."""
    x = as_tensor(x)
    new_shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    try:
        out = x.data.reshape(new_shape)
    except ValueError:
        raise ValueError(
            f"reshape: cannot reshape a tensor of shape {x.shape} ({x.size} elements) into "
            f"shape {new_shape}"
        ) from None

    def vjp(g: Value, x: Value, out: Value) -> Value:
        return g.reshape(x.shape)

    return Tensor._from_op(out, (x,), (vjp,), "reshape")


def transpose(x: TensorLike, axes: Sequence[int] | None = None) -> Tensor:
    """x with its axes permuted (reversed by default). Gradient: g with the inverse permutation."""
    x = as_tensor(x)
    if axes is None:
        order = tuple(reversed(range(x.ndim)))
    else:
        order = tuple(int(a) % x.ndim if -x.ndim <= int(a) < x.ndim else -1 for a in axes)
        if sorted(order) != list(range(x.ndim)):
            raise ValueError(
                f"transpose: axes {tuple(axes)} are not a permutation of the axes of a tensor "
                f"of shape {x.shape}"
            )
    inverse = tuple(int(i) for i in np.argsort(order))
    out = x.data.transpose(order)

    def vjp(g: Value, x: Value, out: Value) -> Value:
        return g.transpose(inverse)

    return Tensor._from_op(out, (x,), (vjp,), "transpose")


def swapaxes(x: TensorLike, axis1: int, axis2: int) -> Tensor:
    """x with two axes interchanged. Gradient: g with the same two axes interchanged."""
    x = as_tensor(x)
    normalize_axes((axis1,), x.ndim, "swapaxes")
    normalize_axes((axis2,), x.ndim, "swapaxes")
    out = x.data.swapaxes(axis1, axis2)

    def vjp(g: Value, x: Value, out: Value) -> Value:
        return g.swapaxes(axis1, axis2)

    return Tensor._from_op(out, (x,), (vjp,), "swapaxes")


def expand_dims(x: TensorLike, axis: Any) -> Tensor:
    """x with new axes of size 1 inserted at ``axis``. Gradient: g reshaped back."""
    x = as_tensor(x)
    try:
        out = np.expand_dims(x.data, axis)
    except np.exceptions.AxisError:
        raise ValueError(
            f"expand_dims: axis {axis} is out of bounds for a result with "
            f"{x.ndim + (1 if isinstance(axis, int) else len(axis))} dimensions"
        ) from None

    def vjp(g: Value, x: Value, out: Value) -> Value:
        return g.reshape(x.shape)

    return Tensor._from_op(out, (x,), (vjp,), "expand_dims")


def squeeze(x: TensorLike, axis: Axis = None) -> Tensor:
    """x without axes of size 1 (only those in ``axis`` if given). Gradient: g reshaped back."""
    x = as_tensor(x)
    if axis is not None:
        for a in normalize_axes(axis, x.ndim, "squeeze"):
            if x.shape[a] != 1:
                raise ValueError(
                    f"squeeze: axis {a} of a tensor of shape {x.shape} has size {x.shape[a]}, not 1"
                )
    out = np.squeeze(x.data, axis=axis)

    def vjp(g: Value, x: Value, out: Value) -> Value:
        return g.reshape(x.shape)

    return Tensor._from_op(out, (x,), (vjp,), "squeeze")


def broadcast_to(x: TensorLike, shape: Sequence[int]) -> Tensor:
    """x repeated along new or size-1 axes to ``shape``. Gradient: g summed back to x's shape."""
    x = as_tensor(x)
    target = tuple(shape)
    try:
        out = np.broadcast_to(x.data, target)
    except ValueError:
        raise ValueError(
            f"broadcast_to: a tensor of shape {x.shape} cannot be broadcast to shape {target}"
        ) from None

    def vjp(g: Value, x: Value, out: Value) -> Value:
        return unbroadcast(g, x.shape)

    return Tensor._from_op(out, (x,), (vjp,), "broadcast_to")


def _common_dtype(tensors: list[Tensor]) -> list[Tensor]:
    dtype = common_dtype([t.data.dtype for t in tensors])
    return [t if t.data.dtype == dtype else astype(t, dtype) for t in tensors]


def _slice_vjp(index: tuple[Any, ...]) -> Value:
    def vjp(g: Value, *values: Value) -> Value:
        return g[index]

    return vjp


def concatenate(tensors: Sequence[TensorLike], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis. Gradient: each input gets its slice of g."""
    if not len(tensors):
        raise ValueError("concatenate: needs at least one tensor")
    parts = _common_dtype([as_tensor(t) for t in tensors])
    (axis,) = normalize_axes(axis, parts[0].ndim, "concatenate")
    try:
        out = np.concatenate([t.data for t in parts], axis=axis)
    except ValueError:
        shapes = ", ".join(str(t.shape) for t in parts)
        raise ValueError(
            f"concatenate: shapes {shapes} must agree on every axis except axis {axis}"
        ) from None
    vjps = []
    start = 0
    for part in parts:
        stop = start + part.shape[axis]
        vjps.append(_slice_vjp((slice(None),) * axis + (slice(start, stop),)))
        start = stop
    return Tensor._from_op(out, tuple(parts), tuple(vjps), "concatenate")


def stack(tensors: Sequence[TensorLike], axis: int = 0) -> Tensor:
    """Join tensors of one shape along a new axis. Gradient: each input gets its slice of g."""
    if not len(tensors):
        raise ValueError("stack: needs at least one tensor")
    parts = _common_dtype([as_tensor(t) for t in tensors])
    (axis,) = normalize_axes(axis, parts[0].ndim + 1, "stack")
    if len({t.shape for t in parts}) > 1:
        shapes = ", ".join(str(t.shape) for t in parts)
        raise ValueError(f"stack: all tensors must have the same shape, got {shapes}")
    out = np.stack([t.data for t in parts], axis=axis)
    vjps = tuple(_slice_vjp((slice(None),) * axis + (i,)) for i in range(len(parts)))
    return Tensor._from_op(out, tuple(parts), vjps, "stack")


def _plain_index(index: Any) -> Any:
    """The index with any Tensors in it replaced by their arrays."""
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, tuple):
        return tuple(i.data if isinstance(i, Tensor) else i for i in index)
    return index


def _has_integer_array(index: Any) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    for part in parts:
        if isinstance(part, list):
            part = np.asarray(part)
        if isinstance(part, np.ndarray) and part.dtype.kind in "iu":
            return True
    return False


def _scatter_add_array(g: Any, index: Any, shape: tuple[int, ...]) -> Any:
    out = np.zeros(shape, dtype=g.dtype)
    if _has_integer_array(index):
        # Integer arrays may repeat an element; add.at adds every occurrence.
        np.add.at(out, index, g)
    else:
        out[index] = g
    return out


def _scatter_add(g: Any, index: Any, shape: tuple[int, ...]) -> Any:
    """Zeros of ``shape`` with ``g`` added at ``index`` (arrays or, recorded, Tensors)."""
    if not isinstance(g, Tensor):
        return _scatter_add_array(g, index, shape)

    def vjp(g2: Value, values: Value, out: Value) -> Value:
        return g2[index]

    return Tensor._from_op(_scatter_add_array(g.data, index, shape), (g,), (vjp,), "scatter_add")


def getitem(x: TensorLike, index: Any) -> Tensor:
    """x[index] with NumPy's basic and advanced indexing.

    Gradient: g added into zeros of x's shape at ``index``; elements selected more than once
    receive the sum of their gradients.
    """
    x = as_tensor(x)
    index = _plain_index(index)
    try:
        out = x.data[index]
    except IndexError as error:
        raise IndexError(f"getitem: {error} (tensor of shape {x.shape})") from None

    def vjp(g: Value, x: Value, out: Value) -> Value:
        return _scatter_add(g, index, x.shape)

    return Tensor._from_op(out, (x,), (vjp,), "getitem")
