"""What a training run records and what its callbacks see: the per-epoch ``History``, the
``TrainingState`` shared with callbacks, and ``TrainingDiverged``."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any

from ..data.loader import DataLoader
from ..nn.module import Module
from ..optim.optimizer import Optimizer

if TYPE_CHECKING:  # callbacks are built on the state they see
    from .callbacks import Callback


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite, or grew far past where it started.

    ``history`` holds the epochs completed before it happened and ``loss`` the value that
    stopped the run, so that a diverged run can still be plotted.
    """

    def __init__(self, message: str, history: History | None = None, loss: float = math.nan):
        super().__init__(message)
        self.history = history
        self.loss = loss


@dataclass
class History:
    """What happened in each epoch of ``fit``."""

    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    grad_norms: dict[str, list[float]] = field(default_factory=dict)
    param_change: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    stopped_by: str = ""
    first_loss: float | None = None

    @property
    def epochs(self) -> int:
        return len(self.train_loss)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> History:
        """The History that ``to_dict`` wrote; ValueError naming a field of another type."""
        known = {item.name for item in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"history: unknown field(s) {', '.join(map(repr, unknown))}")
        for name, value in data.items():
            if name == "stopped_by":
                ok = isinstance(value, str)
            elif name == "first_loss":
                ok = value is None or _is_number(value)
            elif name == "grad_norms":
                ok = isinstance(value, dict) and all(
                    isinstance(series, list) and all(map(_is_number, series))
                    for series in value.values()
                )
            else:
                ok = isinstance(value, list) and all(map(_is_number, value))
            if not ok:
                raise ValueError(
                    f"history: field {name!r} holds {type(value).__name__} of another kind"
                )
        return cls(**data)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass
class TrainingState:
    """What callbacks see and may change: set ``stop`` to a reason to end training."""

    model: Module
    optimizer: Optimizer
    history: History
    epoch: int = 0
    batch: int = 0
    loss: float = math.nan
    stop: str = ""
    loaders: list[DataLoader] = field(default_factory=list)
    callbacks: Sequence[Callback] = ()
    measures_accuracy: bool = True  # False for regression: the targets are not classes
