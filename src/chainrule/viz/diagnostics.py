"""Gradient flow: which layers learn, which do not, and which ReLU units have died.

A layer whose gradient is a thousand times smaller than the largest layer's barely moves (the
vanishing gradients of deep sigmoid networks); a gradient far above the others, or not finite,
makes steps that overshoot (exploding gradients). A ReLU unit that is zero for every sample of a
batch passes no gradient to its weights, so nothing brings it back to life (a dead unit).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..engine.graph import no_grad
from ..engine.tensor import Tensor, as_tensor
from ..nn.gradients import layer_norms
from ..nn.layers import ReLU, Sequential
from ..nn.module import Module

__all__ = [
    "DeadUnits",
    "Diagnosis",
    "LayerGradient",
    "diagnose",
    "layer_gradient_norms",
    "layer_norms",
]


@dataclass
class LayerGradient:
    """The gradient norm of one layer (all its parameters together)."""

    layer: str
    norm: float
    relative: float
    """The norm divided by the largest layer's norm."""
    status: str
    """"ok", "vanishing" or "exploding"."""


@dataclass
class DeadUnits:
    """The ReLU units of one activation layer that were zero for every sample."""

    layer: str
    units: int
    dead: list[int]

    @property
    def fraction(self) -> float:
        return len(self.dead) / self.units if self.units else 0.0


@dataclass
class Diagnosis:
    """Per-layer gradient norms and dead ReLU units, with the problems found."""

    gradients: list[LayerGradient] = field(default_factory=list)
    dead_units: list[DeadUnits] = field(default_factory=list)
    samples: int = 0

    @property
    def problems(self) -> list[str]:
        """One plain sentence per problem found."""
        found = []
        for entry in self.gradients:
            if entry.status == "vanishing":
                found.append(
                    f"layer {entry.layer}: vanishing gradient (norm {entry.norm:.3g}, "
                    f"{entry.relative:.2g} of the largest layer's)"
                )
            elif entry.status == "exploding":
                found.append(f"layer {entry.layer}: exploding gradient (norm {entry.norm:.3g})")
        for units in self.dead_units:
            if units.dead:
                shown = ", ".join(str(unit) for unit in units.dead[:10])
                more = ", ..." if len(units.dead) > 10 else ""
                found.append(
                    f"layer {units.layer}: {len(units.dead)} of {units.units} ReLU units dead "
                    f"(never active on {self.samples} samples): {shown}{more}"
                )
        return found

    @property
    def healthy(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "gradients": [asdict(entry) for entry in self.gradients],
            "dead_units": [
                {**asdict(entry), "fraction": entry.fraction} for entry in self.dead_units
            ],
            "samples": self.samples,
            "problems": self.problems,
        }

    def __str__(self) -> str:
        lines = ["gradient norm per layer:"]
        width = max((len(entry.layer) for entry in self.gradients), default=5)
        for entry in self.gradients:
            lines.append(
                f"  {entry.layer:<{width}}  {entry.norm:10.3e}  ({entry.relative:8.2e} of the "
                f"largest)  {entry.status}"
            )
        if self.dead_units:
            lines.append(f"dead ReLU units (zero on all {self.samples} samples):")
            for dead in self.dead_units:
                lines.append(f"  {dead.layer:<{width}}  {len(dead.dead)} of {dead.units}")
        lines.append(
            "problems:\n  " + "\n  ".join(self.problems) if self.problems else "no problems found"
        )
        return "\n".join(lines)


def layer_gradient_norms(model: Module, loss_fn: Any, x: Any, y: Any) -> dict[str, float]:
    """The gradient norm of each layer's parameters for one batch, in model order.

    The parameters' ``.grad`` are left as they were before the call.
    """
    parameters = list(model.parameters())
    saved = [p.grad for p in parameters]
    for p in parameters:
        p.grad = None
    try:
        loss_fn(model(x), y).backward()
        return layer_norms(model)
    finally:
        for p, grad in zip(parameters, saved):
            p.grad = grad


def _classify(norms: dict[str, float], vanish: float, explode: float) -> list[LayerGradient]:
    finite = [n for n in norms.values() if math.isfinite(n)]
    largest = max(finite, default=0.0)
    entries = []
    typical = float(np.median(finite)) if finite else 0.0
    for layer, norm in norms.items():
        relative = norm / largest if largest > 0 else 0.0
        if not math.isfinite(norm) or (typical > 0 and norm > explode * typical):
            status = "exploding"
        elif largest > 0 and relative < vanish:
            status = "vanishing"
        else:
            status = "ok"
        entries.append(LayerGradient(layer, norm, relative, status))
    return entries


def _dead_relu_units(model: Module, x: Any) -> list[DeadUnits]:
    """Run ``x`` through a Sequential layer by layer; units of each ReLU output that are zero
    for every sample are dead. Models that are not Sequential are not inspected."""
    if not isinstance(model, Sequential):
        return []
    found = []
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            value: Tensor = as_tensor(x)
            for position, layer in enumerate(model.layers):
                value = layer(value)
                if isinstance(layer, ReLU):
                    active = value.data.reshape(-1, value.shape[-1]) > 0
                    dead = np.flatnonzero(~active.any(axis=0))
                    found.append(DeadUnits(str(position), value.shape[-1], dead.tolist()))
    finally:
        model.train(was_training)
    return found


def diagnose(
    model: Module,
    loss_fn: Any,
    x: Any,
    y: Any,
    *,
    history: Any = None,
    vanish: float = 1e-3,
    explode: float = 1e3,
) -> Diagnosis:
    """Look for vanishing or exploding gradients and dead ReLU units on the batch (x, y).

    A layer's gradient is *vanishing* when its norm is below ``vanish`` times the largest
    layer's, *exploding* when it is not finite or above ``explode`` times the median of all
    layers' norms. With a ``history`` from ``fit`` with a ``GradientNormMonitor``, the norms of
    its last epoch (averaged over the batches) are judged instead of the one batch's. Dead
    units are looked for in the ReLU layers of a ``Sequential`` (as ``nn.mlp`` builds).
    """
    recorded = getattr(history, "grad_norms", None) or {}
    if recorded:
        norms = {layer: values[-1] for layer, values in recorded.items() if values}
    else:
        norms = layer_gradient_norms(model, loss_fn, x, y)
    samples = int(np.prod(np.shape(x.data if isinstance(x, Tensor) else x)[:-1]))
    return Diagnosis(_classify(norms, vanish, explode), _dead_relu_units(model, x), samples)
