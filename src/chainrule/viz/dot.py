"""Draw the computation graph behind a tensor, as Graphviz DOT text.

``graph(loss)`` walks the recorded graph from ``loss`` back to everything it was computed from
and returns a :class:`DotGraph`. Its ``source`` is plain DOT text and needs nothing installed;
``render`` and ``pipe`` run Graphviz's ``dot`` program (Debian's ``graphviz`` package) to make a
PNG, SVG or PDF, and Jupyter shows the graph inline as SVG.

The three kinds of node look different: parameters (leaves that require grad) are green boxes,
inputs and constants (leaves that do not) grey ellipses, operations rounded blue boxes labelled
by their op. Edges run forward, from each input to the operation that used it, and the tensor
that was drawn has a thick border.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import atomic_write
from ..engine import graph as _graph
from ..engine.tensor import Tensor
from .names import names_by_id

__all__ = ["DotGraph", "GraphvizNotFoundError", "graph"]

_STYLES = {
    "parameter": 'shape=box, style=filled, fillcolor="#c8e6c9", color="#2e7d32"',
    "input": 'shape=ellipse, style=filled, fillcolor="#e0e0e0", color="#757575"',
    "operation": 'shape=box, style="rounded,filled", fillcolor="#bbdefb", color="#1565c0"',
}
_RANKDIRS = ("TB", "LR", "BT", "RL")
# Formats that need the dot program; "dot" (and its other suffix "gv") writes the source itself.
_RENDERED_FORMATS = ("png", "svg", "pdf")
_SOURCE_FORMATS = ("dot", "gv")


class GraphvizNotFoundError(RuntimeError):
    """Raised when rendering needs Graphviz's ``dot`` program and it is not installed."""


class DotGraph:
    """A computation graph as DOT text, which Graphviz's ``dot`` program can render.

    ``source`` (also ``str(graph)``) is the DOT text. ``render`` writes a picture file,
    ``pipe`` returns one as bytes, and Jupyter calls ``_repr_svg_`` to show the graph inline.
    """

    def __init__(self, source: str, node_count: int, edge_count: int) -> None:
        self.source = source
        self.node_count = node_count
        self.edge_count = edge_count

    def __str__(self) -> str:
        return self.source

    def __repr__(self) -> str:
        return f"DotGraph({self.node_count} nodes, {self.edge_count} edges)"

    def pipe(self, format: str = "svg") -> bytes:
        """The graph rendered by ``dot`` in ``format`` ("png", "svg" or "pdf"), as bytes.

        Raises
        ------
        GraphvizNotFoundError
            When the ``dot`` program is not installed.
        """
        if format not in _RENDERED_FORMATS:
            raise ValueError(f"pipe: format must be one of {_RENDERED_FORMATS}, got {format!r}")
        return _run_dot(self.source, format)

    def render(self, path: str | os.PathLike[str], format: str | None = None) -> Path:
        """Write the graph to ``path`` and return the path.

        Parameters
        ----------
        path
            The file to write. It is replaced atomically: the picture is made in memory, written
            to a temporary file beside it and renamed, so a failed render leaves no broken file.
        format
            "png", "svg" or "pdf" (rendered by ``dot``), or "dot" for the DOT text itself
            (needs no Graphviz). By default it is taken from the file's suffix.

        Raises
        ------
        GraphvizNotFoundError
            When a picture format is asked for and the ``dot`` program is not installed.
        """
        target = Path(path)
        if format is None:
            format = target.suffix.lstrip(".").lower()
            if format not in _RENDERED_FORMATS + _SOURCE_FORMATS:
                raise ValueError(
                    f"render: cannot tell the format from the file name {target.name!r}; "
                    f"pass format= one of {_RENDERED_FORMATS + ('dot',)}"
                )
        if format in _SOURCE_FORMATS:
            content = self.source.encode("utf-8")
        elif format in _RENDERED_FORMATS:
            content = _run_dot(self.source, format)
        else:
            raise ValueError(
                f"render: format must be one of {_RENDERED_FORMATS + ('dot',)}, got {format!r}"
            )
        atomic_write(target, lambda file: file.write(content))
        return target

    def _repr_svg_(self) -> str | None:
        # Without Graphviz, Jupyter falls back to the plain repr instead of showing an error.
        try:
            return _run_dot(self.source, "svg").decode("utf-8")
        except GraphvizNotFoundError:
            return None


def graph(
    tensor: Tensor,
    *,
    values: bool = False,
    grads: bool = False,
    names: Any = None,
    max_elements: int = 6,
    rankdir: str = "TB",
) -> DotGraph:
    """The computation graph that produced ``tensor``, as Graphviz DOT text.

    Every tensor the result was computed from is drawn once, however many paths lead to it,
    including inputs and constants that do not require grad. Parameters (leaves that require
    grad) are green boxes, inputs and constants grey ellipses, operations rounded blue boxes
    labelled by their op; edges point forward, from an input to the operation that used it (an
    operation that uses one tensor twice, as in ``x * x``, gets two edges from it).

    Parameters
    ----------
    tensor
        The result whose history is drawn, typically a loss.
    values
        Show each tensor's value: its numbers when it has at most ``max_elements`` elements,
        otherwise its minimum and maximum (every node always shows its shape and dtype).
    grads
        Show the ``.grad`` of each tensor that has one, in the same way (``grad None`` on a
        parameter that has none yet). Only leaves keep a ``.grad``, so this shows the parameters'
        gradients; call ``backward(retain_graph=True)`` first, since a plain ``backward()`` frees
        the graph it ran through.
    names
        Labels for tensors: a mapping ``{name: tensor}`` (or ``{tensor: name}``), pairs
        ``(name, tensor)`` such as ``model.named_parameters()``, or a Module itself, whose
        ``named_parameters()`` are used. Intermediate results can be named too.
    max_elements
        The largest tensor whose numbers are written out in full.
    rankdir
        Graphviz's layout direction: "TB" (inputs at the top, the default), "LR", "BT" or "RL".

    Returns
    -------
    DotGraph
        ``.source`` (also ``str()``) is the DOT text; ``.render(path)`` writes a PNG, SVG or
        PDF with Graphviz's ``dot`` program.

    Raises
    ------
    chainrule.FreedGraphError
        When part of the graph was freed by ``backward()``: its operations no longer know their
        inputs, so the graph cannot be drawn. Draw before calling ``backward()``, or pass
        ``retain_graph=True`` to it.

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.tensor([0.5, -1.0], requires_grad=True)
    >>> x = cr.tensor([1.0, 2.0])
    >>> dot = cr.viz.graph((w * x).sum(), names={"w": w, "x": x})
    >>> print(dot.source.splitlines()[0])
    digraph chainrule {
    >>> dot
    DotGraph(4 nodes, 3 edges)
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"graph: expected a Tensor, got {type(tensor).__name__}")
    if isinstance(max_elements, bool) or not isinstance(max_elements, (int, np.integer)):
        raise TypeError(f"graph: max_elements must be an integer, got {max_elements!r}")
    if max_elements < 0:
        raise ValueError(f"graph: max_elements must be >= 0, got {max_elements}")
    if rankdir not in _RANKDIRS:
        raise ValueError(f"graph: rankdir must be one of {_RANKDIRS}, got {rankdir!r}")
    labels = names_by_id(names, "graph")
    nodes = _ancestors(tensor)
    ids = {id(node): f"n{index}" for index, node in enumerate(nodes)}
    lines = [
        "digraph chainrule {",
        f"  graph [rankdir={rankdir}];",
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [color="#555555", arrowsize=0.7];',
    ]
    edge_count = 0
    for node in nodes:
        label = _label(node, labels.get(id(node)), values, grads, int(max_elements))
        emphasis = ", penwidth=2.5" if node is tensor else ""
        lines.append(f"  {ids[id(node)]} [label={label}, {_STYLES[_kind(node)]}{emphasis}];")
    for node in nodes:
        for parent in node._parents:
            lines.append(f"  {ids[id(parent)]} -> {ids[id(node)]};")
            edge_count += 1
    lines.append("}")
    return DotGraph("\n".join(lines) + "\n", len(nodes), edge_count)


# ------------------------------------------------------------------------------ the walk
def _ancestors(root: Tensor) -> list[Tensor]:
    """``root`` and every tensor it was computed from (inputs that do not require grad too),
    each once, parents before children."""
    nodes = _graph.toposort(root, every_input=True)
    for node in nodes:
        if node._vjps is _graph.FREED:
            raise _graph.FreedGraphError(
                f"graph: the graph through this tensor (made by '{node._op}') was freed by "
                "backward(), so its inputs are gone; draw the graph before backward(), or call "
                "backward(retain_graph=True) to keep it"
            )
    return nodes


def _kind(node: Tensor) -> str:
    if node._vjps is not None:
        return "operation"
    return "parameter" if node.requires_grad else "input"


# ------------------------------------------------------------------------------ labels
def _label(node: Tensor, name: str | None, values: bool, grads: bool, max_elements: int) -> str:
    kind = _kind(node)
    lines = []
    if name is not None:
        lines.append(name)
    if kind == "operation":
        lines.append(node._op)
    elif name is None:
        if kind == "parameter":
            lines.append("parameter")
        elif node.data.size == 1:
            lines.append("constant")
        else:
            lines.append("input")
    lines.append(_describe_shape(node.data))
    # An unnamed one-element constant is identified by its value, so it is always shown.
    if values or (kind == "input" and name is None and node.data.size == 1):
        lines.append(_describe_values(node.data, max_elements))
    if grads:
        if node.grad is not None:
            lines.append("grad " + _describe_values(node.grad.data, max_elements))
        elif kind == "parameter":
            lines.append("grad None")
    return _quote(lines)


def _describe_shape(array: np.ndarray[Any, Any]) -> str:
    shape = "scalar" if array.ndim == 0 else str(array.shape)
    return f"{shape} {array.dtype}"


def _format_float(value: Any) -> str:
    return f"{float(value):.4g}"


# Plain str for integers and booleans: array2string would pad them to a common width.
_NUMBER_FORMATS: Any = {"float_kind": _format_float, "int_kind": str, "bool": str}


def _describe_values(array: np.ndarray[Any, Any], max_elements: int) -> str:
    if array.size == 0:
        return "(empty)"
    if array.size <= max_elements:
        text = np.array2string(array, separator=", ", formatter=_NUMBER_FORMATS)
        # One line: array2string breaks the rows of a matrix.
        return " ".join(text.split())
    low = float(np.min(array))
    high = float(np.max(array))
    return f"min {low:.4g}  max {high:.4g}"


def _quote(lines: list[str]) -> str:
    """A DOT string literal whose label shows ``lines`` one under another.

    Inside a DOT string a double quote must be written \\" and, since Graphviz reads backslash
    sequences such as \\n and \\l in labels, a backslash as \\\\; line breaks become \\n.
    Graphviz also decodes HTML entities such as &amp; in labels, so & itself is written &amp;.
    """
    escaped = []
    for line in lines:
        text = line.replace("&", "&amp;").replace("\\", "\\\\").replace('"', '\\"')
        text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
        escaped.append(text)
    return '"' + "\\n".join(escaped) + '"'


# ------------------------------------------------------------------------------ rendering
def _run_dot(source: str, format: str) -> bytes:
    # Imported here so that ``import chainrule`` does not pay for them.
    import shutil
    import subprocess

    executable = shutil.which("dot")
    if executable is None:
        raise GraphvizNotFoundError(
            "rendering needs Graphviz's 'dot' program, which is not on PATH; install Graphviz "
            "(on Debian or Ubuntu: apt-get install graphviz) or use the DOT text in .source"
        )
    result = subprocess.run(
        [executable, f"-T{format}"], input=source.encode("utf-8"), capture_output=True, check=False
    )
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(f"dot -T{format} failed with exit status {result.returncode}: {message}")
    return result.stdout
