"""What the speed work relies on, checked as behaviour (never as timings): gradients nobody asked
for are not computed, a float32 model stays float32 throughout, and training allocates no
per-step optimiser state."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.ops import layers as ops_layers


def _mlp_step(model: nn.Module, opt: optim.Optimizer, x: np.ndarray, y: np.ndarray) -> None:
    opt.zero_grad()
    nn.CrossEntropyLoss()(model(x), y).backward()
    opt.step()


def test_the_input_batch_gets_no_gradient(monkeypatch: pytest.MonkeyPatch) -> None:
    """Of a 3-layer MLP, only layers 2 and 3 compute dX (layer 1's input is data)."""
    calls: list[tuple[int, ...]] = []
    original = ops_layers._linear_vjp_x

    def counting(g: Any, x: Any, weight: Any, *rest: Any) -> Any:
        calls.append(weight.shape)
        return original(g, x, weight, *rest)

    monkeypatch.setattr(ops_layers, "_linear_vjp_x", counting)
    cr.manual_seed(0)
    model = nn.mlp(6, [5, 4], 3)
    x = np.random.default_rng(0).standard_normal((8, 6)).astype(np.float32)
    _mlp_step(model, optim.SGD(model.parameters(), lr=0.1), x, np.arange(8) % 3)
    assert sorted(calls) == [(3, 4), (4, 5)]
    # An input that asks for its gradient gets it.
    calls.clear()
    inputs = cr.tensor(x, requires_grad=True)
    model(inputs).sum().backward()
    assert sorted(calls) == [(3, 4), (4, 5), (5, 6)]
    assert inputs.grad is not None and inputs.grad.shape == (8, 6)


@pytest.mark.parametrize("make", [optim.Adam, optim.AdamW, optim.SGD, optim.RMSprop])
def test_float32_training_never_creates_float64(make: Any) -> None:
    cr.manual_seed(0)
    model = nn.mlp(6, [5], 3)
    opt = make(model.parameters(), lr=1e-2)
    x = np.random.default_rng(0).standard_normal((8, 6)).astype(np.float32)
    for _ in range(3):
        _mlp_step(model, opt, x, np.arange(8) % 3)
    for p in model.parameters():
        assert p.data.dtype == np.float32 and p.grad is not None
        assert p.grad.data.dtype == np.float32
    arrays = [v for entry in opt.state for v in entry.values() if isinstance(v, np.ndarray)]
    assert arrays and all(a.dtype == np.float32 for a in arrays)
    loss = nn.CrossEntropyLoss()(model(x), np.arange(8) % 3)
    assert loss.data.dtype == np.float32


def test_adam_state_arrays_are_allocated_once() -> None:
    """The optimiser updates in place: the same state arrays (and parameter arrays) every step."""
    cr.manual_seed(0)
    model = nn.mlp(6, [5], 3)
    opt = optim.Adam(model.parameters(), lr=1e-2)
    x = np.random.default_rng(0).standard_normal((8, 6)).astype(np.float32)
    _mlp_step(model, opt, x, np.arange(8) % 3)
    params = [p.data for p in model.parameters()]
    state = [id(v) for entry in opt.state for v in entry.values() if isinstance(v, np.ndarray)]
    for _ in range(3):
        _mlp_step(model, opt, x, np.arange(8) % 3)
    assert all(p.data is a for p, a in zip(model.parameters(), params))
    assert state == [
        id(v) for entry in opt.state for v in entry.values() if isinstance(v, np.ndarray)
    ]


def test_bias_gradient_sums_over_every_leading_axis() -> None:
    """The bias rule (ones @ g) on a 3-D input: the column sums over batch and time."""
    layer = nn.Linear(4, 3)
    x = np.random.default_rng(1).standard_normal((2, 5, 4)).astype(np.float32)
    g = np.random.default_rng(2).standard_normal((2, 5, 3)).astype(np.float32)
    layer(x).backward(g)
    assert layer.bias.grad is not None
    np.testing.assert_allclose(layer.bias.grad.data, g.sum(axis=(0, 1)), rtol=1e-6, atol=1e-6)
