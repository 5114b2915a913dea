"""``fit``: the training loop, with history, callbacks, checkpoints and a divergence guard."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from ..data.loader import DataLoader, TensorDataset
from ..engine import random as _random
from ..engine.graph import no_grad
from ..engine.tensor import Tensor
from ..io import ModelFileError, check_checkpoint_header, read_archive, write_archive
from ..nn.constraints import max_norm_
from ..nn.gradients import layer_norms
from ..nn.losses import BCELoss
from ..nn.module import Module
from ..optim.optimizer import Optimizer


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


class Callback:
    """Hooks called by ``fit``; override the ones you need.

    A callback that keeps state across epochs returns it from ``state_dict`` (JSON data and
    NumPy arrays) so that checkpoints resume it exactly.
    """

    def on_fit_begin(self, state: TrainingState) -> None: ...
    def on_batch_end(self, state: TrainingState) -> None: ...
    def on_epoch_end(self, state: TrainingState) -> None: ...

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

    def on_batch_end(self, state: TrainingState) -> None:
        for layer, norm in layer_norms(state.model).items():
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
    ``history.grad_norm``; a run it stops has ``stopped_by == "grad_norm"``."""

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
    after every ``every`` epochs, atomically, so a run killed at any moment can continue."""

    def __init__(
        self, path: str | Path, every: int = 1, metadata: dict[str, Any] | None = None
    ) -> None:
        self.path, self.every, self.metadata = Path(path), every, metadata

    def on_epoch_end(self, state: TrainingState) -> None:
        if state.epoch % self.every == 0:
            save_checkpoint(self.path, state, self.metadata)


# ------------------------------------------------------------------------ checkpoints
def save_checkpoint(
    path: str | Path, state: TrainingState, metadata: dict[str, Any] | None = None
) -> None:
    """Write a resumable checkpoint of ``state`` (atomically); ``metadata`` is JSON data kept
    with it (``chainrule train`` stores the run's settings there)."""
    arrays = {f"model/{k}": v for k, v in state.model.state_dict().items()}
    optimizer_state = state.optimizer.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    for index, entry in optimizer_state["state"].items():
        for name, value in entry.items():
            if isinstance(value, np.ndarray):
                arrays[f"optim/{index}/{name}"] = value
            else:
                scalars.setdefault(str(index), {})[name] = value
    header = {
        "kind": "checkpoint",
        "epoch": state.epoch,
        "history": state.history.to_dict(),
        "param_groups": optimizer_state["param_groups"],
        "optimizer_scalars": scalars,
        "rng": _random.default_generator().bit_generator.state,
        "loaders": [loader.state_dict() for loader in state.loaders],
        "callbacks": [],
        "metadata": dict(metadata or {}),
    }
    for number, callback in enumerate(state.callbacks):
        values: dict[str, Any] = {}
        for name, value in callback.state_dict().items():
            if isinstance(value, np.ndarray):
                arrays[f"callback/{number}/{name}"] = value
            else:
                values[name] = value
        header["callbacks"].append(values)
    write_archive(path, arrays, header)


def read_checkpoint_info(path: str | Path) -> dict[str, Any]:
    """The epoch, metadata and history of a checkpoint, without a model to load it into."""
    _, header = read_archive(path)
    check_checkpoint_header(path, header)
    return {key: header[key] for key in ("epoch", "metadata", "history")}


def load_checkpoint(path: str | Path, state: TrainingState) -> None:
    """Restore a checkpoint written by ``save_checkpoint`` into ``state`` (in place).

    The header's structure is checked first; a checkpoint of another model, optimiser or data
    is a ModelFileError naming the file and what did not fit.
    """
    arrays, header = read_archive(path)
    check_checkpoint_header(path, header)
    try:
        _restore(arrays, header, state)
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise ModelFileError(
            f"{path}: the checkpoint does not fit this training run: {error}"
        ) from None


def _restore(arrays: dict[str, np.ndarray], header: dict[str, Any], state: TrainingState) -> None:
    state.model.load_state_dict(
        {k[len("model/") :]: v for k, v in arrays.items() if k.startswith("model/")}
    )
    entries: dict[int, dict[str, Any]] = {}
    for key, value in arrays.items():
        if key.startswith("optim/"):
            _, index, name = key.split("/", 2)
            entries.setdefault(int(index), {})[name] = value
    for index, scalars in header["optimizer_scalars"].items():
        entries.setdefault(int(index), {}).update(scalars)
    groups = [
        {**group, "betas": tuple(group["betas"])} if "betas" in group else group
        for group in header["param_groups"]
    ]
    state.optimizer.load_state_dict({"state": entries, "param_groups": groups})
    state.history = History.from_dict(header["history"])
    state.epoch = int(header["epoch"])
    _random.default_generator().bit_generator.state = header["rng"]
    for loader, saved in zip(state.loaders, header["loaders"]):
        loader.load_state_dict(saved)
    for number, (callback, values) in enumerate(zip(state.callbacks, header["callbacks"])):
        prefix = f"callback/{number}/"
        saved_arrays = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
        if values or saved_arrays:
            callback.load_state_dict({**values, **saved_arrays})


# ------------------------------------------------------------------------ the loop
def _as_loader(data: Any, batch_size: int, shuffle: bool) -> DataLoader:
    if isinstance(data, DataLoader):
        return data
    if isinstance(data, TensorDataset):
        return DataLoader(data, batch_size=batch_size, shuffle=shuffle)
    if isinstance(data, (tuple, list)) and len(data) == 2:
        return DataLoader(TensorDataset(*data), batch_size=batch_size, shuffle=shuffle)
    raise TypeError(
        "fit: data must be an (X, y) pair, a TensorDataset or a DataLoader, got "
        f"{type(data).__name__}"
    )


def _threshold(loss_fn: Any) -> float:
    """Where a single output score splits the classes: 0.5 for probabilities (BCELoss), else 0
    (logits, or margins for the hinge losses)."""
    return 0.5 if isinstance(loss_fn, BCELoss) else 0.0


def _correct(outputs: Tensor, targets: Tensor, threshold: float = 0.0) -> int:
    """How many predictions match (argmax for several outputs, a threshold for one)."""
    scores, labels = outputs.data, targets.data
    if scores.ndim == 2 and scores.shape[1] > 1:
        if labels.ndim == 2:
            labels = labels.argmax(axis=1)
        return int((scores.argmax(axis=1) == labels).sum())
    scores = scores.reshape(-1)
    labels = labels.reshape(-1)
    if labels.min() < 0:
        return int(((scores > threshold) == (labels > 0)).sum())
    return int(((scores > threshold) == (labels > 0.5)).sum())


def evaluate(model: Module, loss_fn: Any, data: Any, batch_size: int = 1024) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` on ``data``, in evaluation mode, without a graph."""
    loader = _as_loader(data, batch_size, shuffle=False)
    was_training = model.training
    model.eval()
    total_loss, correct, count = 0.0, 0, 0
    try:
        with no_grad():
            for inputs, targets in loader:
                outputs = model(inputs)
                total_loss += float(loss_fn(outputs, targets)) * len(inputs)
                correct += _correct(outputs, targets, _threshold(loss_fn))
                count += len(inputs)
    finally:
        model.train(was_training)
    return total_loss / count, correct / count


def _progress(total: int, enabled: bool) -> Any:
    """One tqdm bar for the whole run, counting batches (None without tqdm or when disabled)."""
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="batch", file=sys.stderr, dynamic_ncols=True)


def fit(
    model: Module,
    loss_fn: Any,
    optimizer: Optimizer,
    train_data: Any,
    val_data: Any = None,
    epochs: int = 10,
    batch_size: int = 32,
    callbacks: Sequence[Callback] = (),
    progress: bool = True,
    *,
    shuffle: bool = True,
    scheduler: Any = None,
    divergence_factor: float = 1e3,
    resume_from: str | Path | None = None,
    param_tol: float | None = None,
    grad_tol: float | None = None,
    max_norm: float | None = None,
    distributed: bool = False,
) -> History:
    """Train ``model`` for ``epochs`` passes over ``train_data`` and return the ``History``.

    ``train_data`` and ``val_data`` are (X, y) pairs, TensorDatasets or DataLoaders;
    ``batch_size=len(X)`` is full-batch gradient descent and 1 is stochastic. With tqdm
    installed, ``progress`` shows a bar per epoch. ``scheduler`` (an ``lr_scheduler``) steps
    once per epoch. ``resume_from`` continues from a ``Checkpoint`` file.

    Training stops after ``epochs`` epochs, or earlier when a callback says so (e.g.
    ``EarlyStopping``), when an epoch changed the parameters by at most ``param_tol``
    (‖w(t+1) - w(t)‖ <= param_tol), or when the epoch's mean gradient has norm at most
    ``grad_tol``; ``history.stopped_by`` names the rule ("max_epochs", "early_stopping",
    "param_change", "grad_norm"). ``max_norm`` keeps each unit's incoming weight vector at
    norm <= max_norm after every step (``MaxNorm``).

    With ``distributed=True``, under ``mpirun -n K``, the K processes train one model
    (``chainrule.distributed``): each takes its slice of every global batch of ``batch_size``,
    the gradients are averaged with one allreduce per step, and only rank 0 writes
    checkpoints and shows progress; every rank returns the same History.

    Raises
    ------
    TrainingDiverged
        When the loss becomes NaN or infinite, or exceeds ``divergence_factor`` times its first
        value; the message names the learning rate.
    """
    _check_count("epochs", epochs)
    _check_count("batch_size", batch_size)
    _check_optimizer_holds(model, optimizer)
    loader = _as_loader(train_data, batch_size, shuffle)
    callbacks = list(callbacks)
    if distributed:
        from . import distributed as _distributed

        if not _distributed.is_main():  # only rank 0 writes checkpoints
            callbacks = [Callback() if isinstance(c, Checkpoint) else c for c in callbacks]
    if max_norm is not None:
        callbacks.insert(0, MaxNorm(max_norm))  # first, so others see the constrained weights
    if param_tol is not None:
        callbacks.append(StopOnParameterChange(param_tol))
    if grad_tol is not None:
        callbacks.append(StopOnGradientNorm(grad_tol))
    state = TrainingState(model, optimizer, History(), loaders=[loader], callbacks=callbacks)
    if resume_from is not None and Path(resume_from).exists():
        load_checkpoint(resume_from, state)
        if scheduler is not None:
            scheduler.last_epoch = state.epoch - 1
            scheduler.step()
    parallel = None
    if distributed:  # check shapes, share rank 0's weights and batch order, agree on the run
        parallel = _distributed.DataParallel(model, optimizer)
        parallel.share_random_state(loader)
        parallel.agree("epochs, batches per epoch and epoch", (epochs, len(loader), state.epoch))
    for callback in callbacks:
        callback.on_fit_begin(state)
    threshold = _threshold(loss_fn)
    show = progress and (parallel is None or parallel.is_main)
    bar = _progress((epochs - state.epoch) * len(loader), show)
    try:
        _epochs(
            state,
            epochs,
            loader,
            loss_fn,
            val_data,
            threshold,
            divergence_factor,
            parallel,
            scheduler,
            bar,
        )
    finally:
        if bar is not None:
            bar.close()
    state.history.stopped_by = state.stop or "max_epochs"
    return state.history


def _check_count(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"fit: {name} must be a positive integer, got {type(value).__name__}")
    if value < 1:
        raise ValueError(f"fit: {name} must be a positive integer, got {value}")


def _check_optimizer_holds(model: Module, optimizer: Optimizer) -> None:
    """An optimiser built for another model would step parameters that never get gradients,
    and the model would not learn: refuse it (an optimiser may hold only some of them)."""
    held = {id(p) for p in optimizer.params}
    parameters = list(model.parameters())
    if parameters and not any(id(p) in held for p in parameters):
        raise ValueError(
            f"fit: the {type(optimizer).__name__} optimizer holds none of the model's "
            f"{len(parameters)} parameters (was it built for another model?); build it with "
            "model.parameters()"
        )


def _epochs(
    state: TrainingState,
    epochs: int,
    loader: DataLoader,
    loss_fn: Any,
    val_data: Any,
    threshold: float,
    divergence_factor: float,
    parallel: Any,
    scheduler: Any,
    bar: Any,
) -> None:
    """Train epoch after epoch until ``epochs`` or a callback's stop."""
    model, optimizer, callbacks = state.model, state.optimizer, state.callbacks
    while state.epoch < epochs and not state.stop:
        state.epoch += 1
        model.train()
        started = time.perf_counter()
        if bar is not None:
            bar.set_description(f"epoch {state.epoch}/{epochs}")
        total_loss, correct, count = 0.0, 0, 0
        for state.batch, (inputs, targets) in enumerate(loader, start=1):
            optimizer.zero_grad()
            if parallel is not None:  # this rank's shard, backward, one allreduce
                value, hits, size = parallel.forward_backward(
                    loss_fn, inputs, targets, lambda o, t: _correct(o, t, threshold)
                )
            else:
                outputs = model(inputs)
                loss = loss_fn(outputs, targets)
                value, hits, size = float(loss), _correct(outputs, targets, threshold), len(inputs)
            if state.history.first_loss is None:
                state.history.first_loss = value
            _check_divergence(value, state.history.first_loss, divergence_factor, optimizer, state)
            if parallel is None:
                loss.backward()
            optimizer.step()
            state.loss = value
            total_loss += value * size
            correct += hits
            count += size
            for callback in callbacks:
                callback.on_batch_end(state)
            if bar is not None:
                bar.update()
        history = state.history
        history.train_loss.append(total_loss / count)
        history.train_accuracy.append(correct / count)
        history.lr.append(float(optimizer.param_groups[0]["lr"]))
        if val_data is not None:
            val_loss, val_accuracy = evaluate(model, loss_fn, val_data)
            history.val_loss.append(val_loss)
            history.val_accuracy.append(val_accuracy)
        history.epoch_seconds.append(time.perf_counter() - started)
        if scheduler is not None:
            scheduler.step()
        for callback in callbacks:
            callback.on_epoch_end(state)
        if bar is not None and history.val_accuracy:
            bar.set_postfix(
                loss=f"{history.train_loss[-1]:.4f}", val_acc=f"{history.val_accuracy[-1]:.3f}"
            )


def _check_divergence(
    value: float, first: float, factor: float, optimizer: Optimizer, state: TrainingState
) -> None:
    lr = optimizer.param_groups[0]["lr"]
    decay = optimizer.param_groups[0].get("weight_decay", 0.0)
    where = f"epoch {state.epoch}, batch {state.batch}"
    if not math.isfinite(value):
        raise TrainingDiverged(
            f"training diverged at {where}: the loss became {value} with learning rate {lr:g}; "
            f"{_advice(lr, decay, first_batch=state.epoch == 1 and state.batch == 1)}",
            state.history,
            value,
        )
    # The floor of 1 keeps a first batch that is already fitted (loss near 0) from making
    # ordinary noise look like divergence.
    if value > factor * max(abs(first), 1.0):
        raise TrainingDiverged(
            f"training diverged at {where}: the loss grew from {first:.4g} to {value:.4g} "
            f"with learning rate {lr:g}; {_advice(lr, decay, first_batch=False)}",
            state.history,
            value,
        )


def _advice(lr: Any, weight_decay: Any = 0.0, *, first_batch: bool) -> str:
    """What to try: a tenth of the learning rate, when that is a sensible number; a loss that is
    not finite on the very first batch points at the data or the model instead; a weight decay
    that takes more than each weight per step (lr·weight_decay > 1) is named as the cause."""
    data = "check the inputs and targets for NaN or infinite values"
    try:
        shrink = float(lr) * float(weight_decay)
    except (TypeError, ValueError):
        shrink = 0.0
    if math.isfinite(shrink) and shrink > 1:
        return (
            f"the weight decay {float(weight_decay):g} takes lr·weight_decay = {shrink:g} times "
            "each weight per step, more than the weight itself, so the weights flip and grow; "
            "try a smaller weight decay (or learning rate)"
        )
    if first_batch:
        return f"{data}, or try a smaller learning rate"
    try:
        smaller = float(lr) / 10
    except (TypeError, ValueError):
        return f"try a smaller learning rate, or {data}"
    if math.isfinite(smaller) and smaller > 0:
        return f"try a smaller learning rate (e.g. {smaller:g})"
    return f"try a smaller, finite, positive learning rate, or {data}"
