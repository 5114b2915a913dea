"""The base of all optimisers: parameter groups, validated settings, per-parameter state.

Optimisers update ``p.data`` in place, outside the graph, reusing state arrays allocated on the
first step, because a step runs thousands of times per epoch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from ..engine.tensor import Tensor


# ---------------------------------------------------------------- checking settings
def check_setting(
    owner: str,
    name: str,
    value: object,
    *,
    at_least: float | None = None,
    above: float | None = None,
    below: float | None = None,
    at_most: float | None = None,
    integer: bool = False,
    finite: bool = True,
) -> float:
    """Check a numeric setting and return it as a Python number (NumPy scalars converted, so
    that settings print plainly and go into JSON checkpoints); refuse one that is not a real
    number, not finite, or out of its range.

    Parameters
    ----------
    owner, name
        The class (or function) and the setting, for the message: ``"Adam"``, ``"betas[0]"``.
    value
        An ``int``, ``float`` or NumPy real scalar; ``bool``, strings, arrays and ``None`` are
        refused (a ``True`` learning rate or ``'0.1'`` from a config file is a mistake).
    at_least, above, below, at_most
        Bounds of the range: ``value >= at_least``, ``> above``, ``< below``, ``<= at_most``.
    integer
        Require an ``int`` or NumPy integer (a step count or a period).
    finite
        Refuse inf and nan (NaN is always refused: it is in no range).

    Returns
    -------
    float
        ``value``, or ``value.item()`` for a NumPy scalar (an ``int`` stays an ``int``).

    Raises
    ------
    TypeError
        ``"Adam: lr must be a real number, got str '0.1'"``.
    ValueError
        ``"Adam: lr must be finite, got inf"``, ``"Adam: betas[0] must be in [0, 1), got 1.0"``.
    """
    real_types = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, real_types):
        kind = "an integer" if integer else "a real number"
        raise TypeError(f"{owner}: {name} must be {kind}, got {describe(value)}")
    number = float(value)
    if finite and not np.isfinite(number):
        raise ValueError(f"{owner}: {name} must be finite, got {value}")
    inside = (
        (at_least is None or number >= at_least)
        and (above is None or number > above)
        and (below is None or number < below)
        and (at_most is None or number <= at_most)
    )
    if not inside:
        wanted = _range_text(at_least, above, below, at_most)
        raise ValueError(f"{owner}: {name} must be {wanted}, got {value}")
    python_number: float = value.item() if isinstance(value, np.generic) else value
    return python_number


def check_flag(owner: str, name: str, value: object) -> bool:
    """Return a switch (``nesterov``, ``amsgrad``, ...) as a bool; refuse anything but
    ``True``, ``False`` and NumPy bools (a ``0``/``1`` or ``"false"`` from a config file is
    refused rather than read by truthiness)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: {name} must be True or False, got {describe(value)}")
    return bool(value)


def describe(value: object) -> str:
    """A value with its type for error messages: ``str '0.1'``, ``float 0.5``, ``None``."""
    if value is None:
        return "None"
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def _range_text(
    at_least: float | None, above: float | None, below: float | None, at_most: float | None
) -> str:
    """``in [0, 1)``, ``>= 0``, ``> 0``: the range in the usual notation."""
    if (at_least is not None or above is not None) and (below is not None or at_most is not None):
        low = f"[{at_least:g}" if at_least is not None else f"({above:g}"
        high = f"{below:g})" if below is not None else f"{at_most:g}]"
        return f"in {low}, {high}"
    bounds = [(">=", at_least), (">", above), ("<", below), ("<=", at_most)]
    return " and ".join(f"{sign} {bound:g}" for sign, bound in bounds if bound is not None)


def _parameter_problem(item: object) -> str:
    """Why ``item`` is not a parameter, with the likely fix."""
    hint = ""
    if isinstance(item, np.ndarray):
        hint = " (pass the Parameters themselves, not their .data)"
    elif isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], Tensor):
        hint = " (pass model.parameters(), not model.named_parameters())"
    elif isinstance(item, Mapping):
        hint = " (param-group dicts go in a list of dicts only, not mixed with Tensors)"
    return f"is a {type(item).__name__}, not a Tensor{hint}"


def _as_list(owner: str, what: str, params: object, *, groups: bool = True) -> list[Any]:
    """The items of ``params`` (an ordered iterable), or a TypeError that says what to pass
    (``groups``: whether a list of param-group dicts is one of the things to pass)."""
    wanted = "an iterable of Tensors" + (" or of param-group dicts" if groups else "")
    if isinstance(params, Tensor):
        raise TypeError(
            f"{owner}: {what} is a single Tensor; pass a list such as [p] or model.parameters()"
        )
    if callable(getattr(params, "parameters", None)):
        raise TypeError(
            f"{owner}: {what} is a {type(params).__name__} model; pass model.parameters(), "
            "not the model"
        )
    if isinstance(params, Mapping):
        example = " such as [{'params': model.parameters(), 'lr': 0.1}]" if groups else ""
        raise TypeError(f"{owner}: {what} is a dict; pass {wanted}{example}")
    if isinstance(params, (set, frozenset)):
        # State is kept by position, and a set's order changes from run to run.
        raise TypeError(f"{owner}: {what} is a set, whose order changes between runs; pass a list")
    if isinstance(params, (str, bytes)) or not isinstance(params, Iterable):
        raise TypeError(f"{owner}: {what} must be {wanted}, got {describe(params)}")
    return list(params)


class Optimizer:
    """Holds ``param_groups`` (dicts with 'params' and hyper-parameters, as in PyTorch) and a
    ``state`` dict per parameter, in a list indexed like the flattened parameters.

    ``params`` is an ordered iterable of Tensors that require grad (``model.parameters()``), or
    a list of param-group dicts, each with a ``'params'`` entry and optional settings that
    override the defaults. Every group's settings are checked when it is added (by the
    constructor, ``add_param_group`` or ``load_state_dict``): a setting out of range raises
    ValueError, one of the wrong type TypeError. Editing ``param_groups`` by hand later is not
    checked.
    """

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        owner = type(self).__name__
        items = _as_list(owner, "params", params)
        if not items:
            raise ValueError(f"{owner}: got an empty parameter list")
        is_group = [isinstance(item, Mapping) for item in items]
        if any(is_group) and not all(is_group):
            raise TypeError(
                f"{owner}: params mixes param-group dicts and Tensors; put every Tensor in a "
                "group, such as {'params': [p]}"
            )
        groups = items if all(is_group) else [{"params": items}]
        self.defaults = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, group: dict[str, Any]) -> None:
        """Add parameters with their own settings (missing ones take the defaults)."""
        owner = type(self).__name__
        if not isinstance(group, Mapping):
            raise TypeError(
                f"{owner}: a param group must be a dict with a 'params' entry, got "
                f"{describe(group)}"
            )
        if "params" not in group:
            raise ValueError(
                f"{owner}: a param group needs a 'params' entry, got the keys {sorted(group)}"
            )
        params = (
            [group["params"]]
            if isinstance(group["params"], Tensor)
            else _as_list(owner, "the group's 'params'", group["params"])
        )
        for position, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{owner}: parameter {position} {_parameter_problem(p)}")
            if not p.requires_grad:
                raise ValueError(
                    f"{owner}: parameter {position} of shape {p.shape} does not require grad"
                )
        existing = {id(p) for p in self.params}
        if any(id(p) in existing for p in params):
            raise ValueError(f"{owner}: a parameter appears in two groups")
        if len({id(p) for p in params}) != len(params):
            raise ValueError(
                f"{owner}: a parameter appears twice in the list; it would be updated twice per "
                "step"
            )
        filled = {**self.defaults, **group, "params": params}
        self._validate(filled)
        self.param_groups.append(filled)
        self.state: list[dict[str, Any]] = getattr(self, "state", []) + [{} for _ in params]

    def _validate(self, group: dict[str, Any]) -> None:
        """Check a group's settings with ``check_setting`` and store them as it returns them
        (Python numbers); each optimiser adds its own.

        Here: lr >= 0 and weight_decay >= 0 (when the optimiser has it), both finite real
        numbers, and a scheduler's ``initial_lr`` (restored by ``load_state_dict``) likewise.
        """
        owner = type(self).__name__
        for name in ("lr", "weight_decay", "initial_lr"):
            if name in group:
                group[name] = check_setting(owner, name, group[name], at_least=0)

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
        """Restore settings and state saved by ``state_dict`` for the same parameters.

        Everything is checked before anything changes: the number of groups and of parameters
        in each, every restored group's settings (as ``add_param_group`` does), and that every
        state array has its parameter's shape and dtype (ValueError naming the parameter).
        """
        owner = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"{owner}: expected a dict from state_dict(), got {describe(state_dict)}"
            )
        missing = [key for key in ("state", "param_groups") if key not in state_dict]
        if missing:
            raise ValueError(f"{owner}: the state dict has no {' or '.join(map(repr, missing))}")
        groups = self._checked_groups(owner, state_dict["param_groups"])
        restored = []
        for saved, own in zip(groups, self.param_groups):
            settings = {**own, **{k: v for k, v in saved.items() if k != "params"}}
            self._validate(settings)
            restored.append(settings)
        entries = self._checked_state(owner, state_dict["state"])
        for settings, own in zip(restored, self.param_groups):
            own.update({k: v for k, v in settings.items() if k != "params"})
        params = self.params
        self.state = [{} for _ in params]
        for index, entry in entries.items():
            # Copies in the parameter's memory layout, which the fused kernels need.
            column_major = _column_major(params[index].data)
            self.state[index] = {
                k: (np.array(v, order="F") if column_major else v.copy())
                if isinstance(v, np.ndarray)
                else v
                for k, v in entry.items()
            }

    def _checked_groups(self, owner: str, groups: object) -> list[Mapping[str, Any]]:
        """The saved param groups, if they are as many and as large as this optimiser's."""
        if not isinstance(groups, (list, tuple)) or not all(
            isinstance(group, Mapping) and isinstance(group.get("params"), (list, tuple))
            for group in groups
        ):
            raise TypeError(
                f"{owner}: 'param_groups' must be a list of dicts with a 'params' list, got "
                f"{describe(groups)}"
            )
        if [len(g["params"]) for g in groups] != [len(g["params"]) for g in self.param_groups]:
            raise ValueError(
                f"{owner}: the saved state has groups of sizes "
                f"{[len(g['params']) for g in groups]}, this optimiser "
                f"{[len(g['params']) for g in self.param_groups]}"
            )
        return list(groups)

    def _checked_state(self, owner: str, state: object) -> dict[int, Mapping[str, Any]]:
        """The saved per-parameter state by index, if every array fits its parameter."""
        if not isinstance(state, Mapping):
            raise TypeError(
                f"{owner}: 'state' must be a dict from parameter index to state, got "
                f"{describe(state)}"
            )
        params = self.params
        entries: dict[int, Mapping[str, Any]] = {}
        for key, entry in state.items():
            # Checkpoints written as JSON keep the indices as strings.
            index = int(key) if isinstance(key, str) and key.isdigit() else key
            if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
                raise ValueError(f"{owner}: state key {key!r} is not a parameter index")
            if not 0 <= index < len(params):
                raise ValueError(
                    f"{owner}: state for parameter {index}, but this optimiser has "
                    f"{len(params)} parameters"
                )
            if not isinstance(entry, Mapping):
                raise TypeError(
                    f"{owner}: the state of parameter {index} must be a dict, got {describe(entry)}"
                )
            p = params[int(index)]
            for name, value in entry.items():
                if isinstance(value, np.ndarray):
                    if value.shape != p.shape or value.dtype != p.dtype:
                        raise ValueError(
                            f"{owner}: state '{name}' of parameter {index} is a {value.dtype} "
                            f"array of shape {value.shape}, the parameter a {p.dtype} array of "
                            f"shape {p.shape}"
                        )
                elif name == "step":
                    where = f"state 'step' of parameter {index}"
                    check_setting(owner, where, value, at_least=0, integer=True)
                elif isinstance(value, (bool, np.bool_)) or not isinstance(
                    value, (int, float, np.integer, np.floating)
                ):
                    raise ValueError(
                        f"{owner}: state '{name}' of parameter {index} is a "
                        f"{type(value).__name__}, not an array or a number"
                    )
            entries[int(index)] = entry
        return entries

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
