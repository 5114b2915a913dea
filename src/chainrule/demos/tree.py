"""``chainrule demo tree``: a decision tree is a network with two hidden layers; made smooth, that
network can be fine-tuned by backpropagation.

``chainrule.classic.tree_to_network`` turns a fitted tree into a network whose first hidden
layer tests the split conditions and whose second detects the leaves. With step units it
predicts exactly what the tree predicts; with sigmoids it is differentiable, and gradient descent
moves and rounds off the tree's axis-parallel boundaries. Needs scikit-learn (the ``sklearn``
extra) for the tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import nn, optim
from ..classic import tree_to_network
from ..data import make_moons, train_val_split
from ..engine.graph import no_grad
from ..train import fit
from . import _figures
from ._result import DemoResult

N_SAMPLES = 400
"""Half for training, half for testing."""
NOISE = 0.25
MAX_DEPTH = 4
STEEPNESS = 5.0
"""k in σ(k·z) of the network that is fine-tuned: steep enough to start near the tree, soft
enough for gradients to pass."""
FINE_TUNE_STEPS = 300
LEARNING_RATE = 0.02
GRID = 300
"""Points per side of the grid on which the regions are drawn and compared."""


@dataclass
class TreeResult(DemoResult):
    """Facts of the tree demonstration (accuracies are fractions of points classified
    correctly; ``grid_agreement`` is the fraction of grid points where the step network and the
    tree predict the same class)."""

    max_depth: int
    n_leaves: int
    n_splits: int
    n_train: int
    n_test: int
    grid_points: int
    grid_agreement: float
    tree_train_accuracy: float
    tree_test_accuracy: float
    step_train_accuracy: float
    step_test_accuracy: float
    tuned_train_accuracy: float
    tuned_test_accuracy: float
    steepness: float
    steps: int
    fine_tune_loss: list[float]
    files: list[Path]

    @property
    def agreement(self) -> str:
        """``grid_agreement`` as a percentage; "100%" only when every grid point agrees."""
        return "100%" if self.grid_agreement == 1.0 else f"{self.grid_agreement:.2%}"

    def summary(self) -> str:
        side = round(self.grid_points**0.5)
        return (
            f"A decision tree of depth {self.max_depth} with {self.n_leaves} leaves, fitted to "
            f"{self.n_train} points of two moons, cuts the plane into axis-parallel boxes "
            f"(train {self.tree_train_accuracy:.1%}, test {self.tree_test_accuracy:.1%} on "
            f"{self.n_test} other points). "
            f"tree_to_network turns it into a network of {self.n_splits} step units that test "
            f"the splits, {self.n_leaves} that detect the leaves and a linear output, whose "
            f"regions agree with the tree's on {self.agreement} of a {side}x{side} grid. "
            f"With every step replaced by a sigmoid of steepness {self.steepness:g} the "
            f"network becomes differentiable, and {self.steps} steps of Adam on the training "
            "points move and round off its boundaries: train "
            f"{self.tuned_train_accuracy:.1%}, test {self.tuned_test_accuracy:.1%}."
        )


def run(out: Path, *, seed: int = 0, animate: bool = False) -> TreeResult:
    """Fit a tree, convert it with step and with sigmoid units, fine-tune the sigmoid network,
    and draw the three decision regions side by side.

    Writes ``tree_network.png``. ``animate`` is accepted and ignored.

    Raises
    ------
    ImportError
        When scikit-learn is not installed.
    """
    try:
        from sklearn.tree import DecisionTreeClassifier
    except ImportError as error:
        raise ImportError(
            'the tree demonstration needs scikit-learn: pip install "chainrule[sklearn]"'
        ) from error
    X, y = make_moons(N_SAMPLES, noise=NOISE, seed=seed)
    X_train, X_test, y_train, y_test = train_val_split(X, y, val_fraction=0.5, seed=seed)
    tree = DecisionTreeClassifier(max_depth=MAX_DEPTH, random_state=seed).fit(X_train, y_train)
    step_network = tree_to_network(tree, activation="step")
    tuned = tree_to_network(tree, activation="sigmoid", steepness=STEEPNESS)
    # Full batch: each epoch of fit is one Adam step on all training points.
    history = fit(
        tuned,
        nn.CrossEntropyLoss(),
        optim.Adam(tuned.parameters(), lr=LEARNING_RATE),
        (X_train, y_train),
        epochs=FINE_TUNE_STEPS,
        batch_size=len(X_train),
        progress=False,
    )

    xlim, ylim = _figures.limits(X, pad=0.1)
    grid_x, grid_y = np.meshgrid(np.linspace(*xlim, GRID), np.linspace(*ylim, GRID))
    points = np.column_stack([grid_x.ravel(), grid_y.ravel()]).astype(X.dtype)
    regions = {
        "tree": np.asarray(tree.predict(points)).reshape(grid_x.shape),
        "step": _predict(step_network, points).reshape(grid_x.shape),
        "tuned": _predict(tuned, points).reshape(grid_x.shape),
    }
    result = TreeResult(
        max_depth=int(tree.get_depth()),
        n_leaves=int(tree.get_n_leaves()),
        n_splits=int(tree.tree_.node_count - tree.get_n_leaves()),
        n_train=len(X_train),
        n_test=len(X_test),
        grid_points=points.shape[0],
        grid_agreement=float(np.mean(regions["step"] == regions["tree"])),
        tree_train_accuracy=float(tree.score(X_train, y_train)),
        tree_test_accuracy=float(tree.score(X_test, y_test)),
        step_train_accuracy=_accuracy(step_network, X_train, y_train),
        step_test_accuracy=_accuracy(step_network, X_test, y_test),
        tuned_train_accuracy=_accuracy(tuned, X_train, y_train),
        tuned_test_accuracy=_accuracy(tuned, X_test, y_test),
        steepness=STEEPNESS,
        steps=history.epochs,
        fine_tune_loss=history.train_loss,
        files=[],
    )
    result.files.append(
        _draw(result, grid_x, grid_y, regions, X_train, y_train, out / "tree_network.png")
    )
    return result


def _predict(network: nn.Module, X: np.ndarray) -> np.ndarray:
    """The class with the largest output (the network's parameters are float64, so X is
    compared with the thresholds exactly)."""
    network.eval()
    with no_grad():
        scores = np.asarray(network(X.astype(np.float64)).data)
    return np.asarray(scores.argmax(axis=1))


def _accuracy(network: nn.Module, X: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(_predict(network, X) == y))


def _draw(
    result: TreeResult,
    grid_x: np.ndarray,
    grid_y: np.ndarray,
    regions: dict[str, np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    path: Path,
) -> Path:
    figure = _figures.new_figure(16.5, 5.6)
    tree_axes, step_axes, tuned_axes = figure.subplots(1, 3)
    panels: list[tuple[Any, str, str]] = [
        (
            tree_axes,
            "tree",
            f"Decision tree (depth {result.max_depth}, {result.n_leaves} leaves)\n"
            f"train {result.tree_train_accuracy:.1%}, test {result.tree_test_accuracy:.1%}",
        ),
        (
            step_axes,
            "step",
            f"Network from the tree, step units ({result.n_splits}+{result.n_leaves} hidden)\n"
            f"train {result.step_train_accuracy:.1%}, test {result.step_test_accuracy:.1%}; "
            f"same class as the tree on {result.agreement} of the grid",
        ),
        (
            tuned_axes,
            "tuned",
            f"Sigmoid units (steepness {result.steepness:g}), {result.steps} Adam steps\n"
            f"train {result.tuned_train_accuracy:.1%}, test {result.tuned_test_accuracy:.1%}",
        ),
    ]
    for axes, key, title in panels:
        # The same colour map and levels as chainrule.plots.training' decision regions.
        axes.contourf(
            grid_x,
            grid_y,
            regions[key],
            levels=[-0.5, 0.5, 1.5],
            cmap="coolwarm",
            alpha=_figures.REGION_ALPHA,
        )
        if key == "tuned":
            axes.contour(
                grid_x,
                grid_y,
                regions["tree"],
                levels=[0.5],
                colors="dimgray",
                linewidths=1.2,
                linestyles="--",
            )
        axes.contour(grid_x, grid_y, regions[key], levels=[0.5], colors="black", linewidths=1.6)
        _figures.scatter_classes(axes, X, y, size=14)
        axes.set(xlabel="x₁", ylabel="x₂", aspect="equal")
        axes.set_title(title, fontsize=11)
    figure.legend(
        handles=_figures.class_handles()
        + _figures.legend_handles(
            [
                ("boundary of the panel's model", {"color": "black", "linewidth": 1.6}),
                (
                    "the tree's boundary, for comparison",
                    {"color": "dimgray", "linewidth": 1.2, "linestyle": "--"},
                ),
            ]
        ),
        loc="outside lower center",
        ncols=4,
        fontsize=10,
        frameon=False,
    )
    figure.suptitle(
        "A decision tree, the same tree as a network, and that network fine-tuned "
        f"(training points of two moons shown; tested on {result.n_test} others)",
        fontsize=13,
    )
    return _figures.save_png(figure, path)
