"""The losses that are primitives: softmax cross-entropy, binary cross-entropy (of
probabilities and of logits) and the hinge. Each is one recorded node with its own
vector-Jacobian product, for numerical stability (a stable log-softmax, logits that never
overflow) and speed; the other losses of ``nn.functional`` are compositions of ops."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..engine.graph import Value
from ..engine.kernels import kernel
from ..engine.tensor import Tensor, TensorLike, as_tensor
from ._constants import _constant
from .elementwise import astype, sigmoid
from .reduce import softmax

__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "hinge_loss",
]


_REDUCTIONS = ("mean", "sum", "none")


def _check_reduction(reduction: str, loss: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{loss}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduce_values(losses: np.ndarray, reduction: str) -> np.ndarray:
    """The forward of a fused loss: per-sample losses averaged, summed or kept."""
    if reduction == "mean":
        # sum / count: the same pairwise sum as mean(), without its Python-level overhead
        return np.asarray(losses.sum() / losses.size)
    if reduction == "sum":
        return np.asarray(losses.sum())
    return losses


def _per_sample_cotangent(g: Any, reduction: str, count: int) -> Any:
    """The cotangent of each sample's loss, given the cotangent of the reduced loss."""
    if reduction == "mean":
        return g / count
    return g


def _class_targets(target: Any, logits: Tensor, loss: str) -> tuple[np.ndarray, bool]:
    """The target as an array, and whether it holds class indices (else probabilities)."""
    array = np.asarray(target.data if isinstance(target, Tensor) else target)
    classes = logits.shape[-1]
    batch_shape = logits.shape[:-1]
    if array.dtype.kind in "iu":
        if array.shape != batch_shape:
            raise ValueError(
                f"{loss}: class-index targets must have shape {batch_shape} for logits of shape "
                f"{logits.shape}, got {array.shape}"
            )
        if array.size and (array.min() < 0 or array.max() >= classes):
            bad = (array < 0) | (array >= classes)
            position = tuple(int(i) for i in np.argwhere(bad)[0])
            raise ValueError(
                f"{loss}: target {int(array[position])} at position {position} is out of range "
                f"for {classes} classes (valid: 0 to {classes - 1})"
            )
        return array, True
    if array.dtype.kind == "f":
        if array.shape != logits.shape:
            raise ValueError(
                f"{loss}: probability targets must have the logits' shape {logits.shape}, got "
                f"{array.shape} (use integer class indices of shape {batch_shape} instead)"
            )
        return array.astype(logits.dtype, copy=False), False
    raise TypeError(f"{loss}: targets must be integer class indices or float probabilities")


def _label_index(labels: np.ndarray) -> Any:
    """The index that picks each sample's label column: (rows, labels) for a batch."""
    if labels.ndim == 0:
        return labels
    return _constant("rows", len(labels), np.intp), labels


def cross_entropy(
    input: TensorLike, target: TensorLike, reduction: str = "mean", label_smoothing: float = 0.0
) -> Tensor:
    """Softmax cross-entropy of logits (N, C) or (C,) with class indices or probabilities.

    The target distribution is q = (1 - ε)·target + ε/C for label smoothing ε; the loss of a
    sample is -Σ_c q_c log softmax(z)_c, computed through a stable log-softmax, so any logits
    (even 1e4) work.

    Gradient: ∂/∂z = (softmax(z)·Σq - q)·g per sample (divided by N for the mean); Σq = 1 for
    class indices and for targets that are distributions.
    """
    _check_reduction(reduction, "cross_entropy")
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    logits = as_tensor(input)
    if logits.ndim not in (1, 2):
        raise ValueError(
            f"cross_entropy: logits must have shape (N, C) or (C,), got {logits.shape}"
        )
    labels, indices = _class_targets(target, logits, "cross_entropy")
    if indices and not label_smoothing and logits.ndim == 2:
        fused = kernel("softmax_cross_entropy", logits.data)
        if fused is not None:
            return _cross_entropy_by_index(fused, logits, labels, reduction)
    classes = logits.shape[-1]
    shifted = logits.data - logits.data.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    if indices:
        at_labels = _label_index(labels)
        picked = log_probs[at_labels]
        losses = -(1 - label_smoothing) * picked
        if label_smoothing:
            losses = losses - label_smoothing / classes * log_probs.sum(axis=-1)
    else:
        q = labels * (1 - label_smoothing) + label_smoothing / classes
        losses = -(q * log_probs).sum(axis=-1)
    count = losses.size
    out = _reduce_values(losses, reduction)

    def target_distribution(dtype: np.dtype) -> np.ndarray:
        if not indices:
            return labels * (1 - label_smoothing) + label_smoothing / classes
        q = np.full(log_probs.shape, label_smoothing / classes, dtype=dtype)
        np.put_along_axis(q, labels[..., None], 1 - label_smoothing + label_smoothing / classes, -1)
        return q

    def vjp(g: Value, z: Value, out: Value) -> Value:
        per_sample = _per_sample_cotangent(g, reduction, count)
        if indices and not label_smoothing and not isinstance(z, Tensor):
            # The common case, without building the one-hot matrix: softmax minus 1 at the label.
            result = np.exp(log_probs)
            result[at_labels] -= 1
            if reduction == "none":
                per_sample = per_sample.reshape(per_sample.shape + (1,))
            result *= per_sample
            return result
        probabilities = softmax(z, axis=-1) if isinstance(z, Tensor) else np.exp(log_probs)
        if reduction == "none":
            per_sample = per_sample.reshape(per_sample.shape + (1,))
        q = target_distribution(log_probs.dtype)
        if not indices:
            # -Σ q log softmax(z) has gradient softmax(z)·Σq - q; Σq is 1 only for true
            # distributions, and soft targets need not be normalised.
            probabilities = probabilities * q.sum(axis=-1, keepdims=True)
        return (probabilities - q) * per_sample

    return Tensor._from_op(out, (logits,), (vjp,), "cross_entropy")


def _cross_entropy_by_index(fused: Any, logits: Tensor, labels: Any, reduction: str) -> Tensor:
    """cross_entropy's common case (a batch of logits, class indices, no smoothing) through one
    compiled pass that leaves the softmax for the backward pass: ∂/∂z = (softmax(z) - 1_label)·g.
    """
    z = logits.data
    probabilities = np.empty_like(z)
    losses = np.empty(len(z), dtype=z.dtype)
    fused(z, labels.astype(np.intp, copy=False), probabilities, losses)
    at_labels = _label_index(labels)
    count = losses.size

    def vjp(g: Value, z: Value, out: Value) -> Value:
        per_sample = _per_sample_cotangent(g, reduction, count)
        scale = per_sample.reshape(-1, 1) if reduction == "none" else per_sample
        if isinstance(z, Tensor):  # create_graph: the softmax recorded as ops
            q = np.zeros(z.shape, dtype=z.dtype)
            q[at_labels] = 1
            return (softmax(z, axis=-1) - q) * scale
        result = probabilities * scale
        result[at_labels] -= per_sample
        return result

    return Tensor._from_op(_reduce_values(losses, reduction), (logits,), (vjp,), "cross_entropy")


def _matching_target(target: Any, input: Tensor) -> Tensor:
    """The target as a tensor of the input's dtype (NumPy labels are often int64 or float64)."""
    t = as_tensor(target, like=input)
    return t if t.data.dtype == input.data.dtype else astype(t, input.data.dtype)


def binary_cross_entropy(input: TensorLike, target: TensorLike, reduction: str = "mean") -> Tensor:
    """-[t·log p + (1 - t)·log(1 - p)] for probabilities p, each log clamped at -100 (as PyTorch)
    so that p = 0 or 1 gives a large finite loss instead of inf.

    Gradient: ∂/∂p = g·(p - t) / max(p(1 - p), 1e-12).
    """
    _check_reduction(reduction, "binary_cross_entropy")
    p = as_tensor(input)
    t = _matching_target(target, p)
    if p.shape != t.shape:
        raise ValueError(
            f"binary_cross_entropy: input shape {p.shape} and target shape {t.shape} differ"
        )
    if np.any((p.data < 0) | (p.data > 1)):
        raise ValueError(
            "binary_cross_entropy: input must hold probabilities in [0, 1]; for logits use "
            "binary_cross_entropy_with_logits"
        )
    with np.errstate(divide="ignore"):
        log_p = np.maximum(np.log(p.data), -100)
        log_not_p = np.maximum(np.log1p(-p.data), -100)
    losses = -(t.data * log_p + (1 - t.data) * log_not_p)
    count = losses.size
    out = _reduce_values(losses, reduction)

    def vjp_p(g: Value, p: Value, t: Value, out: Value) -> Value:
        scale = _per_sample_cotangent(g, reduction, count)
        return scale * (p - t) / np.maximum(p * (1 - p), 1e-12)

    def vjp_t(g: Value, p: Value, t: Value, out: Value) -> Value:
        scale = _per_sample_cotangent(g, reduction, count)
        with np.errstate(divide="ignore"):
            return scale * (np.maximum(np.log(1 - p), -100) - np.maximum(np.log(p), -100))

    return Tensor._from_op(out, (p, t), (vjp_p, vjp_t), "binary_cross_entropy")


def binary_cross_entropy_with_logits(
    input: TensorLike, target: TensorLike, reduction: str = "mean"
) -> Tensor:
    """Binary cross-entropy of sigmoid(z), computed from the logits z without overflow:
    softplus(z) - z·t, with softplus(z) = log(1 + e^z) = max(z, 0) + log(1 + e^-|z|).

    Gradient: ∂/∂z = g·(sigmoid(z) - t); ∂/∂t = -g·z.
    """
    _check_reduction(reduction, "binary_cross_entropy_with_logits")
    z = as_tensor(input)
    t = _matching_target(target, z)
    if z.shape != t.shape:
        raise ValueError(
            f"binary_cross_entropy_with_logits: input shape {z.shape} and target shape "
            f"{t.shape} differ"
        )
    # softplus(z) = log(1 + e^z), which np.logaddexp computes without overflow
    softplus = np.logaddexp(0, z.data)
    losses = softplus - z.data * t.data
    count = losses.size
    out = _reduce_values(losses, reduction)

    def vjp_z(g: Value, z: Value, t: Value, out: Value) -> Value:
        if isinstance(z, Tensor):
            probabilities = sigmoid(z)
        else:
            # sigmoid(z) = e^(z - softplus(z)); the exponent is <= 0, so it never overflows.
            probabilities = np.exp(z - softplus)
        return _per_sample_cotangent(g, reduction, count) * (probabilities - t)

    def vjp_t(g: Value, z: Value, t: Value, out: Value) -> Value:
        return -_per_sample_cotangent(g, reduction, count) * z

    return Tensor._from_op(out, (z, t), (vjp_z, vjp_t), "binary_cross_entropy_with_logits")


def _reduce(losses: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    return losses


def _sign_targets(target: Any, scores: Tensor, loss: str) -> np.ndarray:
    array = np.asarray(target.data if isinstance(target, Tensor) else target)
    if array.shape != scores.shape:
        raise ValueError(
            f"{loss}: input shape {scores.shape} and target shape {array.shape} differ"
        )
    if not np.all((array == 1) | (array == -1)):
        raise ValueError(f"{loss}: targets must be -1 or +1, got values {np.unique(array)[:5]}")
    return array.astype(scores.dtype)


def hinge_loss(
    input: TensorLike, target: TensorLike, margin: float = 0.0, reduction: str = "mean"
) -> Tensor:
    """max(0, margin - z·t) for targets t in {-1, +1}; margin 0 is the perceptron criterion.

    Gradient: -g·t where z·t <= margin, else 0. The boundary z·t = margin counts as a mistake,
    as in the perceptron rule (which updates when t·z <= 0, including at the zero start).
    """
    _check_reduction(reduction, "hinge_loss")
    z = as_tensor(input)
    t = _sign_targets(target, z, "hinge_loss")
    active = z.data * t <= margin
    losses = np.where(active, margin - z.data * t, 0).astype(z.dtype)

    def vjp(g: Value, z: Value, out: Value) -> Value:
        return g * np.where(active, -t, 0).astype(t.dtype)

    return _reduce(Tensor._from_op(losses, (z,), (vjp,), "hinge_loss"), reduction)
