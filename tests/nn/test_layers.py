"""Layers: Linear as one fused node, the activation modules, Dropout, and a whole small MLP.

Reference values are closed forms written here in NumPy, or PyTorch when it is installed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F

TIGHT = {"atol": 1e-7, "rtol": 1e-5}
HYPOTHESIS = settings(max_examples=25, deadline=None, database=None, derandomize=True)


def _leaf(values: Any) -> cr.Tensor:
    return cr.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


# ---------------------------------------------------------------------------------- Linear
def test_linear_parameter_shapes_and_dtype() -> None:
    """weight is (out, in), bias (out,), both float32 Parameters by default."""
    layer = nn.Linear(3, 5)
    assert layer.weight.shape == (5, 3)
    assert layer.bias.shape == (5,)
    assert layer.weight.dtype == np.float32 and layer.bias.dtype == np.float32
    assert isinstance(layer.weight, nn.Parameter) and isinstance(layer.bias, nn.Parameter)
    assert layer.in_features == 3 and layer.out_features == 5


def test_linear_without_bias() -> None:
    """bias=False: no bias, only the weight is a parameter, y = x Wᵀ."""
    layer = nn.Linear(3, 2, bias=False, dtype=np.float64)
    assert layer.bias is None
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    x = np.random.default_rng(0).standard_normal((4, 3))
    np.testing.assert_allclose(layer(x).data, x @ layer.weight.data.T, rtol=1e-14)


@pytest.mark.parametrize("shape", [(3,), (4, 3), (2, 5, 3)], ids=["1d", "2d", "3d"])
def test_linear_forward_is_x_wt_plus_b(shape: tuple[int, ...]) -> None:
    """y = x @ W.T + b for a single sample, a batch and a batch of sequences."""
    layer = nn.Linear(3, 2, dtype=np.float64)
    x = np.random.default_rng(1).standard_normal(shape)
    expected = x @ layer.weight.data.T + layer.bias.data
    out = layer(x)
    assert out.shape == shape[:-1] + (2,)
    np.testing.assert_allclose(out.data, expected, rtol=1e-14)


def test_linear_is_one_recorded_node() -> None:
    """The output is one node, op 'linear', whose parents are x, weight and bias themselves."""
    layer = nn.Linear(3, 2)
    x = cr.tensor(np.ones((4, 3), dtype=np.float32), requires_grad=True)
    out = layer(x)
    assert out._op == "linear"
    assert len(out._parents) == 3
    assert out._parents[0] is x
    assert out._parents[1] is layer.weight
    assert out._parents[2] is layer.bias


def test_linear_without_bias_is_one_node_of_two_parents() -> None:
    """Without a bias the node has parents (x, weight)."""
    layer = nn.Linear(3, 2, bias=False)
    out = layer(np.ones((1, 3), dtype=np.float32))
    assert out._op == "linear"
    assert len(out._parents) == 2 and out._parents[1] is layer.weight


def test_linear_gradients_closed_form() -> None:
    """For cotangent G: dx = G W, dW = Gᵀ x, db = Σ_rows G."""
    rng = np.random.default_rng(2)
    layer = nn.Linear(4, 3, dtype=np.float64)
    x = _leaf(rng.standard_normal((5, 4)))
    g = rng.standard_normal((5, 3))
    layer(x).backward(g)
    w = layer.weight.data
    np.testing.assert_allclose(x.grad.data, g @ w, rtol=1e-13)
    np.testing.assert_allclose(layer.weight.grad.data, g.T @ x.data, rtol=1e-13)
    np.testing.assert_allclose(layer.bias.grad.data, g.sum(axis=0), rtol=1e-13)


def test_linear_gradients_of_a_batch_of_sequences() -> None:
    """With leading axes (B, T), dW and db sum over both."""
    rng = np.random.default_rng(3)
    layer = nn.Linear(4, 3, dtype=np.float64)
    x = rng.standard_normal((2, 5, 4))
    g = rng.standard_normal((2, 5, 3))
    layer(x).backward(g)
    np.testing.assert_allclose(layer.weight.grad.data, np.einsum("bto,bti->oi", g, x), rtol=1e-13)
    np.testing.assert_allclose(layer.bias.grad.data, g.sum(axis=(0, 1)), rtol=1e-13)


@HYPOTHESIS
@given(
    batch=st.lists(st.integers(1, 3), min_size=0, max_size=2),
    in_features=st.integers(1, 4),
    out_features=st.integers(1, 4),
    bias=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_linear_gradcheck(
    batch: list[int], in_features: int, out_features: int, bias: bool, seed: int
) -> None:
    """F.linear's gradients with respect to x, W and b match finite differences in float64."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((*batch, in_features))
    w = rng.standard_normal((out_features, in_features))
    if bias:
        b = rng.standard_normal(out_features)
        report = cr.gradcheck(lambda x, w, b: F.linear(x, w, b), x, w, b, **TIGHT)
    else:
        report = cr.gradcheck(lambda x, w: F.linear(x, w), x, w, **TIGHT)
    assert report.passed, str(report)


def test_linear_default_init_is_uniform_one_over_sqrt_fan_in() -> None:
    """As PyTorch: weight and bias uniform in ±1/sqrt(in_features)."""
    layer = nn.Linear(400, 300, rng=np.random.default_rng(4))
    bound = 1 / np.sqrt(400)
    w = layer.weight.data.astype(np.float64)
    assert np.abs(w).max() <= bound
    assert np.abs(w).max() > 0.99 * bound
    assert w.std() == pytest.approx(bound / np.sqrt(3), rel=0.03)
    assert np.abs(layer.bias.data).max() <= bound


def test_linear_rng_and_manual_seed_reproduce_weights() -> None:
    """The same rng seed or the same cr.manual_seed gives the same weights; another does not."""
    a = nn.Linear(5, 4, rng=np.random.default_rng(7))
    b = nn.Linear(5, 4, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a.weight.data, b.weight.data)
    cr.manual_seed(11)
    c = nn.Linear(5, 4)
    cr.manual_seed(11)
    d = nn.Linear(5, 4)
    np.testing.assert_array_equal(c.weight.data, d.weight.data)
    np.testing.assert_array_equal(c.bias.data, d.bias.data)
    assert not np.array_equal(a.weight.data, c.weight.data)


def test_linear_dtype_argument_and_input_casting() -> None:
    """dtype=float64 makes float64 parameters; a float64 batch into a float32 layer is float32."""
    assert nn.Linear(2, 2, dtype=np.float64).weight.dtype == np.float64
    out = nn.Linear(2, 2)(np.ones((3, 2)))
    assert out.dtype == np.float32


def test_linear_wrong_feature_count_names_layer_and_both_counts() -> None:
    """Input with 11 features into Linear(7, 3): the message names Linear, 7 and 11."""
    layer = nn.Linear(7, 3)
    with pytest.raises(ValueError) as error:
        layer(np.ones((2, 11), dtype=np.float32))
    message = str(error.value)
    assert "Linear" in message
    assert "7" in message and "11" in message


def test_linear_wrong_feature_count_inside_sequential() -> None:
    """The same error surfaces from a layer deep in a Sequential (4 expected, 6 given)."""
    model = nn.Sequential(nn.Linear(2, 6), nn.Tanh(), nn.Linear(4, 1))
    with pytest.raises(ValueError, match=r"Linear") as error:
        model(np.ones((3, 2), dtype=np.float32))
    assert "4" in str(error.value) and "6" in str(error.value)


def test_linear_rejects_a_scalar_input() -> None:
    """A 0-d input has no feature axis."""
    with pytest.raises(ValueError, match="Linear"):
        nn.Linear(1, 1)(cr.tensor(1.0))


@pytest.mark.parametrize(("n_in", "n_out"), [(0, 3), (3, 0), (-1, 2)])
def test_linear_rejects_non_positive_sizes(n_in: int, n_out: int) -> None:
    """Zero or negative sizes raise ValueError."""
    with pytest.raises(ValueError):
        nn.Linear(n_in, n_out)


# ------------------------------------------------------------------------------ activations
_ACTIVATIONS: list[tuple[str, Callable[[], nn.Module], Any, Any]] = [
    ("sigmoid", nn.Sigmoid, _sigmoid, lambda x: _sigmoid(x) * (1 - _sigmoid(x))),
    ("tanh", nn.Tanh, np.tanh, lambda x: 1 - np.tanh(x) ** 2),
    ("relu", nn.ReLU, lambda x: np.maximum(x, 0), lambda x: (x > 0).astype(float)),
    (
        "leaky_relu_default",
        nn.LeakyReLU,
        lambda x: np.where(x > 0, x, 0.01 * x),
        lambda x: np.where(x > 0, 1.0, 0.01),
    ),
    (
        "leaky_relu_0.2",
        lambda: nn.LeakyReLU(0.2),
        lambda x: np.where(x > 0, x, 0.2 * x),
        lambda x: np.where(x > 0, 1.0, 0.2),
    ),
    ("identity", nn.Identity, lambda x: x, np.ones_like),
    ("sign", nn.Sign, np.sign, np.zeros_like),
]


@pytest.mark.parametrize(
    ("make", "forward", "derivative"),
    [case[1:] for case in _ACTIVATIONS],
    ids=[case[0] for case in _ACTIVATIONS],
)
def test_activation_value_and_derivative(make: Any, forward: Any, derivative: Any) -> None:
    """Elementwise activations: value f(x) and gradient g·f'(x), including at the kink x = 0."""
    rng = np.random.default_rng(5)
    values = np.concatenate([rng.uniform(-4, 4, 20), [0.0, -0.0, 1e-3, -1e-3]])
    x = _leaf(values)
    g = rng.standard_normal(values.shape)
    out = make()(x)
    np.testing.assert_allclose(out.data, forward(values), rtol=1e-14, atol=0)
    out.backward(g)
    assert x.grad is not None
    np.testing.assert_allclose(x.grad.data, g * derivative(values), rtol=1e-14, atol=1e-300)


@pytest.mark.parametrize(
    "make", [case[1] for case in _ACTIVATIONS], ids=[case[0] for case in _ACTIVATIONS]
)
def test_activation_gradcheck_away_from_kinks(make: Any) -> None:
    """Finite differences agree away from x = 0 (where ReLU, LeakyReLU and Sign have kinks)."""
    rng = np.random.default_rng(6)
    x = rng.uniform(0.1, 3, (3, 4)) * rng.choice([-1.0, 1.0], (3, 4))
    module = make()
    report = cr.gradcheck(lambda t: module(t), x, **TIGHT)
    assert report.passed, str(report)


def test_sign_passes_no_gradient() -> None:
    """Sign's gradient is zero everywhere, so a weight before it receives exactly zero."""
    layer = nn.Linear(3, 2, dtype=np.float64)
    model = nn.Sequential(layer, nn.Sign())
    model(np.random.default_rng(7).standard_normal((4, 3))).sum().backward()
    assert layer.weight.grad is None or not layer.weight.grad.data.any()
    assert layer.bias.grad is None or not layer.bias.grad.data.any()


def test_identity_returns_its_input() -> None:
    """Identity hands back the very input."""
    x = cr.ones(3)
    assert nn.Identity()(x) is x


@pytest.mark.parametrize("dim", [-1, 0, 1])
def test_softmax_value(dim: int) -> None:
    """softmax = exp(x) / Σ exp(x) along dim; it sums to 1 there."""
    x = np.random.default_rng(8).standard_normal((3, 4))
    out = nn.Softmax(dim=dim)(x).data
    expected = np.exp(x) / np.exp(x).sum(axis=dim, keepdims=True)
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    np.testing.assert_allclose(out.sum(axis=dim), 1.0, rtol=1e-6)


def test_softmax_vjp_closed_form() -> None:
    """The VJP of s = softmax(x) is s ⊙ (g - Σ g s), row by row."""
    rng = np.random.default_rng(9)
    values = rng.standard_normal((3, 5))
    g = rng.standard_normal((3, 5))
    x = _leaf(values)
    nn.Softmax()(x).backward(g)
    s = np.exp(values) / np.exp(values).sum(axis=1, keepdims=True)
    expected = s * (g - (g * s).sum(axis=1, keepdims=True))
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("dim", [-1, 0])
def test_softmax_gradcheck(dim: int) -> None:
    """Softmax along either axis passes gradcheck."""
    x = np.random.default_rng(10).standard_normal((3, 4))
    module = nn.Softmax(dim=dim)
    report = cr.gradcheck(lambda t: module(t), x, **TIGHT)
    assert report.passed, str(report)


def test_softmax_is_stable_for_huge_logits() -> None:
    """Logits like 1e4 give [1, 0, 0] with no overflow or NaN."""
    out = nn.Softmax()(np.array([1e4, 0.0, -1e4])).data
    np.testing.assert_allclose(out, [1.0, 0.0, 0.0], atol=1e-300)


def test_activations_against_torch() -> None:
    """Values and gradients equal torch.nn's modules in float64."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(11)
    values = rng.uniform(-3, 3, (4, 5))
    g = rng.standard_normal((4, 5))
    pairs = [
        (nn.Sigmoid(), torch.nn.Sigmoid()),
        (nn.Tanh(), torch.nn.Tanh()),
        (nn.ReLU(), torch.nn.ReLU()),
        (nn.LeakyReLU(), torch.nn.LeakyReLU()),
        (nn.LeakyReLU(0.3), torch.nn.LeakyReLU(0.3)),
        (nn.Softmax(dim=0), torch.nn.Softmax(dim=0)),
        (nn.Softmax(), torch.nn.Softmax(dim=-1)),
        (nn.Identity(), torch.nn.Identity()),
    ]
    for ours, theirs in pairs:
        x = _leaf(values)
        out = ours(x)
        out.backward(g)
        tx = torch.tensor(values, requires_grad=True)
        tout = theirs(tx)
        tout.backward(torch.tensor(g))
        np.testing.assert_allclose(out.data, tout.detach().numpy(), rtol=1e-13, err_msg=repr(ours))
        np.testing.assert_allclose(x.grad.data, tx.grad.numpy(), rtol=1e-12, atol=1e-15)


# --------------------------------------------------------------------------------- Dropout
def test_dropout_is_identity_in_eval_mode() -> None:
    """After eval() the output equals the input, values and all."""
    layer = nn.Dropout(0.5).eval()
    x = np.random.default_rng(12).standard_normal((10, 10))
    np.testing.assert_array_equal(layer(x).data, x)


def test_dropout_zeroes_a_fraction_p_and_scales_the_rest() -> None:
    """In training about p of the elements are 0 and the rest are x / (1 - p) exactly."""
    p = 0.3
    n = 100_000
    x = np.random.default_rng(13).uniform(1, 2, n)
    out = nn.Dropout(p, rng=np.random.default_rng(14))(x).data
    dropped = out == 0
    # Binomial standard deviation sqrt(p(1-p)/n) ≈ 0.00145; allow about 7 of them.
    assert dropped.mean() == pytest.approx(p, abs=0.01)
    np.testing.assert_allclose(out[~dropped], x[~dropped] / (1 - p), rtol=1e-12)


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_dropout_preserves_the_expected_value(p: float) -> None:
    """E[dropout(1)] = 1: the mean over 200,000 ones is 1 within 6 standard errors."""
    n = 200_000
    out = nn.Dropout(p, rng=np.random.default_rng(15))(np.ones(n)).data
    standard_error = np.sqrt(p / (1 - p) / n)
    assert abs(out.mean() - 1.0) < 6 * standard_error


def test_dropout_gradient_is_the_mask_over_one_minus_p() -> None:
    """dL/dx = g · mask / (1 - p): zero where dropped, g / (1 - p) where kept."""
    p = 0.4
    x = _leaf(np.random.default_rng(16).uniform(1, 2, (20, 30)))
    g = np.random.default_rng(17).standard_normal((20, 30))
    out = nn.Dropout(p, rng=np.random.default_rng(18))(x)
    out.backward(g)
    kept = out.data != 0
    np.testing.assert_allclose(x.grad.data, np.where(kept, g / (1 - p), 0.0), rtol=1e-12)


def test_dropout_p_zero_and_one() -> None:
    """p = 0 keeps everything; p = 1 drops everything (no division by zero)."""
    x = np.random.default_rng(19).standard_normal(100)
    np.testing.assert_array_equal(nn.Dropout(0.0)(x).data, x)
    out = nn.Dropout(1.0)(x).data
    assert np.all(out == 0) and np.all(np.isfinite(out))


@pytest.mark.parametrize("p", [-0.1, 1.5])
def test_dropout_rejects_p_outside_unit_interval(p: float) -> None:
    """p must be a probability."""
    with pytest.raises(ValueError, match="p"):
        nn.Dropout(p)


def test_dropout_reproducible_with_manual_seed() -> None:
    """The same cr.manual_seed gives the same mask; another seed gives another."""
    x = np.ones((50, 50))
    cr.manual_seed(20)
    first = nn.Dropout(0.5)(x).data
    cr.manual_seed(20)
    second = nn.Dropout(0.5)(x).data
    cr.manual_seed(21)
    third = nn.Dropout(0.5)(x).data
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, third)


def test_dropout_reproducible_with_rng() -> None:
    """Two layers with equally seeded rng give the same sequence of masks."""
    x = np.ones((30, 30))
    a = nn.Dropout(0.5, rng=np.random.default_rng(22))
    b = nn.Dropout(0.5, rng=np.random.default_rng(22))
    for _ in range(3):
        np.testing.assert_array_equal(a(x).data, b(x).data)


def test_dropout_with_rng_leaves_the_library_generator_alone() -> None:
    """Drawing from a passed rng does not advance the generator cr.manual_seed seeds."""
    cr.manual_seed(23)
    reference = cr.rand(5).data.copy()
    cr.manual_seed(23)
    nn.Dropout(0.5, rng=np.random.default_rng(0))(np.ones(1000))
    np.testing.assert_array_equal(cr.rand(5).data, reference)


def test_dropout_masks_differ_between_calls() -> None:
    """Each forward draws a fresh mask."""
    layer = nn.Dropout(0.5, rng=np.random.default_rng(24))
    x = np.ones(1000)
    assert not np.array_equal(layer(x).data, layer(x).data)


def test_dropout_keeps_float32() -> None:
    """A float32 input stays float32."""
    assert nn.Dropout(0.5)(cr.ones(10, 10)).dtype == np.float32


# ------------------------------------------------------------------------- a whole network
def _mlp_float64(seed: int) -> nn.Sequential:
    rng = np.random.default_rng(seed)
    return nn.Sequential(
        nn.Linear(3, 5, dtype=np.float64, rng=rng),
        nn.Tanh(),
        nn.Linear(5, 4, dtype=np.float64, rng=rng),
    )


def test_mlp_gradients_by_hand() -> None:
    """Backprop of L = mean((tanh(x W1ᵀ + b1) W2ᵀ + b2 - y)²) written out in NumPy."""
    model = _mlp_float64(25)
    rng = np.random.default_rng(26)
    x = rng.standard_normal((6, 3))
    y = rng.standard_normal((6, 4))
    loss = nn.MSELoss()(model(x), y)
    loss.backward()

    w1, b1 = model[0].weight.data, model[0].bias.data
    w2, b2 = model[2].weight.data, model[2].bias.data
    h = np.tanh(x @ w1.T + b1)
    out = h @ w2.T + b2
    np.testing.assert_allclose(float(loss), np.mean((out - y) ** 2), rtol=1e-13)
    d_out = 2 * (out - y) / out.size
    d_w2 = d_out.T @ h
    d_b2 = d_out.sum(axis=0)
    d_pre = (d_out @ w2) * (1 - h**2)
    d_w1 = d_pre.T @ x
    d_b1 = d_pre.sum(axis=0)
    for got, expected in zip(
        [model[0].weight, model[0].bias, model[2].weight, model[2].bias],
        [d_w1, d_b1, d_w2, d_b2],
    ):
        np.testing.assert_allclose(got.grad.data, expected, rtol=1e-12, atol=1e-15)


def test_mlp_loss_and_gradients_match_torch() -> None:
    """The same weights in torch give the same cross-entropy loss and parameter gradients."""
    torch = pytest.importorskip("torch")
    model = _mlp_float64(27)
    rng = np.random.default_rng(28)
    x = rng.standard_normal((8, 3))
    y = rng.integers(0, 4, 8)
    loss = nn.CrossEntropyLoss()(model(x), y)
    loss.backward()

    reference = torch.nn.Sequential(
        torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 4)
    ).double()
    with torch.no_grad():
        for (_, ours), (_, theirs) in zip(model.named_parameters(), reference.named_parameters()):
            theirs.copy_(torch.from_numpy(ours.data))
    torch_loss = torch.nn.functional.cross_entropy(reference(torch.tensor(x)), torch.tensor(y))
    torch_loss.backward()
    assert float(loss) == pytest.approx(torch_loss.item(), rel=1e-13)
    for (name, ours), (_, theirs) in zip(model.named_parameters(), reference.named_parameters()):
        np.testing.assert_allclose(
            ours.grad.data, theirs.grad.numpy(), rtol=1e-11, atol=1e-15, err_msg=name
        )


def test_mlp_builds_in_the_dtype_asked_for() -> None:
    model = nn.mlp(3, [4, 5], 2, dtype=np.float64)
    assert {p.data.dtype for p in model.parameters()} == {np.dtype(np.float64)}
    assert {p.data.dtype for p in nn.mlp(3, [4], 2).parameters()} == {np.dtype(np.float32)}


@pytest.mark.parametrize(
    ("make", "error", "words"),
    [
        (lambda: nn.LeakyReLU("x"), TypeError, "LeakyReLU: negative_slope must be a real number"),
        (lambda: nn.LeakyReLU(float("nan")), ValueError, "negative_slope must be finite"),
        (lambda: nn.LeakyReLU(True), TypeError, "negative_slope"),
        (lambda: nn.Dropout("0.5"), TypeError, "Dropout: p must be a real number"),
        (lambda: nn.Dropout(1.5), ValueError, "Dropout: p must be in"),
        (lambda: nn.Softmax("last"), TypeError, "Softmax: dim must be an integer"),
        (lambda: nn.Softmax(1.0), TypeError, "Softmax: dim must be an integer"),
    ],
)
def test_layer_settings_of_the_wrong_kind_are_refused_naming_layer_and_setting(
    make: Any, error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        make()
