"""Numerical differentiation and the check of analytic gradients against it."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._text import text_table
from ..engine.graph import no_grad
from ..engine.tensor import Tensor

_DEFAULT_STEP = float(np.finfo(np.float64).eps) ** (1 / 3)


def _float64_inputs(inputs: tuple[Any, ...], caller: str) -> list[NDArray[np.float64]]:
    arrays = []
    for position, x in enumerate(inputs):
        array = np.asarray(x.data if isinstance(x, Tensor) else x)
        if array.dtype.kind not in "fiu":
            raise TypeError(f"{caller}: input {position} has dtype {array.dtype}, not a number")
        if array.dtype == np.float32:
            warnings.warn(
                f"{caller}: input {position} is float32; it is checked in float64, since float32 "
                "rounding swamps finite-difference errors",
                stacklevel=3,
            )
        elif array.dtype.kind != "f":
            raise TypeError(
                f"{caller}: input {position} has integer dtype {array.dtype}; only floating "
                "inputs can be differentiated"
            )
        arrays.append(np.array(array, dtype=np.float64))
    return arrays


def _scalar(value: Any, caller: str) -> float:
    array = np.asarray(value.data if isinstance(value, Tensor) else value)
    if array.size != 1:
        raise ValueError(f"{caller}: fun must return a scalar, got shape {array.shape}")
    return float(array.reshape(()))


def numerical_grad(
    fun: Callable[..., Any], *inputs: Any, method: str = "central", eps: float | None = None
) -> list[NDArray[np.float64]]:
    """Finite-difference gradient of the scalar ``fun`` with respect to each input, in float64.

    Parameters
    ----------
    fun
        Called with one float64 Tensor per input; must return a scalar.
    method
        ``"central"``: (f(x + h/2) - f(x - h/2)) / h, error O(h²).
        ``"forward"``: (f(x + h) - f(x)) / h, error O(h).
    eps
        Relative step: each element gets h = eps * max(|x|, 1). The default eps is the cube
        root of float64's machine epsilon (about 6e-6), which balances truncation and rounding
        error for central differences.

    Returns
    -------
    list of numpy.ndarray
        One float64 array per input, of the input's shape.
    """
    if method not in ("central", "forward"):
        raise ValueError(f"numerical_grad: method must be 'central' or 'forward', got {method!r}")
    step = _DEFAULT_STEP if eps is None else float(eps)
    if not step > 0:
        raise ValueError(f"numerical_grad: eps must be positive, got {eps}")
    arrays = _float64_inputs(inputs, "numerical_grad")
    tensors = [Tensor._wrap(array) for array in arrays]
    evaluate = functools.partial(fun, *tensors)
    central = method == "central"
    gradients = []
    with no_grad():
        # Forward differences share f(x): one evaluation per element, not two.
        at_x = None if central else _scalar(evaluate(), "numerical_grad")
        for array in arrays:
            gradient = np.empty_like(array)
            for index in np.ndindex(array.shape):
                gradient[index] = _difference(
                    evaluate, array, index, step, "numerical_grad", central=central, at_x=at_x
                )
            gradients.append(gradient)
    return gradients


def _difference(
    evaluate: Callable[[], Any],
    array: NDArray[np.float64],
    index: tuple[int, ...],
    step: float,
    caller: str,
    *,
    central: bool = True,
    at_x: float | None = None,
) -> float:
    """The finite difference of the scalar ``evaluate()`` in one element of ``array``, which
    ``evaluate`` reads: (f(x + h/2) - f(x - h/2)) / h when ``central``, else (f(x + h) - f(x)) / h,
    with h = step * max(|x|, 1). The element is restored afterwards. ``at_x``, when given, is
    f(x) already evaluated (forward differences need it once, not once per element)."""
    original = float(array[index])
    h = step * max(abs(original), 1.0)
    upper = original + (h / 2 if central else h)
    lower = original - h / 2 if central else original
    array[index] = upper
    f_upper = _scalar(evaluate(), caller)
    if at_x is not None and not central:
        f_lower = at_x
    else:
        array[index] = lower
        f_lower = _scalar(evaluate(), caller)
    array[index] = original
    # Dividing by the step actually taken (upper - lower as stored in float64) removes the
    # representation error of x + h.
    return (f_upper - f_lower) / (upper - lower)


@dataclass(frozen=True)
class InputCheck:
    """The comparison for one input: its worst element and the largest errors."""

    position: int
    shape: tuple[int, ...]
    passed: bool
    max_abs_error: float
    max_rel_error: float
    worst_index: tuple[int, ...]
    analytic: float
    numerical: float


@dataclass(frozen=True)
class GradcheckReport:
    """Result of ``gradcheck``: ``passed`` (also ``bool(report)``) and one entry per input."""

    passed: bool
    max_abs_error: float
    max_rel_error: float
    inputs: list[InputCheck] = field(default_factory=list)
    analytic: list[NDArray[np.float64]] = field(default_factory=list, repr=False)
    numerical: list[NDArray[np.float64]] = field(default_factory=list, repr=False)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        header = (
            "input",
            "shape",
            "max abs err",
            "max rel err",
            "worst at",
            "analytic",
            "numerical",
            "ok",
        )
        rows = [
            (
                str(check.position),
                str(check.shape),
                f"{check.max_abs_error:.2e}",
                f"{check.max_rel_error:.2e}",
                str(check.worst_index),
                f"{check.analytic:.6g}",
                f"{check.numerical:.6g}",
                "yes" if check.passed else "NO",
            )
            for check in self.inputs
        ]
        verdict = "passed" if self.passed else "FAILED"
        return f"gradcheck {verdict}\n" + text_table(header, rows)


def gradcheck(
    fun: Callable[..., Any],
    *inputs: Any,
    atol: float = 1e-6,
    rtol: float = 1e-4,
    method: str = "central",
    eps: float | None = None,
) -> GradcheckReport:
    """Compare the gradient from ``backward()`` with finite differences, in float64.

    An element passes when |analytic - numerical| <= atol + rtol * |numerical|. A function
    with a non-scalar output is checked through the scalar sum(u * fun(...)) for a fixed random
    u, which tests the vector-Jacobian product in one random direction.

    Examples
    --------
    >>> import chainrule as cr
    >>> bool(cr.gradcheck(lambda x: (x.tanh() * x).sum(), [0.5, -1.0, 2.0]))
    True
    """
    arrays = _float64_inputs(inputs, "gradcheck")
    leaves = [Tensor._wrap(array.copy()).requires_grad_(True) for array in arrays]
    out = fun(*leaves)
    out = out if isinstance(out, Tensor) else Tensor._wrap(np.asarray(out, dtype=np.float64))
    scalar_fun = fun
    if out.size != 1:
        direction = np.random.default_rng(0).standard_normal(out.shape)

        def scalar_fun(*tensors: Any) -> Any:
            return (fun(*tensors) * direction).sum()

        out = (out * direction).sum()
    if out.requires_grad:
        out.backward()
    analytic = [
        leaf.grad.data.astype(np.float64) if leaf.grad is not None else np.zeros_like(leaf.data)
        for leaf in leaves
    ]
    numerical = numerical_grad(scalar_fun, *arrays, method=method, eps=eps)
    checks = []
    for position, (a, n) in enumerate(zip(analytic, numerical)):
        abs_error = np.abs(a - n)
        scale = np.maximum(np.abs(a), np.abs(n))
        rel_error = np.divide(abs_error, scale, out=np.zeros_like(abs_error), where=scale > 0)
        excess = abs_error - (atol + rtol * np.abs(n))
        if a.size:
            worst = np.unravel_index(int(np.argmax(excess)), a.shape)
            worst_index = tuple(int(i) for i in worst)
            checks.append(
                InputCheck(
                    position=position,
                    shape=a.shape,
                    passed=bool(np.all(excess <= 0)),
                    max_abs_error=float(abs_error.max()),
                    max_rel_error=float(rel_error.max()),
                    worst_index=worst_index,
                    analytic=float(a[worst_index]),
                    numerical=float(n[worst_index]),
                )
            )
        else:
            checks.append(InputCheck(position, a.shape, True, 0.0, 0.0, (), 0.0, 0.0))
    return GradcheckReport(
        passed=all(check.passed for check in checks),
        max_abs_error=max((c.max_abs_error for c in checks), default=0.0),
        max_rel_error=max((c.max_rel_error for c in checks), default=0.0),
        inputs=checks,
        analytic=analytic,
        numerical=numerical,
    )
