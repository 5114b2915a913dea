"""Adagrad: per-parameter learning rates that shrink with the sum of squared gradients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .optimizer import Optimizer, check_setting, gradient_with_decay, work_buffer


class Adagrad(Optimizer):
    r"""Adagrad (Duchi, Hazan & Singer, 2011), as in PyTorch. At step t = 1, 2, ...:

        g ← g + weight_decay · w
        η_t = lr / (1 + (t - 1) · lr_decay)
        s ← s + g²                                   (s starts at initial_accumulator_value)
        w ← w - η_t · g / (sqrt(s) + eps)

    Parameters that got large gradients slow down; rarely updated ones keep a large step.

    Parameters
    ----------
    params
        ``model.parameters()`` or a list of param-group dicts (see ``Optimizer``).
    lr, lr_decay, weight_decay, initial_accumulator_value, eps
        Each >= 0, as PyTorch requires.

    Notes
    -----
    Every number must be a finite int, float or NumPy real scalar (not a bool or a string):
    TypeError for the wrong type, ValueError outside the range.
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
        for name in ("lr_decay", "initial_accumulator_value", "eps"):
            group[name] = check_setting(type(self).__name__, name, group[name], at_least=0)

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
