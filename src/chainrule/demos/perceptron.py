"""``chainrule demo perceptron``: Rosenblatt's rule at work, one boundary per update."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..classic import Perceptron, PerceptronUpdate
from ..data import make_separable
from . import _figures
from ._result import DemoResult

N_SAMPLES = 40
MARGIN = 0.05
MAX_PANELS = 12


@dataclass
class PerceptronResult(DemoResult):
    """Facts of the perceptron demonstration."""

    n_samples: int
    converged: bool
    n_epochs: int
    n_updates: int
    training_errors: int
    files: list[Path]

    def summary(self) -> str:
        ending = (
            f"it converged after {self.n_epochs} epochs, the last one without a mistake, and "
            f"now makes {self.training_errors} errors on the {self.n_samples} training points"
            if self.converged
            else f"it did not converge in {self.n_epochs} epochs"
        )
        return (
            "The perceptron starts with zero weights and changes them only when a sample is on "
            "the wrong side of its line: w ← w + t·x, b ← b + t. "
            f"On this linearly separable data it made {self.n_updates} updates; {ending}. "
            "Each panel shows the line after one update, with the sample that caused it circled."
        )


def run(out: Path, *, seed: int = 0, animate: bool = False) -> PerceptronResult:
    """Train a perceptron on separable 2-D data and draw its boundary after each update.

    Writes ``perceptron_updates.png`` (one panel per update, at most 12), and
    ``perceptron_overlay.png`` (all boundaries, older ones fainter); with ``animate`` also
    ``perceptron.gif`` (one frame per update).
    """
    X, y = make_separable(N_SAMPLES, margin=MARGIN, seed=seed)
    model = Perceptron().fit(X, y, record=True)
    assert model.history_ is not None
    history = model.history_
    errors = int(np.count_nonzero(model.predict(X) != y))
    files = [
        _draw_updates(X, y, history, out / "perceptron_updates.png"),
        _draw_overlay(X, y, history, out / "perceptron_overlay.png"),
    ]
    if animate:
        files.append(_animate(X, y, history, out / "perceptron.gif"))
    return PerceptronResult(
        n_samples=len(X),
        converged=model.converged_,
        n_epochs=model.n_epochs_,
        n_updates=model.n_updates_,
        training_errors=errors,
        files=files,
    )


def _chosen_updates(count: int) -> list[int]:
    """Indices of the updates to draw: all of them, or ``MAX_PANELS`` spread evenly."""
    if count <= MAX_PANELS:
        return list(range(count))
    return sorted({round(k) for k in np.linspace(0, count - 1, MAX_PANELS)})


def _draw_panel(
    axes: Any,
    X: np.ndarray,
    y: np.ndarray,
    history: list[PerceptronUpdate],
    index: int,
) -> None:
    xlim, ylim = _figures.limits(X)
    update = history[index]
    if index > 0:
        before = history[index - 1]
        _figures.draw_line(
            axes,
            before.coef[0],
            float(before.intercept[0]),
            xlim,
            ylim,
            color="dimgray",
            linestyle="--",
            linewidth=1.2,
            label="line before the update",
        )
    w, b = update.coef[0], float(update.intercept[0])
    _figures.draw_linear_rule(axes, w, b, xlim, ylim, label="line after the update")
    if not _figures.crosses_view(w, b, xlim, ylim):
        # Early on b is large next to w (b moves by ±1, w by a sample), so the line can lie
        # outside the data: everything is then one class.
        axes.text(
            0.5,
            0.04,
            "line outside this view",
            transform=axes.transAxes,
            ha="center",
            fontsize=9,
            bbox={"facecolor": "white", "edgecolor": "gray", "alpha": 0.85},
        )
    _figures.scatter_classes(axes, X, y, size=14)
    axes.scatter(
        X[update.sample, 0],
        X[update.sample, 1],
        s=170,
        facecolors="none",
        edgecolors="black",
        linewidths=1.8,
        zorder=4,
        label="mistake that caused the update",
    )
    axes.set_title(f"update {index + 1} (epoch {update.epoch})", fontsize=11)
    axes.set_xlabel("x₁")
    axes.set_ylabel("x₂")
    axes.set_aspect("equal")


def _draw_updates(
    X: np.ndarray, y: np.ndarray, history: list[PerceptronUpdate], path: Path
) -> Path:
    chosen = _chosen_updates(len(history))
    columns = min(4, len(chosen))
    rows = math.ceil(len(chosen) / columns)
    figure = _figures.new_figure(3.0 * columns, 3.0 * rows + 0.9)
    figure.get_layout_engine().set(h_pad=0.12)
    grid = figure.subplots(rows, columns, squeeze=False, sharex=True, sharey=True)
    for position, axes in enumerate(grid.flat):
        if position < len(chosen):
            _draw_panel(axes, X, y, history, chosen[position])
            axes.label_outer()
        else:
            axes.set_visible(False)
    shown = "every update" if len(chosen) == len(history) else f"{len(chosen)} of the updates"
    figure.suptitle(f"The perceptron's boundary after {shown} ({len(history)} in all)", fontsize=13)
    handles, labels = grid.flat[min(1, len(chosen) - 1)].get_legend_handles_labels()
    figure.legend(handles, labels, loc="outside lower center", ncols=3, fontsize=10)
    return _figures.save_png(figure, path)


def _draw_overlay(
    X: np.ndarray, y: np.ndarray, history: list[PerceptronUpdate], path: Path
) -> Path:
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    xlim, ylim = _figures.limits(X)
    figure = _figures.new_figure(6.4, 5.4)
    axes = figure.subplots()
    colours = colormaps["viridis"]
    norm = Normalize(1, max(len(history), 2))
    for number, update in enumerate(history[:-1], start=1):
        # Older lines fainter, so the eye follows the rule settling down.
        _figures.draw_line(
            axes,
            update.coef[0],
            float(update.intercept[0]),
            xlim,
            ylim,
            color=colours(norm(number)),
            alpha=0.25 + 0.6 * number / len(history),
            linewidth=1.4,
        )
    final = history[-1]
    _figures.draw_linear_rule(
        axes,
        final.coef[0],
        float(final.intercept[0]),
        xlim,
        ylim,
        label=f"final line (update {len(history)})",
        linewidth=2.5,
    )
    _figures.scatter_classes(axes, X, y)
    colourbar = figure.colorbar(ScalarMappable(norm=norm, cmap=colours), ax=axes, shrink=0.8)
    colourbar.set_label("update number (fainter = earlier)")
    axes.set(xlabel="x₁", ylabel="x₂", aspect="equal")
    axes.set_title("All the perceptron's boundaries, oldest faintest", fontsize=12)
    axes.legend(loc="best", fontsize=9, framealpha=0.9)
    return _figures.save_png(figure, path)


def _animate(X: np.ndarray, y: np.ndarray, history: list[PerceptronUpdate], path: Path) -> Path:
    figure = _figures.new_figure(7.2, 4.6)
    axes = figure.subplots()

    def draw_frame(index: int) -> None:
        axes.clear()
        _draw_panel(axes, X, y, history, index)
        axes.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8)

    return _figures.save_gif(figure, draw_frame, len(history), path)
