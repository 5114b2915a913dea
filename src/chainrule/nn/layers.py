"""Layers: Linear, Sequential, the activation functions as modules, Dropout."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, overload

import numpy as np

from .. import ops
from ..engine.dtypes import get_default_dtype
from ..engine.random import resolve_rng
from ..engine.tensor import Tensor
from . import functional as F
from .module import Module, Parameter


class Linear(Module):
    """y = x @ weightᵀ + bias, with weight of shape (out_features, in_features).

    Weights and bias start uniform in ±1/sqrt(in_features), as in PyTorch; ``nn.init`` has the
    alternatives (Xavier, He, small normal).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        dtype: Any = None,
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        if in_features <= 0 or out_features <= 0:
            raise ValueError(
                f"Linear: in_features and out_features must be positive, got {in_features} "
                f"and {out_features}"
            )
        self.in_features = in_features
        self.out_features = out_features
        generator = resolve_rng(rng)
        bound = 1 / math.sqrt(in_features)
        dtype = dtype or get_default_dtype()
        # Stored column-major: weightᵀ is then a row-major matrix and the forward x @ weightᵀ
        # runs as BLAS's plain (NN) product, 10-30% faster than the transposed (NT) one at a
        # layer's sizes. The shape, values and indexing are the same as a row-major array's.
        self.weight = Parameter(
            np.asfortranarray(
                generator.uniform(-bound, bound, (out_features, in_features)).astype(dtype)
            )
        )
        self.bias = (
            Parameter(generator.uniform(-bound, bound, out_features).astype(dtype))
            if bias
            else None
        )

    def forward(self, x: Any) -> Tensor:
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, "
            f"bias={self.bias is not None}"
        )


class Sequential(Module):
    """Layers applied one after the other; ``Sequential(a, b)(x)`` is ``b(a(x))``.

    A ``Linear`` followed by a ``ReLU`` runs as one fused node, ``F.linear_relu`` (the same
    values and gradients, one pass less, one graph node less); set ``fuse = False`` to record
    them as two nodes, for example to see both in ``cr.explain`` or ``cr.viz.graph``.
    """

    fuse = True

    def __init__(self, *layers: Module) -> None:
        super().__init__()
        for position, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(
                    f"Sequential: item {position} is a {type(layer).__name__}, not a Module"
                )
        self.layers = list(layers)

    def named_children(self) -> Iterator[tuple[str, Module]]:
        # Named by position, as in PyTorch ("0.weight"), so state dicts line up.
        for position, layer in enumerate(self.layers):
            yield str(position), layer

    def forward(self, x: Any) -> Any:
        layers = self.layers
        count = len(layers)
        position = 0
        while position < count:
            layer = layers[position]
            if (
                self.fuse
                and position + 1 < count
                and type(layer) is Linear
                and layer.bias is not None
                and _runs_own_forward(layer, Linear)
                and _runs_own_forward(layers[position + 1], ReLU)
            ):
                x = F.linear_relu(x, layer.weight, layer.bias)
                position += 2
            else:
                x = layer(x)
                position += 1
        return x

    @overload
    def __getitem__(self, index: int) -> Module: ...

    @overload
    def __getitem__(self, index: slice) -> Sequential: ...

    def __getitem__(self, index: int | slice) -> Module | Sequential:
        """A layer, or for a slice a Sequential of those layers (the same Module objects, so
        the parameters are shared), as in PyTorch: ``model[:2]`` runs the first two layers."""
        if isinstance(index, slice):
            part = Sequential(*self.layers[index])
            part.fuse = self.fuse
            return part
        return self.layers[index]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Module]:
        return iter(self.layers)

    def append(self, layer: Module) -> Sequential:
        self.layers.append(layer)
        return self


class Identity(Module):
    """Returns its input unchanged."""

    def forward(self, x: Any) -> Any:
        return x


class Sigmoid(Module):
    """1 / (1 + e^-x): smooth, in (0, 1); its gradient vanishes for large |x|."""

    def forward(self, x: Any) -> Tensor:
        return ops.sigmoid(x)


class Tanh(Module):
    """tanh(x): smooth, zero-centred, in (-1, 1); its gradient vanishes for large |x|."""

    def forward(self, x: Any) -> Tensor:
        return ops.tanh(x)


class ReLU(Module):
    """max(x, 0): gradient 1 for x > 0, so it does not vanish in deep networks."""

    def forward(self, x: Any) -> Tensor:
        return ops.relu(x)


class LeakyReLU(Module):
    """x for x > 0, else negative_slope·x: a ReLU whose units cannot die."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = _real(negative_slope, "LeakyReLU", "negative_slope")

    def forward(self, x: Any) -> Tensor:
        return F.leaky_relu(x, self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Step(Module):
    """The step 1[x > 0] in {0, 1}: a threshold unit (as in a tree turned into a network).

    Like ``Sign``, its derivative is 0 wherever it exists, so no gradient passes through it.
    """

    def forward(self, x: Any) -> Tensor:
        return ops.heaviside(x)


class Sign(Module):
    """sign(x) in {-1, 0, +1}: the threshold unit of the perceptron.

    Its derivative is 0 wherever it exists (and undefined at 0), so backpropagation passes no
    gradient through it: a network with Sign hidden units cannot be trained by gradient descent.
    Use it at the output of a trained model, or train with the perceptron rule
    (``chainrule.classic.Perceptron``).
    """

    def forward(self, x: Any) -> Tensor:
        return ops.sign(x)


class Softmax(Module):
    """exp(x) / Σ exp(x) along ``dim`` (the last by default)."""

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
            raise TypeError(f"Softmax: dim must be an integer, got {dim!r}")
        self.dim = int(dim)

    def forward(self, x: Any) -> Tensor:
        return ops.softmax(x, axis=self.dim)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Dropout(Module):
    """Zero each element with probability p while training (scaling the rest by 1/(1-p));
    the identity in evaluation mode."""

    def __init__(self, p: float = 0.5, *, rng: np.random.Generator | None = None) -> None:
        super().__init__()
        p = _real(p, "Dropout", "p")
        if not 0 <= p <= 1:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = p
        self.rng = rng

    def forward(self, x: Any) -> Tensor:
        return F.dropout(x, self.p, self.training, rng=self.rng)

    def extra_repr(self) -> str:
        return f"p={self.p}"


# The methods as defined here, to tell them from replacements (for instance a wrapper that
# records activations): only modules that run these are fused by Sequential, or compiled.
_ORIGINAL: dict[type, Any] = {
    cls: cls.forward
    for cls in (Linear, ReLU, Sequential, Identity, Sigmoid, Tanh, LeakyReLU, Dropout)
}
_ORIGINAL[Module] = Module.__call__


def _runs_own_forward(module: Module, cls: type[Module]) -> bool:
    """True when ``module`` is exactly a ``cls`` whose forward and __call__ are the ones defined
    here: not a subclass, nothing replaced on the instance or on the classes."""
    return (
        type(module) is cls
        and cls.forward is _ORIGINAL[cls]
        and cls.__call__ is _ORIGINAL[Module]
        and "forward" not in vars(module)
    )


def _real(value: Any, layer: str, name: str) -> float:
    """``value`` as a finite float: TypeError for what is not a real number (a string, a bool),
    ValueError for NaN or infinity; both name the layer and the setting."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{layer}: {name} must be a real number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{layer}: {name} must be finite, got {value}")
    return float(value)
