"""``chainrule demo activations``: activation functions, their derivatives, vanishing gradients.

To add an activation, append an ``Activation`` to ``ACTIVATIONS``: its function written with
chainrule's differentiable ops is enough, because the derivative is drawn from backpropagation
(``cr.grad``), not from a formula typed in by hand. Set ``z_range`` and ``samples`` for functions
that need another window or a finer grid (a shifted ReLU, a fast sine). Add its name to
``COMPARED`` to also train the deep network with it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import nn, ops, optim
from ..creation import tensor
from ..data import DataLoader, TensorDataset, make_moons
from ..tensor import Tensor
from ..train import GradientNormMonitor, evaluate, fit
from ..transforms import grad
from . import _figures
from ._result import DemoResult


@dataclass(frozen=True)
class Activation:
    """An activation function as the demonstration draws and trains it."""

    name: str
    """Short name, used in legends and in ``COMPARED``."""
    formula: str
    """Its definition, in matplotlib's mathtext."""
    function: Callable[[Tensor], Tensor]
    """The function, written with chainrule's ops so that backpropagation gives its derivative."""
    z_range: tuple[float, float] = (-5.0, 5.0)
    samples: int = 1001
    note: str = ""
    """Shown in the derivative panel (for instance where the derivative is zero or undefined)."""


ACTIVATIONS: tuple[Activation, ...] = (
    Activation("sigmoid", r"$\sigma(z) = 1 / (1 + e^{-z})$", ops.sigmoid),
    Activation("tanh", r"$\tanh(z)$", ops.tanh),
    Activation("ReLU", r"$\max(0, z)$", ops.relu),
    Activation(
        "sign",
        r"$\mathrm{sign}(z)$",
        ops.sign,
        note="0 wherever it exists\n(undefined at z = 0):\nno gradient flows back",
    ),
)

COMPARED: tuple[str, ...] = ("sigmoid", "ReLU")
"""The hidden units of the deep networks trained side by side."""

PER_ROW = 4
DEPTH = 6
WIDTH = 16
EPOCHS = 40
LEARNING_RATE = 0.05


class ActivationLayer(nn.Module):
    """A parameter-free layer applying an ``Activation``'s function elementwise."""

    def __init__(self, activation: Activation) -> None:
        super().__init__()
        self.activation = activation

    def forward(self, x: Any) -> Tensor:
        return self.activation.function(x)

    def extra_repr(self) -> str:
        return self.activation.name


def curve(activation: Activation) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(z, f(z), f'(z))`` on the activation's grid, f' by backpropagation in float64."""
    z = np.linspace(*activation.z_range, activation.samples)

    def total(values: Tensor) -> Tensor:
        # The sum's gradient is the vector of elementwise derivatives f'(z_i).
        return ops.sum(activation.function(values))

    derivative = np.asarray(grad(total)(z).data, dtype=np.float64)
    values = np.asarray(activation.function(tensor(z)).data, dtype=np.float64)
    return z, values, derivative


@dataclass
class DeepRun:
    """One deep network's training: loss per epoch and mean gradient norm per linear layer
    (layer 1 next to the input, the last one the output layer)."""

    activation: str
    train_loss: list[float]
    train_accuracy: float
    layer_grad_norms: list[float]
    first_layer_norms: list[float]


@dataclass
class ActivationsResult(DemoResult):
    """Facts of the activations demonstration, one ``DeepRun`` per compared activation."""

    runs: dict[str, DeepRun]
    depth: int
    files: list[Path]

    def first_layer_grad_norm(self, activation: str) -> float:
        return self.runs[activation].layer_grad_norms[0]

    def summary(self) -> str:
        sigmoid, relu = self.runs["sigmoid"], self.runs["ReLU"]
        return (
            "The first figure draws each activation function above its derivative, the "
            "derivative computed by backpropagation; the sigmoid's never exceeds 0.25. "
            f"In a network of {self.depth} hidden layers such factors multiply, layer after "
            "layer: the first layer's gradient is "
            f"{_relative(sigmoid.layer_grad_norms[0] / sigmoid.layer_grad_norms[-1])} the "
            "output layer's with sigmoid units, and "
            f"{_relative(relu.layer_grad_norms[0] / relu.layer_grad_norms[-1])} it with ReLU "
            "units (same starting weights). "
            f"After {len(sigmoid.train_loss)} epochs the sigmoid network's loss is still "
            f"{sigmoid.train_loss[-1]:.3f} ({sigmoid.train_accuracy:.0%} correct), the ReLU "
            f"network's {relu.train_loss[-1]:.3f} ({relu.train_accuracy:.0%} correct)."
        )


def _relative(ratio: float) -> str:
    """A ratio in words: "1/480 of" or "1.4 times"."""
    if ratio < 1:
        return f"1/{1 / ratio:.0f} of"
    return f"{ratio:.1f} times"


def run(out: Path, *, seed: int = 0, animate: bool = False) -> ActivationsResult:
    """Draw the activations and their derivatives; train the same deep network with each of
    ``COMPARED`` and draw its losses and per-layer gradient norms.

    Writes ``activations.png`` and ``vanishing_gradients.png``. ``animate`` is accepted and
    ignored.
    """
    files = [_draw_curves(ACTIVATIONS, out / "activations.png")]
    X, y = make_moons(200, noise=0.2, seed=seed)
    by_name = {activation.name: activation for activation in ACTIVATIONS}
    runs = {name: _train_deep(by_name[name], X, y, seed) for name in COMPARED}
    files.append(_draw_training(runs, out / "vanishing_gradients.png"))
    return ActivationsResult(runs=runs, depth=DEPTH, files=files)


def deep_network(activation: Activation, rng: np.random.Generator) -> nn.Sequential:
    """2 inputs, ``DEPTH`` hidden layers of ``WIDTH`` units, 2 logits; He-normal weights and
    zero biases, so that two networks built from equal generators start from equal weights."""
    layers: list[nn.Module] = []
    width = 2
    for _ in range(DEPTH):
        layers += [nn.Linear(width, WIDTH, rng=rng), ActivationLayer(activation)]
        width = WIDTH
    layers.append(nn.Linear(width, 2, rng=rng))
    for layer in layers:
        if isinstance(layer, nn.Linear):
            nn.init.he_normal_(layer.weight, rng=rng)
            assert layer.bias is not None
            nn.init.zeros_(layer.bias)
    return nn.Sequential(*layers)


def _train_deep(activation: Activation, X: np.ndarray, y: np.ndarray, seed: int) -> DeepRun:
    model = deep_network(activation, np.random.default_rng(seed))
    loss_fn = nn.CrossEntropyLoss()
    # Plain SGD: adaptive optimisers such as Adam rescale each gradient and would hide how
    # small the early layers' gradients are.
    history = fit(
        model,
        loss_fn,
        optim.SGD(model.parameters(), lr=LEARNING_RATE),
        DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True, seed=seed),
        epochs=EPOCHS,
        callbacks=[GradientNormMonitor()],
        progress=False,
    )
    _, accuracy = evaluate(model, loss_fn, (X, y))
    linear_names = [
        str(position) for position, layer in enumerate(model) if isinstance(layer, nn.Linear)
    ]
    norms = [float(np.mean(history.grad_norms[name])) for name in linear_names]
    return DeepRun(
        activation=activation.name,
        train_loss=history.train_loss,
        train_accuracy=accuracy,
        layer_grad_norms=norms,
        first_layer_norms=history.grad_norms[linear_names[0]],
    )


def _draw_curves(activations: Sequence[Activation], path: Path) -> Path:
    # At most PER_ROW activations side by side; more continue in another pair of rows.
    columns = min(len(activations), PER_ROW)
    pairs = math.ceil(len(activations) / PER_ROW)
    figure = _figures.new_figure(3.2 * columns, 3.1 * 2 * pairs)
    grid = figure.subplots(2 * pairs, columns, squeeze=False)
    for unused in range(len(activations), pairs * columns):
        pair, column = divmod(unused, columns)
        grid[2 * pair, column].set_visible(False)
        grid[2 * pair + 1, column].set_visible(False)
    for index, activation in enumerate(activations):
        z, values, derivative = curve(activation)
        pair, column = divmod(index, columns)
        top, bottom = grid[2 * pair, column], grid[2 * pair + 1, column]
        top.plot(z, values, color="tab:blue", linewidth=2, label=activation.formula)
        top.set_title(activation.name, fontsize=13)
        top.set(xlabel="z", ylabel="f(z)")
        bottom.plot(z, derivative, color="tab:orange", linewidth=2, label="f′(z) by backprop")
        bottom.set(xlabel="z", ylabel="f′(z)")
        bottom.set_title(f"derivative of {activation.name}", fontsize=11)
        _pad_limits(bottom, derivative)
        _pad_limits(top, values)
        if activation.note:
            bottom.text(
                0.5,
                0.6,
                activation.note,
                transform=bottom.transAxes,
                ha="center",
                va="center",
                fontsize=9,
                bbox={"facecolor": "white", "edgecolor": "gray", "alpha": 0.9},
            )
        for axes in (top, bottom):
            axes.axhline(0, color="gray", linewidth=0.6)
            axes.axvline(0, color="gray", linewidth=0.6)
            axes.grid(alpha=0.3)
            axes.legend(loc="upper left", fontsize=9)
    figure.suptitle("Activation functions (above) and their derivatives (below)", fontsize=14)
    return _figures.save_png(figure, path)


def _pad_limits(axes: Any, values: np.ndarray) -> None:
    """Leave room above the curve for the legend, and keep flat curves off the frame."""
    low, high = float(np.min(values)), float(np.max(values))
    # A constant (such as the sign's derivative) gets a unit-high window instead of none.
    span = high - low if high - low > 1e-6 else 1.0
    axes.set_ylim(low - 0.1 * span, high + 0.45 * span)


def _draw_training(runs: dict[str, DeepRun], path: Path) -> Path:
    figure = _figures.new_figure(15.0, 4.8)
    loss_axes, layer_axes, time_axes = figure.subplots(1, 3)
    colours = dict(zip(runs, ("tab:purple", "tab:green", "tab:red", "tab:brown")))
    for name, result in runs.items():
        epochs = np.arange(1, len(result.train_loss) + 1)
        loss_axes.plot(
            epochs,
            result.train_loss,
            color=colours[name],
            linewidth=2,
            label=f"{name} ({result.train_accuracy:.0%} correct at the end)",
        )
        layers = np.arange(1, len(result.layer_grad_norms) + 1)
        layer_axes.plot(
            layers, result.layer_grad_norms, "o-", color=colours[name], linewidth=2, label=name
        )
        time_axes.plot(
            epochs, result.first_layer_norms, color=colours[name], linewidth=2, label=name
        )
    loss_axes.set(xlabel="epoch", ylabel="training loss (cross-entropy)")
    loss_axes.set_title("Training loss", fontsize=12)
    loss_axes.axhline(math.log(2), color="gray", linestyle=":", label="chance level (log 2)")
    layer_axes.set_yscale("log")
    n_layers = len(next(iter(runs.values())).layer_grad_norms)
    layer_axes.set_xticks(
        range(1, n_layers + 1),
        ["1\ninput"] + [str(k) for k in range(2, n_layers)] + [f"{n_layers}\noutput"],
    )
    layer_axes.set(xlabel="linear layer", ylabel="gradient norm (mean over training, log)")
    layer_axes.set_title("Gradient norm per layer", fontsize=12)
    time_axes.set_yscale("log")
    time_axes.set(xlabel="epoch", ylabel="gradient norm of layer 1 (log)")
    time_axes.set_title("First layer's gradient during training", fontsize=12)
    for axes in (loss_axes, layer_axes, time_axes):
        axes.grid(alpha=0.3, which="both")
        axes.legend(fontsize=9)
    figure.suptitle(
        f"The same network ({DEPTH} hidden layers of {WIDTH}, equal starting weights, SGD) "
        "with different hidden units",
        fontsize=13,
    )
    return _figures.save_png(figure, path)
