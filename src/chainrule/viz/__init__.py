"""Seeing how a gradient came to be: the computation graph as Graphviz DOT (``graph``), the
backward pass as a table (``explain``) and gradient diagnostics (``diagnostics.diagnose``)."""

from .dot import DotGraph, GraphvizNotFoundError, graph

__all__ = ["DotGraph", "GraphvizNotFoundError", "graph"]
