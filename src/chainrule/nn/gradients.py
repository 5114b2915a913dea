"""The norm of each layer's gradient, the one number per layer that training monitors
(``GradientNormMonitor``) and the diagnostics (vanishing, exploding gradients) read."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from .module import Module, Parameter


def _layer_of(name: str) -> str:
    """'0.weight' -> '0': parameters are grouped by the module that holds them."""
    return name.rsplit(".", 1)[0] if "." in name else name


def layer_norms(model: Module) -> dict[str, float]:
    """The norm of each layer's current gradients (all its parameters together), in model
    order; parameters without a gradient are left out."""
    return norms_by_layer(model.named_parameters())


def norms_by_layer(named_parameters: Iterable[tuple[str, Parameter]]) -> dict[str, float]:
    """``layer_norms`` of (name, parameter) pairs listed beforehand."""
    squares: dict[str, float] = {}
    for name, p in named_parameters:
        if p.grad is not None:
            flat = p.grad.data.reshape(-1, order="A")  # a view in memory order, no copy
            layer = _layer_of(name)
            squares[layer] = squares.get(layer, 0.0) + float(np.dot(flat, flat))
    return {layer: math.sqrt(total) for layer, total in squares.items()}
