"""Gradient-flow diagnostics on networks whose gradients are derived by hand."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.diagnostics import diagnose, layer_gradient_norms
from chainrule.train import History


def _chain(*weights: float) -> nn.Sequential:
    """A chain of 1-to-1 linear layers without bias: out = w1·w2·…·x."""
    layers = []
    for w in weights:
        layer = nn.Linear(1, 1, bias=False)
        layer.weight.data = np.array([[w]], dtype=np.float64)
        layers.append(layer)
    return nn.Sequential(*layers)


X = np.array([[1.0]])
Y = np.array([[0.0]])


def test_norms_equal_the_hand_derivatives() -> None:
    # L = (a·b - 0)²: dL/da = 2ab·b, dL/db = 2ab·a
    a, b = 2.0, 1e-5
    norms = layer_gradient_norms(_chain(a, b), nn.MSELoss(), X, Y)
    assert list(norms) == ["0", "1"]
    assert norms["0"] == pytest.approx(2 * a * b * b, rel=1e-12)
    assert norms["1"] == pytest.approx(2 * a * b * a, rel=1e-12)


def test_vanishing_layer_is_named() -> None:
    diagnosis = diagnose(_chain(2.0, 1e-5), nn.MSELoss(), X, Y)
    status = {entry.layer: entry.status for entry in diagnosis.gradients}
    assert status == {"0": "vanishing", "1": "ok"}  # relative 2ab²/2a²b = b/a = 5e-6
    assert diagnosis.gradients[0].relative == pytest.approx(5e-6, rel=1e-9)
    assert any("layer 0: vanishing" in p for p in diagnosis.problems)
    assert not diagnosis.healthy


def test_exploding_layer_is_named() -> None:
    # L = (a·b·c)² with c small: dL/dc = 2abc·ab is 10⁴ times dL/da = dL/db = 2abc·bc.
    diagnosis = diagnose(_chain(1.0, 1.0, 1e-4), nn.MSELoss(), X, Y, vanish=1e-6)
    status = {entry.layer: entry.status for entry in diagnosis.gradients}
    assert status == {"0": "ok", "1": "ok", "2": "exploding"}
    nan = diagnose(_chain(1.0, np.nan), nn.MSELoss(), X, Y)
    assert {entry.status for entry in nan.gradients} == {"exploding"}


def test_a_balanced_network_is_healthy() -> None:
    diagnosis = diagnose(_chain(0.5, 0.5), nn.MSELoss(), X, Y + 1)
    assert diagnosis.healthy and "no problems found" in str(diagnosis)


def test_dead_relu_units_are_found() -> None:
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    first = model[0]
    first.weight.data = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    first.bias.data = np.array([0.0, -100.0, 0.0], dtype=np.float32)  # unit 1 is never positive
    x = np.random.default_rng(0).uniform(0.1, 1.0, (16, 2)).astype(np.float32)
    diagnosis = diagnose(model, nn.MSELoss(), x, np.zeros((16, 1), np.float32))
    assert [(d.layer, d.units, d.dead) for d in diagnosis.dead_units] == [("1", 3, [1])]
    assert diagnosis.samples == 16
    assert any("1 of 3 ReLU units dead" in p for p in diagnosis.problems)
    assert model.training  # mode restored


def test_gradients_left_as_they_were() -> None:
    model = _chain(2.0, 3.0)
    marker = cr.tensor(np.array([[7.0]]))
    model[0].weight.grad = marker
    layer_gradient_norms(model, nn.MSELoss(), X, Y)
    assert model[0].weight.grad is marker and model[1].weight.grad is None


def test_history_norms_are_judged_when_given() -> None:
    history = History(grad_norms={"0": [1.0, 1e-7], "2": [1.0, 1.0]})
    diagnosis = diagnose(_chain(1.0, 1.0), nn.MSELoss(), X, Y, history=history)
    assert [(e.layer, e.status) for e in diagnosis.gradients] == [("0", "vanishing"), ("2", "ok")]
    assert diagnosis.to_dict()["problems"] == diagnosis.problems


def test_deep_sigmoid_network_vanishes_where_relu_does_not() -> None:
    """The lecture's point: sigmoid' <= 1/4 shrinks δ at every layer."""
    x = np.random.default_rng(0).standard_normal((64, 4)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    relative = {}
    for activation in ("sigmoid", "relu"):
        cr.manual_seed(0)
        model = nn.mlp(4, [32] * 8, 2, activation=activation)
        diagnosis = diagnose(model, nn.CrossEntropyLoss(), x, y)
        relative[activation] = diagnosis.gradients[0].relative
    assert relative["sigmoid"] < 1e-3 < relative["relu"]
    assert math.isfinite(relative["relu"])


def test_gradient_norm_plot(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from matplotlib.image import imread

    from chainrule.plots.training import plot_gradient_norms

    path = plot_gradient_norms(
        {"0": [1e-6, 2e-6], "2": [1e-2, 3e-2], "4": [0.5, 0.4]},
        tmp_path / "norms.png",
        problems=["layer 0: vanishing gradient"],
    )
    image = imread(path)
    assert image.shape[0] > 200 and image.shape[1] > 300
    with pytest.raises(ValueError, match="GradientNormMonitor"):
        plot_gradient_norms({}, tmp_path / "none.png")
