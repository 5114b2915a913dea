"""``cr.compile``: a training step traced once per input signature into a plan of buffers.

The eager engine builds a graph of Tensors on every step: a node, a closure and a new array
per operation, then walks the graph backwards. For the networks most people train (a
``Sequential`` of Linear layers and activations, a standard loss) that graph is the same every
step, so the compiler reads the model once, makes one unit per layer with its buffers
(``units``), one for the loss (``losses``), and replays them: forward, loss, backward into the
parameters' ``.grad``, then the optimiser's own ``step()``. The plan is kept per signature
(input and target shape and dtype, train or eval mode, the layers, the parameter arrays), so a
last short batch is one more plan, and a parameter replaced or loaded makes a new one.

Anything without a rule (a custom Module's forward, a loss with label smoothing, a layer the
compiler does not know) runs eagerly, and the step says why once (``CompileWarning``): never a
wrong result. The optimiser is the eager one, so its state and schedules are the same objects.
"""

from __future__ import annotations

import operator
import time
import warnings
from collections.abc import Callable, Iterator
from itertools import repeat
from typing import Any

import numpy as np

from ..engine.tensor import Tensor
from ..nn import layers
from ..nn.module import Module
from ..optim.optimizer import Optimizer
from .dense import densify
from .losses import LossUnit, loss_unit_for
from .units import InvalidBatch, LinearUnit, TanhUnit, Unit, Unsupported, unit_for
from .updates import Updates

__all__ = ["CompileWarning", "CompiledStep", "compile"]

MAX_PLANS = 8


class CompileWarning(UserWarning):
    """A step that runs eagerly because the compiler has no rule for part of it."""


def compile(  # noqa: A001 - the name users know from torch.compile
    model: Module, loss_fn: Any, optimizer: Optimizer, *, warn: bool = True
) -> CompiledStep:
    """A training step for ``model``, ``loss_fn`` and ``optimizer``: ``step(x, y)`` does the
    forward pass, the loss, the backward pass and the optimiser's update, as the eager loop

        optimizer.zero_grad(); loss = loss_fn(model(x), y); loss.backward(); optimizer.step()

    does, and returns the loss as a float. Compiled for ``Sequential`` models of Linear, Tanh,
    ReLU, Sigmoid, LeakyReLU, Identity and Dropout layers with CrossEntropyLoss,
    BCEWithLogitsLoss, MSELoss or HingeLoss (mean or sum); anything else runs eagerly with a
    ``CompileWarning`` saying why (``warn=False``: silently; ``step.reason`` still says)."""
    return CompiledStep(model, loss_fn, optimizer, warn=warn)


class Plan:
    """The units of one signature, their buffers, and the parameters they read."""

    def __init__(
        self,
        model: Module,
        loss_fn: Any,
        x_shape: tuple[int, ...],
        target: np.ndarray,
    ) -> None:
        self.parameters = list(model.parameters())
        if not self.parameters:
            raise Unsupported("the model has no parameters")
        dtype = self.parameters[0].data.dtype
        if dtype.kind != "f":
            raise Unsupported(f"parameters of dtype {dtype}")
        self.dtype = dtype
        self.training = model.training
        self.units: list[Unit] = []
        # What the plan was read from, to see it change: every Sequential's list of layers,
        # the settings a unit copied (dropout's p, a slope, the loss's reduction), the
        # objects it holds (a layer's Parameters).
        self.sequentials: list[tuple[Any, list[Any], bool]] = []
        self.same_objects: list[tuple[Any, str, Any]] = []
        self.same_values: list[tuple[Any, str, Any]] = []
        shape = x_shape
        for module, following in _chain(model, self.sequentials):
            unit = unit_for(module, following, shape, dtype)
            self.units.append(unit)
            shape = _output_shape(unit, shape)
            for name in ("weight", "bias"):
                if hasattr(module, name):
                    self.same_objects.append((module, name, getattr(module, name)))
            for name in ("p", "negative_slope", "training"):
                if hasattr(module, name):
                    self.same_values.append((module, name, getattr(module, name)))
        # Small layers as compiled loops of their own instead of BLAS calls (``dense``).
        if len(x_shape) == 2:
            self.units = densify(self.units, x_shape[0])
        _share_bias_sums(self.units)
        self.loss_fn = loss_fn
        # A loss that wraps a standard one (scikit-learn's penalised objective) says how:
        # scale · base(outputs, targets) + penalty(batch size), the penalty's gradient left
        # to the optimiser.
        base, self.scale, self.penalty = loss_fn, 1.0, None
        parts = getattr(loss_fn, "compile_parts", None)
        if parts is not None:
            base, self.scale, self.penalty = parts()
            self.same_values.append((loss_fn, "scale", self.scale))
        for name in ("reduction", "label_smoothing", "margin"):
            if hasattr(base, name):
                self.same_values.append((base, name, getattr(base, name)))
        self.loss_unit: LossUnit = loss_unit_for(base, shape, target, dtype, self.scale)
        self.input_buffer = np.empty(x_shape, dtype)
        owned = [p for unit in self.units for p in unit.parameters]
        if {id(p) for p in owned} != {id(p) for p in self.parameters} or len(owned) != len(
            self.parameters
        ):
            raise Unsupported("a parameter the layers do not use, or one used twice")
        self.datas = [p.data for p in self.parameters]
        self.trainable = [p.requires_grad for p in self.parameters]
        first = [
            i for i, unit in enumerate(self.units) if any(p.requires_grad for p in unit.parameters)
        ]
        start = first[0] if first else len(self.units)
        # Backward from the top down to the lowest layer with a trainable parameter; only the
        # layers above it pass a gradient on.
        self.backward_order = [
            (self.units[i], i > start) for i in range(len(self.units) - 1, start - 1, -1)
        ]
        self.grads: list[tuple[Any, Tensor]] = []
        for unit in self.units:
            for p, grad in zip(unit.parameters, unit.gradients()):
                if p.requires_grad and grad is not None:
                    self.grads.append((p, Tensor._wrap(grad)))
        # The optimiser's update as one loop over the parameters, where it has one (``updates``)
        self.updates = Updates(self.parameters, {id(p): tensor for p, tensor in self.grads})
        self.grad_owners = [p for p, _ in self.grads]
        # What valid() compares, as columns it can map over
        self.object_checks = _columns(self.same_objects)
        self.value_checks = _columns(self.same_values)

    def valid(self, model: Module, loss_fn: Any) -> bool:
        """Nothing the plan was read from has changed: the layers, their settings and
        Parameters, the parameters' arrays and whether they train, the loss."""
        if model.training is not self.training or loss_fn is not self.loss_fn:
            return False
        params, is_ = self.parameters, operator.is_
        if not all(map(is_, map(_DATA, params), self.datas)):
            return False
        if not all(map(is_, map(_TRAINS, params), self.trainable)):
            return False
        for sequential, modules, fuse in self.sequentials:
            current = sequential.layers
            if sequential.fuse is not fuse or len(current) != len(modules):
                return False
            if not all(map(is_, current, modules)):
                return False
        owners, names, values = self.object_checks
        if not all(map(is_, map(getattr, owners, names), values)):
            return False
        owners, names, values = self.value_checks
        return all(map(operator.eq, map(getattr, owners, names), values))

    def run(
        self, x: np.ndarray, t: np.ndarray, guard: Callable[[float], None] | None
    ) -> tuple[float, np.ndarray]:
        """Forward, loss (seen by ``guard`` before anything is differentiated) and backward
        into the parameters' ``.grad``, added to what is there as backward() does. Returns
        the loss and the outputs (the plan's buffer: read it before the next call)."""
        self.loss_unit.check(t)
        if x.dtype != self.dtype:
            self.input_buffer[...] = x
            x = self.input_buffer
        value = x
        for unit in self.units:
            value = unit.forward(value)
        loss = self.loss_unit.forward(value, t)
        if self.penalty is not None:
            loss = float(self.dtype.type(loss) * self.dtype.type(self.scale))
            loss += self.penalty(len(t))
        if guard is not None:
            guard(loss)
        held = []
        if not all(map(operator.is_, map(_GRAD, self.grad_owners), repeat(None))):
            held = [(p, p.grad, p.grad.data.copy()) for p in self.grad_owners if p.grad is not None]
        g: Any = self.loss_unit.backward()
        for unit, needs_input in self.backward_order:
            g = unit.backward(g, needs_input)
        for p, tensor in self.grads:
            p.grad = tensor
        for p, before, values in held:
            if before is p.grad:  # our own buffer from an earlier step: add what it held
                p.grad.data += values
            else:
                before.data += p.grad.data
                p.grad = before
        return loss, value


_DATA = operator.attrgetter("data")
_TRAINS = operator.attrgetter("requires_grad")
_GRAD = operator.attrgetter("grad")


def _columns(rows: list[tuple[Any, str, Any]]) -> Any:
    """(owners, names, values) from a list of (owner, name, value)."""
    return tuple(map(list, zip(*rows))) if rows else ([], [], [])


def _share_bias_sums(units: list[Unit]) -> None:
    """A Tanh right above a Linear sums δ into the Linear's bias gradient as it computes δ:
    one pass less."""
    for below, above in zip(units, units[1:]):
        if (
            isinstance(below, LinearUnit)
            and not below.relu  # a fused ReLU's δ is masked after the Tanh's gradient
            and isinstance(above, TanhUnit)
            and below.sum_bias
        ):
            above.sums = below.grad_bias
            below.sum_bias = False


def _chain(
    model: Module, seen: list[tuple[Any, list[Any], bool]]
) -> Iterator[tuple[Module, Module | None]]:
    """The layers of a Sequential in order (nested ones opened, each noted in ``seen``), each
    with the layer after it in the same Sequential when that Sequential fuses Linear + ReLU;
    the fused ReLU is skipped. A model that is one layer is a chain of one."""
    if type(model) is not layers.Sequential:
        yield model, None
        return
    if not layers._runs_own_forward(model, layers.Sequential):
        raise Unsupported("a Sequential whose forward is replaced")
    seen.append((model, list(model.layers), model.fuse))
    modules = model.layers
    position = 0
    while position < len(modules):
        module = modules[position]
        if type(module) is layers.Sequential:
            yield from _chain(module, seen)
            position += 1
            continue
        following = modules[position + 1] if model.fuse and position + 1 < len(modules) else None
        yield module, following
        fused = (
            following is not None
            and type(module) is layers.Linear
            and module.bias is not None
            and layers._runs_own_forward(module, layers.Linear)
            and layers._runs_own_forward(following, layers.ReLU)
        )
        position += 2 if fused else 1


def _output_shape(unit: Unit, shape: tuple[int, ...]) -> tuple[int, ...]:
    out = getattr(unit, "out", None)
    return tuple(out.shape) if out is not None else shape


class CompiledStep:
    """A training step compiled per input signature; see ``compile``."""

    def __init__(
        self, model: Module, loss_fn: Any, optimizer: Optimizer | None, *, warn: bool = True
    ) -> None:
        self.model = model
        self.warn = warn
        self.loss_fn = loss_fn
        self.optimizer = optimizer
        self.reason = ""
        self.compile_seconds = 0.0
        self._plans: dict[tuple[Any, ...], Plan | str] = {}
        self._warned: set[str] = set()
        self._last: tuple[Any, ...] = ()

    def __call__(self, x: Any, y: Any) -> float:
        """One step: forward, loss, backward and the optimiser's update; returns the loss."""
        optimizer = self.optimizer
        if optimizer is None:
            raise TypeError("this compiled step has no optimizer: use forward_backward")
        optimizer.zero_grad()
        loss, _ = self._forward_backward(x, y, None)
        self.update()
        return loss

    def update(self) -> None:
        """The optimiser's update after ``forward_backward``: plain SGD as one fused loop over
        the last plan's parameters, any other optimiser (or an eager batch) by its own step."""
        optimizer = self.optimizer
        assert optimizer is not None, "this compiled step has no optimizer"
        last = self._last
        if not (last and not self.reason and last[0].updates.step(optimizer)):
            optimizer.step()

    @property
    def compiled(self) -> bool:
        """Whether the last call ran a compiled plan (False: it ran eagerly, see ``reason``)."""
        return not self.reason

    def forward_backward(
        self, x: Any, y: Any, guard: Callable[[float], None] | None = None
    ) -> tuple[float, np.ndarray]:
        """The loss of one batch and the model's outputs, with the gradients in the
        parameters' ``.grad`` (added to what is there): what ``loss_fn(model(x), y).backward()``
        leaves, compiled when the compiler has the rules. ``guard`` sees the loss before the
        backward pass."""
        loss, outputs = self._forward_backward(x, y, guard)
        return loss, outputs.copy()

    def _forward_backward(
        self, x: Any, y: Any, guard: Callable[[float], None] | None
    ) -> tuple[float, np.ndarray]:
        plan, inputs, targets = self._find(x, y)
        if plan is None:
            return self._eager(self.reason, x, y, guard)
        try:
            return plan.run(inputs, targets, guard)
        except InvalidBatch as why:
            self._last = ()
            return self._eager(str(why), x, y, guard, warn=False)
        except Unsupported as why:
            self._last = ()
            return self._eager(str(why), x, y, guard)

    def _find(self, x: Any, y: Any) -> tuple[Plan | None, np.ndarray, np.ndarray]:
        """The plan for this batch's signature (made if new), and the batch as arrays; no plan
        (and ``reason`` set) when the step must run eagerly."""
        inputs = x.data if isinstance(x, Tensor) else np.asarray(x)
        targets = y.data if isinstance(y, Tensor) else np.asarray(y)
        model, loss_fn = self.model, self.loss_fn
        last = self._last
        if (
            last
            and last[1] == inputs.shape
            and last[2] == targets.shape
            and last[3] is inputs.dtype
            and last[4] is targets.dtype
            and last[0].valid(model, loss_fn)
        ):
            plan: Plan | str | None = last[0]
        else:
            key = (inputs.shape, inputs.dtype, targets.shape, targets.dtype, model.training)
            plan = self._plans.get(key)
            if isinstance(plan, Plan) and not plan.valid(model, loss_fn):
                plan = None
            if plan is None:
                plan = self._plan(key, inputs, targets)  # a refusal is kept: eager stays right
            if isinstance(plan, str):
                self._last = ()
                self.reason = plan
                return None, inputs, targets
            self._last = (plan, inputs.shape, targets.shape, inputs.dtype, targets.dtype)
        self.reason = ""
        assert isinstance(plan, Plan)
        if targets.dtype.kind == "f" and targets.dtype != plan.dtype:
            targets = targets.astype(plan.dtype)
        return plan, inputs, targets

    def _plan(self, key: tuple[Any, ...], inputs: np.ndarray, targets: np.ndarray) -> Plan | str:
        started = time.perf_counter()
        try:
            plan: Plan | str = Plan(self.model, self.loss_fn, inputs.shape, targets)
        except Unsupported as why:
            plan = str(why)
        self.compile_seconds = time.perf_counter() - started
        if len(self._plans) >= MAX_PLANS:
            self._plans.pop(next(iter(self._plans)))
        self._plans[key] = plan
        return plan

    def _eager(
        self,
        reason: str,
        x: Any,
        y: Any,
        guard: Callable[[float], None] | None,
        warn: bool = True,
    ) -> tuple[float, np.ndarray]:
        self.reason = reason
        outputs = self.model(x)
        loss = self.loss_fn(outputs, y)
        value = float(loss)
        if guard is not None:
            guard(value)
        loss.backward()
        # Said only once the eager step worked: a batch the model refuses (a wrong shape) gets
        # its own error alone, not a warning about the compiler first.
        if warn and self.warn and reason not in self._warned:
            self._warned.add(reason)
            warnings.warn(
                f"cr.compile: {reason}; this step runs eagerly", CompileWarning, stacklevel=4
            )
        return value, np.asarray(outputs.data)
