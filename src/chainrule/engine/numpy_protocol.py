"""How NumPy functions treat Tensors (``__array_ufunc__`` and ``__array_function__``).

NumPy functions that chainrule differentiates return recorded Tensors, so ``np.exp(t)`` is
``cr.exp(t)`` and the vjp rules can be written once with NumPy's vocabulary for arrays and
Tensors alike. Any other NumPy function works on the plain arrays, unless a gradient would be
silently lost, which is an error instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .. import ops
from .graph import is_grad_enabled
from .tensor import Tensor


def _compare(ufunc: np.ufunc) -> Callable[[Any, Any], Tensor]:
    def compare(x: Any, y: Any) -> Tensor:
        return Tensor._wrap(ufunc(_plain(x), _plain(y)))

    return compare


def _square(x: Any) -> Tensor:
    return ops.multiply(x, x)


UFUNCS: dict[np.ufunc, Callable[..., Any]] = {
    np.add: ops.add,
    np.subtract: ops.subtract,
    np.multiply: ops.multiply,
    np.true_divide: ops.divide,
    np.power: ops.power,
    np.negative: ops.negative,
    np.positive: ops.positive,
    np.exp: ops.exp,
    np.log: ops.log,
    np.sqrt: ops.sqrt,
    np.absolute: ops.abs,
    np.tanh: ops.tanh,
    np.sin: ops.sin,
    np.cos: ops.cos,
    np.sign: ops.sign,
    np.maximum: ops.maximum,
    np.minimum: ops.minimum,
    np.matmul: ops.matmul,
    np.square: _square,
    np.less: _compare(np.less),
    np.less_equal: _compare(np.less_equal),
    np.greater: _compare(np.greater),
    np.greater_equal: _compare(np.greater_equal),
    np.equal: _compare(np.equal),
    np.not_equal: _compare(np.not_equal),
}

FUNCTIONS: dict[Any, Callable[..., Any]] = {
    np.sum: ops.sum,
    np.mean: ops.mean,
    np.max: ops.max,
    np.amax: ops.max,
    np.min: ops.min,
    np.amin: ops.min,
    np.var: ops.var,
    np.reshape: ops.reshape,
    np.transpose: ops.transpose,
    np.swapaxes: ops.swapaxes,
    np.expand_dims: ops.expand_dims,
    np.squeeze: ops.squeeze,
    np.broadcast_to: ops.broadcast_to,
    np.concatenate: ops.concatenate,
    np.stack: ops.stack,
    np.where: ops.where,
    np.clip: ops.clip,
}


def _plain(x: Any) -> Any:
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, (list, tuple)):
        return type(x)(_plain(item) for item in x)
    return x


def _needs_grad(x: Any) -> bool:
    if isinstance(x, Tensor):
        return x.requires_grad
    if isinstance(x, (list, tuple)):
        return any(_needs_grad(item) for item in x)
    return False


def _floating(result: Any) -> bool:
    """True when a result carries floating-point values (which a gradient could flow through)."""
    if isinstance(result, (tuple, list)):
        return any(_floating(item) for item in result)
    if isinstance(result, (np.ndarray, np.generic)):
        return result.dtype.kind in "fc"
    return isinstance(result, float)


def fallback(function: Any, args: Any, kwargs: dict[str, Any], name: str | None = None) -> Any:
    """Run a NumPy function that chainrule does not differentiate on plain arrays.

    Results that carry no gradient anyway (shapes, booleans, indices) are returned as they are;
    a floating result computed from a tensor that requires grad is an error, since using it
    would silently lose that gradient.
    """
    result = function(*_plain(tuple(args)), **{k: _plain(v) for k, v in kwargs.items()})
    needs_grad = _needs_grad(args) or _needs_grad(list(kwargs.values()))
    if needs_grad and is_grad_enabled() and _floating(result):
        name = name or getattr(function, "__name__", repr(function))
        detail = f" with {', '.join(kwargs)}=" if kwargs else ""
        raise TypeError(
            f"numpy.{name}{detail} is not differentiable in chainrule and would drop the "
            "gradient of a tensor that requires grad; use chainrule's operations, or pass "
            "t.detach() to compute on values only"
        )
    return result
