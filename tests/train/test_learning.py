"""Proof that it learns: XOR, sin(x) and the 8-3-8 encoder, each seeded and deterministic.

The targets are facts, not recorded outputs: a hidden layer makes XOR separable (100 %), no
linear classifier gets more than 3 of the 4 XOR points right, a small tanh network fits sin on
[-π, π] to a mean squared error below 0.01, and the encoder's 3 hidden units carry all 8 codes.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim

XOR_X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], dtype=np.float32)
XOR_Y = np.array([[0.0], [1.0], [1.0], [0.0]], dtype=np.float32)


def _fit(
    model: nn.Module,
    loss_fn: nn.Module,
    opt: optim.Optimizer,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
) -> float:
    """Full-batch gradient descent; returns the final loss."""
    loss = math.inf
    for _ in range(epochs):
        opt.zero_grad()
        out = loss_fn(model(x), y)
        out.backward()
        opt.step()
        loss = float(out)
    return loss


def _xor_accuracy(model: nn.Module, threshold: float) -> float:
    with cr.no_grad():
        predictions = model(XOR_X).data > threshold
    return float((predictions == (XOR_Y > 0.5)).mean())


# ---------------------------------------------------------------------------------- XOR
def test_tanh_network_solves_xor() -> None:
    """2-4-1 with tanh hidden units and a logistic output: all four points right."""
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
    loss = _fit(
        model, nn.BCEWithLogitsLoss(), optim.Adam(model.parameters(), lr=0.1), XOR_X, XOR_Y, 500
    )
    assert _xor_accuracy(model, 0.0) == 1.0
    assert loss < 0.01


def test_sigmoid_network_solves_xor_with_momentum_sgd() -> None:
    """The lecture version: 2-4-1 sigmoid units, squared error, SGD with momentum."""
    cr.manual_seed(1)
    model = nn.Sequential(nn.Linear(2, 4), nn.Sigmoid(), nn.Linear(4, 1), nn.Sigmoid())
    opt = optim.SGD(model.parameters(), lr=0.5, momentum=0.9)
    loss = _fit(model, nn.MSELoss(), opt, XOR_X, XOR_Y, 2000)
    assert _xor_accuracy(model, 0.5) == 1.0
    assert loss < 0.01


@pytest.mark.parametrize(
    "make",
    [
        lambda: nn.Linear(2, 1),
        lambda: nn.Sequential(nn.Linear(2, 4), nn.Identity(), nn.Linear(4, 1)),
    ],
    ids=["single_linear_layer", "two_layers_without_nonlinearity"],
)
def test_a_linear_model_cannot_solve_xor(make: Callable[[], nn.Module]) -> None:
    """Trained the same way, a linear model (even a stack of linear layers) gets at most 3 of 4."""
    cr.manual_seed(0)
    model = make()
    _fit(model, nn.BCEWithLogitsLoss(), optim.Adam(model.parameters(), lr=0.1), XOR_X, XOR_Y, 500)
    assert _xor_accuracy(model, 0.0) <= 0.75


# -------------------------------------------------------------------------------- sin(x)
def test_one_hidden_layer_approximates_sin() -> None:
    """1-16-1 tanh network on 200 points of [-π, π]: MSE below 0.01 (also on points between)."""
    cr.manual_seed(2)
    x = np.linspace(-np.pi, np.pi, 200, dtype=np.float32)[:, None]
    model = nn.Sequential(nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, 1))
    loss = _fit(model, nn.MSELoss(), optim.Adam(model.parameters(), lr=0.01), x, np.sin(x), 1000)
    assert loss < 0.01
    between = (x[:-1] + x[1:]) / 2
    with cr.no_grad():
        error = np.mean((model(between).data - np.sin(between)) ** 2)
    assert error < 0.01


def test_sin_is_out_of_reach_without_a_hidden_layer() -> None:
    """A straight line cannot fit sin on [-π, π]: the least-squares line y = 3x/π² leaves
    MSE 1/2 - 3/π² ≈ 0.196, far above 0.01."""
    cr.manual_seed(2)
    x = np.linspace(-np.pi, np.pi, 200, dtype=np.float32)[:, None]
    model = nn.Linear(1, 1)
    loss = _fit(model, nn.MSELoss(), optim.Adam(model.parameters(), lr=0.01), x, np.sin(x), 1000)
    assert loss > 0.01


# ------------------------------------------------------------------------- 8-3-8 encoder
def test_eight_three_eight_encoder() -> None:
    """Eight one-hot inputs through 3 sigmoid units: argmax of the output is the input index."""
    cr.manual_seed(3)
    x = np.eye(8, dtype=np.float32)
    labels = np.arange(8)
    model = nn.Sequential(nn.Linear(8, 3), nn.Sigmoid(), nn.Linear(3, 8))
    _fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.05), x, labels, 1500)
    with cr.no_grad():
        predicted = model(x).data.argmax(axis=1)
        codes = model[1](model[0](x)).data
    np.testing.assert_array_equal(predicted, labels)
    # The eight hidden codes are distinct points of the unit cube.
    assert len({tuple(np.round(code, 3)) for code in codes}) == 8
