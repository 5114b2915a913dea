"""Small Linear layers as loops of their own (``compiler.dense``): which layers a plan runs as a
``DenseUnit``, the loops against their NumPy twins (the same bits: the twins' contract), one
step against float64 mathematics computed here, and whole runs against eager.

References. The loops are never checked against themselves: against the twins bit for bit
(both add each sum first to last, so they must agree exactly), and otherwise against a float64
NumPy computation written out in this file or against the eager engine (``test_compile``'s
helpers), to float32 rounding. The tolerances are ``test_compile``'s (see its docstring): one
step at rtol 1e-5 (float64: 1e-11), a 100-step run at rtol 1e-4 (float64: 1e-11); a wrong rule
(a dropped row of a sum, a derivative at the wrong side of zero, a stale copy of the weight) is
off by 1e-3 or more.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_compile import (
    LOSSES,
    OPTIMIZERS,
    RTOL64,
    Run,
    assert_same_training,
    both,
    kind_of,
    make_batches,
    optimizer_for,
    snapshot,
    train,
)

import chainrule as cr
from chainrule import nn, optim
from chainrule.compiler import dense, fused
from chainrule.compiler.dense import DenseUnit
from chainrule.compiler.units import (
    LeakyReLUUnit,
    LinearUnit,
    SigmoidUnit,
    TanhUnit,
    Unit,
)

FEATURES = 5
# One step against float64 mathematics: float32 sums of up to 40 products of magnitude ~1 are
# off by a few 1e-7; float64 ones by a few 1e-16.
STEP_TOLERANCES = {np.float32: (1e-5, 1e-5), np.float64: (1e-11, 1e-12)}
RUN_TOLERANCES64 = {"rtol": RTOL64, "atol": 1e-12}

CODES = {
    "none": dense.NONE,
    "relu": dense.RELU,
    "leaky": dense.LEAKY,
    "tanh": dense.TANH,
    "sigmoid": dense.SIGMOID,
}


# ------------------------------------------------------------------------------ fixtures


def use(path: str, dtype: Any) -> None:
    """Run the loops ("loops") or their NumPy twins ("twins"), and check that it is so."""
    cr.set_kernels("compiled" if path == "loops" else "numpy")
    for name in ("dense_forward", "dense_backward"):
        loop = fused.dense_loop(name, np.dtype(dtype))
        assert (loop is not None) is (path == "loops"), (name, path)


# -------------------------------------------------------------------------------- models
def linear(inputs: int, outputs: int, seed: int, *, bias: bool = True, dtype: Any = None) -> Any:
    return nn.Linear(inputs, outputs, bias=bias, rng=np.random.default_rng(seed), dtype=dtype)


# The activations a DenseUnit takes in (and one it leaves out), as layer factories, with the
# code the unit runs and whether the layer is part of it.
ACTIVATIONS: dict[str, tuple[Callable[[], nn.Module] | None, int, bool]] = {
    "none": (None, dense.NONE, False),
    "relu": (nn.ReLU, dense.RELU, True),  # fused by Sequential into the Linear's unit
    "relu-unfused": (nn.ReLU, dense.RELU, True),  # a ReLUUnit after the Linear's
    "leaky": (lambda: nn.LeakyReLU(0.1), dense.LEAKY, True),
    "leaky-zero": (lambda: nn.LeakyReLU(0.0), dense.LEAKY, True),
    "leaky-negative": (lambda: nn.LeakyReLU(-0.2), dense.NONE, False),  # left to its own unit
    "tanh": (nn.Tanh, dense.TANH, True),
    "sigmoid": (nn.Sigmoid, dense.SIGMOID, True),
}


def network(
    activation: str, sizes: tuple[int, ...] = (FEATURES, 12, 8, 3), dtype: Any = None
) -> Callable[[], nn.Module]:
    """A factory of a Sequential of Linear layers of ``sizes`` with ``activation`` after each
    hidden one (seeded: the same model on every call)."""
    make_activation = ACTIVATIONS[activation][0]

    def make_model() -> nn.Module:
        layers: list[nn.Module] = []
        for position, (inputs, outputs) in enumerate(zip(sizes, sizes[1:])):
            layers.append(linear(inputs, outputs, position + 1, dtype=dtype))
            if make_activation is not None and position < len(sizes) - 2:
                layers.append(make_activation())
        model = nn.Sequential(*layers)
        if activation == "relu-unfused":
            model.fuse = False
        return model

    return make_model


def plan_units(step: cr.CompiledStep) -> list[Unit]:
    """The units of the plan that the step's last call ran. (No public attribute lists them;
    the plan is the first item of ``_last``.)"""
    assert step.compiled, step.reason
    return list(step._last[0].units)


def units_after_one_step(model: nn.Module, rows: int, features: int) -> list[Unit]:
    rng = np.random.default_rng(0)
    dtype = next(iter(model.parameters())).data.dtype
    x = rng.standard_normal((rows, features)).astype(dtype)
    with cr.no_grad():
        outputs = model(x).data.shape[1]
    y = rng.standard_normal((rows, outputs)).astype(dtype)
    step = cr.compile(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.01))
    step.forward_backward(x, y)  # (a plan, without the optimiser's update)
    return plan_units(step)


def describe(unit: Unit) -> str:
    """A DenseUnit as "Dense:<activation>", another unit as its class without "Unit"."""
    if isinstance(unit, DenseUnit):
        name = {code: name for name, code in CODES.items()}[unit.code]
        return f"Dense:{name}"
    return type(unit).__name__.removesuffix("Unit")


def dense_units(run: Run) -> list[DenseUnit]:
    assert run.step is not None
    return [unit for unit in plan_units(run.step) if isinstance(unit, DenseUnit)]


# ---------------------------------------------------------------------- which path a plan takes
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_a_small_batch_runs_each_linear_and_its_activation_as_one_dense_unit(
    activation: str, dtype: Any
) -> None:
    model = network(activation, (2, 8, 8, 2), dtype=dtype)()
    units = units_after_one_step(model, rows=10, features=2)
    _, code, taken = ACTIVATIONS[activation]
    name = {c: n for n, c in CODES.items()}[code]
    if activation == "none" or taken:
        expected = [f"Dense:{name}", f"Dense:{name}", "Dense:none"]
    else:  # the leaky ReLU of negative slope stays a unit of its own
        expected = ["Dense:none", "LeakyReLU", "Dense:none", "LeakyReLU", "Dense:none"]
    assert [describe(unit) for unit in units] == expected
    linears = [layer for layer in model.layers if isinstance(layer, nn.Linear)]
    denses = [unit for unit in units if isinstance(unit, DenseUnit)]
    for unit, layer in zip(denses, linears):
        assert unit.linear.weight is layer.weight and unit.linear.bias is layer.bias
        assert unit.wt.dtype == dtype
    first = denses[0]
    if activation.startswith("leaky") and taken:
        assert first.constants[0] == dtype(model.layers[1].negative_slope)
    if activation == "tanh":
        assert isinstance(first.activation, TanhUnit)
    elif activation == "sigmoid":
        assert isinstance(first.activation, SigmoidUnit)
    else:
        assert first.activation is None


def strided_weight() -> nn.Module:
    layer = linear(4, 8, 1)
    wide = np.zeros((8, 8), np.float32)
    wide[:, ::2] = layer.weight.data
    layer.weight.data = wide[:, ::2]  # neither row- nor column-major
    return nn.Sequential(layer, nn.Tanh(), linear(8, 2, 2))


@pytest.mark.parametrize(
    ("make_model", "rows", "features", "expected"),
    [
        pytest.param(
            lambda: nn.Sequential(linear(16, 16, 1), nn.Tanh(), linear(16, 2, 2)),
            256,
            16,
            ["Linear", "Tanh", "Linear"],
            id="256-rows",
        ),
        pytest.param(
            lambda: nn.Sequential(linear(33, 8, 1), nn.Tanh(), linear(8, 2, 2)),
            10,
            33,
            ["Linear", "Tanh", "Dense:none"],
            id="33-inputs",
        ),
        pytest.param(
            lambda: nn.Sequential(linear(4, 33, 1), nn.ReLU(), linear(33, 2, 2)),
            10,
            4,
            ["Linear", "Linear"],  # (the ReLU fused into the first one)
            id="33-outputs",
        ),
        pytest.param(
            lambda: nn.Sequential(linear(4, 8, 1, bias=False), nn.Tanh(), linear(8, 2, 2)),
            10,
            4,
            ["Linear", "Tanh", "Dense:none"],
            id="no-bias",
        ),
        pytest.param(
            lambda: nn.Sequential(linear(4, 8, 1), nn.LeakyReLU(-0.1), linear(8, 2, 2)),
            10,
            4,
            ["Dense:none", "LeakyReLU", "Dense:none"],
            id="leaky-relu-of-negative-slope",
        ),
        pytest.param(strided_weight, 10, 4, ["Linear", "Tanh", "Dense:none"], id="strided-weight"),
    ],
)
def test_layers_the_loops_do_not_take_stay_blas_units(
    make_model: Callable[[], nn.Module], rows: int, features: int, expected: list[str]
) -> None:
    units = units_after_one_step(make_model(), rows, features)
    assert [describe(unit) for unit in units] == expected
    for unit in units:
        if describe(unit) == "Linear":
            assert isinstance(unit, LinearUnit)
        if describe(unit) == "LeakyReLU":
            assert isinstance(unit, LeakyReLUUnit)


def test_a_row_major_weight_is_copied_for_the_loops() -> None:
    """Linear keeps its weight column-major (Wᵀ row-major: the loops' layout, as a view);
    a row-major one is copied into that layout at every forward pass."""
    model = nn.Sequential(linear(4, 8, 1), nn.Tanh(), linear(8, 2, 2))
    model.layers[0].weight.data = np.ascontiguousarray(model.layers[0].weight.data)
    first, last = units_after_one_step(model, 10, 4)
    assert isinstance(first, DenseUnit) and isinstance(last, DenseUnit)
    assert first.copied and not np.shares_memory(first.wt, model.layers[0].weight.data)
    assert not last.copied and np.shares_memory(last.wt, model.layers[2].weight.data)


def test_max_width_zero_sends_every_layer_to_blas() -> None:
    """What ``test_compile``'s ``layer_path`` fixture relies on for its "blas" case."""
    make_model = network("tanh")
    assert [describe(u) for u in units_after_one_step(make_model(), 24, FEATURES)] == [
        "Dense:tanh",
        "Dense:tanh",
        "Dense:none",
    ]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dense, "MAX_WIDTH", 0)
        units = units_after_one_step(make_model(), 24, FEATURES)
    assert [describe(u) for u in units] == ["Linear", "Tanh", "Linear", "Tanh", "Linear"]


def test_the_twins_scratch_holds_the_products_of_one_row_of_the_widest_layer() -> None:
    """The twins work in blocks of at least one row of inputs x outputs products; a layer wider
    than the scratch holds would not fit (``_blocks`` assumes it does)."""
    assert dense.MAX_WIDTH**2 <= dense.TWIN_SCRATCH


# ------------------------------------------------------------ the loops against their twins
def build_unit(
    layer: nn.Linear, rows: int, code: int, slope: float, dtype: Any, relu: bool = False
) -> DenseUnit:
    """A DenseUnit on ``layer`` for ``rows`` rows, as ``densify`` makes one (built directly:
    any shape, whatever ``small`` would choose)."""
    shape = (rows, layer.out_features)
    activation: Unit | None = None
    if code == dense.TANH:
        activation = TanhUnit(shape, np.dtype(dtype))
    elif code == dense.SIGMOID:
        activation = SigmoidUnit(shape, np.dtype(dtype))
    linear_unit = LinearUnit(layer, (rows, layer.in_features), relu=relu)
    return DenseUnit(linear_unit, code, activation, slope)


def values(rng: np.random.Generator, shape: tuple[int, ...], kind: str, dtype: Any) -> np.ndarray:
    """Normal values; small integers (exact sums: many zeros, ties at the kinks); values of
    magnitudes 1e-3 to 1e3 (sums whose rounding depends on their order); or normal values with
    a few infinities and NaNs."""
    if kind == "integers":
        return rng.integers(-2, 3, shape).astype(dtype)
    normal = rng.standard_normal(shape)
    if kind == "wide":
        normal *= 10.0 ** rng.uniform(-3, 3, shape)
    elif kind == "special":
        normal[rng.random(shape) < 0.05] = np.inf
        normal[rng.random(shape) < 0.05] = -np.inf
        normal[rng.random(shape) < 0.05] = np.nan
    return normal.astype(dtype)


SENTINEL = 12345.0


def run_unit(
    unit: DenseUnit, x: np.ndarray, g: np.ndarray, needs_input: bool, steps: int = 2
) -> list[np.ndarray | None]:
    """``steps`` forward and backward passes, the weight and bias changed in place between them
    (as an optimiser changes them); the outputs and every gradient buffer of each (None where
    the backward pass gave no input gradient). Gradients not asked for must stay untouched."""
    linear_unit = unit.linear
    weight, bias = linear_unit.weight, linear_unit.bias
    assert bias is not None and linear_unit.grad_bias is not None
    results: list[np.ndarray | None] = []
    for step in range(steps):
        if step:
            weight.data -= weight.data.dtype.type(0.25) * weight.data
            bias.data += bias.data.dtype.type(0.5)
        for buffer in (linear_unit.grad_weight, linear_unit.grad_bias, linear_unit.grad_in):
            buffer[...] = SENTINEL
        out = unit.forward(x).copy()
        grad_in = unit.backward(g, needs_input)
        assert (grad_in is None) is not needs_input
        if not weight.requires_grad:
            assert (linear_unit.grad_weight == SENTINEL).all()
        if not bias.requires_grad:
            assert (linear_unit.grad_bias == SENTINEL).all()
        if not needs_input:
            assert (linear_unit.grad_in == SENTINEL).all()
        results += [
            out,
            linear_unit.grad_weight.copy(),
            linear_unit.grad_bias.copy(),
            None if grad_in is None else grad_in.copy(),
        ]
    return results


@st.composite
def dense_cases(draw: st.DrawFn, activation: str, dtype: Any) -> dict[str, Any]:
    return {
        "rows": draw(st.integers(1, 40)),
        "inputs": draw(st.integers(1, 32)),
        "outputs": draw(st.integers(1, 32)),
        "code": CODES[activation],
        "slope": draw(st.sampled_from([0.2, 0.0, 0.01, 1.0, 3.0])) if activation == "leaky" else 0,
        "relu_fused": activation == "relu" and draw(st.booleans()),
        "dtype": dtype,
        "row_major": draw(st.booleans()),
        "weight_trains": draw(st.booleans()),
        "bias_trains": draw(st.booleans()),
        "needs_input": draw(st.booleans()),
        # (Hypothesis draws the first ones most often: the values whose sums round the most)
        "kind": draw(st.sampled_from(["wide", "normal", "integers", "special"])),
        "input_order": draw(st.sampled_from(["C", "F"])),
        # the twins' blocks of rows: as many as fit the scratch, or 1 to 3 rows
        "block_rows": draw(st.sampled_from([None, 1, 2, 3])),
        "seed": draw(st.integers(0, 2**32 - 1)),
    }


def unit_results(case: dict[str, Any], path: str) -> list[np.ndarray | None]:
    """Build the case's layer and unit (afresh) and run it with the loops or the twins."""
    dtype, rng = case["dtype"], np.random.default_rng(case["seed"])
    rows, inputs, outputs = case["rows"], case["inputs"], case["outputs"]
    layer = linear(inputs, outputs, 1, dtype=dtype)
    weight = values(rng, (outputs, inputs), case["kind"], dtype)
    layer.weight.data = np.ascontiguousarray(weight) if case["row_major"] else weight.T.copy().T
    layer.bias.data = values(rng, (outputs,), case["kind"], dtype)
    layer.weight.requires_grad = case["weight_trains"]
    layer.bias.requires_grad = case["bias_trains"]
    x = np.asarray(values(rng, (rows, inputs), case["kind"], dtype), order=case["input_order"])
    g = values(rng, (rows, outputs), case["kind"], dtype)
    unit = build_unit(layer, rows, case["code"], case["slope"], dtype, relu=case["relu_fused"])
    use(path, dtype)
    with np.errstate(all="ignore"):  # (on infinities and NaNs NumPy warns, the loops do not)
        return run_unit(unit, x, g, case["needs_input"])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", list(CODES))
@settings(max_examples=80, deadline=None, derandomize=True)
@given(data=st.data())
def test_the_loops_and_their_twins_give_the_same_bits(
    activation: str, dtype: Any, data: st.DataObject
) -> None:
    """Random shapes (1-40 rows, 1-32 inputs and outputs), weights of either layout, every
    choice of gradients, and the twins in blocks of 1 to 3 rows or in one."""
    case = data.draw(dense_cases(activation, dtype))
    loops = unit_results(case, "loops")
    with pytest.MonkeyPatch.context() as patch:
        if case["block_rows"] is not None:
            scratch = case["block_rows"] * case["inputs"] * case["outputs"]
            patch.setattr(dense, "TWIN_SCRATCH", scratch)
            patch.setattr(dense, "_SCRATCH", {})  # (the shared scratch is made at its size)
        twins = unit_results(case, "twins")
    names = ["output", "weight's gradient", "bias's gradient", "input's gradient"] * 2
    for name, mine, theirs in zip(names, loops, twins):
        if theirs is None:
            assert mine is None
            continue
        assert mine is not None and mine.dtype == theirs.dtype
        np.testing.assert_array_equal(mine, theirs, err_msg=name, strict=True)


def test_the_twins_work_in_several_blocks_when_the_scratch_is_small(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """(That the blocking above is real: a scratch of two rows' products gives 20 blocks.)"""
    monkeypatch.setattr(dense, "TWIN_SCRATCH", 2 * 8 * 4)
    unit = build_unit(linear(8, 4, 1), 40, dense.TANH, 0.0, np.float32)
    assert len(unit._blocks(8 * 4)) == 20
    assert unit._blocks(8 * 4)[-1] == (38, 40)


# ------------------------------------------------------------ one step against float64 maths
def float64_layer(
    x: np.ndarray, w: np.ndarray, b: np.ndarray, code: int, slope: float
) -> tuple[np.ndarray, np.ndarray]:
    """The activation and its derivative, in float64, of z = x Wᵀ + b."""
    z = np.einsum("ik,jk->ij", x, w) + b
    if code == dense.RELU:
        return np.where(z > 0, z, 0.0), (z > 0).astype(np.float64)
    if code == dense.LEAKY:
        return np.where(z > 0, z, slope * z), np.where(z > 0, 1.0, slope)
    if code == dense.TANH:
        h = np.tanh(z)
        return h, 1 - h**2
    if code == dense.SIGMOID:
        h = 1 / (1 + np.exp(-z))
        return h, h * (1 - h)
    return z, np.ones_like(z)


@pytest.mark.parametrize("path", ["loops", "twins"])
@pytest.mark.parametrize("row_major", [False, True], ids=["column-major", "row-major"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("code", "slope"),
    [
        (dense.NONE, 0.0),
        (dense.RELU, 0.0),
        (dense.LEAKY, 0.1),
        (dense.LEAKY, 2.0),
        (dense.TANH, 0.0),
        (dense.SIGMOID, 0.0),
    ],
    ids=["none", "relu", "leaky", "leaky-steep", "tanh", "sigmoid"],
)
@pytest.mark.parametrize("shape", [(1, 3, 4), (13, 7, 5), (40, 32, 32)], ids=str)
def test_one_dense_unit_step_equals_float64_mathematics(
    shape: tuple[int, int, int], code: int, slope: float, dtype: Any, row_major: bool, path: str
) -> None:
    rows, inputs, outputs = shape
    rng = np.random.default_rng(rows + inputs)
    layer = linear(inputs, outputs, 3, dtype=dtype)
    if row_major:
        layer.weight.data = np.ascontiguousarray(layer.weight.data)
    x = rng.standard_normal((rows, inputs)).astype(dtype)
    g = rng.standard_normal((rows, outputs)).astype(dtype)
    unit = build_unit(layer, rows, code, slope, dtype)
    use(path, dtype)
    rtol, atol = STEP_TOLERANCES[dtype]
    for step in range(2):
        if step:  # changed in place, as an optimiser does: the unit must read the new values
            layer.weight.data *= dtype(-0.5)
            layer.bias.data += dtype(0.25)
        w, b = layer.weight.data.astype(np.float64), layer.bias.data.astype(np.float64)
        h, derivative = float64_layer(x.astype(np.float64), w, b, code, slope)
        delta = g.astype(np.float64) * derivative
        out = unit.forward(x)
        grad_in = unit.backward(g, True)
        assert grad_in is not None
        got = {
            "output": out,
            "weight's gradient": unit.linear.grad_weight,
            "bias's gradient": unit.linear.grad_bias,
            "input's gradient": grad_in,
        }
        expected = {
            "output": h,
            "weight's gradient": np.einsum("ij,ik->jk", delta, x.astype(np.float64)),
            "bias's gradient": delta.sum(axis=0),
            "input's gradient": np.einsum("ij,jk->ik", delta, w),
        }
        for name, want in expected.items():
            mine = got[name]
            assert mine is not None and mine.dtype == dtype, name
            assert mine.shape == want.shape, name
            np.testing.assert_allclose(mine, want, rtol=rtol, atol=atol, err_msg=f"{step} {name}")


@pytest.mark.parametrize("path", ["loops", "twins"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_compiled_step_of_a_small_model_equals_float64_mathematics(path: str, dtype: Any) -> None:
    """forward_backward of 2-8-8-2 (Tanh, ReLU) on 10 rows with the mean squared error: its
    loss, outputs and gradients against the chain rule written out in float64."""

    def make_model() -> nn.Module:
        return nn.Sequential(
            linear(2, 8, 1, dtype=dtype),
            nn.Tanh(),
            linear(8, 8, 2, dtype=dtype),
            nn.ReLU(),
            linear(8, 2, 3, dtype=dtype),
        )

    rng = np.random.default_rng(5)
    x = rng.standard_normal((10, 2)).astype(dtype)
    y = rng.standard_normal((10, 2)).astype(dtype)
    model = make_model()
    step = cr.compile(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.1))
    use(path, dtype)
    loss, outputs = step.forward_backward(x, y)
    assert [describe(unit) for unit in plan_units(step)] == [
        "Dense:tanh",
        "Dense:relu",
        "Dense:none",
    ]

    (w1, b1), (w2, b2), (w3, b3) = (
        (layer.weight.data.astype(np.float64), layer.bias.data.astype(np.float64))
        for layer in (model.layers[0], model.layers[2], model.layers[4])
    )
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    h1 = np.tanh(x64 @ w1.T + b1)
    z2 = h1 @ w2.T + b2
    h2 = np.maximum(z2, 0)
    z3 = h2 @ w3.T + b3
    expected_loss = np.mean((z3 - y64) ** 2)
    d3 = 2 * (z3 - y64) / z3.size
    d2 = (d3 @ w3) * (z2 > 0)
    d1 = (d2 @ w2) * (1 - h1**2)
    expected = {
        "0.weight": d1.T @ x64,
        "0.bias": d1.sum(0),
        "2.weight": d2.T @ h1,
        "2.bias": d2.sum(0),
        "4.weight": d3.T @ h2,
        "4.bias": d3.sum(0),
    }
    rtol, atol = STEP_TOLERANCES[dtype]
    np.testing.assert_allclose(loss, expected_loss, rtol=rtol, atol=atol)
    np.testing.assert_allclose(outputs, z3, rtol=rtol, atol=atol)
    grads = {name: p.grad for name, p in model.named_parameters()}
    assert grads.keys() == expected.keys()
    for name, want in expected.items():
        grad = grads[name]
        assert grad is not None and grad.data.dtype == dtype, name
        np.testing.assert_allclose(grad.data, want, rtol=rtol, atol=atol, err_msg=name)


# ------------------------------------------------------------------ whole runs against eager
def run_tolerances(dtype: Any) -> dict[str, float]:
    return RUN_TOLERANCES64 if dtype == np.float64 else {}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("make_loss", LOSSES)
@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_dense_training_equals_eager_for_every_activation_and_loss(
    activation: str, make_loss: Callable[[], Any], dtype: Any
) -> None:
    """100 steps on batches of 24, 1 and 10 rows (three plans, every layer a DenseUnit)."""
    loss_fn = make_loss()
    make_model = network(activation, dtype=dtype)
    batches = make_batches(kind_of(loss_fn), [24, 1, 10], 3, dtype=dtype)
    optimizer = "adam" if dtype == np.float32 else "sgd-momentum"
    compiled, eager = both(make_model, make_loss, optimizer_for(optimizer, loss_fn), batches)
    assert len(dense_units(compiled)) == 3
    assert_same_training(compiled, eager, **run_tolerances(dtype))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    "frozen",
    [
        "first-weight",
        "first-bias",
        "first-both",
        "middle-weight",
        "middle-bias",
        "middle-both",
        "last-both",
    ],
)
def test_dense_training_with_parameters_frozen_from_the_start_equals_eager(
    frozen: str, dtype: Any
) -> None:
    """requires_grad False before the optimiser is made: the unit computes only the gradients
    asked for, and passes the input's on through a frozen layer."""
    where, which = frozen.split("-")
    position = {"first": 0, "middle": 2, "last": 4}[where]
    names = ["weight", "bias"] if which == "both" else [which]

    def make_model() -> nn.Module:
        model = network("tanh", dtype=dtype)()
        for name in names:
            getattr(model.layers[position], name).requires_grad = False
        return model

    def make_optimizer(params: Any) -> optim.Optimizer:
        return optim.SGD([p for p in params if p.requires_grad], lr=0.05, momentum=0.9)

    batches = make_batches("ce", [32, 32, 5], 3, dtype=dtype)
    compiled, eager = both(make_model, nn.CrossEntropyLoss, make_optimizer, batches)
    assert len(dense_units(compiled)) == 3
    assert_same_training(compiled, eager, **run_tolerances(dtype))
    untrained = make_model().layers[position]
    for name in names:
        parameter = getattr(compiled.model.layers[position], name)
        assert parameter.grad is None
        np.testing.assert_array_equal(parameter.data, getattr(untrained, name).data)


def fortran(x: np.ndarray) -> np.ndarray:
    return np.asfortranarray(x)


def every_other_column(x: np.ndarray) -> np.ndarray:
    wide = np.zeros((x.shape[0], 2 * x.shape[1]), x.dtype)
    wide[:, ::2] = x
    return wide[:, ::2]


def every_other_row(x: np.ndarray) -> np.ndarray:
    tall = np.zeros((2 * x.shape[0], x.shape[1]), x.dtype)
    tall[::2] = x
    return tall[::2]


def float64_fortran(x: np.ndarray) -> np.ndarray:
    return np.asfortranarray(x.astype(np.float64))


@pytest.mark.parametrize(
    "layout",
    [fortran, every_other_column, every_other_row, float64_fortran],
    ids=lambda f: f.__name__,
)
@pytest.mark.parametrize("activation", ["relu", "tanh", "leaky"])
def test_dense_training_on_input_batches_that_are_not_row_major_equals_eager(
    layout: Callable[[np.ndarray], np.ndarray], activation: str
) -> None:
    batches = [(layout(x), y) for x, y in make_batches("ce", [16, 16, 3], 3)]
    assert not batches[0][0].flags.c_contiguous
    compiled, eager = both(network(activation), nn.CrossEntropyLoss, OPTIMIZERS["adam"], batches)
    assert len(dense_units(compiled)) == 3
    assert_same_training(compiled, eager)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", ["none", "relu", "leaky", "tanh", "sigmoid"])
def test_dense_training_on_batches_of_one_row_equals_eager(activation: str, dtype: Any) -> None:
    batches = make_batches("mse", [1, 1, 1], 3, dtype=dtype)
    make_optimizer = OPTIMIZERS["sgd-momentum" if dtype == np.float64 else "adam"]
    compiled, eager = both(network(activation, dtype=dtype), nn.MSELoss, make_optimizer, batches)
    assert len(dense_units(compiled)) == 3
    assert_same_training(compiled, eager, **run_tolerances(dtype))


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_dense_training_with_a_row_major_weight_equals_eager(activation: str) -> None:
    """The unit's copy of a row-major weight follows the optimiser's updates in place."""

    def make_model() -> nn.Module:
        model = network(activation)()
        for layer in model.layers[::2]:
            layer.weight.data = np.ascontiguousarray(layer.weight.data)
        return model

    batches = make_batches("ce", [20, 20, 7], 3)
    compiled, eager = both(make_model, nn.CrossEntropyLoss, OPTIMIZERS["sgd-momentum"], batches)
    units = dense_units(compiled)
    assert len(units) == 3 and all(unit.copied for unit in units)
    assert_same_training(compiled, eager)


# -------------------------------------------------------- whole runs: the twins and the loops
def whole_run(
    activation: str, dtype: Any, loss: str, optimizer: str, path: str, rows: tuple[int, ...]
) -> Run:
    loss_fn = {"ce": nn.CrossEntropyLoss, "mse": nn.MSELoss, "bce": nn.BCEWithLogitsLoss}[loss]()
    batches = make_batches(loss, list(rows), 3, dtype=dtype)
    make_model = network(activation, dtype=dtype)
    if path == "twins-before-numba-loads":
        # the twins with the engine's kernels on, as while Numba loads in the background
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(fused, "_loops", None)
            patch.setattr(fused, "_start", lambda: None)
            assert fused.dense_loop("dense_forward", np.dtype(dtype)) is None
            return train(make_model, loss_fn, OPTIMIZERS[optimizer], batches, compiled=True)
    use(path, dtype)
    try:
        return train(make_model, loss_fn, OPTIMIZERS[optimizer], batches, compiled=True)
    finally:
        cr.set_kernels("compiled")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("activation", ["none", "relu", "relu-unfused", "leaky", "tanh", "sigmoid"])
@pytest.mark.parametrize(
    ("twins", "loss", "optimizer"),
    [
        # set_kernels("numpy") turns the engine's kernels off too; the mean squared error and
        # the binary cross-entropy with SGD have none that differ from their NumPy paths
        ("twins", "mse", "sgd"),
        ("twins", "bce", "sgd-momentum"),
        # cross-entropy and Adam keep their engine kernels: only the fused loops are the twins
        ("twins-before-numba-loads", "ce", "adam"),
    ],
)
def test_a_whole_run_with_the_twins_gives_the_bits_of_the_loops(
    twins: str, loss: str, optimizer: str, activation: str, dtype: Any
) -> None:
    rows = (24, 1, 10)
    loops = whole_run(activation, dtype, loss, optimizer, "loops", rows)
    assert len(dense_units(loops)) == 3
    mine = whole_run(activation, dtype, loss, optimizer, twins, rows)
    for got, expected in zip(snapshot(mine), snapshot(loops)):
        np.testing.assert_array_equal(got, expected, strict=True)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_whole_run_with_the_twins_in_small_blocks_gives_the_bits_of_the_loops(
    dtype: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    loops = whole_run("tanh", dtype, "mse", "sgd", "loops", (32, 7))
    monkeypatch.setattr(dense, "TWIN_SCRATCH", 2 * 12 * 8)  # two rows of the widest layer
    monkeypatch.setattr(dense, "_SCRATCH", {})
    mine = whole_run("tanh", dtype, "mse", "sgd", "twins", (32, 7))
    for got, expected in zip(snapshot(mine), snapshot(loops)):
        np.testing.assert_array_equal(got, expected, strict=True)
