"""Reduce a gradient back to the shape of a broadcast operand."""

from __future__ import annotations

from typing import Any


def unbroadcast(grad: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``grad`` over the axes that broadcasting added or stretched to reach ``shape``.

    Works on NumPy arrays and on Tensors alike (it only uses ``.shape``, ``.sum`` and
    ``.reshape``), so the same rule serves first- and higher-order backward passes.
    """
    grad_shape = grad.shape
    if grad_shape == shape:
        return grad
    leading = len(grad_shape) - len(shape)
    axes = tuple(range(leading)) + tuple(
        leading + i for i, size in enumerate(shape) if size == 1 and grad_shape[leading + i] != 1
    )
    if axes:
        grad = grad.sum(axis=axes)
    if grad.shape != shape:
        grad = grad.reshape(shape)
    return grad
