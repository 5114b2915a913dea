"""Reductions with NumPy's ``axis``/``keepdims`` conventions.

The vjp of a reduction first gives ``g`` back its reduced axes (as size 1, via ``reshape``),
then spreads it over the input with broadcasting.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.graph import Value
from ..engine.tensor import Axis, Tensor, TensorLike, as_tensor
from ._operands import kept_shape, normalize_axes, value


def sum(x: TensorLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Sum over ``axis`` (all axes by default). Gradient: g copied to every summed element."""
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, "sum")
    out = np.sum(x.data, axis=axes, keepdims=keepdims)

    def vjp(g: Value, x: Value, out: Value) -> Value:
        return np.broadcast_to(g.reshape(kept_shape(x.shape, axes)), x.shape)

    return Tensor._from_op(out, (x,), (vjp,), "sum")


def mean(x: TensorLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis``. Gradient: g / n copied to each of the n averaged elements."""
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, "mean")
    out = np.mean(x.data, axis=axes, keepdims=keepdims)
    count = int(np.prod([x.shape[a] for a in axes]))

    def vjp(g: Value, x: Value, out: Value) -> Value:
        return np.broadcast_to(g.reshape(kept_shape(x.shape, axes)) / count, x.shape)

    return Tensor._from_op(out, (x,), (vjp,), "mean")


def var(x: TensorLike, axis: Axis = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    """Variance over ``axis``: sum((x - mean)²) / (n - ddof).

    Gradient: g·2(x - mean) / (n - ddof).
    """
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, "var")
    out = np.var(x.data, axis=axes, keepdims=keepdims, ddof=ddof)
    count = int(np.prod([x.shape[a] for a in axes]))

    # With ddof >= n the variance is undefined (NumPy gives nan or inf); so is its slope.
    scale = 2 / (count - ddof) if count > ddof else np.nan

    def vjp(g: Value, x: Value, out: Value) -> Value:
        centred = x - x.mean(axis=axes, keepdims=True)
        return g.reshape(kept_shape(x.shape, axes)) * centred * scale

    return Tensor._from_op(out, (x,), (vjp,), "var")


def _extremum(x: Any, axis: Any, keepdims: bool, op: str) -> Tensor:
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, op)
    if x.size == 0:
        raise ValueError(f"{op}: cannot reduce an empty tensor of shape {x.shape}")
    reduce = np.max if op == "max" else np.min
    out = reduce(x.data, axis=axes, keepdims=keepdims)

    def vjp(g: Value, x: Value, out: Value) -> Value:
        shape = kept_shape(x.shape, axes)
        winners = value(x) == value(out).reshape(shape)
        # Tied winners share the gradient equally.
        share = (winners / winners.sum(axis=axes, keepdims=True)).astype(g.dtype)
        return g.reshape(shape) * share

    return Tensor._from_op(out, (x,), (vjp,), op)


def max(x: TensorLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Largest element over ``axis``. Gradient: g to the maximum; tied maxima share it equally."""
    return _extremum(x, axis, keepdims, "max")


def min(x: TensorLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """Smallest element over ``axis``. Gradient: g to the minimum; tied minima share it equally."""
    return _extremum(x, axis, keepdims, "min")


def logsumexp(x: TensorLike, axis: Axis = None, keepdims: bool = False) -> Tensor:
    """log(sum(exp(x))) over ``axis``, stable for inputs of any size.

    Gradient: g·exp(x - out), the softmax of x over ``axis``.
    """
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, "logsumexp")
    shift = np.max(x.data, axis=axes, keepdims=True)
    # Subtracting the maximum keeps exp from overflowing; an infinite maximum would give
    # inf - inf, so it is not subtracted.
    shift = np.where(np.isfinite(shift), shift, 0)
    with np.errstate(divide="ignore"):
        out = np.log(np.sum(np.exp(x.data - shift), axis=axes, keepdims=True)) + shift
    if not keepdims:
        out = out.reshape([size for i, size in enumerate(x.shape) if i not in axes])

    def vjp(g: Value, x: Value, out: Value) -> Value:
        shape = kept_shape(x.shape, axes)
        return g.reshape(shape) * np.exp(x - out.reshape(shape))

    return Tensor._from_op(out, (x,), (vjp,), "logsumexp")


def softmax(x: TensorLike, axis: Axis = -1) -> Tensor:
    """exp(x) / sum(exp(x)) over ``axis`` (the last by default), stable for any inputs.

    Gradient: out·(g - sum(g·out, axis)).
    """
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, "softmax")
    exps = np.exp(x.data - np.max(x.data, axis=axes, keepdims=True))
    out = exps / np.sum(exps, axis=axes, keepdims=True)

    def vjp(g: Value, x: Value, out: Value) -> Value:
        return out * (g - (g * out).sum(axis=axes, keepdims=True))

    return Tensor._from_op(out, (x,), (vjp,), "softmax")


def log_softmax(x: TensorLike, axis: Axis = -1) -> Tensor:
    """x - logsumexp(x) over ``axis`` (the last by default), stable for any inputs.

    Gradient: g - exp(out)·sum(g, axis).
    """
    x = as_tensor(x)
    axes = normalize_axes(axis, x.ndim, "log_softmax")
    shifted = x.data - np.max(x.data, axis=axes, keepdims=True)
    out = shifted - np.log(np.sum(np.exp(shifted), axis=axes, keepdims=True))

    def vjp(g: Value, x: Value, out: Value) -> Value:
        return g - np.exp(out) * g.sum(axis=axes, keepdims=True)

    return Tensor._from_op(out, (x,), (vjp,), "log_softmax")
