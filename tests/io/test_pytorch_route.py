"""The PyTorch route: a model saved by ``cr.save`` (or trained by ``chainrule train``) loads
into a ``torch.nn.Sequential`` built here by hand, with ``load_state_dict(safetensors.torch.
load_file(path))`` (strict), and gives chainrule's outputs to float32 rounding, for a grid of
networks: every activation, with and without bias, with dropout (in evaluation mode), several
sizes, float32 and float64, nested Sequentials, ``nn.mlp``. The code ``chainrule info`` prints
builds the same PyTorch model."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")

import chainrule as cr  # noqa: E402
from chainrule import nn  # noqa: E402
from chainrule.cli import main  # noqa: E402
from chainrule.data import load_digits  # noqa: E402
from chainrule.export import pytorch_source  # noqa: E402
from chainrule.io import describe, load_metadata  # noqa: E402

RTOL, ATOL = 1e-5, 1e-6  # float32 rounding: the two libraries sum in different orders
TORCH_DTYPES = {np.float32: torch.float32, np.float64: torch.float64}


class TorchSign(torch.nn.Module):  # type: ignore[misc]
    """torch.sign as a module (torch.nn has none): chainrule's Sign."""

    def forward(self, x: Any) -> Any:
        return torch.sign(x)


# A layer, written once and built twice by hand below: ("linear", in, out, bias),
# ("relu",), ("tanh",), ("sigmoid",), ("leaky", slope), ("identity",), ("softmax", dim),
# ("dropout", p), ("sign",), ("seq", (layers...)).
Layer = tuple[Any, ...]


def chainrule_net(layers: list[Layer] | tuple[Layer, ...], dtype: Any, rng: Any) -> nn.Module:
    modules: list[nn.Module] = []
    for layer in layers:
        kind, *args = layer
        if kind == "linear":
            modules.append(nn.Linear(args[0], args[1], bias=args[2], dtype=dtype, rng=rng))
        elif kind == "relu":
            modules.append(nn.ReLU())
        elif kind == "tanh":
            modules.append(nn.Tanh())
        elif kind == "sigmoid":
            modules.append(nn.Sigmoid())
        elif kind == "leaky":
            modules.append(nn.LeakyReLU(negative_slope=args[0]))
        elif kind == "identity":
            modules.append(nn.Identity())
        elif kind == "softmax":
            modules.append(nn.Softmax(dim=args[0]))
        elif kind == "dropout":
            modules.append(nn.Dropout(p=args[0]))
        elif kind == "sign":
            modules.append(nn.Sign())
        elif kind == "seq":
            modules.append(chainrule_net(args[0], dtype, rng))
        else:
            raise AssertionError(kind)
    return nn.Sequential(*modules)


def torch_net(layers: list[Layer] | tuple[Layer, ...], dtype: Any) -> Any:
    modules: list[Any] = []
    for layer in layers:
        kind, *args = layer
        if kind == "linear":
            modules.append(
                torch.nn.Linear(args[0], args[1], bias=args[2], dtype=TORCH_DTYPES[dtype])
            )
        elif kind == "relu":
            modules.append(torch.nn.ReLU())
        elif kind == "tanh":
            modules.append(torch.nn.Tanh())
        elif kind == "sigmoid":
            modules.append(torch.nn.Sigmoid())
        elif kind == "leaky":
            modules.append(torch.nn.LeakyReLU(negative_slope=args[0]))
        elif kind == "identity":
            modules.append(torch.nn.Identity())
        elif kind == "softmax":
            modules.append(torch.nn.Softmax(dim=args[0]))
        elif kind == "dropout":
            modules.append(torch.nn.Dropout(p=args[0]))
        elif kind == "sign":
            modules.append(TorchSign())
        elif kind == "seq":
            modules.append(torch_net(args[0], dtype))
        else:
            raise AssertionError(kind)
    return torch.nn.Sequential(*modules)


def chainrule_outputs(model: nn.Module, X: np.ndarray) -> np.ndarray:
    with cr.no_grad():
        return np.asarray(model.eval()(cr.tensor(X)).data)


def torch_outputs(net: Any, X: np.ndarray) -> np.ndarray:
    net.eval()
    with torch.no_grad():
        return np.asarray(net(torch.from_numpy(X)).numpy())


def load_into_torch(net: Any, path: Path, dtype: Any) -> Any:
    """``net`` with the file's tensors, loaded strictly (every name, every shape)."""
    state = safetensors_torch.load_file(str(path))
    assert {tensor.dtype for tensor in state.values()} <= {TORCH_DTYPES[dtype]}
    net.load_state_dict(state, strict=True)
    return net


def inputs(n_in: int, dtype: Any, seed: int = 0, rows: int = 33) -> np.ndarray:
    return (3 * np.random.default_rng(seed).standard_normal((rows, n_in))).astype(dtype)


def assert_route(
    tmp_path: Path, layers: list[Layer], n_in: int, dtype: Any = np.float32, seed: int = 0
) -> None:
    """Save the chainrule network, load the file into the PyTorch one, compare outputs."""
    model = chainrule_net(layers, dtype, np.random.default_rng(seed))
    path = tmp_path / "model.safetensors"
    cr.save(model, path)
    net = load_into_torch(torch_net(layers, dtype), path, dtype)
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(net.state_dict()[name].numpy(), value, err_msg=name)
    X = inputs(n_in, dtype, seed)
    expected = chainrule_outputs(model, X)
    actual = torch_outputs(net, X)
    assert actual.dtype == expected.dtype == dtype
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(actual, chainrule_outputs(cr.load(path), X), rtol=RTOL, atol=ATOL)


# ------------------------------------------------------------------------ the grid
ACTIVATIONS: dict[str, Layer] = {
    "relu": ("relu",),
    "tanh": ("tanh",),
    "sigmoid": ("sigmoid",),
    "leaky": ("leaky", 0.2),
    "identity": ("identity",),
    "softmax": ("softmax", -1),
}
SIZES = [(4, 8, 3), (1, 1, 1), (7, 32, 12, 6, 2)]


def network(activation: Layer, bias: bool, dropout: float, sizes: tuple[int, ...]) -> list[Layer]:
    """Linear layers of the given widths, the activation (and Dropout) after each hidden one."""
    layers: list[Layer] = []
    for n_in, n_out in zip(sizes[:-2], sizes[1:-1]):
        layers += [("linear", n_in, n_out, bias), activation]
        if dropout:
            layers.append(("dropout", dropout))
    return layers + [("linear", sizes[-2], sizes[-1], bias)]


@pytest.mark.parametrize(
    ("activation", "bias", "dropout", "sizes"),
    [
        pytest.param(
            *case, id=f"{case[0]}-bias{case[1]:d}-drop{case[2]}-{'x'.join(map(str, case[3]))}"
        )
        for case in itertools.product(ACTIVATIONS, [True, False], [0.0, 0.4], SIZES)
    ],
)
def test_grid_of_networks_gives_the_same_outputs_in_pytorch(
    tmp_path: Path, activation: str, bias: bool, dropout: float, sizes: tuple[int, ...]
) -> None:
    layers = network(ACTIVATIONS[activation], bias, dropout, sizes)
    assert_route(tmp_path, layers, sizes[0], seed=len(layers))


@pytest.mark.parametrize(
    ("layers", "n_in"),
    [
        pytest.param(
            [("linear", 5, 6, True), ("relu",), ("linear", 6, 3, True), ("softmax", 1)],
            5,
            id="softmax-output-dim1",
        ),
        pytest.param(
            [("linear", 5, 6, True), ("softmax", 0), ("linear", 6, 3, False)],
            5,
            id="softmax-over-the-batch",
        ),
        pytest.param(
            [("linear", 4, 6, True), ("sign",), ("linear", 6, 2, True)], 4, id="sign-hidden"
        ),
        pytest.param(
            [
                ("linear", 3, 5, True),
                ("seq", (("linear", 5, 5, False), ("leaky", 0.05), ("dropout", 0.5))),
                ("tanh",),
                ("seq", (("seq", (("linear", 5, 4, True),)), ("sigmoid",))),
                ("linear", 4, 2, True),
            ],
            3,
            id="nested-sequentials",
        ),
        pytest.param(
            [
                ("linear", 6, 8, True),
                ("relu",),
                ("linear", 8, 8, False),
                ("leaky", 0.3),
                ("dropout", 0.2),
                ("linear", 8, 8, True),
                ("tanh",),
                ("identity",),
                ("linear", 8, 8, True),
                ("sigmoid",),
                ("linear", 8, 4, False),
                ("softmax", -1),
            ],
            6,
            id="every-layer",
        ),
        pytest.param(
            [("linear", 64, 256, True), ("relu",), ("linear", 256, 10, True)], 64, id="wide"
        ),
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_other_networks_give_the_same_outputs_in_pytorch(
    tmp_path: Path, layers: list[Layer], n_in: int, dtype: Any
) -> None:
    assert_route(tmp_path, layers, n_in, dtype)


def test_a_float64_model_stays_float64_in_pytorch(tmp_path: Path) -> None:
    layers: list[Layer] = [("linear", 3, 4, True), ("tanh",), ("linear", 4, 2, True)]
    model = chainrule_net(layers, np.float64, np.random.default_rng(1))
    path = tmp_path / "double.safetensors"
    cr.save(model, path)
    state = safetensors_torch.load_file(str(path))
    assert {tensor.dtype for tensor in state.values()} == {torch.float64}
    net = load_into_torch(torch_net(layers, np.float64), path, np.float64)
    X = inputs(3, np.float64)
    np.testing.assert_allclose(
        torch_outputs(net, X), chainrule_outputs(model, X), rtol=1e-12, atol=1e-14
    )


def test_a_model_of_other_shapes_is_refused_by_strict_loading(tmp_path: Path) -> None:
    """The check is not vacuous: PyTorch refuses a file of another network."""
    layers: list[Layer] = [("linear", 4, 8, True), ("relu",), ("linear", 8, 3, True)]
    path = tmp_path / "model.safetensors"
    cr.save(chainrule_net(layers, np.float32, np.random.default_rng(0)), path)
    state = safetensors_torch.load_file(str(path))
    wider = torch_net([("linear", 4, 9, True), ("relu",), ("linear", 9, 3, True)], np.float32)
    with pytest.raises(RuntimeError, match="size mismatch"):
        wider.load_state_dict(state, strict=True)
    no_bias = torch_net([("linear", 4, 8, False), ("relu",), ("linear", 8, 3, True)], np.float32)
    with pytest.raises(RuntimeError, match="Unexpected key"):
        no_bias.load_state_dict(state, strict=True)


# ------------------------------------------------------------------------ nn.mlp
MLP_ACTIVATIONS: dict[str, Any] = {
    "relu": torch.nn.ReLU,
    "tanh": torch.nn.Tanh,
    "sigmoid": torch.nn.Sigmoid,
    "leaky_relu": torch.nn.LeakyReLU,  # both libraries' default slope is 0.01
    "identity": torch.nn.Identity,
    "sign": TorchSign,
}


@pytest.mark.parametrize("activation", list(MLP_ACTIVATIONS))
@pytest.mark.parametrize(
    ("n_in", "hidden", "n_out", "dropout"),
    [(5, [7], 3, 0.0), (12, [20, 10], 4, 0.3), (2, [3, 3, 3], 1, 0.1)],
)
def test_mlp_gives_the_same_outputs_in_pytorch(
    tmp_path: Path, activation: str, n_in: int, hidden: list[int], n_out: int, dropout: float
) -> None:
    cr.manual_seed(len(hidden))
    model = nn.mlp(n_in, hidden, n_out, activation, dropout=dropout)
    modules: list[Any] = []
    width = n_in
    for size in hidden:
        modules += [torch.nn.Linear(width, size), MLP_ACTIVATIONS[activation]()]
        if dropout:
            modules.append(torch.nn.Dropout(dropout))
        width = size
    net = torch.nn.Sequential(*modules, torch.nn.Linear(width, n_out))
    path = tmp_path / "mlp.safetensors"
    cr.save(model, path)
    load_into_torch(net, path, np.float32)
    X = inputs(n_in, np.float32, seed=n_in)
    np.testing.assert_allclose(
        torch_outputs(net, X), chainrule_outputs(model, X), rtol=RTOL, atol=ATOL
    )


# ------------------------------------------------------------------------ chainrule train
def test_a_model_trained_by_the_cli_gives_the_same_outputs_in_pytorch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", "--epochs", "2", "--out", str(tmp_path), "--quiet"]) == 0
    capsys.readouterr()
    path = tmp_path / "model.safetensors"
    layers = load_metadata(path)["architecture"]["layers"]
    assert [layer["type"] for layer in layers] == ["Linear", "ReLU", "Linear"]
    assert (layers[0]["in_features"], layers[0]["out_features"]) == (64, 128)
    assert (layers[2]["in_features"], layers[2]["out_features"]) == (128, 10)
    net = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    load_into_torch(net, path, np.float32)
    images, _ = load_digits()
    X = images.reshape(len(images), 64).astype(np.float32) / 16
    X = np.concatenate([X, inputs(64, np.float32)])
    model = cr.load(path)
    expected = chainrule_outputs(model, X)
    actual = torch_outputs(net, X)
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL)
    assert (actual.argmax(axis=1) == expected.argmax(axis=1)).mean() > 0.999

    # The run's checkpoint holds the same network under "model/": PyTorch reads it too.
    checkpoint = safetensors_torch.load_file(str(tmp_path / "checkpoint.safetensors"))
    state = {
        name[len("model/") :]: t for name, t in checkpoint.items() if name.startswith("model/")
    }
    again = torch.nn.Sequential(torch.nn.Linear(64, 128), torch.nn.ReLU(), torch.nn.Linear(128, 10))
    again.load_state_dict(state, strict=True)


# ------------------------------------------------------------------------ the printed code
@pytest.mark.parametrize(
    ("layers", "n_in", "dtype"),
    [
        pytest.param(
            [("linear", 5, 6, True), ("leaky", 0.25), ("dropout", 0.3), ("linear", 6, 3, False)],
            5,
            np.float32,
            id="leaky-dropout-nobias",
        ),
        pytest.param(
            [("linear", 4, 4, True), ("seq", (("linear", 4, 3, True), ("tanh",))), ("softmax", 1)],
            4,
            np.float64,
            id="nested-float64-softmax",
        ),
        pytest.param(
            [("linear", 3, 3, True), ("sigmoid",), ("identity",), ("linear", 3, 1, True)],
            3,
            np.float32,
            id="sigmoid-identity",
        ),
    ],
)
def test_the_printed_pytorch_code_builds_the_same_model(
    tmp_path: Path, layers: list[Layer], n_in: int, dtype: Any
) -> None:
    """The code ``chainrule info`` prints, run as it is, against the network built here."""
    model = chainrule_net(layers, dtype, np.random.default_rng(2))
    path = tmp_path / "model.safetensors"
    cr.save(model, path)
    namespace: dict[str, Any] = {}
    exec(pytorch_source(describe(model), str(path)), namespace)
    printed = namespace["model"]
    by_hand = load_into_torch(torch_net(layers, dtype), path, dtype)
    assert str(printed) == str(by_hand)
    X = inputs(n_in, dtype)
    np.testing.assert_array_equal(torch_outputs(printed, X), torch_outputs(by_hand, X))
    np.testing.assert_allclose(
        torch_outputs(printed, X), chainrule_outputs(model, X), rtol=RTOL, atol=ATOL
    )


def test_no_pytorch_code_is_printed_for_sign(tmp_path: Path) -> None:
    model = chainrule_net([("linear", 2, 2, True), ("sign",)], np.float32, None)
    with pytest.raises(ValueError, match="torch.nn has no module for chainrule's Sign layer"):
        pytorch_source(describe(model), str(tmp_path / "model.safetensors"))
