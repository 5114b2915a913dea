"""``chainrule demo nearest-mean``: nearest mean and perceptron on two elongated classes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..classic import NearestMeanClassifier, Perceptron
from ..data import make_elongated
from . import _figures
from ._result import DemoResult

N_SAMPLES = 200
LENGTH = 5.0
MAX_EPOCHS = 1000


@dataclass
class NearestMeanResult(DemoResult):
    """Facts of the nearest-mean versus perceptron demonstration."""

    n_samples: int
    nearest_mean_errors: int
    perceptron_errors: int
    perceptron_converged: bool
    means: np.ndarray
    files: list[Path]

    @property
    def nearest_mean_error_rate(self) -> float:
        return self.nearest_mean_errors / self.n_samples

    def summary(self) -> str:
        perceptron = (
            "the perceptron, which moves its line only when it makes a mistake, separates "
            f"them with {self.perceptron_errors} errors"
            if self.perceptron_converged
            else f"the perceptron did not converge and makes {self.perceptron_errors} errors"
        )
        return (
            "The two classes are long, thin and parallel, shifted against each other along "
            "their length, so a horizontal line separates them. "
            "The nearest-mean rule's boundary is the perpendicular bisector of the line "
            "between the class means, which cuts across both classes: it misclassifies "
            f"{self.nearest_mean_errors} of {self.n_samples} points "
            f"({self.nearest_mean_error_rate:.0%}). "
            f"On the same data {perceptron}."
        )


def run(out: Path, *, seed: int = 0, animate: bool = False) -> NearestMeanResult:
    """Fit both classifiers to ``make_elongated`` data and draw them side by side.

    Writes ``nearest_mean_vs_perceptron.png``. ``animate`` is accepted for a uniform interface
    and ignored: there is nothing that changes over time here.
    """
    X, y = make_elongated(N_SAMPLES, length=LENGTH, seed=seed)
    nearest = NearestMeanClassifier().fit(X, y)
    perceptron = Perceptron(max_epochs=MAX_EPOCHS).fit(X, y)
    wrong = nearest.predict(X) != y
    nearest_errors = int(np.count_nonzero(wrong))
    perceptron_errors = int(np.count_nonzero(perceptron.predict(X) != y))

    figure = _figures.new_figure(12.0, 4.1)
    left, right = figure.subplots(1, 2, sharey=True)
    xlim, _ = _figures.limits(X, pad=0.04)
    ylim = (-0.28 * (xlim[1] - xlim[0]), 0.28 * (xlim[1] - xlim[0]))
    w, b = nearest.as_linear()
    _figures.draw_linear_rule(left, w, b, xlim, ylim, label="nearest-mean boundary")
    _draw_means(left, nearest.means_)
    _figures.scatter_classes(left, X, y, size=12)
    left.scatter(
        X[wrong, 0],
        X[wrong, 1],
        marker="x",
        s=22,
        color="black",
        linewidths=1.0,
        zorder=4,
        label="misclassified",
    )
    left.set_title(
        f"Nearest mean: {nearest_errors} of {len(X)} wrong ({nearest_errors / len(X):.0%})",
        fontsize=12,
    )
    _figures.draw_linear_rule(
        right,
        perceptron.coef_[0],
        float(perceptron.intercept_[0]),
        xlim,
        ylim,
        label="perceptron boundary",
    )
    _figures.scatter_classes(right, X, y, size=12)
    right.set_title(
        f"Perceptron: {perceptron_errors} of {len(X)} wrong "
        f"({'converged' if perceptron.converged_ else 'not converged'} "
        f"in {perceptron.n_epochs_} epochs)",
        fontsize=12,
    )
    for axes in (left, right):
        axes.set(xlabel="x₁", aspect="equal")
        axes.legend(loc="upper left", fontsize=9, framealpha=0.9, ncols=2, markerscale=0.7)
    left.set_ylabel("x₂")
    figure.suptitle(
        "Two elongated classes: the nearest-mean rule cuts through them, "
        "a perceptron separates them",
        fontsize=13,
    )
    path = _figures.save_png(figure, out / "nearest_mean_vs_perceptron.png")
    return NearestMeanResult(
        n_samples=len(X),
        nearest_mean_errors=nearest_errors,
        perceptron_errors=perceptron_errors,
        perceptron_converged=perceptron.converged_,
        means=nearest.means_,
        files=[path],
    )


def _draw_means(axes: Any, means: np.ndarray) -> None:
    """Both class means as large stars, joined by the dotted segment the boundary bisects."""
    axes.plot(means[:, 0], means[:, 1], color="black", linestyle=":", linewidth=1.5, zorder=4)
    for label, (mean, colour) in enumerate(zip(means, _figures.CLASS_COLOURS)):
        axes.scatter(
            mean[0],
            mean[1],
            marker="*",
            s=380,
            color=colour,
            edgecolors="black",
            linewidths=1.2,
            zorder=5,
            label=f"mean of class {label}",
        )
