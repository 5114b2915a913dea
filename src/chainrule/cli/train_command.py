"""A whole training run from a few settings: what ``chainrule train`` does.

Loads a data set by name, builds an MLP, trains it with ``fit``, and writes the model,
``metrics.json``, a checkpoint to resume from and the plots into one folder.
"""

from __future__ import annotations

import json
import math
import shlex
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from .. import data, io, nn, optim
from .._atomic import atomic_write
from .._text import counted, size_in_words
from ..data.table import EncodedMatrix, TableData, is_table_path
from ..engine import random as _random
from ..engine.kernels import small_run
from ..io import ModelFileError
from ..train import (
    Callback,
    Checkpoint,
    GradientNormMonitor,
    History,
    evaluate,
    fit,
    read_checkpoint_info,
)
from ..train.loop import run_updates
from . import table_run
from .run_folder import METRICS, RunFolder, claim, claim_new, run_files

TOY_SETS: dict[str, Callable[..., tuple[np.ndarray, np.ndarray]]] = {
    "xor": data.make_xor,
    "moons": data.make_moons,
    "circles": data.make_circles,
    "spirals": data.make_spirals,
}
DATASETS = ("digits", "fashion-mnist", "mnist", *TOY_SETS)
OPTIMIZERS: dict[str, type[optim.Optimizer]] = {
    "sgd": optim.SGD,
    "adam": optim.Adam,
    "adamw": optim.AdamW,
    "rmsprop": optim.RMSprop,
    "adagrad": optim.Adagrad,
}


@dataclass
class RunConfig:
    """Settings of a training run; ``None`` means the data set's default, or, when a run is
    resumed, the value the run was started with."""

    data: str | None = None
    hidden: list[int] | None = None
    activation: str | None = None
    optimizer: str | None = None
    lr: float | None = None
    momentum: float | None = None
    weight_decay: float | None = None
    epochs: int | None = None
    batch_size: int | None = None
    seed: int | None = None
    val_fraction: float | None = None
    data_path: str | None = None
    param_tol: float | None = None
    grad_tol: float | None = None
    max_norm: float | None = None
    diagnose: bool = False
    target: str | None = None
    features: list[str] | None = None
    task: str | None = None
    test_fraction: float | None = None
    test: str | None = None
    # False: every batch eager (--no-compile); None: the compiled step (cr.compile)
    compile: bool | None = None


# Settings a resumed run keeps (they define the run: its data, its network, its optimiser and
# the order of its batches); every other setting may change when it is resumed, and the new
# value is applied and recorded.
FIXED_ON_RESUME = (
    "data",
    "hidden",
    "activation",
    "optimizer",
    "batch_size",
    "seed",
    "val_fraction",
    "target",
    "features",
    "task",
    "test_fraction",
    "test",
)
# The settings that only a table (--data FILE) takes.
TABLE_SETTINGS = ("target", "features", "task", "test_fraction", "test")
MOMENTUM_OPTIMIZERS = ("sgd", "rmsprop")
# What the optimisers without --momentum keep instead, for the message that refuses it.
_OWN_AVERAGES = {
    "adam": " (which keeps its own running mean of the gradients, betas[0])",
    "adamw": " (which keeps its own running mean of the gradients, betas[0])",
    "adagrad": " (which has no momentum: it divides by the summed squared gradients)",
}
IDX_SETS = ("fashion-mnist", "mnist")

# Defaults that train each data set well in seconds to a minute on a CPU.
_DEFAULTS: dict[str, dict[str, Any]] = {
    "digits": dict(hidden=[128], activation="relu", lr=1e-3, epochs=30, batch_size=32),
    "fashion-mnist": dict(hidden=[256, 128], activation="relu", lr=1e-3, epochs=10, batch_size=128),
    "mnist": dict(hidden=[256, 128], activation="relu", lr=1e-3, epochs=10, batch_size=128),
    "toy": dict(hidden=[16, 16], activation="tanh", lr=1e-2, epochs=300, batch_size=64),
    # A table's batch size and epochs follow its number of rows (table_run), once it is read.
    "table": dict(hidden=[64, 32], activation="relu", lr=1e-3, task="auto"),
}
_COMMON_DEFAULTS: dict[str, Any] = dict(
    data="digits", optimizer="adam", weight_decay=0.0, seed=0, val_fraction=0.1
)


class RunSettingsError(ValueError):
    """Settings that cannot be used together, or that a resumed run cannot change."""


class RunAlreadyFinished(Exception):
    """``--resume`` on a run that has trained all its epochs: nothing to do."""


class RunInterrupted(Exception):
    """Ctrl-C during a run; the message says what was kept and how to continue."""


class RunFailed(RuntimeError):
    """A resumed run failed; its checkpoint was kept, and the message says so."""


@dataclass
class RunResult:
    history: History
    test_accuracy: float
    test_loss: float
    out: Path
    files: list[Path] = field(default_factory=list)
    diagnosis: Any = None
    config: RunConfig | None = None
    table: dict[str, Any] | None = None  # a table run's task, metrics and notes


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return str(value)


def resolved(config: RunConfig) -> RunConfig:
    """The config with every ``None`` replaced by the data set's default; raises
    RunSettingsError for settings that do nothing for the chosen data or optimiser."""
    values = asdict(config)
    for key, value in _COMMON_DEFAULTS.items():
        if values[key] is None:
            values[key] = value
    table = values["data"] not in DATASETS
    if table and not is_table_path(values["data"]):
        raise RunSettingsError(
            f"--data: unknown data set {values['data']!r}; choose from {', '.join(DATASETS)}, "
            "or give the path of a table (CSV, TSV or Parquet)"
        )
    if table and values["target"] is None:
        raise RunSettingsError(
            f"--data {values['data']}: a table needs --target COL, the column to predict"
        )
    given = [_flag(name) for name in TABLE_SETTINGS if values[name] is not None]
    if not table and given:
        raise RunSettingsError(
            f"{', '.join(given)}: for a table of your own (--data FILE); {values['data']} is a "
            "built-in data set"
        )
    if values["test"] is not None and values["test_fraction"] is not None:
        raise RunSettingsError(
            "--test-fraction: the test rows come from --test FILE; give one or the other"
        )
    if table and values["test"] is None and values["test_fraction"] is None:
        values["test_fraction"] = 0.2
    if values["optimizer"] not in OPTIMIZERS:
        raise RunSettingsError(
            f"--optimizer: unknown optimizer {values['optimizer']!r}; choose from "
            f"{', '.join(OPTIMIZERS)}"
        )
    if values["optimizer"] in MOMENTUM_OPTIMIZERS:
        if values["momentum"] is None:
            values["momentum"] = 0.0
    elif values["momentum"] is not None:
        raise RunSettingsError(
            f"--momentum applies to {' and '.join(MOMENTUM_OPTIMIZERS)}, not to "
            f"{values['optimizer']}{_OWN_AVERAGES.get(values['optimizer'], '')}; leave it out or "
            "choose --optimizer sgd"
        )
    if values["data_path"] is not None and values["data"] not in IDX_SETS:
        raise RunSettingsError(
            f"--data-path is where the {' and '.join(IDX_SETS)} files are read from; "
            f"{values['data']} does not read files (it ships with chainrule or is generated)"
        )
    kind = "table" if table else "toy" if values["data"] in TOY_SETS else values["data"]
    defaults = _DEFAULTS[kind]
    for key, value in defaults.items():
        if values[key] is None:
            values[key] = value
    return RunConfig(**values)


def _recorded_config(record: Any, checkpoint: Path) -> RunConfig | None:
    """The settings stored in a checkpoint's metadata (None for checkpoints that predate it)."""
    if record is None:
        return None
    names = {item.name for item in fields(RunConfig)}
    if not isinstance(record, dict) or not set(record) <= names:
        raise ModelFileError(f"{checkpoint}: the recorded settings of the run are not understood")
    return RunConfig(**record)


def _check_same_run(checkpoint: Path, stored: RunConfig) -> None:
    """Refuse a checkpoint whose settings are another run's than its folder's metrics.json (a
    file copied from elsewhere): resuming it would replace this run's model with another's."""
    metrics = checkpoint.parent / METRICS
    try:
        recorded = json.loads(metrics.read_text()).get("config")
    except (OSError, ValueError, AttributeError):
        return  # no readable metrics.json: the checkpoint is all there is (it is rebuilt)
    if not isinstance(recorded, dict):
        return
    for key in FIXED_ON_RESUME:
        mine, theirs = asdict(stored)[key], recorded.get(key)
        if key in recorded and mine != theirs:
            raise RunSettingsError(
                f"{checkpoint} and {metrics} belong to different runs ({_flag(key)} "
                f"{_shown(mine)} in the checkpoint, {_shown(theirs)} in metrics.json); nothing "
                "was changed. Resume a checkpoint in the folder of its own run"
            )


def settings_for_resume(requested: RunConfig, checkpoint: Path, *, finished: bool) -> RunConfig:
    """The settings of the run in ``checkpoint``, with the changes ``requested`` may make.

    A setting of ``FIXED_ON_RESUME`` that differs from the run's is refused, naming the setting,
    the checkpoint and both values; ``epochs`` may grow (or stay, for an unfinished run) but not
    shrink below the epochs done. Raises RunAlreadyFinished when a finished run is asked for no
    more epochs than it has.
    """
    info = read_checkpoint_info(checkpoint)
    done = int(info["epoch"])
    stored = _recorded_config(info["metadata"].get("config"), checkpoint)
    if stored is None:
        print(
            f"chainrule: {checkpoint} records no settings (an older chainrule wrote it); the "
            "settings given now are used as they are",
            file=sys.stderr,
        )
        merged = resolved(requested)
    else:
        _check_same_run(checkpoint, stored)
        values = asdict(stored)
        for key, value in asdict(requested).items():
            if value is None or (key == "diagnose" and value is False):
                continue
            if key in FIXED_ON_RESUME and value != values[key]:
                raise RunSettingsError(
                    f"{_flag(key)} {_shown(value)}: the run in {checkpoint} was started with "
                    f"{_flag(key)} {_shown(values[key])}, and a resumed run keeps it; leave "
                    f"{_flag(key)} out to continue the run, or start a new run in another --out"
                )
            values[key] = value
        if requested.momentum is None and values["optimizer"] not in MOMENTUM_OPTIMIZERS:
            values["momentum"] = None
        merged = resolved(RunConfig(**values))
    assert merged.epochs is not None
    if merged.epochs < done:
        raise RunSettingsError(
            f"--epochs {merged.epochs}: the run in {checkpoint} has already trained {done} "
            f"epochs; give more than {done} to train it further"
        )
    if finished and (requested.epochs is None or merged.epochs <= done):
        raise RunAlreadyFinished(
            f"the run in {checkpoint.parent} has finished its {counted(done, 'epoch')}; nothing "
            f"to do (--resume --epochs N with N > {done} trains it further)"
        )
    return merged


def load_data(config: RunConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training and test arrays: inputs scaled to [0, 1] (images) as float32, labels int64."""
    if config.data == "digits":
        images, labels = data.load_digits()
        X = images.reshape(len(images), -1).astype(np.float32) / 16
        return data.train_val_split(X, labels, 0.2, seed=12345)
    if config.data in IDX_SETS:
        load = data.load_fashion_mnist if config.data == "fashion-mnist" else data.load_mnist
        train_images, train_labels = load("train", config.data_path)
        test_images, test_labels = load("test", config.data_path)
        scale = np.float32(1 / 255)
        return (
            train_images.reshape(len(train_images), -1).astype(np.float32) * scale,
            test_images.reshape(len(test_images), -1).astype(np.float32) * scale,
            train_labels,
            test_labels,
        )
    assert config.data is not None and config.seed is not None
    X, y = TOY_SETS[config.data](n_samples=400, seed=config.seed)
    return data.train_val_split(X, y, 0.25, seed=config.seed)


# Bytes per parameter for the optimiser's state, besides the parameter and its gradient.
_STATE_SLOTS = {"sgd": 0, "adam": 2, "adamw": 2, "rmsprop": 1, "adagrad": 1}


# Rows pushed through the network at once when evaluating or drawing (see plots).
_EVALUATION_ROWS = 1024


def training_bytes(
    widths: list[int], config: RunConfig, samples: int | None = None, itemsize: int = 4
) -> int:
    """An estimate of the memory training needs: parameters, their gradients, the optimiser's
    state and a checkpoint's copy of both, plus the activations of a batch (no larger than the
    ``samples`` there are) forward and backward, or of an evaluation chunk if that is larger."""
    parameters = sum(fan_in * fan_out + fan_out for fan_in, fan_out in zip(widths, widths[1:]))
    slots = _STATE_SLOTS.get(config.optimizer or "adam", 2)
    if config.momentum:
        slots += 1
    batch = config.batch_size or 32
    if samples is not None:
        batch = min(batch, samples)
    activations = max(batch, _EVALUATION_ROWS) * sum(widths) * 4
    return (parameters * (3 + 2 * slots) + activations) * itemsize


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux's MemAvailable), else None."""
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _check_memory(widths: list[int], config: RunConfig, samples: int) -> None:
    needed, available = training_bytes(widths, config, samples), available_memory()
    if available is not None and needed > 0.8 * available:
        network = "-".join(str(width) for width in widths)
        batch = min(config.batch_size or 32, samples)
        raise RunSettingsError(
            f"--hidden {_shown(config.hidden)}: the network {network} needs about "
            f"{size_in_words(needed)} to train with {config.optimizer} and batches of {batch} "
            f"(parameters, gradients, optimiser state, checkpoint, activations), and "
            f"{size_in_words(available)} of memory is available; choose smaller layers"
        )


def build_optimizer(config: RunConfig, model: nn.Module) -> optim.Optimizer:
    if config.optimizer not in OPTIMIZERS:
        raise RunSettingsError(
            f"--optimizer: unknown optimizer {config.optimizer!r}; choose from "
            f"{', '.join(OPTIMIZERS)}"
        )
    return OPTIMIZERS[config.optimizer](model.parameters(), **_optimizer_settings(config))


def _optimizer_settings(config: RunConfig) -> dict[str, Any]:
    settings: dict[str, Any] = {"lr": config.lr, "weight_decay": config.weight_decay}
    if config.optimizer in MOMENTUM_OPTIMIZERS:
        settings["momentum"] = config.momentum
    return settings


class _OptimizerSettings(Callback):
    """Apply the run's optimiser settings after a checkpoint restored the old ones, so that a
    resumed run trains with the learning rate it records (a no-op for a fresh run)."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings

    def on_fit_begin(self, state: Any) -> None:
        for group in state.optimizer.param_groups:
            group.update(self.settings)


def run(
    config: RunConfig,
    out: str | Path | None = None,
    *,
    resume: bool = False,
    progress: bool = True,
    animate: bool = False,
    plots: bool = True,
    distributed: bool = False,
) -> RunResult:
    """Train as ``config`` says and write everything into ``out`` (default: a new
    ``runs/<timestamp>`` folder).

    The folder is checked and claimed first (``run_folder.claim``): a new run needs a new or
    empty folder; ``resume=True`` continues the run whose checkpoint is there, with the
    settings it was started with (``settings_for_resume``). A new run that fails leaves
    nothing; one interrupted with Ctrl-C keeps its last checkpoint and raises RunInterrupted,
    which says how to resume it.

    With ``distributed=True`` (under ``mpirun -n K``), the K processes train one model with
    ``fit(..., distributed=True)``, and only rank 0 writes files; the others return no files.
    """
    main = True  # under MPI, only rank 0 writes files
    if distributed:
        from ..train.distributed import is_main

        main = is_main()
    if resume and out is None:
        raise RunSettingsError("--resume needs --out DIR, the folder of the run to continue")
    if main:
        folder = claim_new() if out is None else claim(out, resume=resume)
    else:
        path = Path(out) if out is not None else Path("runs")
        folder = RunFolder(path, has_checkpoint=run_files(path)[0].is_file())
    try:
        if folder.has_checkpoint:
            config = settings_for_resume(config, folder.checkpoint, finished=folder.finished)
        else:
            if resume and main:
                print(
                    f"chainrule train: --resume: {folder.path} holds no run yet; starting a new "
                    "run there",
                    file=sys.stderr,
                )
            config = resolved(config)
        result = _train_and_write(
            config, folder.path, main, folder.has_checkpoint, progress, animate, plots, distributed
        )
    except KeyboardInterrupt:
        if main:
            _keep_or_discard(folder)
        raise RunInterrupted(_interrupted_note(folder)) from None
    except RunAlreadyFinished:
        if main:
            folder.release()
        raise
    except BaseException as error:
        if not main:
            raise
        if not folder.has_checkpoint:
            folder.discard()  # a new run that failed leaves nothing
            raise
        folder.release()
        if isinstance(error, (RunSettingsError, ModelFileError)):
            raise  # refused before any training: the run is as it was
        raise RunFailed(f"{error}; {_resume_note(folder)}") from error
    if main:
        folder.release()
    return result


def _keep_or_discard(folder: RunFolder) -> None:
    if folder.has_checkpoint or folder.checkpoint.is_file():
        folder.release()
    else:
        folder.discard()


def _checkpoint_epoch(folder: RunFolder) -> int | None:
    try:
        return int(read_checkpoint_info(folder.checkpoint)["epoch"])
    except (OSError, ValueError):
        return None


def _resume_command(folder: RunFolder) -> str:
    return f"chainrule train --out {shlex.quote(str(folder.path))} --resume"


def _resume_note(folder: RunFolder) -> str:
    epoch = _checkpoint_epoch(folder)
    if epoch is None:
        return f"nothing was kept in {folder.path}"
    return (
        f"its checkpoint {folder.checkpoint} (epoch {epoch}) was kept; "
        f"{_resume_command(folder)} continues it"
    )


def _interrupted_note(folder: RunFolder) -> str:
    epoch = _checkpoint_epoch(folder) if folder.checkpoint.is_file() else None
    if epoch is None:
        return "interrupted before the first epoch ended; nothing was kept"
    return (
        f"interrupted; the checkpoint {folder.checkpoint} holds epoch {epoch}; to continue: "
        f"{_resume_command(folder)}"
    )


@dataclass(frozen=True)
class _Data:
    """A run's arrays: the training split (``fit`` and ``val`` parts) and the test split."""

    X_train: np.ndarray | EncodedMatrix
    y_train: np.ndarray
    X_fit: np.ndarray | EncodedMatrix  # a table's rows without their one-hot zeros
    y_fit: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    table: TableData | None = None

    @property
    def classes(self) -> int:
        if self.table is not None:
            return len(self.table.classes)
        return int(max(self.y_train.max(), self.y_test.max())) + 1

    @property
    def outputs(self) -> int:
        """The network's outputs: one per class, or one value for a regression."""
        return self.table.preprocessor.n_outputs if self.table is not None else self.classes

    @property
    def regression(self) -> bool:
        return self.table is not None and self.table.task == "regression"

    @property
    def features(self) -> int:
        return int(self.X_train.shape[1])


def _train_and_write(
    config: RunConfig,
    folder: Path,
    main: bool,
    resume: bool,
    progress: bool,
    animate: bool,
    plots: bool,
    distributed: bool,
) -> RunResult:
    """What a run does, in its four parts: load the data, build the network, train it (from
    the checkpoint when resuming), and write its files into ``folder``."""
    assert config.hidden is not None and config.activation is not None
    arrays = _load(config)
    if arrays.table is not None:
        config = _table_sizes(config, len(arrays.X_fit))
        _report(arrays.table.notes, main)
        if resume:
            _check_same_table(run_files(folder)[0], arrays.table, config)
    assert config.hidden is not None
    _check_memory([arrays.features, *config.hidden, arrays.outputs], config, len(arrays.X_fit))
    model, optimizer, loss_fn = _build(config, arrays)
    # The test and the files inside the run's choice of loops too: a short run never starts
    # Numba, not even for its last evaluation.
    steps = (config.epochs or 1) * math.ceil(len(arrays.X_fit) / (config.batch_size or 32))
    with small_run(run_updates(model, steps)):
        history, snapshots = _train(
            config,
            arrays,
            model,
            optimizer,
            loss_fn,
            folder,
            resume,
            progress,
            animate,
            distributed,
        )
        test_loss, test_accuracy = evaluate(model, loss_fn, (arrays.X_test, arrays.y_test))
        if arrays.regression:
            test_accuracy = math.nan  # a regression has no accuracy; its metrics are in .table
        if not main:  # every rank holds the same model; rank 0 writes it
            return RunResult(history, test_accuracy, test_loss, folder, config=config)
        return _write(
            config,
            arrays,
            model,
            loss_fn,
            history,
            (test_loss, test_accuracy),
            snapshots,
            folder,
            plots,
        )


def _table_sizes(config: RunConfig, rows: int) -> RunConfig:
    """``config`` with a table's batch size and epochs, where not given, set by its rows."""
    batch_size = config.batch_size or table_run.batch_size_for(rows)
    epochs = config.epochs or table_run.epochs_for(rows, batch_size)
    return replace(config, batch_size=batch_size, epochs=epochs)


def _report(notes: list[str], main: bool) -> None:
    """What was detected, left out or dropped in a table, before training starts."""
    if main:
        for note in notes:
            print(f"note: {note}", file=sys.stderr)


def _check_same_table(checkpoint: Path, table: TableData, config: RunConfig) -> None:
    """Refuse to resume on a table whose preprocessing differs from the run's: the file changed
    since the run started, and the network's inputs would mean something else."""
    stored = read_checkpoint_info(checkpoint)["metadata"].get("table")
    if stored is not None and stored != table.preprocessor.to_dict():
        raise RunSettingsError(
            f"{config.data} has changed since the run in {checkpoint.parent} started (its "
            "columns, values or rows differ), so the network's inputs would mean something "
            "else; start a new run in another --out"
        )


def _load(config: RunConfig) -> _Data:
    """The data set's training and test arrays, the training part split into fit and
    validation parts by the run's seed; a table's come split and prepared from ``load_table``."""
    assert config.seed is not None and config.val_fraction is not None
    if config.data not in DATASETS:
        table = table_run.load(config)
        # X_train is only drawn (the boundary of 2-D data): the fit rows stand for it. They
        # stay encoded (EncodedMatrix): the loader writes each minibatch's dense rows.
        fit_rows = table.inputs["training"]
        return _Data(
            fit_rows,
            table.y_train,
            fit_rows,
            table.y_train,
            table.X_val,
            table.y_val,
            table.X_test,
            table.y_test,
            table,
        )
    X_train, X_test, y_train, y_test = load_data(config)
    if config.val_fraction == 0:  # no validation rows: every training row is fitted
        X_fit, X_val, y_fit, y_val = X_train, X_train[:0], y_train, y_train[:0]
    else:
        X_fit, X_val, y_fit, y_val = data.train_val_split(
            X_train, y_train, config.val_fraction, seed=config.seed
        )
    return _Data(X_train, y_train, X_fit, y_fit, X_val, y_val, X_test, y_test)


def _build(config: RunConfig, arrays: _Data) -> tuple[nn.Module, optim.Optimizer, nn.Module]:
    """The network (its weights drawn from the run's seed), its optimiser and the loss: softmax
    cross-entropy for classes, the mean squared error for a regression."""
    assert config.hidden is not None and config.activation is not None
    assert config.seed is not None
    _random.manual_seed(config.seed)
    model = nn.mlp(arrays.features, config.hidden, arrays.outputs, config.activation)
    loss_fn = nn.MSELoss() if arrays.regression else nn.CrossEntropyLoss()
    return model, build_optimizer(config, model), loss_fn


# A run killed loses at most this much training (and its last epoch); saving more often made
# the checkpoint half the time of a 100-epoch run on a 300-row table.
CHECKPOINT_SECONDS = 1.0


def _train(
    config: RunConfig,
    arrays: _Data,
    model: nn.Module,
    optimizer: optim.Optimizer,
    loss_fn: nn.Module,
    folder: Path,
    resume: bool,
    progress: bool,
    animate: bool,
    distributed: bool,
) -> tuple[History, list[tuple[str, nn.Module]]]:
    """``fit`` with a checkpoint after the first epoch, then at most once a second and after
    the last (the run's settings in it), the gradient-norm monitor, and snapshots for the
    boundary animation of 2-D data."""
    checkpoint = run_files(folder)[0]
    metadata: dict[str, Any] = {"config": asdict(config)}
    if arrays.table is not None:
        metadata["table"] = arrays.table.preprocessor.to_dict()
    callbacks: list[Any] = [
        GradientNormMonitor(),
        Checkpoint(checkpoint, metadata=metadata, min_seconds=CHECKPOINT_SECONDS),
        _OptimizerSettings(_optimizer_settings(config)),
    ]
    snapshots: list[tuple[str, nn.Module]] = []
    if animate and arrays.features == 2 and not arrays.regression:
        callbacks.append(_Snapshots(snapshots, config.epochs or 1))
    dataset = (
        arrays.table.dataset("training")
        if arrays.table is not None
        else data.TensorDataset(arrays.X_fit, arrays.y_fit)
    )
    loader = data.DataLoader(
        dataset,
        batch_size=config.batch_size or 32,
        shuffle=True,
        seed=config.seed,
    )
    history = fit(
        model,
        loss_fn,
        optimizer,
        loader,
        (arrays.X_val, arrays.y_val) if len(arrays.X_val) else None,
        epochs=config.epochs or 1,
        callbacks=callbacks,
        progress=progress,
        resume_from=checkpoint if resume else None,
        param_tol=config.param_tol,
        grad_tol=config.grad_tol,
        max_norm=config.max_norm,
        distributed=distributed,
        accuracy=not arrays.regression,
        compile=config.compile is not False,
    )
    return history, snapshots


def _write(
    config: RunConfig,
    arrays: _Data,
    model: nn.Module,
    loss_fn: nn.Module,
    history: History,
    test: tuple[float, float],
    snapshots: list[tuple[str, nn.Module]],
    folder: Path,
    plots: bool,
) -> RunResult:
    """The model, the diagnosis (with ``--diagnose``), the plots, and metrics.json last: its
    presence marks the run as finished."""
    test_loss, test_accuracy = test
    files = [run_files(folder)[1], folder / METRICS]
    diagnosis = None
    if config.diagnose:
        from ..viz.diagnostics import diagnose

        # Dead units are judged on up to 1,000 training samples; gradient norms are the last
        # epoch's averages from the monitor.
        X, y = arrays.X_fit[:1000], arrays.y_fit[:1000]
        diagnosis = diagnose(model, loss_fn, X, y, history=history)
        files.append(folder / "diagnosis.json")
        _write_json(files[-1], diagnosis.to_dict())
    metadata: dict[str, Any] = {"config": asdict(config)}
    table_record: dict[str, Any] | None = None
    true = predicted = np.zeros(0)
    if arrays.table is None:
        metadata.update(test_accuracy=test_accuracy, classes=arrays.classes)
    else:
        table_record, true, predicted = table_run.metrics_record(model, arrays.table)
        metadata.update(
            task=arrays.table.task,
            table=arrays.table.preprocessor.to_dict(),
            test_metrics={k: v for k, v in table_record.items() if k.startswith("test_")},
        )
        if not arrays.regression:
            metadata["classes"] = arrays.classes
    io.save(model, files[0], metadata)
    if plots and not _has_matplotlib():
        print(
            "chainrule: plots skipped (pip install 'chainrule[cli]' for matplotlib)",
            file=sys.stderr,
        )
    elif plots:
        problems = diagnosis.problems if diagnosis is not None else ()
        files += _pictures(
            config, arrays, model, history, test_accuracy, snapshots, folder, problems
        )
        if arrays.table is not None:
            title = f"{Path(str(config.data)).name}: {arrays.table.preprocessor.target.name}"
            files += table_run.pictures(arrays.table, true, predicted, folder, title)
    metrics: dict[str, Any] = {**history.to_dict(), "test_loss": test_loss}
    if table_record is None:
        metrics["test_accuracy"] = test_accuracy
    else:
        # The per-epoch lists stay lists (API: val_accuracy is one value per epoch); the table
        # metrics add what they do not already hold.
        metrics.update(
            {k: v for k, v in table_record.items() if not isinstance(metrics.get(k), list)},
            notes=arrays.table.notes if arrays.table else [],
        )
        if arrays.regression:  # no accuracy for a regression: its lists are empty
            del metrics["train_accuracy"], metrics["val_accuracy"]
    metrics["config"] = asdict(config)
    _write_json(files[1], metrics)
    if table_record is not None:
        table_record["notes"] = arrays.table.notes if arrays.table else []
    return RunResult(
        history, test_accuracy, test_loss, folder, files, diagnosis, config, table_record
    )


def _pictures(
    config: RunConfig,
    arrays: _Data,
    model: nn.Module,
    history: History,
    test_accuracy: float,
    snapshots: list[tuple[str, nn.Module]],
    folder: Path,
    problems: Any,
) -> list[Path]:
    """The training curves, the gradient norms, and for 2-D data the decision boundary (and
    its animation)."""
    from ..plots import training as pictures

    assert config.hidden is not None
    widths = "-".join(map(str, [arrays.features, *config.hidden, arrays.outputs]))
    name = Path(str(config.data)).name if arrays.table is not None else config.data
    title = f"{name}: MLP {widths}"
    files = [pictures.plot_history(history, folder / "training.png", title)]
    if history.grad_norms:
        files.append(
            pictures.plot_gradient_norms(
                history.grad_norms,
                folder / "gradient_norms.png",
                f"{title}: gradient norm per layer",
                problems=problems,
            )
        )
    if arrays.features == 2 and not arrays.regression:
        boundary = f"{config.data}: test accuracy {test_accuracy:.1%}"
        files.append(
            pictures.plot_decision_boundary(
                model, arrays.X_test, arrays.y_test, folder / "boundary.png", boundary
            )
        )
        if snapshots:
            gif = folder / "boundary.gif"
            files.append(
                pictures.animate_boundaries(
                    snapshots, np.asarray(arrays.X_train), arrays.y_train, gif
                )
            )
    return files


class _Snapshots(Callback):
    """Copies of the model at about 20 moments of training, for the boundary animation."""

    def __init__(self, frames: list[tuple[str, nn.Module]], epochs: int) -> None:
        self.frames, self.every = frames, max(1, epochs // 20)

    def on_epoch_end(self, state: Any) -> None:
        if state.epoch % self.every == 0 or state.epoch == 1:
            snapshot = io.build(io.describe(state.model) or {})
            snapshot.load_state_dict(state.model.state_dict())
            self.frames.append((f"epoch {state.epoch}", snapshot))


def _has_matplotlib() -> bool:
    import importlib.util

    return importlib.util.find_spec("matplotlib") is not None


def _write_json(path: Path, content: dict[str, Any]) -> None:
    text = json.dumps(content, indent=2).encode()
    atomic_write(path, lambda file: file.write(text))
