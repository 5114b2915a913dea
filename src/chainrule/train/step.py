"""One training step up to the optimiser's update: forward, loss, backward, and how many
predictions were right. ``fit`` runs it on the whole batch, or (data-parallel) each process on
its shard before the gradients are averaged; a compiled step will be a third executor."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..engine.tensor import Tensor
from ..nn.losses import BCELoss
from ..nn.module import Module


@dataclass(frozen=True)
class BatchResult:
    """A batch's loss (as the loss function reduces it), its correct predictions and size."""

    loss: float
    correct: int
    size: int


def forward_backward(
    model: Module,
    loss_fn: Any,
    inputs: Tensor,
    targets: Tensor,
    threshold: float,
    guard: Callable[[float], None] | None = None,
) -> BatchResult:
    """Forward pass, loss and backward pass on one batch: the gradients are in the parameters'
    ``.grad`` (added to what is there), ready for the optimiser. ``guard`` sees the loss before
    the backward pass and may raise (a diverged loss is not differentiated)."""
    outputs = model(inputs)
    loss = loss_fn(outputs, targets)
    value = float(loss)
    if guard is not None:
        guard(value)
    result = BatchResult(value, _correct(outputs, targets, threshold), len(inputs))
    loss.backward()
    return result


def _threshold(loss_fn: Any) -> float:
    """Where a single output score splits the classes: 0.5 for probabilities (BCELoss), else 0
    (logits, or margins for the hinge losses)."""
    return 0.5 if isinstance(loss_fn, BCELoss) else 0.0


def _correct(outputs: Tensor, targets: Tensor, threshold: float = 0.0) -> int:
    """How many predictions match (argmax for several outputs, a threshold for one)."""
    return count_correct(outputs.data, targets.data, threshold)


def count_correct(scores: Any, labels: Any, threshold: float = 0.0) -> int:
    """``_correct`` on arrays: how many rows of ``scores`` predict their row of ``labels``."""
    if scores.ndim == 2 and scores.shape[1] > 1:
        if labels.ndim == 2:
            labels = labels.argmax(axis=1)
        return int((scores.argmax(axis=1) == labels).sum())
    scores = scores.reshape(-1)
    labels = labels.reshape(-1)
    if labels.min() < 0:
        return int(((scores > threshold) == (labels > 0)).sum())
    return int(((scores > threshold) == (labels > 0.5)).sum())
