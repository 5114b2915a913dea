"""cr.gradcheck_model: passes on correct networks, names the parameter whose gradient is wrong,
and leaves the model exactly as it found it."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.check.model import ModelGradcheckReport
from chainrule.ops import layers as ops_layers


def _mlp(activation: type[nn.Module] = nn.Tanh, out_features: int = 3) -> nn.Module:
    return nn.Sequential(
        nn.Linear(4, 5), activation(), nn.Linear(5, 4), nn.Sigmoid(), nn.Linear(4, out_features)
    )


def _batch(rows: int = 6) -> tuple[cr.Tensor, np.ndarray]:
    rng = np.random.default_rng(1)
    X = cr.tensor(rng.standard_normal((rows, 4)).astype(np.float32))
    labels = rng.integers(0, 3, size=rows)
    return X, labels


def _scaled_mul(x: Any, scale: cr.Tensor, factor: float) -> cr.Tensor:
    """x * scale (scale per feature), a primitive whose vjp for ``scale`` is off by ``factor``."""
    x = cr.as_tensor(x)

    def vjp_x(g: Any, x: Any, scale: Any, out: Any) -> Any:
        return g * scale

    def vjp_scale(g: Any, x: Any, scale: Any, out: Any) -> Any:
        return (g * x).sum(axis=0) * factor

    return cr.Tensor._from_op(x.data * scale.data, (x, scale), (vjp_x, vjp_scale), "scaled_mul")


class Scale(nn.Module):
    """A learnt per-feature scale whose gradient is multiplied by ``factor`` (1 is correct)."""

    def __init__(self, features: int, factor: float) -> None:
        super().__init__()
        self.scale = nn.Parameter(np.linspace(0.5, 1.5, features, dtype=np.float32))
        self.factor = factor

    def forward(self, x: Any) -> cr.Tensor:
        return _scaled_mul(x, self.scale, self.factor)


# ------------------------------------------------------------------------ correct networks
@pytest.mark.parametrize("activation", [nn.Tanh, nn.Sigmoid])
def test_mlp_with_cross_entropy_passes(activation: type[nn.Module]) -> None:
    cr.manual_seed(0)
    model = _mlp(activation)
    X, labels = _batch()
    report = cr.gradcheck_model(model, nn.CrossEntropyLoss(), X, labels)
    assert isinstance(report, ModelGradcheckReport)
    assert report.passed and bool(report)
    names = [name for name, _ in model.named_parameters()]
    assert [check.name for check in report.parameters] == names
    assert all(check.passed for check in report.parameters)
    assert report.max_abs_error < 1e-8
    assert report.worst in names
    assert [check.checked for check in report.parameters] == [20, 5, 20, 4, 12, 3]


def test_mlp_with_mse_and_float_targets_passes() -> None:
    cr.manual_seed(1)
    model = _mlp(nn.Tanh, out_features=2)
    X, _ = _batch()
    targets = np.random.default_rng(2).standard_normal((6, 2)).astype(np.float32)
    report = cr.gradcheck_model(model, nn.MSELoss(), X, targets)
    assert report.passed, str(report)


def test_a_correct_custom_op_passes() -> None:
    cr.manual_seed(2)
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), Scale(3, factor=1.0), nn.Linear(3, 3))
    X, labels = _batch()
    assert cr.gradcheck_model(model, nn.CrossEntropyLoss(), X, labels).passed


def test_the_reported_gradient_is_the_hand_derived_one() -> None:
    """One neuron, loss (w x + b - t)²: ∂/∂w = 2 (w x + b - t) x, ∂/∂b = 2 (w x + b - t)."""
    model = nn.Linear(1, 1)
    model.weight.data[...] = 0.75
    model.bias.data[...] = -0.5
    x, t = 2.0, 0.25
    report = cr.gradcheck_model(
        model, lambda out, y: ((out - y) ** 2).sum(), np.array([[x]]), np.array([[t]])
    )
    residual = 0.75 * x - 0.5 - t
    assert report["weight"].analytic == pytest.approx(2 * residual * x, rel=1e-12)
    assert report["weight"].numerical == pytest.approx(2 * residual * x, rel=1e-9)
    assert report["bias"].analytic == pytest.approx(2 * residual, rel=1e-12)
    assert report["bias"].worst_index == (0,)
    assert report.passed


# ------------------------------------------------------------------------ wrong gradients
def test_a_wrong_vjp_in_one_layer_fails_and_is_named() -> None:
    cr.manual_seed(3)
    model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), Scale(3, factor=1.01), nn.Linear(3, 3))
    X, labels = _batch()
    report = cr.gradcheck_model(model, nn.CrossEntropyLoss(), X, labels)
    assert not report.passed and not bool(report)
    assert report.worst == "2.scale"
    assert [check.name for check in report.parameters if not check.passed] == ["2.scale"]
    wrong = report["2.scale"]
    assert wrong.analytic == pytest.approx(1.01 * wrong.numerical, rel=1e-6)
    assert wrong.violation > 1
    table = str(report)
    assert table.startswith("gradcheck_model FAILED")
    assert "worst: 2.scale" in table


def test_a_doubled_bias_gradient_fails_every_bias(monkeypatch: pytest.MonkeyPatch) -> None:
    original = ops_layers._linear_vjp_bias

    def doubled(g: Any, x: Any, weight: Any, *rest: Any) -> Any:
        return 2 * original(g, x, weight, *rest)

    monkeypatch.setattr(ops_layers, "_linear_vjp_bias", doubled)
    cr.manual_seed(4)
    model = _mlp()
    X, labels = _batch()
    report = cr.gradcheck_model(model, nn.CrossEntropyLoss(), X, labels)
    assert not report.passed
    failed = {check.name for check in report.parameters if not check.passed}
    assert failed == {"0.bias", "2.bias", "4.bias"}
    assert report.worst in failed
    for check in report.parameters:
        if check.name.endswith("bias"):
            assert check.analytic == pytest.approx(2 * check.numerical, rel=1e-6)


def test_a_subset_of_elements_still_catches_a_wrong_gradient(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cr.manual_seed(5)
    model = nn.Sequential(nn.Linear(30, 20), nn.Tanh(), nn.Linear(20, 3))
    X = cr.randn(8, 30)
    labels = np.arange(8) % 3
    kwargs: dict[str, Any] = {"max_elements": 7}
    first = cr.gradcheck_model(
        model, nn.CrossEntropyLoss(), X, labels, rng=np.random.default_rng(0), **kwargs
    )
    assert first.passed
    assert [check.checked for check in first.parameters] == [7, 7, 7, 3]
    again = cr.gradcheck_model(
        model, nn.CrossEntropyLoss(), X, labels, rng=np.random.default_rng(0), **kwargs
    )
    assert again.records == first.records  # the same rng draws the same elements
    original = ops_layers._linear_vjp_weight

    def wrong(g: Any, x: Any, weight: Any, *rest: Any) -> Any:
        return original(g, x, weight, *rest) * 1.001

    monkeypatch.setattr(ops_layers, "_linear_vjp_weight", wrong)
    broken = cr.gradcheck_model(
        model, nn.CrossEntropyLoss(), X, labels, rng=np.random.default_rng(0), **kwargs
    )
    assert {c.name for c in broken.parameters if not c.passed} == {"0.weight", "2.weight"}


def test_library_generator_chooses_the_subset_by_default() -> None:
    model = nn.Sequential(nn.Linear(10, 10))
    X = np.ones((2, 10))
    y = np.zeros((2, 10))
    cr.manual_seed(7)
    first = cr.gradcheck_model(model, nn.MSELoss(), X, y, max_elements=5)
    cr.manual_seed(7)
    second = cr.gradcheck_model(model, nn.MSELoss(), X, y, max_elements=5)
    assert first.records == second.records


# ------------------------------------------------------------------------ the model is left alone
def test_float32_model_is_left_exactly_as_it_was() -> None:
    cr.manual_seed(6)
    model = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Dropout(0.5), nn.Linear(5, 3))
    X, labels = _batch()
    parameters = dict(model.named_parameters())
    arrays = {name: p.data for name, p in parameters.items()}
    values = {name: p.data.copy() for name, p in parameters.items()}
    versions = {name: p._version for name, p in parameters.items()}
    existing_grad = cr.ones(5, 4)
    parameters["0.weight"].grad = existing_grad
    model.train()  # training mode, with a dropout layer that would draw a new mask per call
    report = cr.gradcheck_model(model, nn.CrossEntropyLoss(), X, labels)
    # Dropout is off during the check (evaluation mode), so the check passes.
    assert report.passed, str(report)
    for name, p in parameters.items():
        assert p.data is arrays[name]
        assert p.dtype == np.float32
        np.testing.assert_array_equal(p.data, values[name])
        assert p._version == versions[name]
    assert parameters["0.weight"].grad is existing_grad
    np.testing.assert_array_equal(existing_grad.data, np.ones((5, 4), dtype=np.float32))
    assert all(p.grad is None for name, p in parameters.items() if name != "0.weight")
    assert all(module.training for module in model.modules())
    assert X.dtype == np.float32


def test_mixed_training_modes_are_restored() -> None:
    model = nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.2), nn.Linear(3, 3))
    model.train()
    dropout = list(model.modules())[2]
    assert isinstance(dropout, nn.Dropout)
    dropout.eval()
    X, labels = _batch()
    cr.gradcheck_model(model, nn.CrossEntropyLoss(), X, labels)
    assert [module.training for module in model.modules()] == [True, True, False, True]


def test_the_check_runs_in_float64() -> None:
    seen: list[tuple[Any, Any]] = []

    class Spy(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = nn.Linear(4, 3)

        def forward(self, x: Any) -> cr.Tensor:
            seen.append((cr.as_tensor(x).dtype, self.inner.weight.dtype))
            return self.inner(x)

    model = Spy()
    X, labels = _batch()
    cr.gradcheck_model(model, nn.CrossEntropyLoss(), X, labels)
    assert set(seen) == {(np.dtype(np.float64), np.dtype(np.float64))}
    assert model.inner.weight.dtype == np.float32


def test_an_error_inside_the_check_still_restores_the_model() -> None:
    model = _mlp()
    before = {name: p.data for name, p in model.named_parameters()}
    X, labels = _batch()

    def failing_loss(out: Any, y: Any) -> Any:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        cr.gradcheck_model(model, failing_loss, X, labels)
    for name, p in model.named_parameters():
        assert p.data is before[name] and p.dtype == np.float32
        assert p.grad is None
    assert all(module.training for module in model.modules())


# ------------------------------------------------------------------------ the report
def test_report_table_and_records() -> None:
    cr.manual_seed(8)
    model = _mlp()
    X, labels = _batch()
    report = cr.gradcheck_model(model, nn.CrossEntropyLoss(), X, labels)
    table = str(report)
    lines = table.splitlines()
    assert lines[0].startswith("gradcheck_model passed: 6 parameters, 0 failed")
    assert lines[1].split()[:3] == ["parameter", "shape", "checked"]
    for name, p in model.named_parameters():
        row = next(line for line in lines if line.startswith(name + " "))
        assert str(p.shape) in row and row.rstrip().endswith("yes")
    assert lines[-1] == f"worst: {report.worst}"
    records = report.records
    assert [record["name"] for record in records] == [n for n, _ in model.named_parameters()]
    assert set(records[0]) == {
        "name",
        "shape",
        "checked",
        "passed",
        "max_abs_error",
        "max_rel_error",
        "worst_index",
        "analytic",
        "numerical",
        "violation",
    }
    with pytest.raises(KeyError):
        report["missing"]


def test_unused_and_frozen_parameters() -> None:
    class Partly(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.used = nn.Linear(4, 3)
            self.unused = nn.Parameter(np.ones(2, dtype=np.float32))
            self.frozen = nn.Parameter(np.ones(3, dtype=np.float32), requires_grad=False)

        def forward(self, x: Any) -> cr.Tensor:
            return self.used(x) * self.frozen

    X, labels = _batch()
    report = cr.gradcheck_model(Partly(), nn.CrossEntropyLoss(), X, labels)
    # A module's own parameters come before its sub-modules' (as in PyTorch).
    assert [c.name for c in report.parameters] == ["unused", "used.weight", "used.bias"]
    assert report.passed
    assert report["unused"].analytic == 0.0 and report["unused"].numerical == 0.0


def test_bad_arguments() -> None:
    X, labels = _batch()
    with pytest.raises(TypeError, match="Module"):
        cr.gradcheck_model(lambda x: x, nn.MSELoss(), X, labels)
    with pytest.raises(ValueError, match="no parameters"):
        cr.gradcheck_model(nn.Tanh(), nn.MSELoss(), X, X)
    with pytest.raises(ValueError, match="scalar"):
        cr.gradcheck_model(_mlp(), nn.CrossEntropyLoss(reduction="none"), X, labels)
    with pytest.raises(ValueError, match="eps"):
        cr.gradcheck_model(_mlp(), nn.CrossEntropyLoss(), X, labels, eps=0.0)
    with pytest.raises(ValueError, match="max_elements"):
        cr.gradcheck_model(_mlp(), nn.CrossEntropyLoss(), X, labels, max_elements=0)
    with pytest.raises(TypeError, match="Tensor"):
        cr.gradcheck_model(_mlp(), lambda out, y: 1.0, X, labels)
