"""How the pictures and tables of a graph name its tensors: ``names`` given by the user as a
mapping {name: tensor} (or {tensor: name}), pairs such as ``model.named_parameters()``, or a
Module, turned into {id(tensor): name}."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..engine.tensor import Tensor


def names_by_id(names: Any, caller: str) -> dict[int, str]:
    """{id(tensor): name} from any accepted form of ``names`` (None gives {}); a TypeError
    naming ``caller`` and the entry for anything else."""
    if names is None:
        return {}
    if hasattr(names, "named_parameters") and callable(names.named_parameters):
        pairs: Iterable[Any] = names.named_parameters()
    elif isinstance(names, Mapping):
        pairs = names.items()
    else:
        pairs = names
    labels: dict[int, str] = {}
    for pair in pairs:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(
                f"{caller}: names must be a mapping {{name: tensor}}, pairs (name, tensor) such as "
                f"model.named_parameters(), or a Module; got an entry {pair!r}"
            )
        first, second = pair
        if isinstance(first, Tensor) and not isinstance(second, Tensor):
            first, second = second, first
        if not isinstance(second, Tensor):
            raise TypeError(
                f"{caller}: names entry {first!r} is a {type(second).__name__}, not a Tensor"
            )
        labels[id(second)] = str(first)
    return labels
