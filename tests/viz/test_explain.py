"""cr.explain: the backward pass as steps, checked against deltas derived by hand."""

from __future__ import annotations

import html
import json
import math
import re

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn


def _sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


X1, X2, TARGET = 0.5, -1.5, 1.0
WEIGHTS = dict(w11=0.1, w12=0.4, w21=-0.3, w22=0.25, v1=0.7, v2=-0.5)


def _network() -> tuple[cr.Tensor, dict[str, cr.Tensor]]:
    """A 2-2-1 sigmoid network written neuron by neuron, squared error E = ½(y - t)²."""
    w = {
        name: cr.tensor(value, dtype=np.float64, requires_grad=True)
        for name, value in WEIGHTS.items()
    }
    x1 = cr.tensor(X1, dtype=np.float64)
    x2 = cr.tensor(X2, dtype=np.float64)
    z1 = w["w11"] * x1 + w["w12"] * x2
    a1 = cr.sigmoid(z1)
    z2 = w["w21"] * x1 + w["w22"] * x2
    a2 = cr.sigmoid(z2)
    z3 = w["v1"] * a1 + w["v2"] * a2
    y = cr.sigmoid(z3)
    error = 0.5 * (y - TARGET) ** 2
    names = {**w, "x1": x1, "x2": x2, "z1": z1, "a1": a1, "z2": z2, "a2": a2, "z3": z3, "y": y}
    return error, {**names, "E": error}


def _by_hand() -> dict[str, float]:
    """The lecture's backpropagation: δ_out = (y - t)·g'(z3), δ_j = g'(z_j)·v_j·δ_out."""
    z1 = WEIGHTS["w11"] * X1 + WEIGHTS["w12"] * X2
    z2 = WEIGHTS["w21"] * X1 + WEIGHTS["w22"] * X2
    a1, a2 = _sigmoid(z1), _sigmoid(z2)
    z3 = WEIGHTS["v1"] * a1 + WEIGHTS["v2"] * a2
    y = _sigmoid(z3)
    delta3 = (y - TARGET) * y * (1 - y)
    delta1 = a1 * (1 - a1) * WEIGHTS["v1"] * delta3
    delta2 = a2 * (1 - a2) * WEIGHTS["v2"] * delta3
    return dict(
        y=y - TARGET,
        z3=delta3,
        a1=WEIGHTS["v1"] * delta3,
        a2=WEIGHTS["v2"] * delta3,
        z1=delta1,
        z2=delta2,
        v1=a1 * delta3,
        v2=a2 * delta3,
        w11=X1 * delta1,
        w12=X2 * delta1,
        w21=X1 * delta2,
        w22=X2 * delta2,
        sigmoid_prime_z3=y * (1 - y),
    )


def test_each_neurons_delta_is_the_lectures() -> None:
    error, names = _network()
    explanation = cr.explain(error, names=names)
    expected = _by_hand()
    for label in ("y", "z3", "a1", "a2", "z1", "z2", "v1", "v2", "w11", "w12", "w21", "w22"):
        assert float(explanation[label].delta) == pytest.approx(expected[label], rel=1e-12), label
    # The chain rule's factors: y = g(z3) passes δ_y·g'(z3) to z3, with local derivative g'(z3).
    step = explanation["y"]
    assert float(step.local["z3"]) == pytest.approx(expected["sigmoid_prime_z3"], rel=1e-12)
    assert float(step.passed["z3"]) == pytest.approx(expected["z3"], rel=1e-12)
    # z3 = v1·a1 + ...: the multiply node passes δ_z3·a1 to v1 and δ_z3·v1 to a1.
    product = next(s for s in explanation if s.op == "multiply" and "v1" in s.inputs)
    assert float(product.local["a1"]) == pytest.approx(WEIGHTS["v1"])
    assert float(product.passed["v1"]) == pytest.approx(expected["v1"], rel=1e-12)


def test_order_is_reverse_topological_and_complete() -> None:
    error, names = _network()
    explanation = cr.explain(error, names=names)
    order = explanation.labels()
    assert order[0] == "E"
    assert [s.index for s in explanation] == list(range(1, len(order) + 1))
    # Every node comes after all the nodes that use it.
    position = {label: i for i, label in enumerate(order)}
    for step in explanation:
        for parent in step.inputs:
            if parent in position:
                assert position[parent] > position[step.label]
    # Six weights, the 15 operations between them and E; inputs x1, x2 are not steps.
    assert {"w11", "w12", "w21", "w22", "v1", "v2"} <= set(order)
    assert "x1" not in order and "x1" in explanation["multiply#1"].inputs


def test_explain_leaves_gradients_and_graph_alone() -> None:
    error, names = _network()
    explanation = cr.explain(error, names=names)
    assert all(names[w].grad is None for w in WEIGHTS)
    error.backward()
    for weight in WEIGHTS:
        assert names[weight].grad.item() == pytest.approx(float(explanation[weight].delta))
    with pytest.raises(RuntimeError, match="retain_graph"):
        cr.explain(error)


def test_after_backward_with_retain_graph() -> None:
    error, names = _network()
    error.backward(retain_graph=True)
    assert float(cr.explain(error, names=names)["w11"].delta) == pytest.approx(_by_hand()["w11"])


def test_a_tensor_used_twice_gets_both_contributions() -> None:
    x = cr.tensor(3.0, dtype=np.float64, requires_grad=True)
    square = x * x
    step = cr.explain(square, names={"x": x, "square": square})["square"]
    assert step.inputs == ["x", "x"]
    assert float(step.local["x"]) == 6.0  # d(x²)/dx = 2x
    assert float(step.passed["x"]) == 6.0


def test_vector_network_with_module_names_and_cotangent() -> None:
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    x = np.random.default_rng(0).standard_normal((5, 3))
    out = model(x)
    g = np.ones((5, 2), np.float32)
    explanation = cr.explain(out, g, names=model, max_elements=4)
    assert explanation["2.bias"].delta.tolist() == [5.0, 5.0]  # Σ over the batch of ones
    assert explanation["0.weight"].delta.shape == (4, 3)
    assert "min" in str(explanation)  # big tensors summarised
    with pytest.raises(ValueError, match="grad="):
        cr.explain(out)


def test_formats_and_records() -> None:
    error, names = _network()
    explanation = cr.explain(error, names=names)
    records = explanation.records()
    json.dumps(records)  # plain data
    assert records[0]["label"] == "E" and records[0]["delta"] == 1.0
    markdown = explanation.to_markdown().splitlines()
    assert len(markdown) == len(explanation) + 2 and markdown[0].startswith("| step |")
    text = str(explanation).splitlines()
    assert len(text) == len(explanation) + 2 and "δ received" in text[0]
    assert explanation.to_html().count("<tr>") == len(explanation) + 1


def test_markdown_renders_every_cell_as_its_plain_text() -> None:
    from markdown_it import MarkdownIt

    x, w = cr.tensor([0.5], requires_grad=True), cr.tensor([2.0], requires_grad=True)
    names = {"w_1*x_1 <b>|": w, "x": x}
    explanation = cr.explain((w * x).sum() * x.sum(), names=names)
    rendered = (
        MarkdownIt("commonmark")
        .enable("table")
        .enable("strikethrough")
        .render(explanation.to_markdown())
    )
    cells = re.findall(r"<td>(.*?)</td>", rendered)
    expected = [cell for row in explanation._rows() for cell in row]
    assert [html.unescape(cell) for cell in cells] == expected  # no <em>, no broken columns


def test_html_escapes_names() -> None:
    w = cr.tensor(2.0, dtype=np.float64, requires_grad=True)
    out = w * 3.0
    assert "&lt;b&gt;" in cr.explain(out, names={"<b>": w}).to_html()


def test_bad_calls() -> None:
    with pytest.raises(TypeError):
        cr.explain(np.ones(3))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="does not require grad"):
        cr.explain(cr.tensor(1.0))
    w = cr.tensor(1.0, requires_grad=True)
    with pytest.raises(KeyError, match="labels"):
        cr.explain(w * 2.0)["nope"]
