"""Matrix multiplication."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.broadcast import unbroadcast
from ..engine.graph import Value
from ..engine.tensor import Tensor, TensorLike
from ._operands import binary_operands


def _as_matrices(x: Any, y: Any, g: Any) -> tuple[Any, Any, Any]:
    """Give 1-D operands (and the matching axes of g) the matrix shape matmul treats them as."""
    if x.ndim == 1:
        x = x.reshape((1, x.shape[0]))
        g = (
            g.reshape(g.shape[:-1] + (1,) + g.shape[-1:])
            if y.ndim > 1
            else g.reshape((1,) + g.shape)
        )
    if y.ndim == 1:
        y = y.reshape((y.shape[0], 1))
        g = g.reshape(g.shape + (1,))
    return x, y, g


def matmul(x: TensorLike, y: TensorLike) -> Tensor:
    """The matrix product x @ y, with NumPy's rules for 1-D operands and batch broadcasting.

    Gradient: ∂/∂x = g @ yᵀ, ∂/∂y = xᵀ @ g (transposing the last two axes), with batch axes
    summed back to each operand's shape.
    """
    x, y = binary_operands(x, y)
    if x.ndim == 0 or y.ndim == 0:
        raise ValueError(
            f"matmul: operands must have at least one dimension, got shapes {x.shape} and "
            f"{y.shape}; use * to multiply by a scalar"
        )
    inner_x = x.shape[-1]
    inner_y = y.shape[-2] if y.ndim > 1 else y.shape[0]
    if inner_x != inner_y:
        raise ValueError(
            f"matmul: shapes {x.shape} and {y.shape} are not aligned: the last axis of the first "
            f"({inner_x}) must equal the {'second-to-last' if y.ndim > 1 else 'only'} axis of "
            f"the second ({inner_y})"
        )
    try:
        out = np.matmul(x.data, y.data)
    except ValueError:
        raise ValueError(
            f"matmul: the batch axes of shapes {x.shape} and {y.shape} cannot be broadcast together"
        ) from None

    def vjp_x(g: Value, x: Value, y: Value, out: Value) -> Value:
        x2, y2, g2 = _as_matrices(x, y, g)
        return unbroadcast(g2 @ y2.swapaxes(-1, -2), x2.shape).reshape(x.shape)

    def vjp_y(g: Value, x: Value, y: Value, out: Value) -> Value:
        x2, y2, g2 = _as_matrices(x, y, g)
        return unbroadcast(x2.swapaxes(-1, -2) @ g2, y2.shape).reshape(y.shape)

    return Tensor._from_op(out, (x, y), (vjp_x, vjp_y), "matmul")
