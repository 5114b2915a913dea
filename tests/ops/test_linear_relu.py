"""F.linear_relu and its use by nn.Sequential: the same values and gradients as Linear then ReLU.

References: max(x Wᵀ + b, 0) and its hand-derived gradients in NumPy, finite differences in
float64, and the unfused two-node graph (which has its own tests).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import nn, optim
from chainrule.engine import kernels as _kernels
from chainrule.nn import functional as F

TIGHT = {"atol": 1e-7, "rtol": 1e-5}
HYPOTHESIS = settings(max_examples=30, deadline=None, database=None, derandomize=True)
# Pre-activations closer than this to the kink are redrawn: gradcheck's step moves them by
# about 1e-6, so the finite differences never straddle 0.
KINK_GAP = 1e-3


def _leaf(values: Any) -> cr.Tensor:
    return cr.tensor(np.asarray(values), requires_grad=True)


@HYPOTHESIS
@given(
    batch=st.lists(st.integers(1, 3), min_size=0, max_size=2),
    in_features=st.integers(1, 4),
    out_features=st.integers(1, 4),
    seed=st.integers(0, 2**16),
)
def test_linear_relu_gradcheck(
    batch: list[int], in_features: int, out_features: int, seed: int
) -> None:
    """Gradients with respect to x, W and b match central differences in float64, for a
    vector, a batch and a batch of sequences."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((*batch, in_features))
    w = rng.standard_normal((out_features, in_features))
    b = rng.standard_normal(out_features)
    assume(np.abs(x @ w.T + b).min() > KINK_GAP)
    report = cr.gradcheck(lambda x, w, b: F.linear_relu(x, w, b), x, w, b, **TIGHT)
    assert report.passed, str(report)


def test_linear_relu_gradcheck_on_the_compiled_path() -> None:
    """A batch large enough (64x40 outputs) for the compiled bias+ReLU pass, in float64."""
    rng = np.random.default_rng(11)
    x, w, b = rng.standard_normal((64, 6)), rng.standard_normal((40, 6)), rng.standard_normal(40)
    assert np.abs(x @ w.T + b).min() > KINK_GAP
    assert _kernels.kernel("bias_relu", x @ w.T, b) is not None
    report = cr.gradcheck(lambda x, w, b: F.linear_relu(x, w, b), x, w, b, **TIGHT)
    assert report.passed, str(report)


@pytest.mark.parametrize("rows", [3, 64])  # 3x40 takes NumPy's path, 64x40 the compiled pass
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_value_and_gradients_by_hand(rows: int, dtype: type) -> None:
    """y = max(xWᵀ + b, 0); with δ = g·[y > 0]: dx = δW, dW = δᵀx, db = Σ δ over the rows."""
    rng = np.random.default_rng(rows)
    x, w = rng.standard_normal((rows, 7)).astype(dtype), rng.standard_normal((40, 7)).astype(dtype)
    b, g = rng.standard_normal(40).astype(dtype), rng.standard_normal((rows, 40)).astype(dtype)
    xt, wt, bt = _leaf(x), _leaf(np.asfortranarray(w)), _leaf(b)
    out = F.linear_relu(xt, wt, bt)
    expected = np.maximum(x @ w.T + b, 0)
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out.data, expected, rtol=tolerance, atol=tolerance)
    assert out.dtype == dtype and out._op == "linear_relu"
    out.backward(g)
    delta = g * (expected > 0)
    np.testing.assert_allclose(xt.grad.data, delta @ w, rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(wt.grad.data, delta.T @ x, rtol=tolerance, atol=tolerance)
    np.testing.assert_allclose(bt.grad.data, delta.sum(axis=0), rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("rows", [2, 64])
def test_nan_stays_nan(rows: int) -> None:
    """A NaN pre-activation is passed on, as ReLU passes it, in both paths."""
    w = np.ones((40, 3), np.float32)
    x = np.ones((rows, 3), np.float32)
    x[1, 0] = np.nan
    out = F.linear_relu(cr.tensor(x), cr.tensor(w), cr.tensor(np.zeros(40, np.float32))).data
    assert np.isnan(out[1]).all() and np.isfinite(np.delete(out, 1, axis=0)).all()


@pytest.mark.parametrize("frozen_bias", [False, True])
def test_two_nodes_fed_the_same_cotangent_get_their_own_masks(frozen_bias: bool) -> None:
    """Two fused nodes reached by the same g: each gradient uses its own node's ReLU mask,
    also when the biases need no gradient (their rule is then never asked for)."""
    rng = np.random.default_rng(0)
    x = _leaf(rng.standard_normal((5, 3)))
    w1, w2 = _leaf(rng.standard_normal((4, 3))), _leaf(rng.standard_normal((4, 3)))
    b1, b2 = (rng.standard_normal(4) for _ in range(2))
    biases = (b1, b2) if frozen_bias else (_leaf(b1), _leaf(b2))
    (F.linear_relu(x, w1, biases[0]) + F.linear_relu(x, w2, biases[1])).sum().backward()
    for w, b in ((w1, b1), (w2, b2)):
        active = ((x.data @ w.data.T + b) > 0).astype(float)
        np.testing.assert_allclose(w.grad.data, active.T @ x.data, rtol=1e-12)


def test_a_changed_seed_on_a_retained_graph_gives_the_new_gradient() -> None:
    """Differentiating the same graph twice with a seed changed in place in between (the bias
    frozen, so only some inputs' gradients are asked for) follows the new seed."""
    rng = np.random.default_rng(2)
    x, w = rng.standard_normal((4, 3)), _leaf(rng.standard_normal((5, 3)))
    bias = rng.standard_normal(5)
    y = F.linear_relu(x, w, bias)
    active = (x @ w.data.T + bias) > 0
    seed = np.ones((4, 5))
    y.backward(seed, retain_graph=True)
    first = w.grad.data.copy()
    np.testing.assert_allclose(first, (seed * active).T @ x, rtol=1e-12)
    seed *= -3
    y.backward(seed)
    np.testing.assert_allclose(w.grad.data - first, (seed * active).T @ x, rtol=1e-12)


def test_gradient_for_some_inputs_only() -> None:
    """cr.grad with respect to the weight alone: the rule is asked for one of three inputs."""
    rng = np.random.default_rng(5)
    x, w, b = rng.standard_normal((6, 3)), rng.standard_normal((4, 3)), rng.standard_normal(4)
    got = cr.grad(lambda w: F.linear_relu(x, w, b).sum())(w).data
    np.testing.assert_allclose(got, ((x @ w.T + b) > 0).astype(float).T @ x, rtol=1e-12)


@pytest.mark.parametrize("rows", [3, 64])
def test_bias_shapes_behave_as_in_linear(rows: int) -> None:
    """A bias of one element broadcasts, a bias of the wrong length fails, on both paths."""
    rng = np.random.default_rng(6)
    x, w = rng.standard_normal((rows, 9)), rng.standard_normal((50, 9))
    one = np.array([0.5])
    np.testing.assert_allclose(
        F.linear_relu(x, w, one).data, np.maximum(F.linear(x, w, one).data, 0), rtol=1e-12
    )
    for wrong in (np.zeros(3), np.zeros(60)):
        with pytest.raises(ValueError):
            F.linear(x, w, wrong)
        with pytest.raises(ValueError):
            F.linear_relu(x, w, wrong)


def test_second_order_gradients_through_the_fused_node() -> None:
    """Nested grad runs the rules on tensors: d/dx of sum(dL/dW) is the count of active units
    of each row, repeated over x's columns (dL/dW = activeᵀ @ x)."""
    rng = np.random.default_rng(1)
    x, w, b = rng.standard_normal((4, 3)), rng.standard_normal((2, 3)), rng.standard_normal(2)

    def weight_gradient_sum(x: Any) -> cr.Tensor:
        return cr.grad(lambda w: F.linear_relu(x, w, b).sum())(w).sum()

    active = (x @ w.T + b) > 0
    expected = np.repeat(active.sum(axis=1, keepdims=True), 3, axis=1).astype(float)
    np.testing.assert_allclose(cr.grad(weight_gradient_sum)(x).data, expected, rtol=1e-12)


# ---------------------------------------------------------------------------- Sequential
def _train(model: nn.Sequential, steps: int = 5) -> list[np.ndarray]:
    rng = np.random.default_rng(3)
    opt = optim.Adam(model.parameters(), lr=1e-2)
    x = rng.standard_normal((64, 20)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return [p.data.copy() for p in model.parameters()]


def test_sequential_fused_and_unfused_train_to_identical_parameters() -> None:
    """Fusion changes the graph, not the arithmetic: after Adam steps the parameters are equal
    to the last bit."""
    cr.manual_seed(0)
    fused = nn.mlp(20, [40, 40], 3)
    cr.manual_seed(0)
    plain = nn.mlp(20, [40, 40], 3)
    plain.fuse = False
    for a, b in zip(_train(fused), _train(plain)):
        np.testing.assert_array_equal(a, b)


def test_sequential_fuses_only_a_plain_linear_followed_by_relu() -> None:
    x = cr.tensor(np.ones((2, 3)))

    def ops_of(model: nn.Sequential) -> list[str]:
        node, ops = model(x), []
        while node._parents:
            ops.append(node._op)
            node = node._parents[0]
        return ops[::-1]

    assert ops_of(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))) == [
        "linear_relu",
        "linear",
    ]
    unfused = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    unfused.fuse = False
    assert ops_of(unfused) == ["linear", "relu"]
    assert ops_of(nn.Sequential(nn.Linear(3, 4, bias=False), nn.ReLU())) == ["linear", "relu"]
    assert ops_of(nn.Sequential(nn.Linear(3, 4), nn.Tanh())) == ["linear", "tanh"]

    class Scaled(nn.Linear):
        def forward(self, x: Any) -> cr.Tensor:
            return super().forward(x) * 2

    assert ops_of(nn.Sequential(Scaled(3, 4), nn.ReLU())) == ["linear", "multiply", "relu"]
    patched = nn.Linear(3, 4)
    patched.forward = lambda x: F.linear(x, patched.weight) * 1.0  # type: ignore[method-assign]
    assert ops_of(nn.Sequential(patched, nn.ReLU())) == ["linear", "multiply", "relu"]


def test_wrong_input_inside_a_fused_pair_names_the_layer() -> None:
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    with pytest.raises(ValueError, match=r"Linear\(in_features=3, out_features=4\).*\(2, 5\)"):
        model(np.ones((2, 5)))


def test_numpy_path_equals_the_compiled_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    """Values and all three gradients, float32, with the compiled passes and without."""
    rng = np.random.default_rng(4)
    x = rng.standard_normal((64, 9)).astype(np.float32)
    w, b = (
        rng.standard_normal((50, 9)).astype(np.float32),
        rng.standard_normal(50).astype(np.float32),
    )
    g = rng.standard_normal((64, 50)).astype(np.float32)
    assert _kernels.kernel("bias_relu", x @ w.T, b) is not None

    def run() -> list[np.ndarray]:
        leaves = [_leaf(x), _leaf(w), _leaf(b)]
        out = F.linear_relu(*leaves)
        out.backward(g)
        return [out.data, *(leaf.grad.data for leaf in leaves)]

    compiled = run()
    monkeypatch.setattr(_kernels, "_chosen", "numpy")
    assert _kernels.kernel("bias_relu", x @ w.T, b) is None
    for a, b_ in zip(compiled, run()):
        np.testing.assert_array_equal(a, b_)


def test_replaced_methods_turn_fusion_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """A forward or __call__ replaced on the class (say, to record activations) is honoured."""
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    x = np.ones((2, 3))
    assert model(x)._op == "linear_relu"
    seen: list[str] = []
    original = nn.ReLU.forward

    def recording(self: nn.ReLU, x: Any) -> cr.Tensor:
        seen.append("relu")
        return original(self, x)

    monkeypatch.setattr(nn.ReLU, "forward", recording)
    assert model(x)._op == "relu" and seen == ["relu"]
    monkeypatch.undo()
    calls: list[str] = []
    module_call = nn.Module.__call__

    def counting(self: nn.Module, *args: Any) -> Any:
        calls.append(type(self).__name__)
        return module_call(self, *args)

    monkeypatch.setattr(nn.Module, "__call__", counting)
    model(x)
    assert calls == ["Sequential", "Linear", "ReLU"]


def test_explain_shows_what_the_fused_node_passes_to_each_input() -> None:
    """cr.explain asks the joint rule once per node: what it says the fused node passed to the
    weight and bias equals their gradients from backward()."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((3, 4))
    w, b = _leaf(rng.standard_normal((5, 4))), _leaf(rng.standard_normal(5))
    loss = F.linear_relu(x, w, b).sum()
    table = cr.explain(loss, names={"w": w, "b": b})
    fused = next(step for step in table.steps if step.op == "linear_relu")
    assert set(fused.passed) == {"w", "b"}  # x needs no gradient
    loss.backward()
    np.testing.assert_allclose(fused.passed["w"], w.grad.data, rtol=1e-12)
    np.testing.assert_allclose(fused.passed["b"], b.grad.data, rtol=1e-12)
