"""Shared by the ``moons`` and ``spirals`` demonstrations: an MLP's boundary while it trains."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import nn, optim
from ..data import DataLoader, TensorDataset
from ..plots.training import animate_boundaries, draw_decision_boundary
from ..train import Callback, TrainingState, evaluate, fit
from . import _figures
from ._result import DemoResult

GIF_FRAMES = 12
BATCH_SIZE = 32


@dataclass
class BoundaryTrainingResult(DemoResult):
    """Facts of a boundary-during-training demonstration."""

    dataset: str
    description: str
    architecture: str
    epochs: int
    snapshot_epochs: list[int]
    train_loss: list[float]
    train_accuracy: float
    files: list[Path]

    def summary(self) -> str:
        return (
            f"{self.description} "
            f"An MLP {self.architecture} trained with Adam begins with a simple boundary and "
            "bends it, epoch by epoch, to follow the classes; the panels show it after epochs "
            f"{', '.join(map(str, self.snapshot_epochs))}, beside the training loss. "
            f"After {self.epochs} epochs the loss is {self.train_loss[-1]:.3g} and the "
            f"training accuracy {self.train_accuracy:.1%}."
        )


@dataclass(frozen=True)
class BoundaryTrainingSetup:
    """What differs between the moons and the spirals demonstrations."""

    dataset: str
    description: str
    hidden: tuple[int, ...]
    activation: str
    epochs: int
    lr: float


class _Snapshots(Callback):
    """Copies of the model at the end of the chosen epochs."""

    def __init__(self, epochs: set[int]) -> None:
        self.epochs = epochs
        self.models: dict[int, nn.Module] = {}

    def on_epoch_end(self, state: TrainingState) -> None:
        if state.epoch in self.epochs:
            self.models[state.epoch] = _figures.snapshot(state.model)


def snapshot_epochs(epochs: int, count: int) -> list[int]:
    """``count`` epochs from 1 to ``epochs``, spaced evenly on a log scale (early epochs change
    the boundary most), without repeats."""
    spaced = np.geomspace(1, epochs, count)
    return sorted({int(round(value)) for value in spaced} | {1, epochs})


def run_boundary_training(
    setup: BoundaryTrainingSetup,
    X: np.ndarray,
    y: np.ndarray,
    out: Path,
    *,
    seed: int,
    animate: bool,
) -> BoundaryTrainingResult:
    """Train an MLP on (X, y), keep snapshots, and write the boundary-and-loss figure
    ``<dataset>_training.png`` (and ``<dataset>_training.gif`` with ``animate``)."""
    rng = np.random.default_rng(seed)
    model = nn.mlp(2, list(setup.hidden), 2, setup.activation, rng=rng)
    panels = snapshot_epochs(setup.epochs, 4)
    frames = snapshot_epochs(setup.epochs, GIF_FRAMES) if animate else []
    snapshots = _Snapshots(set(panels) | set(frames))
    loss_fn = nn.CrossEntropyLoss()
    history = fit(
        model,
        loss_fn,
        optim.Adam(model.parameters(), lr=setup.lr),
        DataLoader(TensorDataset(X, y), batch_size=BATCH_SIZE, shuffle=True, seed=seed),
        epochs=setup.epochs,
        callbacks=[snapshots],
        progress=False,
    )
    _, accuracy = evaluate(model, loss_fn, (X, y))
    architecture = (
        "-".join(str(width) for width in (2, *setup.hidden, 2)) + f" ({setup.activation})"
    )
    files = [
        _draw(setup, architecture, X, y, snapshots.models, panels, history.train_loss, out),
    ]
    if animate:
        files.append(
            animate_boundaries(
                [(f"{setup.dataset}: epoch {epoch}", snapshots.models[epoch]) for epoch in frames],
                X,
                y,
                out / f"{setup.dataset}_training.gif",
            )
        )
    return BoundaryTrainingResult(
        dataset=setup.dataset,
        description=setup.description,
        architecture=architecture,
        epochs=history.epochs,
        snapshot_epochs=panels,
        train_loss=history.train_loss,
        train_accuracy=accuracy,
        files=files,
    )


def _draw(
    setup: BoundaryTrainingSetup,
    architecture: str,
    X: np.ndarray,
    y: np.ndarray,
    models: dict[int, nn.Module],
    panels: Sequence[int],
    losses: list[float],
    out: Path,
) -> Path:
    figure = _figures.new_figure(13.0, 6.6)
    left, right = figure.subfigures(1, 2, width_ratios=[1.15, 1.0])
    grid = left.subplots(2, 2, sharex=True, sharey=True)
    for axes, epoch in zip(grid.flat, panels):
        draw_decision_boundary(axes, models[epoch], X, y, steps=150)
        _, accuracy = evaluate(models[epoch], nn.CrossEntropyLoss(), (X, y))
        axes.set_title(f"after epoch {epoch}: {accuracy:.0%} correct", fontsize=11)
        axes.label_outer()
    for axes in grid.flat[len(panels) :]:
        axes.set_visible(False)
    left.legend(
        handles=_figures.class_handles(),
        loc="outside lower center",
        ncols=2,
        fontsize=10,
    )
    left.suptitle("Decision regions during training", fontsize=12)

    loss_axes = right.subplots()
    epochs = np.arange(1, len(losses) + 1)
    loss_axes.plot(epochs, losses, color="tab:blue", label="training loss (mean over the epoch)")
    loss_axes.plot(
        list(panels),
        [losses[epoch - 1] for epoch in panels],
        "o",
        color="black",
        markersize=6,
        label="epochs shown on the left",
    )
    loss_axes.set_yscale("log")
    loss_axes.set(xlabel="epoch", ylabel="cross-entropy loss (log scale)")
    loss_axes.set_title("Training loss", fontsize=12)
    loss_axes.grid(alpha=0.3, which="both")
    loss_axes.legend(fontsize=10)
    figure.suptitle(f"{setup.dataset}: an MLP {architecture} learning its boundary", fontsize=13)
    return _figures.save_png(figure, out / f"{setup.dataset}_training.png")
