"""RMSprop: divide the gradient by a running root mean square of recent gradients."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from .optimizer import (
    Optimizer,
    check_flag,
    check_setting,
    flush_tiny,
    gradient_with_decay,
    work_buffer,
)


class RMSprop(Optimizer):
    r"""RMSprop (Hinton, lecture 6e, 2012), as in PyTorch:

    g ← g + weight_decay · w
    v ← alpha · v + (1 - alpha) · g²
    centred:  m ← alpha · m + (1 - alpha) · g ;  d = sqrt(v - m²) + eps
    else:     d = sqrt(v) + eps
    momentum > 0:  b ← momentum · b + g / d ;  w ← w - lr · b
    else:          w ← w - lr · g / d

    Parameters
    ----------
    params
        ``model.parameters()`` or a list of param-group dicts (see ``Optimizer``).
    lr, eps, weight_decay, momentum
        Each >= 0, as PyTorch requires.
    alpha
        Smoothing constant, in [0, 1] (PyTorch only asks alpha >= 0, but 1 - alpha < 0 would
        make v negative).
    centered
        True or False.

    Notes
    -----
    Every number must be a finite int, float or NumPy real scalar (not a bool or a string):
    TypeError for the wrong type, ValueError outside the range.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        alpha: float = 0.99,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        momentum: float = 0.0,
        centered: bool = False,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr,
                alpha=alpha,
                eps=eps,
                weight_decay=weight_decay,
                momentum=momentum,
                centered=centered,
            ),
        )

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        owner = type(self).__name__
        group["alpha"] = check_setting(owner, "alpha", group["alpha"], at_least=0, at_most=1)
        group["eps"] = check_setting(owner, "eps", group["eps"], at_least=0)
        group["momentum"] = check_setting(owner, "momentum", group["momentum"], at_least=0)
        group["centered"] = check_flag(owner, "centered", group["centered"])

    def step(self) -> None:
        """Update every parameter that has a gradient, in place."""
        for group, p, state in self._each():
            alpha = group["alpha"]
            if "square_avg" not in state:
                state["step"] = 0
                state["square_avg"] = np.zeros_like(p.data)
                if group["centered"]:
                    state["grad_avg"] = np.zeros_like(p.data)
                if group["momentum"]:
                    state["momentum_buffer"] = np.zeros_like(p.data)
            state["step"] += 1
            g = gradient_with_decay(p, group["weight_decay"], state)
            square_avg, scratch = state["square_avg"], work_buffer(state, "_scratch", p)
            square_avg *= alpha
            np.multiply(g, g, out=scratch)
            scratch *= 1 - alpha
            square_avg += scratch
            flush_tiny(
                state["step"],
                square_avg,
                *[state[k] for k in ("grad_avg", "momentum_buffer") if k in state],
            )
            if group["centered"]:
                grad_avg = state["grad_avg"]
                grad_avg *= alpha
                np.multiply(g, 1 - alpha, out=scratch)
                grad_avg += scratch
                np.multiply(grad_avg, grad_avg, out=scratch)
                np.subtract(square_avg, scratch, out=scratch)
                np.sqrt(scratch, out=scratch)
            else:
                np.sqrt(square_avg, out=scratch)
            scratch += group["eps"]
            np.divide(g, scratch, out=scratch)
            if group["momentum"]:
                buffer = state["momentum_buffer"]
                buffer *= group["momentum"]
                buffer += scratch
                np.multiply(buffer, group["lr"], out=scratch)
            else:
                scratch *= group["lr"]
            p.data -= scratch
