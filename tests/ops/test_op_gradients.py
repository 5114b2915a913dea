"""Gradients of every op, checked against mathematics and reference libraries.

The table in ``op_specs.py`` drives the first-order checks: the forward against plain NumPy and
the vjp against float64 central differences (``cr.gradcheck``). Second derivatives are checked
against closed forms written out by hand and against finite differences of hand-written NumPy
gradients; whole expressions are compared with HIPS autograd and PyTorch when installed. The
checker itself is tested with deliberately wrong vjps.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from numpy.typing import NDArray
from op_specs import SPECS, Case, OpSpec

import chainrule as cr
from chainrule import ops
from chainrule.check.domains import DOMAINS
from chainrule.engine.broadcast import unbroadcast
from chainrule.engine.tensor import Tensor

# The tolerances of B6: central differences in float64 are accurate to about 1e-9 here.
ATOL = 1e-7
RTOL = 1e-5

# Derandomized, so that every run draws the same examples (STYLE B6.8).
OP_SETTINGS = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _over_cases(spec: OpSpec, max_examples: int = 25) -> Callable[[Any], Any]:
    """Run a check on the spec's pinned examples and on cases drawn from its strategy."""

    def decorate(check: Callable[[Case], None]) -> Any:
        for case in spec.examples:
            check = example(case=case)(check)
        return settings(OP_SETTINGS, max_examples=max_examples)(given(case=spec.cases)(check))

    return decorate


def _gradcheck(fun: Callable[..., Any], arrays: Sequence[NDArray[Any]], label: str) -> None:
    report = cr.gradcheck(fun, *arrays, atol=ATOL, rtol=RTOL)
    assert report.passed, f"{label}\n{report}"


def _check_forward(spec: OpSpec, case: Case) -> None:
    """The forward equals plain NumPy, and neither pass modifies the inputs in place."""
    tensors = [cr.tensor(a, requires_grad=True) for a in case.arrays]
    out = spec.apply(tensors, case.params)
    expected = np.asarray(spec.reference(case.arrays, case.params))
    assert isinstance(out, cr.Tensor), f"{spec.name} returned {type(out).__name__}"
    assert out.shape == expected.shape, f"{spec.name}: shape {out.shape} != {expected.shape}"
    assert out.dtype == expected.dtype, f"{spec.name}: dtype {out.dtype} != {expected.dtype}"
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-14)
    cotangent = np.random.default_rng(1).standard_normal(out.shape).astype(out.dtype)
    out.backward(cotangent)
    for tensor, array in zip(tensors, case.arrays):
        np.testing.assert_array_equal(tensor.data, array, err_msg=f"{spec.name} changed its input")


def _check_gradient(spec: OpSpec, case: Case) -> None:
    def fun(*tensors: Any) -> Any:
        return spec.apply(tensors, case.params)

    _gradcheck(fun, case.arrays, f"{spec.name} with {case.params}")


# ------------------------------------------------------------------ the table, op by op
def test_every_op_has_a_spec() -> None:
    missing = sorted(set(ops.__all__) - set(SPECS))
    stale = sorted(set(SPECS) - set(ops.__all__))
    assert not missing, f"ops without a spec in tests/ops/op_specs.py: {missing}"
    assert not stale, f"specs for names not in chainrule.ops.__all__: {stale}"


def test_the_specs_and_the_domain_table_name_the_same_ops() -> None:
    assert sorted(SPECS) == sorted(DOMAINS) == sorted(ops.__all__)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_drawn_case_lies_in_the_ops_domain(name: str) -> None:
    """The property tests explore shapes and call forms, never values outside the one table of
    op domains (chainrule.check.domains) that the self-check and the docs use."""
    spec, domain = SPECS[name], DOMAINS[name]

    @_over_cases(spec)
    def check(case: Case) -> None:
        arrays = case.arrays
        if (
            len(arrays) == 1
            and len(domain.inputs) > 1
            and case.params.get("operands") != ("number_right")
        ):
            # one array for both operands (op(x, x)), or the right one beside a number
            which = domain.same if case.params.get("operands") == "same" else 1
            intervals = [domain.inputs[which]]
        else:
            intervals = [domain.inputs[min(i, len(domain.inputs) - 1)] for i in range(len(arrays))]
        for position, (array, interval) in enumerate(zip(arrays, intervals)):
            assert interval.holds(array), (
                f"{name}: input {position} {array} is outside {interval.describe()}"
            )

    check()


@pytest.mark.parametrize("name", sorted(SPECS))
def test_forward_matches_numpy_and_gradient_matches_finite_differences(name: str) -> None:
    """op(...) equals the NumPy expression, and its vjp equals float64 central differences."""
    spec = SPECS[name]

    @_over_cases(spec)
    def check(case: Case) -> None:
        _check_forward(spec, case)
        _check_gradient(spec, case)

    check()


@pytest.mark.parametrize("name", sorted(SPECS))
def test_gradient_of_an_op_used_twice(name: str) -> None:
    """f(x) * f(x): both uses of every input must add up (2·f·f')."""
    spec = SPECS[name]

    @_over_cases(spec)
    def check(case: Case) -> None:
        def fun(*tensors: Any) -> Any:
            return spec.apply(tensors, case.params) * spec.apply(tensors, case.params)

        _gradcheck(fun, case.arrays, f"{name}(...) * {name}(...) with {case.params}")

    check()


@pytest.mark.parametrize("name", sorted(SPECS))
def test_gradient_of_gradient_matches_finite_differences(name: str) -> None:
    """Second order through every vjp as recorded under ``create_graph`` (a gradgradcheck).

    h(x) = <∇g(x), v> with g(x) = sum(w · f(x)²), so that ∇g depends on x through f's vjp.
    The gradient of h, which differentiates the recorded backward pass, is compared with
    central differences of h, as PyTorch's ``gradgradcheck`` does; h's values come from the
    plain first-order backward, which the tests above check against the NumPy forward.
    """
    spec = SPECS[name]

    @_over_cases(spec, max_examples=10)
    def check(case: Case) -> None:
        rng = np.random.default_rng(0)
        weights = rng.standard_normal(np.shape(spec.reference(case.arrays, case.params)))
        directions = [rng.standard_normal(a.shape) for a in case.arrays]

        def objective(*tensors: Any) -> Any:
            out = spec.apply(tensors, case.params)
            return (out * out * weights).sum()

        gradient = cr.grad(objective, argnums=tuple(range(len(case.arrays))))

        def directional(*tensors: Any) -> Any:
            total: Any = 0.0
            for grad, direction in zip(gradient(*tensors), directions):
                total = total + (grad * direction).sum()
            return total

        _gradcheck(directional, case.arrays, f"second order of {name} with {case.params}")

    check()


def test_astype_gradient_is_cast_back_to_the_input_dtype() -> None:
    """float32 -> float64 and back: the gradient is g converted to the input's dtype."""
    rng = np.random.default_rng(0)
    weights = rng.standard_normal((2, 3))
    x = cr.tensor(rng.standard_normal((2, 3)).astype(np.float32), requires_grad=True)
    y = ops.astype(x, np.float64)
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y.data, x.data.astype(np.float64))
    (y * weights).sum().backward()
    assert x.grad is not None
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, weights.astype(np.float32))

    z = cr.tensor(rng.standard_normal(4), requires_grad=True)
    narrow = ops.astype(z, np.float32)
    assert narrow.dtype == np.float32
    (narrow * weights[0, :1].astype(np.float32)).sum().backward()
    assert z.grad is not None
    assert z.grad.dtype == np.float64
    np.testing.assert_array_equal(z.grad.data, np.full(4, np.float32(weights[0, 0])))


# ------------------------------------------------------------------------ second order
def _sigmoid(x: Any) -> Any:
    return 1 / (1 + np.exp(-x))


@dataclasses.dataclass(frozen=True)
class Derivatives:
    """A scalar function's domain and its first and second derivatives, by hand."""

    op: Callable[[Any], Any]
    low: float
    high: float
    first: Callable[[Any], Any]
    second: Callable[[Any], Any]
    kink: float | None = None


def _power(exponent: float) -> Callable[[Any], Any]:
    def power(x: Any) -> Any:
        return x**exponent

    return power


# Away from their kinks abs, relu and sign are linear or constant: their second derivative
# is exactly 0, and so is that of negative and positive.
DERIVATIVES: dict[str, Derivatives] = {
    "exp": Derivatives(ops.exp, -3, 3, np.exp, np.exp),
    "sin": Derivatives(ops.sin, -3, 3, np.cos, lambda x: -np.sin(x)),
    "cos": Derivatives(ops.cos, -3, 3, lambda x: -np.sin(x), lambda x: -np.cos(x)),
    "log": Derivatives(ops.log, 0.1, 4, lambda x: 1 / x, lambda x: -1 / x**2),
    "sqrt": Derivatives(ops.sqrt, 0.1, 4, lambda x: 0.5 / np.sqrt(x), lambda x: -0.25 * x**-1.5),
    "tanh": Derivatives(
        ops.tanh,
        -3,
        3,
        lambda x: 1 - np.tanh(x) ** 2,
        lambda x: -2 * np.tanh(x) * (1 - np.tanh(x) ** 2),
    ),
    "sigmoid": Derivatives(
        ops.sigmoid,
        -6,
        6,
        lambda x: _sigmoid(x) * (1 - _sigmoid(x)),
        lambda x: _sigmoid(x) * (1 - _sigmoid(x)) * (1 - 2 * _sigmoid(x)),
    ),
    "negative": Derivatives(ops.negative, -3, 3, lambda x: -1.0, lambda x: 0.0),
    "positive": Derivatives(ops.positive, -3, 3, lambda x: 1.0, lambda x: 0.0),
    "abs": Derivatives(ops.abs, -3, 3, np.sign, lambda x: 0.0, kink=0.0),
    "relu": Derivatives(ops.relu, -3, 3, lambda x: float(x > 0), lambda x: 0.0, kink=0.0),
    "sign": Derivatives(ops.sign, -3, 3, lambda x: 0.0, lambda x: 0.0, kink=0.0),
    "heaviside": Derivatives(ops.heaviside, -3, 3, lambda x: 0.0, lambda x: 0.0, kink=0.0),
    "square": Derivatives(_power(2), -3, 3, lambda x: 2 * x, lambda x: 2.0),
    "cube": Derivatives(_power(3), -3, 3, lambda x: 3 * x**2, lambda x: 6 * x),
    "power_half": Derivatives(
        _power(0.5), 0.1, 4, lambda x: 0.5 * x**-0.5, lambda x: -0.25 * x**-1.5
    ),
    "reciprocal": Derivatives(_power(-1), 0.1, 4, lambda x: -(x**-2), lambda x: 2 * x**-3),
    "multiply_self": Derivatives(lambda x: x * x, -3, 3, lambda x: 2 * x, lambda x: 2.0),
    "divide_into_one": Derivatives(
        lambda x: 1.0 / x, 0.1, 4, lambda x: -(x**-2), lambda x: 2 * x**-3
    ),
}


def _scalars(derivatives: Derivatives) -> st.SearchStrategy[float]:
    values = st.floats(derivatives.low, derivatives.high, allow_subnormal=False)
    kink = derivatives.kink
    if kink is None:
        return values
    return values.filter(lambda x: abs(x - kink) >= 0.05)


@pytest.mark.parametrize("name", sorted(DERIVATIVES))
def test_nested_grad_gives_the_closed_form_second_derivative(name: str) -> None:
    """grad(f) and grad(grad(f)) at a float64 scalar equal f' and f'' written by hand."""
    derivatives = DERIVATIVES[name]

    @OP_SETTINGS
    @given(x=_scalars(derivatives))
    def check(x: float) -> None:
        point = np.float64(x)
        first = cr.grad(derivatives.op)(point)
        second = cr.grad(cr.grad(derivatives.op))(point)
        assert first.dtype == np.float64 and second.dtype == np.float64
        np.testing.assert_allclose(float(first), derivatives.first(x), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(float(second), derivatives.second(x), rtol=1e-9, atol=1e-12)

    check()


@pytest.mark.parametrize("name", sorted(DERIVATIVES))
def test_backward_with_create_graph_differentiates_again(name: str) -> None:
    """x.grad from backward(create_graph=True) is f'(x); the gradient of its sum is f''(x)."""
    derivatives = DERIVATIVES[name]

    @OP_SETTINGS
    @given(values=st.lists(_scalars(derivatives), min_size=1, max_size=5))
    def check(values: list[float]) -> None:
        x = np.array(values)
        leaf = cr.tensor(x, requires_grad=True)
        derivatives.op(leaf).sum().backward(create_graph=True)
        first = leaf.grad
        assert first is not None
        expected_first = np.broadcast_to(np.vectorize(derivatives.first)(x), x.shape)
        expected_second = np.broadcast_to(np.vectorize(derivatives.second)(x), x.shape)
        np.testing.assert_allclose(first.data, expected_first, rtol=1e-12, atol=1e-14)
        if not first.requires_grad:
            # A gradient that does not depend on x records nothing; f'' must then be 0.
            np.testing.assert_array_equal(expected_second, 0.0)
            return
        leaf.grad = None
        first.sum().backward()
        assert leaf.grad is not None
        np.testing.assert_allclose(leaf.grad.data, expected_second, rtol=1e-9, atol=1e-12)

    check()


# ∂²f/∂x∂y by hand, at points inside each op's domain (y = 0 is where x^y stops depending on x).
MIXED_PARTIALS: dict[
    str, tuple[Callable[[Any, Any], Any], Callable[[float, float], float], Any]
] = {
    "multiply": (ops.multiply, lambda x, y: 1.0, [(1.7, 0.6)]),
    "divide": (ops.divide, lambda x, y: -1 / y**2, [(1.7, 0.6), (0.8, -1.3)]),
    "power": (
        ops.power,
        lambda x, y: x ** (y - 1) * (1 + y * np.log(x)),
        [(1.7, 0.6), (2.5, 0.0)],
    ),
}
MIXED_CASES = [
    pytest.param(name, point, id=f"{name}-at-{point[0]}-{point[1]}")
    for name, (_, _, points) in sorted(MIXED_PARTIALS.items())
    for point in points
]


def _mixed_partial(fun: Callable[[Any, Any], Any], x: float, y: float, route: str) -> float:
    """∂/∂y ∂f/∂x at (x, y), computed by one of the ways chainrule offers."""
    x64, y64 = np.float64(x), np.float64(y)
    if route == "argnums":
        return float(cr.grad(lambda b: cr.grad(fun, argnums=0)(x64, b))(y64))
    if route == "closure":
        return float(cr.grad(lambda b: cr.grad(lambda a: fun(a, b))(x64))(y64))
    if route == "hessian":
        hessian = cr.hessian(lambda z: fun(z[0], z[1]))(np.array([x, y]))
        assert float(hessian[0, 1]) == pytest.approx(float(hessian[1, 0]), rel=1e-12)
        return float(hessian[0, 1])
    a = cr.tensor(x64, requires_grad=True)
    b = cr.tensor(y64, requires_grad=True)
    fun(a, b).backward(create_graph=True)
    first = a.grad
    assert first is not None
    a.grad = None
    b.grad = None
    first.backward()
    assert b.grad is not None
    return float(b.grad)


@pytest.mark.parametrize("route", ["argnums", "closure", "create_graph", "hessian"])
@pytest.mark.parametrize(("name", "point"), MIXED_CASES)
def test_mixed_second_partial_of_binary_ops(
    name: str, point: tuple[float, float], route: str
) -> None:
    """∂²f/∂x∂y of x·y, x/y and x^y equals the closed form, whichever way it is asked for."""
    fun, expected, _ = MIXED_PARTIALS[name]
    x, y = point
    got = _mixed_partial(fun, x, y, route)
    np.testing.assert_allclose(got, expected(x, y), rtol=1e-12, err_msg=f"{name} at {point}")


def _sum_to(g: NDArray[Any], shape: tuple[int, ...]) -> NDArray[Any]:
    """Sum g over the axes broadcasting added or stretched to reach ``shape`` (by hand)."""
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
    return g


def _np_softmax(x: NDArray[Any], axis: int) -> NDArray[Any]:
    exps = np.exp(x - x.max(axis=axis, keepdims=True))
    return exps / exps.sum(axis=axis, keepdims=True)


@dataclasses.dataclass(frozen=True)
class HvpCase:
    """f(operands) -> scalar, written once for chainrule, with its NumPy gradient by hand."""

    shapes: tuple[tuple[int, ...], ...]
    domains: tuple[tuple[float, float], ...]
    weight_shape: tuple[int, ...]
    fun: Callable[..., Any]
    gradient: Callable[..., list[NDArray[Any]]]


def _multiply_fun(w: Any, a: Any, b: Any) -> Any:
    return (w * a * b * b).sum()


def _multiply_gradient(w: Any, a: Any, b: Any) -> list[NDArray[Any]]:
    return [_sum_to(w * b * b, a.shape), _sum_to(2 * w * a * b, b.shape)]


def _divide_fun(w: Any, a: Any, b: Any) -> Any:
    return (w * (a / b)).sum()


def _divide_gradient(w: Any, a: Any, b: Any) -> list[NDArray[Any]]:
    return [_sum_to(w / b, a.shape), _sum_to(-w * a / b**2, b.shape)]


def _power_fun(w: Any, a: Any, b: Any) -> Any:
    return (w * ops.power(a, b)).sum()


def _power_gradient(w: Any, a: Any, b: Any) -> list[NDArray[Any]]:
    return [_sum_to(w * b * a ** (b - 1), a.shape), _sum_to(w * a**b * np.log(a), b.shape)]


def _matmul_fun(w: Any, a: Any, b: Any) -> Any:
    product = ops.matmul(a, b)
    return (w * product * product).sum()


def _matmul_gradient(w: Any, a: Any, b: Any) -> list[NDArray[Any]]:
    g = 2 * w * (a @ b)
    return [_sum_to(g @ b.swapaxes(-1, -2), a.shape), _sum_to(a.swapaxes(-1, -2) @ g, b.shape)]


def _logsumexp_fun(w: Any, x: Any) -> Any:
    return (w * ops.logsumexp(x, axis=1)).sum()


def _logsumexp_gradient(w: Any, x: Any) -> list[NDArray[Any]]:
    return [w[:, None] * _np_softmax(x, axis=1)]


def _softmax_fun(w: Any, x: Any) -> Any:
    return (w * ops.softmax(x, axis=-1)).sum()


def _softmax_gradient(w: Any, x: Any) -> list[NDArray[Any]]:
    s = _np_softmax(x, axis=-1)
    return [s * (w - (w * s).sum(axis=-1, keepdims=True))]


def _log_softmax_fun(w: Any, x: Any) -> Any:
    return (w * ops.log_softmax(x, axis=0)).sum()


def _log_softmax_gradient(w: Any, x: Any) -> list[NDArray[Any]]:
    return [w - _np_softmax(x, axis=0) * w.sum(axis=0, keepdims=True)]


def _var_fun(w: Any, x: Any) -> Any:
    return (w * ops.var(x, axis=0, ddof=1)).sum()


def _var_gradient(w: Any, x: Any) -> list[NDArray[Any]]:
    n = x.shape[0]
    return [w * 2 * (x - x.mean(axis=0)) / (n - 1)]


HVP_CASES: dict[str, HvpCase] = {
    "multiply": HvpCase(
        ((3, 1), (4,)), ((-2, 2), (-2, 2)), (3, 4), _multiply_fun, _multiply_gradient
    ),
    "divide": HvpCase(((2, 3), (3,)), ((-2, 2), (0.5, 2)), (2, 3), _divide_fun, _divide_gradient),
    "power": HvpCase(((3,), (2, 3)), ((0.5, 2), (-1.5, 2.5)), (2, 3), _power_fun, _power_gradient),
    "matmul": HvpCase(
        ((2, 3, 4), (4, 2)), ((-1, 1), (-1, 1)), (2, 3, 2), _matmul_fun, _matmul_gradient
    ),
    "logsumexp": HvpCase(((3, 4),), ((-2, 2),), (3,), _logsumexp_fun, _logsumexp_gradient),
    "softmax": HvpCase(((3, 4),), ((-2, 2),), (3, 4), _softmax_fun, _softmax_gradient),
    "log_softmax": HvpCase(((4, 3),), ((-2, 2),), (4, 3), _log_softmax_fun, _log_softmax_gradient),
    "var": HvpCase(((4, 3),), ((-2, 2),), (3,), _var_fun, _var_gradient),
}


def _unpack(z: Any, shapes: Sequence[tuple[int, ...]]) -> list[Any]:
    """Cut a flat vector (array or Tensor) into operands of the given shapes."""
    parts = []
    start = 0
    for shape in shapes:
        stop = start + int(np.prod(shape))
        parts.append(z[start:stop].reshape(shape))
        start = stop
    return parts


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("name", sorted(HVP_CASES))
def test_hvp_matches_finite_differences_of_the_analytic_gradient(name: str, seed: int) -> None:
    """cr.hvp(f, z, v) equals (∇f(z + εv) - ∇f(z - εv)) / 2ε, with ∇f written in NumPy."""
    case = HVP_CASES[name]
    rng = np.random.default_rng(seed)
    weights = rng.standard_normal(case.weight_shape)
    z = np.concatenate(
        [
            rng.uniform(low, high, shape).ravel()
            for shape, (low, high) in zip(case.shapes, case.domains)
        ]
    )
    v = rng.standard_normal(z.shape)

    def fun(t: Any) -> Any:
        return case.fun(weights, *_unpack(t, case.shapes))

    def gradient(point: NDArray[Any]) -> NDArray[Any]:
        parts = case.gradient(weights, *_unpack(point, case.shapes))
        return np.concatenate([np.ravel(p) for p in parts])

    step = 1e-5
    expected = (gradient(z + step * v) - gradient(z - step * v)) / (2 * step)
    product = cr.hvp(fun, z, v)
    assert product.shape == z.shape
    assert product.dtype == np.float64
    np.testing.assert_allclose(product.data, expected, rtol=1e-6, atol=1e-8)


# ------------------------------------------------------------------- testing the tester
def _tanh_with_factor(x: Any, factor: float, element: tuple[int, ...] | None = None) -> Tensor:
    """tanh whose vjp is multiplied by ``factor`` (only at ``element`` if given)."""
    x = cr.as_tensor(x)

    def vjp(g: Any, x: Any, out: Any) -> Any:
        scale = np.ones(out.shape)
        if element is None:
            scale[...] = factor
        else:
            scale[element] = factor
        return g * (1 - out * out) * scale

    return Tensor._from_op(np.tanh(x.data), (x,), (vjp,), "tanh_with_factor")


def _multiply_without_second_gradient(x: Any, y: Any) -> Tensor:
    """x * y (same shapes) whose vjp forgets y."""

    def vjp_x(g: Any, x: Any, y: Any, out: Any) -> Any:
        return g * y

    def vjp_y(g: Any, x: Any, y: Any, out: Any) -> Any:
        return g * 0

    return Tensor._from_op(x.data * y.data, (x, y), (vjp_x, vjp_y), "multiply_forgetting_y")


@pytest.mark.parametrize("shape", [(), (3,), (2, 3)])
def test_gradcheck_passes_the_correct_custom_op(shape: tuple[int, ...]) -> None:
    x = np.random.default_rng(0).uniform(-2, 2, shape)
    _gradcheck(lambda t: _tanh_with_factor(t, 1.0), [x], "tanh_with_factor(1.0)")


@pytest.mark.parametrize("factor", [1.001, 0.999, -1.0])
@pytest.mark.parametrize("shape", [(), (3,), (2, 3)])
def test_gradcheck_fails_on_a_vjp_off_by_a_factor(factor: float, shape: tuple[int, ...]) -> None:
    x = np.random.default_rng(0).uniform(-2, 2, shape)
    report = cr.gradcheck(lambda t: _tanh_with_factor(t, factor), x, atol=ATOL, rtol=RTOL)
    assert not report.passed, str(report)
    assert not report.inputs[0].passed
    worst = report.inputs[0]
    assert worst.analytic / worst.numerical == pytest.approx(factor, rel=1e-6)


def test_gradcheck_fails_when_one_element_is_off() -> None:
    x = np.random.default_rng(1).uniform(-2, 2, (3, 4))
    report = cr.gradcheck(
        lambda t: _tanh_with_factor(t, 1.001, element=(2, 1)), x, atol=ATOL, rtol=RTOL
    )
    assert not report.passed, str(report)
    assert report.inputs[0].worst_index == (2, 1)


def test_gradcheck_fails_when_a_gradient_is_dropped() -> None:
    rng = np.random.default_rng(2)
    x, y = rng.uniform(-2, 2, (2, 3)), rng.uniform(-2, 2, (2, 3))
    report = cr.gradcheck(_multiply_without_second_gradient, x, y, atol=ATOL, rtol=RTOL)
    assert not report.passed, str(report)
    assert report.inputs[0].passed
    assert not report.inputs[1].passed


def test_the_spec_harness_fails_on_a_wrong_vjp() -> None:
    """The very check every spec runs must catch a 0.1% error in a vjp."""
    x = np.random.default_rng(3).uniform(-2, 2, (2, 3))
    case = Case((x,), {"form": "function"})
    _check_gradient(SPECS["tanh"], case)

    def wrong_apply(tensors: Sequence[Any], params: Any) -> Any:
        return _tanh_with_factor(tensors[0], 1.001)

    wrong = dataclasses.replace(SPECS["tanh"], apply=wrong_apply)
    with pytest.raises(AssertionError, match="gradcheck FAILED"):
        _check_gradient(wrong, case)


def _op_with_gradient(x: Tensor, make_gradient: Callable[[Any], Any]) -> Tensor:
    """2·x, whose vjp returns ``make_gradient(g)`` instead of 2·g."""

    def vjp(g: Any, x: Any, out: Any) -> Any:
        return make_gradient(g)

    return Tensor._from_op(x.data * 2, (x,), (vjp,), "badly_shaped")


WRONG_GRADIENTS: dict[str, Callable[[Any], Any]] = {
    "summed_axis_kept": lambda g: 2 * g.sum(axis=0, keepdims=True),
    "summed_to_scalar": lambda g: 2 * g.sum(),
    "extra_leading_axis": lambda g: 2 * g.reshape((1, *g.shape)),
    "float32": lambda g: (2 * g).astype(np.float32),
}


@pytest.mark.parametrize("create_graph", [False, True])
@pytest.mark.parametrize("wrong", sorted(WRONG_GRADIENTS))
def test_engine_rejects_a_gradient_of_the_wrong_shape_or_dtype(
    wrong: str, create_graph: bool
) -> None:
    """Broadcast-compatible but wrong gradients raise instead of being silently repaired."""
    x = cr.tensor(np.random.default_rng(4).standard_normal((2, 3)), requires_grad=True)
    loss = _op_with_gradient(x, WRONG_GRADIENTS[wrong]).sum()
    with pytest.raises(AssertionError, match="badly_shaped"):
        loss.backward(create_graph=create_graph)


def test_gradcheck_surfaces_a_badly_shaped_gradient() -> None:
    x = np.random.default_rng(5).standard_normal((2, 3))
    with pytest.raises(AssertionError, match="badly_shaped"):
        cr.gradcheck(lambda t: _op_with_gradient(t, WRONG_GRADIENTS["summed_axis_kept"]), x)


# -------------------------------------------------------------------------- unbroadcast
@settings(max_examples=100, deadline=None, derandomize=True)
@given(
    shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4, max_side=4),
    seed=st.integers(0, 2**32 - 1),
)
def test_unbroadcast_reaches_the_shape_and_keeps_the_total(
    shapes: hnp.BroadcastableShapes, seed: int
) -> None:
    """unbroadcast is the adjoint of broadcasting: shape restored, sums and inner products kept."""
    target = shapes.input_shapes[0]
    rng = np.random.default_rng(seed)
    grad = rng.standard_normal(shapes.result_shape)
    reduced = np.asarray(unbroadcast(grad, target))
    assert reduced.shape == target
    np.testing.assert_allclose(reduced.sum(), grad.sum(), rtol=1e-12, atol=1e-12)
    probe = rng.standard_normal(target)
    np.testing.assert_allclose(
        np.sum(reduced * probe),
        np.sum(grad * np.broadcast_to(probe, grad.shape)),
        rtol=1e-12,
        atol=1e-12,
    )
    recorded = unbroadcast(cr.tensor(grad), target)
    assert recorded.shape == target
    np.testing.assert_allclose(recorded.data, reduced, rtol=1e-12, atol=1e-12)


# ------------------------------------------------------- reference libraries (autograd, torch)
# Each expression is written once against a namespace ``m`` with chainrule's function names and
# NumPy's axis conventions; chainrule itself is one namespace, the reference libraries get small
# adapters. Operators (+ - * / ** @) and indexing are the libraries' own.
LABELS = np.array([2, 0, 1, 1, 0])
ROWS = np.array([0, 0, 2, 1, 0, 3])
COLUMNS = [1, 1, 2]
MASK = np.array(
    [[True, False, True], [False, False, True], [True, True, False], [False, True, True]]
)
CONDITION = np.array([[True, False, True, True, False, False]] * 3)


def _mlp_cross_entropy(m: Any, x: Any, w1: Any, b1: Any, w2: Any, b2: Any) -> Any:
    hidden = m.tanh(x @ w1 + b1)
    logits = hidden @ w2 + b2
    picked = logits[np.arange(len(LABELS)), LABELS]
    return m.mean(m.logsumexp(logits, axis=1) - picked)


def _mlp_softmax_squared_error(m: Any, x: Any, w1: Any, b1: Any, w2: Any, b2: Any) -> Any:
    hidden = m.relu(x @ w1 + b1) + m.sigmoid(x @ w1)
    probabilities = m.softmax(hidden @ w2 + b2, axis=-1)
    return m.sum((probabilities - 0.25) ** 2) / 5.0


def _broadcasting(m: Any, a: Any, b: Any, c: Any, d: Any) -> Any:
    gate = 1.5 + m.exp(-b)
    mixed = (a * b + c) / gate - d * a
    return m.sum(mixed * mixed) + m.sum(m.sqrt(a * a + 1.0) ** b)


def _indexing_with_repeats(m: Any, x: Any, w: Any) -> Any:
    rows = x[ROWS] * w
    columns = x[:, COLUMNS] ** 2
    masked = m.exp(x[MASK])
    return m.sum(rows) + m.sum(columns) + m.sum(masked) + m.sum(x[1:, None, ::2] * x[0, ::2])


def _reductions(m: Any, x: Any, y: Any) -> Any:
    spread = m.var(x, axis=0, ddof=1) * m.mean(y, axis=1, keepdims=True)
    peaks = m.max(x, axis=1) ** 2 - m.min(y, axis=(0, 1))
    return m.sum(spread) + m.sum(peaks) + m.mean(m.maximum(x, y) * m.minimum(x, y))


def _joins_and_layouts(m: Any, x: Any, y: Any) -> Any:
    joined = m.concatenate([x, y, x], axis=1)
    stacked = m.stack([joined, joined * joined], axis=0)
    turned = m.swapaxes(m.transpose(stacked, (1, 0, 2)), 0, 2)
    chosen = m.where(CONDITION.T[:, None, :], turned, -turned)
    return m.sum(m.log_softmax(chosen.reshape((6, 6)), axis=0) * m.tanh(chosen.reshape((6, 6))))


def _normalization(m: Any, x: Any, gamma: Any, beta: Any) -> Any:
    centred = x - m.mean(x, axis=0, keepdims=True)
    scaled = centred / m.sqrt(m.var(x, axis=0, keepdims=True) + 1e-5)
    out = m.abs(scaled * gamma + beta)
    return m.logsumexp(out, axis=None) + m.sum(m.clip(out, 0.2, 1.5))


EXPRESSIONS: dict[str, tuple[Callable[..., Any], tuple[tuple[int, ...], ...]]] = {
    "mlp_cross_entropy": (_mlp_cross_entropy, ((5, 4), (4, 6), (6,), (6, 3), (3,))),
    "mlp_softmax_squared_error": (_mlp_softmax_squared_error, ((5, 4), (4, 6), (6,), (6, 4), (4,))),
    "broadcasting": (_broadcasting, ((3, 1), (1, 4), (4,), ())),
    "indexing_with_repeats": (_indexing_with_repeats, ((4, 3), (3,))),
    "reductions": (_reductions, ((3, 4), (3, 4))),
    "joins_and_layouts": (_joins_and_layouts, ((3, 2), (3, 2))),
    "normalization": (_normalization, ((6, 3), (3,), (3,))),
}


def _inputs(shapes: Sequence[tuple[int, ...]], seed: int) -> list[NDArray[np.float64]]:
    """Random float64 inputs; continuous draws, so no ties or kinks occur."""
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in shapes]


def _chainrule_value_and_grads(
    expression: Callable[..., Any], arrays: Sequence[NDArray[Any]]
) -> tuple[float, list[NDArray[Any]]]:
    tensors = [cr.tensor(a, requires_grad=True) for a in arrays]
    loss = expression(cr, *tensors)
    loss.backward()
    grads = []
    for t in tensors:
        assert t.grad is not None
        grads.append(t.grad.data)
    return float(loss), grads


def _autograd_namespace() -> SimpleNamespace:
    anp = pytest.importorskip("autograd.numpy")
    special = pytest.importorskip("autograd.scipy.special")

    def var(x: Any, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Any:
        return anp.var(x, axis=axis, keepdims=keepdims, ddof=ddof)

    def softmax(x: Any, axis: int = -1) -> Any:
        return anp.exp(log_softmax(x, axis))

    def log_softmax(x: Any, axis: int = -1) -> Any:
        return x - special.logsumexp(x, axis=axis, keepdims=True)

    def relu(x: Any) -> Any:
        return anp.maximum(x, 0.0)

    def sigmoid(x: Any) -> Any:
        return 1.0 / (1.0 + anp.exp(-x))

    return SimpleNamespace(
        abs=anp.abs,
        clip=anp.clip,
        concatenate=anp.concatenate,
        exp=anp.exp,
        log_softmax=log_softmax,
        logsumexp=special.logsumexp,
        max=anp.max,
        maximum=anp.maximum,
        mean=anp.mean,
        min=anp.min,
        minimum=anp.minimum,
        relu=relu,
        sigmoid=sigmoid,
        softmax=softmax,
        sqrt=anp.sqrt,
        stack=anp.stack,
        sum=anp.sum,
        swapaxes=anp.swapaxes,
        tanh=anp.tanh,
        transpose=anp.transpose,
        var=var,
        where=anp.where,
    )


def _torch_namespace() -> SimpleNamespace:
    torch = pytest.importorskip("torch")

    def dims(x: Any, axis: Any) -> Any:
        return tuple(range(x.ndim)) if axis is None else axis

    def reduction(function: Callable[..., Any]) -> Callable[..., Any]:
        def reduce(x: Any, axis: Any = None, keepdims: bool = False) -> Any:
            return function(x, dim=dims(x, axis), keepdim=keepdims)

        return reduce

    def var(x: Any, axis: Any = None, keepdims: bool = False, ddof: int = 0) -> Any:
        return torch.var(x, dim=dims(x, axis), correction=ddof, keepdim=keepdims)

    def where(condition: Any, x: Any, y: Any) -> Any:
        return torch.where(torch.as_tensor(condition), x, y)

    def concatenate(tensors: Sequence[Any], axis: int = 0) -> Any:
        return torch.cat(list(tensors), dim=axis)

    def stack(tensors: Sequence[Any], axis: int = 0) -> Any:
        return torch.stack(list(tensors), dim=axis)

    def softmax(x: Any, axis: int = -1) -> Any:
        return torch.softmax(x, dim=axis)

    def log_softmax(x: Any, axis: int = -1) -> Any:
        return torch.log_softmax(x, dim=axis)

    return SimpleNamespace(
        abs=torch.abs,
        clip=torch.clamp,
        concatenate=concatenate,
        exp=torch.exp,
        log_softmax=log_softmax,
        logsumexp=reduction(torch.logsumexp),
        max=reduction(torch.amax),
        maximum=torch.maximum,
        mean=reduction(torch.mean),
        min=reduction(torch.amin),
        minimum=torch.minimum,
        relu=torch.relu,
        sigmoid=torch.sigmoid,
        softmax=softmax,
        sqrt=torch.sqrt,
        stack=stack,
        sum=reduction(torch.sum),
        swapaxes=torch.swapaxes,
        tanh=torch.tanh,
        transpose=torch.permute,
        var=var,
        where=where,
    )


def _autograd_value_and_grads(
    expression: Callable[..., Any], arrays: Sequence[NDArray[Any]]
) -> tuple[float, list[NDArray[Any]]]:
    autograd = pytest.importorskip("autograd")
    namespace = _autograd_namespace()

    def loss(params: list[Any]) -> Any:
        return expression(namespace, *params)

    value, grads = autograd.value_and_grad(loss)(list(arrays))
    return float(value), [np.asarray(g) for g in grads]


def _torch_value_and_grads(
    expression: Callable[..., Any], arrays: Sequence[NDArray[Any]]
) -> tuple[float, list[NDArray[Any]]]:
    torch = pytest.importorskip("torch")
    namespace = _torch_namespace()
    tensors = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    loss = expression(namespace, *tensors)
    loss.backward()
    return float(loss.item()), [t.grad.numpy() for t in tensors]


REFERENCES = {"autograd": _autograd_value_and_grads, "torch": _torch_value_and_grads}


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("expression", sorted(EXPRESSIONS))
@pytest.mark.parametrize("library", sorted(REFERENCES))
def test_value_and_gradients_match_the_reference_library(
    library: str, expression: str, seed: int
) -> None:
    fun, shapes = EXPRESSIONS[expression]
    arrays = _inputs(shapes, seed)
    expected_value, expected_grads = REFERENCES[library](fun, arrays)
    value, grads = _chainrule_value_and_grads(fun, arrays)
    np.testing.assert_allclose(value, expected_value, rtol=1e-10, atol=1e-12)
    for position, (grad, expected) in enumerate(zip(grads, expected_grads)):
        np.testing.assert_allclose(
            grad,
            expected,
            rtol=1e-9,
            atol=1e-12,
            err_msg=f"{expression}: gradient of input {position} differs from {library}",
        )


# Ties and kinks on purpose: maximum/minimum split g equally at ties, max/min share it among
# tied extremes, and abs'(0) = 0; autograd and PyTorch document the same conventions.
TIE_INPUTS = [
    np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]),
    np.array([[1.0, 0.0, 0.0], [2.0, 0.0, 0.0]]),
    np.arange(1.0, 7.0).reshape(2, 3),
]


def _ties(m: Any, x: Any, y: Any, w: Any) -> Any:
    elementwise = m.sum(m.maximum(x, y) * w) + m.sum(m.minimum(x, y) * w * w)
    reductions = m.sum(m.max(x, axis=1) * w[:, 0]) + m.sum(m.min(y, axis=0))
    return elementwise + reductions + m.sum(m.abs(y) * w) + m.max(y)


@pytest.mark.parametrize("library", sorted(REFERENCES))
def test_tie_and_kink_conventions_match_the_reference_library(library: str) -> None:
    expected_value, expected_grads = REFERENCES[library](_ties, TIE_INPUTS)
    value, grads = _chainrule_value_and_grads(_ties, TIE_INPUTS)
    np.testing.assert_allclose(value, expected_value, rtol=1e-12)
    for position, (grad, expected) in enumerate(zip(grads, expected_grads)):
        np.testing.assert_allclose(
            grad, expected, rtol=1e-12, err_msg=f"gradient of input {position} at ties"
        )
