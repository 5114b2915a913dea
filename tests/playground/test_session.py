"""One tab's session (chainrule.playground.session), checked against values from mathematics,
NumPy and PyTorch rather than against itself: the data sets, the features, training, the neuron
panel's backward pass (against torch.autograd), the heat maps (against a NumPy forward pass),
export (read back by ``cr.load`` and ``chainrule predict``), the classic models, divergence,
own points and edited weights."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule.classic import Perceptron
from chainrule.cli import main
from chainrule.playground import PlaygroundError, Session, Settings
from chainrule.playground.points import Points, feature_matrix
from chainrule.playground.session import GRID
from chainrule.playground.settings import CLASSIFICATION_SETS, REGRESSION_SETS

torch = pytest.importorskip("torch")
F = torch.nn.functional


def session_with(**changes: Any) -> Session:
    return Session(Settings().updated(changes))


# ---------------------------------------------------------------- independent forward passes
NUMPY_ACTIVATIONS = {
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
    "identity": lambda z: z,
    "step": lambda z: (z > 0).astype(np.float64),
    "sign": np.sign,
}


def weights_of(session: Session) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each Linear's (W, b) as float64 copies, read from the module's arrays."""
    model = session.model
    return [
        (
            np.array(linear.weight.data, dtype=np.float64),
            np.array(linear.bias.data, dtype=np.float64),
        )
        for linear in model.linears  # type: ignore[union-attr]
    ]


def numpy_forward(session: Session, inputs: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Hidden activations and output scores, in float64 NumPy from the session's weights."""
    layers = weights_of(session)
    a = np.asarray(inputs, dtype=np.float64)
    hidden = []
    for number, (w, b) in enumerate(layers):
        z = a @ w.T + b
        if number < len(layers) - 1:
            a = NUMPY_ACTIVATIONS[session.settings.activations[number]](z)
            hidden.append(a)
        else:
            a = z
    return hidden, a


def numpy_predictions(scores: np.ndarray) -> np.ndarray:
    return (scores[:, 0] > 0).astype(int) if scores.shape[1] == 1 else scores.argmax(axis=1)


def accuracy_on_test_points(session: Session) -> float:
    chosen = session.points.part == 1
    inputs = feature_matrix(session.points.xy[chosen], session.settings.features)
    _, scores = numpy_forward(session, inputs)
    return float((numpy_predictions(scores) == session.points.labels[chosen]).mean())


# ---------------------------------------------------------------- data sets and features
@pytest.mark.parametrize("dataset", [*CLASSIFICATION_SETS, *REGRESSION_SETS])
def test_generated_data_sets(dataset: str) -> None:
    changes = {"dataset": dataset, "points": 137, "trainRatio": 70, "noise": 10, "seed": 3}
    if dataset in ("blobs", "spiral"):
        changes["classes"] = 4
    session = session_with(**changes)
    points = session.points
    assert len(points) == 137
    assert points.xy.shape == (137, 2)
    assert np.isfinite(points.xy).all()
    # All within (a little beyond, for noise) the square the page draws.
    assert np.abs(points.xy).max() < 12
    if dataset in REGRESSION_SETS:
        assert points.problem == "regression"
        assert points.labels.dtype.kind == "f"
        assert np.isfinite(points.labels).all()
        assert points.labels.std() > 0
        assert points.classes == []
    else:
        expected = 4 if dataset in ("blobs", "spiral") else 2
        assert points.problem == "classification"
        assert points.labels.dtype.kind == "i"
        assert sorted(set(points.labels.tolist())) == list(range(expected))
        assert len(points.classes) == expected
    n_train = int((points.part == 0).sum())
    assert set(points.part.tolist()) == {0, 1}
    assert abs(n_train - 0.7 * 137) <= 1
    records = session.state()["points"]
    assert len(records) == 137
    assert [r[3] for r in records] == points.part.tolist()

    again = session_with(**changes).points
    np.testing.assert_array_equal(again.xy, points.xy)
    np.testing.assert_array_equal(again.labels, points.labels)
    np.testing.assert_array_equal(again.part, points.part)
    other = session_with(**{**changes, "seed": 4}).points
    assert not np.array_equal(other.xy, points.xy)


def test_noiseless_data_sets_lie_in_the_square_the_page_draws() -> None:
    for dataset in [*CLASSIFICATION_SETS, *REGRESSION_SETS]:
        points = session_with(dataset=dataset, points=2000, classes=6).points
        low, high = points.domain[0], points.domain[1]
        assert np.all((points.xy >= low) & (points.xy <= high)), dataset


@pytest.mark.parametrize("ratio", [10, 33, 50, 90])
def test_the_train_share_follows_train_ratio(ratio: int) -> None:
    session = session_with(points=201, trainRatio=ratio)
    assert abs(int((session.points.part == 0).sum()) - 201 * ratio / 100) <= 1
    # Changing only the ratio keeps the points and splits them again.
    xy = session.points.xy.copy()
    session.apply({"trainRatio": 100 - ratio})
    np.testing.assert_array_equal(session.points.xy, xy)
    assert abs(int((session.points.part == 0).sum()) - 201 * (100 - ratio) / 100) <= 1


def test_feature_matrix_against_hand_computed_columns() -> None:
    xy = np.array([[1.0, 2.0], [-3.0, 0.5], [0.0, math.pi / 2]])
    every = ("x1", "x2", "x1sq", "x2sq", "x1x2", "sinx1", "sinx2")
    expected = np.array(
        [
            [1.0, 2.0, 1.0, 4.0, 2.0, math.sin(1.0), math.sin(2.0)],
            [-3.0, 0.5, 9.0, 0.25, -1.5, math.sin(-3.0), math.sin(0.5)],
            [0.0, math.pi / 2, 0.0, math.pi**2 / 4, 0.0, 0.0, 1.0],
        ]
    )
    np.testing.assert_allclose(feature_matrix(xy, every), expected, rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(
        feature_matrix(xy, ("x1sq", "x1x2", "sinx2")), expected[:, [2, 4, 6]], atol=1e-15
    )
    assert feature_matrix(xy, ("x2",)).shape == (3, 1)
    assert feature_matrix(xy, every).dtype == np.float64


# ---------------------------------------------------------------- training
@pytest.mark.parametrize(
    "changes",
    [
        {"hidden": [4, 4], "lr": 0.03, "optimizer": "adam"},
        {"hidden": [4, 4], "lr": 0.03},
        {"hidden": [8], "activations": ["relu"], "lr": 0.01, "optimizer": "rmsprop"},
    ],
    ids=["adam", "sgd", "rmsprop-relu"],
)
def test_xor_is_learned(changes: dict[str, Any]) -> None:
    session = session_with(dataset="xor", points=300, **changes)
    assert session.test_loss > 0.3  # untrained
    for _ in range(150):
        session.train(1)
        if session.test_loss < 0.05:
            break
    assert session.test_loss < 0.05, (session.epoch, session.test_loss)
    header, _ = session.frame()
    # A test loss below 0.05 leaves room for one point on the wrong side of 150.
    assert header["testAccuracy"] == accuracy_on_test_points(session) >= 0.99
    assert header["epoch"] == session.epoch
    assert len(session.history) == session.epoch + 1
    assert [row[0] for row in session.history] == list(range(session.epoch + 1))


def test_reset_gives_the_seed_s_weights_again() -> None:
    session = session_with(dataset="xor", points=100)
    first = weights_of(session)
    session.train(5)
    assert session.epoch == 5
    assert not np.array_equal(weights_of(session)[0][0], first[0][0])
    session.reset()
    assert session.epoch == 0
    for (w, b), (w0, b0) in zip(weights_of(session), first):
        np.testing.assert_array_equal(w, w0)
        np.testing.assert_array_equal(b, b0)
    other = session_with(dataset="xor", points=100, seed=2)
    assert not np.array_equal(weights_of(other)[0][0], first[0][0])


# ---------------------------------------------------------------- the neuron panel vs PyTorch
def torch_activation(name: str, z: Any) -> Any:
    if name == "tanh":
        return torch.tanh(z)
    if name == "relu":
        return torch.relu(z)
    if name == "sigmoid":
        return torch.sigmoid(z)
    if name == "leaky_relu":
        return F.leaky_relu(z, 0.01)
    if name == "identity":
        return z.clone()
    if name == "step":
        return (z > 0).to(z.dtype)  # no gradient passes
    if name == "sign":
        return torch.sign(z)  # its gradient is zero
    raise AssertionError(name)


def slope(name: str, z: np.ndarray) -> np.ndarray:
    """g'(z) from the calculus of each activation."""
    if name == "tanh":
        return 1 - np.tanh(z) ** 2
    if name == "relu":
        return (z > 0).astype(np.float64)
    if name == "sigmoid":
        s = 1 / (1 + np.exp(-z))
        return s * (1 - s)
    if name == "leaky_relu":
        return np.where(z > 0, 1.0, 0.01)
    if name == "identity":
        return np.ones_like(z)
    return np.zeros_like(z)  # step, sign


def torch_loss(session: Session, out: Any, label: Any) -> Any:
    """The loss the settings name, on one point, written from its definition."""
    settings, problem = session.settings, session.points.problem
    n_outputs = out.shape[1]
    if problem == "regression":
        return F.mse_loss(out, torch.tensor([[float(label)]], dtype=out.dtype))
    label = int(label)
    sign = torch.tensor([[2.0 * label - 1.0]], dtype=out.dtype)
    margin = 1.0  # docs/playground.md: the hinge has margin 1 with two classes as with more
    if settings.loss == "cross-entropy":
        return F.cross_entropy(out, torch.tensor([label]))
    if settings.loss == "bce":
        return F.binary_cross_entropy_with_logits(
            out, torch.tensor([[float(label)]], dtype=out.dtype)
        )
    if settings.loss == "squared":
        if n_outputs == 1:
            return F.mse_loss(out, sign)
        return F.mse_loss(out, F.one_hot(torch.tensor([label]), n_outputs).to(out.dtype))
    if settings.loss == "hinge":
        if n_outputs == 1:
            return torch.clamp(margin - sign * out, min=0).mean()
        return F.multi_margin_loss(out, torch.tensor([label]), margin=margin)
    raise AssertionError(settings.loss)


class TorchPass:
    """One point's forward and backward pass in PyTorch from the session's weights, in float64
    on the float32 numbers the session computes with: the exact values its float32 ones
    approximate."""

    def __init__(self, session: Session, index: int) -> None:
        inputs = feature_matrix(session.points.xy[index : index + 1], session.settings.features)
        inputs = inputs.astype(np.float32).astype(np.float64)
        self.inputs = inputs[0]
        a = torch.tensor(inputs, dtype=torch.float64)
        layers = weights_of(session)
        self.weights, self.biases, self.zs, self.activations = [], [], [], []
        for number, (w, b) in enumerate(layers):
            weight = torch.tensor(w, dtype=torch.float64, requires_grad=True)
            bias = torch.tensor(b, dtype=torch.float64, requires_grad=True)
            z = a @ weight.T + bias
            z.retain_grad()
            self.weights.append(weight)
            self.biases.append(bias)
            self.zs.append(z)
            if number < len(layers) - 1:
                a = torch_activation(session.settings.activations[number], z)
                if a.requires_grad:
                    a.retain_grad()
                self.activations.append(a)
            else:
                a = z
        self.loss = torch_loss(session, a, session.points.labels[index])
        self.loss.backward()

    @staticmethod
    def _grad(tensor: Any) -> np.ndarray:
        if tensor.grad is None:  # nothing reached it (below a step or sign)
            return np.zeros(tuple(tensor.shape))
        return tensor.grad.detach().double().numpy()

    def z(self, layer: int) -> np.ndarray:
        return self.zs[layer - 1].detach().double().numpy()[0]

    def a(self, layer: int) -> np.ndarray:
        return self.activations[layer - 1].detach().double().numpy()[0]

    def delta(self, layer: int) -> np.ndarray:
        return self._grad(self.zs[layer - 1])[0]

    def dEda(self, layer: int) -> np.ndarray:
        return self._grad(self.activations[layer - 1])[0]

    def weight_grad(self, layer: int) -> np.ndarray:
        return self._grad(self.weights[layer - 1])

    def bias_grad(self, layer: int) -> np.ndarray:
        return self._grad(self.biases[layer - 1])


def close(actual: Any, expected: Any, what: str, scale: float = 1.0) -> None:
    """Equal within float32 rounding: relative, and absolute against ``scale``, the size of
    the numbers the value was computed from (a saturated tanh's 1 - tanh² loses its digits
    to cancellation, so a tiny δ has a tiny absolute error, not a tiny relative one)."""
    np.testing.assert_allclose(
        np.asarray(actual, float), expected, rtol=2e-4, atol=1e-6 * scale, err_msg=what
    )


def check_panel_against_torch(session: Session, index: int) -> int:
    """Compare every neuron's panel for point ``index``; the number of nonzero δ seen."""
    reference = TorchPass(session, index)
    layers = weights_of(session)
    depth = len(layers)
    activations = session.settings.activations
    # The sizes the backward pass multiplies: its δs, the weights, the activations.
    largest_w = max(1.0, *(float(np.abs(w).max()) for w, _ in layers))
    largest_delta = max(float(np.abs(reference.delta(k)).max()) for k in range(1, depth + 1))
    dscale = max(largest_delta, 1e-12) * largest_w
    nonzero = 0
    for layer in range(1, depth + 1):
        width = len(reference.z(layer))
        previous = reference.inputs if layer == 1 else reference.a(layer - 1)
        gscale = dscale * max(1.0, float(np.abs(previous).max()))
        for neuron in range(1, width + 1):
            j = neuron - 1
            panel = session.neuron_panel(index, layer, neuron)
            where = f"point {index}, layer {layer}, neuron {neuron}"
            assert (panel["point"], panel["layer"], panel["neuron"]) == (index, layer, neuron)
            z = reference.z(layer)[j]
            w, b = layers[layer - 1]
            zscale = float(np.abs(w[j]) @ np.abs(previous) + abs(b[j]) + 1)
            close(panel["z"], z, f"z at {where}", zscale)
            close(panel["delta"], reference.delta(layer)[j], f"delta at {where}", dscale)
            close(panel["biasGrad"], reference.bias_grad(layer)[j], f"biasGrad at {where}", dscale)
            nonzero += panel["delta"] != 0
            if layer < depth:
                name = activations[layer - 1]
                assert panel["output"] is False
                close(panel["a"], reference.a(layer)[j], f"a at {where}", zscale)
                close(panel["gprime"], slope(name, np.array(z)), f"g' at {where}", zscale)
                if name not in ("step", "sign"):
                    close(panel["dEda"], reference.dEda(layer)[j], f"dE/da at {where}", dscale)
                # The formula's identity, from the returned terms: δ = g'(z)·Σ_k w_kj δ_k.
                terms = panel["sumTerms"]
                following_w = weights_of(session)[layer][0]
                assert [t["to"] for t in terms] == list(range(1, following_w.shape[0] + 1))
                close([t["w"] for t in terms], following_w[:, j], f"sumTerms w at {where}")
                close(
                    [t["delta"] for t in terms],
                    reference.delta(layer + 1),
                    f"sumTerms delta at {where}",
                    dscale,
                )
                for term in terms:
                    assert term["product"] == pytest.approx(term["w"] * term["delta"], rel=1e-12)
                total = sum(t["product"] for t in terms)
                assert panel["dEda"] == pytest.approx(total, rel=1e-5, abs=1e-7 * dscale)
                assert panel["delta"] == pytest.approx(
                    panel["gprime"] * panel["dEda"], rel=1e-5, abs=1e-7 * dscale
                )
                next_slopes = (
                    slope(activations[layer], reference.z(layer + 1))
                    if layer + 1 < depth
                    else np.ones(following_w.shape[0])
                )
                next_scale = float((np.abs(following_w) @ np.abs(reference.a(layer))).max() + 1)
                close(
                    [t["gprime"] for t in terms], next_slopes, f"sumTerms g' at {where}", next_scale
                )
            else:
                assert panel["output"] is True
                assert panel["sumTerms"] == []
                close(panel["a"], z, f"a at the output {where}", zscale)
                assert panel["gprime"] == 1.0
                assert panel["dEda"] == panel["delta"]
            incoming = panel["incoming"]
            assert [i["from"] for i in incoming] == list(range(1, len(previous) + 1))
            close([i["a"] for i in incoming], previous, f"incoming a at {where}", zscale)
            close([i["weight"] for i in incoming], w[j], f"incoming weights at {where}")
            close(
                [i["grad"] for i in incoming],
                reference.weight_grad(layer)[j],
                f"incoming grads at {where}",
                gscale,
            )
            # ∂E/∂w_ji = δ_j · a_i, the rule itself.
            close(
                [i["grad"] for i in incoming],
                panel["delta"] * np.asarray(previous),
                f"grad = delta * a at {where}",
                gscale,
            )
            json.dumps(panel, allow_nan=False)
            assert isinstance(panel["formula"], str) and "δ" in panel["formula"]
    return int(nonzero)


def points_to_explain(session: Session) -> list[int]:
    """Two points, and the first the network misclassifies (where a hinge loss has a
    gradient)."""
    inputs = feature_matrix(session.points.xy, session.settings.features)
    _, scores = numpy_forward(session, inputs)
    wrong = np.flatnonzero(numpy_predictions(scores) != session.points.labels)
    return [0, 31, *wrong[:1].tolist()]


ACTIVATION_CASES = [
    "tanh",
    "relu",
    "sigmoid",
    "leaky_relu",
    "identity",
]


@pytest.mark.parametrize("activation", ACTIVATION_CASES)
@pytest.mark.parametrize("loss", ["cross-entropy", "bce", "squared", "hinge"])
def test_neuron_panel_equals_torch_autograd(activation: str, loss: str) -> None:
    session = session_with(
        dataset="circle",
        points=60,
        hidden=[3, 4],
        activations=[activation, "tanh" if activation != "tanh" else "sigmoid"],
        features=["x1", "x2", "x1sq"],
        loss=loss,
        init="he",
    )
    session.train(2)  # weights away from their initial values
    nonzero = sum(check_panel_against_torch(session, index) for index in points_to_explain(session))
    assert nonzero > 0


@pytest.mark.parametrize("loss", ["cross-entropy", "squared", "hinge"])
def test_neuron_panel_equals_torch_with_several_classes(loss: str) -> None:
    session = session_with(
        dataset="blobs",
        classes=3,
        points=60,
        hidden=[5, 3, 2],
        activations=["leaky_relu", "sigmoid", "relu"],
        features=["x1", "x2", "sinx1", "x1x2"],
        loss=loss,
    )
    assert session.model.n_outputs == 3  # type: ignore[union-attr]
    session.train(2)
    assert (
        sum(check_panel_against_torch(s, i) for s in [session] for i in points_to_explain(session))
        > 0
    )


def test_neuron_panel_on_a_regression_and_a_network_without_hidden_layers() -> None:
    regression = session_with(dataset="gauss-regression", points=50, hidden=[16, 2])
    regression.train(1)
    assert check_panel_against_torch(regression, 3) > 0
    linear = session_with(dataset="gauss", points=50, hidden=[])
    linear.train(1)
    check_panel_against_torch(linear, 5)
    panel = linear.neuron_panel(5, 1, 2)
    assert panel["output"] is True


@pytest.mark.parametrize(
    ("activations", "silent"),
    [(["tanh", "step"], [1, 2]), (["sign", "tanh"], [1]), (["step", "sign"], [1, 2])],
)
def test_step_and_sign_pass_no_gradient_below_them(
    activations: list[str], silent: list[int]
) -> None:
    session = session_with(dataset="circle", points=60, hidden=[3, 3], activations=activations)
    check_panel_against_torch(session, 4)
    for layer in silent:
        for neuron in (1, 2, 3):
            panel = session.neuron_panel(4, layer, neuron)
            assert panel["delta"] == 0.0
            assert panel["biasGrad"] == 0.0
            assert all(i["grad"] == 0.0 for i in panel["incoming"])
    step_layer = max(i for i, name in enumerate(activations, start=1) if name in ("step", "sign"))
    assert session.neuron_panel(4, step_layer, 1)["gprime"] == 0.0
    header, _ = session.frame()
    norms = header["gradNorms"]
    assert len(norms) == 3
    for layer in silent:
        assert norms[layer - 1] == 0.0
    assert norms[2] > 0  # the output layer still learns
    layers = {entry["layer"]: entry for entry in session.backprop(4)["layers"]}
    for layer in silent:
        assert layers[layer]["delta"] == [0.0, 0.0, 0.0]
        assert layers[layer]["gradNorm"] == 0.0


def test_frame_gradient_norms_equal_torch_over_the_training_points() -> None:
    session = session_with(dataset="moons", points=80, hidden=[4, 3], activations=["relu"])
    session.train(1)
    chosen = session.points.part == 0
    inputs = torch.tensor(
        feature_matrix(session.points.xy[chosen], session.settings.features), dtype=torch.float32
    )
    labels = torch.tensor(session.points.labels[chosen])
    weights = [
        (torch.tensor(w, dtype=torch.float32, requires_grad=True), torch.tensor(b).float())
        for w, b in weights_of(session)
    ]
    a = inputs
    for number, (w, b) in enumerate(weights):
        a = a @ w.T + b
        if number < len(weights) - 1:
            a = torch.relu(a)
    F.cross_entropy(a, labels).backward()
    header, _ = session.frame()
    expected = [float(w.grad.norm()) for w, _ in weights]
    np.testing.assert_allclose(header["gradNorms"], expected, rtol=1e-4)


def test_backprop_runs_from_the_output_down_with_the_panel_s_deltas() -> None:
    session = session_with(dataset="spiral", points=60, hidden=[4, 3], activations=["tanh"])
    session.train(2)
    reply = session.backprop(9)
    assert reply["type"] == "backprop" and reply["point"] == 9
    assert [entry["layer"] for entry in reply["layers"]] == [3, 2, 1]
    reference = TorchPass(session, 9)
    for entry in reply["layers"]:
        layer = entry["layer"]
        panels = [
            session.neuron_panel(9, layer, n)["delta"] for n in range(1, len(entry["delta"]) + 1)
        ]
        assert entry["delta"] == pytest.approx(panels, rel=1e-12, abs=1e-15)
        close(entry["delta"], reference.delta(layer), f"backprop delta of layer {layer}")
        expected_norm = float(np.linalg.norm(reference.weight_grad(layer)))
        assert entry["gradNorm"] == pytest.approx(expected_norm, rel=1e-4, abs=1e-9)


@pytest.mark.parametrize(
    "what",
    [
        lambda s: s.neuron_panel(len(s.points), 1, 1),
        lambda s: s.neuron_panel(-1, 1, 1),
        lambda s: s.neuron_panel(0, 0, 1),
        lambda s: s.neuron_panel(0, 4, 1),
        lambda s: s.neuron_panel(0, 1, 0),
        lambda s: s.neuron_panel(0, 1, 5),
        lambda s: s.neuron_panel(0, 3, 3),
        lambda s: s.backprop(len(s.points)),
        lambda s: s.backprop(-1),
    ],
)
def test_panel_and_backprop_refuse_what_does_not_exist(what: Any) -> None:
    session = session_with(points=40)  # hidden 4, 2 and two outputs
    with pytest.raises(PlaygroundError):
        what(session)


# ---------------------------------------------------------------- gradient check
def test_gradcheck_passes_on_a_healthy_network_and_names_the_worst_parameter() -> None:
    session = session_with(dataset="moons", points=100, hidden=[5, 3], activations=["tanh"])
    session.train(3)
    reply = session.gradcheck()
    assert reply["passed"] is True
    assert reply["points"] == 50
    lines = reply["parameters"]
    assert len(lines) == 6  # a weight and a bias per Linear
    assert all(": pass, largest difference " in line for line in lines)
    differences = {
        line.split(":")[0]: float(line.rsplit(" ", 1)[1]) for line in reply["parameters"]
    }
    worst = reply["worst"]
    assert worst["parameter"] in differences
    assert differences[worst["parameter"]] == max(differences.values())
    assert worst["error"] == pytest.approx(
        abs(worst["analytic"] - worst["numerical"]), rel=1e-6, abs=1e-15
    )
    assert worst["error"] < 1e-6
    assert worst["error"] == pytest.approx(differences[worst["parameter"]], rel=0.01)
    json.dumps(reply, allow_nan=False)


# ---------------------------------------------------------------- export
@pytest.mark.parametrize(
    "changes",
    [
        {"dataset": "moons", "features": ["x1", "x2", "x1sq", "sinx2"], "hidden": [6, 3]},
        {"dataset": "circle", "features": ["x1sq", "x2sq"], "loss": "bce", "hidden": [3]},
        {"dataset": "blobs", "classes": 3, "hidden": [5], "activations": ["relu"]},
    ],
    ids=["cross-entropy", "bce", "three-classes"],
)
def test_export_is_read_by_load_and_predict(
    changes: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    session = session_with(points=120, optimizer="adam", **changes)
    session.train(15)
    info, content = session.export()
    assert info["type"] == "export"
    assert info["filename"].endswith(".safetensors")
    assert "/" not in info["filename"] and "\\" not in info["filename"]
    *notes, command = info["command"].splitlines()
    assert command.startswith("chainrule train ")
    # A data set the CLI lacks is said so, in a shell comment above the command.
    assert notes == ([] if changes["dataset"] in ("moons", "circle") else [notes[0]])
    assert all(note.startswith("# ") and changes["dataset"] in note for note in notes)
    path = tmp_path / info["filename"]
    path.write_bytes(content)

    model = cr.load(path)
    chosen = session.points.part == 1
    inputs = feature_matrix(session.points.xy[chosen], session.settings.features)
    with cr.no_grad():
        scores = np.asarray(model.eval()(cr.tensor(inputs.astype(np.float32))).data)
    _, expected_scores = numpy_forward(session, inputs)
    np.testing.assert_allclose(scores, expected_scores, rtol=1e-4, atol=1e-5)
    labels = session.points.labels[chosen]
    accuracy = float((numpy_predictions(scores) == labels).mean())
    assert accuracy > 0.7
    assert info["accuracy"] == pytest.approx(accuracy, abs=1e-12)

    table = tmp_path / "inputs.csv"
    header = ",".join(session.settings.features)
    np.savetxt(table, inputs, delimiter=",", header=header, comments="", fmt="%.17g")
    assert main(["predict", str(path), str(table)]) == 0
    printed = [int(line) for line in capsys.readouterr().out.split()]
    assert len(printed) == len(labels)
    assert float((np.array(printed) == labels).mean()) == pytest.approx(accuracy, abs=1e-12)

    _, metadata = cr.io.load_with_metadata(path)
    assert metadata["inputs"] == list(session.settings.features)
    assert metadata["classes"] == session.points.classes


def test_export_runs_its_python_snippet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    session = session_with(dataset="xor", points=80, hidden=[4], features=["x1", "x2", "x1x2"])
    session.train(3)
    info, content = session.export()
    (tmp_path / info["filename"]).write_bytes(content)
    monkeypatch.chdir(tmp_path)
    printed: list[Any] = []
    exec(info["python"], {"print": printed.append})  # the snippet the page shows
    _, scores = numpy_forward(session, np.array([[1.0, -2.0, -2.0]]))
    classes = session.points.classes
    assert printed[0] == [classes[k] for k in numpy_predictions(scores)]


def test_classic_models_cannot_be_exported_or_explained() -> None:
    session = session_with(model="perceptron", dataset="separable", points=40)
    for request in (
        session.export,
        session.gradcheck,
        lambda: session.backprop(0),
        lambda: session.neuron_panel(0, 1, 1),
        lambda: session.set_weight(1, 0, 0, 1.0),
    ):
        with pytest.raises(PlaygroundError, match="perceptron"):
            request()


# ---------------------------------------------------------------- the classic models
def test_the_perceptron_stops_on_separable_data() -> None:
    session = session_with(model="perceptron", dataset="separable", points=200)
    session.playing = True
    for _ in range(1000):
        session.train(1)
        if not session.playing:
            break
    assert session.playing is False
    assert "stopped" in session.notice
    assert "every training point" in session.notice
    header, _ = session.frame()
    assert header["trainAccuracy"] == 1.0
    assert header["testAccuracy"] == 1.0
    # The line the page shows classifies every training point correctly.
    layer = session.network()["layers"][0]
    w, b = np.array(layer["weights"]), np.array(layer["biases"])
    train = session.points.part == 0
    scores = session.points.xy[train] @ w.T + b
    assert ((scores[:, 0] > 0).astype(int) == session.points.labels[train]).all()
    epoch = session.epoch
    session.train(5)  # nothing left to do
    assert session.epoch == epoch


def test_the_perceptron_on_xor_says_no_line_separates() -> None:
    session = session_with(model="perceptron", dataset="xor", points=20)
    session.playing = True
    session.train(2000)
    assert session.playing is False
    assert "no line separates" in session.notice
    assert session.frame()[0]["trainAccuracy"] < 1.0


@pytest.mark.parametrize("dataset", ["separable", "xor"])
def test_the_perceptron_runs_the_epochs_shown_and_no_more(dataset: str) -> None:
    """Each epoch the page shows is the library's own epoch: the weights after 3 epochs are
    Perceptron(max_epochs=3)'s; choosing the model trains nothing ahead (on xor, which no
    line separates, 1000 epochs ahead cost seconds)."""
    session = session_with(model="perceptron", dataset=dataset, points=500)
    assert session.epoch == 0
    layer = session.network()["layers"][0]
    assert not np.any(layer["weights"]) and not np.any(layer["biases"])
    session.train(3)
    train = session.points.part == 0
    inputs = feature_matrix(session.points.xy[train], session.settings.features)
    reference = Perceptron(max_epochs=3).fit(inputs, session.points.labels[train])
    if reference.n_epochs_ == 3:
        assert session.epoch == 3
    layer = session.network()["layers"][0]
    np.testing.assert_allclose(layer["weights"], reference.coef_, atol=1e-5)
    np.testing.assert_allclose(layer["biases"], reference.intercept_, atol=1e-5)


def test_nearest_mean_loses_to_the_perceptron_on_elongated_classes() -> None:
    nearest = session_with(model="nearest-mean", dataset="elongated", points=300)
    nearest.train(3)
    perceptron = session_with(model="perceptron", dataset="elongated", points=300)
    perceptron.train(1000)
    nearest_accuracy = nearest.frame()[0]["testAccuracy"]
    perceptron_accuracy = perceptron.frame()[0]["testAccuracy"]
    assert perceptron_accuracy == 1.0
    assert nearest_accuracy < 0.9
    assert nearest_accuracy < perceptron_accuracy

    points = nearest.points
    train = points.part == 0
    mu0 = points.xy[train & (points.labels == 0)].mean(axis=0)
    mu1 = points.xy[train & (points.labels == 1)].mean(axis=0)
    w = 2 * (mu1 - mu0)
    b = mu0 @ mu0 - mu1 @ mu1
    shown = re.search(
        r"w = 2\(μ1 - μ0\) = \(([^,]+), ([^)]+)\), b = [^=]+= (\S+?);", nearest.notice
    )
    assert shown is not None, nearest.notice
    np.testing.assert_allclose(
        [float(v) for v in shown.groups()], [w[0], w[1], b], rtol=6e-3, atol=1e-3
    )
    layer = nearest.network()["layers"][0]
    np.testing.assert_allclose(layer["weights"], [w], atol=2e-6)
    np.testing.assert_allclose(layer["biases"], [b], atol=2e-6)
    # Its test accuracy is that of the bisector of the two means.
    test = points.part == 1
    predicted = (points.xy[test] @ w + b > 0).astype(int)
    assert nearest_accuracy == pytest.approx(float((predicted == points.labels[test]).mean()))


# ---------------------------------------------------------------- divergence
@pytest.mark.filterwarnings("error::RuntimeWarning")  # the notice says it; NumPy must not
@pytest.mark.parametrize("seed", [1, 2])
def test_a_diverging_run_stops_with_advice_and_finite_weights(seed: int) -> None:
    session = session_with(
        dataset="circle",
        points=200,
        lr=10,
        hidden=[8, 8, 8, 8],
        activations=["relu"],
        loss="squared",
        seed=seed,
    )
    session.playing = True
    last_good = weights_of(session)
    for _ in range(30):
        session.train(1)
        if not session.playing:
            break
        last_good = weights_of(session)
    assert session.playing is False
    assert session.epoch < 30
    assert "smaller learning rate" in session.notice
    assert f"epoch {session.epoch + 1}" in session.notice
    # The weights are those of the last epoch that did not diverge, all finite.
    for (w, b), (w0, b0) in zip(weights_of(session), last_good):
        assert np.isfinite(w).all() and np.isfinite(b).all()
        np.testing.assert_array_equal(w, w0)
        np.testing.assert_array_equal(b, b0)
    assert len(session.history) == session.epoch + 1
    header, payload = session.frame()
    json.dumps(header, allow_nan=False)
    json.dumps(session.state(), allow_nan=False)
    assert len(payload) == len(header["maps"]) * GRID * GRID
    for key in ("trainLoss", "testLoss", "trainAccuracy", "testAccuracy"):
        assert header[key] is None or math.isfinite(header[key])


# ---------------------------------------------------------------- own points
def test_own_points_added_moved_and_deleted() -> None:
    session = session_with(points=40)
    first = weights_of(session)
    n = len(session.points)
    session.add_point(1.5, -2.0, 0)
    assert session.settings.dataset == "own"
    assert len(session.points) == n + 1
    assert session.state()["points"][-1][:3] == [1.5, -2.0, 0.0]
    # The network keeps its weights when the outputs stay.
    np.testing.assert_array_equal(weights_of(session)[0][0], first[0][0])

    session.add_point(0.0, 4.0, 2)
    assert len(session.points.classes) == 3
    assert session.model.n_outputs == 3  # type: ignore[union-attr]
    assert session.network()["sizes"][-1] == 3
    assert session.settings.loss == "cross-entropy"
    assert [m["name"] for m in session.frame()[0]["maps"]][-3:] == [
        "class-0",
        "class-1",
        "class-2",
    ]
    session.train(1)

    session.move_point(0, -3.25, 2.5)
    np.testing.assert_array_equal(session.points.xy[0], [-3.25, 2.5])
    second = session.points.xy[1].copy()
    session.delete_point(0)
    assert len(session.points) == n + 1
    np.testing.assert_array_equal(session.points.xy[0], second)
    assert session.state()["points"][-1][:3] == [0.0, 4.0, 2.0]


@pytest.mark.parametrize(
    "what",
    [
        lambda s: s.move_point(len(s.points), 0.0, 0.0),
        lambda s: s.move_point(-1, 0.0, 0.0),
        lambda s: s.delete_point(len(s.points)),
        lambda s: s.delete_point(-1),
        lambda s: s.add_point(math.nan, 0.0, 0),
        lambda s: s.add_point(0.0, math.inf, 0),
        lambda s: s.add_point(1e7, 0.0, 0),
        lambda s: s.move_point(0, -math.inf, 0.0),
        lambda s: s.move_point(0, 0.0, math.nan),
        lambda s: s.add_point(0.0, 0.0, 1.5),
        lambda s: s.add_point(0.0, 0.0, -1),
        lambda s: s.add_point(0.0, 0.0, 3),  # classes are added one at a time
        lambda s: s.add_point(0.0, 0.0, math.nan),
    ],
)
def test_bad_point_edits_are_refused(what: Any) -> None:
    session = session_with(points=20)
    before = session.points.xy.copy()
    with pytest.raises(PlaygroundError):
        what(session)
    np.testing.assert_array_equal(session.points.xy, before)


def test_at_most_six_classes_of_own_points() -> None:
    session = session_with(points=20)
    for label in (2, 3, 4, 5):
        session.add_point(float(label), 0.0, label)
    assert len(session.points.classes) == 6
    with pytest.raises(PlaygroundError):
        session.add_point(0.0, 0.0, 6)


def test_a_third_class_under_bce_is_refused_or_switches_the_loss() -> None:
    session = session_with(points=20, loss="bce")
    try:
        session.add_point(0.0, 0.0, 2)
    except PlaygroundError:
        return
    assert session.settings.loss != "bce"
    session.train(1)


# ---------------------------------------------------------------- editing weights
def test_set_weight_and_set_bias_change_the_forward_pass() -> None:
    session = session_with(dataset="gauss", points=40, hidden=[3])
    session.set_weight(2, 0, 0, 0.0)
    for to in range(2):
        for source in range(3):
            session.set_weight(2, to, source, 0.0)
    session.set_bias(2, 0, 0.25)
    session.set_bias(2, 1, -1.5)
    grid = feature_matrix(session.grid_points(), ("x1", "x2"))
    # With no weights into the output, every point scores the biases.
    np.testing.assert_allclose(session.model.scores(grid), [[0.25, -1.5]] * len(grid))  # type: ignore[union-attr]
    # softmax(0.25, -1.5) for class 1: the output map is 2p - 1 everywhere.
    p1 = math.exp(-1.5) / (math.exp(0.25) + math.exp(-1.5))
    header, payload = session.frame()
    described = header["maps"][-1]
    assert described["name"] == "output"
    assert described["lo"] == pytest.approx(2 * p1 - 1, rel=1e-6)
    assert described["hi"] == pytest.approx(2 * p1 - 1, rel=1e-6)
    # The loss follows: cross-entropy of constant scores.
    log_p = np.log([1 - p1, p1])
    train = session.points.part == 0
    expected = -log_p[session.points.labels[train]].mean()
    assert session.train_loss == pytest.approx(expected, rel=1e-5)

    session.set_weight(1, 2, 1, 0.75)
    assert weights_of(session)[0][0][2, 1] == 0.75
    assert session.network()["layers"][0]["weights"][2][1] == 0.75
    x = np.array([[1.0, 2.0]])
    hidden, scores = numpy_forward(session, x)
    np.testing.assert_allclose(session.model.scores(x), scores, rtol=1e-6)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "what",
    [
        lambda s: s.set_weight(0, 0, 0, 1.0),
        lambda s: s.set_weight(4, 0, 0, 1.0),
        lambda s: s.set_weight(1, 4, 0, 1.0),
        lambda s: s.set_weight(1, 0, 2, 1.0),
        lambda s: s.set_weight(1, -1, 0, 1.0),
        lambda s: s.set_weight(1, 0, -1, 1.0),
        lambda s: s.set_weight(1, 0, 0, math.nan),
        lambda s: s.set_weight(1, 0, 0, math.inf),
        lambda s: s.set_weight(1, 0, 0, 1e7),
        lambda s: s.set_bias(1, 4, 1.0),
        lambda s: s.set_bias(1, -1, 1.0),
        lambda s: s.set_bias(3, 2, 1.0),
        lambda s: s.set_bias(0, 0, 1.0),
        lambda s: s.set_bias(1, 0, -math.inf),
    ],
)
def test_weights_out_of_range_are_refused(what: Any) -> None:
    session = session_with(points=20)  # layers 2x4, 4x2, 2x2
    before = weights_of(session)
    with pytest.raises(PlaygroundError):
        what(session)
    for (w, b), (w0, b0) in zip(weights_of(session), before):
        np.testing.assert_array_equal(w, w0)
        np.testing.assert_array_equal(b, b0)


# ---------------------------------------------------------------- the heat maps
def decoded(header: dict[str, Any], payload: bytes) -> dict[str, np.ndarray]:
    grid = header["grid"]
    assert grid == GRID
    size = grid * grid
    assert len(payload) == len(header["maps"]) * size
    maps = {}
    for k, described in enumerate(header["maps"]):
        q = np.frombuffer(payload, np.uint8, size, k * size).astype(np.float64)
        maps[described["name"]] = described["lo"] + q / 255 * (described["hi"] - described["lo"])
    return maps


def assert_within_a_step(
    header: dict[str, Any], maps: dict[str, np.ndarray], name: str, expected: np.ndarray
) -> None:
    described = next(m for m in header["maps"] if m["name"] == name)
    step = (described["hi"] - described["lo"]) / 255
    np.testing.assert_allclose(maps[name], expected, rtol=0, atol=step + 1e-5, err_msg=name)


@pytest.mark.parametrize(
    ("changes", "output"),
    [
        ({"dataset": "moons"}, "two-logits"),
        ({"dataset": "circle", "loss": "bce", "features": ["x1sq", "x2sq", "x1x2"]}, "bce"),
        ({"dataset": "xor", "loss": "squared", "activations": ["relu", "sigmoid"]}, "clipped"),
        ({"dataset": "gauss", "loss": "hinge", "features": ["x1", "sinx2"]}, "clipped"),
        ({"dataset": "plane", "activations": ["leaky_relu", "identity"]}, "regression"),
    ],
    ids=["cross-entropy", "bce", "squared", "hinge", "regression"],
)
def test_frame_maps_equal_a_direct_forward_pass(changes: dict[str, Any], output: str) -> None:
    session = session_with(points=80, hidden=[4, 3], **changes)
    session.train(2)
    header, payload = session.frame()
    maps = decoded(header, payload)
    features = session.settings.features
    hidden_sizes = session.settings.hidden
    names = (
        [f"input-{name}" for name in features]
        + [f"{layer}-{i}" for layer, size in enumerate(hidden_sizes, 1) for i in range(1, size + 1)]
        + ["output"]
    )
    assert [m["name"] for m in header["maps"]] == names
    grid = session.grid_points()
    # Row 0 at the top (largest y), column 0 at the left.
    xmin, xmax, ymin, ymax = session.points.domain
    cell = (xmax - xmin) / GRID
    assert grid[0].tolist() == pytest.approx([xmin + cell / 2, ymax - cell / 2])
    assert grid[GRID - 1].tolist() == pytest.approx([xmax - cell / 2, ymax - cell / 2])
    assert grid[-1].tolist() == pytest.approx([xmax - cell / 2, ymin + cell / 2])
    inputs = feature_matrix(grid, features)
    hidden, scores = numpy_forward(session, inputs)
    for k, name in enumerate(features):
        assert_within_a_step(header, maps, f"input-{name}", inputs[:, k])
    for layer, values in enumerate(hidden, start=1):
        for i in range(values.shape[1]):
            assert_within_a_step(header, maps, f"{layer}-{i + 1}", values[:, i])
    if output == "two-logits":
        p1 = np.exp(scores[:, 1]) / np.exp(scores).sum(axis=1)
        expected = 2 * p1 - 1
    elif output == "bce":
        expected = 2 / (1 + np.exp(-scores[:, 0])) - 1
    elif output == "clipped":
        expected = np.clip(scores[:, 0], -1, 1)
    else:
        expected = scores[:, 0]
    assert_within_a_step(header, maps, "output", expected)
    if output != "regression":
        assert -1 <= header["maps"][-1]["lo"] <= header["maps"][-1]["hi"] <= 1
    json.dumps(header, allow_nan=False)


def test_frame_with_several_classes_gives_probability_maps() -> None:
    session = session_with(dataset="blobs", classes=4, points=80, hidden=[5])
    session.train(3)
    header, payload = session.frame()
    maps = decoded(header, payload)
    names = [m["name"] for m in header["maps"]]
    assert names[-4:] == ["class-0", "class-1", "class-2", "class-3"]
    assert "output" not in names
    inputs = feature_matrix(session.grid_points(), session.settings.features)
    _, scores = numpy_forward(session, inputs)
    probabilities = np.exp(scores - scores.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    for k in range(4):
        assert_within_a_step(header, maps, f"class-{k}", probabilities[:, k])
    total = sum(maps[f"class-{k}"] for k in range(4))
    steps = sum((m["hi"] - m["lo"]) / 255 for m in header["maps"][-4:])
    np.testing.assert_allclose(total, 1.0, atol=steps)


def test_frame_of_a_classic_model_and_of_no_model() -> None:
    session = session_with(model="nearest-mean", dataset="gauss", points=40)
    session.train(1)
    header, payload = session.frame()
    maps = decoded(header, payload)
    assert [m["name"] for m in header["maps"]] == ["input-x1", "input-x2", "output"]
    layer = session.network()["layers"][0]
    w, b = np.array(layer["weights"]), np.array(layer["biases"])
    expected = np.clip(session.grid_points() @ w.T + b, -1, 1)[:, 0]
    assert_within_a_step(header, maps, "output", expected)
    assert header["gradNorms"] == [] and header["dead"] == []


# ---------------------------------------------------------------- own data from the start
def test_a_session_can_start_on_an_empty_plane_of_own_points() -> None:
    session = Session(Settings(dataset="own"))
    assert len(session.points) == 0
    assert "no training points" in session.why_untrainable()
    with pytest.raises(PlaygroundError, match="no training points"):
        session.train(1)
    header, payload = session.frame()
    assert header["epoch"] == 0 and len(payload) > 0
    for x, y, label in [(2, 2, 0), (-2, -2, 1), (3, 1, 0), (-3, -1, 1), (2, 3, 0), (-1, -3, 1)]:
        session.add_point(x, y, label)
    if not session.why_untrainable():
        session.train(3)
        assert session.epoch == 3


def test_a_regression_upload_says_that_it_changed_the_loss() -> None:
    session = session_with(loss="hinge")
    rng = np.random.default_rng(0)
    xy = rng.uniform(-5, 5, (50, 2))

    points = Points(xy, xy.sum(axis=1), np.zeros(50, np.int8), "regression")
    session.use_points(points)
    assert session.settings.loss == "squared"
    assert "regression" in session.notice and "hinge → squared" in session.notice


def test_a_regression_export_predicts_numbers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    session = session_with(dataset="plane", points=100, hidden=[3])
    session.train(5)
    info, content = session.export()
    assert info["command"].startswith("# ") and "regression" in info["command"]
    path = tmp_path / info["filename"]
    path.write_bytes(content)
    xy = np.array([[1.0, -2.0], [0.5, 0.5], [-4.0, 3.0]])
    table = tmp_path / "xy.csv"
    np.savetxt(table, xy, delimiter=",", header="x1,x2", comments="", fmt="%.17g")
    assert main(["predict", str(path), str(table)]) == 0
    printed = [float(line) for line in capsys.readouterr().out.split()]
    _, scores = numpy_forward(session, xy)
    np.testing.assert_allclose(printed, scores[:, 0], rtol=1e-5, atol=1e-6)


def test_predict_takes_the_planes_x1_x2_for_a_model_of_other_features(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    features = ["x1", "x2", "x1sq", "sinx2"]
    session = session_with(dataset="moons", points=100, features=features, hidden=[4])
    session.train(10)
    info, content = session.export()
    path = tmp_path / info["filename"]
    path.write_bytes(content)
    xy = np.random.default_rng(1).uniform(-5, 5, (20, 2))
    table = tmp_path / "xy.csv"
    np.savetxt(table, xy, delimiter=",", header="x1,x2", comments="", fmt="%.17g")
    assert main(["predict", str(path), str(table)]) == 0
    printed = [int(line) for line in capsys.readouterr().out.split()]
    inputs = np.column_stack([xy[:, 0], xy[:, 1], xy[:, 0] ** 2, np.sin(xy[:, 1])])
    _, scores = numpy_forward(session, inputs)
    assert printed == numpy_predictions(scores).tolist()
