"""Loss modules: each takes (input, target) and a ``reduction`` of 'mean', 'sum' or 'none'."""

from __future__ import annotations

from typing import Any

from ..engine.tensor import Tensor
from ..ops.losses import _check_reduction
from . import functional as F
from .module import Module


class _Loss(Module):
    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        _check_reduction(reduction, type(self).__name__)
        self.reduction = reduction

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class MSELoss(_Loss):
    """Mean of squared errors (input - target)², as PyTorch (not halved).

    Gradient: ∂/∂input = 2·(input - target)/n for the mean over n elements (see ``mse_loss``).
    """

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.mse_loss(input, target, self.reduction)


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy of logits with class indices or class probabilities as targets.

    Gradient: ∂/∂z = softmax(z) - q per sample, q the (smoothed) one-hot target, divided by N
    for the mean (see ``functional.cross_entropy``).
    """

    def __init__(self, reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(reduction)
        self.label_smoothing = label_smoothing

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.cross_entropy(input, target, self.reduction, self.label_smoothing)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, label_smoothing={self.label_smoothing}"


class BCELoss(_Loss):
    """Binary cross-entropy of probabilities (after a sigmoid).

    Gradient: ∂/∂p = g·(p - t) / max(p·(1 - p), 1e-12).
    """

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.binary_cross_entropy(input, target, self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Binary cross-entropy of logits, with the sigmoid fused in for stability.

    Gradient: ∂/∂z = g·(sigmoid(z) - t).
    """

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, self.reduction)


class HingeLoss(_Loss):
    """max(0, margin - z·t) for t in {-1, +1}; the default margin 0 is the perceptron criterion.

    One SGD step on it with learning rate η for a misclassified sample is the perceptron update
    w += η·t·x.

    Gradient: ∂/∂z = -g·t where z·t <= margin (the boundary counts as a mistake), else 0.
    """

    def __init__(self, margin: float = 0.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.hinge_loss(input, target, self.margin, self.reduction)

    def extra_repr(self) -> str:
        return f"margin={self.margin}, reduction={self.reduction!r}"


class MultiMarginLoss(_Loss):
    """Multiclass SVM hinge: Σ_{j≠y} max(0, margin - z_y + z_j) / C per sample.

    Gradient: +1/C for each class j that violates the margin and -1/C times their count for
    the true class y (see ``functional.multi_margin_loss``).
    """

    def __init__(self, margin: float = 1.0, reduction: str = "mean") -> None:
        super().__init__(reduction)
        self.margin = margin

    def forward(self, input: Any, target: Any) -> Tensor:
        return F.multi_margin_loss(input, target, self.margin, self.reduction)

    def extra_repr(self) -> str:
        return f"margin={self.margin}, reduction={self.reduction!r}"
