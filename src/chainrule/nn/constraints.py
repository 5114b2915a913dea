"""Max-norm regularisation: a bound on each unit's incoming weight vector.

Unlike a penalty, which adds a term to the loss, a constraint is enforced after each step by
projection: every unit whose incoming weights w (a row of a Linear layer's weight) have
‖w‖ > c is rescaled to ‖w‖ = c. The weights can never grow large, whatever the learning rate,
which is why it pairs well with dropout and large steps.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .layers import Linear
from .module import Module


def max_norm_(target: Module | Iterable[Any], max_value: float) -> int:
    """Rescale, in place, each row of every Linear layer's weight (a unit's incoming weights)
    whose Euclidean norm exceeds ``max_value`` to that norm. Biases are left alone.

    ``target`` is a Module (all its Linear layers) or an iterable of 2-D weight tensors.
    Returns the number of units rescaled.
    """
    if not max_value > 0:
        raise ValueError(f"max_norm_: max_value must be positive, got {max_value}")
    if isinstance(target, Module):
        weights = [m.weight for m in target.modules() if isinstance(m, Linear)]
    else:
        weights = list(target)
    rescaled = 0
    for weight in weights:
        data = weight.data
        if data.ndim != 2:
            raise ValueError(
                f"max_norm_: weights must be 2-D (units × inputs), got shape {data.shape}"
            )
        norms = np.sqrt(np.einsum("ij,ij->i", data, data, dtype=np.float64))
        over = norms > max_value
        if over.any():
            data[over] *= (max_value / norms[over]).astype(data.dtype)[:, None]
            weight._mark_modified()
            rescaled += int(over.sum())
    return rescaled
