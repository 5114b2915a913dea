"""numerical_grad and gradcheck: the checker itself is checked against closed forms."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

import chainrule as cr

STEP = np.finfo(np.float64).eps ** (1 / 3)


def _square(x: Any, factor: float = 1.0) -> cr.Tensor:
    """x² as a primitive whose vjp is multiplied by ``factor`` (1.001 makes it wrong)."""
    x = cr.as_tensor(x)

    def vjp(g: Any, x: Any, out: Any) -> Any:
        return g * 2 * x * factor

    return cr.Tensor._from_op(x.data**2, (x,), (vjp,), "square")


# ------------------------------------------------------------------------ numerical_grad
def test_numerical_grad_returns_one_float64_array_per_input() -> None:
    """f(x, y) = sum(x y) + sum(x²): [y + 2x, x], each float64 of its input's shape."""
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    y = np.array([0.5, -1.0])
    grads = cr.numerical_grad(lambda a, b: (a * b).sum() + (a**2).sum(), x, y)
    assert isinstance(grads, list) and len(grads) == 2
    assert [g.dtype for g in grads] == [np.float64, np.float64]
    assert [g.shape for g in grads] == [(2, 2), (2,)]
    np.testing.assert_allclose(grads[0], y + 2 * x, rtol=1e-9)
    np.testing.assert_allclose(grads[1], x.sum(axis=0), rtol=1e-9)


def test_numerical_grad_calls_fun_with_float64_tensors_and_leaves_inputs_alone() -> None:
    """fun sees float64 Tensors; the caller's arrays are not modified."""
    seen = []
    x = np.array([1.0, 2.0])

    def fun(t: cr.Tensor) -> cr.Tensor:
        seen.append((type(t), t.dtype))
        return (t**2).sum()

    cr.numerical_grad(fun, x)
    assert set(seen) == {(cr.Tensor, np.dtype(np.float64))}
    np.testing.assert_array_equal(x, [1.0, 2.0])


def test_numerical_grad_accepts_tensors_lists_and_numbers() -> None:
    """Inputs may be Tensors, lists or Python floats; d/dx x³ = 3x²."""
    (from_tensor,) = cr.numerical_grad(lambda t: (t**3).sum(), cr.tensor(np.array([2.0])))
    (from_list,) = cr.numerical_grad(lambda t: (t**3).sum(), [2.0])
    (from_number,) = cr.numerical_grad(lambda t: (t**3).sum(), 2.0)
    for g in (from_tensor, from_list, from_number):
        assert g.dtype == np.float64
        np.testing.assert_allclose(g.reshape(-1), [12.0], rtol=1e-9)


@pytest.mark.parametrize("eps", [1e-2, 5e-3, 1e-3])
@pytest.mark.parametrize("x", [1.0, -0.5, 3.0])
def test_forward_and_central_formulas_exactly(eps: float, x: float) -> None:
    """For exp with step h = eps·max(|x|, 1): forward gives e^x (e^h - 1)/h and central gives
    e^x · 2 sinh(h/2)/h, so central uses x ± h/2."""
    h = eps * max(abs(x), 1.0)
    point = np.array([x])
    (forward,) = cr.numerical_grad(lambda t: t.exp().sum(), point, method="forward", eps=eps)
    (central,) = cr.numerical_grad(lambda t: t.exp().sum(), point, method="central", eps=eps)
    np.testing.assert_allclose(forward, math.exp(x) * math.expm1(h) / h, rtol=1e-10)
    np.testing.assert_allclose(central, math.exp(x) * 2 * math.sinh(h / 2) / h, rtol=1e-10)


def test_forward_error_is_first_order_and_central_second_order() -> None:
    """Halving h halves the forward error (O(h)) and quarters the central error (O(h²))."""
    x = np.array([1.0])
    exact = math.e

    def errors(eps: float) -> tuple[float, float]:
        (forward,) = cr.numerical_grad(lambda t: t.exp().sum(), x, method="forward", eps=eps)
        (central,) = cr.numerical_grad(lambda t: t.exp().sum(), x, eps=eps)
        return abs(forward[0] - exact), abs(central[0] - exact)

    forward_1, central_1 = errors(1e-2)
    forward_2, central_2 = errors(5e-3)
    assert forward_1 / forward_2 == pytest.approx(2.0, rel=1e-2)
    assert central_1 / central_2 == pytest.approx(4.0, rel=1e-3)
    assert forward_1 == pytest.approx(exact * 1e-2 / 2, rel=1e-2)
    assert central_1 == pytest.approx(exact * 1e-4 / 24, rel=1e-2)
    assert central_1 < forward_1 / 100


@pytest.mark.parametrize("c", [0.0, 0.5, -0.9, 100.0, -250.0])
def test_default_step_is_cube_root_eps_times_max_abs_x_1(c: float) -> None:
    """h = eps^(1/3) · max(|x|, 1). Forward on (x - c)² at x = c gives exactly h; central on
    (x - c)³ at x = c gives exactly h²/4."""
    h = STEP * max(abs(c), 1.0)
    point = np.array([c])
    (forward,) = cr.numerical_grad(lambda t: ((t - c) ** 2).sum(), point, method="forward")
    (central,) = cr.numerical_grad(lambda t: ((t - c) ** 3).sum(), point)
    np.testing.assert_allclose(forward, [h], rtol=1e-8)
    np.testing.assert_allclose(central, [h**2 / 4], rtol=1e-8)


def test_default_is_central_and_accurate() -> None:
    """The defaults give d/dx tanh = 1 - tanh² to about 1e-10."""
    x = np.array([-1.0, 0.2, 1.5])
    (g,) = cr.numerical_grad(lambda t: t.tanh().sum(), x)
    np.testing.assert_allclose(g, 1 - np.tanh(x) ** 2, rtol=1e-9, atol=1e-11)


def test_numerical_grad_rejects_bad_arguments() -> None:
    """Unknown method, non-positive eps and non-scalar functions are ValueErrors."""
    with pytest.raises(ValueError, match="method"):
        cr.numerical_grad(lambda t: t.sum(), np.ones(2), method="backward")
    with pytest.raises(ValueError, match="eps"):
        cr.numerical_grad(lambda t: t.sum(), np.ones(2), eps=0.0)
    with pytest.raises(ValueError, match=r"scalar.*\(2,\)"):
        cr.numerical_grad(lambda t: t * 2, np.ones(2))
    with pytest.raises(TypeError, match="int64"):
        cr.numerical_grad(lambda t: t.sum(), np.ones(2, dtype=np.int64))


def test_numerical_grad_warns_for_float32() -> None:
    """float32 inputs are upcast with a warning; the result is float64."""
    with pytest.warns(UserWarning, match="float32"):
        (g,) = cr.numerical_grad(lambda t: (t**2).sum(), np.array([1.5], dtype=np.float32))
    assert g.dtype == np.float64
    np.testing.assert_allclose(g, [3.0], rtol=1e-9)


# ----------------------------------------------------------------------------- gradcheck
def test_gradcheck_passes_a_correct_gradient() -> None:
    """A right vjp passes: passed, bool(report), and tiny errors."""
    x = np.array([0.5, -1.0, 2.0])
    report = cr.gradcheck(lambda t: _square(t).sum(), x)
    assert report.passed is True
    assert bool(report)
    assert report.max_abs_error < 1e-8
    assert report.max_rel_error < 1e-8
    np.testing.assert_array_equal(report.analytic[0], 2 * x)
    np.testing.assert_allclose(report.numerical[0], 2 * x, rtol=1e-9)


def test_gradcheck_fails_a_gradient_off_by_one_in_a_thousand() -> None:
    """A vjp times 1.001 fails; the worst element is where 0.002 x - (atol + rtol 2x) peaks."""
    x = np.array([0.5, -1.0, 2.0, 1.5])
    report = cr.gradcheck(lambda t: _square(t, factor=1.001).sum(), x)
    assert report.passed is False
    assert not bool(report)
    (check,) = report.inputs
    assert not check.passed
    assert check.worst_index == (2,)
    assert check.analytic == pytest.approx(2.002 * 2.0, rel=1e-12)
    assert check.numerical == pytest.approx(4.0, rel=1e-9)
    assert report.max_abs_error == pytest.approx(0.002 * 2.0, rel=1e-6)
    assert report.max_rel_error == pytest.approx(0.002 / 2.002, rel=1e-6)
    np.testing.assert_allclose(report.analytic[0], 2.002 * x, rtol=1e-12)


def test_gradcheck_tolerances_are_respected() -> None:
    """An error of 1e-3 relative passes with rtol=1e-2 and fails with the default 1e-4."""
    x = np.array([0.5, 1.0])
    assert not cr.gradcheck(lambda t: _square(t, 1.001).sum(), x)
    assert cr.gradcheck(lambda t: _square(t, 1.001).sum(), x, rtol=1e-2)
    assert cr.gradcheck(lambda t: _square(t, 1.001).sum(), x, atol=1e-2, rtol=0.0)


def test_gradcheck_wrong_gradient_in_a_non_scalar_function() -> None:
    """A wrong vjp is caught through a random direction when fun returns a matrix."""
    x = np.random.default_rng(0).uniform(0.5, 2.0, size=(3, 2))
    assert cr.gradcheck(lambda t: _square(t) * 3, x)
    assert not cr.gradcheck(lambda t: _square(t, 1.001) * 3, x)


def test_gradcheck_reports_each_input() -> None:
    """Two inputs, only the second wrong: per-input verdicts, index and values."""
    a = np.array([1.0, 2.0])
    b = np.array([[0.5, 3.0], [1.0, 2.0]])

    def fun(x: cr.Tensor, y: cr.Tensor) -> cr.Tensor:
        return (x**2).sum() + _square(y, 1.001).sum()

    report = cr.gradcheck(fun, a, b)
    assert not report.passed
    first, second = report.inputs
    assert first.passed and not second.passed
    assert (first.position, second.position) == (0, 1)
    assert (first.shape, second.shape) == ((2,), (2, 2))
    assert second.worst_index == (0, 1)
    assert second.analytic == pytest.approx(2.002 * 3.0, rel=1e-12)
    assert second.numerical == pytest.approx(6.0, rel=1e-9)
    assert report.max_abs_error == pytest.approx(0.006, rel=1e-6)


def test_gradcheck_of_an_input_that_fun_ignores() -> None:
    """An unused input has a zero gradient, both ways, and passes."""
    report = cr.gradcheck(lambda x, y: (x**2).sum(), np.ones(2), np.ones(3))
    assert report.passed
    np.testing.assert_array_equal(report.analytic[1], np.zeros(3))
    np.testing.assert_array_equal(report.numerical[1], np.zeros(3))


def test_gradcheck_str_is_a_readable_table() -> None:
    """A verdict line, a header and one row per input with its values."""
    report = cr.gradcheck(
        lambda x, y: (x * y).sum() + _square(y, 1.001).sum(), np.ones(2), np.full((2,), 2.0)
    )
    lines = str(report).splitlines()
    assert "FAILED" in lines[0]
    header = lines[1]
    for column in ("input", "shape", "max abs err", "max rel err", "worst at", "analytic"):
        assert column in header
    assert len(lines) == 4
    assert lines[2].split()[0] == "0" and lines[2].split()[-1] == "yes"
    assert lines[3].split()[0] == "1" and lines[3].split()[-1] == "NO"
    assert "(2,)" in lines[3]
    assert "5.004" in lines[3]
    passed = str(cr.gradcheck(lambda x: (x**2).sum(), np.ones(2)))
    assert "passed" in passed.splitlines()[0]


@pytest.mark.parametrize("as_tensor", [False, True])
def test_gradcheck_upcasts_float32_with_a_warning(as_tensor: bool) -> None:
    """float32 inputs (arrays or Tensors) are checked in float64 after a warning."""
    seen = []

    def fun(t: cr.Tensor) -> cr.Tensor:
        seen.append(t.dtype)
        return (t**3).sum()

    x = np.array([0.5, 1.5], dtype=np.float32)
    with pytest.warns(UserWarning, match="input 0 is float32"):
        report = cr.gradcheck(fun, cr.tensor(x) if as_tensor else x)
    assert report.passed
    assert set(seen) == {np.dtype(np.float64)}
    assert report.analytic[0].dtype == np.float64
    np.testing.assert_allclose(report.analytic[0], 3 * x.astype(np.float64) ** 2, rtol=1e-15)


def test_gradcheck_does_not_warn_for_float64(recwarn: pytest.WarningsRecorder) -> None:
    """No warning for float64 inputs."""
    cr.gradcheck(lambda t: (t**2).sum(), np.ones(2))
    assert not [w for w in recwarn if "float32" in str(w.message)]


def test_gradcheck_forward_method() -> None:
    """method='forward' is accepted, and its O(h) error still passes a right gradient."""
    report = cr.gradcheck(lambda t: (t**2).sum(), np.array([1.0, 3.0]), method="forward")
    assert report.passed
    h = STEP * np.array([1.0, 3.0])
    np.testing.assert_allclose(report.numerical[0], [2.0, 6.0] + h, rtol=1e-8)


def test_gradcheck_rejects_integer_inputs() -> None:
    """Integer inputs cannot be differentiated."""
    with pytest.raises(TypeError, match="integer"):
        cr.gradcheck(lambda t: t.sum(), np.arange(3))
