"""Pictures of training: loss and accuracy curves, decision boundaries (PNG, and GIF frames).

Uses matplotlib's object API (``Figure``, never pyplot state), imported inside the functions so
that ``import chainrule`` stays light; matplotlib comes with the ``cli`` extra.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..engine.graph import no_grad
from ..engine.tensor import Tensor
from .figure import new_figure, save_animation, save_figure


def plot_history(history: Any, path: str | Path, title: str = "") -> Path:
    """Loss per epoch (train and validation) beside accuracy per epoch, saved as a PNG; the
    loss alone for a run that records no accuracy (a regression)."""
    with_accuracy = bool(history.train_accuracy)
    figure = new_figure(10 if with_accuracy else 6, 4)
    panels = figure.subplots(1, 2 if with_accuracy else 1)
    loss_axes = panels[0] if with_accuracy else panels
    epochs = np.arange(1, len(history.train_loss) + 1)
    loss_axes.plot(epochs, history.train_loss, marker="o", markersize=3, label="training")
    if history.val_loss:
        loss_axes.plot(epochs, history.val_loss, marker="o", markersize=3, label="validation")
    loss_axes.set(xlabel="epoch", ylabel="loss", title="loss")
    if min(history.train_loss) > 0 and max(history.train_loss) / min(history.train_loss) > 50:
        loss_axes.set_yscale("log")
    used = [loss_axes]
    if with_accuracy:
        accuracy_axes = panels[1]
        accuracy_axes.plot(
            epochs, history.train_accuracy, marker="o", markersize=3, label="training"
        )
        if history.val_accuracy:
            accuracy_axes.plot(
                epochs, history.val_accuracy, marker="o", markersize=3, label="validation"
            )
        accuracy_axes.set(xlabel="epoch", ylabel="accuracy", title="accuracy", ylim=(0, 1.02))
        used.append(accuracy_axes)
    for axes in used:
        axes.grid(alpha=0.3)
        axes.legend()
    if title:
        figure.suptitle(title)
    return save_figure(figure, path, tight=True)


def _grid(X: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    low, high = X.min(axis=0), X.max(axis=0)
    margin = 0.1 * (high - low) + 1e-3
    xs = np.linspace(low[0] - margin[0], high[0] + margin[0], steps)
    ys = np.linspace(low[1] - margin[1], high[1] + margin[1], steps)
    grid_x, grid_y = np.meshgrid(xs, ys)
    return grid_x, grid_y, np.column_stack([grid_x.ravel(), grid_y.ravel()])


_CHUNK_ROWS = 1024


def _predict_classes(model: Any, points: np.ndarray) -> np.ndarray:
    was_training = getattr(model, "training", False)
    if was_training:
        model.eval()
    try:
        # In chunks: a wide network's activations for a whole grid would not fit in memory.
        with no_grad():
            scores = np.concatenate(
                [
                    np.asarray(model(Tensor._wrap(chunk.astype(np.float32))).data)
                    for chunk in np.array_split(points, max(1, -(-len(points) // _CHUNK_ROWS)))
                ]
            )
    finally:
        if was_training:
            model.train()
    if scores.ndim == 2 and scores.shape[1] > 1:
        return np.asarray(scores.argmax(axis=1))
    return np.asarray(scores.reshape(-1) > 0, dtype=int)


def draw_decision_boundary(
    axes: Any, model: Any, X: np.ndarray, y: np.ndarray, steps: int = 200, title: str = ""
) -> None:
    """Colour the plane by the model's predicted class and scatter the samples on top."""
    grid_x, grid_y, points = _grid(X, steps)
    classes = _predict_classes(model, points).reshape(grid_x.shape)
    n_classes = int(max(classes.max(), y.max())) + 1
    levels = np.arange(n_classes + 1) - 0.5
    axes.contourf(
        grid_x,
        grid_y,
        classes,
        levels=levels,
        cmap="coolwarm" if n_classes == 2 else "tab10",
        alpha=0.35,
    )
    axes.scatter(
        X[:, 0],
        X[:, 1],
        c=y,
        cmap="coolwarm" if n_classes == 2 else "tab10",
        vmin=0,
        vmax=max(n_classes - 1, 1),
        s=12,
        edgecolors="black",
        linewidths=0.3,
    )
    axes.set(xlabel="x₁", ylabel="x₂", title=title)
    axes.set_aspect("equal", adjustable="box")


def plot_decision_boundary(
    model: Any, X: np.ndarray, y: np.ndarray, path: str | Path, title: str = ""
) -> Path:
    """The decision regions of a model on two-dimensional data, saved as a PNG."""
    figure = new_figure(5.5, 5)
    draw_decision_boundary(figure.subplots(), model, X, y, title=title)
    return save_figure(figure, path, tight=True)


def animate_boundaries(
    frames: Sequence[tuple[str, Any]],
    X: np.ndarray,
    y: np.ndarray,
    path: str | Path,
    fps: int = 4,
) -> Path:
    """A GIF of decision boundaries, one frame per (title, model snapshot)."""
    figure = new_figure(5.5, 5)
    axes = figure.subplots()

    def draw(index: int) -> None:
        axes.clear()
        title, model = frames[index]
        draw_decision_boundary(axes, model, X, y, steps=120, title=title)

    return save_animation(figure, draw, len(frames), path, fps=fps)


def plot_gradient_norms(
    grad_norms: dict[str, list[float]],
    path: str | Path,
    title: str = "gradient norm per layer",
    problems: Sequence[str] = (),
) -> Path:
    """Each layer's gradient norm per epoch (``History.grad_norms``), log scale, so vanishing
    (a curve far below the others) and exploding gradients can be seen; PNG."""
    if not grad_norms:
        raise ValueError("plot_gradient_norms: no gradient norms (train with GradientNormMonitor)")
    figure = new_figure(7, 4.5)
    axes = figure.subplots()
    colours = _layer_colours(len(grad_norms))
    for (layer, norms), colour in zip(grad_norms.items(), colours):
        epochs = np.arange(1, len(norms) + 1)
        shown = np.where(np.asarray(norms) > 0, norms, np.nan)  # zero has no place on a log axis
        axes.plot(epochs, shown, marker="o", markersize=3, color=colour, label=f"layer {layer}")
    axes.set_yscale("log")
    axes.set(xlabel="epoch", ylabel="gradient norm (mean over batches)", title=title)
    from matplotlib.ticker import MaxNLocator

    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.grid(alpha=0.3, which="both")
    # Outside the axes, where it covers no curve.
    axes.legend(fontsize="small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    if problems:
        # Below the plot, where it covers no curve; bbox_inches="tight" keeps it in the file.
        figure.text(
            0.01, -0.01, "\n".join(problems[:6]), fontsize="small", va="top", color="firebrick"
        )
    return save_figure(figure, path, tight=True)


def _layer_colours(count: int) -> list[Any]:
    """Colours from the first layer (dark) to the last (light), so depth reads at a glance."""
    from matplotlib import colormaps

    cmap = colormaps["viridis"]
    return [cmap(i / max(count - 1, 1) * 0.9) for i in range(count)]
