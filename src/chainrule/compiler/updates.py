"""The optimiser updates a plan runs itself: plain SGD, and Adam or AdamW, as one compiled
loop over all the plan's parameters instead of the optimiser's pass per parameter.

On the networks of the demos the optimiser was most of a compiled step: Adam's NumPy update
(what short runs use, see ``engine.kernels.small_run``) took about 11 µs per parameter, 45 µs
of XOR's 60 µs step. Here the update is one loop over every parameter, with the element
formula of the engine's ``adam`` kernel compiled without fast-math (the kernel lets LLVM fuse
multiply-adds), so it equals eager Adam to float32 rounding; and its NumPy twin does the same
operations in the same order while the loop is not compiled, so a run does not depend on
when Numba loaded.

The optimiser's objects keep their meaning: its ``lr``, betas and schedules are read at every
step, its state (``step``, ``exp_avg``, ``exp_avg_sq``) is updated in place, so
``state_dict``, a switch back to eager, or a parameter frozen later see what they would have.
The first Adam step, which creates that state, is always the optimiser's own.
"""

from __future__ import annotations

import math
import operator
from typing import Any

import numpy as np

from ..engine.kernels import adam_settings, flat
from ..engine.tensor import Tensor
from ..optim.adam import Adam, AdamW
from ..optim.optimizer import Optimizer, flush_threshold
from ..optim.sgd import SGD
from . import fused

__all__ = ["Updates"]

_GRAD = operator.attrgetter("grad")
_STEP = operator.itemgetter("step")
_EXP_AVG = operator.itemgetter("exp_avg")
_EXP_AVG_SQ = operator.itemgetter("exp_avg_sq")


class Updates:
    """The fused updates of one plan: its trainable parameters in model order, 1-D views of
    them and of the plan's gradient buffers (pairing the same elements)."""

    def __init__(self, parameters: list[Any], grads: dict[int, Tensor]) -> None:
        self.order = [p for p in parameters if id(p) in grads]
        if len(self.order) != len(parameters):
            self.order = []  # a frozen parameter: the optimiser's own step, which skips it
        if not all(
            _contiguous(p.data) and _same_layout(grads[id(p)].data, p.data) for p in self.order
        ):
            self.order = []  # a strided view, or a gradient laid out otherwise: no flat pairing
        self.grads = [grads[id(p)] for p in self.order]
        self.flat_params = tuple(flat(p.data) for p in self.order)
        self.flat_grads = tuple(flat(tensor.data) for tensor in self.grads)
        self.dtype = self.order[0].data.dtype if self.order else np.dtype(np.float32)
        self.lr: Any = None
        self.lr_array = np.zeros(1, self.dtype)
        # Adam's moments as flat views, for the state arrays they were made from
        self.moments: tuple[list[Any], tuple[np.ndarray, ...], tuple[np.ndarray, ...]] | None = None

    def step(self, optimizer: Optimizer) -> bool:
        """The optimiser's update done here, or False (nothing done) when it must step itself:
        another optimiser or settings, parameters or gradients that are not the plan's."""
        if not self.order or len(optimizer.param_groups) != 1:
            return False
        group = optimizer.param_groups[0]
        params = group["params"]
        if len(params) != len(self.order) or not all(map(operator.is_, params, self.order)):
            return False
        if not all(map(operator.is_, map(_GRAD, self.order), self.grads)):
            return False  # a gradient replaced since the backward pass: the optimiser reads it
        kind = type(optimizer)
        if kind is SGD:
            done = self._sgd(group)
        elif kind is Adam or kind is AdamW:
            done = self._adam(optimizer, group)
        else:
            return False
        if done:
            for p in self.order:
                p._mark_modified()
        return done

    def _sgd(self, group: dict[str, Any]) -> bool:
        """w ← w - lr·g, rounded as SGD.step rounds it; plain SGD only (no momentum, no
        weight decay), and only once its loop is compiled (SGD.step is its twin)."""
        if group["momentum"] or group["weight_decay"]:
            return False
        lr = group["lr"]
        if lr != self.lr or type(lr) is not type(self.lr):
            self.lr, self.lr_array = lr, np.array([lr], dtype=self.dtype)
        return fused.sgd(self.flat_params, self.flat_grads, self.lr_array)

    def _adam(self, optimizer: Any, group: dict[str, Any]) -> bool:
        if group["amsgrad"]:
            return False
        states = optimizer.state[: len(self.order)]
        moments = self._moments(states)
        if moments is None:
            return False
        steps = set(map(_STEP, states))
        if len(steps) != 1:
            return False  # parameters stepped apart: the optimiser keeps their counts
        step = steps.pop() + 1
        beta1, beta2 = group["betas"]
        lr, decay = group["lr"], group["weight_decay"]
        decoupled = type(optimizer) is AdamW
        settings = adam_settings(
            self.dtype,
            step_size=lr / (1 - beta1**step),
            beta1=beta1,
            beta2=beta2,
            eps=group["eps"],
            inv_sqrt_bias_correction2=1 / math.sqrt(1 - beta2**step),
            weight_decay=0.0 if decoupled else decay,
            shrink=1 - lr * decay if decoupled else 1.0,
            flush_below=flush_threshold(self.dtype),
        )
        for state in states:
            state["step"] = step
        fused.adam(self.flat_params, self.flat_grads, moments[0], moments[1], settings)
        return True

    def _moments(
        self, states: list[dict[str, Any]]
    ) -> tuple[tuple[np.ndarray, ...], tuple[np.ndarray, ...]] | None:
        """Flat views of every parameter's exp_avg and exp_avg_sq, or None before the first
        step (no state yet) or when a moment is not laid out as its parameter."""
        try:
            arrays = list(map(_EXP_AVG, states)) + list(map(_EXP_AVG_SQ, states))
        except KeyError:
            return None
        cached = self.moments
        if cached is not None and all(map(operator.is_, arrays, cached[0])):
            return cached[1], cached[2]
        for p, state in zip(self.order, states):
            for moment in (state["exp_avg"], state["exp_avg_sq"]):
                if not _same_layout(moment, p.data):
                    return None
        m = tuple(flat(state["exp_avg"]) for state in states)
        v = tuple(flat(state["exp_avg_sq"]) for state in states)
        self.moments = (arrays, m, v)
        return m, v


def _contiguous(array: np.ndarray) -> bool:
    return bool(array.flags.c_contiguous or array.flags.f_contiguous)


def _same_layout(array: np.ndarray, like: np.ndarray) -> bool:
    if array.shape != like.shape or array.dtype != like.dtype:
        return False
    if like.flags.c_contiguous:
        return bool(array.flags.c_contiguous)
    return bool(like.flags.f_contiguous and array.flags.f_contiguous)
