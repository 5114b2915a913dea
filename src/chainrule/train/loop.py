"""``fit``: the training loop. Each batch runs one step (``step.forward_backward``, or its
data-parallel form), the divergence guard and the optimiser's update; each epoch ends with the
history, the scheduler and the callbacks."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..compiler import CompiledStep
from ..data.loader import DataLoader, TensorDataset
from ..engine.graph import no_grad
from ..engine.kernels import small_run
from ..engine.tensor import Tensor
from ..nn.module import Module
from ..optim.optimizer import Optimizer
from .callbacks import (
    Callback,
    Checkpoint,
    MaxNorm,
    StopOnGradientNorm,
    StopOnParameterChange,
)
from .checkpoint import load_checkpoint
from .history import History, TrainingDiverged, TrainingState
from .step import BatchResult, _correct, _threshold, count_correct, forward_backward


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


def predict_outputs(model: Module, X: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    """The network's outputs for the rows of ``X``, in evaluation mode, without a graph, a
    chunk of ``batch_size`` rows at a time (a wide network's activations for every row at once
    might not fit in memory)."""
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            chunks = [
                np.asarray(model(Tensor._wrap(X[start : start + batch_size])).data)
                for start in range(0, len(X), batch_size)
            ]
    finally:
        model.train(was_training)
    if not chunks:
        return np.zeros((0, 0), dtype=X.dtype)
    return np.concatenate(chunks)


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
    accuracy: bool = True,
    compile: bool = True,  # noqa: A002 - the switch's name in the API, as in torch.compile
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

    ``accuracy=False`` records no accuracy (the History's accuracy lists stay empty and the
    progress bar shows the validation loss): for regression, whose targets are not classes.

    Each batch runs as a compiled step (``cr.compile``: the same numbers, without building a
    graph per batch) when the model, loss and layers have compiled rules, else eagerly with a
    ``CompileWarning`` saying why; ``compile=False`` runs every batch eagerly.

    Raises
    ------
    TrainingDiverged
        When the loss becomes NaN or infinite, or exceeds ``divergence_factor`` times
        max(|first loss|, 1) (the floor of 1 keeps a first batch that is already fitted from
        making noise look like divergence); the message names the learning rate.
    """
    _check_count("epochs", epochs)
    _check_count("batch_size", batch_size)
    _check_optimizer_holds(model, optimizer)
    loader = _as_loader(train_data, batch_size, shuffle)
    callbacks = _with_rules(list(callbacks), max_norm, param_tol, grad_tol, distributed)
    state = TrainingState(model, optimizer, History(), loaders=[loader], callbacks=callbacks)
    state.measures_accuracy = accuracy
    if resume_from is not None and Path(resume_from).exists():
        load_checkpoint(resume_from, state)
        if scheduler is not None:
            scheduler.last_epoch = state.epoch - 1
            scheduler.step()
    parallel = _data_parallel(state, loader, epochs) if distributed else None
    for callback in callbacks:
        callback.on_fit_begin(state)
    threshold = _threshold(loss_fn)
    guard = _divergence_guard(state, divergence_factor)
    compiled = CompiledStep(model, loss_fn, optimizer) if compile else None
    if parallel is None:
        step = _local_step(model, optimizer, loss_fn, threshold, guard, compiled)
    else:
        parallel.compiled = compiled
        step = _parallel_step(parallel, optimizer, loss_fn, threshold, guard)
    update = compiled.update if compiled is not None else optimizer.step

    def evaluate_epoch() -> tuple[float, float] | None:
        return None if val_data is None else evaluate(model, loss_fn, val_data)

    show = progress and (parallel is None or parallel.is_main)
    bar = _progress((epochs - state.epoch) * len(loader), show)
    try:
        # The whole run's length, resumed or not: a resumed run computes with the same loops
        # as it began with, so that it ends bit for bit where an uninterrupted one does.
        with small_run(run_updates(model, epochs * len(loader))):
            _epochs(state, epochs, loader, (step, update), evaluate_epoch, scheduler, bar)
    finally:
        if bar is not None:
            bar.close()
    state.history.stopped_by = state.stop or "max_epochs"
    for callback in callbacks:
        callback.on_fit_end(state)
    return state.history


def run_updates(model: Module, steps: int) -> int:
    """The parameter updates of ``steps`` steps on ``model``: how long a run is, to judge
    whether compiling its loops pays (``engine.kernels.small_run``)."""
    return steps * sum(p.data.size for p in model.parameters())


def _with_rules(
    callbacks: list[Callback],
    max_norm: float | None,
    param_tol: float | None,
    grad_tol: float | None,
    distributed: bool,
) -> list[Callback]:
    """The callbacks with the constraint and the stopping rules that ``fit``'s arguments ask
    for; under MPI, checkpoints are written by rank 0 only."""
    if distributed:
        from .distributed import is_main

        if not is_main():
            callbacks = [Callback() if isinstance(c, Checkpoint) else c for c in callbacks]
    # The constraint first, so that every other callback sees the constrained weights; the
    # stopping rules next, so that a Checkpoint (the caller's) saves their epoch's records.
    rules: list[Callback] = []
    if max_norm is not None:
        rules.append(MaxNorm(max_norm))
    if param_tol is not None:
        rules.append(StopOnParameterChange(param_tol))
    if grad_tol is not None:
        rules.append(StopOnGradientNorm(grad_tol))
    return [*rules, *callbacks]


def _data_parallel(state: TrainingState, loader: DataLoader, epochs: int) -> Any:
    """Join the other ranks: check shapes, share rank 0's weights and batch order, and agree
    on the run's length and where it starts."""
    from .distributed import DataParallel

    parallel = DataParallel(state.model, state.optimizer)
    parallel.share_random_state(loader)
    parallel.agree("epochs, batches per epoch and epoch", (epochs, len(loader), state.epoch))
    return parallel


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


Step = Callable[[Tensor, Tensor], BatchResult]


Guard = Callable[[float], None]


def _local_step(
    model: Module,
    optimizer: Optimizer,
    loss_fn: Any,
    threshold: float,
    guard: Guard,
    compiled: CompiledStep | None,
) -> Step:
    """The plain executor: the whole batch's forward and backward in this process, compiled
    or eager; the guard sees the loss before the backward pass."""

    def step(inputs: Tensor, targets: Tensor) -> BatchResult:
        optimizer.zero_grad()
        if compiled is None:
            return forward_backward(model, loss_fn, inputs, targets, threshold, guard)
        loss, outputs = compiled.forward_backward(inputs, targets, guard)
        return BatchResult(loss, count_correct(outputs, targets.data, threshold), len(inputs))

    return step


def _parallel_step(
    parallel: Any, optimizer: Optimizer, loss_fn: Any, threshold: float, guard: Guard
) -> Step:
    """The data-parallel executor: each rank its shard of the batch, then one allreduce of the
    gradients (``DataParallel.forward_backward``); the guard sees the global batch's loss, the
    same on every rank, so every rank stops together."""

    def step(inputs: Tensor, targets: Tensor) -> BatchResult:
        optimizer.zero_grad()
        result: BatchResult = parallel.forward_backward(loss_fn, inputs, targets, threshold)
        guard(result.loss)
        return result

    return step


def _epochs(
    state: TrainingState,
    epochs: int,
    loader: DataLoader,
    step: tuple[Step, Callable[[], None]],
    evaluate_epoch: Callable[[], tuple[float, float] | None],
    scheduler: Any,
    bar: Any,
) -> None:
    """Train epoch after epoch until ``epochs`` or a callback's stop."""
    while state.epoch < epochs and not state.stop:
        state.epoch += 1
        state.model.train()
        started = time.perf_counter()
        if bar is not None:
            bar.set_description(f"epoch {state.epoch}/{epochs}")
        loss, accuracy = _train_epoch(state, loader, step, bar)
        _end_epoch(state, loss, accuracy, evaluate_epoch(), time.perf_counter() - started)
        if scheduler is not None:
            scheduler.step()
        for callback in state.callbacks:
            callback.on_epoch_end(state)
        if bar is not None and state.history.val_accuracy:
            bar.set_postfix(
                loss=f"{state.history.train_loss[-1]:.4f}",
                val_acc=f"{state.history.val_accuracy[-1]:.3f}",
            )
        elif bar is not None and state.history.val_loss:
            bar.set_postfix(
                loss=f"{state.history.train_loss[-1]:.4f}",
                val_loss=f"{state.history.val_loss[-1]:.4f}",
            )


def _train_epoch(
    state: TrainingState, loader: DataLoader, step: tuple[Step, Callable[[], None]], bar: Any
) -> tuple[float, float]:
    """One pass over ``loader``: per batch a step (guarded against divergence), the optimiser's
    update (``update``: the optimiser's step, fused for plain SGD when compiled) and the batch
    callbacks. Returns the epoch's mean loss and accuracy."""
    total_loss, correct, count = 0.0, 0, 0
    forward_backward, update = step
    for state.batch, (inputs, targets) in enumerate(loader, start=1):
        result = forward_backward(inputs, targets)
        update()
        state.loss = result.loss
        total_loss += result.loss * result.size
        correct += result.correct
        count += result.size
        for callback in state.callbacks:
            callback.on_batch_end(state)
        if bar is not None:
            bar.update()
    return total_loss / count, correct / count


def _end_epoch(
    state: TrainingState,
    loss: float,
    accuracy: float,
    validation: tuple[float, float] | None,
    seconds: float,
) -> None:
    history = state.history
    history.train_loss.append(loss)
    if state.measures_accuracy:
        history.train_accuracy.append(accuracy)
    history.lr.append(float(state.optimizer.param_groups[0]["lr"]))
    if validation is not None:
        history.val_loss.append(validation[0])
        if state.measures_accuracy:
            history.val_accuracy.append(validation[1])
    history.epoch_seconds.append(seconds)


def _divergence_guard(state: TrainingState, factor: float) -> Guard:
    """The check every batch's loss passes before its update: the first loss is remembered,
    and a loss that is not finite or has grown ``factor`` times raises TrainingDiverged."""

    def guard(value: float) -> None:
        if state.history.first_loss is None:
            state.history.first_loss = value
        _check_divergence(value, state.history.first_loss, factor, state.optimizer, state)

    return guard


def _check_divergence(
    value: float, first: float, factor: float, optimizer: Optimizer, state: TrainingState
) -> None:
    # The floor of 1 keeps a first batch that is already fitted (loss near 0) from making
    # ordinary noise look like divergence.
    limit = factor * max(abs(first), 1.0)
    if math.isfinite(value) and value <= limit:
        return  # every batch passes here: nothing more to work out
    lr = optimizer.param_groups[0]["lr"]
    decay = optimizer.param_groups[0].get("weight_decay", 0.0)
    where = f"epoch {state.epoch}, batch {state.batch}"
    if not math.isfinite(value):
        raise TrainingDiverged(
            f"training diverged at {where}: the loss became {value} with learning rate {lr:g}; "
            f"{divergence_advice(lr, decay, first_batch=state.epoch == 1 and state.batch == 1)}",
            state.history,
            value,
        )
    if value > limit:
        raise TrainingDiverged(
            f"training diverged at {where}: the loss grew from {first:.4g} to {value:.4g} "
            f"with learning rate {lr:g}; {divergence_advice(lr, decay, first_batch=False)}",
            state.history,
            value,
        )


def divergence_advice(lr: Any, weight_decay: Any = 0.0, *, first_batch: bool) -> str:
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
