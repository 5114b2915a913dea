"""The library's self-test: every differentiable op checked against finite differences.

``OP_CASES`` holds one case per public op: a function of float64 tensors and a recipe for
inputs inside the op's domain (away from kinks such as relu at 0, and from ties in max).
``chainrule gradcheck`` runs them all and prints a table; the test suite checks that every op in
``chainrule.ops.__all__`` has a case here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import ops
from .._text import text_table
from .gradcheck import GradcheckReport, gradcheck

Inputs = Callable[[np.random.Generator], list[np.ndarray]]


@dataclass(frozen=True)
class OpCase:
    """One op, the function that exercises it, and how to draw inputs for it."""

    name: str
    fun: Callable[..., Any]
    inputs: Inputs


def _normal(*shapes: tuple[int, ...]) -> Inputs:
    def draw(rng: np.random.Generator) -> list[np.ndarray]:
        return [rng.standard_normal(shape) for shape in shapes]

    return draw


def _uniform(low: float, high: float, *shapes: tuple[int, ...]) -> Inputs:
    def draw(rng: np.random.Generator) -> list[np.ndarray]:
        return [rng.uniform(low, high, shape) for shape in shapes]

    return draw


def _away_from_zero(*shapes: tuple[int, ...]) -> Inputs:
    """Values with |x| in [0.2, 2], so a finite difference never straddles a kink at 0."""

    def draw(rng: np.random.Generator) -> list[np.ndarray]:
        return [rng.uniform(0.2, 2.0, shape) * rng.choice([-1.0, 1.0], shape) for shape in shapes]

    return draw


def _distinct(*shapes: tuple[int, ...]) -> Inputs:
    """Values a shuffled grid apart, so max, min and maximum have no ties."""

    def draw(rng: np.random.Generator) -> list[np.ndarray]:
        total = int(sum(np.prod(shape) for shape in shapes))
        values = rng.permutation(np.linspace(-2.0, 2.0, total))
        arrays, start = [], 0
        for shape in shapes:
            size = int(np.prod(shape))
            arrays.append(values[start : start + size].reshape(shape))
            start += size
        return arrays

    return draw


def _affine_away_from_zero(rows: int, inputs: int, outputs: int) -> Inputs:
    """x, W, b of a layer whose pre-activations x Wᵀ + b all have |z| >= 0.2 (away from the
    ReLU's kink): b is chosen for each draw."""

    def draw(rng: np.random.Generator) -> list[np.ndarray]:
        x, weight = rng.standard_normal((rows, inputs)), rng.standard_normal((outputs, inputs))
        z = x @ weight.T
        # Each unit's bias puts its pre-activations on one side of 0, at least 0.2 away.
        bias = np.where(rng.random(outputs) < 0.5, 0.2 - z.min(axis=0), -0.2 - z.max(axis=0))
        return [x, weight, bias]

    return draw


def _margins_away_from_one() -> Inputs:
    """Scores z whose margins z·t (t = _SIGNS) lie at least 0.2 from the hinge's kink at 1."""

    def draw(rng: np.random.Generator) -> list[np.ndarray]:
        margins = 1 + rng.uniform(0.2, 2.0, _SIGNS.shape) * rng.choice([-1.0, 1.0], _SIGNS.shape)
        return [margins * _SIGNS]

    return draw


_LABELS = np.array([0, 2, 1, 2])
_SIGNS = np.array([[1.0, -1.0, 1.0, 1.0], [-1.0, -1.0, 1.0, -1.0], [1.0, 1.0, -1.0, 1.0]])
_MASK = np.array(
    [[True, False, True, True], [False, True, False, True], [True, True, False, False]]
)

OP_CASES: list[OpCase] = [
    OpCase("abs", ops.abs, _away_from_zero((3, 4))),
    OpCase("add", ops.add, _normal((3, 4), (4,))),
    # A float32 round trip would be quantised at the finite-difference step; longdouble is not.
    OpCase(
        "astype", lambda x: ops.astype(ops.astype(x, np.longdouble) * x, np.float64), _normal((3,))
    ),
    OpCase("broadcast_to", lambda x: ops.broadcast_to(x, (2, 3, 4)), _normal((3, 1))),
    OpCase("clip", lambda x: ops.clip(x, -0.5, 0.5), _uniform(-0.4, 0.4, (3, 4))),
    OpCase("concatenate", lambda x, y: ops.concatenate([x, y, x], axis=1), _normal((2, 3), (2, 1))),
    OpCase(
        "divide", ops.divide, lambda rng: [rng.standard_normal((3, 4)), rng.uniform(0.5, 2, (3, 1))]
    ),
    OpCase("exp", ops.exp, _normal((3, 4))),
    OpCase("expand_dims", lambda x: ops.expand_dims(x, (0, 2)), _normal((3, 4))),
    OpCase(
        "getitem", lambda x: ops.getitem(x, (np.array([0, 2, 0]), slice(1, None))), _normal((3, 4))
    ),
    OpCase("log", ops.log, _uniform(0.2, 3.0, (3, 4))),
    OpCase("log_softmax", lambda x: ops.log_softmax(x, axis=1), _normal((3, 4))),
    OpCase("logsumexp", lambda x: ops.logsumexp(x, axis=0), _normal((3, 4))),
    OpCase("matmul", ops.matmul, _normal((2, 3, 4), (4, 5))),
    OpCase("max", lambda x: ops.max(x, axis=1), _distinct((3, 4))),
    OpCase("maximum", ops.maximum, _distinct((3, 4), (3, 4))),
    OpCase("mean", lambda x: ops.mean(x, axis=(0, 2), keepdims=True), _normal((2, 3, 4))),
    OpCase("min", lambda x: ops.min(x, axis=0), _distinct((3, 4))),
    OpCase("minimum", ops.minimum, _distinct((3, 4), (3, 4))),
    OpCase("multiply", ops.multiply, _normal((3, 1), (1, 4))),
    OpCase("negative", ops.negative, _normal((3, 4))),
    OpCase("positive", ops.positive, _normal((3, 4))),
    OpCase("power", ops.power, lambda rng: [rng.uniform(0.5, 2, (3, 4)), rng.uniform(-2, 2, (4,))]),
    OpCase("relu", ops.relu, _away_from_zero((3, 4))),
    OpCase("reshape", lambda x: ops.reshape(x, (4, 3)), _normal((2, 6))),
    OpCase("sigmoid", ops.sigmoid, _normal((3, 4))),
    OpCase("sign", lambda x: ops.sign(x) * x, _away_from_zero((3, 4))),
    OpCase("heaviside", lambda x: ops.heaviside(x) * x, _away_from_zero((3, 4))),
    OpCase("softmax", lambda x: ops.softmax(x, axis=0), _normal((3, 4))),
    OpCase("sqrt", ops.sqrt, _uniform(0.2, 3.0, (3, 4))),
    OpCase("squeeze", lambda x: ops.squeeze(x, axis=1), _normal((3, 1, 4))),
    OpCase("stack", lambda x, y: ops.stack([x, y, x], axis=1), _normal((3, 4), (3, 4))),
    OpCase("subtract", ops.subtract, _normal((4,), (3, 4))),
    OpCase("sum", lambda x: ops.sum(x, axis=-1), _normal((3, 4))),
    OpCase("swapaxes", lambda x: ops.swapaxes(x, 0, 2), _normal((2, 3, 4))),
    OpCase("tanh", ops.tanh, _normal((3, 4))),
    OpCase("sin", ops.sin, _normal((3, 4))),
    OpCase("cos", ops.cos, _normal((3, 4))),
    OpCase("transpose", lambda x: ops.transpose(x, (1, 2, 0)), _normal((2, 3, 4))),
    OpCase("var", lambda x: ops.var(x, axis=1, ddof=1), _normal((3, 4))),
    OpCase("where", lambda x, y: ops.where(_MASK, x, y), _normal((3, 4), (4,))),
    # The fused primitives of layers and losses (ops/layers.py, ops/losses.py).
    OpCase("linear", ops.linear, _normal((5, 3), (4, 3), (4,))),
    OpCase("linear_relu", ops.linear_relu, _affine_away_from_zero(5, 3, 4)),
    OpCase("leaky_relu", lambda x: ops.leaky_relu(x, 0.2), _away_from_zero((3, 4))),
    OpCase("cross_entropy", lambda z: ops.cross_entropy(z, _LABELS), _normal((4, 3))),
    OpCase(
        "binary_cross_entropy",
        ops.binary_cross_entropy,
        lambda rng: [rng.uniform(0.1, 0.9, (3, 4)), rng.uniform(0, 1, (3, 4))],
    ),
    OpCase(
        "binary_cross_entropy_with_logits",
        ops.binary_cross_entropy_with_logits,
        lambda rng: [rng.standard_normal((3, 4)), rng.uniform(0, 1, (3, 4))],
    ),
    OpCase("hinge_loss", lambda z: ops.hinge_loss(z, _SIGNS, margin=1.0), _margins_away_from_one()),
]


def run_selfcheck(
    seed: int = 0, names: list[str] | None = None
) -> list[tuple[str, GradcheckReport]]:
    """Gradient-check each op (or those in ``names``) on random inputs from ``seed``."""
    known = {case.name for case in OP_CASES}
    unknown = sorted(set(names or []) - known)
    if unknown:
        raise ValueError(
            f"unknown function(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    rng = np.random.default_rng(seed)
    results = []
    for case in OP_CASES:
        inputs = case.inputs(rng)
        if names and case.name not in names:
            continue
        results.append((case.name, gradcheck(case.fun, *inputs)))
    return results


def format_table(results: list[tuple[str, GradcheckReport]]) -> str:
    """The results as a table: function, max abs error, max rel error, passed."""
    header = ("function", "max abs error", "max rel error", "passed")
    rows = [
        (
            name,
            f"{report.max_abs_error:.2e}",
            f"{report.max_rel_error:.2e}",
            "yes" if report.passed else "NO",
        )
        for name, report in results
    ]
    return text_table(header, rows, rule=True)
