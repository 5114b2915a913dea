"""A whole training run from a few settings: what ``chainrule train`` does.

Loads a data set by name, builds an MLP, trains it with ``fit``, and writes the model,
``metrics.json``, a checkpoint to resume from and the plots into one folder.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import data, io, nn, optim
from . import random as _random
from ._atomic import atomic_write
from .train import Callback, Checkpoint, GradientNormMonitor, History, evaluate, fit

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
    """Settings of a training run; ``None`` means the data set's default."""

    data: str = "digits"
    hidden: list[int] | None = None
    activation: str | None = None
    optimizer: str = "adam"
    lr: float | None = None
    momentum: float = 0.0
    weight_decay: float = 0.0
    epochs: int | None = None
    batch_size: int | None = None
    seed: int = 0
    val_fraction: float = 0.1
    data_path: str | None = None
    param_tol: float | None = None
    grad_tol: float | None = None
    max_norm: float | None = None
    diagnose: bool = False


# Defaults that train each data set well in seconds to a minute on a CPU.
_DEFAULTS: dict[str, dict[str, Any]] = {
    "digits": dict(hidden=[128], activation="relu", lr=1e-3, epochs=30, batch_size=32),
    "fashion-mnist": dict(hidden=[256, 128], activation="relu", lr=1e-3, epochs=10, batch_size=128),
    "mnist": dict(hidden=[256, 128], activation="relu", lr=1e-3, epochs=10, batch_size=128),
    "toy": dict(hidden=[16, 16], activation="tanh", lr=1e-2, epochs=300, batch_size=64),
}


@dataclass
class RunResult:
    history: History
    test_accuracy: float
    test_loss: float
    out: Path
    files: list[Path] = field(default_factory=list)
    diagnosis: Any = None


def resolved(config: RunConfig) -> RunConfig:
    """The config with every ``None`` replaced by the data set's default."""
    if config.data not in DATASETS:
        raise ValueError(f"unknown data set {config.data!r}; choose from {', '.join(DATASETS)}")
    defaults = _DEFAULTS["toy" if config.data in TOY_SETS else config.data]
    values = asdict(config)
    for key, value in defaults.items():
        if values[key] is None:
            values[key] = value
    return RunConfig(**values)


def load_data(config: RunConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training and test arrays: inputs scaled to [0, 1] (images) as float32, labels int64."""
    if config.data == "digits":
        images, labels = data.load_digits()
        X = images.reshape(len(images), -1).astype(np.float32) / 16
        return data.train_val_split(X, labels, 0.2, seed=12345)
    if config.data in ("fashion-mnist", "mnist"):
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
    X, y = TOY_SETS[config.data](n_samples=400, seed=config.seed)
    return data.train_val_split(X, y, 0.25, seed=config.seed)


def build_optimizer(config: RunConfig, model: nn.Module) -> optim.Optimizer:
    if config.optimizer not in OPTIMIZERS:
        raise ValueError(
            f"unknown optimizer {config.optimizer!r}; choose from {', '.join(OPTIMIZERS)}"
        )
    settings: dict[str, Any] = {"lr": config.lr, "weight_decay": config.weight_decay}
    if config.optimizer in ("sgd", "rmsprop"):
        settings["momentum"] = config.momentum
    return OPTIMIZERS[config.optimizer](model.parameters(), **settings)


def run(
    config: RunConfig,
    out: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    animate: bool = False,
    plots: bool = True,
    distributed: bool = False,
) -> RunResult:
    """Train as ``config`` says and write everything into ``out``.

    With ``distributed=True`` (under ``mpirun -n K``), the K processes train one model with
    ``fit(..., distributed=True)``, and only rank 0 writes files; the others return no files.
    """
    config = resolved(config)
    folder = Path(out)
    X_train, X_test, y_train, y_test = load_data(config)
    X_fit, X_val, y_fit, y_val = data.train_val_split(
        X_train, y_train, config.val_fraction, seed=config.seed
    )
    _random.manual_seed(config.seed)
    classes = int(max(y_train.max(), y_test.max())) + 1
    assert config.hidden is not None and config.activation is not None
    model = nn.mlp(X_train.shape[1], config.hidden, classes, config.activation)
    optimizer = build_optimizer(config, model)
    loss_fn = nn.CrossEntropyLoss()
    main = True  # under MPI, only rank 0 writes files
    if distributed:
        from .distributed import is_main

        main = is_main()
    # Created only once the settings have been accepted, so a refused run leaves nothing.
    if main:
        folder.mkdir(parents=True, exist_ok=True)
    checkpoint = folder / "checkpoint.npz"
    callbacks: list[Any] = [GradientNormMonitor(), Checkpoint(checkpoint)]
    snapshots: list[tuple[str, nn.Module]] = []
    if animate and X_train.shape[1] == 2:
        callbacks.append(_Snapshots(snapshots, config.epochs or 1))
    history = fit(
        model,
        loss_fn,
        optimizer,
        data.DataLoader(
            data.TensorDataset(X_fit, y_fit),
            batch_size=config.batch_size or 32,
            shuffle=True,
            seed=config.seed,
        ),
        (X_val, y_val),
        epochs=config.epochs or 1,
        callbacks=callbacks,
        progress=progress,
        resume_from=checkpoint if resume else None,
        param_tol=config.param_tol,
        grad_tol=config.grad_tol,
        max_norm=config.max_norm,
        distributed=distributed,
    )
    test_loss, test_accuracy = evaluate(model, loss_fn, (X_test, y_test))
    if not main:  # every rank holds the same model; rank 0 writes it
        return RunResult(history, test_accuracy, test_loss, folder)
    files = [folder / "model.npz", folder / "metrics.json"]
    diagnosis = None
    if config.diagnose:
        from .diagnostics import diagnose

        # Dead units are judged on up to 1,000 training samples; gradient norms are the last
        # epoch's averages from the monitor.
        diagnosis = diagnose(model, loss_fn, X_fit[:1000], y_fit[:1000], history=history)
        files.append(folder / "diagnosis.json")
        _write_json(files[-1], diagnosis.to_dict())
    io.save(
        model,
        files[0],
        {"config": asdict(config), "test_accuracy": test_accuracy, "classes": classes},
    )
    metrics = {
        **history.to_dict(),
        "test_accuracy": test_accuracy,
        "test_loss": test_loss,
        "config": asdict(config),
    }
    _write_json(files[1], metrics)
    if plots and not _has_matplotlib():
        print(
            "chainrule: plots skipped (pip install 'chainrule[cli]' for matplotlib)",
            file=sys.stderr,
        )
    elif plots:
        from . import plots as pictures

        title = (
            f"{config.data}: MLP {X_train.shape[1]}-{'-'.join(map(str, config.hidden))}-{classes}"
        )
        files.append(pictures.plot_history(history, folder / "training.png", title))
        if history.grad_norms:
            files.append(
                pictures.plot_gradient_norms(
                    history.grad_norms,
                    folder / "gradient_norms.png",
                    f"{title}: gradient norm per layer",
                    problems=diagnosis.problems if diagnosis is not None else (),
                )
            )
        if X_train.shape[1] == 2:
            files.append(
                pictures.plot_decision_boundary(
                    model,
                    X_test,
                    y_test,
                    folder / "boundary.png",
                    f"{config.data}: test accuracy {test_accuracy:.1%}",
                )
            )
            if snapshots:
                files.append(
                    pictures.animate_boundaries(
                        snapshots, X_train, y_train, folder / "boundary.gif"
                    )
                )
    return RunResult(history, test_accuracy, test_loss, folder, files, diagnosis)


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
