"""The backward pass, step by step: what each node received and what it passed on.

``explain(loss)`` walks the recorded graph exactly as ``backward`` does, in reverse
topological order, but writes no ``.grad``: it records for every node its operation, its inputs,
its forward value, the error signal δ = ∂loss/∂node that reached it, and the gradient it passed
to each input (δ times the local derivative). For a node with one element it also records the
local derivative ∂node/∂input itself, so that a network written neuron by neuron, a = g(z) and
z = Σ w·a, shows each neuron's δ_j = ∂E/∂z_j and each factor of the chain rule as the lectures
write them.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .._text import text_table
from ..engine.graph import FREED, input_gradients, no_grad, toposort
from ..engine.tensor import Tensor
from ..ops import sigmoid
from .names import names_by_id

__all__ = ["Explanation", "Step", "explain", "worked_example"]


@dataclass
class Step:
    """One node of the backward pass."""

    index: int
    """Position in the backward pass: 1 is the output, then each node after all its users."""
    label: str
    """The node's name (from ``names``) or ``op#n``."""
    op: str
    """The operation that made it ("leaf" for parameters and other leaves)."""
    inputs: list[str]
    """Labels of the node's inputs."""
    value: np.ndarray
    """Forward value."""
    delta: np.ndarray
    """δ = ∂output/∂node: the error signal that reached this node (summed over its users)."""
    passed: dict[str, np.ndarray] = field(default_factory=dict)
    """For each input that needs a gradient: the part of its δ sent from here, δ·∂node/∂input."""
    local: dict[str, np.ndarray] = field(default_factory=dict)
    """For one-element nodes: the local derivative ∂node/∂input of each such input."""

    def record(self) -> dict[str, Any]:
        """The step as plain data (lists and floats), for JSON or a data frame."""
        return {
            "index": self.index,
            "label": self.label,
            "op": self.op,
            "inputs": list(self.inputs),
            "value": self.value.tolist(),
            "delta": self.delta.tolist(),
            "passed": {name: array.tolist() for name, array in self.passed.items()},
            "local": {name: array.tolist() for name, array in self.local.items()},
        }


class Explanation:
    """The steps of a backward pass; ``str()`` is a terminal table, also Markdown and HTML."""

    COLUMNS = (
        "step",
        "node",
        "op",
        "inputs",
        "value",
        "δ received",
        "local ∂node/∂input",
        "passed to inputs",
    )

    def __init__(self, steps: list[Step], max_elements: int) -> None:
        self.steps = steps
        self.max_elements = max_elements

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self) -> Any:
        return iter(self.steps)

    def __getitem__(self, label: str) -> Step:
        """The step of the node named ``label``."""
        for step in self.steps:
            if step.label == label:
                return step
        raise KeyError(f"explain: no node labelled {label!r}; labels: {self.labels()}")

    def labels(self) -> list[str]:
        return [step.label for step in self.steps]

    def records(self) -> list[dict[str, Any]]:
        """Every step as plain data."""
        return [step.record() for step in self.steps]

    def _rows(self) -> list[list[str]]:
        show = self._format
        rows = []
        for step in self.steps:
            rows.append(
                [
                    str(step.index),
                    step.label,
                    step.op,
                    ", ".join(step.inputs) or "-",
                    show(step.value),
                    show(step.delta),
                    "; ".join(f"{name}: {show(a)}" for name, a in step.local.items()) or "-",
                    "; ".join(f"{name}: {show(a)}" for name, a in step.passed.items()) or "-",
                ]
            )
        return rows

    def _format(self, array: np.ndarray) -> str:
        if array.size > self.max_elements:
            return f"<{array.dtype} {array.shape}, min {array.min():.4g}, max {array.max():.4g}>"
        if array.ndim == 0:
            return f"{float(array):.6g}"
        return np.array2string(array, precision=4, separator=", ", max_line_width=10**6)

    def __str__(self) -> str:
        return text_table(self.COLUMNS, self._rows(), rule=True)

    def __repr__(self) -> str:
        return f"<Explanation of {len(self.steps)} steps>\n{self}"

    def to_markdown(self) -> str:
        """A Markdown table, every character Markdown would read as markup escaped (so
        ``v1*a1`` stays a product and ``w_11`` a name, not emphasis)."""

        def cell(text: str) -> str:
            return re.sub(r"([\\`*_\[\]<>|~])", r"\\\1", text)

        lines = ["| " + " | ".join(self.COLUMNS) + " |", "|" + "---|" * len(self.COLUMNS)]
        lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in self._rows()]
        return "\n".join(lines)

    def to_html(self) -> str:
        """An HTML table (text escaped)."""
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.COLUMNS)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>"
            for row in self._rows()
        )
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def _repr_html_(self) -> str:
        return self.to_html()


def explain(
    output: Tensor, grad: Any = None, *, names: Any = None, max_elements: int = 8
) -> Explanation:
    """The backward pass from ``output`` as a table of steps, without touching any ``.grad``.

    Parameters
    ----------
    output
        The tensor to differentiate, usually a scalar loss; its graph must still be there
        (call ``explain`` before ``backward()``, or after ``backward(retain_graph=True)``).
    grad
        The cotangent of ``output``; defaults to 1 for a one-element output.
    names
        Labels for tensors: a dict ``{"z1": z1, ...}``, pairs, or a Module (its parameter
        names). Unnamed nodes are labelled ``op#n`` in order of creation.
    max_elements
        Tensors with more elements are shown as their shape, min and max.

    Notes
    -----
    The δ shown is ∂output/∂node. Lectures that define the error signal with the opposite sign
    (δ = -∂E/∂z) show the same numbers negated.
    """
    if not isinstance(output, Tensor):
        raise TypeError(f"explain: expected a Tensor, got {type(output).__name__}")
    if not output.requires_grad:
        raise ValueError(
            "explain: the output does not require grad, so there is no backward pass; make a "
            "leaf it depends on with requires_grad=True"
        )
    seed = output._cotangent(grad, "explain")
    order = toposort(output)
    if any(node._vjps is FREED for node in order):
        raise RuntimeError(
            "explain: the graph was freed by backward(); call explain before backward(), or "
            "backward(retain_graph=True)"
        )
    labels = _labels(order, names_by_id(names, "explain"))
    deltas: dict[int, np.ndarray] = {id(output): seed}
    steps: list[Step] = []
    with no_grad():
        for node in reversed(order):
            delta = deltas.pop(id(node), None)
            if delta is None:  # pragma: no cover - every node in order leads to the output
                continue
            parents = node._parents
            step = Step(
                index=len(steps) + 1,
                label=labels[id(node)],
                op=node._op,
                inputs=[labels[id(p)] for p in parents],
                value=np.array(node.data),
                delta=np.array(delta),
            )
            steps.append(step)
            if node._vjps is None:
                continue
            values = (*[p.data for p in parents], node.data)
            needs = [parent.requires_grad for parent in parents]
            sent_to = input_gradients(node._vjps, delta, values, needs)
            if node.data.size == 1:
                local_to = input_gradients(node._vjps, np.ones_like(node.data), values, needs)
            for position, parent in enumerate(parents):
                if not needs[position]:
                    continue
                label = labels[id(parent)]
                sent = np.asarray(sent_to[position])
                step.passed[label] = step.passed[label] + sent if label in step.passed else sent
                if node.data.size == 1:
                    local = np.asarray(local_to[position])
                    step.local[label] = step.local[label] + local if label in step.local else local
                previous = deltas.get(id(parent))
                deltas[id(parent)] = sent if previous is None else previous + sent
    return Explanation(steps, max_elements)


def _labels(order: list[Tensor], named: dict[int, str]) -> dict[int, str]:
    """A label for every node and for each input that needs no gradient."""
    labels: dict[int, str] = {}
    counts: dict[str, int] = {}

    def label_of(tensor: Tensor) -> str:
        if id(tensor) in named:
            return named[id(tensor)]
        if tensor._op == "leaf":
            kind = "param" if tensor.requires_grad else "input"
        else:
            kind = tensor._op
        counts[kind] = counts.get(kind, 0) + 1
        return f"{kind}#{counts[kind]}"

    for node in order:
        for parent in node._parents:
            if id(parent) not in labels and not parent.requires_grad:
                labels[id(parent)] = label_of(parent)
        labels[id(node)] = label_of(node)
    return labels


def worked_example() -> tuple[Tensor, dict[str, Tensor]]:
    """The lectures' worked example: a 2-2-1 sigmoid network written neuron by neuron, with
    E = ½(y - t)², t = 1; returns the error and the names of its tensors for ``explain``."""

    def number(value: float, grad: bool = False) -> Tensor:
        return Tensor(np.float64(value), requires_grad=grad)

    x1, x2 = number(0.5), number(-1.5)
    w = {
        name: number(value, grad=True)
        for name, value in dict(w11=0.1, w12=0.4, w21=-0.3, w22=0.25, v1=0.7, v2=-0.5).items()
    }
    z1 = w["w11"] * x1 + w["w12"] * x2
    a1 = sigmoid(z1)
    z2 = w["w21"] * x1 + w["w22"] * x2
    a2 = sigmoid(z2)
    z3 = w["v1"] * a1 + w["v2"] * a2
    y = sigmoid(z3)
    residual = y - 1.0
    squared = residual**2
    error = 0.5 * squared
    names = {**w, "x1": x1, "x2": x2, "z1": z1, "a1": a1, "z2": z2, "a2": a2, "z3": z3, "y": y}
    names.update({"w11*x1": z1._parents[0], "w12*x2": z1._parents[1]})
    names.update({"w21*x1": z2._parents[0], "w22*x2": z2._parents[1]})
    names.update({"v1*a1": z3._parents[0], "v2*a2": z3._parents[1]})
    return error, {**names, "y-t": residual, "(y-t)^2": squared, "E": error}
