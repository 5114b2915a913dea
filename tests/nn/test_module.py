"""nn.Module, nn.Parameter and nn.Sequential: registration, order, sharing, modes, state, repr.

Expected values come from the definitions (attribute order, shapes, parameter counts worked out
by hand) or from PyTorch when it is installed.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn


def _f64(shape: tuple[int, ...], seed: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape)


class _EncoderDecoder(nn.Module):
    """Two layers assigned as attributes, decoder after encoder."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Linear(3, 5)
        self.decoder = nn.Linear(5, 2)

    def forward(self, x: Any) -> cr.Tensor:
        return self.decoder(self.encoder(x).tanh())


class _Reversed(nn.Module):
    """Attributes defined in non-alphabetical order: zeta before alpha."""

    def __init__(self) -> None:
        super().__init__()
        self.zeta = nn.Linear(2, 3)
        self.alpha = nn.Linear(3, 1, bias=False)


class _Blocks(nn.Module):
    """Sub-modules held in a list and a tuple."""

    def __init__(self) -> None:
        super().__init__()
        self.blocks = [nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 2)]
        self.heads = (nn.Linear(2, 1), nn.Linear(2, 3))


class _Nested(nn.Module):
    """Three levels deep: outer.inner.layer."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = _EncoderDecoder()
        self.out = nn.Linear(2, 1)

    def forward(self, x: Any) -> cr.Tensor:
        return self.out(self.inner(x))


# ------------------------------------------------------------------ registration and order
def test_attributes_register_in_definition_order() -> None:
    """named_parameters follows the order of assignment, with dotted names and torch shapes."""
    model = _EncoderDecoder()
    names = [name for name, _ in model.named_parameters()]
    assert names == ["encoder.weight", "encoder.bias", "decoder.weight", "decoder.bias"]
    shapes = [p.shape for _, p in model.named_parameters()]
    assert shapes == [(5, 3), (5,), (2, 5), (2,)]


def test_definition_order_is_not_alphabetical() -> None:
    """zeta is assigned first, so its parameters come first; a bias-free layer has no bias."""
    names = [name for name, _ in _Reversed().named_parameters()]
    assert names == ["zeta.weight", "zeta.bias", "alpha.weight"]


def test_parameters_are_the_named_parameters_in_the_same_order() -> None:
    """parameters() yields the very objects of named_parameters(), in order."""
    model = _Nested()
    named = [p for _, p in model.named_parameters()]
    plain = list(model.parameters())
    assert len(plain) == len(named) == 6
    assert all(a is b for a, b in zip(plain, named))
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in plain)


def test_nested_modules_get_dotted_names() -> None:
    """Parameters of a sub-sub-module are named inner.encoder.weight and so on."""
    names = [name for name, _ in _Nested().named_parameters()]
    assert names == [
        "inner.encoder.weight",
        "inner.encoder.bias",
        "inner.decoder.weight",
        "inner.decoder.bias",
        "out.weight",
        "out.bias",
    ]


def test_lists_and_tuples_of_modules_are_walked() -> None:
    """Modules inside a list or tuple attribute are found and indexed by position."""
    names = [name for name, _ in _Blocks().named_parameters()]
    assert names == [
        "blocks.0.weight",
        "blocks.0.bias",
        "blocks.2.weight",
        "blocks.2.bias",
        "heads.0.weight",
        "heads.0.bias",
        "heads.1.weight",
        "heads.1.bias",
    ]


def test_a_parameter_assigned_directly_is_registered() -> None:
    """A Parameter attribute is a parameter; a plain Tensor or array attribute is not."""

    class Scaled(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = nn.Parameter(np.ones(3))
            self.constant = cr.tensor(np.ones(3))
            self.table = np.ones(3)

    names = [name for name, _ in Scaled().named_parameters()]
    assert names == ["scale"]


def test_shared_layer_is_listed_once() -> None:
    """A layer used under two names contributes its parameters once."""

    class Tied(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.first = nn.Linear(4, 4)
            self.second = self.first

    model = Tied()
    params = list(model.parameters())
    assert len(params) == 2
    assert params[0] is model.first.weight and params[1] is model.first.bias
    assert model.num_parameters() == 4 * 4 + 4


def test_shared_parameter_is_listed_once() -> None:
    """One Parameter object held by two layers is listed once, under its first name."""
    a = nn.Linear(3, 3)
    b = nn.Linear(3, 3)
    b.weight = a.weight
    model = nn.Sequential(a, nn.Tanh(), b)
    names = [name for name, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "2.bias"]
    assert model.num_parameters() == 9 + 3 + 3


def test_shared_layer_gradients_add_up() -> None:
    """y = W (W x) summed: dL/dW = (Wᵀ 1) xᵀ + 1 (W x)ᵀ, from both uses of the same layer."""
    layer = nn.Linear(2, 2, bias=False, dtype=np.float64)
    layer.weight.data[...] = [[1.0, 2.0], [-3.0, 0.5]]

    class Twice(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a = layer
            self.b = layer

        def forward(self, x: Any) -> cr.Tensor:
            return self.b(self.a(x))

    x = np.array([0.7, -1.3])
    Twice()(x).sum().backward()
    w = layer.weight.data
    ones = np.ones(2)
    expected = np.outer(w.T @ ones, x) + np.outer(ones, w @ x)
    np.testing.assert_allclose(layer.weight.grad.data, expected, rtol=1e-14)


def test_num_parameters_counts_scalars() -> None:
    """3·5 + 5 + 5·2 + 2 = 32 for the encoder-decoder."""
    assert _EncoderDecoder().num_parameters() == 32


# ------------------------------------------------------------------------------ Sequential
def test_sequential_composes_in_order() -> None:
    """Sequential(l1, Tanh, l2)(x) = tanh(x W1ᵀ + b1) W2ᵀ + b2."""
    model = nn.Sequential(
        nn.Linear(3, 4, dtype=np.float64), nn.Tanh(), nn.Linear(4, 2, dtype=np.float64)
    )
    x = _f64((5, 3), 0)
    w1, b1 = model[0].weight.data, model[0].bias.data
    w2, b2 = model[2].weight.data, model[2].bias.data
    expected = np.tanh(x @ w1.T + b1) @ w2.T + b2
    np.testing.assert_allclose(model(x).data, expected, rtol=1e-13)


def test_sequential_names_parameters_by_position() -> None:
    """As PyTorch: 0.weight, 0.bias, 2.weight, 2.bias (the activation has none)."""
    model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1))
    names = [name for name, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_sequential_container_protocol() -> None:
    """len, indexing, iteration and append behave like a list of layers."""
    first, act, last = nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1)
    model = nn.Sequential(first, act)
    assert len(model) == 2
    assert model[0] is first and model[1] is act
    assert model.append(last) is model
    assert list(model) == [first, act, last]
    assert model[-1] is last


def test_sequential_rejects_a_non_module() -> None:
    """A function is not a layer: TypeError naming its position."""
    with pytest.raises(TypeError, match="1"):
        nn.Sequential(nn.Linear(2, 2), np.tanh)


def test_nested_sequential_names() -> None:
    """A Sequential inside a Sequential: 1.0.weight."""
    model = nn.Sequential(nn.Linear(2, 3), nn.Sequential(nn.Linear(3, 3), nn.Tanh()))
    names = [name for name, _ in model.named_parameters()]
    assert names == ["0.weight", "0.bias", "1.0.weight", "1.0.bias"]


# --------------------------------------------------------------------------- call, modes
def test_call_runs_forward() -> None:
    """module(x) is module.forward(x)."""

    class Double(nn.Module):
        def forward(self, x: Any) -> Any:
            return x * 2

    assert float(Double()(cr.tensor(1.5))) == 3.0


def test_module_without_forward_raises() -> None:
    """Calling a Module whose forward is not defined raises NotImplementedError."""
    with pytest.raises(NotImplementedError):
        nn.Module()(1.0)


def test_train_and_eval_reach_every_submodule() -> None:
    """eval() clears training everywhere (also inside lists); train() sets it back; both chain."""
    model = _Blocks()
    every = [model, *model.blocks, *model.heads]
    assert all(m.training for m in every)
    assert model.eval() is model
    assert not any(m.training for m in every)
    assert model.train() is model
    assert all(m.training for m in every)
    model.train(False)
    assert not any(m.training for m in every)


def test_eval_switches_dropout_off() -> None:
    """In a model, Dropout drops in training and is the identity after eval()."""
    cr.manual_seed(0)
    model = nn.Sequential(nn.Identity(), nn.Dropout(0.5))
    x = np.ones((50, 40))
    assert (model(x).data == 0).any()
    model.eval()
    np.testing.assert_array_equal(model(x).data, x)


def test_zero_grad_sets_every_grad_to_none() -> None:
    """After backward every parameter has a grad; zero_grad sets them to None."""
    model = _Nested()
    model(np.ones((2, 3))).sum().backward()
    assert all(p.grad is not None for p in model.parameters())
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


# ---------------------------------------------------------------------------- Parameter
def test_parameter_is_a_tensor_that_requires_grad() -> None:
    """A Parameter is a leaf Tensor that requires grad; a float64 array keeps its dtype."""
    p = nn.Parameter(np.array([1.0, 2.0]))
    assert isinstance(p, cr.Tensor)
    assert p.requires_grad and p.is_leaf
    assert p.dtype == np.float64
    assert nn.Parameter([1.0, 2.0]).dtype == np.float32


# ------------------------------------------------------------------------------- state
def test_state_dict_keys_values_and_copies() -> None:
    """Keys are the dotted names in order; values equal the parameters but are copies."""
    model = _EncoderDecoder()
    state = model.state_dict()
    assert list(state) == [name for name, _ in model.named_parameters()]
    for name, p in model.named_parameters():
        assert isinstance(state[name], np.ndarray)
        np.testing.assert_array_equal(state[name], p.data)
        assert not np.shares_memory(state[name], p.data)
    before = model.encoder.weight.data.copy()
    state["encoder.weight"][...] = 123.0
    np.testing.assert_array_equal(model.encoder.weight.data, before)


def test_load_state_dict_round_trip() -> None:
    """A second model loaded with the first's state has equal parameters and outputs."""
    source = nn.Sequential(
        nn.Linear(3, 4, rng=np.random.default_rng(1)),
        nn.Tanh(),
        nn.Linear(4, 2, rng=np.random.default_rng(2)),
    )
    target = nn.Sequential(
        nn.Linear(3, 4, rng=np.random.default_rng(3)),
        nn.Tanh(),
        nn.Linear(4, 2, rng=np.random.default_rng(4)),
    )
    x = np.random.default_rng(5).standard_normal((6, 3)).astype(np.float32)
    assert not np.array_equal(source(x).data, target(x).data)
    arrays = [p.data for p in target.parameters()]
    target.load_state_dict(source.state_dict())
    for (name, p), (other, q) in zip(source.named_parameters(), target.named_parameters()):
        assert name == other
        np.testing.assert_array_equal(p.data, q.data)
    np.testing.assert_array_equal(source(x).data, target(x).data)
    assert all(p.data is a for p, a in zip(target.parameters(), arrays)), "loaded in place"


def test_load_state_dict_keeps_the_parameter_dtype() -> None:
    """float64 values loaded into a float32 model leave it float32."""
    model = nn.Linear(2, 2)
    state = {"weight": np.full((2, 2), 0.25), "bias": np.full(2, -0.5)}
    model.load_state_dict(state)
    assert model.weight.dtype == np.float32
    np.testing.assert_array_equal(model.weight.data, np.full((2, 2), 0.25, dtype=np.float32))


def _load_error(model: nn.Module, state: dict[str, Any]) -> str:
    with pytest.raises(ValueError) as error:
        model.load_state_dict(state)
    return str(error.value)


def test_load_state_dict_lists_missing_keys() -> None:
    """Every missing key is named."""
    model = _EncoderDecoder()
    state = model.state_dict()
    del state["encoder.bias"], state["decoder.weight"]
    message = _load_error(model, state)
    assert "missing" in message
    assert "encoder.bias" in message and "decoder.weight" in message


def test_load_state_dict_lists_unexpected_keys() -> None:
    """Every unexpected key is named."""
    model = _EncoderDecoder()
    state = model.state_dict()
    state["encoder.gamma"] = np.ones(5)
    state["extra"] = np.ones(1)
    message = _load_error(model, state)
    assert "unexpected" in message
    assert "encoder.gamma" in message and "extra" in message


def test_load_state_dict_lists_mis_shaped_keys_with_both_shapes() -> None:
    """A mis-shaped entry is named with the expected and the received shape."""
    model = _EncoderDecoder()
    state = model.state_dict()
    state["decoder.weight"] = np.ones((5, 2))
    message = _load_error(model, state)
    assert "decoder.weight" in message
    assert "(2, 5)" in message and "(5, 2)" in message


def test_load_state_dict_reports_all_problems_and_changes_nothing() -> None:
    """Missing, unexpected and mis-shaped together: all named, and no parameter is touched."""
    model = _EncoderDecoder()
    before = model.state_dict()
    state = {k: np.zeros_like(v) for k, v in before.items()}
    del state["decoder.bias"]
    state["bogus"] = np.zeros(3)
    state["encoder.weight"] = np.zeros((3, 5))
    message = _load_error(model, state)
    for fragment in ("decoder.bias", "bogus", "encoder.weight"):
        assert fragment in message
    for name, p in model.named_parameters():
        np.testing.assert_array_equal(p.data, before[name])


def test_load_state_dict_non_strict_ignores_missing_and_unexpected() -> None:
    """strict=False loads the keys that match and ignores the others."""
    model = _EncoderDecoder()
    untouched = model.decoder.weight.data.copy()
    model.load_state_dict({"encoder.bias": np.arange(5.0), "other": np.ones(2)}, strict=False)
    np.testing.assert_array_equal(model.encoder.bias.data, np.arange(5.0))
    np.testing.assert_array_equal(model.decoder.weight.data, untouched)


# -------------------------------------------------------------------------------- repr
def test_repr_shows_layer_shapes_and_parameter_count() -> None:
    """Each layer with its sizes on its own line, and the total 2·4 + 4 + 4·1 + 1 = 17."""
    text = repr(nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 1)))
    lines = text.splitlines()
    assert lines[0].startswith("Sequential(")
    assert "(0): Linear(in_features=2, out_features=4, bias=True)" in text
    assert "(1): Tanh()" in text
    assert "(2): Linear(in_features=4, out_features=1, bias=True)" in text
    assert re.search(r"\b17 parameters\b", text)


def test_repr_of_a_custom_model_nests_and_counts() -> None:
    """A custom model names its attributes, indents nested modules and counts all parameters."""
    text = repr(_Nested())
    assert "(inner): _EncoderDecoder(" in text
    assert "(encoder): Linear(in_features=3, out_features=5, bias=True)" in text
    assert "    (encoder)" in text, "nested modules are indented further"
    assert re.search(r"\b35 parameters\b", text)  # 32 inside + 2 + 1


def test_repr_shows_settings_of_layers() -> None:
    """Layers with settings show them."""
    assert "p=0.25" in repr(nn.Dropout(0.25))
    assert "0.2" in repr(nn.LeakyReLU(0.2))
    assert "bias=False" in repr(nn.Linear(3, 2, bias=False))
    assert repr(nn.Identity()) == "Identity()"


def test_repr_count_uses_thousands_separator_or_plain_digits() -> None:
    """The count of a large model is correct: 784·256 + 256 + 256·10 + 10 = 203,530."""
    model = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    assert model.num_parameters() == 203_530
    assert re.search(r"203,?530 parameters", repr(model))


# ------------------------------------------------------------------------ against torch
def test_parameter_names_match_torch() -> None:
    """The same architecture defined in torch gives the same parameter names and shapes."""
    torch = pytest.importorskip("torch")

    class Ours(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = nn.Parameter(np.ones(2))
            self.body = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
            self.head = nn.Linear(2, 1, bias=False)

    class Theirs(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(2))
            self.body = torch.nn.Sequential(
                torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 2)
            )
            self.head = torch.nn.Linear(2, 1, bias=False)

    ours = [(name, p.shape) for name, p in Ours().named_parameters()]
    theirs = [(name, tuple(p.shape)) for name, p in Theirs().named_parameters()]
    assert ours == theirs
    assert list(Ours().state_dict()) == list(Theirs().state_dict())
