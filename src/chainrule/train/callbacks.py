"""Callbacks: what ``fit`` calls at the start, after every batch and after every epoch. Early
stopping, the stopping rules on parameter change and gradient norm, max-norm, a gradient-norm
monitor and checkpoints; a callback's ``state_dict`` is saved in checkpoints, so a resumed run
continues exactly."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..nn.constraints import max_norm_
from ..nn.gradients import norms_by_layer
from .checkpoint import save_checkpoint
from .history import TrainingState


class Callback:
    """Hooks called by ``fit``; override the ones you need.

    A callback that keeps state across epochs returns it from ``state_dict`` (JSON data and
    NumPy arrays) so that checkpoints resume it exactly.
    """

    def on_fit_begin(self, state: TrainingState) -> None: ...
    def on_batch_end(self, state: TrainingState) -> None: ...
    def on_epoch_end(self, state: TrainingState) -> None: ...
    def on_fit_end(self, state: TrainingState) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class EarlyStopping(Callback):
    """Stop when the validation loss has not improved by ``min_delta`` for ``patience`` epochs,
    and (with ``restore_best``) put back the parameters of the best epoch."""

    def __init__(self, patience: int = 5, min_delta: float = 0.0, restore_best: bool = True):
        self.patience, self.min_delta, self.restore_best = patience, min_delta, restore_best
        self.best = math.inf
        self.best_state: dict[str, np.ndarray] | None = None
        self.waited = 0

    def on_epoch_end(self, state: TrainingState) -> None:
        if not state.history.val_loss:
            raise ValueError("EarlyStopping needs val_data in fit()")
        loss = state.history.val_loss[-1]
        if loss < self.best - self.min_delta:
            self.best, self.waited = loss, 0
            if self.restore_best:
                self.best_state = state.model.state_dict()
            return
        self.waited += 1
        if self.waited >= self.patience:
            state.stop = "early_stopping"
            if self.best_state is not None:
                state.model.load_state_dict(self.best_state)

    def state_dict(self) -> dict[str, Any]:
        saved: dict[str, Any] = {"best": self.best, "waited": self.waited}
        for name, value in (self.best_state or {}).items():
            saved[f"best_state/{name}"] = value
        return saved

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.waited = float(state["best"]), int(state["waited"])
        best = {k[len("best_state/") :]: v for k, v in state.items() if k.startswith("best_state/")}
        self.best_state = best or None


class GradientNormMonitor(Callback):
    """Record each layer's gradient norm (averaged over the epoch's batches) in
    ``history.grad_norms``, so vanishing and exploding gradients can be seen."""

    def on_fit_begin(self, state: TrainingState) -> None:
        self._sums: dict[str, float] = {}
        self._count = 0
        # Listed once: walking the modules for their parameters after every batch cost about
        # as much as the norms themselves on a small network.
        self._parameters = list(state.model.named_parameters())

    def on_batch_end(self, state: TrainingState) -> None:
        for layer, norm in norms_by_layer(self._parameters).items():
            self._sums[layer] = self._sums.get(layer, 0.0) + norm
        self._count += 1

    def on_epoch_end(self, state: TrainingState) -> None:
        for layer, total in self._sums.items():
            state.history.grad_norms.setdefault(layer, []).append(total / max(self._count, 1))
        self._sums, self._count = {}, 0


class StopOnParameterChange(Callback):
    """Stop when an epoch moved the parameters by at most ``tol``: ‖w(t+1) - w(t)‖ <= tol,
    the Euclidean norm over all parameters. Records each epoch's change in
    ``history.param_change``; a run it stops has ``stopped_by == "param_change"``."""

    def __init__(self, tol: float) -> None:
        if not tol >= 0:
            raise ValueError(f"StopOnParameterChange: tol must be >= 0, got {tol}")
        self.tol = tol

    def on_fit_begin(self, state: TrainingState) -> None:
        self._before = [p.data.copy() for p in state.model.parameters()]

    def on_epoch_end(self, state: TrainingState) -> None:
        squared = 0.0
        for before, p in zip(self._before, state.model.parameters()):
            squared += float(np.sum(np.square(p.data - before, dtype=np.float64)))
            np.copyto(before, p.data)
        change = math.sqrt(squared)
        state.history.param_change.append(change)
        if change <= self.tol and not state.stop:
            state.stop = "param_change"


class StopOnGradientNorm(Callback):
    """Stop when the gradient is small: ‖∇L(w)‖ <= ``tol``, with ∇L the mean of the epoch's
    batch gradients (the exact gradient for full-batch descent). Records each epoch's norm in
    ``history.grad_norm``; a run it stops has ``stopped_by == "grad_norm"``.

    The gradient is the loss's (the parameters' ``.grad``): an optimiser's ``weight_decay`` is
    added inside its step and is not in it, so at the regularised minimum the norm is about
    ‖weight_decay·w‖, not 0. With weight decay, stop on ``param_tol`` or put the penalty in
    the loss."""

    def __init__(self, tol: float) -> None:
        if not tol >= 0:
            raise ValueError(f"StopOnGradientNorm: tol must be >= 0, got {tol}")
        self.tol = tol

    def on_fit_begin(self, state: TrainingState) -> None:
        self._sums: list[np.ndarray] = [
            np.zeros(p.shape, np.float64) for p in state.model.parameters()
        ]
        self._batches = 0

    def on_batch_end(self, state: TrainingState) -> None:
        for total, p in zip(self._sums, state.model.parameters()):
            if p.grad is not None:
                total += p.grad.data
        self._batches += 1

    def on_epoch_end(self, state: TrainingState) -> None:
        batches = max(self._batches, 1)
        norm = math.sqrt(sum(float(np.sum(np.square(t / batches))) for t in self._sums))
        for total in self._sums:
            total[...] = 0
        self._batches = 0
        state.history.grad_norm.append(norm)
        if norm <= self.tol and not state.stop:
            state.stop = "grad_norm"


class MaxNorm(Callback):
    """Max-norm regularisation: after every step, rescale each unit's incoming weights to
    norm <= ``max_value`` (``nn.max_norm_``)."""

    def __init__(self, max_value: float) -> None:
        if not max_value > 0:
            raise ValueError(f"MaxNorm: max_value must be positive, got {max_value}")
        self.max_value = max_value

    def on_fit_begin(self, state: TrainingState) -> None:
        max_norm_(state.model, self.max_value)

    def on_batch_end(self, state: TrainingState) -> None:
        max_norm_(state.model, self.max_value)


class Checkpoint(Callback):
    """Save everything needed to resume (model, optimiser, history, random state) to ``path``
    after every ``every`` epochs, atomically, so a run killed at any moment can continue.

    ``min_seconds`` spaces the saves in time: an epoch's save is skipped while the previous one
    is younger than that, and the last epoch is always saved (at the end of ``fit``). A short
    epoch is then not dominated by its checkpoint (about 4 ms for a small model, written and
    synced), and a run killed loses at most ``min_seconds`` of training.
    """

    def __init__(
        self,
        path: str | Path,
        every: int = 1,
        metadata: dict[str, Any] | None = None,
        min_seconds: float = 0.0,
    ) -> None:
        if not min_seconds >= 0:
            raise ValueError(f"Checkpoint: min_seconds must be >= 0, got {min_seconds}")
        self.path, self.every, self.metadata = Path(path), every, metadata
        self.min_seconds = min_seconds
        self._saved_at = -math.inf
        self._saved_epoch = -1

    def on_fit_begin(self, state: TrainingState) -> None:
        self._saved_at, self._saved_epoch = -math.inf, state.epoch

    def on_epoch_end(self, state: TrainingState) -> None:
        if state.epoch % self.every == 0 and (
            time.monotonic() - self._saved_at >= self.min_seconds or state.stop
        ):
            self._save(state)

    def on_fit_end(self, state: TrainingState) -> None:
        if state.epoch != self._saved_epoch and state.epoch % self.every == 0:
            self._save(state)

    def _save(self, state: TrainingState) -> None:
        save_checkpoint(self.path, state, self.metadata)
        self._saved_at, self._saved_epoch = time.monotonic(), state.epoch
