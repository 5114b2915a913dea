"""Gradient clipping by global norm."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from ..engine.tensor import Tensor
from .optimizer import _as_list, _parameter_problem, check_setting


def clip_grad_norm_(
    params: Iterable[Tensor] | Tensor, max_norm: float, norm_type: float = 2.0
) -> float:
    """Scale all gradients together so their joint norm is at most ``max_norm``.

    Returns the norm before clipping. Gradients are scaled by max_norm / (norm + 1e-6) when
    the norm exceeds max_norm (as PyTorch), so their direction is kept.

    Parameters
    ----------
    params
        Tensors (``model.parameters()``) or one Tensor; those without a gradient are skipped.
    max_norm
        A finite real number >= 0.
    norm_type
        The p of the p-norm, a real number > 0, or ``math.inf`` for the largest magnitude.

    Raises
    ------
    TypeError
        For a model instead of its parameters, a non-Tensor, or a setting that is not a real
        number (bools and strings included).
    ValueError
        For a setting outside its range, or an infinite ``max_norm``.
    """
    max_norm = check_setting("clip_grad_norm_", "max_norm", max_norm, at_least=0)
    norm_type = check_setting("clip_grad_norm_", "norm_type", norm_type, above=0, finite=False)
    if isinstance(params, Tensor):
        tensors = [params]
    else:
        tensors = _as_list("clip_grad_norm_", "params", params, groups=False)
    for position, p in enumerate(tensors):
        if not isinstance(p, Tensor):
            raise TypeError(f"clip_grad_norm_: parameter {position} {_parameter_problem(p)}")
    grads = [p.grad.data for p in tensors if p.grad is not None]
    if not grads:
        return 0.0
    if norm_type == math.inf:
        total = max(float(np.abs(g).max()) for g in grads)
    else:
        total = sum(float((np.abs(g) ** norm_type).sum()) for g in grads) ** (1 / norm_type)
    if total > max_norm:
        scale = max_norm / (total + 1e-6)
        for g in grads:
            g *= scale
    return total
