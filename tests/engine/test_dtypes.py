"""dtypes: float32 by default, NumPy arrays keep theirs, Python scalars never change a tensor's."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

import chainrule as cr

F32 = np.dtype(np.float32)
F64 = np.dtype(np.float64)


@pytest.fixture
def default_float64() -> Iterator[None]:
    """Switch the default dtype to float64 for one test, then restore the previous one."""
    previous = cr.get_default_dtype()
    cr.set_default_dtype(np.float64)
    try:
        yield
    finally:
        cr.set_default_dtype(previous)


def _f32(values: Any, requires_grad: bool = False) -> cr.Tensor:
    return cr.tensor(np.asarray(values, dtype=np.float32), requires_grad=requires_grad)


# ------------------------------------------------------------------------------- defaults
def test_default_dtype_is_float32() -> None:
    """The library default, before any test changes it."""
    assert cr.get_default_dtype() == F32


@pytest.mark.parametrize(
    "data", [2.5, 3, [1, 2, 3], [1.0, 2.0], [[1, 2], [3.5, 4]], (1.0, 2.0)], ids=repr
)
def test_python_numbers_and_lists_become_float32(data: Any) -> None:
    """Python numbers, lists and tuples (ints included) become float32."""
    assert cr.tensor(data).dtype == F32


def test_python_bools_stay_bool() -> None:
    """A list of bools is a boolean tensor, not a float one."""
    assert cr.tensor([True, False]).dtype == np.bool_


@pytest.mark.parametrize(
    "dtype", [np.float16, np.float32, np.float64, np.int32, np.int64, np.bool_]
)
def test_numpy_arrays_keep_their_dtype(dtype: type) -> None:
    """A NumPy array (or NumPy scalar) keeps its dtype, whatever the default."""
    assert cr.tensor(np.zeros(3, dtype=dtype)).dtype == np.dtype(dtype)
    assert cr.tensor(np.zeros((), dtype=dtype)[()]).dtype == np.dtype(dtype)


def test_explicit_dtype_wins() -> None:
    """dtype= overrides both rules."""
    assert cr.tensor([1, 2], dtype=np.float64).dtype == F64
    assert cr.tensor(np.zeros(2), dtype=np.float32).dtype == F32
    assert cr.tensor([1, 2], dtype=np.int32).dtype == np.int32


def test_tensor_copies_its_input() -> None:
    """cr.tensor holds a copy, so later changes to the array do not leak in."""
    array = np.array([1.0, 2.0])
    t = cr.tensor(array)
    array[0] = 100.0
    assert t.data[0] == 1.0


def test_creation_functions_use_the_default_dtype() -> None:
    """zeros, ones, full, eye, rand, randn and float arange are float32 by default."""
    rng = np.random.default_rng(0)
    made = [
        cr.zeros(2, 3),
        cr.ones((2,)),
        cr.full((2, 2), 7),
        cr.eye(3),
        cr.rand(2, rng=rng),
        cr.randn(2, 2, rng=rng),
        cr.arange(0.0, 1.0, 0.25),
    ]
    assert [t.dtype for t in made] == [F32] * len(made)
    assert cr.arange(5).dtype == np.int64
    assert cr.zeros(2, dtype=np.float64).dtype == F64


def test_set_default_dtype_float64(default_float64: None) -> None:
    """After set_default_dtype(float64), numbers, lists and creation functions are float64."""
    assert cr.get_default_dtype() == F64
    assert cr.tensor(1.5).dtype == F64
    assert cr.tensor([1, 2]).dtype == F64
    assert cr.zeros(2).dtype == F64
    assert cr.randn(2, rng=np.random.default_rng(0)).dtype == F64
    assert cr.tensor(np.zeros(2, dtype=np.float32)).dtype == F32


def test_set_default_dtype_is_restored_by_the_fixture() -> None:
    """The float64 fixture above did not leak into this test."""
    assert cr.get_default_dtype() == F32


@pytest.mark.parametrize("dtype", [np.int64, np.float16, np.bool_, np.complex128])
def test_set_default_dtype_rejects_non_float32_64(dtype: type) -> None:
    """Only float32 and float64 are allowed as the default; the error names the dtype."""
    with pytest.raises(TypeError, match=np.dtype(dtype).name):
        cr.set_default_dtype(dtype)
    assert cr.get_default_dtype() == F32


# ----------------------------------------------------------------------- Python scalars
SCALAR_EXPRESSIONS: list[tuple[str, Callable[[cr.Tensor], cr.Tensor], Callable[[Any], Any]]] = [
    ("t * 2.5", lambda t: t * 2.5, lambda x: np.full_like(x, 2.5)),
    ("2.5 * t", lambda t: 2.5 * t, lambda x: np.full_like(x, 2.5)),
    ("t + 1", lambda t: t + 1, np.ones_like),
    ("1 + t", lambda t: 1 + t, np.ones_like),
    ("t - 0.1", lambda t: t - 0.1, np.ones_like),
    ("0.1 - t", lambda t: 0.1 - t, lambda x: -np.ones_like(x)),
    ("t ** 2", lambda t: t**2, lambda x: 2 * x),
    ("t ** 0.5", lambda t: t**0.5, lambda x: 0.5 / np.sqrt(x)),
    ("2 ** t", lambda t: 2**t, lambda x: np.log(2) * 2**x),
    ("1 / t", lambda t: 1 / t, lambda x: -1 / x**2),
    ("t / 3", lambda t: t / 3, lambda x: np.full_like(x, 1 / 3)),
    ("maximum(t, 0.7)", lambda t: cr.maximum(t, 0.7), lambda x: (x > 0.7).astype(x.dtype)),
    ("where(t > 1, t, 0.0)", lambda t: cr.where(t > 1, t, 0.0), lambda x: (x > 1).astype(x.dtype)),
    (
        "clip(t, 0.6, 1.5)",
        lambda t: cr.clip(t, 0.6, 1.5),
        lambda x: ((x >= 0.6) & (x <= 1.5)) * 1.0,
    ),
]


@pytest.mark.parametrize(
    ("expression", "fun", "derivative"), SCALAR_EXPRESSIONS, ids=[e[0] for e in SCALAR_EXPRESSIONS]
)
def test_python_scalar_never_changes_a_float32_tensor(
    expression: str, fun: Callable[[cr.Tensor], cr.Tensor], derivative: Callable[[Any], Any]
) -> None:
    """A Python float (a float64 value) or int next to a float32 tensor gives float32, and
    the float32 leaf's gradient is float32 and right."""
    x64 = np.array([0.5, 1.25, 2.0])
    t = _f32(x64, requires_grad=True)
    out = fun(t)
    assert out.dtype == F32, expression
    out.sum().backward()
    assert t.grad.dtype == F32
    np.testing.assert_allclose(t.grad.data, derivative(x64), rtol=1e-6)


@pytest.mark.parametrize(
    ("expression", "fun", "derivative"), SCALAR_EXPRESSIONS, ids=[e[0] for e in SCALAR_EXPRESSIONS]
)
def test_python_scalar_never_changes_a_float32_tensor_under_float64_default(
    default_float64: None,
    expression: str,
    fun: Callable[[cr.Tensor], cr.Tensor],
    derivative: Callable[[Any], Any],
) -> None:
    """The scalar takes the tensor's dtype, not the default dtype."""
    t = _f32([0.5, 1.25, 2.0], requires_grad=True)
    assert fun(t).dtype == F32, expression


def test_python_scalar_keeps_float64_and_integer_tensors() -> None:
    """float64 stays float64; an int tensor with a Python int stays an int tensor."""
    d = cr.tensor(np.array([1.0, 2.0]))
    assert (d * 2.5).dtype == F64
    assert (d + 1).dtype == F64
    i = cr.tensor(np.array([1, 2], dtype=np.int32))
    assert (i + 1).dtype == np.int32
    assert (i * 3).dtype == np.int32
    assert (i**2).dtype == np.int32


def test_int_tensor_with_python_float_or_division_gives_the_default_float() -> None:
    """An int tensor meeting a Python float, or divided, becomes the default float (float32)."""
    i = cr.tensor(np.array([1, 2]))
    assert (i * 2.5).dtype == F32
    assert (i / 2).dtype == F32
    np.testing.assert_array_equal((i / 2).data, [0.5, 1.0])


def test_int_tensor_with_python_float_under_float64_default(default_float64: None) -> None:
    """... and float64 when that is the default."""
    i = cr.tensor(np.array([1, 2]))
    assert (i * 2.5).dtype == F64
    assert (i / 2).dtype == F64


# ----------------------------------------------------------------------- NumPy scalars
@pytest.mark.parametrize(
    "fun",
    [
        lambda t, s: t * s,
        lambda t, s: s * t,
        lambda t, s: t + s,
        lambda t, s: t - s,
        lambda t, s: s - t,
        lambda t, s: t / s,
        lambda t, s: t**s,
    ],
    ids=["t*s", "s*t", "t+s", "t-s", "s-t", "t/s", "t**s"],
)
def test_numpy_scalars_promote_as_in_numpy(fun: Callable[[Any, Any], Any]) -> None:
    """NEP 50 (NumPy 2): a NumPy scalar is typed like a 0-d array, so np.float64 widens a
    float32 tensor to float64 while np.float32 keeps it float32, exactly as with ndarrays.
    The float32 leaf's gradient stays float32."""
    base = np.array([0.5, 2.0], dtype=np.float32)
    for scalar in (np.float64(2.0), np.float32(2.0)):
        expected = fun(base, scalar).dtype
        assert expected == np.result_type(np.float32, scalar.dtype)
        t = cr.tensor(base, requires_grad=True)
        out = fun(t, scalar)
        assert out.dtype == expected
        out.sum().backward()
        assert t.grad.dtype == F32


# ------------------------------------------------------------------------ mixed tensors
@pytest.mark.parametrize("int_dtype", [np.int8, np.int32, np.int64, np.uint8, np.bool_])
def test_integer_tensor_meets_float32_tensor_gives_float32(int_dtype: type) -> None:
    """As in PyTorch (not NumPy's int64 + float32 = float64): the float tensor's dtype wins."""
    i = cr.tensor(np.array([1, 0, 1], dtype=int_dtype))
    f = _f32([0.5, 1.5, 2.5], requires_grad=True)
    for out in (i + f, f * i, i - f, f / (i + 1), cr.maximum(i, f)):
        assert out.dtype == F32
    (f * i).sum().backward()
    assert f.grad.dtype == F32
    np.testing.assert_array_equal(f.grad.data, [1.0, 0.0, 1.0])


def test_integer_matmul_with_float32() -> None:
    """An integer matrix times a float32 vector is float32."""
    m = cr.tensor(np.array([[1, 2], [3, 4]]))
    v = _f32([1.0, -1.0], requires_grad=True)
    out = m @ v
    assert out.dtype == F32
    out.sum().backward()
    np.testing.assert_array_equal(v.grad.data, [4.0, 6.0])
    assert v.grad.dtype == F32


@pytest.mark.parametrize(
    "fun",
    [
        lambda x, y: x + y,
        lambda x, y: x * y,
        lambda x, y: y - x,
        lambda x, y: x / y,
        lambda x, y: x @ y,
        lambda x, y: cr.maximum(x, y),
        lambda x, y: cr.concatenate([x, y]),
        lambda x, y: cr.stack([x, y]),
    ],
    ids=["add", "mul", "sub", "div", "matmul", "maximum", "concatenate", "stack"],
)
def test_float32_meets_float64_gives_float64_and_keeps_leaf_dtypes(
    fun: Callable[[cr.Tensor, cr.Tensor], cr.Tensor],
) -> None:
    """float32 + float64 is float64; each leaf's grad has that leaf's dtype."""
    x = _f32([1.0, 2.0], requires_grad=True)
    y = cr.tensor(np.array([3.0, 5.0]), requires_grad=True)
    out = fun(x, y)
    assert out.dtype == F64
    out.sum().backward()
    assert x.grad.dtype == F32
    assert y.grad.dtype == F64


def test_float32_plus_float64_gradient_values() -> None:
    """d/dx sum(x * y) = y rounded to float32; d/dy = x exactly."""
    x = _f32([1.5, -2.0], requires_grad=True)
    y = cr.tensor(np.array([0.1, 0.3]), requires_grad=True)
    (x * y).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.array([0.1, 0.3], dtype=np.float32))
    np.testing.assert_array_equal(y.grad.data, [1.5, -2.0])


# ------------------------------------------------------------------ integer requires_grad
@pytest.mark.parametrize("dtype", [np.int32, np.int64, np.uint8, np.bool_])
def test_integer_and_boolean_tensors_cannot_require_grad(dtype: type) -> None:
    """requires_grad on an int or bool tensor is a TypeError that names the dtype."""
    name = np.dtype(dtype).name
    data = np.zeros(3, dtype=dtype)
    with pytest.raises(TypeError, match=rf"floating-point.*{name}"):
        cr.tensor(data, requires_grad=True)
    with pytest.raises(TypeError, match=name):
        cr.tensor(data).requires_grad_()
    with pytest.raises(TypeError, match=name):
        cr.zeros(3, dtype=dtype, requires_grad=True)


def test_integer_arange_cannot_require_grad() -> None:
    """arange of ints is int64, so requires_grad=True is refused."""
    with pytest.raises(TypeError, match="int64"):
        cr.arange(4, requires_grad=True)
    assert cr.arange(0.0, 4.0, requires_grad=True).requires_grad


def test_casting_to_an_integer_ends_the_graph() -> None:
    """astype(int) gives a tensor that carries no gradient."""
    x = cr.tensor(np.array([1.7, 2.2]), requires_grad=True)
    assert not x.astype(np.int64).requires_grad
    assert x.astype(np.float32).requires_grad


# --------------------------------------------------------------------- gradient dtypes
GRADIENT_FUNCTIONS: list[tuple[str, Callable[[cr.Tensor], cr.Tensor]]] = [
    ("exp", lambda t: t.exp().sum()),
    ("log", lambda t: t.log().sum()),
    ("sqrt", lambda t: t.sqrt().sum()),
    ("tanh", lambda t: t.tanh().sum()),
    ("sigmoid", lambda t: t.sigmoid().sum()),
    ("relu", lambda t: t.relu().sum()),
    ("abs", lambda t: abs(t).sum()),
    ("mean", lambda t: t.mean(axis=0).sum()),
    ("var", lambda t: t.var(axis=1).sum()),
    ("max", lambda t: t.max(axis=1).sum()),
    ("min", lambda t: t.min()),
    ("maximum", lambda t: cr.maximum(t, 1.75).sum()),
    ("minimum", lambda t: cr.minimum(t, t[::-1]).sum()),
    ("clip", lambda t: t.clip(1.0, 2.0).sum()),
    ("where", lambda t: cr.where(t > 1.2, t, 2 * t).sum()),
    ("logsumexp", lambda t: t.logsumexp(axis=1).sum()),
    ("softmax", lambda t: (t.softmax(axis=1) * t).sum()),
    ("log_softmax", lambda t: t.log_softmax().sum()),
    ("matmul", lambda t: (t @ t.T).sum()),
    ("getitem", lambda t: t[[0, 0, 1], 1:].sum()),
    ("reshape", lambda t: (t.reshape(3, 2) ** 2).sum()),
    ("transpose", lambda t: (t.T * 1.5).sum()),
    ("div", lambda t: (t / (t + 1)).sum()),
    ("power", lambda t: (t**t).sum()),
]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize(
    ("name", "fun"), GRADIENT_FUNCTIONS, ids=[name for name, _ in GRADIENT_FUNCTIONS]
)
def test_gradients_keep_the_leaf_dtype(
    name: str, fun: Callable[[cr.Tensor], cr.Tensor], dtype: type
) -> None:
    """The output and the leaf's gradient keep the leaf's dtype through every op."""
    x = cr.tensor(np.array([[0.5, 1.0, 1.5], [2.0, 2.5, 3.0]], dtype=dtype), requires_grad=True)
    out = fun(x)
    assert out.dtype == np.dtype(dtype), name
    out.backward()
    assert x.grad.dtype == np.dtype(dtype), name
    assert x.grad.shape == x.shape
