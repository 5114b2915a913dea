"""Losses and penalties: values against closed forms, gradients by gradcheck, errors, torch.

Every reference is written here with NumPy from the loss's formula (or taken from
torch.nn.functional when it is installed).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import nn, optim
from chainrule.nn import functional as F

TIGHT = {"atol": 1e-7, "rtol": 1e-5}
HYPOTHESIS = settings(max_examples=20, deadline=None, database=None, derandomize=True)
REDUCTIONS = ["mean", "sum", "none"]


# ------------------------------------------------------------------- NumPy closed forms
def _reduce(losses: np.ndarray, reduction: str) -> np.ndarray:
    if reduction == "mean":
        return np.asarray(losses.mean())
    if reduction == "sum":
        return np.asarray(losses.sum())
    return losses


def _log_softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _softmax(z: np.ndarray) -> np.ndarray:
    return np.exp(_log_softmax(z))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def _ce_indices(z: np.ndarray, y: np.ndarray, smoothing: float = 0.0) -> np.ndarray:
    """-(1 - ε) log p_y - ε/C Σ_c log p_c per sample."""
    log_p = _log_softmax(z)
    picked = np.take_along_axis(log_p, y[..., None], axis=-1)[..., 0]
    return -(1 - smoothing) * picked - smoothing / z.shape[-1] * log_p.sum(axis=-1)


def _ce_probabilities(z: np.ndarray, q: np.ndarray, smoothing: float = 0.0) -> np.ndarray:
    """-Σ_c q'_c log p_c with q' = (1 - ε) q + ε/C."""
    smoothed = (1 - smoothing) * q + smoothing / z.shape[-1]
    return -(smoothed * _log_softmax(z)).sum(axis=-1)


def _bce(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    """-[t log p + (1 - t) log(1 - p)], each log clamped at -100 as PyTorch documents."""
    with np.errstate(divide="ignore"):
        return -(t * np.maximum(np.log(p), -100) + (1 - t) * np.maximum(np.log(1 - p), -100))


def _bce_logits(z: np.ndarray, t: np.ndarray) -> np.ndarray:
    """-[t log σ(z) + (1 - t) log(1 - σ(z))] for moderate z."""
    s = _sigmoid(z)
    return -(t * np.log(s) + (1 - t) * np.log(1 - s))


def _multi_margin(z: np.ndarray, y: np.ndarray, margin: float = 1.0) -> np.ndarray:
    """Σ_{j≠y} max(0, margin - z_y + z_j) / C, one sample at a time."""
    n, c = z.shape
    out = np.zeros(n)
    for i in range(n):
        for j in range(c):
            if j != y[i]:
                out[i] += max(0.0, margin - z[i, y[i]] + z[i, j])
    return out / c


def _check(report: cr.GradcheckReport) -> None:
    assert report.passed, str(report)


# ---------------------------------------------------------------------------------- MSE
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_mse_value(reduction: str) -> None:
    """Mean (or sum, or each) of (x - y)², not halved."""
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    out = nn.MSELoss(reduction=reduction)(x, y)
    np.testing.assert_allclose(out.data, _reduce((x - y) ** 2, reduction), rtol=1e-14)


def test_mse_value_by_hand() -> None:
    """x = [1, 2, 3], y = [1, 0, 0]: mean of [0, 4, 9] is 13/3."""
    out = nn.MSELoss()(np.array([1.0, 2.0, 3.0]), np.array([1.0, 0.0, 0.0]))
    assert float(out) == pytest.approx(13 / 3, rel=1e-15)


def test_mse_gradient_closed_form() -> None:
    """d/dx mean((x - y)²) = 2 (x - y) / n."""
    rng = np.random.default_rng(1)
    values, y = rng.standard_normal((5, 2)), rng.standard_normal((5, 2))
    x = cr.tensor(values, requires_grad=True)
    nn.MSELoss()(x, y).backward()
    np.testing.assert_allclose(x.grad.data, 2 * (values - y) / values.size, rtol=1e-14)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@HYPOTHESIS
@given(n=st.integers(1, 4), c=st.integers(1, 4), seed=st.integers(0, 2**16))
def test_mse_gradcheck(reduction: str, n: int, c: int, seed: int) -> None:
    """Gradients with respect to the input and the target, in float64."""
    rng = np.random.default_rng(seed)
    x, y = rng.standard_normal((n, c)), rng.standard_normal((n, c))
    _check(cr.gradcheck(lambda a, b: F.mse_loss(a, b, reduction), x, y, **TIGHT))


# ------------------------------------------------------------------------ cross entropy
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.5])
def test_cross_entropy_index_targets_value(reduction: str, smoothing: float) -> None:
    """-(1 - ε) log softmax(z)_y - ε/C Σ log softmax(z), reduced."""
    rng = np.random.default_rng(2)
    z, y = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    out = nn.CrossEntropyLoss(reduction=reduction, label_smoothing=smoothing)(z, y)
    expected = _reduce(_ce_indices(z, y, smoothing), reduction)
    np.testing.assert_allclose(out.data, expected, rtol=1e-13)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_probability_targets_value(reduction: str, smoothing: float) -> None:
    """-Σ q' log softmax(z) with q' = (1 - ε) q + ε/C."""
    rng = np.random.default_rng(3)
    z = rng.standard_normal((5, 3))
    q = rng.dirichlet(np.ones(3), 5)
    out = nn.CrossEntropyLoss(reduction=reduction, label_smoothing=smoothing)(z, q)
    expected = _reduce(_ce_probabilities(z, q, smoothing), reduction)
    np.testing.assert_allclose(out.data, expected, rtol=1e-13)


def test_cross_entropy_by_hand() -> None:
    """Equal logits over 4 classes: the loss is log 4 whatever the target."""
    out = nn.CrossEntropyLoss()(np.zeros((3, 4)), np.array([0, 3, 1]))
    assert float(out) == pytest.approx(np.log(4), rel=1e-15)


def test_cross_entropy_one_hot_probabilities_equal_indices() -> None:
    """One-hot probability targets give the same loss and gradient as class indices."""
    rng = np.random.default_rng(4)
    values, y = rng.standard_normal((5, 3)), rng.integers(0, 3, 5)
    a = cr.tensor(values, requires_grad=True)
    b = cr.tensor(values, requires_grad=True)
    loss_a = F.cross_entropy(a, y, label_smoothing=0.1)
    loss_b = F.cross_entropy(b, np.eye(3)[y], label_smoothing=0.1)
    loss_a.backward()
    loss_b.backward()
    assert float(loss_a) == pytest.approx(float(loss_b), rel=1e-14)
    np.testing.assert_allclose(a.grad.data, b.grad.data, rtol=1e-13, atol=1e-16)


@pytest.mark.parametrize("smoothing", [0.0, 0.3])
def test_cross_entropy_gradient_closed_form(smoothing: float) -> None:
    """d/dz mean CE = (softmax(z) - q') / N with q' the smoothed one-hot target."""
    rng = np.random.default_rng(5)
    values, y = rng.standard_normal((4, 5)), rng.integers(0, 5, 4)
    z = cr.tensor(values, requires_grad=True)
    F.cross_entropy(z, y, label_smoothing=smoothing).backward()
    q = (1 - smoothing) * np.eye(5)[y] + smoothing / 5
    np.testing.assert_allclose(z.grad.data, (_softmax(values) - q) / 4, rtol=1e-12, atol=1e-16)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_cross_entropy_is_stable_for_huge_logits(dtype: type) -> None:
    """Logits ±1e4: the loss is 0 for the winning class and 1e4 (or 2e4) otherwise; the gradient
    is softmax - one-hot = [1, -1, 0] and [1, 0, -1] with no NaN or inf."""
    logits = np.array([[1e4, 0.0, -1e4], [1e4, 0.0, -1e4], [1e4, 0.0, -1e4]], dtype=dtype)
    z = cr.tensor(logits, requires_grad=True)
    losses = F.cross_entropy(z, np.array([0, 1, 2]), reduction="none")
    np.testing.assert_allclose(losses.data, [0.0, 1e4, 2e4], rtol=1e-6, atol=1e-6)
    losses.sum().backward()
    expected = np.array([[0.0, 0.0, 0.0], [1.0, -1.0, 0.0], [1.0, 0.0, -1.0]])
    assert np.all(np.isfinite(z.grad.data))
    np.testing.assert_allclose(z.grad.data, expected, atol=1e-6)


def test_cross_entropy_single_sample_of_shape_c() -> None:
    """Logits (C,) with a scalar index target: -log softmax(z)_y."""
    z = np.array([0.5, -1.0, 2.0])
    out = F.cross_entropy(z, np.array(2))
    assert float(out) == pytest.approx(-_log_softmax(z)[2], rel=1e-14)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@HYPOTHESIS
@given(
    n=st.integers(1, 4),
    c=st.integers(2, 5),
    smoothing=st.sampled_from([0.0, 0.1, 0.7]),
    seed=st.integers(0, 2**16),
)
def test_cross_entropy_index_gradcheck(
    reduction: str, n: int, c: int, smoothing: float, seed: int
) -> None:
    """Class-index targets, with and without label smoothing."""
    rng = np.random.default_rng(seed)
    z, y = 3 * rng.standard_normal((n, c)), rng.integers(0, c, n)
    _check(cr.gradcheck(lambda t: F.cross_entropy(t, y, reduction, smoothing), z, **TIGHT))


@pytest.mark.parametrize("reduction", REDUCTIONS)
@HYPOTHESIS
@given(
    n=st.integers(1, 4),
    c=st.integers(2, 5),
    smoothing=st.sampled_from([0.0, 0.25]),
    seed=st.integers(0, 2**16),
)
def test_cross_entropy_probability_gradcheck(
    reduction: str, n: int, c: int, smoothing: float, seed: int
) -> None:
    """Probability targets (rows of a Dirichlet draw), with and without label smoothing."""
    rng = np.random.default_rng(seed)
    z, q = 3 * rng.standard_normal((n, c)), rng.dirichlet(np.ones(c), n)
    _check(cr.gradcheck(lambda t: F.cross_entropy(t, q, reduction, smoothing), z, **TIGHT))


def test_cross_entropy_gradient_matches_its_value_for_unnormalised_soft_targets() -> None:
    """Soft targets whose rows do not sum to 1 are accepted, so the gradient must be that of
    the computed value: d/dz -Σ q log softmax(z) = softmax(z)·Σq - q (as torch computes)."""
    rng = np.random.default_rng(6)
    z, q = rng.standard_normal((3, 4)), rng.uniform(0, 1, (3, 4))
    try:
        F.cross_entropy(z, q)
    except ValueError:
        return  # refusing targets that are not distributions is also acceptable
    _check(cr.gradcheck(lambda t: F.cross_entropy(t, q), z, **TIGHT))


def test_cross_entropy_second_derivative() -> None:
    """The fused loss differentiates twice: its Hessian in z is diag(s) - s sᵀ, s = softmax(z)."""
    z = np.random.default_rng(15).standard_normal(5)
    hessian = cr.hessian(lambda t: F.cross_entropy(t, np.array(3), label_smoothing=0.1))(z)
    s = _softmax(z)
    np.testing.assert_allclose(hessian.data, np.diag(s) - np.outer(s, s), atol=1e-14)


def test_bce_with_logits_second_derivative() -> None:
    """d²/dz² of the summed loss is diag(σ(z)(1 - σ(z)))."""
    rng = np.random.default_rng(16)
    z, t = rng.standard_normal(4), rng.uniform(0, 1, 4)
    hessian = cr.hessian(lambda a: F.binary_cross_entropy_with_logits(a, t, "sum"))(z)
    s = _sigmoid(z)
    np.testing.assert_allclose(hessian.data, np.diag(s * (1 - s)), atol=1e-14)


@pytest.mark.parametrize("smoothing", [-0.1, 1.5])
def test_cross_entropy_rejects_bad_label_smoothing(smoothing: float) -> None:
    """label_smoothing must lie in [0, 1]."""
    with pytest.raises(ValueError, match="label_smoothing"):
        F.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), label_smoothing=smoothing)


# ---------------------------------------------------------------------------------- BCE
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_value(reduction: str) -> None:
    """-[t log p + (1 - t) log(1 - p)], reduced."""
    rng = np.random.default_rng(7)
    p, t = rng.uniform(0.05, 0.95, (4, 3)), rng.integers(0, 2, (4, 3)).astype(float)
    out = nn.BCELoss(reduction=reduction)(p, t)
    np.testing.assert_allclose(out.data, _reduce(_bce(p, t), reduction), rtol=1e-13)


def test_bce_by_hand() -> None:
    """p = 0.5 costs log 2 whatever the target."""
    assert float(nn.BCELoss()(np.full(3, 0.5), np.array([0.0, 1.0, 1.0]))) == pytest.approx(
        np.log(2), rel=1e-15
    )


def test_bce_clamps_logs_at_minus_100() -> None:
    """p = 0 with t = 1 (and p = 1 with t = 0) cost exactly 100, not inf; gradients are finite."""
    p = cr.tensor(np.array([0.0, 1.0, 0.0, 1.0]), requires_grad=True)
    t = np.array([1.0, 0.0, 0.0, 1.0])
    losses = F.binary_cross_entropy(p, t, reduction="none")
    np.testing.assert_array_equal(losses.data, [100.0, 100.0, 0.0, 0.0])
    losses.sum().backward()
    assert np.all(np.isfinite(p.grad.data))


def test_bce_gradient_closed_form() -> None:
    """d/dp mean BCE = (p - t) / (p (1 - p)) / n."""
    rng = np.random.default_rng(8)
    values, t = rng.uniform(0.1, 0.9, 6), rng.uniform(0, 1, 6)
    p = cr.tensor(values, requires_grad=True)
    nn.BCELoss()(p, t).backward()
    expected = (values - t) / (values * (1 - values)) / 6
    np.testing.assert_allclose(p.grad.data, expected, rtol=1e-13)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@HYPOTHESIS
@given(n=st.integers(1, 4), c=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_bce_gradcheck(reduction: str, n: int, c: int, seed: int) -> None:
    """Gradients with respect to p in (0.05, 0.95) and soft targets t in [0, 1]."""
    rng = np.random.default_rng(seed)
    p, t = rng.uniform(0.05, 0.95, (n, c)), rng.uniform(0, 1, (n, c))
    _check(cr.gradcheck(lambda a, b: F.binary_cross_entropy(a, b, reduction), p, t, **TIGHT))


@pytest.mark.parametrize("bad", [-0.1, 1.1])
def test_bce_rejects_values_outside_unit_interval(bad: float) -> None:
    """BCE takes probabilities; a logit-like value is refused with a hint."""
    with pytest.raises(ValueError, match="logits"):
        nn.BCELoss()(np.array([0.5, bad]), np.array([0.0, 1.0]))


# ------------------------------------------------------------------------ BCE with logits
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_bce_with_logits_value(reduction: str) -> None:
    """BCE of sigmoid(z) for moderate logits."""
    rng = np.random.default_rng(9)
    z, t = 3 * rng.standard_normal((4, 3)), rng.uniform(0, 1, (4, 3))
    out = nn.BCEWithLogitsLoss(reduction=reduction)(z, t)
    np.testing.assert_allclose(out.data, _reduce(_bce_logits(z, t), reduction), rtol=1e-12)


def test_bce_with_logits_is_stable_for_huge_logits() -> None:
    """z = ±1e4: a confident right answer costs 0, a confident wrong one |z|; gradient σ(z) - t."""
    z = cr.tensor(np.array([1e4, 1e4, -1e4, -1e4]), requires_grad=True)
    t = np.array([1.0, 0.0, 0.0, 1.0])
    losses = F.binary_cross_entropy_with_logits(z, t, reduction="none")
    np.testing.assert_allclose(losses.data, [0.0, 1e4, 0.0, 1e4], atol=1e-12)
    losses.sum().backward()
    np.testing.assert_allclose(z.grad.data, [0.0, 1.0, 0.0, -1.0], atol=1e-12)


def test_bce_with_logits_gradient_closed_form() -> None:
    """d/dz mean = (σ(z) - t) / n; d/dt mean = -z / n."""
    rng = np.random.default_rng(10)
    zv, tv = rng.standard_normal(5), rng.uniform(0, 1, 5)
    z = cr.tensor(zv, requires_grad=True)
    t = cr.tensor(tv, requires_grad=True)
    nn.BCEWithLogitsLoss()(z, t).backward()
    np.testing.assert_allclose(z.grad.data, (_sigmoid(zv) - tv) / 5, rtol=1e-13)
    np.testing.assert_allclose(t.grad.data, -zv / 5, rtol=1e-13)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@HYPOTHESIS
@given(n=st.integers(1, 4), c=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_bce_with_logits_gradcheck(reduction: str, n: int, c: int, seed: int) -> None:
    """Gradients with respect to the logits and the targets."""
    rng = np.random.default_rng(seed)
    z, t = 4 * rng.standard_normal((n, c)), rng.uniform(0, 1, (n, c))
    _check(
        cr.gradcheck(
            lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction), z, t, **TIGHT
        )
    )


# -------------------------------------------------------------------------------- hinge
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_hinge_value(reduction: str) -> None:
    """max(0, -z t) for t in {-1, +1}."""
    z = np.array([2.0, -1.5, 0.5, -0.25, 0.0])
    t = np.array([1, 1, -1, -1, 1])
    out = nn.HingeLoss(reduction=reduction)(z, t)
    expected = np.array([0.0, 1.5, 0.5, 0.0, 0.0])
    np.testing.assert_allclose(out.data, _reduce(expected, reduction), rtol=1e-15)


def test_hinge_gradient_is_minus_t_on_mistakes_and_at_zero() -> None:
    """d/dz = -t where z t <= 0 (the boundary counts as a mistake), else 0."""
    z = cr.tensor(np.array([2.0, -1.5, 0.5, -0.25, 0.0, 0.0]), requires_grad=True)
    t = np.array([1, 1, -1, -1, 1, -1])
    nn.HingeLoss(reduction="sum")(z, t).backward()
    np.testing.assert_array_equal(z.grad.data, [0.0, -1.0, 1.0, 0.0, -1.0, 1.0])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@HYPOTHESIS
@given(n=st.integers(1, 6), seed=st.integers(0, 2**16))
def test_hinge_gradcheck(reduction: str, n: int, seed: int) -> None:
    """Away from the kink z = 0 the gradient matches finite differences."""
    rng = np.random.default_rng(seed)
    z = rng.uniform(0.1, 3, n) * rng.choice([-1.0, 1.0], n)
    t = rng.choice([-1, 1], n)
    _check(cr.gradcheck(lambda a: F.hinge_loss(a, t, reduction=reduction), z, **TIGHT))


def test_hinge_moves_a_zero_initialised_perceptron() -> None:
    """From w = 0, b = 0 (z = 0), one SGD step with lr 1 gives w = t x, b = t."""
    layer = nn.Linear(2, 1, dtype=np.float64)
    nn.init.zeros_(layer.weight)
    nn.init.zeros_(layer.bias)
    x = np.array([[2.0, -1.0]])
    t = np.array([[-1]])
    sgd = optim.SGD(layer.parameters(), lr=1.0)
    nn.HingeLoss()(layer(x), t).backward()
    sgd.step()
    np.testing.assert_array_equal(layer.weight.data, [[-2.0, 1.0]])
    np.testing.assert_array_equal(layer.bias.data, [-1.0])


def test_hinge_sgd_step_is_the_perceptron_rule() -> None:
    """A mistake updates w += t x, b += t; a correct sample leaves w and b unchanged."""
    layer = nn.Linear(2, 1, dtype=np.float64)
    layer.weight.data[...] = [[1.0, 1.0]]
    layer.bias.data[...] = 0.0
    sgd = optim.SGD(layer.parameters(), lr=1.0)
    nn.HingeLoss()(layer(np.array([[1.0, 2.0]])), np.array([[-1]])).backward()
    sgd.step()
    np.testing.assert_array_equal(layer.weight.data, [[0.0, -1.0]])
    np.testing.assert_array_equal(layer.bias.data, [-1.0])
    sgd.zero_grad()
    nn.HingeLoss()(layer(np.array([[1.0, -3.0]])), np.array([[1]])).backward()
    sgd.step()
    np.testing.assert_array_equal(layer.weight.data, [[0.0, -1.0]])
    np.testing.assert_array_equal(layer.bias.data, [-1.0])


def test_hinge_rejects_zero_one_labels() -> None:
    """Targets must be -1 or +1; 0/1 labels are refused."""
    with pytest.raises(ValueError, match="-1"):
        nn.HingeLoss()(np.array([0.5, -0.5]), np.array([0, 1]))


# ------------------------------------------------------------------------- multi margin
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("margin", [1.0, 0.5])
def test_multi_margin_value(reduction: str, margin: float) -> None:
    """Σ_{j≠y} max(0, margin - z_y + z_j) / C."""
    rng = np.random.default_rng(11)
    z, y = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    out = nn.MultiMarginLoss(margin=margin, reduction=reduction)(z, y)
    np.testing.assert_allclose(out.data, _reduce(_multi_margin(z, y, margin), reduction))


def test_multi_margin_by_hand() -> None:
    """z = [0.1, 0.2, 0.4, 0.8], y = 3: (1 - 0.8 + 0.1 + 1 - 0.8 + 0.2 + 1 - 0.8 + 0.4) / 4."""
    out = nn.MultiMarginLoss()(np.array([[0.1, 0.2, 0.4, 0.8]]), np.array([3]))
    assert float(out) == pytest.approx(0.325, rel=1e-14)


def test_multi_margin_gradient_closed_form() -> None:
    """Each violated j adds 1/C to z_j and -1/C to z_y (mean over N as well)."""
    z = cr.tensor(np.array([[0.1, 0.2, 0.4, 0.8], [3.0, 0.0, -1.0, 2.5]]), requires_grad=True)
    nn.MultiMarginLoss()(z, np.array([3, 0])).backward()
    # Row 0: all three others violate. Row 1: only class 3 (1 - 3 + 2.5 = 0.5 > 0) violates.
    expected = np.array([[0.25, 0.25, 0.25, -0.75], [-0.25, 0.0, 0.0, 0.25]]) / 2
    np.testing.assert_allclose(z.grad.data, expected, rtol=1e-15)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@HYPOTHESIS
@given(n=st.integers(1, 4), c=st.integers(2, 5), seed=st.integers(0, 2**16))
def test_multi_margin_gradcheck(reduction: str, n: int, c: int, seed: int) -> None:
    """Away from the hinge kinks (every margin term at least 0.05 from 0)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    z = rng.standard_normal((n, c))
    terms = 1.0 - np.take_along_axis(z, y[:, None], axis=1) + z
    terms[np.arange(n), y] = 1.0
    z = z + np.where(np.abs(terms) < 0.05, 0.1, 0.0)
    _check(cr.gradcheck(lambda a: F.multi_margin_loss(a, y, reduction=reduction), z, **TIGHT))


# --------------------------------------------------------------------------------- errors
def _message(call: Callable[[], Any], error: type[Exception] = ValueError) -> str:
    with pytest.raises(error) as info:
        call()
    return str(info.value)


@pytest.mark.parametrize(
    "loss",
    [nn.MSELoss(), nn.BCELoss(), nn.BCEWithLogitsLoss(), nn.HingeLoss()],
    ids=["mse", "bce", "bce_logits", "hinge"],
)
def test_elementwise_losses_name_both_shapes(loss: nn.Module) -> None:
    """Targets of shape (4, 1) for inputs (4,) are refused (no silent broadcast to (4, 4))."""
    message = _message(lambda: loss(np.full(4, 0.5), np.ones((4, 1))))
    assert "(4,)" in message and "(4, 1)" in message


@pytest.mark.parametrize(
    "loss", [F.cross_entropy, F.multi_margin_loss], ids=["cross_entropy", "multi_margin"]
)
def test_index_targets_of_wrong_shape(loss: Callable[..., Any]) -> None:
    """Index targets (4, 1) for logits (4, 3): expected (4,) and received (4, 1) are named."""
    message = _message(lambda: loss(np.zeros((4, 3)), np.zeros((4, 1), dtype=int)))
    assert "(4,)" in message and "(4, 1)" in message


def test_cross_entropy_probability_targets_of_wrong_shape() -> None:
    """Probability targets (4, 2) for logits (4, 3) are refused with both shapes."""
    message = _message(lambda: F.cross_entropy(np.zeros((4, 3)), np.full((4, 2), 0.5)))
    assert "(4, 3)" in message and "(4, 2)" in message


@pytest.mark.parametrize(
    "loss", [F.cross_entropy, F.multi_margin_loss], ids=["cross_entropy", "multi_margin"]
)
@pytest.mark.parametrize(("bad", "text"), [(11, "11"), (-7, "-7")])
def test_out_of_range_class_index_names_value_and_position(
    loss: Callable[..., Any], bad: int, text: str
) -> None:
    """Targets [0, 1, 2, 0, bad, 1] for 3 classes: the message names the value and position 4."""
    targets = np.array([0, 1, 2, 0, bad, 1])
    message = _message(lambda: loss(np.zeros((6, 3)), targets))
    assert text in message
    assert "4" in message
    assert "3" in message


@pytest.mark.parametrize(
    "make",
    [
        nn.MSELoss,
        nn.CrossEntropyLoss,
        nn.BCELoss,
        nn.BCEWithLogitsLoss,
        nn.HingeLoss,
        nn.MultiMarginLoss,
    ],
)
def test_unknown_reduction_is_refused(make: Callable[..., nn.Module]) -> None:
    """reduction must be 'mean', 'sum' or 'none'."""
    with pytest.raises(ValueError, match="reduction"):
        make(reduction="avg")


# ------------------------------------------------------------------------- against torch
def _torch_grad(torch: Any, fn: Callable[..., Any], *arrays: np.ndarray) -> tuple[Any, list]:
    tensors = [torch.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    out.sum().backward()
    return out.detach().numpy(), [t.grad.numpy() for t in tensors]


def _ours_grad(fn: Callable[..., Any], *arrays: np.ndarray) -> tuple[Any, list]:
    tensors = [cr.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    out.sum().backward()
    return out.data, [t.grad.data for t in tensors]


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_losses_match_torch(reduction: str) -> None:
    """Values and gradients of every loss torch also has, in float64."""
    torch = pytest.importorskip("torch")
    tf = torch.nn.functional
    rng = np.random.default_rng(12)
    x, y = rng.standard_normal((5, 4)), rng.standard_normal((5, 4))
    labels = rng.integers(0, 4, 5)
    soft = rng.dirichlet(np.ones(4), 5)
    p, t = rng.uniform(0.05, 0.95, (5, 4)), rng.uniform(0, 1, (5, 4))
    tl = torch.tensor(labels)
    cases: list[tuple[str, Any, Any, tuple[np.ndarray, ...]]] = [
        (
            "mse",
            lambda a, b: F.mse_loss(a, b, reduction),
            lambda a, b: tf.mse_loss(a, b, reduction=reduction),
            (x, y),
        ),
        (
            "ce",
            lambda a: F.cross_entropy(a, labels, reduction),
            lambda a: tf.cross_entropy(a, tl, reduction=reduction),
            (x,),
        ),
        (
            "ce_smooth",
            lambda a: F.cross_entropy(a, labels, reduction, 0.15),
            lambda a: tf.cross_entropy(a, tl, reduction=reduction, label_smoothing=0.15),
            (x,),
        ),
        (
            "ce_soft",
            lambda a: F.cross_entropy(a, soft, reduction, 0.2),
            lambda a: tf.cross_entropy(
                a, torch.tensor(soft), reduction=reduction, label_smoothing=0.2
            ),
            (x,),
        ),
        (
            "bce",
            lambda a, b: F.binary_cross_entropy(a, b, reduction),
            lambda a, b: tf.binary_cross_entropy(a, b, reduction=reduction),
            (p, t),
        ),
        (
            "bce_logits",
            lambda a, b: F.binary_cross_entropy_with_logits(a, b, reduction),
            lambda a, b: tf.binary_cross_entropy_with_logits(a, b, reduction=reduction),
            (x, t),
        ),
        (
            "multi_margin",
            lambda a: F.multi_margin_loss(a, labels, 0.7, reduction),
            lambda a: tf.multi_margin_loss(a, tl, margin=0.7, reduction=reduction),
            (x,),
        ),
    ]
    for name, ours, theirs, arrays in cases:
        value, grads = _ours_grad(ours, *arrays)
        expected, expected_grads = _torch_grad(torch, theirs, *arrays)
        np.testing.assert_allclose(value, expected, rtol=1e-12, err_msg=name)
        for got, want in zip(grads, expected_grads):
            np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-15, err_msg=name)


def test_cross_entropy_huge_logits_match_torch() -> None:
    """At logits ±1e4 the values and gradients equal torch's."""
    torch = pytest.importorskip("torch")
    logits = np.array([[1e4, 0.0, -1e4], [-1e4, 1e4, 0.0]])
    labels = np.array([2, 1])
    value, (grad,) = _ours_grad(lambda a: F.cross_entropy(a, labels), logits)
    expected, (expected_grad,) = _torch_grad(
        torch, lambda a: torch.nn.functional.cross_entropy(a, torch.tensor(labels)), logits
    )
    np.testing.assert_allclose(value, expected, rtol=1e-14)
    np.testing.assert_allclose(grad, expected_grad, atol=1e-15)


def test_unnormalised_soft_targets_match_torch() -> None:
    """Rows of q not summing to 1: torch differentiates the value it computes; so must we."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(13)
    z, q = rng.standard_normal((3, 4)), rng.uniform(0, 1, (3, 4))
    value, (grad,) = _ours_grad(lambda a: F.cross_entropy(a, q), z)
    expected, (expected_grad,) = _torch_grad(
        torch, lambda a: torch.nn.functional.cross_entropy(a, torch.tensor(q)), z
    )
    np.testing.assert_allclose(value, expected, rtol=1e-13)
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-11, atol=1e-15)


# ------------------------------------------------------------------------------ penalties
def _params() -> list[cr.Tensor]:
    return [
        nn.Parameter(np.array([[0.5, -1.5], [2.0, -0.25]])),
        nn.Parameter(np.array([-3.0, 0.75, 1.0])),
    ]


def test_l1_penalty_value_and_gradient() -> None:
    """Σ|w| = 0.5 + 1.5 + 2 + 0.25 + 3 + 0.75 + 1 = 9; gradient sign(w)."""
    params = _params()
    value = nn.l1_penalty(params)
    assert float(value) == pytest.approx(9.0, rel=1e-15)
    value.backward()
    for p in params:
        np.testing.assert_array_equal(p.grad.data, np.sign(p.data))


def test_l2_penalty_is_the_sum_of_squares() -> None:
    """Σw² = 0.25 + 2.25 + 4 + 0.0625 + 9 + 0.5625 + 1 = 17.125 (not halved); gradient 2w."""
    params = _params()
    value = nn.l2_penalty(params)
    assert float(value) == pytest.approx(17.125, rel=1e-15)
    value.backward()
    for p in params:
        np.testing.assert_array_equal(p.grad.data, 2 * p.data)


def test_elastic_net_penalty_is_beta_l2_plus_l1() -> None:
    """beta = 0.3: 0.3 · 17.125 + 9; gradient 2·beta·w + sign(w)."""
    params = _params()
    value = nn.elastic_net_penalty(params, 0.3)
    assert float(value) == pytest.approx(0.3 * 17.125 + 9.0, rel=1e-15)
    value.backward()
    for p in params:
        np.testing.assert_allclose(p.grad.data, 0.6 * p.data + np.sign(p.data), rtol=1e-15)


@pytest.mark.parametrize(
    "penalty",
    [nn.l1_penalty, nn.l2_penalty, lambda ps: nn.elastic_net_penalty(ps, 0.7)],
    ids=["l1", "l2", "elastic_net"],
)
def test_penalty_gradcheck(penalty: Callable[[list[Any]], cr.Tensor]) -> None:
    """Each penalty of two parameters (entries away from 0) passes gradcheck."""
    rng = np.random.default_rng(14)
    a = rng.uniform(0.1, 2, (3, 2)) * rng.choice([-1.0, 1.0], (3, 2))
    b = rng.uniform(0.1, 2, 4) * rng.choice([-1.0, 1.0], 4)
    _check(cr.gradcheck(lambda x, y: penalty([x, y]), a, b, **TIGHT))


def test_penalties_take_a_parameter_generator() -> None:
    """model.parameters() (a generator) works, including for the elastic net's two passes."""
    model = nn.Linear(3, 2, dtype=np.float64)
    weights = [p.data for p in model.parameters()]
    l1 = sum(np.abs(w).sum() for w in weights)
    l2 = sum((w**2).sum() for w in weights)
    value = nn.elastic_net_penalty(model.parameters(), 0.5)
    assert float(value) == pytest.approx(0.5 * l2 + l1, rel=1e-14)


def test_penalty_of_no_parameters_is_refused() -> None:
    """An empty parameter list is almost always a mistake."""
    with pytest.raises(ValueError):
        nn.l2_penalty([])
