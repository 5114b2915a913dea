"""The compiled step's own optimiser updates (``compiler.updates``) and its fused loss passes.

References: the eager optimisers (Adam's engine kernel: the same element formula as the fused
update, but compiled with fast-math, so equal to float32 rounding when fed the same gradients),
float64 mathematics for the losses,
and the eager NumPy path of cross-entropy (whose operations the compiled NumPy path repeats).
Loops against their NumPy twins are compared to the bit: that is the twins' contract.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import nn, optim
from chainrule.compiler import fused
from chainrule.compiler.losses import BCEWithLogitsUnit, CrossEntropyUnit
from chainrule.compiler.updates import Updates
from chainrule.engine.kernels import small_run
from chainrule.optim import lr_scheduler


# ------------------------------------------------------------------ the fused updates
def parameters(seed: int, shapes: list[tuple[int, ...]], dtype: Any) -> list[nn.Parameter]:
    """Parameters with Linear's layout for matrices (column-major), drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    made = []
    for shape in shapes:
        values = rng.standard_normal(shape).astype(dtype)
        if len(shape) == 2:
            values = np.asfortranarray(values)
        made.append(nn.Parameter(values))
    return made


def gradients_for(params: list[nn.Parameter], step: int) -> list[np.ndarray]:
    """The gradients of one step: the same arrays for both runs, some values tiny (flushed
    to zero by Adam's subnormal guard), each laid out as its parameter."""
    rng = np.random.default_rng(1000 + step)
    grads = []
    for p in params:
        values = rng.standard_normal(p.data.shape) * 10.0 ** rng.integers(-40, 2, p.data.shape)
        grads.append(np.asarray(values, dtype=p.data.dtype))
    return grads


OPTIMIZERS: dict[str, Callable[[list[Any]], optim.Optimizer]] = {
    "adam": lambda p: optim.Adam(p, lr=0.01),
    "adam-weight-decay": lambda p: optim.Adam(p, lr=0.01, weight_decay=0.1),
    "adamw": lambda p: optim.AdamW(p, lr=0.01, weight_decay=0.05),
    "adam-betas": lambda p: optim.Adam(p, lr=0.003, betas=(0.5, 0.9), eps=1e-4),
}
SHAPES = [[(5, 3), (5,), (2, 5), (2,)], [(4,)], [(3, 3)] * 3, [(2, 2), (2,)] * 5]


def run_updates(
    make: Callable[[list[Any]], optim.Optimizer],
    shapes: list[tuple[int, ...]],
    dtype: Any,
    fused_updates: bool,
    steps: int = 30,
) -> tuple[list[nn.Parameter], optim.Optimizer]:
    """``steps`` optimiser steps on the same gradients, by the optimiser itself or by
    ``Updates`` (whose first step is always the optimiser's own); the learning rate is
    scheduled, so that it changes between steps."""
    params = parameters(0, shapes, dtype)
    optimizer = make(params)
    scheduler = lr_scheduler.StepLR(optimizer, step_size=7, gamma=0.5)
    grad_tensors = {id(p): cr.Tensor(np.empty_like(p.data)) for p in params}
    updates = Updates(params, grad_tensors)
    for step in range(steps):
        for p, g in zip(params, gradients_for(params, step)):
            tensor = grad_tensors[id(p)]
            tensor.data[...] = g
            p.grad = tensor
        if not (fused_updates and updates.step(optimizer)):
            assert not fused_updates or step == 0, f"step {step} was not fused"
            optimizer.step()
        scheduler.step()
    return params, optimizer


@pytest.mark.parametrize("name", list(OPTIMIZERS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shapes", SHAPES, ids=lambda s: f"{len(s)}params")
def test_fused_adam_equals_the_optimisers_own_step(
    name: str, dtype: Any, shapes: list[tuple[int, ...]]
) -> None:
    """Fed the same gradients for 30 steps (learning rate scheduled), the one-loop update and
    Adam.step give the same parameters, moments and step count, to a few roundings of the
    dtype (a wrong bias correction, a stale lr or a dropped weight decay is off by 1e-3)."""
    mine, mine_optimizer = run_updates(OPTIMIZERS[name], shapes, dtype, fused_updates=True)
    theirs, their_optimizer = run_updates(OPTIMIZERS[name], shapes, dtype, fused_updates=False)
    rtol, atol = (2e-6, 1e-7) if dtype is np.float32 else (1e-14, 1e-15)
    for p, q in zip(mine, theirs):
        np.testing.assert_allclose(p.data, q.data, rtol=rtol, atol=atol)
    for state, reference in zip(mine_optimizer.state, their_optimizer.state):
        assert state["step"] == reference["step"] == 30
        np.testing.assert_allclose(state["exp_avg"], reference["exp_avg"], rtol=rtol, atol=atol)
        np.testing.assert_allclose(
            state["exp_avg_sq"], reference["exp_avg_sq"], rtol=rtol, atol=atol**2
        )


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_fused_adam_twin_gives_the_loops_bits(name: str) -> None:
    """With Numba's loops, and with their NumPy twin (set_kernels("numpy") turns the loops
    off; the first, optimiser's own, step runs on the same path in both), the same bits."""
    shapes = SHAPES[0]
    with small_run(0):  # the optimiser's own first step on its NumPy path, in both runs
        loops, _ = run_updates(OPTIMIZERS[name], shapes, np.float32, fused_updates=True)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(fused, "_tuple_loop", lambda *args: None)
            twins, _ = run_updates(OPTIMIZERS[name], shapes, np.float32, fused_updates=True)
    for p, q in zip(loops, twins):
        np.testing.assert_array_equal(p.data, q.data)


def test_the_optimiser_steps_itself_where_the_update_is_not_fused() -> None:
    """amsgrad, two parameter groups, a gradient that is not the plan's, moments laid out
    unlike their parameter, and the first step (no state yet) are left to the optimiser."""
    params = parameters(0, SHAPES[0], np.float32)
    grads = {id(p): cr.Tensor(np.zeros_like(p.data)) for p in params}

    def ready(optimizer: optim.Optimizer) -> Updates:
        for p in params:
            p.grad = grads[id(p)]
        return Updates(params, grads)

    amsgrad = optim.Adam(params, lr=0.01, amsgrad=True)
    assert not ready(amsgrad).step(amsgrad)
    groups = optim.Adam([{"params": params[:2]}, {"params": params[2:]}], lr=0.01)
    assert not ready(groups).step(groups)
    adam = optim.Adam(params, lr=0.01)
    updates = ready(adam)
    assert not updates.step(adam)  # no state yet: Adam.step makes it
    adam.step()
    assert updates.step(adam)
    params[0].grad = cr.Tensor(np.zeros_like(params[0].data))  # not the plan's buffer
    assert not updates.step(adam)
    params[0].grad = grads[id(params[0])]
    adam.state[0]["exp_avg"] = np.ascontiguousarray(adam.state[0]["exp_avg"])  # row-major now
    assert not updates.step(adam)
    other = optim.RMSprop(params, lr=0.01)
    assert not updates.step(other)


def test_a_parameter_count_compiled_later_gives_the_same_bits() -> None:
    """Loops over a number of parameters not compiled with the others (7 here) are compiled in
    a thread when first asked for; the steps before use the twin: the same numbers."""
    shapes = [(3,)] * 7
    first, _ = run_updates(OPTIMIZERS["adam"], shapes, np.float32, fused_updates=True)
    key = ("adam", 7, np.dtype(np.float32).char)
    for _ in range(200):
        if key in fused._tuples_ready:
            break
        time.sleep(0.05)
    assert key in fused._tuples_ready, "the loop over 7 parameters was never compiled"
    second, _ = run_updates(OPTIMIZERS["adam"], shapes, np.float32, fused_updates=True)
    for p, q in zip(first, second):
        np.testing.assert_array_equal(p.data, q.data)


# ----------------------------------------------------------------------------- losses
def bce_reference(z: np.ndarray, t: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean binary cross-entropy of sigmoid(z) and its gradient, in float64."""
    z64, t64 = z.astype(np.float64), t.astype(np.float64)
    losses = np.logaddexp(0, z64) - z64 * t64
    with np.errstate(over="ignore"):  # e^1e4 is inf, and 1 / (1 + inf) the 0 wanted
        sigmoid = 1 / (1 + np.exp(-z64))
    return float(losses.mean()), (sigmoid - t64) / z.size


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(1, 70),
    columns=st.integers(1, 3),
    scale=st.sampled_from([0.1, 3.0, 40.0]),
    seed=st.integers(0, 2**16),
)
def test_bce_with_logits_against_float64_mathematics(
    rows: int, columns: int, scale: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    z = (rng.standard_normal((rows, columns)) * scale).astype(np.float32)
    t = (rng.random((rows, columns)) < 0.5).astype(np.float32)
    unit = BCEWithLogitsUnit("mean", z.shape, np.dtype(np.float32), 1.0)
    loss = unit.forward(z, t)
    grad = unit.backward().copy()
    expected_loss, expected_grad = bce_reference(z, t)
    # softplus(z) - z·t and sigmoid(z) - t cancel where the logit is right and large (the
    # eager formula too): a float32 rounding of softplus(z) ~ |z| or of sigmoid(z) ~ 1 is the
    # error to allow, not one of the small result.
    eps = np.finfo(np.float32).eps
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-6, atol=2 * eps * np.mean(abs(z) + 1))
    np.testing.assert_allclose(grad, expected_grad, rtol=1e-6, atol=2 * eps / z.size)
    # and the twin gives the loop's bits
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fused, "_loop", lambda *args: None)
        twin_loss = unit.forward(z, t)
        np.testing.assert_array_equal(unit.backward(), grad)
    assert twin_loss == loss


def test_bce_with_logits_at_extreme_and_special_logits() -> None:
    z = np.array([[-1e4], [-80.0], [-0.0], [0.0], [80.0], [1e4], [np.nan], [np.inf]], np.float32)
    t = np.array([[0.0], [1.0], [1.0], [0.0], [0.0], [1.0], [1.0], [0.0]], np.float32)
    unit = BCEWithLogitsUnit("sum", (6, 1), np.dtype(np.float32), 1.0)
    loss = unit.forward(z[:6], t[:6])
    expected, expected_grad = bce_reference(z[:6], t[:6])
    np.testing.assert_allclose(loss, expected * 6, rtol=1e-6)
    np.testing.assert_allclose(unit.backward(), expected_grad * 6, rtol=1e-6, atol=1e-30)
    special = BCEWithLogitsUnit("mean", (2, 1), np.dtype(np.float32), 1.0)
    assert np.isnan(special.forward(z[6:], t[6:]))
    with np.errstate(invalid="ignore"):
        eager = nn.BCEWithLogitsLoss()(cr.Tensor(z[6:]), cr.Tensor(t[6:]))
    assert np.isnan(float(eager))


@pytest.mark.parametrize("rows, classes", [(1, 2), (7, 3), (32, 10), (50, 17)])
def test_cross_entropy_numpy_path_repeats_the_eager_numpy_operations(
    rows: int, classes: int
) -> None:
    """On NumPy's path (short runs, NumPy kernels) the compiled loss takes the eager NumPy
    path's operations, so its loss and gradient are the eager ones to the bit, with the loops
    and with their twins."""
    rng = np.random.default_rng(rows)
    z = (rng.standard_normal((rows, classes)) * 4).astype(np.float32)
    labels = rng.integers(0, classes, rows)
    with small_run(0):
        logits = cr.Tensor(z, requires_grad=True)
        eager = nn.CrossEntropyLoss()(logits, cr.Tensor(labels))
        eager.backward()
        unit = CrossEntropyUnit("mean", z.shape, np.dtype(np.float32), 1.0)
        unit.check(labels)
        assert unit.forward(z, labels) == float(eager)
        np.testing.assert_array_equal(unit.backward(), logits.grad.data)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(fused, "_loop", lambda *args: None)
            assert unit.forward(z, labels) == float(eager)
            np.testing.assert_array_equal(unit.backward(), logits.grad.data)


@pytest.mark.parametrize("labels", [[0, 3], [-1, 0], [0, 2], [1, 1]])
@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8])
def test_labels_in_range_with_loops_and_twin(labels: list[int], dtype: Any) -> None:
    if dtype is np.uint8 and min(labels) < 0:
        return
    array = np.array(labels, dtype)
    expected = all(0 <= value < 3 for value in labels)
    assert fused.labels_in_range(array, 3) is expected
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fused, "_loop", lambda *args: None)
        assert fused.labels_in_range(array, 3) is expected


def test_shift_rows_keeps_nan_as_numpy_max_does() -> None:
    z = np.array([[1.0, np.nan, 3.0], [np.nan, 2.0, 0.5], [-1.0, -2.0, -0.5]], np.float32)
    mine = np.empty_like(z)
    fused.shift_rows(z, mine, np.empty((3, 1), np.float32))
    np.testing.assert_array_equal(mine, z - z.max(axis=1, keepdims=True))


@pytest.mark.parametrize("name", ["sgd", "adam"])
@pytest.mark.parametrize("view", ["columns", "every-other"])
def test_a_strided_weight_is_updated_by_the_optimiser_itself(name: str, view: str) -> None:
    """A weight that is a strided view (no flat view of it exists, or only a strided one) is
    left to the optimiser's own step, and trains as eagerly; it was updated in a copy, or
    crashed Numba's typing, when the loop took it."""

    def model() -> nn.Sequential:
        layer = nn.Linear(4, 3, rng=np.random.default_rng(1))
        wide = np.zeros((3, 8), np.float32)
        if view == "columns":
            wide[:, :4] = layer.weight.data
            layer.weight.data = wide[:, :4]
        else:
            wide[:, ::2] = layer.weight.data
            layer.weight.data = wide[:, ::2]
        return nn.Sequential(layer)

    make = (lambda p: optim.SGD(p, lr=0.1)) if name == "sgd" else (lambda p: optim.Adam(p, lr=0.01))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((10, 4)).astype(np.float32)
    y = rng.standard_normal((10, 3)).astype(np.float32)
    eager, mine = model(), model()
    eager_optimizer, my_optimizer = make(list(eager.parameters())), make(list(mine.parameters()))
    step = cr.compile(mine, nn.MSELoss(), my_optimizer)
    for _ in range(30):
        eager_optimizer.zero_grad()
        nn.MSELoss()(eager(cr.Tensor(x)), cr.Tensor(y)).backward()
        eager_optimizer.step()
        step(x, y)
    for p, q in zip(mine.parameters(), eager.parameters()):
        np.testing.assert_allclose(p.data, q.data, rtol=1e-5, atol=1e-6)
    assert not np.allclose(mine.layers[0].weight.data, model().layers[0].weight.data)
