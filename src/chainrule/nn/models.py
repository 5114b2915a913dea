"""Ready-made networks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .layers import (
    Dropout,
    Identity,
    LeakyReLU,
    Linear,
    ReLU,
    Sequential,
    Sigmoid,
    Sign,
    Step,
    Tanh,
)
from .module import Module

ACTIVATIONS: dict[str, type[Module]] = {
    "relu": ReLU,
    "tanh": Tanh,
    "sigmoid": Sigmoid,
    "leaky_relu": LeakyReLU,
    "identity": Identity,
    "sign": Sign,
    "step": Step,
}


def mlp(
    in_features: int,
    hidden: Sequence[int],
    out_features: int,
    activation: str = "relu",
    dropout: float = 0.0,
    *,
    dtype: Any = None,
    rng: np.random.Generator | None = None,
) -> Sequential:
    """A multilayer perceptron: Linear layers of the given widths with ``activation`` between
    them (and Dropout after each hidden activation when ``dropout`` > 0); the output is linear
    (logits), to be paired with a loss that takes logits. ``dtype`` is the parameters' (the
    library default, float32, when None).

    ``activation`` names one of ``ACTIVATIONS``: "relu", "tanh", "sigmoid", "leaky_relu",
    "identity", "sign" or "step" (the last two have a zero gradient almost everywhere, so a
    network built with them cannot be trained by gradient descent; they serve the lectures'
    threshold units)."""
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"mlp: unknown activation {activation!r}; choose from {', '.join(ACTIVATIONS)}"
        )
    layers: list[Module] = []
    width = in_features
    for size in hidden:
        layers += [Linear(width, size, dtype=dtype, rng=rng), ACTIVATIONS[activation]()]
        if dropout:
            layers.append(Dropout(dropout, rng=rng))
        width = size
    layers.append(Linear(width, out_features, dtype=dtype, rng=rng))
    return Sequential(*layers)
