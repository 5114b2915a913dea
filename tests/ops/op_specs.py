"""The single table that drives the op tests: one spec per name in ``chainrule.ops.__all__``.

A spec draws a ``Case`` with hypothesis: the float64 arrays that the op is differentiated with
respect to, and every other argument (axes, shapes, indices, Python-number operands, the call
form). It then says how to call the op on tensors (``apply``) and what plain NumPy computes for
the same arguments (``reference``).

The domains (the interval of each input, away from kinks and ties) are the package's one table,
``chainrule.check.domains.DOMAINS``, which ``chainrule gradcheck`` draws from too; every spec
takes its elements from it (``_elements``), and a test checks that every case any spec draws
lies in it (kinks and ties included). The one deliberate tie is
``maximum(x, x)`` and ``minimum(x, x)``: the function is then just x, and the documented tie
rule (g/2 to each operand) must add up to g.
"""

from __future__ import annotations

import dataclasses
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.typing import NDArray

from chainrule import ops
from chainrule.check.domains import DOMAINS, KINK_GAP, TIE_GAP, Interval

Arrays = Sequence[NDArray[Any]]
Params = Mapping[str, Any]

# Broadcast pairs that must always be among the drawn cases, besides random ones.
BROADCAST_PAIRS: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...] = (
    ((3, 4), (4,)),
    ((4,), (3, 4)),
    ((3, 1), (1, 4)),
    ((), (2, 3)),
    ((2, 3), ()),
    ((2, 1, 3), (4, 1)),
)
# The domains themselves (intervals, kinks, ties) are the package's one table,
# chainrule.check.domains; this file adds how hypothesis explores shapes, axes and call forms.


@dataclass(frozen=True)
class Case:
    """One drawn example: the differentiable float64 arrays and the other arguments."""

    arrays: tuple[NDArray[Any], ...]
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OpSpec:
    """How to draw, call and check one op."""

    name: str
    cases: st.SearchStrategy[Case]
    apply: Callable[[Sequence[Any], Params], Any]
    reference: Callable[[Arrays, Params], Any]
    # Cases always run besides the drawn ones: layouts a few random draws could miss.
    examples: tuple[Case, ...] = ()


# --------------------------------------------------------------------------- value helpers
def _floats(low: float, high: float) -> st.SearchStrategy[float]:
    return st.floats(low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def _signed(low: float, high: float) -> st.SearchStrategy[float]:
    """Values whose magnitude lies in [low, high], of either sign."""
    return st.tuples(_floats(low, high), st.booleans()).map(
        lambda pair: -pair[0] if pair[1] else pair[0]
    )


def _lattice(offset: float) -> st.SearchStrategy[float]:
    """0.1·k + offset + jitter (|jitter| <= 0.02): two lattices with offsets 0 and 0.05 never
    come closer than 0.01, so ``maximum`` and ``minimum`` of their values never tie."""
    return st.tuples(st.integers(-20, 20), _floats(-0.02, 0.02)).map(
        lambda pair: 0.1 * pair[0] + offset + pair[1]
    )


def _elements(interval: Interval) -> st.SearchStrategy[float]:
    """The values of ``interval`` (chainrule.check.domains) as a hypothesis strategy; kinks and
    ties are handled by the case builders (``_away_from``, ``_spread``)."""
    if interval.lattice is not None:
        return _lattice(interval.lattice)
    if interval.magnitude:
        return _signed(interval.low, interval.high)
    return _floats(interval.low, interval.high)


def _shapes(min_dims: int = 0, max_dims: int = 3, max_side: int = 4) -> st.SearchStrategy[Any]:
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side)


def _array(shape: tuple[int, ...], elements: st.SearchStrategy[float]) -> Any:
    return hnp.arrays(np.float64, shape, elements=elements)


def _broadcast_pairs() -> st.SearchStrategy[tuple[tuple[int, ...], tuple[int, ...]]]:
    drawn = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4)
    return st.one_of(st.sampled_from(BROADCAST_PAIRS), drawn.map(lambda s: s.input_shapes))


def _away_from(x: NDArray[Any], points: Sequence[float], gap: float = KINK_GAP) -> NDArray[Any]:
    """x with every value closer than ``gap`` to one of ``points`` moved to distance ``gap``.

    The points must be more than 3·gap apart, so that moving away from one never comes near
    another.
    """
    for point in points:
        near = np.abs(x - point) < gap
        x = np.where(near, point + np.where(x >= point, gap, -gap), x)
    return x


def _spread(x: NDArray[Any], gap: float = TIE_GAP) -> NDArray[Any]:
    """x with its sorted values pushed apart, so that any two differ by at least ``gap``."""
    flat = np.array(x, dtype=np.float64).ravel()
    order = np.argsort(flat, kind="stable")
    flat[order] += gap * np.arange(flat.size)
    return flat.reshape(np.shape(x))


def _axes(ndim: int) -> st.SearchStrategy[Any]:
    """NumPy ``axis`` values for a reduction: None, an int or a tuple (negative axes too)."""
    choices = [st.none(), hnp.valid_tuple_axes(ndim)]
    if ndim > 0:
        choices.append(st.integers(-ndim, ndim - 1))
    return st.one_of(*choices)


def _reduced_count(shape: tuple[int, ...], axis: Any) -> int:
    if axis is None:
        axes = tuple(range(len(shape)))
    elif isinstance(axis, int):
        axes = (axis,)
    else:
        axes = tuple(axis)
    return int(np.prod([shape[a] for a in axes]))


# ---------------------------------------------------------------------- elementwise unary
# Call forms besides ``ops.<name>(x)``: Tensor methods and Python operators.
_UNARY_OPERATORS: dict[str, Callable[[Any], Any]] = {
    "negative": operator.neg,
    "positive": operator.pos,
    "abs": operator.abs,
}
_UNARY_METHODS = ("exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "sign")


@st.composite
def _unary_cases(
    draw: st.DrawFn, elements: st.SearchStrategy[float], kinks: Sequence[float], forms: list[str]
) -> Case:
    x = draw(_array(draw(_shapes()), elements))
    if kinks:
        x = _away_from(x, kinks)
    return Case((x,), {"form": draw(st.sampled_from(forms))})


def _unary(name: str, reference: Callable[[NDArray[Any]], Any]) -> OpSpec:
    op = getattr(ops, name)
    (interval,) = DOMAINS[name].inputs
    elements, kinks = _elements(interval), interval.kinks
    forms = ["function"]
    if name in _UNARY_METHODS:
        forms.append("method")
    if name in _UNARY_OPERATORS:
        forms.append("operator")

    def apply(tensors: Sequence[Any], params: Params) -> Any:
        (x,) = tensors
        if params["form"] == "method":
            return getattr(x, name)()
        if params["form"] == "operator":
            return _UNARY_OPERATORS[name](x)
        return op(x)

    def numpy_reference(arrays: Arrays, params: Params) -> Any:
        return reference(arrays[0])

    return OpSpec(name, _unary_cases(elements, kinks, forms), apply, numpy_reference)


def _sigmoid(x: NDArray[Any]) -> Any:
    return 1 / (1 + np.exp(-x))


# --------------------------------------------------------------------- elementwise binary
@st.composite
def _binary_cases(
    draw: st.DrawFn,
    x_elements: st.SearchStrategy[float],
    y_elements: st.SearchStrategy[float],
    same_elements: st.SearchStrategy[float],
    x_numbers: st.SearchStrategy[Any],
    y_numbers: st.SearchStrategy[Any],
    forms: list[str],
) -> Case:
    """Two broadcastable arrays; or one array and a Python number on either side; or one array
    used as both operands (``op(x, x)``)."""
    mode = draw(st.sampled_from(["arrays", "arrays", "number_left", "number_right", "same"]))
    form = draw(st.sampled_from(forms))
    if mode == "same":
        x = draw(_array(draw(_shapes()), same_elements))
        return Case((x,), {"operands": "same", "form": form})
    x_shape, y_shape = draw(_broadcast_pairs())
    if mode == "number_left":
        y = draw(_array(y_shape, y_elements))
        return Case((y,), {"operands": "number_left", "x": draw(x_numbers), "form": form})
    x = draw(_array(x_shape, x_elements))
    if mode == "number_right":
        return Case((x,), {"operands": "number_right", "y": draw(y_numbers), "form": form})
    y = draw(_array(y_shape, y_elements))
    return Case((x, y), {"operands": "arrays", "form": form})


def _binary_operands(values: Sequence[Any], params: Params) -> tuple[Any, Any]:
    """Rebuild (x, y) from the differentiated values and the drawn numbers."""
    operands = params["operands"]
    if operands == "same":
        return values[0], values[0]
    if operands == "number_left":
        return params["x"], values[0]
    if operands == "number_right":
        return values[0], params["y"]
    return values[0], values[1]


def _binary(
    name: str,
    reference: Callable[[Any, Any], Any],
    symbol: Callable[[Any, Any], Any] | None = None,
    y_numbers: st.SearchStrategy[Any] | None = None,
) -> OpSpec:
    op = getattr(ops, name)
    domain = DOMAINS[name]
    x_elements, y_elements = (_elements(interval) for interval in domain.inputs)
    same_elements = _elements(domain.inputs[domain.same])
    y_numbers = y_elements if y_numbers is None else y_numbers
    forms = ["function"] if symbol is None else ["function", "operator"]
    cases = _binary_cases(x_elements, y_elements, same_elements, x_elements, y_numbers, forms)

    def apply(tensors: Sequence[Any], params: Params) -> Any:
        x, y = _binary_operands(tensors, params)
        if params["form"] == "operator":
            assert symbol is not None
            return symbol(x, y)
        return op(x, y)

    def numpy_reference(arrays: Arrays, params: Params) -> Any:
        x, y = _binary_operands(arrays, params)
        return reference(np.asarray(x), np.asarray(y))

    return OpSpec(name, cases, apply, numpy_reference)


@st.composite
def _where_cases(draw: st.DrawFn) -> Case:
    shapes = draw(
        hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=3, max_side=4)
    )
    condition_shape, x_shape, y_shape = shapes.input_shapes
    condition = draw(hnp.arrays(np.bool_, condition_shape))
    if draw(st.booleans()):
        x = draw(_array(x_shape, _elements(DOMAINS["where"].inputs[0])))
        return Case((x,), {"condition": condition, "same": True})
    x = draw(_array(x_shape, _elements(DOMAINS["where"].inputs[0])))
    y = draw(_array(y_shape, _elements(DOMAINS["where"].inputs[1])))
    return Case((x, y), {"condition": condition, "same": False})


def _where_operands(values: Sequence[Any], params: Params) -> tuple[Any, Any]:
    if params["same"]:
        return values[0], values[0]
    return values[0], values[1]


def _where_apply(tensors: Sequence[Any], params: Params) -> Any:
    return ops.where(params["condition"], *_where_operands(tensors, params))


def _where_reference(arrays: Arrays, params: Params) -> Any:
    return np.where(params["condition"], *_where_operands(arrays, params))


@st.composite
def _clip_cases(draw: st.DrawFn) -> Case:
    low = draw(_floats(-2.5, 1.0))
    high = low + draw(_floats(0.2, 2.5))
    bounds = draw(st.sampled_from(["both", "low", "high"]))
    a_min = None if bounds == "high" else low
    a_max = None if bounds == "low" else high
    x = draw(_array(draw(_shapes()), _elements(DOMAINS["clip"].inputs[0])))
    # Clipping has kinks at both bounds.
    x = _away_from(x, [b for b in (a_min, a_max) if b is not None])
    method = draw(st.booleans())
    return Case((x,), {"a_min": a_min, "a_max": a_max, "method": method})


def _clip_apply(tensors: Sequence[Any], params: Params) -> Any:
    (x,) = tensors
    if params["method"]:
        return x.clip(params["a_min"], params["a_max"])
    return ops.clip(x, params["a_min"], params["a_max"])


def _clip_reference(arrays: Arrays, params: Params) -> Any:
    return np.clip(arrays[0], params["a_min"], params["a_max"])


@st.composite
def _astype_cases(draw: st.DrawFn) -> Case:
    # Checked in float64, the cast can only widen: to float64 itself (no node) or to the
    # platform's long double, whose vjp must cast the gradient back to float64.
    x = draw(_array(draw(_shapes()), _elements(DOMAINS["astype"].inputs[0])))
    return Case((x,), {"dtype": draw(st.sampled_from([np.float64, np.longdouble]))})


def _astype_apply(tensors: Sequence[Any], params: Params) -> Any:
    return ops.astype(tensors[0], params["dtype"])


def _astype_reference(arrays: Arrays, params: Params) -> Any:
    return arrays[0].astype(params["dtype"])


# ------------------------------------------------------------------------------ matmul
@st.composite
def _matmul_cases(draw: st.DrawFn) -> Case:
    form = draw(st.sampled_from(["function", "operator"]))
    if draw(st.integers(0, 4)) == 0:
        # x @ x needs a square matrix (or a stack of them), or a vector.
        n = draw(st.integers(1, 4))
        batch = draw(_shapes(max_dims=1, max_side=3))
        shape = (n,) if draw(st.booleans()) else (*batch, n, n)
        x = draw(_array(shape, _elements(DOMAINS["matmul"].inputs[0])))
        return Case((x,), {"same": True, "form": form})
    shapes = draw(
        hnp.mutually_broadcastable_shapes(signature=np.matmul.signature, max_dims=2, max_side=3)
    )
    x_shape, y_shape = shapes.input_shapes
    x = draw(_array(x_shape, _elements(DOMAINS["matmul"].inputs[0])))
    y = draw(_array(y_shape, _elements(DOMAINS["matmul"].inputs[1])))
    return Case((x, y), {"same": False, "form": form})


def _matmul_apply(tensors: Sequence[Any], params: Params) -> Any:
    x, y = _where_operands(tensors, params)
    if params["form"] == "operator":
        return x @ y
    return ops.matmul(x, y)


def _matmul_reference(arrays: Arrays, params: Params) -> Any:
    return np.matmul(*_where_operands(arrays, params))


# -------------------------------------------------------------------------- reductions
_REDUCTION_METHODS = ("sum", "mean", "max", "min", "var", "logsumexp")


@st.composite
def _reduction_cases(
    draw: st.DrawFn, name: str, elements: st.SearchStrategy[float], without_ties: bool
) -> Case:
    shape = draw(_shapes())
    x = draw(_array(shape, elements))
    if without_ties:
        x = _spread(x)
    params: dict[str, Any] = {}
    if draw(st.booleans()):
        params["axis"] = draw(_axes(len(shape)))
    if draw(st.booleans()):
        params["keepdims"] = draw(st.booleans())
    if name == "var":
        count = _reduced_count(shape, params.get("axis"))
        params["ddof"] = draw(st.integers(0, min(1, count - 1)))
    return Case((x,), {"kwargs": params, "method": draw(st.booleans())})


def _reduction(name: str, reference: Callable[..., Any]) -> OpSpec:
    op = getattr(ops, name)
    (interval,) = DOMAINS[name].inputs
    elements, without_ties = _elements(interval), interval.distinct

    def apply(tensors: Sequence[Any], params: Params) -> Any:
        (x,) = tensors
        if params["method"]:
            return getattr(x, name)(**params["kwargs"])
        return op(x, **params["kwargs"])

    def numpy_reference(arrays: Arrays, params: Params) -> Any:
        return reference(arrays[0], **params["kwargs"])

    return OpSpec(name, _reduction_cases(name, elements, without_ties), apply, numpy_reference)


def _np_logsumexp(x: NDArray[Any], axis: Any = None, keepdims: bool = False) -> Any:
    shift = np.max(x, axis=axis, keepdims=True)
    total = np.sum(np.exp(x - shift), axis=axis, keepdims=keepdims)
    return np.log(total) + np.max(x, axis=axis, keepdims=keepdims)


def _np_softmax(x: NDArray[Any], axis: Any = -1) -> Any:
    exps = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return exps / np.sum(exps, axis=axis, keepdims=True)


def _np_log_softmax(x: NDArray[Any], axis: Any = -1) -> Any:
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


@st.composite
def _softmax_cases(draw: st.DrawFn) -> Case:
    shape = draw(_shapes())
    x = draw(_array(shape, _elements(DOMAINS["softmax"].inputs[0])))
    params: dict[str, Any] = {}
    # The default axis is -1, which a 0-d tensor does not have.
    if not shape or draw(st.booleans()):
        params["axis"] = draw(_axes(len(shape)))
    return Case((x,), {"kwargs": params, "method": draw(st.booleans())})


def _softmax_like(name: str, reference: Callable[..., Any]) -> OpSpec:
    op = getattr(ops, name)

    def apply(tensors: Sequence[Any], params: Params) -> Any:
        (x,) = tensors
        if params["method"]:
            return getattr(x, name)(**params["kwargs"])
        return op(x, **params["kwargs"])

    def numpy_reference(arrays: Arrays, params: Params) -> Any:
        return reference(arrays[0], **params["kwargs"])

    return OpSpec(name, _softmax_cases(), apply, numpy_reference)


# ----------------------------------------------------------------------- shape changes
def _factorizations(size: int) -> st.SearchStrategy[tuple[int, ...]]:
    """Shapes with ``size`` elements: size split into 0-4 factors, 1s included."""

    @st.composite
    def shapes(draw: st.DrawFn) -> tuple[int, ...]:
        factors = []
        remaining = size
        for _ in range(draw(st.integers(0, 3))):
            divisors = [d for d in range(1, remaining + 1) if remaining % d == 0]
            factor = draw(st.sampled_from(divisors))
            factors.append(factor)
            remaining //= factor
        if remaining != 1 or not factors or draw(st.booleans()):
            factors.append(remaining)
        return tuple(draw(st.permutations(factors)))

    return shapes()


@st.composite
def _reshape_cases(draw: st.DrawFn) -> Case:
    x = draw(_array(draw(_shapes()), _elements(DOMAINS["reshape"].inputs[0])))
    shape = draw(_factorizations(x.size))
    if shape and draw(st.booleans()):
        unknown = draw(st.integers(0, len(shape) - 1))
        shape = shape[:unknown] + (-1,) + shape[unknown + 1 :]
    form = draw(st.sampled_from(["function", "method", "method_varargs"]))
    return Case((x,), {"shape": shape, "form": form})


def _reshape_apply(tensors: Sequence[Any], params: Params) -> Any:
    (x,) = tensors
    if params["form"] == "method":
        return x.reshape(params["shape"])
    if params["form"] == "method_varargs":
        return x.reshape(*params["shape"])
    return ops.reshape(x, params["shape"])


def _reshape_reference(arrays: Arrays, params: Params) -> Any:
    return arrays[0].reshape(params["shape"])


@st.composite
def _transpose_cases(draw: st.DrawFn) -> Case:
    shape = draw(_shapes())
    x = draw(_array(shape, _elements(DOMAINS["transpose"].inputs[0])))
    ndim = len(shape)
    form = draw(st.sampled_from(["function", "method", "T"]))
    if form == "T" or draw(st.booleans()):
        return Case((x,), {"axes": None, "form": form})
    order = draw(st.permutations(range(ndim)))
    negative = draw(st.lists(st.booleans(), min_size=ndim, max_size=ndim))
    axes = tuple(a - ndim if flip else a for a, flip in zip(order, negative))
    return Case((x,), {"axes": axes, "form": form})


def _transpose_apply(tensors: Sequence[Any], params: Params) -> Any:
    (x,) = tensors
    if params["form"] == "T":
        return x.T
    if params["form"] == "method":
        if params["axes"] is None:
            return x.transpose()
        return x.transpose(*params["axes"])
    return ops.transpose(x, params["axes"])


def _transpose_reference(arrays: Arrays, params: Params) -> Any:
    return np.transpose(arrays[0], params["axes"])


@st.composite
def _swapaxes_cases(draw: st.DrawFn) -> Case:
    shape = draw(_shapes(min_dims=1))
    x = draw(_array(shape, _elements(DOMAINS["swapaxes"].inputs[0])))
    ndim = len(shape)
    axis1 = draw(st.integers(-ndim, ndim - 1))
    axis2 = draw(st.integers(-ndim, ndim - 1))
    return Case((x,), {"axis1": axis1, "axis2": axis2, "method": draw(st.booleans())})


def _swapaxes_apply(tensors: Sequence[Any], params: Params) -> Any:
    (x,) = tensors
    if params["method"]:
        return x.swapaxes(params["axis1"], params["axis2"])
    return ops.swapaxes(x, params["axis1"], params["axis2"])


def _swapaxes_reference(arrays: Arrays, params: Params) -> Any:
    return np.swapaxes(arrays[0], params["axis1"], params["axis2"])


@st.composite
def _expand_dims_cases(draw: st.DrawFn) -> Case:
    shape = draw(_shapes())
    x = draw(_array(shape, _elements(DOMAINS["expand_dims"].inputs[0])))
    new_axes = draw(st.integers(1, 2))
    out_ndim = len(shape) + new_axes
    if new_axes == 1 and draw(st.booleans()):
        axis: Any = draw(st.integers(-out_ndim, out_ndim - 1))
    else:
        axis = draw(hnp.valid_tuple_axes(out_ndim, min_size=new_axes, max_size=new_axes))
    return Case((x,), {"axis": axis})


def _expand_dims_apply(tensors: Sequence[Any], params: Params) -> Any:
    return ops.expand_dims(tensors[0], params["axis"])


def _expand_dims_reference(arrays: Arrays, params: Params) -> Any:
    return np.expand_dims(arrays[0], params["axis"])


@st.composite
def _squeeze_cases(draw: st.DrawFn) -> Case:
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, min_side=1, max_side=3))
    x = draw(_array(shape, _elements(DOMAINS["squeeze"].inputs[0])))
    ndim = len(shape)
    ones = [a for a, size in enumerate(shape) if size == 1]
    params: dict[str, Any] = {}
    choice = draw(st.sampled_from(["omitted", "none", "int", "tuple"]))
    if choice == "none":
        params["axis"] = None
    elif choice == "int" and ones:
        axis = draw(st.sampled_from(ones))
        params["axis"] = axis - ndim if draw(st.booleans()) else axis
    elif choice == "tuple":
        chosen = draw(st.lists(st.sampled_from(ones), unique=True)) if ones else []
        params["axis"] = tuple(a - ndim if draw(st.booleans()) else a for a in chosen)
    return Case((x,), {"kwargs": params, "method": draw(st.booleans())})


def _squeeze_apply(tensors: Sequence[Any], params: Params) -> Any:
    (x,) = tensors
    if params["method"]:
        return x.squeeze(**params["kwargs"])
    return ops.squeeze(x, **params["kwargs"])


def _squeeze_reference(arrays: Arrays, params: Params) -> Any:
    return np.squeeze(arrays[0], **params["kwargs"])


@st.composite
def _broadcast_to_cases(draw: st.DrawFn) -> Case:
    x_shape, other = draw(_broadcast_pairs())
    x = draw(_array(x_shape, _elements(DOMAINS["broadcast_to"].inputs[0])))
    return Case((x,), {"shape": np.broadcast_shapes(x_shape, other)})


def _broadcast_to_apply(tensors: Sequence[Any], params: Params) -> Any:
    return ops.broadcast_to(tensors[0], params["shape"])


def _broadcast_to_reference(arrays: Arrays, params: Params) -> Any:
    return np.broadcast_to(arrays[0], params["shape"])


@st.composite
def _concatenate_cases(draw: st.DrawFn) -> Case:
    base = draw(_shapes(min_dims=1))
    ndim = len(base)
    axis = draw(st.integers(-ndim, ndim - 1))
    arrays = []
    for _ in range(draw(st.integers(1, 4))):
        shape = list(base)
        shape[axis] = draw(st.integers(1, 3))
        arrays.append(draw(_array(tuple(shape), _elements(DOMAINS["concatenate"].inputs[0]))))
    return Case(tuple(arrays), {"axis": axis, "as_tuple": draw(st.booleans())})


def _concatenate_apply(tensors: Sequence[Any], params: Params) -> Any:
    parts = tuple(tensors) if params["as_tuple"] else list(tensors)
    return ops.concatenate(parts, axis=params["axis"])


def _concatenate_reference(arrays: Arrays, params: Params) -> Any:
    return np.concatenate(list(arrays), axis=params["axis"])


@st.composite
def _stack_cases(draw: st.DrawFn) -> Case:
    shape = draw(_shapes(max_dims=2))
    ndim = len(shape)
    axis = draw(st.integers(-ndim - 1, ndim))
    count = draw(st.integers(1, 4))
    arrays = tuple(draw(_array(shape, _elements(DOMAINS["stack"].inputs[0]))) for _ in range(count))
    return Case(arrays, {"axis": axis})


def _stack_apply(tensors: Sequence[Any], params: Params) -> Any:
    return ops.stack(list(tensors), axis=params["axis"])


def _stack_reference(arrays: Arrays, params: Params) -> Any:
    return np.stack(list(arrays), axis=params["axis"])


# ---------------------------------------------------------------------------- indexing
def _basic_part(size: int) -> st.SearchStrategy[Any]:
    """An int or a slice (any start, stop and step, empty results included) for one axis."""
    bound = st.one_of(st.none(), st.integers(-size - 1, size + 1))
    steps = st.sampled_from([None, 1, 2, 3, -1, -2])
    slices = st.builds(slice, bound, bound, steps)
    return st.one_of(st.integers(-size, size - 1), slices)


@st.composite
def _with_repeats(draw: st.DrawFn, size: int) -> list[int]:
    """Integer indices into an axis of ``size``, negative ones included, with a repeat."""
    indices = draw(st.lists(st.integers(-size, size - 1), min_size=1, max_size=5))
    repeat = draw(st.sampled_from(indices))
    position = draw(st.integers(0, len(indices)))
    return indices[:position] + [repeat] + indices[position:]


@st.composite
def _basic_index(draw: st.DrawFn, shape: tuple[int, ...]) -> Any:
    """Ints and slices for some leading and trailing axes, with None and Ellipsis mixed in."""
    ndim = len(shape)
    leading = draw(st.integers(0, ndim))
    use_ellipsis = draw(st.booleans())
    trailing = draw(st.integers(0, ndim - leading)) if use_ellipsis else 0
    parts = [draw(_basic_part(shape[a])) for a in range(leading)]
    if use_ellipsis:
        parts.append(Ellipsis)
        parts += [draw(_basic_part(shape[a])) for a in range(ndim - trailing, ndim)]
    for _ in range(draw(st.integers(0, 2))):
        parts.insert(draw(st.integers(0, len(parts))), None)
    if len(parts) == 1 and draw(st.booleans()):
        return parts[0]
    return tuple(parts)


@st.composite
def _integer_array_index(draw: st.DrawFn, shape: tuple[int, ...]) -> Any:
    """One integer array (1-D, 2-D or a list) with repeated entries, on any axis."""
    axis = draw(st.integers(0, len(shape) - 1))
    indices = draw(_with_repeats(shape[axis]))
    layout = draw(st.sampled_from(["array", "list", "matrix"]))
    if layout == "list":
        index: Any = indices
    elif layout == "matrix" and len(indices) % 2 == 0:
        index = np.array(indices).reshape(2, -1)
    else:
        index = np.array(indices)
    if axis == len(shape) - 1 and draw(st.booleans()):
        return (Ellipsis, index)
    if axis == 0 and draw(st.booleans()):
        return index
    return (slice(None),) * axis + (index,)


@st.composite
def _two_arrays_index(draw: st.DrawFn, shape: tuple[int, ...]) -> Any:
    """Two integer arrays broadcast together (pairs repeat), adjacent or split by a slice."""
    first = draw(_with_repeats(shape[0]))
    last_axis = draw(st.sampled_from([1, len(shape) - 1]))
    second = draw(
        st.lists(
            st.integers(-shape[last_axis], shape[last_axis] - 1),
            min_size=len(first),
            max_size=len(first),
        )
    )
    if draw(st.booleans()):
        # A single column broadcasts against the row: an outer product of indices.
        second = second[:1]
    middle = (slice(None),) * (last_axis - 1)
    return (np.array(first), *middle, np.array(second))


@st.composite
def _mask_index(draw: st.DrawFn, shape: tuple[int, ...]) -> Any:
    """A boolean mask over the leading axes, over the whole tensor, or over one later axis."""
    layout = draw(st.sampled_from(["leading", "axis"]))
    if layout == "axis":
        axis = draw(st.integers(0, len(shape) - 1))
        mask = draw(hnp.arrays(np.bool_, (shape[axis],)))
        return (slice(None),) * axis + (mask,)
    count = draw(st.integers(1, len(shape)))
    mask = draw(hnp.arrays(np.bool_, shape[:count]))
    if count < len(shape) and draw(st.booleans()):
        return (mask, Ellipsis)
    return mask


@st.composite
def _getitem_cases(draw: st.DrawFn) -> Case:
    shape = draw(_shapes())
    x = draw(_array(shape, _elements(DOMAINS["getitem"].inputs[0])))
    if not shape:
        index = draw(st.sampled_from([(), None, Ellipsis, (None, Ellipsis), True, False]))
        return Case((x,), {"index": index})
    kinds = [_basic_index, _integer_array_index, _mask_index]
    if len(shape) >= 2:
        kinds.append(_two_arrays_index)
    kind = draw(st.sampled_from(kinds))
    return Case((x,), {"index": draw(kind(shape))})


def _getitem_apply(tensors: Sequence[Any], params: Params) -> Any:
    return tensors[0][params["index"]]


def _getitem_reference(arrays: Arrays, params: Params) -> Any:
    return arrays[0][params["index"]]


# ---------------------------------------------------------------------------- the table
# --------------------------------------------------------------------------- fused primitives
# A network's layers and losses (ops/layers.py, ops/losses.py): one node each, checked against
# the NumPy expression they fuse.
_REDUCTION_NAMES = ("mean", "sum", "none")


def _reduced(losses: NDArray[Any], reduction: str) -> Any:
    if reduction == "mean":
        return np.asarray(losses.mean())
    if reduction == "sum":
        return np.asarray(losses.sum())
    return losses


@st.composite
def _linear_cases(draw: st.DrawFn, fused_relu: bool = False) -> Case:
    rows, inputs, outputs = (draw(st.integers(1, 4)) for _ in range(3))
    lead = draw(st.sampled_from([(), (rows,), (2, rows)])) if not fused_relu else (rows,)
    x = draw(_array((*lead, inputs), _elements(DOMAINS["linear"].inputs[0])))
    weight = draw(_array((outputs, inputs), _elements(DOMAINS["linear"].inputs[1])))
    bias = draw(_array((outputs,), _elements(DOMAINS["linear"].inputs[2])))
    with_bias = fused_relu or draw(st.booleans())
    if fused_relu:
        # Every unit's pre-activation away from the ReLU's kink at 0.
        assume(np.all(np.abs(x @ weight.T + bias) > KINK_GAP))
    arrays = (x, weight, bias) if with_bias else (x, weight)
    return Case(arrays, {})


def _linear_apply(tensors: Sequence[Any], params: Params) -> Any:
    return ops.linear(*tensors)


def _linear_reference(arrays: Arrays, params: Params) -> Any:
    x, weight, *bias = arrays
    return x @ weight.T + (bias[0] if bias else 0)


def _linear_relu_apply(tensors: Sequence[Any], params: Params) -> Any:
    return ops.linear_relu(*tensors)


def _linear_relu_reference(arrays: Arrays, params: Params) -> Any:
    return np.maximum(_linear_reference(arrays, params), 0)


@st.composite
def _leaky_relu_cases(draw: st.DrawFn) -> Case:
    x = _away_from(draw(_array(draw(_shapes()), _elements(DOMAINS["leaky_relu"].inputs[0]))), [0.0])
    return Case((x,), {"slope": draw(st.sampled_from([0.0, 0.01, 0.2, 1.5]))})


def _leaky_relu_apply(tensors: Sequence[Any], params: Params) -> Any:
    return ops.leaky_relu(tensors[0], params["slope"])


def _leaky_relu_reference(arrays: Arrays, params: Params) -> Any:
    return np.where(arrays[0] > 0, arrays[0], params["slope"] * arrays[0])


@st.composite
def _cross_entropy_cases(draw: st.DrawFn) -> Case:
    classes = draw(st.integers(2, 5))
    batch = draw(st.sampled_from([(), (draw(st.integers(1, 4)),)]))
    logits = draw(_array((*batch, classes), _elements(DOMAINS["cross_entropy"].inputs[0])))
    if draw(st.booleans()):
        target: Any = np.asarray(draw(_array(batch, st.integers(0, classes - 1).map(float))))
        target = target.astype(np.int64)
    else:
        weights = draw(_array((*batch, classes), _floats(0.05, 1)))
        target = weights / weights.sum(axis=-1, keepdims=True)
    reduction = draw(st.sampled_from(_REDUCTION_NAMES))
    smoothing = draw(st.sampled_from([0.0, 0.1]))
    return Case((logits,), {"target": target, "reduction": reduction, "smoothing": smoothing})


def _cross_entropy_apply(tensors: Sequence[Any], params: Params) -> Any:
    return ops.cross_entropy(
        tensors[0], params["target"], params["reduction"], label_smoothing=params["smoothing"]
    )


def _cross_entropy_reference(arrays: Arrays, params: Params) -> Any:
    logits, target, smoothing = arrays[0], params["target"], params["smoothing"]
    classes = logits.shape[-1]
    if target.dtype.kind == "i":
        target = np.eye(classes)[target]
    q = (1 - smoothing) * target + smoothing / classes
    losses = -(q * _np_log_softmax(logits, axis=-1)).sum(axis=-1)
    return _reduced(losses, params["reduction"])


@st.composite
def _binary_cross_entropy_cases(draw: st.DrawFn, logits: bool) -> Case:
    shape = draw(_shapes(min_dims=1))
    domain = DOMAINS["binary_cross_entropy_with_logits" if logits else "binary_cross_entropy"]
    inputs = draw(_array(shape, _elements(domain.inputs[0])))
    targets = draw(_array(shape, _elements(domain.inputs[1])))
    return Case((inputs, targets), {"reduction": draw(st.sampled_from(_REDUCTION_NAMES))})


def _binary_cross_entropy_apply(tensors: Sequence[Any], params: Params) -> Any:
    return ops.binary_cross_entropy(tensors[0], tensors[1], params["reduction"])


def _binary_cross_entropy_reference(arrays: Arrays, params: Params) -> Any:
    p, t = arrays
    return _reduced(-(t * np.log(p) + (1 - t) * np.log1p(-p)), params["reduction"])


def _bce_with_logits_apply(tensors: Sequence[Any], params: Params) -> Any:
    return ops.binary_cross_entropy_with_logits(tensors[0], tensors[1], params["reduction"])


def _bce_with_logits_reference(arrays: Arrays, params: Params) -> Any:
    z, t = arrays
    return _reduced(np.logaddexp(0, z) - z * t, params["reduction"])


@st.composite
def _hinge_cases(draw: st.DrawFn) -> Case:
    shape = draw(_shapes(min_dims=1))
    margin = draw(st.sampled_from([0.0, 1.0]))
    signs = draw(_array(shape, st.sampled_from([-1.0, 1.0])))
    # The margin z·t away from the hinge's kink at z·t = margin.
    product = _away_from(draw(_array(shape, _elements(DOMAINS["hinge_loss"].inputs[0]))), [margin])
    scores = product * signs
    reduction = draw(st.sampled_from(_REDUCTION_NAMES))
    return Case((scores,), {"target": signs, "margin": margin, "reduction": reduction})


def _hinge_apply(tensors: Sequence[Any], params: Params) -> Any:
    return ops.hinge_loss(tensors[0], params["target"], params["margin"], params["reduction"])


def _hinge_reference(arrays: Arrays, params: Params) -> Any:
    losses = np.maximum(params["margin"] - arrays[0] * params["target"], 0)
    return _reduced(losses, params["reduction"])


_NUMBER_EXPONENTS = st.one_of(
    st.sampled_from([0, 1, 2, 3, -1, -2, 0.5, -1.5]), _elements(DOMAINS["power"].inputs[1])
)

_SPEC_LIST = [
    _unary("negative", np.negative),
    _unary("positive", np.positive),
    _unary("exp", np.exp),
    _unary("log", np.log),
    _unary("sqrt", np.sqrt),
    _unary("abs", np.abs),
    _unary("tanh", np.tanh),
    _unary("sin", np.sin),
    _unary("cos", np.cos),
    _unary("sigmoid", _sigmoid),
    _unary("relu", lambda x: np.maximum(x, 0)),
    _unary("sign", np.sign),
    _unary("heaviside", lambda x: np.heaviside(x, 0.0).astype(x.dtype)),
    _binary("add", np.add, symbol=operator.add),
    _binary("subtract", np.subtract, symbol=operator.sub),
    _binary("multiply", np.multiply, symbol=operator.mul),
    _binary("divide", np.divide, symbol=operator.truediv),
    _binary("power", np.power, symbol=operator.pow, y_numbers=_NUMBER_EXPONENTS),
    _binary("maximum", np.maximum),
    _binary("minimum", np.minimum),
    OpSpec("where", _where_cases(), _where_apply, _where_reference),
    OpSpec("clip", _clip_cases(), _clip_apply, _clip_reference),
    OpSpec("astype", _astype_cases(), _astype_apply, _astype_reference),
    OpSpec("matmul", _matmul_cases(), _matmul_apply, _matmul_reference),
    _reduction("sum", np.sum),
    _reduction("mean", np.mean),
    _reduction("var", np.var),
    _reduction("max", np.max),
    _reduction("min", np.min),
    _reduction("logsumexp", _np_logsumexp),
    _softmax_like("softmax", _np_softmax),
    _softmax_like("log_softmax", _np_log_softmax),
    OpSpec("reshape", _reshape_cases(), _reshape_apply, _reshape_reference),
    OpSpec("transpose", _transpose_cases(), _transpose_apply, _transpose_reference),
    OpSpec("swapaxes", _swapaxes_cases(), _swapaxes_apply, _swapaxes_reference),
    OpSpec("expand_dims", _expand_dims_cases(), _expand_dims_apply, _expand_dims_reference),
    OpSpec("squeeze", _squeeze_cases(), _squeeze_apply, _squeeze_reference),
    OpSpec("broadcast_to", _broadcast_to_cases(), _broadcast_to_apply, _broadcast_to_reference),
    OpSpec("concatenate", _concatenate_cases(), _concatenate_apply, _concatenate_reference),
    OpSpec("stack", _stack_cases(), _stack_apply, _stack_reference),
    OpSpec("getitem", _getitem_cases(), _getitem_apply, _getitem_reference),
    OpSpec("linear", _linear_cases(), _linear_apply, _linear_reference),
    OpSpec("linear_relu", _linear_cases(True), _linear_relu_apply, _linear_relu_reference),
    OpSpec("leaky_relu", _leaky_relu_cases(), _leaky_relu_apply, _leaky_relu_reference),
    OpSpec("cross_entropy", _cross_entropy_cases(), _cross_entropy_apply, _cross_entropy_reference),
    OpSpec(
        "binary_cross_entropy",
        _binary_cross_entropy_cases(False),
        _binary_cross_entropy_apply,
        _binary_cross_entropy_reference,
    ),
    OpSpec(
        "binary_cross_entropy_with_logits",
        _binary_cross_entropy_cases(True),
        _bce_with_logits_apply,
        _bce_with_logits_reference,
    ),
    OpSpec("hinge_loss", _hinge_cases(), _hinge_apply, _hinge_reference),
]


def _pinned(
    seed: int, *shapes: tuple[int, ...], low: float = -2, high: float = 2
) -> tuple[Any, ...]:
    rng = np.random.default_rng(seed)
    return tuple(rng.uniform(low, high, shape) for shape in shapes)


_PINNED: dict[str, tuple[Case, ...]] = {
    "multiply": (Case(_pinned(0, (3, 1), (1, 4)), {"operands": "arrays", "form": "function"}),),
    "divide": (
        Case(_pinned(1, (2, 3), (3,), low=0.1, high=3), {"operands": "arrays", "form": "operator"}),
    ),
    "power": (
        # A zero tensor exponent: x^0 is constant in x, but not in the exponent.
        Case(
            (_pinned(18, (3, 4), low=0.2, high=3)[0], np.zeros(4)),
            {"operands": "arrays", "form": "function"},
        ),
    ),
    "matmul": (
        Case(_pinned(2, (2, 1, 3, 4), (3, 4, 2)), {"same": False, "form": "function"}),
        Case(_pinned(3, (4,), (2, 4, 3)), {"same": False, "form": "operator"}),
        Case(_pinned(4, (2, 3, 4), (4,)), {"same": False, "form": "function"}),
    ),
    "sum": (
        Case(
            _pinned(5, (2, 3, 4)), {"kwargs": {"axis": (-1, 0), "keepdims": True}, "method": False}
        ),
    ),
    "var": (Case(_pinned(6, (2, 3, 4)), {"kwargs": {"axis": (0, 2), "ddof": 1}, "method": True}),),
    "logsumexp": (Case(_pinned(7, (2, 3, 4)), {"kwargs": {"axis": -2}, "method": False}),),
    "transpose": (
        # Three-cycles are the permutations that are not their own inverse.
        Case(_pinned(8, (2, 3, 4)), {"axes": (1, 2, 0), "form": "function"}),
        Case(_pinned(9, (2, 3, 4)), {"axes": (-1, 0, -2), "form": "method"}),
    ),
    "getitem": (
        Case(_pinned(10, (4, 3)), {"index": np.array([0, 0, 3, -1, 0])}),
        Case(_pinned(11, (4, 3)), {"index": (slice(None), [2, 2, 0, 2])}),
        Case(_pinned(12, (4, 3)), {"index": (np.array([[1, 1], [0, 1]]), np.array([2, 2]))}),
        Case(_pinned(13, (2, 3, 4)), {"index": (np.array([1, 1, 0]), slice(None), np.array([3]))}),
        Case(_pinned(14, (4, 3)), {"index": np.array([[True, False, True]] * 4)}),
        Case(_pinned(15, (2, 3, 4)), {"index": (None, Ellipsis, slice(None, None, -2))}),
    ),
    "concatenate": (Case(_pinned(16, (2, 1), (2, 3), (2, 2)), {"axis": -1, "as_tuple": False}),),
    "stack": (Case(_pinned(17, (2, 3), (2, 3), (2, 3)), {"axis": -1}),),
}

SPECS: dict[str, OpSpec] = {
    spec.name: dataclasses.replace(spec, examples=_PINNED.get(spec.name, ())) for spec in _SPEC_LIST
}
assert len(SPECS) == len(_SPEC_LIST), "two specs share a name"
assert set(_PINNED) <= set(SPECS), "pinned examples for an op without a spec"
