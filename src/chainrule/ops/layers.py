"""The primitives of a network's layers: the affine map ``linear``, the same followed by a ReLU
as one node (``linear_relu``, what ``nn.Sequential`` runs), and ``leaky_relu``. Each is fused:
one recorded node with its own vector-Jacobian products, for speed."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.graph import JointRule, Value
from ..engine.kernels import kernel
from ..engine.tensor import Tensor, TensorLike, as_tensor
from ._constants import _constant
from .elementwise import _relu_vjp, astype

__all__ = ["leaky_relu", "linear", "linear_relu"]


def linear(x: TensorLike, weight: TensorLike, bias: TensorLike | None = None) -> Tensor:
    """y = x @ weightᵀ + bias, as one recorded node.

    Gradient: ∂/∂x = g @ W; ∂/∂W = gᵀ @ x (over all leading axes); ∂/∂b = g summed over all but
    the last axis. The input batch's gradient is computed only when the input requires grad.
    """
    weight = as_tensor(weight)
    x = _linear_input(x, weight)
    out = x.data @ weight.data.T
    if bias is not None:
        bias = as_tensor(bias)
        out += bias.data
        return Tensor._from_op(
            out, (x, weight, bias), (_linear_vjp_x, _linear_vjp_weight, _linear_vjp_bias), "linear"
        )
    return Tensor._from_op(out, (x, weight), (_linear_vjp_x, _linear_vjp_weight), "linear")


def _linear_input(x: Any, weight: Tensor) -> Tensor:
    """``x`` as a tensor of the weight's dtype, checked to have the layer's input features."""
    tensor = as_tensor(x, like=weight)
    if tensor.data.dtype != weight.data.dtype:
        tensor = astype(tensor, weight.data.dtype)
    out_features, in_features = weight.shape
    if tensor.ndim == 0 or tensor.shape[-1] != in_features:
        raise ValueError(
            f"Linear(in_features={in_features}, out_features={out_features}) expected input "
            f"with {in_features} features on its last axis, got input of shape {tensor.shape}"
        )
    return tensor


# The rules of linear, defined once (not as closures per call: a layer runs thousands of times).
def _linear_vjp_x(g: Value, x: Value, weight: Value, *rest: Value) -> Value:
    return g @ weight


def _linear_vjp_weight(g: Value, x: Value, weight: Value, *rest: Value) -> Value:
    out_features, in_features = weight.shape
    if x.ndim == 1:
        return g.reshape((out_features, 1)) @ x.reshape((1, in_features))
    rows, inputs = g.reshape((-1, out_features)), x.reshape((-1, in_features))
    if isinstance(weight, np.ndarray) and weight.flags.f_contiguous and weight.ndim == 2:
        # The gradient in the weight's own (column-major) layout, so that the optimisers'
        # fused kernels can run over both in one pass.
        return np.matmul(rows.T, inputs, order="F")
    return rows.T @ inputs


def _linear_vjp_bias(g: Value, x: Value, weight: Value, *rest: Value) -> Value:
    if g.ndim == 1:
        return g
    rows = g.reshape((-1, weight.shape[0]))
    if isinstance(rows, Tensor):
        return rows.sum(axis=0)
    # A row of ones times g: the column sums, several times faster than sum(axis=0) on the
    # narrow arrays of a layer (a GEMV instead of a strided reduction).
    return _constant("ones", rows.shape[0], rows.dtype) @ rows


def linear_relu(x: TensorLike, weight: TensorLike, bias: TensorLike) -> Tensor:
    """relu(x @ weightᵀ + bias) as one recorded node: what ``nn.Sequential`` runs for a Linear
    followed by a ReLU. The bias and the ReLU are one pass over the product instead of two, and
    the graph has one node instead of two; values and gradients are those of the two ops.

    Gradient: with δ = g where the output is positive (else 0), ∂/∂x = δ @ W, ∂/∂W = δᵀ @ x,
    ∂/∂b = δ summed over all but the last axis; δ is computed once for the three.
    """
    weight, bias = as_tensor(weight), as_tensor(bias)
    x = _linear_input(x, weight)
    out = x.data @ weight.data.T
    b = bias.data
    fused = kernel("bias_relu", out, b) if out.ndim == 2 and b.shape == out.shape[1:] else None
    if fused is not None:
        fused(out, b)
    else:  # other shapes broadcast (or fail) as in linear
        out += b
        np.maximum(out, 0, out=out)
    return Tensor._from_op(out, (x, weight, bias), _LINEAR_RELU_RULE, "linear_relu")


def _linear_relu_gradients(
    g: Value, needs: Value, x: Value, weight: Value, bias: Value, out: Value
) -> tuple[Any, Any, Any]:
    delta = _relu_vjp(g, out, out)  # out > 0 exactly where the affine part is
    return (
        _linear_vjp_x(delta, x, weight) if needs[0] else None,
        _linear_vjp_weight(delta, x, weight) if needs[1] else None,
        _linear_vjp_bias(delta, x, weight) if needs[2] else None,
    )


_LINEAR_RELU_RULE = JointRule(_linear_relu_gradients)


def leaky_relu(x: TensorLike, negative_slope: float = 0.01) -> Tensor:
    """x where x > 0, else negative_slope·x. Gradient: g·1 or g·negative_slope (slope at 0)."""
    x = as_tensor(x)
    positive = x.data > 0
    out = np.where(positive, x.data, x.data * negative_slope)

    def vjp(g: Value, x: Value, out: Value) -> Value:
        return g * np.where(positive, 1, negative_slope).astype(g.dtype)

    return Tensor._from_op(out, (x,), (vjp,), "leaky_relu")
