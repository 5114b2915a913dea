"""Adam and AdamW: momentum plus per-parameter scaling by the running squared gradient."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

from ..engine.kernels import adam_settings, flat, kernel
from .optimizer import (
    Optimizer,
    check_flag,
    check_setting,
    describe,
    flush_threshold,
    flush_tiny,
    gradient_with_decay,
    work_buffer,
)


class Adam(Optimizer):
    r"""Adam (Kingma & Ba, 2015), as in PyTorch. At step t = 1, 2, ...:

    g ← g + weight_decay · w                     (L2; AdamW decouples it instead)
    m ← β1 · m + (1 - β1) · g
    v ← β2 · v + (1 - β2) · g²
    v̂ = max(v̂, v) if amsgrad else v
    w ← w - lr / (1 - β1^t) · m / (sqrt(v̂) / sqrt(1 - β2^t) + eps)

    Parameters
    ----------
    params
        ``model.parameters()`` or a list of param-group dicts (see ``Optimizer``).
    lr, eps, weight_decay
        Each >= 0, as PyTorch requires.
    betas
        A pair (β1, β2), each in [0, 1).
    amsgrad
        True or False.

    Notes
    -----
    Every number must be a finite int, float or NumPy real scalar (not a bool or a string):
    TypeError for the wrong type, ValueError outside the range.
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
            dict(
                lr=lr,
                # A non-sequence is kept as it is, for _validate to refuse with a clear message.
                betas=tuple(betas) if isinstance(betas, (tuple, list)) else betas,
                eps=eps,
                weight_decay=weight_decay,
                amsgrad=amsgrad,
            ),
        )

    def _validate(self, group: dict[str, Any]) -> None:
        super()._validate(group)
        owner = type(self).__name__
        betas = group["betas"]
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise TypeError(
                f"{owner}: betas must be a pair of real numbers (beta1, beta2), got "
                f"{describe(betas)}"
            )
        group["betas"] = tuple(
            check_setting(owner, f"betas[{position}]", beta, at_least=0, below=1)
            for position, beta in enumerate(betas)
        )
        group["eps"] = check_setting(owner, "eps", group["eps"], at_least=0)
        group["amsgrad"] = check_flag(owner, "amsgrad", group["amsgrad"])

    def step(self) -> None:
        """Update every parameter that has a gradient, in place."""
        index = 0
        for group in self.param_groups:
            # The fused kernel's settings depend only on the step count and dtype: built once
            # for all the parameters of a group that share them (usually all of them).
            settings: dict[tuple[int, np.dtype[Any]], np.ndarray] = {}
            for p in group["params"]:
                state = self.state[index]
                index += 1
                if p.grad is None:
                    continue
                if "exp_avg" not in state:
                    state["step"] = 0
                    state["exp_avg"] = np.zeros_like(p.data)
                    state["exp_avg_sq"] = np.zeros_like(p.data)
                    if group["amsgrad"]:
                        state["max_exp_avg_sq"] = np.zeros_like(p.data)
                state["step"] += 1
                plan = None if group["amsgrad"] else _plan(state, p)
                if plan is None:
                    self._numpy_step(group, p, state)
                else:
                    fused, p_flat, m_flat, v_flat = plan
                    key = (state["step"], p.data.dtype)
                    if key not in settings:
                        settings[key] = self._kernel_settings(group, *key)
                    fused(p_flat, flat(p.grad.data), m_flat, v_flat, settings[key])
                p._mark_modified()

    def _kernel_settings(self, group: dict[str, Any], step: int, dtype: np.dtype[Any]) -> Any:
        beta1, beta2 = group["betas"]
        lr, decay = group["lr"], group["weight_decay"]
        return adam_settings(
            dtype,
            step_size=lr / (1 - beta1**step),
            beta1=beta1,
            beta2=beta2,
            eps=group["eps"],
            inv_sqrt_bias_correction2=1 / math.sqrt(1 - beta2**step),
            weight_decay=0.0 if self._decoupled else decay,
            shrink=1 - lr * decay if self._decoupled else 1.0,
            flush_below=flush_threshold(dtype),
        )

    def _numpy_step(self, group: dict[str, Any], p: Any, state: dict[str, Any]) -> None:
        """The same update in NumPy passes (amsgrad, non-contiguous arrays, no Numba)."""
        beta1, beta2 = group["betas"]
        lr, decay, step = group["lr"], group["weight_decay"], state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        if self._decoupled:
            p.data *= 1 - lr * decay
            g = p.grad.data
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
        scratch /= math.sqrt(1 - beta2**step)
        scratch += group["eps"]
        np.divide(m, scratch, out=scratch)
        scratch *= lr / (1 - beta1**step)
        p.data -= scratch


def _plan(state: dict[str, Any], p: Any) -> tuple[Any, ...] | None:
    """The fused kernel and flat views of a parameter and its moments, kept in the state while
    the parameter's array stays the same, or None when the kernel cannot take the arrays."""
    grad = p.grad.data
    plan = state.get("_plan")
    if plan is None or plan[0] is not p.data:
        m, v = state["exp_avg"], state["exp_avg_sq"]
        fused = kernel("adam", p.data, grad, m, v)
        if fused is None:
            return None
        plan = state["_plan"] = (p.data, fused, flat(p.data), flat(m), flat(v))
    data = plan[0]
    same_layout = grad.flags.c_contiguous if data.flags.c_contiguous else grad.flags.f_contiguous
    if grad.dtype != data.dtype or not same_layout:
        return None
    return plan[1:]


class AdamW(Adam):
    r"""Adam with decoupled weight decay (Loshchilov & Hutter, 2019): before the Adam step,
    w ← w · (1 - lr · weight_decay), instead of adding weight_decay · w to the gradient.

    The settings and their ranges are Adam's (weight_decay >= 0, default 1e-2).
    """

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
