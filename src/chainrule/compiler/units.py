"""The layers of a compiled step: each one's forward and backward pass on buffers allocated once.

A unit is made for one input shape and dtype. Its forward writes into its own output buffer and
keeps what its backward needs; its backward turns the gradient of its output into that of its
input, and writes its parameters' gradients into buffers of their own. Each computes the same
NumPy expressions, in the same order, as the eager op it stands for (``ops.linear``,
``ops.tanh``, ...), so that a compiled step and an eager one agree to the bit wherever BLAS and
NumPy's loops do. What differs is what is not done: no Tensor, no graph node, no new array per
op, no gradient of the input batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..engine.kernels import flat, kernel
from ..engine.random import resolve_rng
from ..nn import layers
from . import fused

__all__ = ["InvalidBatch", "Unit", "Unsupported", "unit_for"]


class Unsupported(Exception):
    """A model, loss or optimiser the compiler has no rule for; the message says which."""


class InvalidBatch(Unsupported):
    """A batch the eager step refuses (a class index out of range): it runs eagerly, which
    raises the error that names the problem, without a CompileWarning."""


class Unit:
    """One layer on buffers. ``forward(x)`` returns the output buffer; ``backward(g, needs)``
    returns the input's gradient (None when ``needs`` is False)."""

    parameters: tuple[Any, ...] = ()

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def backward(self, g: np.ndarray, needs_input: bool) -> np.ndarray | None:
        raise NotImplementedError

    def gradients(self) -> tuple[np.ndarray | None, ...]:
        """The parameters' gradients of the last backward pass, in ``parameters`` order."""
        return ()


class LinearUnit(Unit):
    """y = x Wᵀ + b, or relu of it when ``relu`` (what Sequential fuses as ``linear_relu``)."""

    def __init__(self, layer: layers.Linear, shape: tuple[int, ...], relu: bool) -> None:
        weight = layer.weight.data
        self.relu = relu
        self.weight = layer.weight
        self.bias = layer.bias
        self.parameters = (layer.weight,) if layer.bias is None else (layer.weight, layer.bias)
        rows = shape[0]
        self.out = np.empty((rows, weight.shape[0]), dtype=weight.dtype)
        self.grad_in = np.empty((rows, weight.shape[1]), dtype=weight.dtype)
        self.delta = np.empty_like(self.out) if relu else None
        # The weight's gradient in the weight's layout (as ops.linear makes it).
        column_major = weight.flags.f_contiguous and not weight.flags.c_contiguous
        self.grad_weight = np.empty(weight.shape, weight.dtype, order="F" if column_major else "C")
        self.grad_bias = None if self.bias is None else np.empty(weight.shape[0], weight.dtype)
        # The bias's gradient, the column sums of δ: summed here, or by the activation above
        # in its own backward pass (which then clears this flag).
        self.sum_bias = self.bias is not None and self.bias.requires_grad
        self.x = np.empty((0, 0), dtype=weight.dtype)  # the last forward's input

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x
        out = self.out
        np.matmul(x, self.weight.data.T, out=out)
        if self.bias is not None:
            b = self.bias.data
            if self.relu:
                compiled = kernel("bias_relu", out, b)
                if compiled is not None:
                    compiled(out, b)
                    return out
                out += b
                np.maximum(out, 0, out=out)
                return out
            fused.bias_add(out, b)
        return out

    def backward(self, g: np.ndarray, needs_input: bool) -> np.ndarray | None:
        if self.relu:
            delta = self.delta
            assert delta is not None
            backward = kernel("relu_backward", g, self.out)
            if backward is not None:
                backward(flat(g), flat(self.out), flat(delta))
            else:
                np.multiply(g, self.out > 0, out=delta)
            g = delta
        if self.weight.requires_grad:
            np.matmul(g.T, self.x, out=self.grad_weight)
        if self.sum_bias and self.grad_bias is not None:
            fused.colsum(g, self.grad_bias)
        if not needs_input:
            return None
        return fused.matmul(g, self.weight.data, self.grad_in)

    def gradients(self) -> tuple[np.ndarray | None, ...]:
        if self.bias is None:
            return (self.grad_weight,)
        return (self.grad_weight, self.grad_bias)


class TanhUnit(Unit):
    def __init__(self, shape: tuple[int, ...], dtype: np.dtype[Any]) -> None:
        self.out = np.empty(shape, dtype)
        self.scratch = np.empty(shape, dtype)
        self.grad_in = np.empty(shape, dtype)
        self.sums: np.ndarray | None = None  # the bias gradient of the Linear below, if set

    def forward(self, x: np.ndarray) -> np.ndarray:
        np.tanh(x, out=self.out)
        return self.out

    def backward(self, g: np.ndarray, needs_input: bool) -> np.ndarray | None:
        # g·(1 - out²), as ops.tanh's rule computes it
        if not needs_input:
            return None
        fused.tanh_backward(g, self.out, self.grad_in, self.sums, self.scratch)
        return self.grad_in


class ReLUUnit(Unit):
    def __init__(self, shape: tuple[int, ...], dtype: np.dtype[Any]) -> None:
        self.out = np.empty(shape, dtype)
        self.grad_in = np.empty(shape, dtype)

    def forward(self, x: np.ndarray) -> np.ndarray:
        compiled = kernel("relu_forward", x)
        if compiled is None:
            np.maximum(x, 0, out=self.out)
            return self.out
        compiled(flat(x), flat(self.out))
        return self.out

    def backward(self, g: np.ndarray, needs_input: bool) -> np.ndarray | None:
        if not needs_input:
            return None
        compiled = kernel("relu_backward", g, self.out)
        if compiled is None:
            np.multiply(g, self.out > 0, out=self.grad_in)
            return self.grad_in
        compiled(flat(g), flat(self.out), flat(self.grad_in))
        return self.grad_in


class SigmoidUnit(Unit):
    """1 / (1 + e^-x) without overflow, as ops.sigmoid: e^-|x| and two branches."""

    def __init__(self, shape: tuple[int, ...], dtype: np.dtype[Any]) -> None:
        self.out = np.empty(shape, dtype)
        self.decay = np.empty(shape, dtype)
        self.scratch = np.empty(shape, dtype)
        self.grad_in = np.empty(shape, dtype)
        self.negative = np.empty(shape, dtype=bool)

    def forward(self, x: np.ndarray) -> np.ndarray:
        decay, scratch, out = self.decay, self.scratch, self.out
        np.abs(x, out=decay)
        np.negative(decay, out=decay)
        np.exp(decay, out=decay)
        np.add(1, decay, out=scratch)
        np.divide(1, scratch, out=out)  # the branch for x >= 0
        np.less(x, 0, out=self.negative)
        np.divide(decay, scratch, out=scratch)  # the branch for x < 0
        np.copyto(out, scratch, where=self.negative)
        return out

    def backward(self, g: np.ndarray, needs_input: bool) -> np.ndarray | None:
        if not needs_input:
            return None
        # g·out·(1 - out), left to right as ops.sigmoid's rule
        np.multiply(g, self.out, out=self.grad_in)
        np.subtract(1, self.out, out=self.scratch)
        np.multiply(self.grad_in, self.scratch, out=self.grad_in)
        return self.grad_in


class LeakyReLUUnit(Unit):
    def __init__(self, shape: tuple[int, ...], dtype: np.dtype[Any], slope: float) -> None:
        self.slope = slope
        self.out = np.empty(shape, dtype)
        self.positive = np.empty(shape, dtype=bool)
        self.factor = np.empty(shape, dtype)
        self.grad_in = np.empty(shape, dtype)

    def forward(self, x: np.ndarray) -> np.ndarray:
        np.greater(x, 0, out=self.positive)
        np.multiply(x, self.slope, out=self.out)
        np.copyto(self.out, x, where=self.positive)
        return self.out

    def backward(self, g: np.ndarray, needs_input: bool) -> np.ndarray | None:
        if not needs_input:
            return None
        # g·1 where positive, else g·slope (the slope rounded to the dtype, as ops.leaky_relu)
        self.factor.fill(self.factor.dtype.type(self.slope))
        np.copyto(self.factor, 1, where=self.positive)
        np.multiply(g, self.factor, out=self.grad_in)
        return self.grad_in


class IdentityUnit(Unit):
    def forward(self, x: np.ndarray) -> np.ndarray:
        return x

    def backward(self, g: np.ndarray, needs_input: bool) -> np.ndarray | None:
        return g if needs_input else None


class DropoutUnit(Unit):
    """Inverted dropout with the layer's own random stream, drawn as ``F.dropout`` draws it, so
    a compiled run and an eager one zero the same elements."""

    def __init__(self, layer: layers.Dropout, shape: tuple[int, ...], dtype: Any) -> None:
        self.layer = layer
        self.shape = shape
        self.out = np.empty(shape, dtype)
        self.grad_in = np.empty(shape, dtype)
        self.mask = np.zeros(shape, dtype)

    def forward(self, x: np.ndarray) -> np.ndarray:
        p = self.layer.p
        if p == 1:
            self.mask = np.zeros(self.shape, x.dtype)
            np.multiply(x, 0.0, out=self.out)
            return self.out
        keep = resolve_rng(self.layer.rng).random(self.shape) >= p
        self.mask = (keep / (1 - p)).astype(x.dtype)
        np.multiply(x, self.mask, out=self.out)
        return self.out

    def backward(self, g: np.ndarray, needs_input: bool) -> np.ndarray | None:
        if not needs_input:
            return None
        np.multiply(g, self.mask, out=self.grad_in)
        return self.grad_in


def _plain(module: Any, cls: Any) -> bool:
    """True when ``module`` is exactly ``cls`` running the forward and __call__ defined for it
    (a subclass or a replaced method may do anything, so it is not compiled)."""
    return type(module) is cls and layers._runs_own_forward(module, cls)


def unit_for(module: Any, following: Any, shape: tuple[int, ...], dtype: np.dtype[Any]) -> Unit:
    """The unit for ``module`` on inputs of ``shape``; a Linear takes the ReLU ``following`` it
    into one unit where Sequential fuses the two. Raises Unsupported."""
    name = type(module).__name__
    if isinstance(module, layers.Linear):
        if not _plain(module, layers.Linear):
            raise Unsupported(f"{name} is a subclass of Linear or replaces its forward")
        if len(shape) != 2:
            raise Unsupported(f"Linear on inputs of shape {shape} (only (batch, features))")
        if module.weight.data.dtype != dtype:
            raise Unsupported(
                f"Linear of dtype {module.weight.data.dtype} on inputs of dtype {dtype}"
            )
        fuse = following is not None and module.bias is not None and _plain(following, layers.ReLU)
        return LinearUnit(module, shape, relu=fuse)
    simple: dict[type, Callable[..., Unit]] = {
        layers.Tanh: TanhUnit,
        layers.ReLU: ReLUUnit,
        layers.Sigmoid: SigmoidUnit,
    }
    for cls, maker in simple.items():
        if type(module) is cls and _plain(module, cls):
            return maker(shape, dtype)
    if _plain(module, layers.LeakyReLU):
        return LeakyReLUUnit(shape, dtype, float(module.negative_slope))
    if _plain(module, layers.Identity):
        return IdentityUnit()
    if _plain(module, layers.Dropout):
        if not module.training or module.p == 0:
            return IdentityUnit()
        return DropoutUnit(module, shape, dtype)
    if type(module).__module__.startswith("chainrule."):
        raise Unsupported(f"no compiled rule for the layer {name}")
    raise Unsupported(
        f"{name} is a Module of its own: its forward is Python code the compiler does not "
        "trace (it compiles an nn.Sequential of Linear, Tanh, ReLU, Sigmoid, LeakyReLU, "
        "Identity and Dropout)"
    )
