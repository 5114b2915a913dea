"""The Tensor: an n-dimensional array that records the operations applied to it."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

from . import graph as _graph
from .dtypes import get_default_dtype, is_float

_grad_enabled = _graph._grad_enabled
_next_seq = _graph.next_seq


# What the ops accept where a tensor is meant: a Tensor, or anything NumPy turns into an array
# (an array, a number, nested lists), which becomes a constant of the graph.
TensorLike: TypeAlias = "Tensor | ArrayLike"
# An axis argument, as NumPy takes it: one axis, several, or None for all.
Axis: TypeAlias = "int | tuple[int, ...] | None"


class Tensor:
    """An n-dimensional array with an optional gradient and a link to the graph that made it.

    ``data`` is a ``numpy.ndarray``; ``grad`` is ``None`` or a Tensor of the same shape and dtype,
    filled by ``backward()`` on leaves that require grad. Tensors made by an operation on tensors
    that require grad remember their parents and one vector-Jacobian product per parent.

    Examples
    --------
    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    tensor([2., 4., 6.])
    """

    __slots__ = (
        "data",
        "grad",
        "requires_grad",
        "_parents",
        "_vjps",
        "_op",
        "_seq",
        "_version",
        "__weakref__",
    )

    # NumPy defers binary operators to us (ndarray * Tensor gives a Tensor).
    __array_priority__ = 1000.0

    data: NDArray[Any]
    grad: Tensor | None
    requires_grad: bool
    _parents: tuple[Tensor, ...]
    _vjps: Any
    _op: str
    _seq: int
    # The creation clock's reading at the last in-place change of ``data`` made through
    # chainrule (setitem, optimiser steps, load_state_dict, init), 0 if none. An input whose
    # _version exceeds a node's _seq changed after that node was computed.
    _version: int

    def __init__(
        self, data: ArrayLike, dtype: DTypeLike | None = None, requires_grad: bool = False
    ) -> None:
        self.data = _to_array(data, dtype)
        self.grad = None
        self.requires_grad = False
        self._parents = ()
        self._vjps = None
        self._op = "leaf"
        self._seq = _next_seq()
        self._version = 0
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, array: Any) -> Tensor:
        """A leaf around an existing array, without copying or checks (internal fast path)."""
        tensor = cls.__new__(cls)
        tensor.data = array if type(array) is np.ndarray else np.asarray(array)
        tensor.grad = None
        tensor.requires_grad = False
        tensor._parents = ()
        tensor._vjps = None
        tensor._op = "leaf"
        tensor._seq = _next_seq()
        tensor._version = 0
        return tensor

    @classmethod
    def _from_op(
        cls,
        out: Any,
        parents: tuple[Tensor, ...],
        vjps: tuple[Any, ...] | _graph.JointRule,
        op: str,
    ) -> Tensor:
        """Wrap an operation's result, recording the node only if a parent requires grad.
        ``vjps`` has one rule per parent, or is one JointRule for all of them."""
        tensor = cls.__new__(cls)
        tensor.data = out if type(out) is np.ndarray else np.asarray(out)
        tensor.grad = None
        tensor._op = op
        tensor._seq = _next_seq()
        tensor._version = 0
        if _grad_enabled.get():
            for parent in parents:
                if parent.requires_grad:
                    tensor.requires_grad = True
                    tensor._parents = parents
                    tensor._vjps = vjps
                    return tensor
        tensor.requires_grad = False
        tensor._parents = ()
        tensor._vjps = None
        return tensor

    # ----------------------------------------------------------------- array-like properties
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def T(self) -> Tensor:
        """The tensor with its axes reversed, as ``ndarray.T``."""
        return transpose(self)

    @property
    def is_leaf(self) -> bool:
        """True for tensors not made by a recorded operation."""
        return self._vjps is None

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return len(self.data)

    def __array__(self, dtype: DTypeLike | None = None, copy: bool | None = None) -> NDArray[Any]:
        if dtype is not None and np.dtype(dtype) != self.data.dtype:
            return self.data.astype(dtype)
        if copy:
            return self.data.copy()
        return self.data

    def numpy(self) -> NDArray[Any]:
        """The underlying array (shared, not copied)."""
        return self.data

    def item(self) -> Any:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(
                f"item: only one-element tensors can be converted to a Python number, "
                f"got shape {self.shape}"
            )
        return self.data.item()

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise ValueError(
                f"the truth value of a tensor of shape {self.shape} is ambiguous; "
                "use .any() or .all()"
            )
        return bool(self.data.item())

    def any(self) -> bool:
        return bool(self.data.any())

    def all(self) -> bool:
        return bool(self.data.all())

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extras = []
        if self.data.dtype != get_default_dtype():
            extras.append(f"dtype={self.data.dtype}")
        if self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body, *extras]) + ")"

    __hash__ = object.__hash__

    # ----------------------------------------------------------------------- autodiff API
    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Mark this leaf as a variable whose gradient ``backward()`` fills in."""
        if requires_grad and not is_float(self.data.dtype):
            raise TypeError(
                f"only floating-point tensors can require gradients, got dtype {self.data.dtype}"
            )
        if not requires_grad and self._vjps is not None and self._vjps is not _graph.FREED:
            raise RuntimeError(
                "requires_grad_(False) is only allowed on leaf tensors; use .detach() instead"
            )
        self.requires_grad = requires_grad
        return self

    def _mark_modified(self) -> None:
        """Record an in-place change of ``data``, so graphs that used the old values refuse to
        differentiate through them."""
        self._version = _next_seq()

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data, cut off from the graph."""
        return Tensor._wrap(self.data)

    def backward(
        self,
        grad: ArrayLike | Tensor | None = None,
        retain_graph: bool = False,
        create_graph: bool = False,
    ) -> None:
        """Add the gradient of this tensor to ``.grad`` of every leaf that requires grad.

        Parameters
        ----------
        grad
            The cotangent of this tensor (same shape). May be omitted only for a one-element
            tensor, where it defaults to 1.
        retain_graph
            Keep the graph so that ``backward`` can run through it again. By default it is
            freed, which keeps training loops from holding on to memory.
        create_graph
            Record the backward pass itself, so that the gradients can be differentiated again
            (implies ``retain_graph``).
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward: this tensor does not require grad and has no graph; make a leaf it "
                "depends on with requires_grad=True (and compute it outside no_grad())"
            )
        seed: Any = self._cotangent(grad, "backward")
        if create_graph:
            # A Tensor cotangent stays in the graph (it may itself be differentiated).
            seed = astype(grad, self.data.dtype) if isinstance(grad, Tensor) else Tensor._wrap(seed)
        _graph.backward_pass(
            self, seed, retain_graph=retain_graph, create_graph=create_graph, tensor=Tensor
        )

    def _cotangent(self, grad: Any, caller: str) -> np.ndarray:
        """The array that seeds a backward pass from this tensor: ``grad`` in this tensor's
        shape and dtype, or 1 for a one-element tensor when ``grad`` is None."""
        if grad is None:
            if self.data.size != 1:
                raise ValueError(
                    f"{caller}: grad can be implicitly created only for a one-element tensor, "
                    f"but this tensor has shape {self.shape}; pass grad= of that shape"
                )
            return np.ones_like(self.data)
        seed = np.asarray(grad.data if isinstance(grad, Tensor) else grad)
        if seed.shape != self.shape:
            raise ValueError(
                f"{caller}: grad has shape {seed.shape} but the tensor has shape {self.shape}"
            )
        return seed.astype(self.data.dtype, copy=False)

    # ------------------------------------------------------------------------- operators
    # The operators + and * and the methods that only delegate (t.exp() is exp(t)) are the ops
    # themselves, bound at the end of this module: a saved call matters on small tensors.
    if TYPE_CHECKING:

        def __add__(self, other: Any) -> Tensor: ...
        def __radd__(self, other: Any) -> Tensor: ...
        def __mul__(self, other: Any) -> Tensor: ...
        def __rmul__(self, other: Any) -> Tensor: ...

        # Methods that are the ops themselves (also bound at the end of this module).
        def __neg__(self) -> Tensor: ...
        def __pos__(self) -> Tensor: ...
        def __abs__(self) -> Tensor: ...
        def __getitem__(self, index: Any) -> Tensor: ...
        def __matmul__(self, other: Any) -> Tensor: ...
        def sum(self, axis: Any = None, keepdims: bool = False) -> Tensor: ...
        def mean(self, axis: Any = None, keepdims: bool = False) -> Tensor: ...
        def max(self, axis: Any = None, keepdims: bool = False) -> Tensor: ...
        def min(self, axis: Any = None, keepdims: bool = False) -> Tensor: ...
        def var(self, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Tensor: ...
        def swapaxes(self, axis1: int, axis2: int) -> Tensor: ...
        def astype(self, dtype: DTypeLike) -> Tensor: ...
        def squeeze(self, axis: Any = None) -> Tensor: ...
        def exp(self) -> Tensor: ...
        def log(self) -> Tensor: ...
        def sqrt(self) -> Tensor: ...
        def abs(self) -> Tensor: ...
        def tanh(self) -> Tensor: ...
        def sigmoid(self) -> Tensor: ...
        def relu(self) -> Tensor: ...
        def sign(self) -> Tensor: ...
        def clip(self, a_min: Any = None, a_max: Any = None) -> Tensor: ...
        def logsumexp(self, axis: Any = None, keepdims: bool = False) -> Tensor: ...
        def softmax(self, axis: int = -1) -> Tensor: ...
        def log_softmax(self, axis: int = -1) -> Tensor: ...
        def matmul(self, other: Any) -> Tensor: ...

    def __sub__(self, other: Any) -> Tensor:
        return subtract(self, other)

    def __rsub__(self, other: Any) -> Tensor:
        return subtract(other, self)

    def __truediv__(self, other: Any) -> Tensor:
        return divide(self, other)

    def __rtruediv__(self, other: Any) -> Tensor:
        return divide(other, self)

    def __pow__(self, other: Any) -> Tensor:
        return power(self, other)

    def __rpow__(self, other: Any) -> Tensor:
        return power(other, self)

    def __rmatmul__(self, other: Any) -> Tensor:
        return matmul(other, self)

    def __setitem__(self, index: Any, value: Any) -> None:
        if self.requires_grad:
            raise RuntimeError(
                "setitem: in-place assignment into a tensor that requires grad would corrupt "
                "its gradient; assign into .data (outside the graph) or build a new tensor"
            )
        self.data[index] = value.data if isinstance(value, Tensor) else value
        self._mark_modified()

    # Comparisons give boolean tensors that carry no gradient.
    def __lt__(self, other: Any) -> Tensor:
        return Tensor._wrap(self.data < _value(other))

    def __le__(self, other: Any) -> Tensor:
        return Tensor._wrap(self.data <= _value(other))

    def __gt__(self, other: Any) -> Tensor:
        return Tensor._wrap(self.data > _value(other))

    def __ge__(self, other: Any) -> Tensor:
        return Tensor._wrap(self.data >= _value(other))

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return Tensor._wrap(self.data == _value(other))

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return Tensor._wrap(self.data != _value(other))

    # ---------------------------------------------------------------- methods NumPy has
    def argmax(self, axis: int | None = None) -> Tensor:
        return Tensor._wrap(np.argmax(self.data, axis=axis))

    def argmin(self, axis: int | None = None) -> Tensor:
        return Tensor._wrap(np.argmin(self.data, axis=axis))

    def reshape(self, *shape: Any) -> Tensor:
        if len(shape) == 1 and not isinstance(shape[0], (int, np.integer)):
            return reshape(self, tuple(shape[0]))
        return reshape(self, shape)

    def transpose(self, *axes: Any) -> Tensor:
        if len(axes) == 1 and (axes[0] is None or not isinstance(axes[0], (int, np.integer))):
            return transpose(self, axes[0])
        return transpose(self, axes if axes else None)

    def flatten(self) -> Tensor:
        return reshape(self, (-1,))

    # ------------------------------------------------------------- the NumPy protocols
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        if method == "__call__" and not kwargs:
            op = _numpy_protocol.UFUNCS.get(ufunc)
            if op is not None:
                return op(*inputs)
        return _numpy_protocol.fallback(
            getattr(ufunc, method), inputs, kwargs, name=ufunc.__name__ + _method_suffix(method)
        )

    def __array_function__(
        self, func: Any, types: Any, args: Sequence[Any], kwargs: dict[str, Any]
    ) -> Any:
        op = _numpy_protocol.FUNCTIONS.get(func)
        if op is not None:
            return op(*args, **kwargs)
        return _numpy_protocol.fallback(func, args, kwargs)


def _method_suffix(method: str) -> str:
    return "" if method == "__call__" else f".{method}"


def _value(x: Any) -> Any:
    """The array inside a Tensor, or ``x`` itself."""
    return x.data if isinstance(x, Tensor) else x


def _to_array(data: Any, dtype: DTypeLike | None) -> NDArray[Any]:
    """Convert user data, applying the default dtype to Python numbers and lists."""
    if isinstance(data, Tensor):
        data = data.data
    if dtype is not None:
        array = np.array(data, dtype=dtype)
    elif isinstance(data, (np.ndarray, np.generic)):
        array = np.array(data)
    else:
        array = np.array(data)
        if array.dtype.kind in "iuf":
            array = array.astype(get_default_dtype())
    if array.dtype.kind not in "biuf":
        raise TypeError(f"tensor: cannot make a numeric tensor from data of dtype {array.dtype}")
    return array


def as_tensor(x: Any, like: Tensor | None = None) -> Tensor:
    """Return ``x`` if it is a Tensor, else a constant Tensor made from it.

    A Python number next to a floating ``like`` takes ``like``'s dtype, so that scalars never
    change a tensor's dtype; NumPy arrays keep their own dtype.
    """
    if isinstance(x, Tensor):
        return x
    kind = type(x)
    if (kind is float or kind is int) and like is not None and like.data.dtype.kind == "f":
        # The common case (t * 0.5) first, without the slower checks below.
        return Tensor._wrap(np.asarray(x, dtype=like.data.dtype))
    if isinstance(x, numbers.Number) and not isinstance(x, np.generic):
        if like is not None:
            like_dtype = like.data.dtype
            if is_float(like_dtype):
                return Tensor._wrap(np.asarray(x, dtype=like_dtype))
            if isinstance(x, bool) or (isinstance(x, int) and like_dtype.kind in "iu"):
                return Tensor._wrap(np.asarray(x, dtype=like_dtype))
        if isinstance(x, bool):
            return Tensor._wrap(np.asarray(x))
        return Tensor._wrap(np.asarray(x, dtype=get_default_dtype()))
    if isinstance(x, (np.ndarray, np.generic)):
        return Tensor._wrap(np.asarray(x))
    return Tensor(x)


# The operations are defined on top of Tensor, so they are imported after it.
from ..ops import (  # noqa: E402
    abs,
    add,
    astype,
    clip,
    divide,
    exp,
    getitem,
    log,
    log_softmax,
    logsumexp,
    matmul,
    max,
    mean,
    min,
    multiply,
    negative,
    positive,
    power,
    relu,
    reshape,
    sigmoid,
    sign,
    softmax,
    sqrt,
    squeeze,
    subtract,
    sum,
    swapaxes,
    tanh,
    transpose,
    var,
)
from . import numpy_protocol as _numpy_protocol  # noqa: E402

Tensor.__add__ = Tensor.__radd__ = add  # type: ignore[method-assign]
Tensor.__mul__ = Tensor.__rmul__ = multiply  # type: ignore[method-assign]
Tensor.__neg__ = negative  # type: ignore[method-assign]
Tensor.__pos__ = positive  # type: ignore[method-assign]
Tensor.__abs__ = abs  # type: ignore[method-assign]
Tensor.__getitem__ = getitem  # type: ignore[method-assign]
Tensor.__matmul__ = matmul  # type: ignore[method-assign]
Tensor.sum = sum  # type: ignore[method-assign,assignment]
Tensor.mean = mean  # type: ignore[method-assign,assignment]
Tensor.max = max  # type: ignore[method-assign,assignment]
Tensor.min = min  # type: ignore[method-assign,assignment]
Tensor.var = var  # type: ignore[method-assign,assignment]
Tensor.swapaxes = swapaxes  # type: ignore[method-assign,assignment]
Tensor.astype = astype  # type: ignore[method-assign,assignment]
Tensor.squeeze = squeeze  # type: ignore[method-assign,assignment]
Tensor.exp = exp  # type: ignore[method-assign,assignment]
Tensor.log = log  # type: ignore[method-assign,assignment]
Tensor.sqrt = sqrt  # type: ignore[method-assign,assignment]
Tensor.abs = abs  # type: ignore[method-assign,assignment]
Tensor.tanh = tanh  # type: ignore[method-assign,assignment]
Tensor.sigmoid = sigmoid  # type: ignore[method-assign,assignment]
Tensor.relu = relu  # type: ignore[method-assign,assignment]
Tensor.sign = sign  # type: ignore[method-assign,assignment]
Tensor.clip = clip  # type: ignore[method-assign,assignment]
Tensor.logsumexp = logsumexp  # type: ignore[method-assign,assignment]
Tensor.softmax = softmax  # type: ignore[method-assign,assignment]
Tensor.log_softmax = log_softmax  # type: ignore[method-assign,assignment]
Tensor.matmul = matmul  # type: ignore[method-assign,assignment]
