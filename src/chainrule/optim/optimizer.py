"""The base of all optimisers: parameter groups, validated settings, per-parameter state.

Optimisers update ``p.data`` in place, outside the graph, reusing state arrays allocated on the
first step, because a step runs thousands of times per epoch.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..tensor import Tensor


class Optimizer:
    """Holds ``param_groups`` (dicts with 'params' and hyper-parameters, as in PyTorch) and a
    ``state`` dict per parameter, in a list indexed like the flattened parameters."""

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        items = list(params)
        if not items:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        groups = items if isinstance(items[0], dict) else [{"params": items}]
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add parameters with their own settings (missing ones take the defaults)."""
        params = (
            list(group["params"]) if not isinstance(group["params"], Tensor) else [group["params"]]
        )
        for position, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(
                    f"{type(self).__name__}: parameter {position} is a {type(p).__name__}, "
                    "not a Tensor"
                )
            if not p.requires_grad:
                raise ValueError(
                    f"{type(self).__name__}: parameter {position} of shape {p.shape} does not "
                    "require grad"
                )
        existing = {id(p) for p in self.params}
        if any(id(p) in existing for p in params):
            raise ValueError(f"{type(self).__name__}: a parameter appears in two groups")
        if len({id(p) for p in params}) != len(params):
            raise ValueError(
                f"{type(self).__name__}: a parameter appears twice in the list; it would be "
                "updated twice per step"
            )
        filled = {**self.defaults, **group, "params": params}
        self._validate(filled)
        self.param_groups.append(filled)
        self.state: list[dict[str, Any]] = getattr(self, "state", []) + [{} for _ in params]

    def _validate(self, group: dict[str, Any]) -> None:
        """Raise ValueError for settings out of range (each optimiser adds its own checks)."""
        if not group["lr"] >= 0:
            raise ValueError(f"{type(self).__name__}: invalid learning rate {group['lr']}")
        if not group.get("weight_decay", 0.0) >= 0:
            raise ValueError(f"{type(self).__name__}: invalid weight_decay {group['weight_decay']}")

    @property
    def params(self) -> list[Tensor]:
        return [p for group in self.param_groups for p in group["params"]]

    def _each(self) -> Iterable[tuple[dict[str, Any], Tensor, dict[str, Any]]]:
        """(group, parameter, state) for every parameter that has a gradient; each parameter's
        version is bumped once the caller has updated it in place."""
        index = 0
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    yield group, p, self.state[index]
                    p._mark_modified()
                index += 1

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget all gradients (set to None, or fill with zeros)."""
        for p in self.params:
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.data[...] = 0

    def step(self) -> None:
        raise NotImplementedError

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        """Settings and state as plain data: state arrays are copied; params by position."""
        groups = []
        start = 0
        for group in self.param_groups:
            settings = {k: v for k, v in group.items() if k != "params"}
            settings["params"] = list(range(start, start + len(group["params"])))
            start += len(group["params"])
            groups.append(settings)
        # Keys starting with "_" are scratch buffers, not state worth saving.
        state = {
            index: {
                k: v.copy() if isinstance(v, np.ndarray) else v
                for k, v in entry.items()
                if not k.startswith("_")
            }
            for index, entry in enumerate(self.state)
            if entry
        }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore settings and state saved by ``state_dict`` for the same parameters."""
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups) or any(
            len(saved["params"]) != len(own["params"])
            for saved, own in zip(groups, self.param_groups)
        ):
            raise ValueError(
                f"{type(self).__name__}.load_state_dict: the saved state has groups of sizes "
                f"{[len(g['params']) for g in groups]}, this optimiser "
                f"{[len(g['params']) for g in self.param_groups]}"
            )
        params = self.params
        for index, entry in state_dict["state"].items():
            for name, value in entry.items():
                if isinstance(value, np.ndarray) and value.shape != params[int(index)].shape:
                    raise ValueError(
                        f"{type(self).__name__}.load_state_dict: state '{name}' of parameter "
                        f"{index} has shape {value.shape}, the parameter {params[int(index)].shape}"
                    )
        for saved, own in zip(groups, self.param_groups):
            own.update({k: v for k, v in saved.items() if k != "params"})
        self.state = [{} for _ in params]
        for index, entry in state_dict["state"].items():
            # Copies in the parameter's memory layout, which the fused kernels need.
            column_major = _column_major(params[int(index)].data)
            self.state[int(index)] = {
                k: (np.array(v, order="F") if column_major else v.copy())
                if isinstance(v, np.ndarray)
                else v
                for k, v in entry.items()
            }

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for number, group in enumerate(self.param_groups):
            lines.append(f"  group {number}: {len(group['params'])} parameters")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        return "\n".join(lines + [")"])


def _column_major(array: np.ndarray) -> bool:
    return bool(array.flags.f_contiguous and not array.flags.c_contiguous)


def work_buffer(state: dict[str, Any], name: str, p: Tensor) -> np.ndarray:
    """A work array shaped like ``p``, allocated once and kept in ``state`` (not saved)."""
    buffer = state.get(name)
    if buffer is None:
        state[name] = buffer = np.empty_like(p.data)
    return buffer


def gradient_with_decay(p: Tensor, weight_decay: float, state: dict[str, Any]) -> np.ndarray:
    """g + weight_decay·p (L2 regularisation folded into the gradient).

    Without weight decay this is the gradient array itself; with it, a buffer kept in
    ``state["decayed"]`` so that no array is allocated per step.
    """
    assert p.grad is not None
    grad = p.grad.data
    if not weight_decay:
        return grad
    decayed = work_buffer(state, "_decayed", p)
    np.multiply(p.data, weight_decay, out=decayed)
    decayed += grad
    return decayed


# Decaying state (a momentum of a weight whose gradient is always zero, like the weights of
# always-black border pixels) shrinks geometrically into the subnormal range, where x86 CPUs
# compute many times slower. Every FLUSH_EVERY steps, values below FLUSH_BELOW times the
# smallest normal number are set to zero; between two flushes a value shrinks by at most
# 0.9**64 ~ 1e-3, so it never becomes subnormal. The values flushed are far below anything
# that changes a float32 update.
# Fused kernels (``_kernels``) flush as they go: a value that falls below the smallest normal
# number is stored as zero. ``FLUSH_SUBNORMALS = False`` turns both off (the tests use it to
# show that the trap is real).
FLUSH_EVERY = 64
FLUSH_BELOW = 2.0**24
FLUSH_SUBNORMALS = True


def flush_threshold(dtype: np.dtype[Any]) -> float:
    """The magnitude below which a fused kernel stores zero: the smallest normal number."""
    return float(np.finfo(dtype).tiny) if FLUSH_SUBNORMALS else 0.0


def flush_tiny(step: int, *arrays: np.ndarray) -> None:
    """Zero the values of ``arrays`` that are close to subnormal, every ``FLUSH_EVERY`` steps."""
    if step % FLUSH_EVERY or not FLUSH_SUBNORMALS:
        return
    for array in arrays:
        threshold = np.finfo(array.dtype).tiny * FLUSH_BELOW
        np.copyto(array, 0, where=np.abs(array) < threshold)
