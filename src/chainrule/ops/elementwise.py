"""Elementwise operations with NumPy broadcasting.

Each op computes its NumPy forward and, right beneath, one vector-Jacobian product per input.
A vjp is called as ``vjp(g, *inputs, out)``: with arrays in a first-order backward pass, with
Tensors when the backward pass is itself recorded (``create_graph=True``). The rules are
written with operators, methods and NumPy functions that both understand, so one rule serves
both.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
from numpy.typing import DTypeLike

from ..engine.broadcast import unbroadcast
from ..engine.dtypes import get_default_dtype, is_float
from ..engine.graph import Value
from ..engine.kernels import flat, kernel
from ..engine.tensor import Tensor, TensorLike, as_tensor
from ._operands import binary_operands, value


def _broadcast_error(op: str, x: Tensor, y: Tensor, error: ValueError) -> ValueError:
    """The error of a failed binary op, naming the op and both shapes."""
    try:
        np.broadcast_shapes(x.shape, y.shape)
    except ValueError:
        return ValueError(
            f"{op}: operands with shapes {x.shape} and {y.shape} cannot be broadcast together"
        )
    return ValueError(f"{op} of shapes {x.shape} and {y.shape} ({x.dtype}, {y.dtype}): {error}")


_PYTHON_NUMBERS = (float, int)


def _float_tensor_and_number(x: Any, y: Any) -> bool:
    """True for a floating tensor next to a Python number: then the number is kept inside the
    rule as a constant and the node has one input (a fast path for ``t * 0.5``, ``t + 1``)."""
    return type(y) in _PYTHON_NUMBERS and isinstance(x, Tensor) and x.data.dtype.kind == "f"


def _add_vjp_x(g: Value, x: Value, y: Value, out: Value) -> Value:
    return unbroadcast(g, x.shape)


def _add_vjp_y(g: Value, x: Value, y: Value, out: Value) -> Value:
    return unbroadcast(g, y.shape)


def _identity_vjp(g: Value, x: Value, out: Value) -> Value:
    return g


def _negated_vjp(g: Value, x: Value, out: Value) -> Value:
    return -g


def add(x: TensorLike, y: TensorLike) -> Tensor:
    """x + y.

    Gradient: ∂/∂x = g, ∂/∂y = g, each summed over the axes it was broadcast along.
    """
    if not isinstance(x, Tensor):
        x, y = y, x
    if _float_tensor_and_number(x, y):
        tensor, number = cast(Tensor, x), cast(float, y)
        return Tensor._from_op(tensor.data + number, (tensor,), (_identity_vjp,), "add")
    x, y = binary_operands(x, y)
    try:
        out = x.data + y.data
    except ValueError as error:
        raise _broadcast_error("add", x, y, error) from None
    return Tensor._from_op(out, (x, y), (_add_vjp_x, _add_vjp_y), "add")


def _subtract_vjp_y(g: Value, x: Value, y: Value, out: Value) -> Value:
    return unbroadcast(-g, y.shape)


def subtract(x: TensorLike, y: TensorLike) -> Tensor:
    """x - y.

    Gradient: ∂/∂x = g, ∂/∂y = -g, each summed over broadcast axes.
    """
    if _float_tensor_and_number(x, y):
        tensor, number = cast(Tensor, x), cast(float, y)
        return Tensor._from_op(tensor.data - number, (tensor,), (_identity_vjp,), "subtract")
    if _float_tensor_and_number(y, x):
        tensor, number = cast(Tensor, y), cast(float, x)
        return Tensor._from_op(number - tensor.data, (tensor,), (_negated_vjp,), "subtract")
    x, y = binary_operands(x, y)
    try:
        out = x.data - y.data
    except ValueError as error:
        raise _broadcast_error("subtract", x, y, error) from None
    return Tensor._from_op(out, (x, y), (_add_vjp_x, _subtract_vjp_y), "subtract")


def _multiply_vjp_x(g: Value, x: Value, y: Value, out: Value) -> Value:
    return unbroadcast(g * y, x.shape)


def _multiply_vjp_y(g: Value, x: Value, y: Value, out: Value) -> Value:
    return unbroadcast(g * x, y.shape)


def multiply(x: TensorLike, y: TensorLike) -> Tensor:
    """x * y.

    Gradient: ∂/∂x = g·y, ∂/∂y = g·x, each summed over broadcast axes.
    """
    if not isinstance(x, Tensor):
        x, y = y, x
    if _float_tensor_and_number(x, y):
        tensor, factor = cast(Tensor, x), cast(float, y)

        def vjp(g: Value, x: Value, out: Value) -> Value:
            return g * factor

        return Tensor._from_op(tensor.data * factor, (tensor,), (vjp,), "multiply")
    x, y = binary_operands(x, y)
    try:
        out = x.data * y.data
    except ValueError as error:
        raise _broadcast_error("multiply", x, y, error) from None
    return Tensor._from_op(out, (x, y), (_multiply_vjp_x, _multiply_vjp_y), "multiply")


def _divide_vjp_x(g: Value, x: Value, y: Value, out: Value) -> Value:
    return unbroadcast(g / y, x.shape)


def _divide_vjp_y(g: Value, x: Value, y: Value, out: Value) -> Value:
    return unbroadcast(-g * out / y, y.shape)


def divide(x: TensorLike, y: TensorLike) -> Tensor:
    """x / y.

    Gradient: ∂/∂x = g / y, ∂/∂y = -g·x / y² = -g·out / y, each summed over broadcast axes.
    """
    if _float_tensor_and_number(x, y):
        tensor, divisor = cast(Tensor, x), cast(float, y)

        def vjp_divisor(g: Value, x: Value, out: Value) -> Value:
            return g / divisor

        return Tensor._from_op(tensor.data / divisor, (tensor,), (vjp_divisor,), "divide")
    if _float_tensor_and_number(y, x):
        tensor, dividend = cast(Tensor, y), cast(float, x)

        def vjp_dividend(g: Value, y: Value, out: Value) -> Value:
            return -g * out / y

        return Tensor._from_op(dividend / tensor.data, (tensor,), (vjp_dividend,), "divide")
    x, y = binary_operands(x, y)
    if not is_float(x.data.dtype):
        # True division of integers gives the default float dtype, as in PyTorch.
        x, y = astype(x, get_default_dtype()), astype(y, get_default_dtype())
    try:
        out = x.data / y.data
    except ValueError as error:
        raise _broadcast_error("divide", x, y, error) from None
    return Tensor._from_op(out, (x, y), (_divide_vjp_x, _divide_vjp_y), "divide")


def _power_vjp_x(g: Value, x: Value, y: Value, out: Value) -> Value:
    # x^0 is constant: its derivative is 0 even at x = 0, where y·x^(y-1) would give 0·inf.
    # Only that point is masked, so that the slope stays differentiable in y elsewhere.
    undefined = (value(y) == 0) & (value(x) == 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = y * x ** (y - 1)
    if undefined.any():
        slope = np.where(undefined, 0, slope)
    return unbroadcast(g * slope, x.shape)


def _power_vjp_y(g: Value, x: Value, y: Value, out: Value) -> Value:
    positive_x = value(x) > 0
    safe_log = np.log(np.where(positive_x, x, 1))
    return unbroadcast(g * out * safe_log, y.shape)


def power(x: TensorLike, y: TensorLike) -> Tensor:
    """x ** y.

    Gradient: ∂/∂x = g·y·x^(y-1); ∂/∂y = g·out·log(x), taken as 0 where x <= 0 (there x^y is
    only defined for the integer exponents at which y is not a smooth variable).
    """
    if _float_tensor_and_number(x, y):
        tensor, exponent = cast(Tensor, x), cast(float, y)

        def vjp(g: Value, x: Value, out: Value) -> Value:
            if exponent == 0:
                return g * 0
            return g * exponent * x ** (exponent - 1)

        return Tensor._from_op(tensor.data**exponent, (tensor,), (vjp,), "power")
    x, y = binary_operands(x, y)
    try:
        out = x.data**y.data
    except ValueError as error:
        raise _broadcast_error("power", x, y, error) from None
    return Tensor._from_op(out, (x, y), (_power_vjp_x, _power_vjp_y), "power")


def negative(x: TensorLike) -> Tensor:
    """-x. Gradient: -g."""
    x = as_tensor(x)

    return Tensor._from_op(-x.data, (x,), (_negated_vjp,), "negative")


def positive(x: TensorLike) -> Tensor:
    """+x, a recorded identity (a fresh node for the same values). Gradient: g."""
    x = as_tensor(x)

    return Tensor._from_op(x.data.copy(), (x,), (_identity_vjp,), "positive")


def _exp_vjp(g: Value, x: Value, out: Value) -> Value:
    return g * out


def exp(x: TensorLike) -> Tensor:
    """e^x. Gradient: g·out."""
    x = as_tensor(x)

    return Tensor._from_op(np.exp(x.data), (x,), (_exp_vjp,), "exp")


def _log_vjp(g: Value, x: Value, out: Value) -> Value:
    return g / x


def log(x: TensorLike) -> Tensor:
    """Natural logarithm. Gradient: g / x."""
    x = as_tensor(x)

    return Tensor._from_op(np.log(x.data), (x,), (_log_vjp,), "log")


def _sqrt_vjp(g: Value, x: Value, out: Value) -> Value:
    return g / (2 * out)


def sqrt(x: TensorLike) -> Tensor:
    """Square root. Gradient: g / (2·out)."""
    x = as_tensor(x)

    return Tensor._from_op(np.sqrt(x.data), (x,), (_sqrt_vjp,), "sqrt")


def _abs_vjp(g: Value, x: Value, out: Value) -> Value:
    return g * np.sign(value(x))


def abs(x: TensorLike) -> Tensor:
    """|x|. Gradient: g·sign(x), so 0 at x = 0."""
    x = as_tensor(x)

    return Tensor._from_op(np.abs(x.data), (x,), (_abs_vjp,), "abs")


def _tanh_vjp(g: Value, x: Value, out: Value) -> Value:
    return g * (1 - out * out)


def tanh(x: TensorLike) -> Tensor:
    """Hyperbolic tangent. Gradient: g·(1 - out²)."""
    x = as_tensor(x)

    return Tensor._from_op(np.tanh(x.data), (x,), (_tanh_vjp,), "tanh")


# np.cos of a Tensor (create_graph) dispatches to cos, so these rules differentiate again.
def _sin_vjp(g: Value, x: Value, out: Value) -> Value:
    return g * np.cos(x)


def sin(x: TensorLike) -> Tensor:
    """Sine. Gradient: g·cos(x)."""
    x = as_tensor(x)

    return Tensor._from_op(np.sin(x.data), (x,), (_sin_vjp,), "sin")


def _cos_vjp(g: Value, x: Value, out: Value) -> Value:
    return -(g * np.sin(x))


def cos(x: TensorLike) -> Tensor:
    """Cosine. Gradient: -g·sin(x)."""
    x = as_tensor(x)

    return Tensor._from_op(np.cos(x.data), (x,), (_cos_vjp,), "cos")


def _sigmoid_vjp(g: Value, x: Value, out: Value) -> Value:
    return g * out * (1 - out)


def sigmoid(x: TensorLike) -> Tensor:
    """The logistic function 1 / (1 + e^-x), computed without overflow.

    Gradient: g·out·(1 - out).
    """
    x = as_tensor(x)
    data = x.data
    # e^-|x| never overflows; the two branches are the same function rearranged.
    decay = np.exp(-np.abs(data))
    out = np.where(data >= 0, 1 / (1 + decay), decay / (1 + decay))

    return Tensor._from_op(out, (x,), (_sigmoid_vjp,), "sigmoid")


def _relu_vjp(g: Value, x: Value, out: Value) -> Value:
    if type(g) is np.ndarray:
        backward = kernel("relu_backward", g, out)
        if backward is not None:
            result = np.empty_like(g)
            backward(flat(g), flat(out), flat(result))
            return result
    return g * (value(x) > 0)


def relu(x: TensorLike) -> Tensor:
    """max(x, 0). Gradient: g where x > 0, else 0 (relu'(0) = 0)."""
    x = as_tensor(x)
    data = x.data
    forward = kernel("relu_forward", data)
    if forward is None:
        out = np.maximum(data, 0)
    else:
        out = np.empty_like(data)
        forward(flat(data), flat(out))

    return Tensor._from_op(out, (x,), (_relu_vjp,), "relu")


def _sign_vjp(g: Value, x: Value, out: Value) -> Value:
    return g * 0


def sign(x: TensorLike) -> Tensor:
    """-1, 0 or +1. Gradient: 0 everywhere it exists, so nothing can be learned through it."""
    x = as_tensor(x)

    return Tensor._from_op(np.sign(x.data), (x,), (_sign_vjp,), "sign")


def heaviside(x: TensorLike) -> Tensor:
    """The step 1[x > 0] (0 at 0): the threshold unit with outputs 0 and 1. Gradient: 0
    everywhere it exists, like ``sign``."""
    x = as_tensor(x)
    out = (x.data > 0).astype(x.data.dtype if x.data.dtype.kind == "f" else np.float32)

    return Tensor._from_op(out, (x,), (_sign_vjp,), "heaviside")


def _tie_weights(x: Any, y: Any, dtype: np.dtype) -> Any:
    """1 where x wins, 0.5 at ties, 0 where y wins (ties split the gradient equally)."""
    return ((value(x) > value(y)).astype(dtype) + (value(x) >= value(y))) * 0.5


def maximum(x: TensorLike, y: TensorLike) -> Tensor:
    """Elementwise maximum. Gradient: g to the larger input; at ties each gets g/2."""
    x, y = binary_operands(x, y)
    try:
        out = np.maximum(x.data, y.data)
    except ValueError as error:
        raise _broadcast_error("maximum", x, y, error) from None

    def vjp_x(g: Value, x: Value, y: Value, out: Value) -> Value:
        return unbroadcast(g * _tie_weights(x, y, g.dtype), x.shape)

    def vjp_y(g: Value, x: Value, y: Value, out: Value) -> Value:
        return unbroadcast(g * _tie_weights(y, x, g.dtype), y.shape)

    return Tensor._from_op(out, (x, y), (vjp_x, vjp_y), "maximum")


def minimum(x: TensorLike, y: TensorLike) -> Tensor:
    """Elementwise minimum. Gradient: g to the smaller input; at ties each gets g/2."""
    x, y = binary_operands(x, y)
    try:
        out = np.minimum(x.data, y.data)
    except ValueError as error:
        raise _broadcast_error("minimum", x, y, error) from None

    def vjp_x(g: Value, x: Value, y: Value, out: Value) -> Value:
        return unbroadcast(g * _tie_weights(y, x, g.dtype), x.shape)

    def vjp_y(g: Value, x: Value, y: Value, out: Value) -> Value:
        return unbroadcast(g * _tie_weights(x, y, g.dtype), y.shape)

    return Tensor._from_op(out, (x, y), (vjp_x, vjp_y), "minimum")


def clip(x: TensorLike, a_min: TensorLike | None = None, a_max: TensorLike | None = None) -> Tensor:
    """x limited to [a_min, a_max] (constant bounds; None means unbounded on that side).

    Gradient: g where a_min <= x <= a_max, else 0.
    """
    x = as_tensor(x)
    if a_min is None and a_max is None:
        raise ValueError("clip: at least one of a_min and a_max must be given")
    low = value(a_min) if a_min is not None else -np.inf
    high = value(a_max) if a_max is not None else np.inf
    out = np.clip(x.data, low, high)
    if out.dtype != x.data.dtype:
        out = out.astype(x.data.dtype)

    def vjp(g: Value, x: Value, out: Value) -> Value:
        inside = (value(x) >= low) & (value(x) <= high)
        return unbroadcast(g * inside, x.shape)

    return Tensor._from_op(out, (x,), (vjp,), "clip")


def where(condition: TensorLike, x: TensorLike, y: TensorLike) -> Tensor:
    """x where ``condition`` holds, else y. The condition carries no gradient.

    Gradient: ∂/∂x = g where condition else 0; ∂/∂y = g where not condition else 0; each summed
    over broadcast axes.
    """
    condition = np.asarray(value(condition), dtype=bool)
    x, y = binary_operands(x, y)
    try:
        out = np.where(condition, x.data, y.data)
    except ValueError:
        raise ValueError(
            f"where: condition, x and y with shapes {condition.shape}, {x.shape} and {y.shape} "
            "cannot be broadcast together"
        ) from None

    def vjp_x(g: Value, x: Value, y: Value, out: Value) -> Value:
        return unbroadcast(np.where(condition, g, 0), x.shape)

    def vjp_y(g: Value, x: Value, y: Value, out: Value) -> Value:
        return unbroadcast(np.where(condition, 0, g), y.shape)

    return Tensor._from_op(out, (x, y), (vjp_x, vjp_y), "where")


def astype(x: TensorLike, dtype: DTypeLike) -> Tensor:
    """x converted to ``dtype``. Gradient: g converted back to x's dtype.

    A conversion to an integer or boolean dtype ends the graph: such tensors carry no gradient.
    """
    source = as_tensor(x)
    target: np.dtype = np.dtype(dtype)
    if target == source.data.dtype:
        return source
    out = source.data.astype(target)
    if not is_float(target):
        return Tensor._wrap(out)

    def vjp(g: Value, x: Value, out: Value) -> Value:
        return g.astype(x.dtype)

    return Tensor._from_op(out, (source,), (vjp,), "astype")
