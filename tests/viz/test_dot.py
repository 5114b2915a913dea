"""cr.viz.graph: the DOT text is parsed back here, so nodes, kinds, edges and labels are exact."""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.viz import DotGraph, GraphvizNotFoundError

NODE = re.compile(r'^  (n\d+) \[label="((?:[^"\\]|\\.)*)", (.*)\];$')
EDGE = re.compile(r"^  (n\d+) -> (n\d+);$")
HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot is not installed")


def _unescape(text: str) -> list[str]:
    """The lines of a DOT label: \\n separates lines, \\" is a quote, \\\\ a backslash and
    &amp; an ampersand."""
    lines = [""]
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            escaped = text[index + 1]
            if escaped == "n":
                lines.append("")
            else:
                lines[-1] += escaped
            index += 2
        else:
            lines[-1] += char
            index += 1
    return [line.replace("&amp;", "&") for line in lines]


def _kind(attributes: str) -> str:
    if "shape=ellipse" in attributes:
        return "input"
    if 'style="rounded,filled"' in attributes:
        return "operation"
    assert "shape=box, style=filled" in attributes, attributes
    return "parameter"


def _parse(dot: DotGraph) -> tuple[dict[str, dict[str, Any]], list[tuple[str, str]]]:
    """Every node as {id: {"lines", "kind", "attributes"}} and every edge as (parent id, child
    id); any other line of the body is an error."""
    lines = dot.source.splitlines()
    assert lines[0] == "digraph chainrule {"
    assert lines[-1] == "}"
    nodes: dict[str, dict[str, Any]] = {}
    edges = []
    for line in lines[1:-1]:
        node = NODE.match(line)
        edge = EDGE.match(line)
        if node:
            node_id, label, attributes = node.groups()
            assert node_id not in nodes
            nodes[node_id] = {
                "lines": _unescape(label),
                "kind": _kind(attributes),
                "attributes": attributes,
            }
        elif edge:
            edges.append((edge.group(1), edge.group(2)))
        else:
            assert line.startswith(("  graph [", "  node [", "  edge [")), line
    for parent, child in edges:
        assert parent in nodes and child in nodes
    return nodes, edges


def _kinds(nodes: dict[str, dict[str, Any]]) -> dict[str, int]:
    counts = {"parameter": 0, "input": 0, "operation": 0}
    for node in nodes.values():
        counts[node["kind"]] += 1
    return counts


def _edge_labels(nodes: dict[str, dict[str, Any]], edges: list[tuple[str, str]]) -> list[Any]:
    """Edges as (first label line of the parent, of the child), sorted."""
    return sorted((nodes[p]["lines"][0], nodes[c]["lines"][0]) for p, c in edges)


def _by_first_line(nodes: dict[str, dict[str, Any]], first: str) -> dict[str, Any]:
    matches = [node for node in nodes.values() if node["lines"][0] == first]
    assert len(matches) == 1, (first, matches)
    return matches[0]


def _neuron() -> tuple[cr.Tensor, cr.Tensor, cr.Tensor, cr.Tensor]:
    """sum(tanh(w x + b)) with parameters w, b and an input x."""
    w = cr.tensor([0.5, -1.0], requires_grad=True)
    b = cr.tensor([0.25, 0.0], requires_grad=True)
    x = cr.tensor([2.0, 3.0])
    loss = (w * x + b).tanh().sum()
    return loss, w, b, x


# ------------------------------------------------------------------------ nodes and edges
def test_small_graph_has_exactly_the_expected_nodes_and_edges() -> None:
    loss, w, b, x = _neuron()
    dot = cr.viz.graph(loss, names={"w": w, "b": b, "x": x})
    nodes, edges = _parse(dot)
    assert _kinds(nodes) == {"parameter": 2, "input": 1, "operation": 4}
    assert _edge_labels(nodes, edges) == sorted(
        [
            ("w", "multiply"),
            ("x", "multiply"),
            ("multiply", "add"),
            ("b", "add"),
            ("add", "tanh"),
            ("tanh", "sum"),
        ]
    )
    assert _by_first_line(nodes, "w")["kind"] == "parameter"
    assert _by_first_line(nodes, "b")["kind"] == "parameter"
    assert _by_first_line(nodes, "x")["kind"] == "input"
    assert (dot.node_count, dot.edge_count) == (7, 6)
    assert repr(dot) == "DotGraph(7 nodes, 6 edges)"
    assert str(dot) == dot.source


def test_node_kinds_have_distinct_shapes_and_colours() -> None:
    loss, w, b, x = _neuron()
    nodes, _ = _parse(cr.viz.graph(loss, names={"w": w, "b": b, "x": x}))
    styles = {node["kind"]: node["attributes"] for node in nodes.values()}
    assert 'fillcolor="#c8e6c9"' in styles["parameter"]  # light green box
    assert 'fillcolor="#e0e0e0"' in styles["input"]  # grey ellipse
    assert 'fillcolor="#bbdefb"' in styles["operation"]  # light blue rounded box
    # The tensor that was drawn, and only it, has a thick border.
    thick = [node["lines"][0] for node in nodes.values() if "penwidth" in node["attributes"]]
    assert thick == ["sum"]


def test_edges_point_forward_and_nodes_come_in_topological_order() -> None:
    loss, w, b, x = _neuron()
    nodes, edges = _parse(cr.viz.graph(loss))
    order = list(nodes)
    for parent, child in edges:
        assert order.index(parent) < order.index(child)
    # Each node shows its shape and dtype; the unnamed ones their kind or op.
    assert _by_first_line(nodes, "sum")["lines"] == ["sum", "scalar float32"]
    assert _by_first_line(nodes, "input")["lines"] == ["input", "(2,) float32"]


def test_diamond_draws_each_node_once() -> None:
    """a feeds b and c, both feed d: four nodes, four edges, a drawn once."""
    a = cr.tensor([1.0, 2.0], requires_grad=True)
    b = a.exp()
    c = a * 2.0
    d = b + c
    nodes, edges = _parse(cr.viz.graph(d, names={"a": a}))
    assert _kinds(nodes) == {"parameter": 1, "input": 0, "operation": 3}
    assert _edge_labels(nodes, edges) == sorted(
        [("a", "exp"), ("a", "multiply"), ("exp", "add"), ("multiply", "add")]
    )


def test_a_tensor_used_twice_by_one_op_gets_two_edges() -> None:
    a = cr.tensor(3.0, requires_grad=True)
    nodes, edges = _parse(cr.viz.graph(a * a, names={"a": a}))
    assert len(nodes) == 2
    assert _edge_labels(nodes, edges) == [("a", "multiply"), ("a", "multiply")]


def test_inputs_without_grad_deep_in_the_graph_are_drawn() -> None:
    """toposort skips tensors that do not require grad; the picture must not."""
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    x = cr.tensor([3.0, 4.0])
    t = cr.tensor([0.0, 1.0])
    loss = ((w * x - t) ** 2).sum()
    nodes, edges = _parse(cr.viz.graph(loss, names={"w": w, "x": x, "t": t}))
    assert _kinds(nodes)["input"] >= 2
    assert ("t", "subtract") in _edge_labels(nodes, edges)
    assert ("x", "multiply") in _edge_labels(nodes, edges)


def test_a_plain_leaf_and_a_one_element_constant() -> None:
    nodes, edges = _parse(cr.viz.graph(cr.tensor([1.0, 2.0])))
    assert [node["lines"] for node in nodes.values()] == [["input", "(2,) float32"]]
    assert edges == []
    x = cr.tensor([1.0, -2.0], requires_grad=True)
    nodes, _ = _parse(cr.viz.graph(x * cr.tensor(3.0)))
    # An unnamed constant is identified by its value.
    assert _by_first_line(nodes, "constant")["lines"] == ["constant", "scalar float32", "3"]


def test_deep_chain_of_5000_ops_without_recursion() -> None:
    x = cr.tensor([0.5], requires_grad=True)
    y = x
    for _ in range(5000):
        y = y * 1.0001
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # far less than the depth: the walk must be a loop
    try:
        dot = cr.viz.graph(y, values=True)
    finally:
        sys.setrecursionlimit(limit)
    nodes, edges = _parse(dot)
    assert _kinds(nodes) == {"parameter": 1, "input": 0, "operation": 5000}
    assert len(edges) == 5000
    order = list(nodes)
    assert all(order.index(p) == order.index(c) - 1 for p, c in edges[:50])


# ------------------------------------------------------------------------------ labels
def test_names_from_a_dict_either_way_round_and_for_intermediates() -> None:
    loss, w, b, x = _neuron()
    hidden = loss._parents[0]  # the tanh
    nodes, _ = _parse(cr.viz.graph(loss, names={w: "weight", "bias": b, "h": hidden}))
    assert _by_first_line(nodes, "weight")["kind"] == "parameter"
    assert _by_first_line(nodes, "bias")["kind"] == "parameter"
    # A named operation shows its name above its op.
    assert _by_first_line(nodes, "h")["lines"][:2] == ["h", "tanh"]


def test_names_from_a_module_or_its_named_parameters() -> None:
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    loss = nn.CrossEntropyLoss()(model(cr.randn(5, 3)), [0, 1, 1, 0, 1])
    expected = {"0.weight", "0.bias", "2.weight", "2.bias"}
    for names in (model, model.named_parameters(), dict(model.named_parameters())):
        nodes, edges = _parse(cr.viz.graph(loss, names=names))
        parameters = {n["lines"][0] for n in nodes.values() if n["kind"] == "parameter"}
        assert parameters == expected
        assert ("0.weight", "linear") in _edge_labels(nodes, edges)
        assert [n["lines"][0] for n in nodes.values() if n["kind"] == "operation"] == [
            "linear",
            "tanh",
            "linear",
            "cross_entropy",
        ]


def test_values_show_numbers_for_small_tensors_and_a_range_for_large_ones() -> None:
    w = cr.tensor([[0.5, -1.0], [2.0, 0.125]], requires_grad=True)
    x = cr.tensor(np.arange(8.0, dtype=np.float32).reshape(2, 4))
    loss = (w @ x).sum()
    nodes, _ = _parse(cr.viz.graph(loss, values=True, names={"w": w, "x": x}))
    assert _by_first_line(nodes, "w")["lines"] == [
        "w",
        "(2, 2) float32",
        "[[0.5, -1], [2, 0.125]]",
    ]
    assert _by_first_line(nodes, "x")["lines"] == ["x", "(2, 4) float32", "min 0  max 7"]
    # sum(w @ x) = sum over i, k of w_ik * (row sums of x)_k = 5.75 * 6 + ... computed by NumPy
    total = float((w.data @ x.data).sum())
    assert _by_first_line(nodes, "sum")["lines"][2] == f"{total:.4g}"
    # max_elements moves the threshold.
    nodes, _ = _parse(cr.viz.graph(loss, values=True, names={"x": x}, max_elements=8))
    assert _by_first_line(nodes, "x")["lines"][2] == "[[0, 1, 2, 3], [4, 5, 6, 7]]"
    nodes, _ = _parse(cr.viz.graph(loss, values=True, names={"w": w}, max_elements=0))
    assert _by_first_line(nodes, "w")["lines"][2] == "min -1  max 2"


def test_without_values_no_numbers_are_shown() -> None:
    loss, w, b, x = _neuron()
    nodes, _ = _parse(cr.viz.graph(loss, names={"w": w, "b": b, "x": x}))
    assert all(len(node["lines"]) == 2 for node in nodes.values())


def test_grads_show_the_hand_derived_gradients() -> None:
    """loss = sum(tanh(w x + b)): ∂/∂w = x (1 - tanh²(z)), ∂/∂b = 1 - tanh²(z)."""
    loss, w, b, x = _neuron()
    before, _ = _parse(cr.viz.graph(loss, grads=True, names={"w": w, "b": b}))
    assert _by_first_line(before, "w")["lines"][-1] == "grad None"
    loss.backward(retain_graph=True)
    z = np.array([0.5 * 2.0 + 0.25, -1.0 * 3.0 + 0.0])
    delta = 1 - np.tanh(z) ** 2
    nodes, _ = _parse(cr.viz.graph(loss, grads=True, names={"w": w, "b": b}))
    grad_w = "grad [" + ", ".join(f"{v:.4g}" for v in np.float32(delta * [2.0, 3.0])) + "]"
    grad_b = "grad [" + ", ".join(f"{v:.4g}" for v in np.float32(delta)) + "]"
    assert _by_first_line(nodes, "w")["lines"][-1] == grad_w
    assert _by_first_line(nodes, "b")["lines"][-1] == grad_b
    # Operations keep no .grad, inputs need none: no grad line on them.
    assert not any(
        line.startswith("grad")
        for n in nodes.values()
        if n["kind"] != "parameter"
        for line in n["lines"]
    )


def test_quotes_backslashes_and_newlines_in_names_are_escaped() -> None:
    w = cr.tensor([1.0], requires_grad=True)
    name = 'say "hi" \\ to C:\\new\nline & <b>'
    dot = cr.viz.graph(w * 2.0, names={name: w})
    assert 'label="say \\"hi\\" \\\\ to C:\\\\new\\nline &amp; <b>\\n(1,) float32"' in dot.source
    nodes, _ = _parse(dot)
    assert _by_first_line(nodes, 'say "hi" \\ to C:\\new')["lines"] == [
        'say "hi" \\ to C:\\new',
        "line & <b>",
        "(1,) float32",
    ]


# ------------------------------------------------------------------------------ errors
def test_a_graph_freed_by_backward_raises_a_clear_error() -> None:
    loss, *_ = _neuron()
    loss.backward()
    with pytest.raises(cr.FreedGraphError, match="retain_graph=True"):
        cr.viz.graph(loss)


def test_a_partly_freed_graph_raises_too() -> None:
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    hidden = w.exp()
    hidden.sum().backward()  # frees the exp node
    with pytest.raises(cr.FreedGraphError, match="'exp'"):
        cr.viz.graph((hidden * 2.0).sum())


def test_bad_arguments() -> None:
    loss, w, *_ = _neuron()
    with pytest.raises(TypeError, match="Tensor"):
        cr.viz.graph(np.ones(3))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_elements"):
        cr.viz.graph(loss, max_elements=-1)
    with pytest.raises(TypeError, match="max_elements"):
        cr.viz.graph(loss, max_elements=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="rankdir"):
        cr.viz.graph(loss, rankdir="diagonal")
    with pytest.raises(TypeError, match="not a Tensor"):
        cr.viz.graph(loss, names={"w": 3})
    with pytest.raises(TypeError, match="named_parameters"):
        cr.viz.graph(loss, names=[w])


def test_rankdir_is_written() -> None:
    loss, *_ = _neuron()
    assert "  graph [rankdir=LR];" in cr.viz.graph(loss, rankdir="LR").source.splitlines()


# ------------------------------------------------------------------------------ rendering
def test_dot_format_writes_the_source_without_graphviz(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    loss, *_ = _neuron()
    dot = cr.viz.graph(loss)
    path = dot.render(tmp_path / "graph.dot")
    assert path.read_text(encoding="utf-8") == dot.source


def test_missing_dot_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    loss, *_ = _neuron()
    dot = cr.viz.graph(loss)
    with pytest.raises(GraphvizNotFoundError, match=r"apt-get install graphviz.*\.source"):
        dot.render(tmp_path / "graph.png")
    assert list(tmp_path.iterdir()) == []
    assert dot._repr_svg_() is None


def test_render_needs_a_known_format(tmp_path: Path) -> None:
    loss, *_ = _neuron()
    dot = cr.viz.graph(loss)
    with pytest.raises(ValueError, match="format"):
        dot.render(tmp_path / "graph.xyz")
    with pytest.raises(ValueError, match="format"):
        dot.render(tmp_path / "graph", format="jpeg")
    with pytest.raises(ValueError, match="format"):
        dot.pipe("dot")


@needs_dot
def test_render_png_and_svg(tmp_path: Path) -> None:
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 3), nn.Tanh(), nn.Linear(3, 1), nn.Sigmoid())
    X = cr.tensor([[0.5, -1.0], [1.5, 2.0]])
    loss = nn.MSELoss()(model(X), cr.tensor([[1.0], [0.0]]))
    loss.backward(retain_graph=True)
    dot = cr.viz.graph(loss, values=True, grads=True, names={**dict(model.named_parameters())})
    png = dot.render(tmp_path / "graph.png")
    assert png == tmp_path / "graph.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = dot.render(tmp_path / "picture", format="svg")
    text = svg.read_text(encoding="utf-8")
    assert "<svg" in text and "0.weight" in text and "linear" in text
    # Only the two pictures: no temporary file is left behind.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph.png", "picture"]
    inline = dot._repr_svg_()
    assert inline is not None and inline.lstrip().startswith("<?xml")
    assert dot.pipe("pdf")[:4] == b"%PDF"


@needs_dot
def test_escaped_labels_are_valid_dot(tmp_path: Path) -> None:
    w = cr.tensor([1.0], requires_grad=True)
    dot = cr.viz.graph(w * 2.0, names={'say "hi" \\ and\n<b>&amp;</b>': w})
    text = dot.pipe("svg").decode("utf-8")
    assert "say &quot;hi&quot; \\ and" in text
    assert "&lt;b&gt;&amp;amp;&lt;/b&gt;" in text


@needs_dot
def test_a_failed_render_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "graph.png"
    target.write_bytes(b"old picture")
    broken = DotGraph("digraph {\n  a -> \n", 0, 0)
    with pytest.raises(RuntimeError, match="dot -Tpng failed"):
        broken.render(target)
    assert target.read_bytes() == b"old picture"
    assert [p.name for p in tmp_path.iterdir()] == ["graph.png"]
