"""The functional API (grad, value_and_grad, jacobian, hessian, hvp) against closed forms."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import chainrule as cr


def _rosenbrock(v: cr.Tensor) -> cr.Tensor:
    return (1 - v[0]) ** 2 + 100 * (v[1] - v[0] ** 2) ** 2


def _rosenbrock_hessian(x: float, y: float) -> np.ndarray:
    """f_xx = 2 - 400 y + 1200 x², f_xy = -400 x, f_yy = 200."""
    return np.array([[2 - 400 * y + 1200 * x**2, -400 * x], [-400 * x, 200.0]])


def _classify(hessian: np.ndarray) -> str:
    """Second-derivative test at a critical point, from the eigenvalues of the Hessian."""
    eigenvalues = np.linalg.eigvalsh(hessian)
    if np.all(eigenvalues > 0):
        return "minimum"
    if np.all(eigenvalues < 0):
        return "maximum"
    if eigenvalues.min() < 0 < eigenvalues.max():
        return "saddle"
    return "degenerate"


# ----------------------------------------------------------------------------------- grad
def test_grad_of_sum_of_cubes() -> None:
    """d/dx sum(x³) = 3x², returned as a Tensor."""
    x = np.array([1.0, -2.0, 0.5])
    g = cr.grad(lambda t: (t**3).sum())(x)
    assert isinstance(g, cr.Tensor)
    assert g.dtype == np.float64
    np.testing.assert_allclose(g.data, 3 * x**2, rtol=1e-15)


@pytest.mark.parametrize(
    "make_input",
    [
        lambda: 1.5,
        lambda: [1.5],
        lambda: np.float64(1.5),
        lambda: np.array(1.5),
        lambda: cr.tensor(1.5),
        lambda: cr.tensor(np.array(1.5), requires_grad=True),
    ],
    ids=["float", "list", "np-scalar", "array", "tensor", "tensor-requiring-grad"],
)
def test_grad_accepts_numbers_arrays_and_tensors(make_input: Callable[[], Any]) -> None:
    """d/dx (x³ + 2x) at 1.5 is 3(2.25) + 2 = 8.75, whatever the input's type."""
    g = cr.grad(lambda t: (t**3 + 2 * t).sum())(make_input())
    assert isinstance(g, cr.Tensor)
    assert float(g) == pytest.approx(8.75, rel=1e-6)


def test_grad_with_respect_to_another_argument() -> None:
    """d/db sum(a * b²) = 2 a b."""
    a = np.array([1.0, 2.0])
    b = np.array([3.0, -1.0])
    g = cr.grad(lambda a, b: (a * b**2).sum(), argnums=1)(a, b)
    np.testing.assert_allclose(g.data, 2 * a * b, rtol=1e-15)


def test_grad_passes_keyword_arguments() -> None:
    """Keyword arguments reach fun and are not differentiated."""
    g = cr.grad(lambda x, scale=1.0: (scale * x**2).sum())(np.array([1.0, 2.0]), scale=3.0)
    np.testing.assert_allclose(g.data, [6.0, 12.0])


def test_grad_of_a_function_that_ignores_its_input_is_zero() -> None:
    """A constant function has a zero gradient of the input's shape."""
    g = cr.grad(lambda x: cr.tensor(np.array(3.0)))(np.ones((2, 3)))
    np.testing.assert_array_equal(g.data, np.zeros((2, 3)))


def test_grad_refuses_a_non_scalar_output() -> None:
    """grad needs a scalar function; the message gives the output shape."""
    with pytest.raises(ValueError, match=r"scalar.*\(3,\)"):
        cr.grad(lambda x: x * 2)(np.ones(3))


def test_argnums_out_of_range() -> None:
    """An argnums past the arguments is a ValueError naming it."""
    with pytest.raises(ValueError, match="argnums 2"):
        cr.grad(lambda a, b: (a * b).sum(), argnums=2)(1.0, 2.0)


# ------------------------------------------------------------------------ value_and_grad
def test_value_and_grad_single_argnum() -> None:
    """f(x) = sum(exp(x)): the value and the gradient exp(x)."""
    x = np.array([0.0, 1.0])
    value, g = cr.value_and_grad(lambda t: t.exp().sum())(x)
    assert isinstance(value, cr.Tensor)
    assert float(value) == pytest.approx(1 + math.e, rel=1e-15)
    np.testing.assert_allclose(g.data, np.exp(x), rtol=1e-15)


def test_value_and_grad_tuple_argnums() -> None:
    """f(a, b) = sum(a b) + sum(a²): d/da = b + 2a, d/db = a, as a tuple in argnums order."""
    a = np.array([1.0, 2.0])
    b = np.array([3.0, 4.0])

    def fun(a: cr.Tensor, b: cr.Tensor) -> cr.Tensor:
        return (a * b).sum() + (a**2).sum()

    value, grads = cr.value_and_grad(fun, argnums=(0, 1))(a, b)
    assert float(value) == 16.0
    assert isinstance(grads, tuple) and len(grads) == 2
    np.testing.assert_allclose(grads[0].data, b + 2 * a)
    np.testing.assert_allclose(grads[1].data, a)
    value, (db, da) = cr.value_and_grad(fun, argnums=(1, 0))(a, b)
    np.testing.assert_allclose(db.data, a)
    np.testing.assert_allclose(da.data, b + 2 * a)
    _, single = cr.value_and_grad(fun, argnums=(1,))(a, b)
    assert isinstance(single, tuple) and len(single) == 1


def test_grad_tuple_argnums_with_a_number_argument() -> None:
    """d/dx and d/dy of x²y at (3, 2): (2xy, x²) = (12, 9)."""
    dx, dy = cr.grad(lambda x, y: x**2 * y, argnums=(0, 1))(3.0, 2.0)
    assert float(dx) == 12.0
    assert float(dy) == 9.0


# ------------------------------------------------------------------------------ jacobian
def test_jacobian_of_a_linear_map_is_the_matrix() -> None:
    """J(A x) = A, of shape out.shape + x.shape = (2, 3)."""
    a = np.arange(6.0).reshape(2, 3) - 2.5
    jac = cr.jacobian(lambda x: cr.tensor(a) @ x)(np.array([0.1, 0.2, 0.3]))
    assert jac.shape == (2, 3)
    np.testing.assert_allclose(jac.data, a, rtol=1e-15)


def test_jacobian_of_an_elementwise_map_is_diagonal() -> None:
    """J(tanh x) = diag(1 - tanh²(x))."""
    x = np.array([-1.0, 0.0, 0.5, 2.0])
    jac = cr.jacobian(cr.tanh)(x)
    np.testing.assert_allclose(jac.data, np.diag(1 - np.tanh(x) ** 2), rtol=1e-12, atol=1e-15)


def test_jacobian_of_the_outer_product() -> None:
    """f_ij = x_i x_j: J_ijk = δ_ik x_j + x_i δ_jk, shape (3, 3, 3)."""
    x = np.array([1.0, -2.0, 3.0])
    jac = cr.jacobian(lambda t: t[:, None] * t[None, :])(x)
    eye = np.eye(3)
    expected = np.einsum("ik,j->ijk", eye, x) + np.einsum("i,jk->ijk", x, eye)
    assert jac.shape == (3, 3, 3)
    np.testing.assert_allclose(jac.data, expected, rtol=1e-15)


def test_jacobian_of_a_matrix_function() -> None:
    """f(X) = X B with X (2, 3): J_ijkl = δ_ik B_lj, shape (2, 4, 2, 3)."""
    rng = np.random.default_rng(0)
    b = rng.standard_normal((3, 4))
    x = rng.standard_normal((2, 3))
    jac = cr.jacobian(lambda t: t @ b)(x)
    expected = np.einsum("ik,lj->ijkl", np.eye(2), b)
    assert jac.shape == (2, 4, 2, 3)
    np.testing.assert_allclose(jac.data, expected, rtol=1e-15)


def test_jacobian_of_a_scalar_function_is_the_gradient() -> None:
    """For a scalar output the Jacobian has x's shape: d/dx sum(x²) = 2x."""
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    jac = cr.jacobian(lambda t: (t**2).sum())(x)
    assert jac.shape == (2, 2)
    np.testing.assert_allclose(jac.data, 2 * x)


def test_jacobian_with_argnums() -> None:
    """d/dy (x * y) for vectors is diag(x)."""
    x = np.array([2.0, 3.0])
    jac = cr.jacobian(lambda x, y: x * y, argnums=1)(x, np.array([5.0, 7.0]))
    np.testing.assert_allclose(jac.data, np.diag(x))


def test_jacobian_of_softmax() -> None:
    """J(softmax) = diag(p) - p pᵀ."""
    x = np.array([0.5, -1.0, 2.0])
    p = np.exp(x) / np.exp(x).sum()
    jac = cr.jacobian(cr.softmax)(x)
    np.testing.assert_allclose(jac.data, np.diag(p) - np.outer(p, p), atol=1e-15)


# ------------------------------------------------------------------------------- hessian
def test_hessian_of_a_quadratic_form() -> None:
    """H(xᵀ A x) = A + Aᵀ for any (non-symmetric) A, at any x."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal((4, 4))
    x = rng.standard_normal(4)
    hess = cr.hessian(lambda t: t @ cr.tensor(a) @ t)(x)
    assert hess.shape == (4, 4)
    np.testing.assert_allclose(hess.data, a + a.T, rtol=1e-12, atol=1e-14)


def test_hessian_of_least_squares() -> None:
    """H(½|Ax - b|²) = AᵀA."""
    rng = np.random.default_rng(2)
    a = rng.standard_normal((5, 3))
    b = rng.standard_normal(5)
    hess = cr.hessian(lambda t: 0.5 * ((a @ t - b) ** 2).sum())(rng.standard_normal(3))
    np.testing.assert_allclose(hess.data, a.T @ a, rtol=1e-12, atol=1e-14)


def test_hessian_of_logsumexp() -> None:
    """H(logsumexp x) = diag(p) - p pᵀ with p = softmax(x)."""
    x = np.array([0.3, -1.2, 2.0, 0.0])
    p = np.exp(x) / np.exp(x).sum()
    hess = cr.hessian(cr.logsumexp)(x)
    np.testing.assert_allclose(hess.data, np.diag(p) - np.outer(p, p), atol=1e-15)


def test_hessian_of_the_variance() -> None:
    """var(x) = (1/n) Σ (x_i - mean)²: H = (2/n)(I - 11ᵀ/n)."""
    n = 5
    x = np.random.default_rng(3).standard_normal(n)
    hess = cr.hessian(cr.var)(x)
    np.testing.assert_allclose(hess.data, 2 / n * (np.eye(n) - 1 / n), atol=1e-15)


def test_hessian_of_a_matrix_input_has_shape_x_shape_twice() -> None:
    """f(X) = Σ C_ij X_ij²: H_ijkl = 2 C_ij δ_ik δ_jl, shape (2, 3, 2, 3)."""
    rng = np.random.default_rng(4)
    c = rng.standard_normal((2, 3))
    hess = cr.hessian(lambda t: (c * t * t).sum())(rng.standard_normal((2, 3)))
    expected = 2 * np.einsum("ij,ik,jl->ijkl", c, np.eye(2), np.eye(3))
    assert hess.shape == (2, 3, 2, 3)
    np.testing.assert_allclose(hess.data, expected, rtol=1e-15)


def test_hessian_of_rosenbrock_at_its_minimum() -> None:
    """At (1, 1): [[802, -400], [-400, 200]], positive definite: a minimum."""
    hess = cr.hessian(_rosenbrock)(np.array([1.0, 1.0]))
    np.testing.assert_allclose(hess.data, [[802.0, -400.0], [-400.0, 200.0]], rtol=1e-14)
    assert _classify(hess.data) == "minimum"


def test_hessian_of_rosenbrock_away_from_the_minimum() -> None:
    """At a random point the Hessian matches the hand-derived formula."""
    x, y = np.random.default_rng(5).uniform(-2, 2, size=2)
    hess = cr.hessian(_rosenbrock)(np.array([x, y]))
    np.testing.assert_allclose(hess.data, _rosenbrock_hessian(x, y), rtol=1e-12)


@pytest.mark.parametrize(
    ("fun", "expected", "kind"),
    [
        (lambda v: v[0] ** 2 + 3 * v[1] ** 2, [[2.0, 0.0], [0.0, 6.0]], "minimum"),
        (lambda v: -(v[0] ** 2 + v[1] ** 2), [[-2.0, 0.0], [0.0, -2.0]], "maximum"),
        (lambda v: v[0] ** 2 - v[1] ** 2, [[2.0, 0.0], [0.0, -2.0]], "saddle"),
        (lambda v: v[0] * v[1], [[0.0, 1.0], [1.0, 0.0]], "saddle"),
    ],
    ids=["x2+3y2", "-(x2+y2)", "x2-y2", "xy"],
)
def test_hessian_classifies_critical_points(
    fun: Callable[[cr.Tensor], cr.Tensor], expected: list[list[float]], kind: str
) -> None:
    """At the critical point 0 the eigenvalues' signs tell minimum, maximum and saddle."""
    origin = np.zeros(2)
    np.testing.assert_array_equal(cr.grad(fun)(origin).data, [0.0, 0.0])
    hess = cr.hessian(fun)(origin)
    np.testing.assert_array_equal(hess.data, expected)
    assert _classify(hess.data) == kind


_POINT = np.array([0.7, -1.3, 1.6])
_WEIGHTS = np.array([1.0, 2.0, -0.5])


def _softmax(x: np.ndarray) -> np.ndarray:
    return np.exp(x) / np.exp(x).sum()


def _first_softmax_hessian(x: np.ndarray) -> np.ndarray:
    """∂²p₀/∂x_j∂x_k = (δ_0k - p_k) d_j - p_j d_k - p₀(δ_jk p_j - p_j p_k), d = ∇p₀ = p₀(e₀ - p)."""
    p = _softmax(x)
    e0 = np.eye(len(x))[0]
    d = p[0] * (e0 - p)
    return np.outer(e0, d) - np.outer(p, d) - p[0] * (np.diag(p) - np.outer(p, p))


def _square_matrix_hessian() -> np.ndarray:
    """f = Σ_ijk X_ij X_jk: ∂²f/∂X_ab∂X_cd = δ_bc + δ_ad, flattened to (4, 4)."""
    eye, ones = np.eye(2), np.ones((2, 2))
    return (np.einsum("bc,ad->abcd", eye, ones) + np.einsum("ad,bc->abcd", eye, ones)).reshape(4, 4)


SECOND_ORDER_CASES: list[tuple[str, Callable[[cr.Tensor], cr.Tensor], Callable[[], np.ndarray]]] = [
    (
        "repeated-index",
        lambda t: (t[[0, 0, 1]] ** 3).sum(),
        lambda: np.diag([12 * _POINT[0], 6 * _POINT[1], 0.0]),
    ),
    (
        "concatenate",
        lambda t: (cr.concatenate([t, t**2]) ** 2).sum(),
        lambda: np.diag(2 + 12 * _POINT**2),
    ),
    ("stack", lambda t: (cr.stack([t, 2 * t]) ** 3).sum(), lambda: np.diag(54 * _POINT)),
    ("max", lambda t: t.max() ** 2, lambda: np.diag([0.0, 0.0, 2.0])),
    (
        "where",
        lambda t: cr.where(t > 0, t**3, -(t**2)).sum(),
        lambda: np.diag(np.where(_POINT > 0, 6 * _POINT, -2.0)),
    ),
    (
        "clip",
        lambda t: (t.clip(-1.0, 1.0) ** 2).sum(),
        lambda: np.diag(np.where(np.abs(_POINT) < 1, 2.0, 0.0)),
    ),
    (
        "maximum",
        lambda t: (cr.maximum(t, 0.5) ** 2).sum(),
        lambda: np.diag(np.where(_POINT > 0.5, 2.0, 0.0)),
    ),
    ("mean", lambda t: t.mean() ** 2, lambda: np.full((3, 3), 2 / 9)),
    (
        "log_softmax",
        lambda t: (cr.log_softmax(t) * _WEIGHTS).sum(),
        lambda: -_WEIGHTS.sum() * (np.diag(_softmax(_POINT)) - np.outer(*[_softmax(_POINT)] * 2)),
    ),
    ("softmax", lambda t: cr.softmax(t)[0], lambda: _first_softmax_hessian(_POINT)),
    ("linear", lambda t: (t * 3).sum(), lambda: np.zeros((3, 3))),
]


@pytest.mark.parametrize(
    ("name", "fun", "expected"), SECOND_ORDER_CASES, ids=[c[0] for c in SECOND_ORDER_CASES]
)
def test_hessian_through_each_kind_of_op(
    name: str, fun: Callable[[cr.Tensor], cr.Tensor], expected: Callable[[], np.ndarray]
) -> None:
    """Double backward through indexing, joining, reductions, where, clip and softmax."""
    hess = cr.hessian(fun)(_POINT)
    np.testing.assert_allclose(hess.data, expected(), rtol=1e-12, atol=1e-15, err_msg=name)


def test_hessian_through_reshape_and_matmul() -> None:
    """f(x) = sum(X @ X) with X = x reshaped to 2 x 2."""
    hess = cr.hessian(lambda t: (t.reshape(2, 2) @ t.reshape(2, 2)).sum())(
        np.array([1.0, 2.0, 3.0, 4.0])
    )
    np.testing.assert_array_equal(hess.data, _square_matrix_hessian())


def test_hvp_of_a_linear_function_is_zero() -> None:
    """A linear function has a zero Hessian, so every Hessian-vector product is zero."""
    product = cr.hvp(lambda t: (t * 3).sum(), np.ones(2), np.array([1.0, -2.0]))
    np.testing.assert_array_equal(product.data, [0.0, 0.0])


def test_hessian_of_a_float32_input_is_float32() -> None:
    """A list input becomes float32; the Hessian of sum(x³) = diag(6x) keeps that dtype."""
    hess = cr.hessian(lambda t: (t**3).sum())([1.0, 2.0])
    assert hess.dtype == np.float32
    np.testing.assert_allclose(hess.data, np.diag([6.0, 12.0]), rtol=1e-6)


# ----------------------------------------------------------------------------------- hvp
def test_hvp_of_rosenbrock_equals_hessian_times_v() -> None:
    """hvp(f, x, v) = H(x) v with H from the formula, and from cr.hessian."""
    rng = np.random.default_rng(6)
    point = rng.uniform(-2, 2, size=2)
    v = rng.standard_normal(2)
    product = cr.hvp(_rosenbrock, point, v)
    assert product.shape == (2,)
    np.testing.assert_allclose(product.data, _rosenbrock_hessian(*point) @ v, rtol=1e-12)
    np.testing.assert_allclose(product.data, cr.hessian(_rosenbrock)(point).data @ v, rtol=1e-12)


def test_hvp_of_a_quadratic_form() -> None:
    """For xᵀ A x, H v = (A + Aᵀ) v at every x."""
    rng = np.random.default_rng(7)
    a = rng.standard_normal((3, 3))
    v = rng.standard_normal(3)
    product = cr.hvp(lambda t: t @ a @ t, rng.standard_normal(3), v)
    np.testing.assert_allclose(product.data, (a + a.T) @ v, rtol=1e-12)


def test_hvp_of_a_matrix_input() -> None:
    """f(X) = Σ C X²: (H V)_ij = 2 C_ij V_ij."""
    rng = np.random.default_rng(8)
    c = rng.standard_normal((2, 3))
    v = rng.standard_normal((2, 3))
    product = cr.hvp(lambda t: (c * t**2).sum(), rng.standard_normal((2, 3)), v)
    np.testing.assert_allclose(product.data, 2 * c * v, rtol=1e-15)


def test_hvp_refuses_a_direction_of_another_shape() -> None:
    """v must have x's shape; both shapes are named."""
    with pytest.raises(ValueError, match=r"hvp.*\(3,\).*\(2,\)"):
        cr.hvp(lambda t: (t**2).sum(), np.ones(2), np.ones(3))


# ----------------------------------------------------------------------- higher order
@pytest.mark.parametrize("x", [-1.5, 0.0, 0.5, 2.0])
def test_third_derivative_of_x4(x: float) -> None:
    """grad(grad(grad(x⁴))) = 24x."""
    third = cr.grad(cr.grad(cr.grad(lambda t: t**4)))(np.float64(x))
    assert float(third) == pytest.approx(24 * x, rel=1e-14, abs=1e-14)


def test_fourth_derivative_of_x4_is_24() -> None:
    """One more level: d⁴/dx⁴ x⁴ = 24."""
    fourth = cr.grad(cr.grad(cr.grad(cr.grad(lambda t: t**4))))(np.float64(0.7))
    assert float(fourth) == pytest.approx(24.0, rel=1e-14)


SECOND_DERIVATIVES: list[tuple[str, Callable[[Any], Any], Callable[[float], float]]] = [
    ("exp", cr.exp, math.exp),
    ("log", cr.log, lambda x: -1 / x**2),
    ("sqrt", cr.sqrt, lambda x: -0.25 * x**-1.5),
    ("tanh", cr.tanh, lambda x: -2 * math.tanh(x) * (1 - math.tanh(x) ** 2)),
    (
        "sigmoid",
        cr.sigmoid,
        lambda x: (
            (1 / (1 + math.exp(-x))) * (1 - 1 / (1 + math.exp(-x))) * (1 - 2 / (1 + math.exp(-x)))
        ),
    ),
    ("reciprocal", lambda t: 1 / t, lambda x: 2 / x**3),
    ("x**x", lambda t: t**t, lambda x: x**x * (math.log(x) + 1) ** 2 + x ** (x - 1)),
    ("2**x", lambda t: 2**t, lambda x: math.log(2) ** 2 * 2**x),
    ("x/(1+x²)", lambda t: t / (1 + t * t), lambda x: 2 * x * (x * x - 3) / (1 + x * x) ** 3),
    ("relu(x)*x", lambda t: cr.relu(t) * t, lambda x: 2.0 if x > 0 else 0.0),
    ("abs(x)**3", lambda t: abs(t) ** 3, lambda x: 6 * abs(x)),
]


@pytest.mark.parametrize("x", [0.3, 1.7])
@pytest.mark.parametrize(
    ("name", "fun", "second"), SECOND_DERIVATIVES, ids=[name for name, *_ in SECOND_DERIVATIVES]
)
def test_grad_of_grad_is_the_second_derivative(
    name: str, fun: Callable[[Any], Any], second: Callable[[float], float], x: float
) -> None:
    """grad(grad(f)) against the hand-derived f''."""
    value = cr.grad(cr.grad(fun))(np.float64(x))
    assert float(value) == pytest.approx(second(x), rel=1e-12, abs=1e-14), name


def test_backward_create_graph_then_differentiate_the_grad() -> None:
    """f = sum(x³): x.grad = 3x² is itself differentiable, d/dx sum(3x²) = 6x."""
    x = cr.tensor(np.array([1.0, -2.0, 0.5]), requires_grad=True)
    (x**3).sum().backward(create_graph=True)
    first = x.grad
    assert first.requires_grad
    np.testing.assert_allclose(first.data, 3 * x.data**2)
    x.grad = None
    first.sum().backward()
    np.testing.assert_allclose(x.grad.data, 6 * x.data)


def test_gradient_penalty_through_create_graph() -> None:
    """d/dw |∇_x (w·x)²|² where ∇_x = 2(w·x) w: penalty = 4 s² |w|², s = w·x.

    d/dw = 8 s |w|² x + 8 s² w."""
    w0 = np.array([0.5, -1.0])
    x0 = np.array([2.0, 3.0])
    w = cr.tensor(w0, requires_grad=True)
    x = cr.tensor(x0, requires_grad=True)
    ((w * x).sum() ** 2).backward(create_graph=True)
    penalty = (x.grad**2).sum()
    w.grad = None
    x.grad = None
    penalty.backward()
    s = w0 @ x0
    np.testing.assert_allclose(w.grad.data, 8 * s * (w0 @ w0) * x0 + 8 * s**2 * w0, rtol=1e-14)


def test_nested_transforms_inside_a_transform_of_a_tensor_argument() -> None:
    """grad of x ↦ sum(grad(f)(x)) for f = sum(x³) is 6x, with x a Tensor requiring grad."""
    x = cr.tensor(np.array([1.0, 2.0]), requires_grad=True)
    outer = cr.grad(lambda t: cr.grad(lambda u: (u**3).sum())(t).sum())(x)
    np.testing.assert_allclose(outer.data, 6 * x.data)


# ------------------------------------------------------------------- no side effects
def test_transforms_do_not_write_grad_of_leaves() -> None:
    """grad, value_and_grad, jacobian, hessian and hvp leave every .grad alone."""
    w = cr.tensor(np.array([0.5, -1.5]), requires_grad=True)
    x = cr.tensor(np.array([1.0, 2.0]), requires_grad=True)

    def fun(t: cr.Tensor) -> cr.Tensor:
        return ((t * w) ** 2).sum()

    g = cr.grad(fun)(x)
    np.testing.assert_allclose(g.data, 2 * x.data * w.data**2)
    cr.value_and_grad(fun)(x)
    cr.jacobian(lambda t: t * w)(x)
    hess = cr.hessian(fun)(x)
    np.testing.assert_allclose(hess.data, np.diag(2 * w.data**2))
    cr.hvp(fun, x, np.ones(2))
    cr.grad(fun)(x.data)
    assert x.grad is None
    assert w.grad is None


@pytest.mark.parametrize(
    "transform",
    [
        lambda f, x: cr.grad(f)(x),
        lambda f, x: cr.value_and_grad(f)(x),
        lambda f, x: cr.jacobian(f)(x),
        lambda f, x: cr.hessian(f)(x),
        lambda f, x: cr.hvp(f, x, np.ones(2)),
    ],
    ids=["grad", "value_and_grad", "jacobian", "hessian", "hvp"],
)
def test_transforms_leave_a_captured_graph_usable(transform: Callable[[Any, Any], Any]) -> None:
    """A transform of f(t) = sum(t² h), with h = exp(w) recorded outside, does not free h's
    graph: a later h.sum().backward() still gives w.grad = exp(w)."""
    w = cr.tensor(np.array([0.5, -1.0]), requires_grad=True)
    h = w.exp()
    transform(lambda t: (t * t * h).sum(), np.array([3.0, 4.0]))
    assert w.grad is None
    h.sum().backward()
    np.testing.assert_allclose(w.grad.data, np.exp(w.data), rtol=1e-15)


def test_transforms_restore_grad_mode() -> None:
    """After a transform, and after one whose function raised, recording is on as before."""

    def broken(t: cr.Tensor) -> cr.Tensor:
        raise ArithmeticError("inside fun")

    with pytest.raises(ArithmeticError):
        cr.grad(broken)(1.0)
    assert cr.is_grad_enabled()
    with cr.no_grad():
        g = cr.grad(lambda t: t**2)(3.0)
        assert not cr.is_grad_enabled()
    assert float(g) == 6.0
    assert cr.is_grad_enabled()
