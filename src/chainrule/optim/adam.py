"""Adam and AdamW: momentum plus per-parameter scaling by the running squared gradient."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from ._kernels import adam_settings, flat, kernel
from .optimizer import (
    Optimizer,
    flush_threshold,
    flush_tiny,
    gradient_with_decay,
    work_buffer,
)


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015), as in PyTorch. At step t = 1, 2, ...::

    g ← g + weight_decay · w                     (L2; AdamW decouples it instead)
    m ← β1 · m + (1 - β1) · g
    v ← β2 · v + (1 - β2) · g²
    v̂ = max(v̂, v) if amsgrad else v
    w ← w - lr / (1 - β1^t) · m / (sqrt(v̂) / sqrt(1 - β2^t) + eps)
    """

    _decoupled = False

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(
            params,
            dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad),
        )

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        beta1, beta2 = group["betas"]
        if not (0 <= beta1 < 1 and 0 <= beta2 < 1):
            raise ValueError(
                f"{type(self).__name__}: betas must be in [0, 1), got {group['betas']}"
            )
        if group["eps"] < 0:
            raise ValueError(f"{type(self).__name__}: invalid eps {group['eps']}")

    def step(self) -> None:
        """Update every parameter that has a gradient, in place."""
        for group, p, state in self._each():
            beta1, beta2 = group["betas"]
            lr = group["lr"]
            if "exp_avg" not in state:
                state["step"] = 0
                state["exp_avg"] = np.zeros_like(p.data)
                state["exp_avg_sq"] = np.zeros_like(p.data)
                if group["amsgrad"]:
                    state["max_exp_avg_sq"] = np.zeros_like(p.data)
            state["step"] += 1
            step = state["step"]
            bias_correction1 = 1 - beta1**step
            bias_correction2 = 1 - beta2**step
            m, v = state["exp_avg"], state["exp_avg_sq"]
            decay = group["weight_decay"]
            fused = None if group["amsgrad"] else kernel("adam", p.data, p.grad.data, m, v)  # type: ignore[union-attr]
            if fused is not None:
                settings = adam_settings(
                    p.data.dtype,
                    step_size=lr / bias_correction1,
                    beta1=beta1,
                    beta2=beta2,
                    eps=group["eps"],
                    inv_sqrt_bias_correction2=1 / math.sqrt(bias_correction2),
                    weight_decay=0.0 if self._decoupled else decay,
                    shrink=1 - lr * decay if self._decoupled else 1.0,
                    flush_below=flush_threshold(p.data.dtype),
                )
                fused(flat(p.data), flat(p.grad.data), flat(m), flat(v), settings)  # type: ignore[union-attr]
                continue
            if self._decoupled:
                p.data *= 1 - lr * decay
                g = p.grad.data  # type: ignore[union-attr]
            else:
                g = gradient_with_decay(p, decay, state)
            scratch = work_buffer(state, "_scratch", p)
            m *= beta1
            np.multiply(g, 1 - beta1, out=scratch)
            m += scratch
            v *= beta2
            np.multiply(g, g, out=scratch)
            scratch *= 1 - beta2
            v += scratch
            flush_tiny(step, m, v)
            if group["amsgrad"]:
                np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
                v = state["max_exp_avg_sq"]
            np.sqrt(v, out=scratch)
            scratch /= math.sqrt(bias_correction2)
            scratch += group["eps"]
            np.divide(m, scratch, out=scratch)
            scratch *= lr / bias_correction1
            p.data -= scratch


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter, 2019): before the Adam step,
    w ← w · (1 - lr · weight_decay), instead of adding weight_decay · w to the gradient."""

    _decoupled = True

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad)
