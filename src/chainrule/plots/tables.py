"""Pictures of a table model's test predictions: the confusion matrix of a classifier, and
predicted against true values for a regression. matplotlib's object API, imported lazily."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .figure import new_figure, save_figure

# Beyond this many classes the matrix's cells are too small to label.
_LABELLED_CLASSES = 30


def plot_confusion_matrix(
    matrix: np.ndarray, classes: Sequence[str], path: str | Path, title: str = ""
) -> Path:
    """Rows are the true classes, columns the predicted ones; each cell shows its count and is
    shaded by the fraction of its row (the recall of the row's class on the diagonal)."""
    size = min(4 + 0.45 * len(classes), 16)
    figure = new_figure(size + 1.5, size)
    axes = figure.subplots()
    totals = matrix.sum(axis=1, keepdims=True)
    shares = np.divide(matrix, totals, out=np.zeros(matrix.shape), where=totals > 0)
    image = axes.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    figure.colorbar(image, ax=axes, label="fraction of the true class", shrink=0.8)
    if len(classes) <= _LABELLED_CLASSES:
        ticks = np.arange(len(classes))
        labels = [_short(name) for name in classes]
        axes.set_xticks(ticks, labels, rotation=45, ha="right")
        axes.set_yticks(ticks, labels)
        for row in range(len(classes)):
            for column in range(len(classes)):
                colour = "white" if shares[row, column] > 0.6 else "black"
                axes.text(
                    column, row, f"{matrix[row, column]:,}", ha="center", va="center", color=colour
                )
    axes.set(xlabel="predicted class", ylabel="true class", title=title or "confusion matrix")
    return save_figure(figure, path)


def plot_predictions(
    true: np.ndarray, predicted: np.ndarray, path: str | Path, title: str = "", name: str = ""
) -> Path:
    """Predicted against true values, with the diagonal a perfect model would lie on (a
    random sample of 20,000 points where there are more)."""
    if len(true) > 20_000:
        chosen = np.random.default_rng(0).choice(len(true), 20_000, replace=False)
        true, predicted = true[chosen], predicted[chosen]
    figure = new_figure(6, 6)
    axes = figure.subplots()
    axes.scatter(true, predicted, s=8, alpha=0.5, edgecolors="none")
    low = float(min(true.min(), predicted.min()))
    high = float(max(true.max(), predicted.max()))
    axes.plot([low, high], [low, high], color="black", linewidth=1, label="predicted = true")
    label = f" {name}" if name else ""
    axes.set(xlabel=f"true{label}", ylabel=f"predicted{label}", title=title or "test predictions")
    axes.set_aspect("equal", adjustable="datalim")
    axes.grid(alpha=0.3)
    axes.legend(loc="upper left")
    return save_figure(figure, path)


def _short(name: str, limit: int = 24) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "…"
