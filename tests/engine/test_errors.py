"""Error messages name what was wrong (shapes, dtypes, axes) and where (the op)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr


def _message(error: pytest.ExceptionInfo[BaseException]) -> str:
    return str(error.value)


# ----------------------------------------------------------------------------- shapes
@pytest.mark.parametrize(
    ("x_shape", "y_shape"),
    [((2, 3), (2, 3)), ((3,), (4,)), ((2, 3), (4,)), ((5, 2), (3, 3, 4))],
)
def test_matmul_shape_mismatch_names_matmul_and_both_shapes(
    x_shape: tuple[int, ...], y_shape: tuple[int, ...]
) -> None:
    """Inner dimensions that differ: the message names matmul and both shapes."""
    with pytest.raises(ValueError, match="matmul") as error:
        cr.ones(*x_shape) @ cr.ones(*y_shape)
    assert str(x_shape) in _message(error)
    assert str(y_shape) in _message(error)


def test_matmul_batch_mismatch_names_both_shapes() -> None:
    """Batch axes that do not broadcast: matmul and both shapes are named."""
    with pytest.raises(ValueError, match=r"matmul.*\(2, 3, 4\).*\(5, 4, 2\)"):
        cr.matmul(cr.ones(2, 3, 4), cr.ones(5, 4, 2))


def test_matmul_of_a_scalar_is_refused() -> None:
    """0-d operands are named, with the hint to use *."""
    with pytest.raises(ValueError, match=r"matmul.*\(\).*\(3,\)"):
        cr.matmul(cr.tensor(2.0), cr.ones(3))


BROADCASTING_OPS: list[tuple[str, Callable[[Any, Any], cr.Tensor]]] = [
    ("add", lambda x, y: x + y),
    ("subtract", lambda x, y: x - y),
    ("multiply", lambda x, y: x * y),
    ("divide", lambda x, y: x / y),
    ("power", lambda x, y: x**y),
    ("maximum", cr.maximum),
    ("minimum", cr.minimum),
]


@pytest.mark.parametrize(("op", "fun"), BROADCASTING_OPS, ids=[op for op, _ in BROADCASTING_OPS])
def test_broadcasting_mismatch_names_the_op_and_both_shapes(
    op: str, fun: Callable[[Any, Any], cr.Tensor]
) -> None:
    """(2, 3) against (4,) cannot broadcast: the op and both shapes are named."""
    with pytest.raises(ValueError, match=rf"{op}.*\(2, 3\).*\(4,\)"):
        fun(cr.ones(2, 3, requires_grad=True), cr.ones(4))


def test_broadcasting_mismatch_with_a_numpy_array_operand() -> None:
    """The mismatch is reported the same way when one operand is an ndarray."""
    with pytest.raises(ValueError, match=r"multiply.*\(3,\).*\(2,\)"):
        cr.ones(3) * np.ones(2)


def test_where_mismatch_names_all_three_shapes() -> None:
    """where names the condition's and both branches' shapes."""
    with pytest.raises(ValueError, match=r"where.*\(2, 3\).*\(4,\).*\(2, 3\)"):
        cr.where(np.ones((2, 3), dtype=bool), cr.ones(4), cr.ones(2, 3))


def test_broadcast_to_mismatch_names_both_shapes() -> None:
    """broadcast_to names the source and target shapes."""
    with pytest.raises(ValueError, match=r"broadcast_to.*\(3,\).*\(2, 4\)"):
        cr.broadcast_to(cr.ones(3), (2, 4))


def test_integer_to_negative_power_is_not_called_a_broadcasting_error() -> None:
    """int ** negative int fails in NumPy; the error must say why, not blame shapes."""
    with pytest.raises(ValueError, match="power") as error:
        cr.tensor(np.array([1, 2, 3])) ** -1
    message = _message(error).lower()
    assert "broadcast" not in message
    assert "negative" in message and "integer" in message


def test_reshape_names_both_shapes() -> None:
    """reshape names the tensor's shape and the requested one."""
    with pytest.raises(ValueError, match=r"reshape.*\(2, 3\).*\(4, 2\)"):
        cr.ones(2, 3).reshape(4, 2)
    with pytest.raises(ValueError, match=r"reshape.*\(5,\).*\(2, -1\)"):
        cr.reshape(cr.ones(5), (2, -1))


# --------------------------------------------------------------------------- backward
def test_backward_on_a_non_scalar_without_grad() -> None:
    """No implicit sum: a ValueError that says grad must be passed, with the shape."""
    y = cr.ones(2, 3, requires_grad=True) * 2
    with pytest.raises(ValueError, match=r"backward.*\(2, 3\)") as error:
        y.backward()
    assert "grad" in _message(error)
    assert "one-element" in _message(error)


def test_backward_on_a_tensor_that_does_not_require_grad() -> None:
    """A constant has no graph: the message says it does not require grad."""
    with pytest.raises(RuntimeError, match="does not require grad"):
        (cr.ones(3) * 2).sum().backward()


def test_backward_on_a_result_computed_under_no_grad() -> None:
    """The same message when the graph was not recorded, mentioning no_grad."""
    x = cr.ones(3, requires_grad=True)
    with cr.no_grad():
        y = (x * 2).sum()
    with pytest.raises(RuntimeError, match=r"does not require grad.*no_grad"):
        y.backward()


def test_backward_through_a_freed_graph_says_so() -> None:
    """The second backward names the freed node's op and the retain_graph remedy."""
    x = cr.ones(3, requires_grad=True)
    y = (x.tanh() * 2).sum()
    y.backward()
    with pytest.raises(cr.FreedGraphError, match=r"freed.*retain_graph=True") as error:
        y.backward()
    assert isinstance(error.value, RuntimeError)
    assert "'sum'" in _message(error)


# -------------------------------------------------------------------------- dtypes
@pytest.mark.parametrize("dtype", [np.int64, np.int16, np.bool_])
def test_integer_or_bool_requires_grad(dtype: type) -> None:
    """requires_grad on a non-float tensor: a TypeError naming the dtype."""
    with pytest.raises(TypeError, match=rf"floating-point.*{np.dtype(dtype).name}"):
        cr.tensor(np.ones(2, dtype=dtype), requires_grad=True)


@pytest.mark.parametrize(
    "data",
    [["a", "b"], np.array(["a", "b"]), np.array([1.0, None], dtype=object)],
    ids=["str-list", "str-array", "object-array"],
)
def test_non_numeric_data_is_refused(data: Any) -> None:
    """Strings and objects make no tensor, whether they come as a list or as an ndarray."""
    with pytest.raises(TypeError, match="tensor.*numeric"):
        cr.tensor(data)


# ----------------------------------------------------------------------------- axes
AXIS_OPS: list[tuple[str, Callable[[cr.Tensor], Any]]] = [
    ("sum", lambda t: t.sum(axis=2)),
    ("mean", lambda t: t.mean(axis=-3)),
    ("var", lambda t: t.var(axis=(0, 5))),
    ("max", lambda t: t.max(axis=2)),
    ("min", lambda t: t.min(axis=2)),
    ("logsumexp", lambda t: cr.logsumexp(t, axis=2)),
    ("softmax", lambda t: cr.softmax(t, axis=2)),
    ("log_softmax", lambda t: cr.log_softmax(t, axis=-3)),
    ("swapaxes", lambda t: t.swapaxes(0, 2)),
    ("squeeze", lambda t: t.squeeze(axis=3)),
    ("expand_dims", lambda t: cr.expand_dims(t, 4)),
    ("concatenate", lambda t: cr.concatenate([t, t], axis=2)),
    ("stack", lambda t: cr.stack([t, t], axis=4)),
    ("transpose", lambda t: t.transpose(0, 3)),
    ("transpose", lambda t: cr.transpose(t, (-3, 0))),
]


@pytest.mark.parametrize(
    ("op", "fun"), AXIS_OPS, ids=[f"{op}-{i}" for i, (op, _) in enumerate(AXIS_OPS)]
)
def test_axis_out_of_range_names_the_op(op: str, fun: Callable[[cr.Tensor], Any]) -> None:
    """An axis outside a 2-d tensor's range raises and names the op (NumPy raises too)."""
    with pytest.raises((ValueError, IndexError), match=op) as error:
        fun(cr.ones(2, 3, requires_grad=True))
    assert "axis" in _message(error) or "axes" in _message(error)


def test_repeated_axis_names_the_op() -> None:
    """sum over axis (0, 0) is refused, as in NumPy."""
    with pytest.raises(ValueError, match="sum.*repeated axis"):
        cr.ones(2, 3).sum(axis=(0, 0))


def test_squeeze_of_a_longer_axis() -> None:
    """squeeze names the axis and its size."""
    with pytest.raises(ValueError, match=r"squeeze.*axis 1.*\(2, 3\).*size 3"):
        cr.ones(2, 3).squeeze(axis=1)


# ----------------------------------------------------------------- joining and indexing
def test_concatenate_shape_mismatch_names_the_shapes() -> None:
    """concatenate lists every shape and the axis."""
    with pytest.raises(ValueError, match=r"concatenate.*\(2, 3\).*\(2, 4\).*axis 0"):
        cr.concatenate([cr.ones(2, 3), cr.ones(2, 4)], axis=0)


def test_concatenate_of_nothing() -> None:
    """An empty list is refused with the op named."""
    with pytest.raises(ValueError, match="concatenate"):
        cr.concatenate([])


def test_stack_shape_mismatch_names_the_shapes() -> None:
    """stack lists every shape."""
    with pytest.raises(ValueError, match=r"stack.*\(2, 3\).*\(3, 2\)"):
        cr.stack([cr.ones(2, 3), cr.ones(3, 2)])


@pytest.mark.parametrize(
    ("index", "bad"),
    [(5, "5"), ((slice(None), 3), "3"), ([0, -4], "-4"), ((0, 0, 0), "")],
    ids=["int", "second-axis", "fancy", "too-many"],
)
def test_getitem_out_of_bounds(index: Any, bad: str) -> None:
    """An index outside the tensor names getitem, the bad index and the tensor's shape."""
    with pytest.raises(IndexError, match="getitem") as error:
        cr.ones(3, 3, requires_grad=True)[index]
    assert bad in _message(error)
    assert "(3, 3)" in _message(error)


def test_getitem_wrong_mask_shape() -> None:
    """A boolean mask of the wrong length is an IndexError naming getitem."""
    with pytest.raises(IndexError, match=r"getitem.*\(3,\)"):
        cr.ones(3)[np.array([True, False])]


# ------------------------------------------------------------- NumPy functions that drop
@pytest.mark.parametrize(
    ("name", "fun"),
    [
        ("cumsum", np.cumsum),
        ("sort", np.sort),
        ("arctan", np.arctan),
        ("diff", np.diff),
        ("prod", np.prod),
        ("dot", lambda t: np.dot(t, t)),
        ("add.accumulate", np.add.accumulate),
    ],
    ids=["cumsum", "sort", "arctan", "diff", "prod", "dot", "add.accumulate"],
)
def test_numpy_function_that_would_drop_the_gradient(name: str, fun: Callable[[Any], Any]) -> None:
    """A NumPy function chainrule does not differentiate is a TypeError naming it."""
    x = cr.tensor(np.array([3.0, 1.0, 2.0]), requires_grad=True)
    with pytest.raises(TypeError, match=rf"numpy\.{re.escape(name)}\b.*gradient") as error:
        fun(x)
    assert "detach" in _message(error)


def test_numpy_function_on_values_is_allowed() -> None:
    """Without a gradient to lose (detached, constant, or under no_grad) it computes on values."""
    x = cr.tensor(np.array([3.0, 1.0, 2.0]), requires_grad=True)
    np.testing.assert_array_equal(np.cumsum(x.detach()), [3.0, 4.0, 6.0])
    np.testing.assert_array_equal(np.sort(cr.tensor(np.array([2.0, 1.0]))), [1.0, 2.0])
    with cr.no_grad():
        np.testing.assert_array_equal(np.cumsum(x), [3.0, 4.0, 6.0])


def test_numpy_function_inside_a_list_argument() -> None:
    """A tensor that requires grad nested in a list argument is found too."""
    x = cr.ones(2, requires_grad=True)
    with pytest.raises(TypeError, match=re.escape("numpy.vstack")):
        np.vstack([x, x])


def test_numpy_functions_without_floating_results_accept_tensors_that_require_grad() -> None:
    t = cr.tensor([1.0, np.inf], requires_grad=True)
    assert np.shape(t) == (2,)
    assert np.argmax(np.asarray(t)) == 1
    assert list(np.isfinite(t)) == [True, False]
    with pytest.raises(TypeError, match="cumsum"):
        np.cumsum(t)
