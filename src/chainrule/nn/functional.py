"""Functional forms of the layers and losses, as ``torch.nn.functional`` has them.

``linear``, ``linear_relu``, ``leaky_relu``, ``cross_entropy``, ``binary_cross_entropy``,
``binary_cross_entropy_with_logits`` and ``hinge_loss`` are primitives, with their gradients
beside them in ``chainrule.ops`` (``ops/layers.py``, ``ops/losses.py``); the others here are
compositions of differentiable ops.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import ops
from ..engine.random import resolve_rng
from ..engine.tensor import Tensor, as_tensor
from ..ops.layers import leaky_relu, linear, linear_relu
from ..ops.losses import (
    _check_reduction,
    _class_targets,
    _reduce,
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    hinge_loss,
)

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "dropout",
    "hinge_loss",
    "leaky_relu",
    "linear",
    "linear_relu",
    "mse_loss",
    "multi_margin_loss",
]


def dropout(
    x: Any, p: float = 0.5, training: bool = True, rng: np.random.Generator | None = None
) -> Tensor:
    """Zero each element with probability p and scale the rest by 1/(1-p) (inverted dropout),
    so that the expected value is unchanged and evaluation needs no rescaling.

    Gradient: ∂/∂x = g·mask/(1-p), the same mask as the forward pass (zero where dropped).
    """
    if not 0 <= p <= 1:
        raise ValueError(f"dropout: p must be in [0, 1], got {p}")
    values = as_tensor(x)
    if not training or p == 0:
        return values
    if p == 1:
        return values * 0.0
    keep = resolve_rng(rng).random(values.shape) >= p
    return values * (keep / (1 - p)).astype(values.dtype)


def mse_loss(input: Any, target: Any, reduction: str = "mean") -> Tensor:
    """Squared error (input - target)², averaged over all elements by default (as PyTorch).

    Gradient: ∂/∂input = 2·(input - target)·g (divided by the number of elements for the
    mean); ∂/∂target is its negative.
    """
    _check_reduction(reduction, "mse_loss")
    prediction = as_tensor(input)
    expected = as_tensor(target, like=prediction)
    if prediction.shape != expected.shape:
        raise ValueError(
            f"mse_loss: input shape {prediction.shape} and target shape {expected.shape} "
            "differ; reshape one of them (broadcasting here is almost always a bug)"
        )
    return _reduce((prediction - expected) ** 2, reduction)


def multi_margin_loss(
    input: Any, target: Any, margin: float = 1.0, reduction: str = "mean"
) -> Tensor:
    """Multiclass SVM hinge, as PyTorch: Σ_{j≠y} max(0, margin - z_y + z_j) / C per sample.

    Gradient: for each j ≠ y whose margin is violated (margin - z_y + z_j > 0), ∂/∂z_j = g/C
    and ∂/∂z_y = -g/C; zero elsewhere (divided by N for the mean).
    """
    _check_reduction(reduction, "multi_margin_loss")
    logits = as_tensor(input)
    if logits.ndim != 2:
        raise ValueError(f"multi_margin_loss: input must have shape (N, C), got {logits.shape}")
    labels, indices = _class_targets(target, logits, "multi_margin_loss")
    if not indices:
        raise TypeError("multi_margin_loss: targets must be integer class indices")
    rows = np.arange(logits.shape[0])
    correct = logits[rows, labels].reshape((-1, 1))
    others = np.ones(logits.shape, dtype=bool)
    others[rows, labels] = False
    violations = ops.relu(logits - correct + margin) * others
    return _reduce(violations.sum(axis=1) / logits.shape[1], reduction)
