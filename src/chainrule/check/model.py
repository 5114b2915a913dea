"""Check every parameter gradient of a whole network against finite differences, in float64."""

from __future__ import annotations

import contextlib
import dataclasses
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._text import text_table
from ..engine.graph import enable_grad, no_grad
from ..engine.random import resolve_rng
from ..engine.tensor import Tensor
from .gradcheck import _DEFAULT_STEP, _difference

__all__ = ["ModelGradcheckReport", "ParameterCheck", "gradcheck_model"]


@dataclass(frozen=True)
class ParameterCheck:
    """The comparison for one parameter: its worst element and the largest errors.

    ``checked`` is the number of elements compared (all of them unless ``max_elements`` chose
    a subset). ``violation`` is the worst element's error divided by its tolerance
    ``atol + rtol * |numerical|``: at most 1 passes.
    """

    name: str
    shape: tuple[int, ...]
    checked: int
    passed: bool
    max_abs_error: float
    max_rel_error: float
    worst_index: tuple[int, ...]
    analytic: float
    numerical: float
    violation: float


@dataclass(frozen=True)
class ModelGradcheckReport:
    """Result of ``gradcheck_model``: ``passed`` (also ``bool(report)``) and one entry per
    parameter, in the order of ``model.named_parameters()``.

    ``worst`` names the parameter furthest from its tolerance, ``records`` gives the entries as
    plain dicts (for a DataFrame or JSON), ``report[name]`` one entry, and ``str(report)`` a table.
    """

    passed: bool
    max_abs_error: float
    max_rel_error: float
    atol: float
    rtol: float
    parameters: list[ParameterCheck] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.passed

    def __getitem__(self, name: str) -> ParameterCheck:
        for check in self.parameters:
            if check.name == name:
                return check
        raise KeyError(name)

    @property
    def worst(self) -> str | None:
        """The name of the parameter with the largest error relative to its tolerance."""
        if not self.parameters:
            return None
        return max(self.parameters, key=_violation).name

    @property
    def records(self) -> list[dict[str, Any]]:
        """One dict per parameter, with the fields of ``ParameterCheck``."""
        return [dataclasses.asdict(check) for check in self.parameters]

    def __str__(self) -> str:
        header = (
            "parameter",
            "shape",
            "checked",
            "max abs err",
            "max rel err",
            "worst at",
            "analytic",
            "numerical",
            "ok",
        )
        rows = [
            (
                check.name,
                str(check.shape),
                str(check.checked),
                f"{check.max_abs_error:.2e}",
                f"{check.max_rel_error:.2e}",
                str(check.worst_index),
                f"{check.analytic:.6g}",
                f"{check.numerical:.6g}",
                "yes" if check.passed else "NO",
            )
            for check in self.parameters
        ]
        lines = text_table(header, rows).splitlines()
        verdict = "passed" if self.passed else "FAILED"
        failed = sum(not check.passed for check in self.parameters)
        summary = (
            f"gradcheck_model {verdict}: {len(self.parameters)} parameters, {failed} failed "
            f"(atol={self.atol:g}, rtol={self.rtol:g}, float64)"
        )
        return "\n".join([summary, *lines, f"worst: {self.worst}"])


def _violation(check: ParameterCheck) -> float:
    return check.violation


def gradcheck_model(
    model: Any,
    loss_fn: Callable[[Any, Any], Any],
    x: Any,
    y: Any,
    *,
    atol: float = 1e-6,
    rtol: float = 1e-4,
    eps: float | None = None,
    max_elements: int | None = None,
    rng: np.random.Generator | None = None,
) -> ModelGradcheckReport:
    """Check the gradient of ``loss_fn(model(x), y)`` for every parameter by finite differences.

    The check runs in float64 whatever the model's dtype: each parameter's values are copied
    to float64 and put in place of the originals for the duration of the check, and ``x`` and
    ``y`` (when floating) are converted too. The analytic gradient comes from one
    ``backward()``; the numerical one from central differences
    (f(θ + h/2) - f(θ - h/2)) / h per element, with h = eps * max(|θ|, 1) as in
    ``numerical_grad``. An element passes when |analytic - numerical| <= atol + rtol * |numerical|.

    The model runs in evaluation mode (``model.eval()``), so that dropout does not draw a new
    mask for every evaluation; each module's previous mode is restored afterwards, and so are
    every parameter's array (same object, dtype and values) and ``.grad``. Parameters with
    ``requires_grad=False`` (frozen) are not checked.

    Parameters
    ----------
    model
        A ``chainrule.nn.Module`` (anything with ``named_parameters()`` and ``modules()``).
    loss_fn
        Called as ``loss_fn(model(x), y)``; must return a one-element Tensor.
    x, y
        The batch. Floating arrays and tensors are checked in float64; integer ones (class
        indices) are passed unchanged.
    atol, rtol
        The tolerances, as in ``gradcheck``.
    eps
        The relative finite-difference step (default: the cube root of float64's machine
        epsilon, about 6e-6).
    max_elements
        Check at most this many elements of each parameter, chosen at random without
        replacement (the others are skipped): two forward passes per element make a full
        check of a large layer slow. ``None`` checks every element.
    rng
        The generator that chooses the subset; by default the library's generator, which
        ``cr.manual_seed`` seeds. Pass ``np.random.default_rng(0)`` for the same subset every
        time.

    Returns
    -------
    ModelGradcheckReport

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    >>> X = cr.randn(5, 3)
    >>> y = [0, 1, 1, 0, 1]
    >>> report = cr.gradcheck_model(model, nn.CrossEntropyLoss(), X, y)
    >>> report.passed, [check.name for check in report.parameters]
    (True, ['0.weight', '0.bias', '2.weight', '2.bias'])
    """
    step = _checked_arguments(model, eps, max_elements)
    parameters = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    if not parameters:
        raise ValueError("gradcheck_model: the model has no parameters that require grad")
    inputs = _float64_batch(x)
    targets = _float64_batch(y)
    generator = resolve_rng(rng) if max_elements is not None else None

    def loss_value() -> Any:
        return loss_fn(model(inputs), targets)

    with _in_float64(model, [p for _, p in parameters]) as copies:
        analytic = _analytic_gradients(loss_value, [p for _, p in parameters])
        checks = []
        for (name, _), array, gradient in zip(parameters, copies, analytic):
            indices = _chosen_indices(array.shape, max_elements, generator)
            numerical = _numerical_gradient(loss_value, array, indices, step)
            checks.append(_compare(name, array.shape, indices, gradient, numerical, atol, rtol))
    return ModelGradcheckReport(
        passed=all(check.passed for check in checks),
        max_abs_error=max(check.max_abs_error for check in checks),
        max_rel_error=max(check.max_rel_error for check in checks),
        atol=atol,
        rtol=rtol,
        parameters=checks,
    )


def _checked_arguments(model: Any, eps: float | None, max_elements: int | None) -> float:
    """Refuse what cannot be checked; return the finite-difference step."""
    if not callable(getattr(model, "named_parameters", None)):
        raise TypeError(
            f"gradcheck_model: model must be a chainrule.nn.Module, got {type(model).__name__}"
        )
    step = _DEFAULT_STEP if eps is None else float(eps)
    if not step > 0:
        raise ValueError(f"gradcheck_model: eps must be positive, got {eps}")
    if max_elements is not None and (isinstance(max_elements, bool) or max_elements < 1):
        raise ValueError(f"gradcheck_model: max_elements must be None or >= 1, got {max_elements}")
    return step


@contextlib.contextmanager
def _in_float64(model: Any, parameters: list[Any]) -> Iterator[list[np.ndarray]]:
    """The model in evaluation mode with float64 copies of ``parameters`` in place of their
    arrays (yielded), no gradients; every array, gradient and module mode restored after."""
    modes = [(module, module.training) for module in model.modules()]
    saved = [(p, p.data, p.grad) for p in parameters]
    try:
        model.eval()
        copies = [np.array(p.data, dtype=np.float64) for p in parameters]
        for p, copy in zip(parameters, copies):
            p.data = copy
            p.grad = None
        yield copies
    finally:
        for p, data, grad in saved:
            p.data = data
            p.grad = grad
        for module, training in modes:
            module.training = training


def _float64_batch(value: Any) -> Any:
    """A floating batch as a float64 Tensor (a copy); integer or other batches unchanged."""
    array = value.data if isinstance(value, Tensor) else value
    if isinstance(array, (np.ndarray, list, tuple, float, int, np.number)):
        converted = np.asarray(array)
        if converted.dtype.kind == "f":
            return Tensor._wrap(converted.astype(np.float64))
    return value


def _analytic_gradients(
    loss_value: Callable[[], Any], parameters: list[Tensor]
) -> list[NDArray[np.float64]]:
    with enable_grad():
        loss = loss_value()
        if not isinstance(loss, Tensor):
            raise TypeError(f"gradcheck_model: loss_fn must return a Tensor, got {type(loss)}")
        if loss.size != 1:
            raise ValueError(f"gradcheck_model: the loss must be a scalar, got shape {loss.shape}")
        if loss.dtype != np.float64:
            warnings.warn(
                f"gradcheck_model: the loss was computed in {loss.dtype}, not float64 (the model "
                "or loss_fn converts it), so finite differences will be inaccurate",
                stacklevel=3,
            )
        if loss.requires_grad:
            loss.backward()
    gradients = []
    for p in parameters:
        if p.grad is None:
            # Not on any path to the loss: its gradient is zero.
            gradients.append(np.zeros_like(p.data, dtype=np.float64))
        else:
            gradients.append(np.array(p.grad.data, dtype=np.float64))
        p.grad = None
    return gradients


def _chosen_indices(
    shape: tuple[int, ...], max_elements: int | None, generator: np.random.Generator | None
) -> list[tuple[int, ...]]:
    size = int(np.prod(shape))
    if max_elements is None or size <= max_elements or generator is None:
        flat = np.arange(size)
    else:
        flat = np.sort(generator.choice(size, size=max_elements, replace=False))
    return [tuple(int(i) for i in np.unravel_index(int(k), shape)) for k in flat]


def _numerical_gradient(
    loss_value: Callable[[], Any],
    array: NDArray[np.float64],
    indices: list[tuple[int, ...]],
    step: float,
) -> NDArray[np.float64]:
    """Central differences of the loss in the chosen elements of ``array``, which the model's
    parameter holds, so perturbing it in place perturbs the model."""
    gradient = np.zeros(len(indices), dtype=np.float64)
    with no_grad():
        for position, index in enumerate(indices):
            gradient[position] = _difference(loss_value, array, index, step, "gradcheck_model")
    return gradient


def _compare(
    name: str,
    shape: tuple[int, ...],
    indices: list[tuple[int, ...]],
    gradient: NDArray[np.float64],
    numerical: NDArray[np.float64],
    atol: float,
    rtol: float,
) -> ParameterCheck:
    if not indices:
        return ParameterCheck(name, shape, 0, True, 0.0, 0.0, (), 0.0, 0.0, 0.0)
    analytic = np.array([gradient[index] for index in indices], dtype=np.float64)
    abs_error = np.abs(analytic - numerical)
    scale = np.maximum(np.abs(analytic), np.abs(numerical))
    rel_error = np.divide(abs_error, scale, out=np.zeros_like(abs_error), where=scale > 0)
    tolerance = atol + rtol * np.abs(numerical)
    # Error over tolerance: comparable across parameters of any scale (0 / 0 counts as 0; a
    # NaN on either side counts as infinitely wrong).
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = abs_error / tolerance
    ratio = np.where(abs_error == 0, 0.0, ratio)
    ratio = np.where(np.isnan(ratio), np.inf, ratio)
    worst = int(np.argmax(ratio))
    return ParameterCheck(
        name=name,
        shape=tuple(shape),
        checked=len(indices),
        passed=bool(np.all(abs_error <= tolerance)),
        max_abs_error=float(abs_error.max()),
        max_rel_error=float(rel_error.max()),
        worst_index=indices[worst],
        analytic=float(analytic[worst]),
        numerical=float(numerical[worst]),
        violation=float(ratio[worst]),
    )
