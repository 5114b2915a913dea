"""Weight initialisation, in place on ``.data``, each from ``rng`` or the library's generator.

Fans are read from a weight of shape (out_features, in_features): fan_in = in_features,
fan_out = out_features.
"""

from __future__ import annotations

import math

import numpy as np

from ..engine.random import resolve_rng
from ..engine.tensor import Tensor


def _fans(tensor: Tensor) -> tuple[int, int]:
    if tensor.ndim < 2:
        raise ValueError(
            f"init: fan in and fan out need a weight with at least 2 dimensions, got shape "
            f"{tensor.shape}"
        )
    receptive = int(np.prod(tensor.shape[2:])) if tensor.ndim > 2 else 1
    return tensor.shape[1] * receptive, tensor.shape[0] * receptive


def _fill(tensor: Tensor, values: np.ndarray) -> Tensor:
    tensor.data[...] = values.astype(tensor.dtype, copy=False)
    tensor._mark_modified()
    return tensor


def normal_(
    tensor: Tensor,
    *,
    std: float = 0.01,
    mean: float = 0.0,
    rng: np.random.Generator | None = None,
) -> Tensor:
    """Draws from N(mean, std²); the default std 0.01 is the classic small random start.

    ``std`` and ``mean`` are keyword-only, since PyTorch's ``normal_(t, mean, std)`` takes them
    positionally in the other order.
    """
    return _fill(tensor, resolve_rng(rng).normal(mean, std, tensor.shape))


def uniform_(
    tensor: Tensor, a: float = 0.0, b: float = 1.0, rng: np.random.Generator | None = None
) -> Tensor:
    """Draws from U(a, b)."""
    return _fill(tensor, resolve_rng(rng).uniform(a, b, tensor.shape))


def zeros_(tensor: Tensor) -> Tensor:
    """All zeros. (For weights this makes every hidden unit identical: fine for biases only.)"""
    tensor.data[...] = 0
    tensor._mark_modified()
    return tensor


def xavier_uniform_(
    tensor: Tensor, gain: float = 1.0, rng: np.random.Generator | None = None
) -> Tensor:
    """Glorot & Bengio (2010): U(±gain·sqrt(6 / (fan_in + fan_out))), for tanh and sigmoid."""
    fan_in, fan_out = _fans(tensor)
    bound = gain * math.sqrt(6 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, rng)


def xavier_normal_(
    tensor: Tensor, gain: float = 1.0, rng: np.random.Generator | None = None
) -> Tensor:
    """Glorot & Bengio (2010): N(0, gain² · 2 / (fan_in + fan_out))."""
    fan_in, fan_out = _fans(tensor)
    return normal_(tensor, std=gain * math.sqrt(2 / (fan_in + fan_out)), rng=rng)


def he_uniform_(tensor: Tensor, rng: np.random.Generator | None = None) -> Tensor:
    """He et al. (2015): U(±sqrt(6 / fan_in)), which keeps ReLU activations' variance steady."""
    fan_in, _ = _fans(tensor)
    bound = math.sqrt(6 / fan_in)
    return uniform_(tensor, -bound, bound, rng)


def he_normal_(tensor: Tensor, rng: np.random.Generator | None = None) -> Tensor:
    """He et al. (2015): N(0, 2 / fan_in), for ReLU networks."""
    fan_in, _ = _fans(tensor)
    return normal_(tensor, std=math.sqrt(2 / fan_in), rng=rng)
