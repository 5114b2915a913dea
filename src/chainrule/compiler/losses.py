"""The losses of a compiled step: the loss of a batch and its gradient with respect to the
network's outputs, in one call on buffers allocated once.

Each computes what its eager function computes (``ops.losses``), in the same order: the mean
is the sum divided by the count, the gradient the per-sample cotangent times the derivative.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.kernels import kernel
from ..nn import losses
from . import fused
from .units import InvalidBatch, Unsupported

__all__ = ["LossUnit", "loss_unit_for"]


class LossUnit:
    """``forward(z, t)`` returns the loss as a float and keeps what ``backward`` needs;
    ``backward()`` returns ∂loss/∂z in a buffer of z's shape."""

    def check(self, t: np.ndarray) -> None:
        """Raise InvalidBatch for targets the eager loss refuses (before anything is drawn)."""

    def forward(self, z: np.ndarray, t: np.ndarray) -> float:
        raise NotImplementedError

    def backward(self) -> np.ndarray:
        raise NotImplementedError


def _count_scale(reduction: str, count: int, dtype: np.dtype[Any], seed: float) -> np.ndarray:
    """The cotangent of each sample's loss when the reduced loss has cotangent ``seed`` (1, or
    the factor a wrapping loss multiplies it by): a 0-d array of the loss's dtype, divided as
    the eager backward pass divides it."""
    start = np.asarray(seed, dtype=dtype)
    return start / count if reduction == "mean" else start


def _reduced(values: np.ndarray, reduction: str) -> float:
    if reduction == "mean":
        return float(values.sum() / values.size)
    return float(values.sum())


class CrossEntropyUnit(LossUnit):
    """Softmax cross-entropy of logits (N, C) against class indices (N,)."""

    def __init__(
        self, reduction: str, shape: tuple[int, ...], dtype: np.dtype[Any], seed: float
    ) -> None:
        rows = shape[0]
        self.reduction = reduction
        self.probabilities = np.empty(shape, dtype)
        self.losses = np.empty(rows, dtype)
        self.grad = np.empty(shape, dtype)
        self.rows = np.arange(rows)
        self.scale = _count_scale(reduction, rows, dtype, seed)
        self.labels: np.ndarray = np.zeros(rows, np.intp)
        self.fused = False
        # The NumPy path's buffers: the row maxima (then the log of the row sums), z - max,
        # and log softmax
        self.top = np.empty((rows, 1), dtype)
        self.shifted = np.empty(shape, dtype)
        self.log_probs = np.empty(shape, dtype)
        self.one = np.ones(1, dtype)
        self.scales = self.scale.reshape(1)

    def check(self, t: np.ndarray) -> None:
        if not fused.labels_in_range(t, self.probabilities.shape[1]):
            raise InvalidBatch("a class index out of range")

    def forward(self, z: np.ndarray, t: np.ndarray) -> float:
        self.labels = np.ascontiguousarray(t, dtype=np.intp)
        engine = kernel("softmax_cross_entropy", z)
        self.fused = engine is not None
        if engine is not None:
            engine(z, self.labels, self.probabilities, self.losses)
        else:
            self._numpy_forward(z)
        return _reduced(self.losses, self.reduction)

    def _numpy_forward(self, z: np.ndarray) -> None:
        # the eager NumPy path's operations, on buffers, the arithmetic after the log in one
        # pass (``fused.log_softmax_pick``)
        top, shifted = self.top, self.shifted
        fused.shift_rows(z, shifted, top)
        np.exp(shifted, out=self.probabilities)
        np.add.reduce(self.probabilities, axis=-1, keepdims=True, out=top)
        np.log(top, out=top)
        fused.log_softmax_pick(shifted, top, self.labels, self.log_probs, self.losses)
        np.exp(self.log_probs, out=self.probabilities)

    def backward(self) -> np.ndarray:
        # softmax minus 1 at the label, times the per-sample cotangent, in the order of the
        # eager rule of the same path (the compiled loop's, or NumPy's)
        if self.fused:
            np.multiply(self.probabilities, self.scale, out=self.grad)
            self.grad[self.rows, self.labels] -= self.scale
            return self.grad
        fused.softmax_grad(self.probabilities, self.labels, self.one, self.scales, self.grad)
        return self.grad


class BCEWithLogitsUnit(LossUnit):
    """softplus(z) - z·t, softplus(z) = max(z, 0) + log1p(e^-|z|), and the gradient
    sigmoid(z) - t from the same e^-|z|: NumPy's vectorised exp and log1p, then one compiled
    pass (``fused.bce_logits``) for the rest. The eager loss takes np.logaddexp, slower on
    small arrays; the two agree to float32 rounding."""

    def __init__(
        self, reduction: str, shape: tuple[int, ...], dtype: np.dtype[Any], seed: float
    ) -> None:
        self.reduction = reduction
        self.count = int(np.prod(shape))
        self.dtype = dtype
        self.decay = np.empty(shape, dtype)  # e^-|z|
        self.log1p_decay = np.empty(shape, dtype)
        self.scratch = np.empty(shape, dtype)
        self.grad = np.empty(shape, dtype)
        scale = _count_scale(reduction, self.count, dtype, seed)
        self.constants = np.array([scale, 1, 0], dtype)

    def forward(self, z: np.ndarray, t: np.ndarray) -> float:
        if not t.flags.c_contiguous:
            t = np.ascontiguousarray(t)
        decay = self.decay
        np.abs(z, out=decay)
        np.negative(decay, out=decay)
        np.exp(decay, out=decay)
        np.log1p(decay, out=self.log1p_decay)
        total = fused.bce_logits(
            z, t, decay, self.log1p_decay, self.constants, self.grad, self.scratch
        )
        # rounded to the loss's dtype, as the eager sum is, before the mean's division
        value = self.dtype.type(total)
        if self.reduction == "mean":
            value = value / self.dtype.type(self.count)
        return float(value)

    def backward(self) -> np.ndarray:
        return self.grad


class MSEUnit(LossUnit):
    """(z - t)², averaged over every element (or summed)."""

    def __init__(
        self, reduction: str, shape: tuple[int, ...], dtype: np.dtype[Any], seed: float
    ) -> None:
        self.reduction = reduction
        self.diff = np.empty(shape, dtype)
        self.squares = np.empty(shape, dtype)
        self.grad = np.empty(shape, dtype)
        self.scale = _count_scale(reduction, int(np.prod(shape)), dtype, seed) * 2

    def forward(self, z: np.ndarray, t: np.ndarray) -> float:
        np.subtract(z, t, out=self.diff)
        np.multiply(self.diff, self.diff, out=self.squares)
        if self.reduction == "mean":
            return float(np.mean(self.squares))
        return float(self.squares.sum())

    def backward(self) -> np.ndarray:
        np.multiply(self.scale, self.diff, out=self.grad)
        return self.grad


class HingeUnit(LossUnit):
    """max(0, margin - z·t) for t in {-1, +1} (margin 0: the perceptron criterion); the
    boundary z·t = margin counts as a mistake, as in the eager loss."""

    def __init__(
        self,
        reduction: str,
        shape: tuple[int, ...],
        dtype: np.dtype[Any],
        seed: float,
        margin: float,
    ) -> None:
        self.reduction = reduction
        self.margin = margin
        self.signs = np.empty(shape, dtype)
        self.products = np.empty(shape, dtype)
        self.active = np.empty(shape, bool)
        self.inactive = np.empty(shape, bool)
        self.losses = np.empty(shape, dtype)
        self.grad = np.empty(shape, dtype)
        self.scale = _count_scale(reduction, int(np.prod(shape)), dtype, seed)

    def check(self, t: np.ndarray) -> None:
        if not np.all((t == 1) | (t == -1)):
            raise InvalidBatch("a target other than -1 or +1")

    def forward(self, z: np.ndarray, t: np.ndarray) -> float:
        np.copyto(self.signs, t, casting="unsafe")
        np.multiply(z, self.signs, out=self.products)
        np.less_equal(self.products, self.margin, out=self.active)
        np.logical_not(self.active, out=self.inactive)
        np.subtract(self.margin, self.products, out=self.losses)
        np.copyto(self.losses, 0, where=self.inactive)
        if self.reduction == "mean":
            return float(np.mean(self.losses))
        return float(self.losses.sum())

    def backward(self) -> np.ndarray:
        np.negative(self.signs, out=self.grad)
        np.copyto(self.grad, 0, where=self.inactive)
        np.multiply(self.scale, self.grad, out=self.grad)
        return self.grad


def loss_unit_for(
    loss_fn: Any, z_shape: tuple[int, ...], t: np.ndarray, dtype: np.dtype[Any], seed: float = 1.0
) -> LossUnit:
    """The unit for ``loss_fn`` on outputs of ``z_shape`` and targets like ``t`` (whose cotangent
    is ``seed``). Raises Unsupported."""
    name = type(loss_fn).__name__
    known = (losses.CrossEntropyLoss, losses.BCEWithLogitsLoss, losses.MSELoss, losses.HingeLoss)
    if type(loss_fn) not in known or "forward" in vars(loss_fn):
        raise Unsupported(
            f"no compiled rule for the loss {getattr(loss_fn, '__name__', name)} (compiled: "
            "nn.CrossEntropyLoss, nn.BCEWithLogitsLoss, nn.MSELoss, nn.HingeLoss)"
        )
    reduction = loss_fn.reduction
    if reduction not in ("mean", "sum"):
        raise Unsupported(f"{name} with reduction={reduction!r} (only 'mean' and 'sum')")
    if type(loss_fn) is losses.CrossEntropyLoss:
        if loss_fn.label_smoothing:
            raise Unsupported("CrossEntropyLoss with label smoothing")
        if len(z_shape) != 2 or t.dtype.kind not in "iu" or t.shape != z_shape[:1]:
            raise Unsupported(
                f"CrossEntropyLoss of outputs {z_shape} and targets {t.shape} ({t.dtype}); "
                "only class indices for a batch of logits"
            )
        return CrossEntropyUnit(reduction, z_shape, dtype, seed)
    if t.shape != z_shape:
        raise Unsupported(f"{name} of outputs {z_shape} and targets {t.shape}")
    if type(loss_fn) is losses.HingeLoss:
        return HingeUnit(reduction, z_shape, dtype, seed, float(loss_fn.margin))
    maker = BCEWithLogitsUnit if type(loss_fn) is losses.BCEWithLogitsLoss else MSEUnit
    return maker(reduction, z_shape, dtype, seed)
