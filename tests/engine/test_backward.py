"""Engine regression tests: the graph walk, gradient accumulation, freeing and the Tensor API.

Every expected value is worked out by hand (or with plain NumPy) from the mathematics.
"""

from __future__ import annotations

import gc
import math
import threading
import tracemalloc
import weakref

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis.extra.numpy import BroadcastableShapes, mutually_broadcastable_shapes

import chainrule as cr
from chainrule import nn


def _leaf(values: object) -> cr.Tensor:
    """A float64 leaf that requires grad."""
    return cr.tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


# ------------------------------------------------------------------ reuse and shared nodes
def test_node_reuse_counts_every_path() -> None:
    """b = a + a; c = b + b gives dc/da = 4."""
    a = _leaf(1.5)
    b = a + a
    c = b + b
    c.backward()
    assert float(c) == 6.0
    assert float(a.grad) == 4.0


def test_node_reuse_vector_and_product() -> None:
    """c = b * b with b = a + a is 4a², so dc/da = 8a."""
    a = _leaf([1.0, -2.0, 3.0])
    b = a + a
    (b * b).sum().backward()
    np.testing.assert_array_equal(a.grad.data, 8 * a.data)


def test_shared_parameter_gradients_add_up() -> None:
    """w used three times: d/dw [sum(w*x) + sum(w²) + sum(w)] = x + 2w + 1."""
    w = _leaf([0.5, -1.0, 2.0])
    x = cr.tensor(np.array([3.0, 4.0, -5.0]))
    loss = (w * x).sum() + (w**2).sum() + w.sum()
    loss.backward()
    np.testing.assert_allclose(w.grad.data, x.data + 2 * w.data + 1, rtol=1e-15)


def test_same_tensor_as_both_operands_of_matmul() -> None:
    """d/dA sum(A @ A) = 1 Aᵀ + Aᵀ 1 (all-ones matrices), from the product rule."""
    rng = np.random.default_rng(0)
    a = _leaf(rng.standard_normal((3, 3)))
    (a @ a).sum().backward()
    ones = np.ones((3, 3))
    np.testing.assert_allclose(a.grad.data, ones @ a.data.T + a.data.T @ ones, rtol=1e-12)


def test_intermediate_nodes_and_constants_get_no_grad() -> None:
    """Only leaves that require grad have .grad written."""
    x = _leaf([1.0, 2.0])
    c = cr.tensor(np.array([3.0, 4.0]))
    h = x * c
    h.sum().backward()
    assert h.grad is None
    assert c.grad is None
    np.testing.assert_array_equal(x.grad.data, [3.0, 4.0])


def test_leaf_used_only_as_a_mask_gets_no_grad() -> None:
    """A comparison carries no gradient: x only picks the branch, so x.grad stays None."""
    x = _leaf([-1.0, 2.0])
    y = _leaf([3.0, 4.0])
    cr.where(x > 0, y * y, y).sum().backward()
    assert x.grad is None
    np.testing.assert_array_equal(y.grad.data, [1.0, 8.0])


# ------------------------------------------------------------------------- broadcasting
@pytest.mark.parametrize(
    ("x_shape", "y_shape"),
    [((3, 4), (4,)), ((3, 1), (1, 4)), ((), (2, 3)), ((2, 1, 3), (4, 1)), ((5,), ())],
)
def test_broadcast_operands_get_gradients_of_their_own_shape(
    x_shape: tuple[int, ...], y_shape: tuple[int, ...]
) -> None:
    """For sum(x * y): dx = y summed over the axes x was broadcast along (and vice versa)."""
    rng = np.random.default_rng(1)
    x = _leaf(rng.standard_normal(x_shape))
    y = _leaf(rng.standard_normal(y_shape))
    (x * y).sum().backward()
    out_shape = np.broadcast_shapes(x_shape, y_shape)
    expected_x = _sum_to(np.broadcast_to(y.data, out_shape), x_shape)
    expected_y = _sum_to(np.broadcast_to(x.data, out_shape), y_shape)
    assert x.grad.shape == x_shape
    assert y.grad.shape == y_shape
    np.testing.assert_allclose(x.grad.data, expected_x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y.grad.data, expected_y, rtol=1e-12, atol=1e-12)


def _sum_to(array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum a broadcast array back to ``shape`` (reference written independently of chainrule)."""
    while array.ndim > len(shape):
        array = array.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1:
            array = array.sum(axis=axis, keepdims=True)
    return array


@settings(max_examples=40, deadline=None, database=None)
@given(shapes=mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3))
def test_add_broadcast_gradient_counts_the_copies(shapes: BroadcastableShapes) -> None:
    """For sum(x + y), each element of x is used out.size / x.size times."""
    x_shape, y_shape = shapes.input_shapes
    x = _leaf(np.zeros(x_shape))
    y = _leaf(np.zeros(y_shape))
    (x + y).sum().backward()
    out_size = math.prod(shapes.result_shape)
    assert x.grad.shape == x_shape
    assert y.grad.shape == y_shape
    np.testing.assert_array_equal(x.grad.data, np.full(x_shape, out_size // math.prod(x_shape)))
    np.testing.assert_array_equal(y.grad.data, np.full(y_shape, out_size // math.prod(y_shape)))


def test_batched_matmul_gradient_sums_over_the_batch() -> None:
    """(B, n, k) @ (k, m): dW = sum_b X_bᵀ G_b with G all ones; dX_b = G Wᵀ."""
    rng = np.random.default_rng(2)
    x = _leaf(rng.standard_normal((5, 2, 3)))
    w = _leaf(rng.standard_normal((3, 4)))
    (x @ w).sum().backward()
    ones = np.ones((2, 4))
    expected_w = sum(x.data[b].T @ ones for b in range(5))
    np.testing.assert_allclose(w.grad.data, expected_w, rtol=1e-12)
    np.testing.assert_allclose(x.grad.data, np.broadcast_to(ones @ w.data.T, (5, 2, 3)))


# ----------------------------------------------------------------------------- indexing
def test_repeated_fancy_indices_accumulate() -> None:
    """x[[0, 0, 1]].sum() uses x[0] twice and x[1] once."""
    x = _leaf(np.arange(5.0))
    x[[0, 0, 1]].sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 1.0, 0.0, 0.0, 0.0])


def test_repeated_fancy_indices_accumulate_weighted() -> None:
    """sum(c * x[idx]) gives dx_j = sum of c_k over the k with idx_k = j."""
    x = _leaf(np.zeros(4))
    index = np.array([3, 1, 3, 3, 0])
    weights = np.array([1.0, 10.0, 100.0, 1000.0, 10000.0])
    (x[index] * weights).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [10000.0, 10.0, 0.0, 1101.0])


def test_repeated_index_pairs_in_two_dimensions() -> None:
    """m[[0, 0, 1], [2, 2, 0]] picks m[0, 2] twice and m[1, 0] once."""
    m = _leaf(np.arange(6.0).reshape(2, 3))
    m[[0, 0, 1], [2, 2, 0]].sum().backward()
    np.testing.assert_array_equal(m.grad.data, [[0.0, 0.0, 2.0], [1.0, 0.0, 0.0]])


@pytest.mark.parametrize("as_tensor", [False, True])
def test_boolean_mask_indexing(as_tensor: bool) -> None:
    """sum(x[mask]**2) has gradient 2x on the mask and 0 elsewhere."""
    x = _leaf([[1.0, -2.0, 3.0], [-4.0, 5.0, -6.0]])
    mask = x.data > 0
    index = cr.tensor(mask) if as_tensor else mask
    (x[index] ** 2).sum().backward()
    np.testing.assert_array_equal(x.grad.data, np.where(mask, 2 * x.data, 0.0))


def test_basic_slicing_gradient() -> None:
    """x[1:, ::2] with None and Ellipsis: the gradient is 1 exactly on the selected elements."""
    x = _leaf(np.ones((3, 4)))
    x[None, 1:, ..., ::2].sum().backward()
    expected = np.zeros((3, 4))
    expected[1:, ::2] = 1.0
    np.testing.assert_array_equal(x.grad.data, expected)


# ----------------------------------------------------------------- accumulation and reset
def test_two_backward_calls_add_up() -> None:
    """Two separate graphs of 3x: .grad becomes 3, then 6."""
    x = _leaf([1.0, 2.0])
    (3 * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, 3.0])
    (3 * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [6.0, 6.0])


def test_setting_grad_to_none_resets() -> None:
    """After x.grad = None the next backward starts from zero (zero_grad)."""
    x = _leaf([1.0, 2.0])
    (x * x).sum().backward()
    x.grad = None
    (5 * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [5.0, 5.0])


def test_retain_graph_allows_a_second_backward() -> None:
    """With retain_graph=True the same graph runs twice and the grads double: 2 * 2x."""
    x = _leaf([1.0, -3.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_array_equal(x.grad.data, 4 * x.data)


def test_backward_through_a_freed_graph_raises() -> None:
    """The second backward without retain_graph raises FreedGraphError, a RuntimeError."""
    x = _leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    assert issubclass(cr.FreedGraphError, RuntimeError)
    with pytest.raises(cr.FreedGraphError, match="retain_graph=True") as info:
        y.backward()
    assert "freed" in str(info.value)
    np.testing.assert_array_equal(x.grad.data, 2 * x.data)


def test_shared_intermediate_is_freed_by_the_first_backward() -> None:
    """h feeds two losses; after the first backward, the second names h's op."""
    x = _leaf([1.0, 2.0])
    h = x.exp()
    h.sum().backward()
    with pytest.raises(cr.FreedGraphError, match="'exp'"):
        (h * 3).sum().backward()


def test_backward_frees_intermediate_nodes() -> None:
    """Without retain_graph an intermediate is released although the loss is kept."""
    x = _leaf([1.0, 2.0])
    h = x * 2
    ref = weakref.ref(h)
    loss = h.exp().sum()
    del h
    loss.backward()
    gc.collect()
    assert ref() is None
    assert loss.item() == pytest.approx(math.exp(2) + math.exp(4))


def test_retain_graph_keeps_intermediate_nodes() -> None:
    """With retain_graph=True the kept loss still holds the graph."""
    x = _leaf([1.0, 2.0])
    h = x * 2
    ref = weakref.ref(h)
    loss = h.exp().sum()
    del h
    loss.backward(retain_graph=True)
    gc.collect()
    assert ref() is not None


# ------------------------------------------------------------------------------ no_grad
def test_no_grad_context_records_nothing() -> None:
    """Inside no_grad results do not require grad and are leaves."""
    x = _leaf([1.0, 2.0])
    with cr.no_grad():
        y = (x * 2).exp().sum()
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()
    assert not y.requires_grad
    assert y.is_leaf
    assert y._parents == ()
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_no_grad_decorator_records_nothing() -> None:
    """A function decorated with no_grad() records nothing, and grad mode comes back after."""

    @cr.no_grad()
    def double(t: cr.Tensor) -> cr.Tensor:
        return t * 2

    x = _leaf([1.0, 2.0])
    y = double(x)
    assert not y.requires_grad
    assert y.is_leaf
    assert cr.is_grad_enabled()
    assert (x * 2).requires_grad


def test_no_grad_bare_decorator() -> None:
    """@cr.no_grad without parentheses works like @cr.no_grad()."""

    @cr.no_grad
    def double(t: cr.Tensor) -> cr.Tensor:
        return t * 2

    assert not double(_leaf([1.0])).requires_grad
    assert cr.is_grad_enabled()


def test_no_grad_nests() -> None:
    """Nested no_grad blocks (and a recursive decorated function) restore the right state."""

    @cr.no_grad()
    def depth(n: int) -> bool:
        if n == 0:
            return cr.is_grad_enabled()
        return depth(n - 1)

    x = _leaf([1.0])
    with cr.no_grad():
        with cr.no_grad():
            assert not (x * 2).requires_grad
        assert not cr.is_grad_enabled()
        assert not (x * 2).requires_grad
        with cr.enable_grad():
            assert (x * 2).requires_grad
        assert not cr.is_grad_enabled()
    assert cr.is_grad_enabled()
    assert depth(3) is False
    assert cr.is_grad_enabled()


def test_no_grad_restores_state_after_an_exception() -> None:
    """An exception inside no_grad still turns recording back on."""
    with pytest.raises(KeyError):
        with cr.no_grad():
            raise KeyError("boom")
    assert cr.is_grad_enabled()


def test_no_grad_is_local_to_its_thread() -> None:
    """no_grad in one thread does not switch recording off in another."""
    seen: list[bool] = []
    x = _leaf([1.0])

    def worker() -> None:
        seen.append((x * 2).requires_grad)

    with cr.no_grad():
        thread = threading.Thread(target=worker)
        thread.start()
        thread.join()
    assert seen == [True]


# ------------------------------------------------------------------------ deep graphs
def test_chain_of_100000_products_has_the_right_derivative() -> None:
    """y = x * 1.0001^n over n = 10^5 nodes: dy/dx = 1.0001^n, no RecursionError."""
    n = 100_000
    x = _leaf(0.5)
    y = x
    for _ in range(n):
        y = y * 1.0001
    y.backward()
    expected = math.exp(n * math.log1p(1e-4))
    assert float(x.grad) == pytest.approx(expected, rel=1e-9)
    assert float(y) == pytest.approx(0.5 * expected, rel=1e-9)
    del y
    gc.collect()


def test_chain_of_100000_sums_reusing_the_leaf() -> None:
    """y = x + x + ... (10^5 terms): dy/dx = 10^5, with x a parent of every node."""
    n = 100_000
    x = _leaf(0.25)
    y = x
    for _ in range(n - 1):
        y = y + x
    y.backward()
    assert float(x.grad) == n


def test_chain_of_100000_nodes_can_be_deleted_with_its_graph() -> None:
    """A deep graph that was never freed (retained or not differentiated) is deleted safely."""
    x = _leaf(1.0)
    retained = x
    untouched = x
    for _ in range(100_000):
        retained = retained + 1.0
        untouched = untouched - 1.0
    retained.backward(retain_graph=True)
    assert float(x.grad) == 1.0
    ref = weakref.ref(retained)
    del retained, untouched
    gc.collect()
    assert ref() is None


# ------------------------------------------------------------------------------ memory
def test_training_loop_does_not_grow_memory() -> None:
    """10,000 forward/backward steps: traced memory after 1,000 and 10,000 steps agree."""
    rng = np.random.default_rng(3)
    w = cr.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    b = cr.tensor(np.zeros(3), requires_grad=True)
    features = cr.tensor(rng.standard_normal((8, 4)))
    losses = []
    tracemalloc.start()
    try:
        for step in range(1, 10_001):
            loss = ((features @ w + b).tanh() ** 2).mean()
            loss.backward()
            with cr.no_grad():
                w.data -= 0.01 * w.grad.data
                b.data -= 0.01 * b.grad.data
            w.grad = None
            b.grad = None
            if step % 1000 == 0:
                losses.append(loss.item())
            if step == 1_000:
                gc.collect()
                early = tracemalloc.get_traced_memory()[0]
        gc.collect()
        late = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert late - early < 16 * 1024
    assert losses[-1] < losses[0]


# ----------------------------------------------------------------------------- leaf grads
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_leaf_grad_is_a_tensor_of_the_leaf_shape_and_dtype(dtype: type) -> None:
    """.grad is a Tensor with the leaf's shape and dtype, that does not require grad."""
    x = cr.tensor(np.ones((2, 3), dtype=dtype), requires_grad=True)
    (x.exp() * 2).mean(axis=0).sum().backward()
    assert isinstance(x.grad, cr.Tensor)
    assert x.grad.shape == (2, 3)
    assert x.grad.dtype == np.dtype(dtype)
    assert not x.grad.requires_grad
    np.testing.assert_allclose(x.grad.data, np.full((2, 3), math.e), rtol=1e-6)


def test_leaf_grad_arrays_are_private() -> None:
    """x + y gives both leaves the same cotangent, but in different arrays."""
    x = _leaf([1.0, 2.0])
    y = _leaf([3.0, 4.0])
    (x + y).sum().backward()
    assert not np.shares_memory(x.grad.data, y.grad.data)
    x.grad.data *= 10
    np.testing.assert_array_equal(x.grad.data, [10.0, 10.0])
    np.testing.assert_array_equal(y.grad.data, [1.0, 1.0])


def test_leaf_grad_does_not_alias_the_seed() -> None:
    """backward(grad=v) on a leaf stores a copy of v, so changing .grad leaves v alone."""
    x = _leaf([1.0, 2.0])
    seed = np.array([5.0, 6.0])
    x.backward(seed)
    x.grad.data += 1
    np.testing.assert_array_equal(seed, [5.0, 6.0])
    np.testing.assert_array_equal(x.grad.data, [6.0, 7.0])


def test_leaf_grads_are_private_with_create_graph() -> None:
    """With create_graph=True, two leaves of x + y still get distinct, writable grads."""
    x = _leaf([1.0, 2.0])
    y = _leaf([3.0, 4.0])
    (x + y).sum().backward(create_graph=True)
    assert x.grad is not y.grad
    assert not np.shares_memory(x.grad.data, y.grad.data)
    x.grad.data[...] = 0.0
    np.testing.assert_array_equal(y.grad.data, [1.0, 1.0])


def test_plain_backward_after_create_graph_accumulates() -> None:
    """A first backward(create_graph=True) and then a plain one: grads add, 1 + 1 = 2."""
    x = _leaf([1.0, 2.0])
    x.sum().backward(create_graph=True)
    x.sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 2.0])


def test_accumulation_after_create_graph_keeps_leaves_apart() -> None:
    """d/dx and d/dy of sum((x + y) * w) are both w; backward twice (create_graph, then plain)
    gives 2w each."""
    x = _leaf([1.0, 2.0])
    y = _leaf([3.0, 4.0])
    w = np.array([2.0, 3.0])
    ((x + y) * w).sum().backward(create_graph=True)
    ((x + y) * w).sum().backward()
    np.testing.assert_array_equal(x.grad.data, 2 * w)
    np.testing.assert_array_equal(y.grad.data, 2 * w)


# ------------------------------------------------------------------------- Tensor API
def test_detach_shares_data_and_cuts_the_graph() -> None:
    """d/dx [stop(x) * x] = stop(x): no gradient flows through the detached copy."""
    x = _leaf([2.0, -3.0])
    d = x.detach()
    assert not d.requires_grad
    assert d.is_leaf
    assert np.shares_memory(d.data, x.data)
    (d * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, -3.0])


def test_requires_grad_() -> None:
    """requires_grad_ turns a leaf on and off, returns self, and refuses non-leaves."""
    x = cr.tensor(np.array([1.0, 2.0]))
    assert x.requires_grad_() is x
    assert x.requires_grad
    (x * x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 4.0])
    assert x.requires_grad_(False) is x
    assert not (x * 2).requires_grad
    y = _leaf([1.0]) * 2
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad_(False)


def test_item_float_int() -> None:
    """One-element tensors convert to Python numbers; others refuse."""
    t = cr.tensor(np.array([[2.75]]), requires_grad=True)
    assert t.item() == 2.75
    assert isinstance(t.item(), float)
    assert float(t) == 2.75
    assert int(t) == 2
    assert int(cr.tensor(np.array(-7))) == -7
    assert float(cr.tensor(np.array([3]))) == 3.0
    with pytest.raises(ValueError, match=r"\(2,\)"):
        cr.ones(2).item()
    with pytest.raises((ValueError, TypeError)):
        float(cr.ones(2))
    with pytest.raises((ValueError, TypeError)):
        int(cr.ones(3))


def test_numpy_interop() -> None:
    """np.asarray(t) and t.numpy() give the array itself, even for a tensor requiring grad."""
    x = _leaf([[1.0, 2.0], [3.0, 4.0]])
    array = np.asarray(x)
    assert type(array) is np.ndarray
    assert np.shares_memory(array, x.data)
    np.testing.assert_array_equal(array, [[1.0, 2.0], [3.0, 4.0]])
    assert x.numpy() is x.data
    assert np.asarray(x, dtype=np.float32).dtype == np.float32
    assert np.array(x).tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_transpose_property() -> None:
    """.T reverses the axes; d/dx sum(xᵀ * c) = cᵀ."""
    rng = np.random.default_rng(4)
    x = _leaf(rng.standard_normal((2, 3, 4)))
    assert x.T.shape == (4, 3, 2)
    np.testing.assert_array_equal(x.T.data, x.data.T)
    c = rng.standard_normal((4, 3, 2))
    (x.T * c).sum().backward()
    np.testing.assert_array_equal(x.grad.data, c.T)


def test_numpy_ufunc_on_tensor_is_differentiable() -> None:
    """np.exp(t) is recorded: d/dx sum(exp(x)) = exp(x)."""
    x = _leaf([0.0, 1.0])
    y = np.exp(x)
    assert isinstance(y, cr.Tensor)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, [1.0, math.e], rtol=1e-15)


# ------------------------------------------------------------------ vector-Jacobian seeds
def test_backward_with_grad_is_a_vector_jacobian_product() -> None:
    """y = A x, y.backward(v) gives x.grad = Aᵀ v."""
    rng = np.random.default_rng(5)
    a = rng.standard_normal((3, 4))
    x = _leaf(rng.standard_normal(4))
    v = rng.standard_normal(3)
    (cr.tensor(a) @ x).backward(v)
    np.testing.assert_allclose(x.grad.data, a.T @ v, rtol=1e-12)


def test_backward_with_grad_tensor_and_elementwise() -> None:
    """y = x², y.backward(v) gives 2 x v; v may be a Tensor or a nested list."""
    x = _leaf([[1.0, 2.0], [3.0, 4.0]])
    (x**2).backward(cr.tensor(np.array([[1.0, 0.0], [0.5, -1.0]])))
    np.testing.assert_array_equal(x.grad.data, [[2.0, 0.0], [3.0, -8.0]])
    x.grad = None
    (x**2).backward([[1.0, 1.0], [1.0, 1.0]])
    np.testing.assert_array_equal(x.grad.data, 2 * x.data)


def test_backward_grad_scales_a_scalar_output() -> None:
    """An explicit grad for a scalar output multiplies the gradient."""
    x = _leaf([1.0, 2.0])
    (x * x).sum().backward(3.0)
    np.testing.assert_array_equal(x.grad.data, [6.0, 12.0])


def test_backward_grad_must_match_the_output_shape() -> None:
    """A grad of the wrong shape is a ValueError naming both shapes."""
    x = _leaf(np.ones((2, 3)))
    y = x * 2
    with pytest.raises(ValueError, match=r"\(3,\).*\(2, 3\)"):
        y.backward(np.ones(3))
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(2, 3\)"):
        y.backward(np.ones((3, 2)))
    assert x.grad is None


def test_backward_grad_of_another_dtype_is_cast() -> None:
    """A float64 seed for a float32 output gives the float32 leaf a float32 grad."""
    x = cr.tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    (x * 2).backward(np.array([1.0, 0.5]))
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, [2.0, 1.0])


def test_backward_grad_of_another_dtype_is_cast_with_create_graph() -> None:
    """The same cast happens when the seed is a float64 Tensor and create_graph=True."""
    x = cr.tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    (x * 2).backward(cr.tensor(np.array([1.0, 0.5])), create_graph=True)
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, [2.0, 1.0])


def test_parameter_gradients_are_plain_tensors_and_stay_differentiable() -> None:
    """A Parameter's .grad is a Tensor (not a Parameter); with create_graph it keeps its graph,
    so the second derivative of sum(p³) in p, 6p, comes through."""
    p = nn.Parameter(np.array([1.0, 2.0]))
    (p**3).sum().backward(create_graph=True)
    assert type(p.grad) is cr.Tensor and p.grad.requires_grad
    np.testing.assert_allclose(p.grad.data, [3.0, 12.0])
    first = p.grad
    p.grad = None
    first.sum().backward()
    np.testing.assert_allclose(p.grad.data, [6.0, 12.0])
    assert type(p.grad) is cr.Tensor
