"""Stochastic gradient descent with momentum, Nesterov momentum and weight decay."""

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


class SGD(Optimizer):
    r"""Gradient descent: with a full batch, a minibatch or one sample per step.

    Settings after ``momentum`` are keyword-only (PyTorch's and this API's positional orders
    differ, so a positional call could silently mean something else).

    For each parameter w with gradient g, as in PyTorch:

        g ← g + weight_decay · w
        b ← momentum · b + (1 - dampening) · g      (b = g on the first step)
        d ← g + momentum · b  if nesterov  else  b   (d = g without momentum)
        w ← w - lr · d

    With a constant learning rate η and no dampening this is the lecture form of momentum,
    Δw(n) = -η g(n) + α Δw(n-1): since Δw(n) = -η b(n), multiplying b(n) = α b(n-1) + g(n) by -η
    gives exactly that recursion.

    Parameters
    ----------
    params
        ``model.parameters()`` or a list of param-group dicts (see ``Optimizer``).
    lr
        Learning rate, lr >= 0.
    momentum
        Momentum factor μ >= 0 (as PyTorch, no upper bound; μ >= 1 diverges).
    nesterov
        True or False; Nesterov momentum needs momentum > 0 and dampening = 0.
    weight_decay
        L2 penalty, >= 0.
    dampening
        Dampening τ of the momentum, in [0, 1).

    Notes
    -----
    Every number must be a finite int, float or NumPy real scalar (not a bool or a string):
    TypeError for the wrong type, ValueError outside the range.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        momentum: float = 0.0,
        *,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        dampening: float = 0.0,
    ) -> None:
        super().__init__(
            params,
            dict(
                lr=lr,
                momentum=momentum,
                dampening=dampening,
                weight_decay=weight_decay,
                nesterov=nesterov,
            ),
        )

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        owner = type(self).__name__
        group["momentum"] = check_setting(owner, "momentum", group["momentum"], at_least=0)
        group["dampening"] = check_setting(
            owner, "dampening", group["dampening"], at_least=0, below=1
        )
        group["nesterov"] = check_flag(owner, "nesterov", group["nesterov"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"{owner}: Nesterov momentum needs momentum > 0 and zero dampening, got "
                f"momentum={group['momentum']}, dampening={group['dampening']}"
            )

    def step(self) -> None:
        """Update every parameter that has a gradient, in place."""
        index = 0
        for group in self.param_groups:
            plain = not group["momentum"] and not group["weight_decay"]
            lr = group["lr"]
            for p in group["params"]:
                state = self.state[index]
                index += 1
                if p.grad is None:
                    continue
                if plain:
                    # w ← w - lr·g, the common full-batch and minibatch case, in two passes
                    scratch = work_buffer(state, "_scratch", p)
                    np.multiply(p.grad.data, lr, out=scratch)
                    p.data -= scratch
                else:
                    self._momentum_step(group, p, state)
                p._mark_modified()

    def _momentum_step(self, group: dict[str, Any], p: Any, state: dict[str, Any]) -> None:
        lr, momentum = group["lr"], group["momentum"]
        scratch = work_buffer(state, "_scratch", p)
        g = gradient_with_decay(p, group["weight_decay"], state)
        if momentum:
            buffer = state.get("momentum_buffer")
            if buffer is None:
                state["momentum_buffer"] = buffer = g.copy()
            else:
                state["step"] = state.get("step", 0) + 1
                flush_tiny(state["step"], buffer)
                buffer *= momentum
                if group["dampening"]:
                    np.multiply(g, 1 - group["dampening"], out=scratch)
                    buffer += scratch
                else:
                    buffer += g
            if group["nesterov"]:
                np.multiply(buffer, momentum, out=scratch)
                scratch += g
                g = scratch
            else:
                g = buffer
        np.multiply(g, lr, out=scratch)
        p.data -= scratch
