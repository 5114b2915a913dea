"""Where each differentiable op is checked: the one table of op domains.

For every name in ``chainrule.ops.__all__``: the interval each differentiable input is drawn
from (away from the op's kinks, where it has no derivative, and from ties, where its gradient
picks one of equal values), and an example call that ``chainrule gradcheck`` differentiates.
The self-check draws from it with NumPy; the property tests (``tests/ops/op_specs.py``) build
their hypothesis strategies from the same intervals and test that every case they draw lies in
them; ``Interval.describe`` writes a domain for the docs.

Domains keep central differences meaningful: log and sqrt arguments lie in [0.1, 4],
denominators have magnitudes in [0.1, 4], power bases are positive, and non-smooth ops are
evaluated at least ``KINK_GAP`` from their kinks and ``TIE_GAP`` apart where values could tie,
far beyond the finite-difference step of about 1e-5.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import ops

KINK_GAP = 0.05
"""How far from a kink (relu at 0, abs at 0, clip at its bounds) a value is drawn."""

TIE_GAP = 1e-3
"""How far apart values are drawn where a tie would make the gradient a choice (max, min)."""


@dataclass(frozen=True)
class Interval:
    """The values one input takes: in [low, high]; with ``magnitude``, |x| in [low, high] of
    either sign; at least KINK_GAP from each of ``kinks``; with ``distinct``, no two values
    closer than TIE_GAP; with ``lattice`` (an offset), on 0.1·k + offset ± 0.02, so that two
    inputs on offsets 0 and 0.05 never tie."""

    low: float
    high: float
    magnitude: bool = False
    kinks: tuple[float, ...] = ()
    distinct: bool = False
    lattice: float | None = None

    def describe(self) -> str:
        """The domain in words, as the docs and ``chainrule gradcheck`` print it."""
        text = (
            f"|x| in [{self.low:g}, {self.high:g}]"
            if self.magnitude
            else (f"[{self.low:g}, {self.high:g}]")
        )
        if self.kinks:
            text += f", >= {KINK_GAP:g} from {', '.join(f'{k:g}' for k in self.kinks)}"
        if self.distinct or self.lattice is not None:
            text += ", no ties"
        return text

    def draw(self, rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
        """Values of ``shape`` in this interval (float64)."""
        size = int(np.prod(shape))
        if self.lattice is not None:
            steps = rng.integers(int(self.low * 10), int(self.high * 10) + 1, size)
            values = 0.1 * steps + self.lattice + rng.uniform(-0.02, 0.02, size)
        elif self.distinct:
            values = rng.permutation(np.linspace(self.low, self.high, size))
        elif self.magnitude:
            values = rng.uniform(self.low, self.high, size) * rng.choice([-1.0, 1.0], size)
        else:
            values = rng.uniform(self.low, self.high, size)
        return away_from(values, self.kinks).reshape(shape)

    def holds(self, values: np.ndarray, slack: float = 0.1) -> bool:
        """Whether ``values`` lie in this interval (``slack`` allows for values that were moved
        away from a kink or apart from a tie) and away from its kinks."""
        values = np.asarray(values, dtype=np.float64)
        size = np.abs(values) if self.magnitude else values
        inside = bool(np.all(size >= self.low - slack) and np.all(size <= self.high + slack))
        clear = all(np.all(np.abs(values - kink) >= KINK_GAP * (1 - 1e-9)) for kink in self.kinks)
        return inside and clear


def away_from(x: np.ndarray, points: tuple[float, ...], gap: float = KINK_GAP) -> np.ndarray:
    """``x`` with every value closer than ``gap`` to one of ``points`` moved to distance
    ``gap`` (the points must be more than 3·gap apart)."""
    for point in points:
        near = np.abs(x - point) < gap
        x = np.where(near, point + np.where(x >= point, gap, -gap), x)
    return x


ANY = Interval(-3, 3)
POSITIVE = Interval(0.1, 4)
AROUND_ZERO = Interval(-3, 3, kinks=(0.0,))


@dataclass(frozen=True)
class OpDomain:
    """One op: the intervals of its differentiable inputs (``same``: which one applies when a
    single array is passed as two operands, as in x / x), and the self-check's example: a
    function of float64 tensors, the shapes of its inputs, or ``draw`` where the inputs must
    satisfy a condition between them (a layer's pre-activations away from the ReLU's kink)."""

    name: str
    inputs: tuple[Interval, ...]
    example: Callable[..., Any]
    shapes: tuple[tuple[int, ...], ...]
    draw: Callable[[np.random.Generator], list[np.ndarray]] | None = None
    same: int = 0
    note: str = ""

    def example_inputs(self, rng: np.random.Generator) -> list[np.ndarray]:
        if self.draw is not None:
            return self.draw(rng)
        return [interval.draw(rng, shape) for interval, shape in zip(self.inputs, self.shapes)]

    def describe(self) -> str:
        text = "; ".join(interval.describe() for interval in self.inputs)
        return f"{text}; {self.note}" if self.note else text


def _affine_away_from_zero(rng: np.random.Generator) -> list[np.ndarray]:
    """x, W, b of a 3-to-4 layer on 5 rows whose pre-activations x Wᵀ + b all have |z| >= 0.2:
    each unit's bias puts its pre-activations on one side of 0."""
    x, weight = rng.uniform(-2, 2, (5, 3)), rng.uniform(-2, 2, (4, 3))
    z = x @ weight.T
    bias = np.where(rng.random(4) < 0.5, 0.2 - z.min(axis=0), -0.2 - z.max(axis=0))
    return [x, weight, bias]


_LABELS = np.array([0, 2, 1, 2])
_SIGNS = np.array([[1.0, -1.0, 1.0, 1.0], [-1.0, -1.0, 1.0, -1.0], [1.0, 1.0, -1.0, 1.0]])
_MASK = np.array(
    [[True, False, True, True], [False, True, False, True], [True, True, False, False]]
)


def _margins_away_from_one(rng: np.random.Generator) -> list[np.ndarray]:
    """Scores z whose margins z·t (t = _SIGNS) lie at least 0.2 from the hinge's kink at 1."""
    margins = 1 + rng.uniform(0.2, 2.0, _SIGNS.shape) * rng.choice([-1.0, 1.0], _SIGNS.shape)
    return [margins * _SIGNS]


def _domain(
    name: str,
    inputs: tuple[Interval, ...],
    shapes: tuple[tuple[int, ...], ...],
    example: Callable[..., Any] | None = None,
    **more: Any,
) -> OpDomain:
    return OpDomain(name, inputs, example or getattr(ops, name), shapes, **more)


_LEAKY_SLOPE = 0.2
_SMOOTH = (ANY,)
# Two inputs on lattices 0.05 apart: maximum(x, y) never meets a tie.
_NO_TIES = (Interval(-2, 2, lattice=0.0), Interval(-2, 2, lattice=0.05))

_TABLE = [
    # elementwise, one input
    *(_domain(n, _SMOOTH, ((3, 4),)) for n in ("negative", "positive", "exp", "tanh", "sin")),
    _domain("cos", _SMOOTH, ((3, 4),)),
    _domain("log", (POSITIVE,), ((3, 4),)),
    _domain("sqrt", (POSITIVE,), ((3, 4),)),
    _domain("sigmoid", (Interval(-6, 6),), ((3, 4),)),
    _domain("abs", (AROUND_ZERO,), ((3, 4),)),
    _domain("relu", (AROUND_ZERO,), ((3, 4),)),
    # sign and heaviside have gradient 0: times x, the check sees the value they multiply.
    _domain("sign", (AROUND_ZERO,), ((3, 4),), lambda x: ops.sign(x) * x),
    _domain("heaviside", (AROUND_ZERO,), ((3, 4),), lambda x: ops.heaviside(x) * x),
    _domain(
        "clip",
        (ANY,),
        ((3, 4),),
        lambda x: ops.clip(x, -0.5, 0.5),
        note=f">= {KINK_GAP:g} from the bounds",
        draw=lambda rng: [away_from(rng.uniform(-3, 3, (3, 4)), (-0.5, 0.5))],
    ),
    # A float32 round trip would be quantised at the finite-difference step; longdouble is not.
    _domain(
        "astype",
        _SMOOTH,
        ((3,),),
        lambda x: ops.astype(ops.astype(x, np.longdouble) * x, np.float64),
    ),
    # elementwise, two inputs
    _domain("add", (ANY, ANY), ((3, 4), (4,))),
    _domain("subtract", (ANY, ANY), ((4,), (3, 4))),
    _domain("multiply", (ANY, ANY), ((3, 1), (1, 4))),
    _domain("divide", (ANY, Interval(0.1, 4, magnitude=True)), ((3, 4), (3, 1)), same=1),
    _domain("power", (Interval(0.2, 3), Interval(-2, 3)), ((3, 4), (4,))),
    _domain(
        "maximum", (Interval(-2, 2, lattice=0.0), Interval(-2, 2, lattice=0.05)), ((3, 4),) * 2
    ),
    _domain(
        "minimum", (Interval(-2, 2, lattice=0.0), Interval(-2, 2, lattice=0.05)), ((3, 4),) * 2
    ),
    _domain("where", (ANY, ANY), ((3, 4), (4,)), lambda x, y: ops.where(_MASK, x, y)),
    # linear algebra and reductions
    _domain("matmul", (Interval(-2, 2), Interval(-2, 2)), ((2, 3, 4), (4, 5))),
    _domain("sum", _SMOOTH, ((3, 4),), lambda x: ops.sum(x, axis=-1)),
    _domain("mean", _SMOOTH, ((2, 3, 4),), lambda x: ops.mean(x, axis=(0, 2), keepdims=True)),
    _domain("var", _SMOOTH, ((3, 4),), lambda x: ops.var(x, axis=1, ddof=1)),
    _domain("max", (Interval(-2, 2, distinct=True),), ((3, 4),), lambda x: ops.max(x, axis=1)),
    _domain("min", (Interval(-2, 2, distinct=True),), ((3, 4),), lambda x: ops.min(x, axis=0)),
    _domain("logsumexp", _SMOOTH, ((3, 4),), lambda x: ops.logsumexp(x, axis=0)),
    _domain("softmax", _SMOOTH, ((3, 4),), lambda x: ops.softmax(x, axis=0)),
    _domain("log_softmax", _SMOOTH, ((3, 4),), lambda x: ops.log_softmax(x, axis=1)),
    # shapes
    _domain("reshape", _SMOOTH, ((2, 6),), lambda x: ops.reshape(x, (4, 3))),
    _domain("transpose", _SMOOTH, ((2, 3, 4),), lambda x: ops.transpose(x, (1, 2, 0))),
    _domain("swapaxes", _SMOOTH, ((2, 3, 4),), lambda x: ops.swapaxes(x, 0, 2)),
    _domain("expand_dims", _SMOOTH, ((3, 4),), lambda x: ops.expand_dims(x, (0, 2))),
    _domain("squeeze", _SMOOTH, ((3, 1, 4),), lambda x: ops.squeeze(x, axis=1)),
    _domain("broadcast_to", _SMOOTH, ((3, 1),), lambda x: ops.broadcast_to(x, (2, 3, 4))),
    _domain(
        "concatenate",
        (ANY, ANY),
        ((2, 3), (2, 1)),
        lambda x, y: ops.concatenate([x, y, x], axis=1),
    ),
    _domain("stack", (ANY, ANY), ((3, 4), (3, 4)), lambda x, y: ops.stack([x, y, x], axis=1)),
    _domain(
        "getitem",
        _SMOOTH,
        ((3, 4),),
        lambda x: ops.getitem(x, (np.array([0, 2, 0]), slice(1, None))),
    ),
    # the fused primitives of layers and losses
    _domain("linear", (Interval(-2, 2),) * 3, ((5, 3), (4, 3), (4,))),
    _domain(
        "linear_relu",
        # The bias is chosen per draw to keep pre-activations off the kink: up to |x·w| + 0.2.
        (Interval(-2, 2), Interval(-2, 2), Interval(-12.2, 12.2)),
        ((5, 3), (4, 3), (4,)),
        draw=_affine_away_from_zero,
        note=f"pre-activations >= {KINK_GAP:g} from 0",
    ),
    _domain("leaky_relu", (AROUND_ZERO,), ((3, 4),), lambda x: ops.leaky_relu(x, _LEAKY_SLOPE)),
    _domain("cross_entropy", _SMOOTH, ((4, 3),), lambda z: ops.cross_entropy(z, _LABELS)),
    _domain("binary_cross_entropy", (Interval(0.05, 0.95), Interval(0, 1)), ((3, 4),) * 2),
    _domain("binary_cross_entropy_with_logits", (ANY, Interval(0, 1)), ((3, 4),) * 2),
    _domain(
        "hinge_loss",
        _SMOOTH,
        ((3, 4),),
        lambda z: ops.hinge_loss(z, _SIGNS, margin=1.0),
        draw=_margins_away_from_one,
        note=f"margins z·t >= {KINK_GAP:g} from the margin",
    ),
]

DOMAINS: dict[str, OpDomain] = {domain.name: domain for domain in _TABLE}
assert len(DOMAINS) == len(_TABLE), "two domains share a name"
