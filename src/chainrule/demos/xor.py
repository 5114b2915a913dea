"""``chainrule demo xor``: no line separates XOR, so a perceptron fails; one hidden layer works."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import nn, optim
from ..classic import Perceptron
from ..data import DataLoader, TensorDataset, make_xor
from ..plots.training import draw_decision_boundary
from ..train import History, evaluate, fit
from . import _figures
from ._result import DemoResult

N_SAMPLES = 200
PERCEPTRON_EPOCHS = 100
HIDDEN = 8
NETWORK_EPOCHS = 150
LEARNING_RATE = 0.05
RECENT_LINES = 8


@dataclass
class XorResult(DemoResult):
    """Facts of the XOR demonstration."""

    n_samples: int
    perceptron_converged: bool
    perceptron_epochs: int
    perceptron_accuracy: float
    network_accuracy: float
    network_epochs: int
    files: list[Path]

    def summary(self) -> str:
        verdict = (
            "did not converge" if not self.perceptron_converged else "converged (unexpectedly)"
        )
        return (
            "No straight line separates XOR: points on one diagonal are class 0, on the other "
            f"class 1. The perceptron {verdict} in {self.perceptron_epochs} epochs "
            f"(converged_ is {self.perceptron_converged}) and its last line classifies only "
            f"{self.perceptron_accuracy:.0%} of the points correctly. "
            f"A network with one hidden layer of {HIDDEN} tanh units bends its boundary around "
            f"the corners and reaches {self.network_accuracy:.0%} training accuracy in "
            f"{self.network_epochs} epochs."
        )


def run(out: Path, *, seed: int = 0, animate: bool = False) -> XorResult:
    """Fit a perceptron and a 2-layer network to XOR data and draw both boundaries.

    Writes ``xor.png``: the perceptron's final line, the network's regions, and the fraction of
    training errors per epoch of both. ``animate`` is accepted and ignored.
    """
    X, y = make_xor(N_SAMPLES, seed=seed)
    perceptron = Perceptron(max_epochs=PERCEPTRON_EPOCHS).fit(X, y, record=True)
    rng = np.random.default_rng(seed)
    network = nn.mlp(2, [HIDDEN], 2, "tanh", rng=rng)
    loss_fn = nn.CrossEntropyLoss()
    history = fit(
        network,
        loss_fn,
        optim.Adam(network.parameters(), lr=LEARNING_RATE),
        DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True, seed=seed),
        epochs=NETWORK_EPOCHS,
        progress=False,
    )
    _, network_accuracy = evaluate(network, loss_fn, (X, y))

    figure = _figures.new_figure(15.0, 4.9)
    left, middle, right = figure.subplots(1, 3)
    _draw_perceptron(left, perceptron, X, y)
    draw_decision_boundary(middle, network, X, y)
    middle.set_title(
        f"Network 2-{HIDDEN}-2 (tanh), {history.epochs} epochs\n"
        f"training accuracy {network_accuracy:.0%}",
        fontsize=12,
    )
    middle.legend(
        handles=_figures.class_handles(), loc="upper center", fontsize=9, framealpha=0.9, ncols=2
    )
    _draw_errors(right, perceptron, history, len(X))
    figure.suptitle("XOR: one line is not enough, one hidden layer is", fontsize=13)
    path = _figures.save_png(figure, out / "xor.png")
    return XorResult(
        n_samples=len(X),
        perceptron_converged=perceptron.converged_,
        perceptron_epochs=perceptron.n_epochs_,
        perceptron_accuracy=perceptron.score(X, y),
        network_accuracy=network_accuracy,
        network_epochs=history.epochs,
        files=[path],
    )


def _draw_perceptron(axes: Any, perceptron: Perceptron, X: np.ndarray, y: np.ndarray) -> None:
    """The perceptron's last lines (grey) and its final one, over the data."""
    assert perceptron.history_ is not None
    xlim, ylim = _figures.limits(X, pad=0.1)
    recent = perceptron.history_[-RECENT_LINES - 1 : -1]
    for number, update in enumerate(recent):
        _figures.draw_line(
            axes,
            update.coef[0],
            float(update.intercept[0]),
            xlim,
            ylim,
            color="dimgray",
            linewidth=1.0,
            alpha=0.6,
            label=f"its {len(recent)} lines before" if number == 0 else None,
        )
    w, b = perceptron.coef_[0], float(perceptron.intercept_[0])
    visible = _figures.crosses_view(w, b, xlim, ylim)
    label = "its last line" if visible else "its last line (outside this view)"
    _figures.draw_linear_rule(axes, w, b, xlim, ylim, label=label)
    _figures.scatter_classes(axes, X, y, size=14)
    axes.set(xlabel="x₁", ylabel="x₂", aspect="equal")
    accuracy = perceptron.score(X, y)
    axes.set_title(
        f"Perceptron, {perceptron.n_epochs_} epochs: not converged\naccuracy {accuracy:.0%}"
        if not perceptron.converged_
        else f"Perceptron: converged, accuracy {accuracy:.0%}",
        fontsize=12,
    )
    axes.legend(loc="upper center", fontsize=9, framealpha=0.9, ncols=2)


def _draw_errors(axes: Any, perceptron: Perceptron, history: History, samples: int) -> None:
    """The fraction of training points wrong in each epoch, for both learners."""
    assert perceptron.history_ is not None
    mistakes = np.bincount(
        [update.epoch for update in perceptron.history_], minlength=perceptron.n_epochs_ + 1
    )[1:]
    axes.plot(
        np.arange(1, len(mistakes) + 1),
        mistakes / samples,
        color="dimgray",
        label="perceptron (mistakes in the epoch)",
    )
    axes.plot(
        np.arange(1, history.epochs + 1),
        1.0 - np.asarray(history.train_accuracy),
        color="tab:green",
        label="network (errors during the epoch)",
    )
    axes.set(xlabel="epoch", ylabel="fraction of training points wrong", ylim=(-0.02, 1.0))
    axes.set_title("Training errors per epoch", fontsize=12)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=9)
