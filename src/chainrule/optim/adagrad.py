"""Adagrad: per-parameter learning rates that shrink with the sum of squared gradients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .optimizer import Optimizer, gradient_with_decay, work_buffer


class Adagrad(Optimizer):
    r"""Adagrad (Duchi, Hazan & Singer, 2011), as in PyTorch. At step t = 1, 2, ...::

        g ← g + weight_decay · w
        η_t = lr / (1 + (t - 1) · lr_decay)
        s ← s + g²                                   (s starts at initial_accumulator_value)
        w ← w - η_t · g / (sqrt(s) + eps)

    Parameters that got large gradients slow down; rarely updated ones keep a large step.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        lr_decay: float = 0.0,
        weight_decay: float = 0.0,
        initial_accumulator_value: float = 0.0,
        eps: float = 1e-10,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr,
                lr_decay=lr_decay,
                weight_decay=weight_decay,
                initial_accumulator_value=initial_accumulator_value,
                eps=eps,
            ),
        )

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        if group["lr_decay"] < 0 or group["initial_accumulator_value"] < 0 or group["eps"] < 0:
            raise ValueError(
                "Adagrad: lr_decay, initial_accumulator_value and eps must be non-negative"
            )

    def step(self) -> None:
        """Update every parameter that has a gradient, in place."""
        for group, p, state in self._each():
            if "sum" not in state:
                state["step"] = 0
                state["sum"] = np.full_like(p.data, group["initial_accumulator_value"])
            state["step"] += 1
            g = gradient_with_decay(p, group["weight_decay"], state)
            total, scratch = state["sum"], work_buffer(state, "_scratch", p)
            np.multiply(g, g, out=scratch)
            total += scratch
            step_size = group["lr"] / (1 + (state["step"] - 1) * group["lr_decay"])
            np.sqrt(total, out=scratch)
            scratch += group["eps"]
            np.divide(g, scratch, out=scratch)
            scratch *= step_size
            p.data -= scratch
