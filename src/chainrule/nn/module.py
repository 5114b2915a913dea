"""``Parameter`` and ``Module``: the PyTorch way of defining models, without hidden hooks.

A Module finds its parameters and sub-modules by walking ``vars(self)`` in definition order
(recursing into Modules and into lists and tuples of Modules; a module's own parameters come
before its sub-modules', as in PyTorch), so there is no metaclass and no
``__setattr__`` hook: what you assign is what you get.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..engine.tensor import Tensor


class Parameter(Tensor):
    """A Tensor that a Module trains: it requires grad and is listed by ``parameters()``."""

    __slots__ = ()

    def __init__(self, data: ArrayLike, requires_grad: bool = True) -> None:
        super().__init__(data, dtype=getattr(data, "dtype", None), requires_grad=requires_grad)

    def __repr__(self) -> str:
        return "Parameter(" + super().__repr__()[len("tensor(") :]


class Module:
    """Base class of layers and models: subclass, assign layers and Parameters, write ``forward``.

    Examples
    --------
    >>> import chainrule as cr
    >>> from chainrule import nn
    >>> class TwoLayer(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.hidden = nn.Linear(2, 4)
    ...         self.out = nn.Linear(4, 1)
    ...     def forward(self, x):
    ...         return self.out(self.hidden(x).tanh())
    >>> [name for name, _ in TwoLayer().named_parameters()]
    ['hidden.weight', 'hidden.bias', 'out.weight', 'out.bias']
    """

    training: bool

    def __init__(self) -> None:
        self.training = True

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # --------------------------------------------------------------------- the tree
    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Direct sub-modules with their attribute names (``layers.0`` for list items)."""
        for name, value in vars(self).items():
            if isinstance(value, Module):
                yield name, value
            elif isinstance(value, (list, tuple)):
                for index, item in enumerate(value):
                    if isinstance(item, Module):
                        yield f"{name}.{index}", item

    def children(self) -> Iterator[Module]:
        for _, child in self.named_children():
            yield child

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every module below it, depth first, each once."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            children = list(module.named_children())
            for child_name, child in reversed(children):
                stack.append((f"{name}.{child_name}" if name else child_name, child))

    def modules(self) -> Iterator[Module]:
        for _, module in self.named_modules():
            yield module

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Every Parameter with its dotted name, shared ones once: a module's own parameters
        (in definition order) before those of its sub-modules, as in PyTorch."""
        seen: set[int] = set()
        for module_name, module in self.named_modules(prefix):
            for name, value in vars(module).items():
                candidates: list[tuple[str, Any]] = [(name, value)]
                if isinstance(value, (list, tuple)):
                    candidates = [(f"{name}.{i}", item) for i, item in enumerate(value)]
                for item_name, item in candidates:
                    if isinstance(item, Parameter) and id(item) not in seen:
                        seen.add(id(item))
                        yield (f"{module_name}.{item_name}" if module_name else item_name), item

    def parameters(self) -> Iterator[Parameter]:
        for _, parameter in self.named_parameters():
            yield parameter

    def num_parameters(self) -> int:
        """The number of trainable scalars."""
        return int(sum(p.size for p in self.parameters()))

    # ----------------------------------------------------------------- modes, grads
    def train(self, mode: bool = True) -> Module:
        """Switch this module and all below it to training (or, with False, evaluation) mode."""
        for module in self.modules():
            module.training = mode
        return self

    def eval(self) -> Module:
        """Switch to evaluation mode (dropout off)."""
        return self.train(False)

    def zero_grad(self) -> None:
        """Forget the gradients of all parameters (set them to None)."""
        for parameter in self.parameters():
            parameter.grad = None

    # ------------------------------------------------------------------ state
    def state_dict(self) -> OrderedDict[str, NDArray[Any]]:
        """A copy of every parameter's values, keyed by dotted name."""
        return OrderedDict((name, p.data.copy()) for name, p in self.named_parameters())

    def load_state_dict(self, state: Mapping[str, ArrayLike], strict: bool = True) -> None:
        """Copy values from ``state`` into the parameters, checking names and shapes first.

        Nothing is changed unless every key matches (or, with ``strict=False``, every shared key
        has the right shape).
        """
        own = dict(self.named_parameters())
        missing = [name for name in own if name not in state]
        unexpected = [name for name in state if name not in own]
        mismatched = [
            f"{name}: expected {own[name].shape}, got {np.shape(state[name])}"
            for name in own
            if name in state and np.shape(state[name]) != own[name].shape
        ]
        problems = []
        if strict and missing:
            problems.append("missing keys: " + ", ".join(missing))
        if strict and unexpected:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        if mismatched:
            problems.append("shape mismatch: " + "; ".join(mismatched))
        if problems:
            raise ValueError(f"load_state_dict for {type(self).__name__}: " + " | ".join(problems))
        for name, parameter in own.items():
            if name in state:
                parameter.data[...] = np.asarray(state[name], dtype=parameter.dtype)
                parameter._mark_modified()

    # ------------------------------------------------------------------ display
    def extra_repr(self) -> str:
        """The settings shown between the parentheses of this module's repr."""
        return ""

    def __repr__(self) -> str:
        children = list(self.named_children())
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}("]
        for name, child in children:
            child_text = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child_text}")
        lines.append(f")  # {self.num_parameters():,} parameters")
        return "\n".join(lines)
