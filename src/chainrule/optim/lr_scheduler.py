"""Learning-rate schedules: call ``scheduler.step()`` once per epoch, after ``optimizer.step()``.

Every setting is checked when the schedule is built: periods (``step_size``, ``T_max``) are
positive integers, ``last_epoch`` an integer >= -1, the rest finite real numbers in the range
each class states (TypeError for the wrong type, ValueError outside the range).
"""

from __future__ import annotations

import math
from typing import Any

from .optimizer import Optimizer, check_setting, describe


class LRScheduler:
    """Sets each group's ``lr`` from its initial value and the epoch count ``last_epoch``."""

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        owner = type(self).__name__
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{owner}: optimizer must be an Optimizer, got {describe(optimizer)}")
        last_epoch = int(check_setting(owner, "last_epoch", last_epoch, at_least=-1, integer=True))
        if last_epoch != -1:
            for number, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise ValueError(
                        f"{owner}: resuming at last_epoch={last_epoch} needs 'initial_lr' in "
                        f"param group {number}, which a scheduler built with last_epoch=-1 "
                        "sets; build the schedule from epoch -1 or restore its state_dict"
                    )
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self.step()

    def lr_at(self, base_lr: float, epoch: int) -> float:
        """The learning rate of a group that started at ``base_lr``, at ``epoch``."""
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch and set the new learning rates."""
        self.last_epoch += 1
        for group, base_lr in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = self.lr_at(base_lr, self.last_epoch)

    def get_last_lr(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    def state_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if k != "optimizer"}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        vars(self).update(state)


class StepLR(LRScheduler):
    """lr_t = lr_0 · gamma^floor(t / step_size).

    ``step_size`` is an integer >= 1, ``gamma`` a finite real number > 0.
    """

    def __init__(
        self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1
    ) -> None:
        self.step_size = int(
            check_setting("StepLR", "step_size", step_size, at_least=1, integer=True)
        )
        self.gamma = check_setting("StepLR", "gamma", gamma, above=0)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        return base_lr * self.gamma ** (epoch // self.step_size)


class ExponentialLR(LRScheduler):
    """lr_t = lr_0 · gamma^t, with ``gamma`` a finite real number > 0."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = check_setting("ExponentialLR", "gamma", gamma, above=0)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        return base_lr * self.gamma**epoch


class CosineAnnealingLR(LRScheduler):
    """lr_t = eta_min + (lr_0 - eta_min) · (1 + cos(π t / T_max)) / 2 (the closed form).

    ``T_max`` is an integer >= 1, ``eta_min`` a finite real number >= 0 (a learning rate).
    """

    def __init__(
        self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1
    ) -> None:
        self.T_max = int(
            check_setting("CosineAnnealingLR", "T_max", T_max, at_least=1, integer=True)
        )
        self.eta_min = check_setting("CosineAnnealingLR", "eta_min", eta_min, at_least=0)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        cosine = (1 + math.cos(math.pi * epoch / self.T_max)) / 2
        return self.eta_min + (base_lr - self.eta_min) * cosine


class InverseTimeLR(LRScheduler):
    """lr_t = lr_0 / (1 + k·t): the decay that makes stochastic gradient descent converge
    (Σ lr_t diverges while Σ lr_t² converges). ``k`` is a finite real number >= 0."""

    def __init__(self, optimizer: Optimizer, k: float, last_epoch: int = -1) -> None:
        self.k = check_setting("InverseTimeLR", "k", k, at_least=0)
        super().__init__(optimizer, last_epoch)

    def lr_at(self, base_lr: float, epoch: int) -> float:
        return base_lr / (1 + self.k * epoch)
