"""``chainrule.export.to_onnx`` on networks without a table: the graph onnxruntime runs must give
chainrule's own forward.

For a grid of ``nn.Sequential`` models (every layer export supports, nested Sequentials,
float32 and float64), the file is checked by ``onnx.checker`` (full check, opset 17) and run by
``onnxruntime.InferenceSession`` at batch sizes 1, 7 and 300 (one file: the batch is dynamic).
Its ``output`` is ``model(x)`` in evaluation mode (Dropout is the identity); with
``classification=True`` its ``label`` is the argmax of the outputs and ``probabilities`` their
softmax. A model holding a layer ONNX cannot express is refused with an ``ExportError`` naming
its class, and no file (not even a temporary one) is left in the folder."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.export import ExportError, to_onnx

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

WIDTH = 4
BATCHES = (1, 7, 300)
ONNX_TYPES = {np.dtype(np.float32): "tensor(float)", np.dtype(np.float64): "tensor(double)"}


def _linear(n_in: int, n_out: int, dtype: Any, seed: int, bias: bool = True) -> nn.Linear:
    return nn.Linear(n_in, n_out, bias, dtype=dtype, rng=np.random.default_rng(seed))


# Each builds a model taking WIDTH inputs, in the given dtype.
ARCHITECTURES: dict[str, Callable[[Any], nn.Module]] = {
    "linear": lambda dt: nn.Sequential(_linear(WIDTH, 3, dt, 1)),
    "linear-no-bias": lambda dt: nn.Sequential(_linear(WIDTH, 3, dt, 2, bias=False)),
    "linear-alone": lambda dt: _linear(WIDTH, 2, dt, 3),
    # Linear then ReLU runs fused in chainrule (F.linear_relu): two operators in ONNX.
    "relu": lambda dt: nn.Sequential(_linear(WIDTH, 8, dt, 4), nn.ReLU(), _linear(8, 3, dt, 5)),
    "relu-no-bias": lambda dt: nn.Sequential(
        _linear(WIDTH, 8, dt, 6, bias=False), nn.ReLU(), _linear(8, 3, dt, 7)
    ),
    "tanh": lambda dt: nn.Sequential(_linear(WIDTH, 8, dt, 8), nn.Tanh(), _linear(8, 3, dt, 9)),
    "sigmoid": lambda dt: nn.Sequential(
        _linear(WIDTH, 8, dt, 10), nn.Sigmoid(), _linear(8, 3, dt, 11)
    ),
    "leaky-relu-default": lambda dt: nn.Sequential(
        _linear(WIDTH, 8, dt, 12), nn.LeakyReLU(), _linear(8, 3, dt, 13)
    ),
    "leaky-relu-0.3": lambda dt: nn.Sequential(
        _linear(WIDTH, 8, dt, 14), nn.LeakyReLU(0.3), _linear(8, 3, dt, 15)
    ),
    "leaky-relu-negative-slope": lambda dt: nn.Sequential(
        _linear(WIDTH, 8, dt, 16), nn.LeakyReLU(-1.5), _linear(8, 3, dt, 17)
    ),
    # Sign outputs ties ({-1, 0, 1}): the label must be the first of the tied classes.
    "sign": lambda dt: nn.Sequential(_linear(WIDTH, 6, dt, 18), nn.Sign()),
    "sign-hidden": lambda dt: nn.Sequential(
        _linear(WIDTH, 6, dt, 19), nn.Sign(), _linear(6, 3, dt, 20)
    ),
    "identity": lambda dt: nn.Sequential(
        nn.Identity(), _linear(WIDTH, 5, dt, 21), nn.Identity(), _linear(5, 3, dt, 22)
    ),
    "softmax-dim-1": lambda dt: nn.Sequential(_linear(WIDTH, 3, dt, 23), nn.Softmax(dim=1)),
    "softmax-last-dim": lambda dt: nn.Sequential(_linear(WIDTH, 3, dt, 24), nn.Softmax()),
    "softmax-hidden": lambda dt: nn.Sequential(
        _linear(WIDTH, 6, dt, 25), nn.Softmax(dim=1), _linear(6, 3, dt, 26)
    ),
    "dropout": lambda dt: nn.Sequential(
        _linear(WIDTH, 8, dt, 27),
        nn.ReLU(),
        nn.Dropout(0.5, rng=np.random.default_rng(0)),
        _linear(8, 3, dt, 28),
        nn.Dropout(0.9),
    ),
    "nested": lambda dt: nn.Sequential(
        nn.Sequential(_linear(WIDTH, 8, dt, 29), nn.Tanh()),
        nn.Sequential(_linear(8, 6, dt, 30), nn.Sequential(nn.LeakyReLU(0.1), nn.Dropout(0.2))),
        nn.Sequential(nn.Sequential(_linear(6, 3, dt, 31, bias=False))),
    ),
    "deep-mixed": lambda dt: nn.Sequential(
        _linear(WIDTH, 16, dt, 32),
        nn.ReLU(),
        _linear(16, 16, dt, 33),
        nn.Sigmoid(),
        _linear(16, 8, dt, 34),
        nn.Tanh(),
        _linear(8, 5, dt, 35),
    ),
}
DTYPES = {"float32": np.float32, "float64": np.float64}


def _inputs(dtype: Any, rows: int = max(BATCHES)) -> np.ndarray:
    """Rows spread wide enough to reach the saturated and negative parts of the activations."""
    rng = np.random.default_rng(1234)
    return (rng.normal(size=(rows, WIDTH)) * 3).astype(dtype)


def _forward(model: nn.Module, X: np.ndarray) -> np.ndarray:
    """chainrule's own prediction: the forward pass in evaluation mode."""
    model.eval()
    with cr.no_grad():
        return np.asarray(model(cr.tensor(X)).data)


def _softmax(z: np.ndarray) -> np.ndarray:
    shifted = np.exp(z - z.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _check_file(path: Path) -> Any:
    """The file as onnx reads it, after the full check (shape inference included)."""
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    return proto


@pytest.fixture(params=list(DTYPES), ids=list(DTYPES))
def dtype(request: pytest.FixtureRequest) -> Any:
    return DTYPES[request.param]


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_the_output_is_chainrules_forward_at_any_batch_size(
    tmp_path: Path, name: str, dtype: Any
) -> None:
    model = ARCHITECTURES[name](dtype)
    model.train()  # exported as it is left after training: Dropout still becomes the identity
    path = tmp_path / "model.onnx"
    returned = to_onnx(model, path)

    proto = _check_file(path)
    assert proto == returned
    assert {entry.domain: entry.version for entry in proto.opset_import}[""] == 17
    session = ort.InferenceSession(str(path))
    [given] = session.get_inputs()
    assert (given.name, given.type, given.shape) == ("input", ONNX_TYPES[np.dtype(dtype)], ["N", 4])
    assert [output.name for output in session.get_outputs()] == ["output"]

    X = _inputs(dtype)
    expected = _forward(model, X)
    for rows in BATCHES:
        [got] = session.run(None, {"input": X[:rows]})
        assert got.dtype == np.dtype(dtype)
        assert got.shape == expected[:rows].shape
        np.testing.assert_allclose(got, expected[:rows], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_classification_gives_the_argmax_label_and_the_softmax(
    tmp_path: Path, name: str, dtype: Any
) -> None:
    model = ARCHITECTURES[name](dtype)
    path = tmp_path / "model.onnx"
    to_onnx(model, path, classification=True)

    _check_file(path)
    session = ort.InferenceSession(str(path))
    outputs = session.get_outputs()
    assert [output.name for output in outputs] == ["label", "probabilities"]
    assert outputs[0].type == "tensor(int64)"
    assert outputs[1].type == ONNX_TYPES[np.dtype(dtype)]

    X = _inputs(dtype)
    logits = _forward(model, X)
    for rows in BATCHES:
        label, probabilities = session.run(None, {"input": X[:rows]})
        assert label.dtype == np.int64 and label.shape == (rows,)
        np.testing.assert_array_equal(label, logits[:rows].argmax(axis=1))
        assert probabilities.shape == logits[:rows].shape
        np.testing.assert_allclose(probabilities, _softmax(logits[:rows]), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)


def test_a_sign_models_ties_go_to_the_first_class(tmp_path: Path) -> None:
    """Sign makes exact ties; ONNX's ArgMax and NumPy's argmax must both take the first."""
    model = ARCHITECTURES["sign"](np.float32)
    path = tmp_path / "model.onnx"
    to_onnx(model, path, classification=True)
    X = _inputs(np.float32)
    logits = _forward(model, X)
    tied = (logits == logits.max(axis=1, keepdims=True)).sum(axis=1) > 1
    assert tied.sum() > 10  # the case is exercised
    label, _ = ort.InferenceSession(str(path)).run(None, {"input": X})
    np.testing.assert_array_equal(label, logits.argmax(axis=1))


def test_extreme_inputs_give_the_same_saturated_outputs(tmp_path: Path) -> None:
    """Inputs far outside the usual range: tanh and sigmoid saturate identically, and the
    softmax of huge logits stays finite (0 and 1)."""
    model = ARCHITECTURES["deep-mixed"](np.float32)
    path = tmp_path / "model.onnx"
    to_onnx(model, path, classification=True)
    X = (_inputs(np.float32, 50) * 1e4).astype(np.float32)
    logits = _forward(model, X)
    label, probabilities = ort.InferenceSession(str(path)).run(None, {"input": X})
    np.testing.assert_array_equal(label, logits.argmax(axis=1))
    assert np.isfinite(probabilities).all()
    np.testing.assert_allclose(probabilities, _softmax(logits), rtol=1e-5, atol=1e-6)


def test_the_file_is_what_to_onnx_returns(tmp_path: Path) -> None:
    model = ARCHITECTURES["relu"](np.float32)
    path = tmp_path / "model.onnx"
    proto = to_onnx(model, path)
    assert path.read_bytes() == proto.SerializeToString()
    assert proto.producer_name == "chainrule"
    assert {entry.key: entry.value for entry in proto.metadata_props} == {"producer": "chainrule"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.onnx"]


# ------------------------------------------------------------------------ refusals
class Shifted(nn.Module):
    """A layer of one's own: its forward is Python code no ONNX operator stands for."""

    def forward(self, x: Any) -> Any:
        return x + 1.0


class Scaled(nn.Module):
    """A custom Module with a parameter of its own."""

    def __init__(self) -> None:
        super().__init__()
        self.factor = nn.Parameter(np.ones(3, dtype=np.float32))

    def forward(self, x: Any) -> Any:
        return x * self.factor


class ReLUMinusOne(nn.ReLU):
    def forward(self, x: Any) -> Any:
        return super().forward(x) - 1.0


class DoubledLinear(nn.Linear):
    def forward(self, x: Any) -> Any:
        return super().forward(x) * 2.0


class TripledLeakyReLU(nn.LeakyReLU):
    def forward(self, x: Any) -> Any:
        return super().forward(x) * 3.0


class HalvedSoftmax(nn.Softmax):
    def forward(self, x: Any) -> Any:
        return super().forward(x) * 0.5


class NegatedDropout(nn.Dropout):
    def forward(self, x: Any) -> Any:
        return super().forward(x) * -1.0


class Residual(nn.Sequential):
    def forward(self, x: Any) -> Any:
        return x + super().forward(x)


def _refused(tmp_path: Path, model: nn.Module, name: str, **options: Any) -> str:
    """The ExportError's message; the folder is left as empty as it was."""
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ExportError, match=name) as caught:
        to_onnx(model, tmp_path / "model.onnx", **options)
    assert list(tmp_path.iterdir()) == []  # no file, not even a temporary one
    return str(caught.value)


@pytest.mark.parametrize("classification", [False, True])
@pytest.mark.parametrize(
    "build",
    [
        lambda: nn.Sequential(_linear(WIDTH, 3, np.float32, 0), Shifted()),
        lambda: nn.Sequential(Shifted(), _linear(WIDTH, 3, np.float32, 0)),
        lambda: nn.Sequential(_linear(WIDTH, 3, np.float32, 0), nn.Sequential(nn.Tanh(), Scaled())),
        lambda: Shifted(),
        lambda: nn.Sequential(_linear(WIDTH, 3, np.float32, 0), ReLUMinusOne()),
        lambda: nn.Sequential(_linear(WIDTH, 3, np.float32, 0), nn.Step()),
    ],
    ids=["custom-last", "custom-first", "custom-nested", "custom-alone", "relu-subclass", "step"],
)
def test_a_layer_onnx_cannot_express_is_refused_by_name(
    tmp_path: Path, build: Callable[[], nn.Module], classification: bool
) -> None:
    model = build()
    culprit = next(
        type(m).__name__
        for m in model.modules()
        if type(m) in (Shifted, Scaled, ReLUMinusOne, nn.Step)
    )
    message = _refused(tmp_path, model, culprit, classification=classification)
    assert "ONNX" in message


@pytest.mark.parametrize(
    "build",
    [
        lambda: nn.Sequential(DoubledLinear(WIDTH, 3)),
        lambda: nn.Sequential(_linear(WIDTH, 3, np.float32, 0), TripledLeakyReLU(0.1)),
        lambda: nn.Sequential(_linear(WIDTH, 3, np.float32, 0), HalvedSoftmax(dim=1)),
        lambda: nn.Sequential(_linear(WIDTH, 3, np.float32, 0), NegatedDropout(0.5)),
        lambda: Residual(_linear(WIDTH, WIDTH, np.float32, 0), nn.Tanh()),
        lambda: nn.Sequential(Residual(_linear(WIDTH, WIDTH, np.float32, 0)), nn.Tanh()),
    ],
    ids=["linear", "leaky-relu", "softmax", "dropout", "sequential", "nested-sequential"],
)
def test_a_subclass_with_its_own_forward_is_refused(
    tmp_path: Path, build: Callable[[], nn.Module]
) -> None:
    model = build()
    culprit = next(
        type(m).__name__
        for m in model.modules()
        if type(m) in (DoubledLinear, TripledLeakyReLU, HalvedSoftmax, NegatedDropout, Residual)
    )
    _refused(tmp_path, model, culprit)


def test_linear_layers_of_two_dtypes_are_refused(tmp_path: Path) -> None:
    model = nn.Sequential(_linear(WIDTH, 3, np.float32, 0), _linear(3, 2, np.float64, 1))
    message = _refused(tmp_path, model, "float32")
    assert "float64" in message


def test_a_model_without_linear_layer_is_refused(tmp_path: Path) -> None:
    _refused(tmp_path, nn.Sequential(nn.ReLU(), nn.Tanh()), "no Linear layer")


def test_without_onnx_the_message_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match=r"pip install 'chainrule\[onnx\]'"):
        to_onnx(ARCHITECTURES["relu"](np.float32), tmp_path / "model.onnx")
    assert list(tmp_path.iterdir()) == []
