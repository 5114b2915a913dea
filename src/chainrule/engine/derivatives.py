"""The functional API: gradients, Jacobians, Hessians and Hessian-vector products of functions.

Each transform calls ``fun`` on fresh input nodes and asks the engine for the cotangents that
reach them, without touching any ``.grad``. When an input already takes part in an outer
differentiation (a Tensor that requires grad, as inside ``grad(grad(f))``), the backward pass is
recorded so that the outer transform can differentiate the result again.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import Any

import numpy as np

from ..ops import positive, stack
from ..ops import sum as tensor_sum
from . import graph as _graph
from .tensor import Tensor, as_tensor


def _as_input(arg: Any) -> tuple[Tensor, bool]:
    """A node to differentiate with respect to, and whether the result must stay
    differentiable (inside another transform, or for an argument that requires grad)."""
    if isinstance(arg, Tensor) and arg.requires_grad and _graph.is_grad_enabled():
        # A new node on top of the outer variable keeps the outer graph connected.
        return positive(arg), True
    leaf = Tensor._wrap(np.array(as_tensor(arg).data))
    leaf.requires_grad_(True)
    return leaf, False


def _prepare(args: Sequence[Any], argnums: Sequence[int]) -> tuple[list[Any], list[Tensor], bool]:
    call_args = list(args)
    inputs = []
    nested = False
    for i in argnums:
        if not -len(args) <= i < len(args):
            raise ValueError(
                f"argnums {i} is out of range for a function called with {len(args)} arguments"
            )
        node, watched = _as_input(args[i])
        call_args[i] = node
        inputs.append(node)
        nested = nested or watched
    return call_args, inputs, nested or _depth.get() > 0


# How many transforms are evaluating their function right now. Inside one, another transform's
# result may be differentiated again (grad of grad, or a closure over the outer variable), so
# its backward pass is recorded; at the top level it is not, which keeps grad(f) fast.
_depth: ContextVar[int] = ContextVar("chainrule_transform_depth", default=0)


@contextlib.contextmanager
def _evaluating() -> Iterator[None]:
    """Record operations while a transform calls its function, one level deeper."""
    depth = _depth.set(_depth.get() + 1)
    recording = _graph._grad_enabled.set(True)
    try:
        yield
    finally:
        _graph._grad_enabled.reset(recording)
        _depth.reset(depth)


def _cotangents(
    out: Tensor, seed: Any, inputs: list[Tensor], nested: bool, retain: bool
) -> list[Tensor]:
    """The cotangents of ``inputs`` for the cotangent ``seed`` of ``out`` (zeros if unreached)."""
    if not out.requires_grad:
        return [Tensor._wrap(np.zeros_like(node.data)) for node in inputs]
    if nested:
        seed = Tensor._wrap(seed)
    found = _graph.backward_pass(
        out, seed, retain_graph=retain or nested, create_graph=nested, inputs=inputs, tensor=Tensor
    )
    assert found is not None
    results = []
    for node, g in zip(inputs, found):
        if g is None:
            results.append(Tensor._wrap(np.zeros_like(node.data)))
        elif isinstance(g, Tensor):
            results.append(g)
        else:
            results.append(Tensor._wrap(np.array(g)))
    return results


def _scalar_output(value: Any, name: str) -> Tensor:
    out = as_tensor(value)
    if out.size != 1:
        raise ValueError(f"{name}: fun must return a scalar, got a tensor of shape {out.shape}")
    return out


def value_and_grad(
    fun: Callable[..., Any], argnums: int | Sequence[int] = 0
) -> Callable[..., tuple[Tensor, Any]]:
    """A function returning ``(fun(*args), gradient)`` for a scalar-valued ``fun``.

    The gradient is a Tensor for an int ``argnums`` and a tuple of Tensors for a sequence.
    """
    single = isinstance(argnums, (int, np.integer))
    if isinstance(argnums, (int, np.integer)):
        positions = [int(argnums)]
    else:
        positions = [int(a) for a in argnums]

    def value_and_grad_fun(*args: Any, **kwargs: Any) -> tuple[Tensor, Any]:
        call_args, inputs, nested = _prepare(args, positions)
        with _evaluating():
            out = _scalar_output(fun(*call_args, **kwargs), "grad")
        grads = _cotangents(out, np.ones_like(out.data), inputs, nested, retain=False)
        value = out if nested else out.detach()
        return value, grads[0] if single else tuple(grads)

    return value_and_grad_fun


def grad(fun: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The gradient of a scalar-valued ``fun`` with respect to argument(s) ``argnums``.

    Transforms nest: ``grad(grad(f))(x)`` is the second derivative of a scalar function.

    Examples
    --------
    >>> import chainrule as cr
    >>> df = cr.grad(lambda x: x ** 3)
    >>> float(df(2.0)), float(cr.grad(df)(2.0))
    (12.0, 12.0)
    """
    value_and_grad_fun = value_and_grad(fun, argnums)

    def grad_fun(*args: Any, **kwargs: Any) -> Any:
        return value_and_grad_fun(*args, **kwargs)[1]

    return grad_fun


def jacobian(fun: Callable[..., Any], argnums: int = 0) -> Callable[..., Tensor]:
    """The Jacobian of ``fun``, of shape ``out.shape + x.shape`` (one backward per output)."""

    def jacobian_fun(*args: Any, **kwargs: Any) -> Tensor:
        call_args, inputs, nested = _prepare(args, [argnums])
        with _evaluating():
            out = as_tensor(fun(*call_args, **kwargs))
        rows = []
        for k in range(out.size):
            seed = np.zeros(out.size, dtype=out.data.dtype)
            seed[k] = 1
            (row,) = _cotangents(out, seed.reshape(out.shape), inputs, nested, retain=True)
            rows.append(row)
        shape = out.shape + inputs[0].shape
        if nested:
            if not rows:
                return Tensor._wrap(np.zeros(shape, dtype=out.data.dtype))
            return stack(rows).reshape(shape)
        return Tensor._wrap(np.array([row.data for row in rows]).reshape(shape))

    return jacobian_fun


def hessian(fun: Callable[..., Any], argnums: int = 0) -> Callable[..., Tensor]:
    """The Hessian of a scalar-valued ``fun``, of shape ``x.shape + x.shape``.

    Its eigenvalues at a critical point tell a minimum (all > 0) from a maximum (all < 0) or a
    saddle (mixed signs).
    """
    return jacobian(grad(fun, argnums), argnums)


def hvp(fun: Callable[..., Any], x: Any, v: Any) -> Tensor:
    """The Hessian of scalar-valued ``fun`` at ``x`` times the vector ``v``, without forming it.

    Computed as the gradient of <∇f(x), v> by two reverse passes.
    """
    node, nested = _as_input(x)
    nested = nested or _depth.get() > 0
    direction = as_tensor(v, like=node)
    if direction.shape != node.shape:
        raise ValueError(f"hvp: v has shape {direction.shape} but x has shape {node.shape}")
    with _evaluating():
        out = _scalar_output(fun(node), "hvp")
        (gradient,) = _cotangents(out, np.ones_like(out.data), [node], nested=True, retain=False)
        inner = tensor_sum(gradient * direction)
    (product,) = _cotangents(inner, np.ones_like(inner.data), [node], nested, retain=False)
    return product
