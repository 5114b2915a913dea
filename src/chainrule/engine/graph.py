"""The graph walk: recording switch, iterative topological sort and the reverse pass.

This module knows nothing about NumPy operations. A recorded node is a Tensor with a tuple of
``_parents`` and a tuple of ``_vjps``, one vector-Jacobian product per parent. Each vjp is called
as ``vjp(g, *parent_values, out_value)``: with NumPy arrays for a first-order pass (fast, nothing
recorded) or with the Tensors themselves when ``create_graph=True`` (the backward pass is then
recorded and can be differentiated again). A node whose inputs' gradients share work has one
``JointRule`` instead of the tuple: it is called once and returns all of them.
"""

from __future__ import annotations

import contextlib
import itertools
import operator
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np

if TYPE_CHECKING:
    from .tensor import Tensor

# What a vector-Jacobian product receives and returns: NumPy arrays in a plain backward pass,
# Tensors when the backward pass is itself recorded (create_graph=True), so that one rule,
# written once, serves both.
Value: TypeAlias = Any

_grad_enabled: ContextVar[bool] = ContextVar("chainrule_grad_enabled", default=True)


class FreedGraphError(RuntimeError):
    """Raised when backward reaches a node whose graph was freed by an earlier backward."""


class _GradMode(contextlib.ContextDecorator):
    """Sets the recording switch for a block or a decorated function, then restores it."""

    _enabled: bool

    def __new__(cls, function: Callable[..., Any] | None = None) -> Any:
        instance = super().__new__(cls)
        # Used bare as a decorator (@no_grad rather than @no_grad()).
        return instance(function) if function is not None else instance

    def _recreate_cm(self) -> _GradMode:
        # Each call of a decorated function gets its own token (recursion, threads).
        fresh: _GradMode = type(self)()
        return fresh

    def __enter__(self) -> None:
        self._token = _grad_enabled.set(self._enabled)

    def __exit__(self, *exc: object) -> None:
        _grad_enabled.reset(self._token)


class no_grad(_GradMode):  # noqa: N801  (named like the function it replaces in PyTorch)
    """Record nothing inside this block or decorated function.

    Examples
    --------
    >>> import chainrule as cr
    >>> w = cr.ones(3, requires_grad=True)
    >>> with cr.no_grad():
    ...     y = w * 2
    >>> y.requires_grad
    False
    """

    _enabled = False


class enable_grad(_GradMode):  # noqa: N801
    """Record operations again inside this block, even within ``no_grad``."""

    _enabled = True


def is_grad_enabled() -> bool:
    """True when operations on tensors that require grad are being recorded."""
    return _grad_enabled.get()


class JointRule:
    """One rule for all the inputs of a node, for ops whose gradients share work (the ReLU
    mask of ``linear_relu`` serves its three): ``rule(g, needs, *input_values, out_value)``
    returns one gradient per input, None where ``needs`` is False."""

    __slots__ = ("rule",)

    def __init__(self, rule: Callable[..., tuple[Any, ...]]) -> None:
        self.rule = rule


def input_gradients(
    vjps: Any, g: Any, values: tuple[Any, ...], needs: Sequence[bool]
) -> Sequence[Any]:
    """The gradient that ``g`` sends to each input of a node (None where not needed)."""
    if type(vjps) is JointRule:
        return vjps.rule(g, needs, *values)
    return [vjp(g, *values) if need else None for vjp, need in zip(vjps, needs)]


# Creation numbers give every tensor its place in a topological order (see toposort).
next_seq = itertools.count().__next__

# A node whose graph was freed keeps this marker in place of its vjps, so that a second backward
# through it fails with a clear message instead of silently treating it as a leaf.
FREED: Any = object()


def toposort(
    root: Tensor, stop_at: frozenset[int] = frozenset(), *, every_input: bool = False
) -> list[Tensor]:
    """Nodes that lead to ``root`` and require grad (with ``every_input``, also the inputs that
    do not, as a drawing of the graph shows them), each after all of its parents.

    A node is always created after its parents, so sorting the reachable nodes by their
    creation number ``_seq`` is a topological order. The search is a plain loop over a growing
    list (no recursion), so graphs of any depth work. Nodes whose id is in ``stop_at`` are
    included but their parents are not followed.
    """
    nodes = [root]
    seen = {id(root)}
    for node in nodes:
        if stop_at and id(node) in stop_at:
            continue
        for parent in node._parents:
            if every_input or parent.requires_grad:
                key = id(parent)
                if key not in seen:
                    seen.add(key)
                    nodes.append(parent)
    nodes.sort(key=_creation_order)
    return nodes


_creation_order = operator.attrgetter("_seq")


def _leading_to(order: list[Tensor], targets: frozenset[int]) -> list[Tensor]:
    """The nodes of a topological ``order`` from which one of ``targets`` can be reached."""
    reaches: set[int] = set()
    for node in order:
        key = id(node)
        if key in targets or any(id(parent) in reaches for parent in node._parents):
            reaches.add(key)
    return [node for node in order if id(node) in reaches]


def backward_pass(
    root: Tensor,
    seed: Any,
    *,
    retain_graph: bool,
    create_graph: bool,
    inputs: Sequence[Tensor] | None = None,
    tensor: type[Tensor],
) -> list[Any] | None:
    """Propagate the cotangent ``seed`` of ``root`` back through the recorded graph.

    Without ``inputs``, gradients are added to the ``.grad`` of every leaf that requires grad.
    With ``inputs``, nothing is written: the cotangents reaching those tensors are returned
    (``None`` where none arrives), as ``torch.autograd.grad`` does. ``tensor`` is the Tensor
    class (passed in: this module sits below the one that defines it), which leaf gradients are.
    """
    retain_graph = retain_graph or create_graph
    input_ids = frozenset(id(t) for t in inputs) if inputs is not None else frozenset()
    order = toposort(root, input_ids)
    if inputs is not None:
        # Only nodes on a path to the inputs are visited (and freed): a graph that the function
        # merely used, made outside it, stays intact.
        order = _leading_to(order, input_ids)
        relevant = {id(node) for node in order}
    grads: dict[int, Any] = {id(root): seed}
    found: dict[int, Any] = {}
    # Arrays already given to a leaf (and the caller's seed): another leaf receiving the same
    # array gets a copy, so no two gradients share memory.
    handed: set[int] = {id(seed)}
    token = _grad_enabled.set(create_graph)
    try:
        for node in reversed(order):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            vjps = node._vjps
            if input_ids and id(node) in input_ids:
                found[id(node)] = g
                continue
            if vjps is None:
                if inputs is None:
                    _accumulate_leaf(node, g, create_graph, handed, tensor)
                continue
            if vjps is FREED:
                raise FreedGraphError(
                    f"backward: the graph through this tensor (made by '{node._op}') was already "
                    "freed by an earlier backward(); pass retain_graph=True to the first "
                    "backward() to differentiate the same graph twice"
                )
            parents = node._parents
            if len(parents) == 1 and type(vjps) is tuple:
                # One input, the common case: a recorded node's only input requires grad.
                parent = parents[0]
                if parent._version > node._seq:
                    raise _modified_input(node)
                if create_graph:
                    grad = vjps[0](g, parent, node)
                else:
                    grad = vjps[0](g, parent.data, node.data)
                expected = parent.data
                if grad.shape != expected.shape or grad.dtype != expected.dtype:
                    raise _wrong_gradient(node, parent, grad)
                key = id(parent)
                previous = grads.get(key)
                grads[key] = grad if previous is None else previous + grad
            else:
                for parent in parents:
                    if parent._version > node._seq:
                        raise _modified_input(node)
                if create_graph:
                    values: tuple[Any, ...] = (*parents, node)
                else:
                    values = (*[p.data for p in parents], node.data)
                needs = [
                    parent.requires_grad and (inputs is None or id(parent) in relevant)
                    for parent in parents
                ]
                sent = input_gradients(vjps, g, values, needs)
                for parent, need, grad in zip(parents, needs, sent):
                    if need:
                        expected = parent.data
                        if grad.shape != expected.shape or grad.dtype != expected.dtype:
                            raise _wrong_gradient(node, parent, grad)
                        key = id(parent)
                        previous = grads.get(key)
                        grads[key] = grad if previous is None else previous + grad
            if not retain_graph:
                node._parents = ()
                node._vjps = FREED
    finally:
        _grad_enabled.reset(token)
    if inputs is None:
        return None
    return [found.get(id(t)) for t in inputs]


def _modified_input(node: Tensor) -> RuntimeError:
    changed = [
        f"input {i} (shape {p.shape})"
        for i, p in enumerate(node._parents)
        if p._version > node._seq
    ]
    return RuntimeError(
        f"backward: {', '.join(changed)} of '{node._op}' was modified in place after the forward "
        "pass (by setitem, an optimiser step or load_state_dict), so its gradient would be "
        "wrong; compute the forward pass again after changing it"
    )


def _wrong_gradient(node: Tensor, parent: Tensor, grad: Any) -> AssertionError:
    # The engine checks rather than repairs: a broadcast-compatible but wrong shape would
    # otherwise pass unnoticed.
    return AssertionError(
        f"backward: the vjp of '{node._op}' returned a gradient of shape {grad.shape} and "
        f"dtype {grad.dtype} for an input of shape {parent.shape} and dtype {parent.dtype}"
    )


def _accumulate_leaf(
    leaf: Tensor, g: Any, create_graph: bool, handed: set[int], tensor: type[Tensor]
) -> None:
    """Add ``g`` to ``leaf.grad``; repeated backward passes add up, as in PyTorch.

    A leaf's gradient must be private, since optimisers and users modify it in place. A
    cotangent array may be shared (add's vjp passes g on unchanged, reshape's gives a view),
    so it is copied unless it is a fresh array that no other leaf has received; with
    ``create_graph`` the copy is a recorded identity, so it stays differentiable. The gradient
    is a plain ``tensor`` (the Tensor class, passed in by the caller that imported it), also
    for a leaf of a subclass such as Parameter.
    """
    if isinstance(g, tensor):
        if create_graph:
            grad = +g  # a recorded copy (ops.positive), so the gradient stays differentiable
        else:
            grad = tensor._wrap(g.data.copy())
    elif type(g) is np.ndarray and g.base is None and g.flags.writeable and id(g) not in handed:
        grad = tensor._wrap(g)
    else:
        grad = tensor._wrap(np.array(g))
    handed.add(id(grad.data))
    if leaf.grad is None:
        leaf.grad = grad
    elif create_graph or leaf.grad.requires_grad or not leaf.grad.data.flags.writeable:
        leaf.grad = leaf.grad + grad
    else:
        leaf.grad.data += grad.data
