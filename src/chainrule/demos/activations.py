"""``chainrule demo activations``: activation functions, their derivatives, vanishing gradients,
and three activations that cannot train.

To add an activation, append an ``Activation`` to ``ACTIVATIONS``: its function written with
chainrule's differentiable ops is enough, because the derivative is drawn from backpropagation
(``cr.grad``), not from a formula typed in by hand. Set ``z_range`` and ``samples`` for functions
that need another window or a finer grid (a shifted ReLU, a fast sine). Add its name to
``COMPARED`` to also train the deep network with it, and to ``TRAINED`` to train the small
network whose every unit applies it.

A good activation for gradient descent has a derivative that is (1) defined almost everywhere,
(2) non-zero on much of the domain and (3) informative: its sign and size say which way, and how
far, to move. The step 1[z > 0] and max(0, z - 100) break (2), sin(100 z) breaks (3).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .. import nn, ops, optim
from ..data import DataLoader, TensorDataset, make_moons
from ..engine.creation import tensor
from ..engine.derivatives import grad
from ..engine.tensor import Tensor
from ..train import GradientNormMonitor, History, evaluate, fit
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
    breaks: str = ""
    """Which of ``CONDITIONS`` its derivative fails, if any."""


CONDITIONS: tuple[str, str, str] = (
    "defined almost everywhere",
    "non-zero on much of the domain",
    "informative",
)
"""What an activation's derivative needs for gradient descent to train a network of its units."""

SINE_FREQUENCY = 100.0
SHIFT = 100.0


def fast_sine(z: Tensor) -> Tensor:
    """sin(100 z): a derivative of ±100 whose sign flips every π/100 ≈ 0.03 in z."""
    return ops.sin(SINE_FREQUENCY * z)


def shifted_relu(z: Tensor) -> Tensor:
    """max(0, z - 100): ReLU moved so far right that no unit starts in its sloped part."""
    return ops.relu(z - SHIFT)


ACTIVATIONS: tuple[Activation, ...] = (
    Activation("sigmoid", r"$\sigma(z) = 1 / (1 + e^{-z})$", ops.sigmoid),
    Activation("tanh", r"$\tanh(z)$", ops.tanh),
    Activation("ReLU", r"$\max(0, z)$", ops.relu),
    Activation(
        "sign",
        r"$\mathrm{sign}(z)$",
        ops.sign,
        note="0 wherever it exists\n(undefined at z = 0):\nno gradient flows back",
        breaks=CONDITIONS[1],
    ),
    Activation(
        "shifted ReLU",
        r"$\max(0, z - 100)$",
        shifted_relu,
        z_range=(-50.0, 150.0),
        note="0 for every z < 100,\nwhere all units start:\nno gradient flows back",
        breaks=CONDITIONS[1],
    ),
    Activation(
        "step",
        r"$\mathbf{1}[z > 0]$",
        ops.heaviside,
        note="0 wherever it exists\n(undefined at z = 0):\nno gradient flows back",
        breaks=CONDITIONS[1],
    ),
    Activation(
        "sin(100z)",
        r"$\sin(100 z)$",
        fast_sine,
        z_range=(-0.25, 0.25),
        samples=4001,
        note="±100, sign flips every 0.03:\nsays nothing about\nwhich way to move",
        breaks=CONDITIONS[2],
    ),
)

COMPARED: tuple[str, ...] = ("sigmoid", "ReLU")
"""The hidden units of the deep networks trained side by side."""

TRAINED: tuple[str, ...] = ("sigmoid", "tanh", "ReLU", "shifted ReLU", "step", "sin(100z)")
"""The activations of the small all-units network trained in ``activations_training.png``."""

PER_ROW = 4
DEPTH = 6
WIDTH = 16
EPOCHS = 40
LEARNING_RATE = 0.05
UNIT_WIDTH = 16
UNIT_EPOCHS = 100
UNIT_LEARNING_RATE = 0.01
OUTPUT_BIAS = 0.5
"""The output unit's starting bias, midway between the targets 0 and 1: with ReLU units it
keeps the output unit in its sloped part for most points, so that it does not die at the
first steps (with bias 0 it did for 3 of 12 seeds)."""


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
    """One network's training: loss per epoch and mean gradient norm per linear layer
    (layer 1 next to the input, the last one the output layer)."""

    activation: str
    train_loss: list[float]
    train_accuracy: float
    layer_grad_norms: list[float]
    first_layer_norms: list[float]
    """The first layer's gradient norm, averaged over each epoch's batches."""


@dataclass
class ActivationsResult(DemoResult):
    """Facts of the activations demonstration: one ``DeepRun`` per activation of ``COMPARED``
    (the deep network) and one per activation of ``TRAINED`` (the small all-units network)."""

    runs: dict[str, DeepRun]
    depth: int
    files: list[Path]
    unit_runs: dict[str, DeepRun] = field(default_factory=dict)
    breaks: dict[str, str] = field(default_factory=dict)
    """For each activation of ``unit_runs``, the condition it breaks ("" for none)."""

    def first_layer_grad_norm(self, activation: str) -> float:
        return self.runs[activation].layer_grad_norms[0]

    def summary(self) -> str:
        sigmoid, relu = self.runs["sigmoid"], self.runs["ReLU"]
        units = self.unit_runs
        good = ", ".join(f"{units[name].train_loss[-1]:.3f}" for name in ("sigmoid", "tanh"))
        return (
            "The first figure draws each activation above its derivative, computed by "
            "backpropagation: gradient descent needs a derivative that is defined almost "
            "everywhere (all of these are: the ReLUs, sign and the step lack one only at a "
            "single z), non-zero on much of the domain, and informative. "
            "The second trains one small network, every unit of it the activation, on two "
            "moons: sigmoid, tanh and ReLU bring the squared error down to "
            f"{good} and {units['ReLU'].train_loss[-1]:.3f}, while the step and "
            "max(0, z − 100), whose derivatives are 0 at every z their units see, break the "
            "second condition and their losses stay at "
            f"{units['step'].train_loss[-1]:.3f} and {units['shifted ReLU'].train_loss[-1]:.3f}, "
            "and sin(100 z), whose derivative flips sign every 0.03 and so breaks the third, "
            f"ends at {units['sin(100z)'].train_loss[-1]:.3f}. "
            f"In the third, a network of {self.depth} hidden layers, the sigmoid's derivative "
            "(at most 0.25) multiplies layer after layer: the first layer's gradient is "
            f"{_relative(sigmoid.layer_grad_norms[0] / sigmoid.layer_grad_norms[-1])} the "
            "output layer's with sigmoid units and "
            f"{_relative(relu.layer_grad_norms[0] / relu.layer_grad_norms[-1])} it with ReLU "
            f"units (same starting weights), and after {len(sigmoid.train_loss)} epochs the "
            f"sigmoid network's loss is still {sigmoid.train_loss[-1]:.3f} "
            f"({sigmoid.train_accuracy:.0%} correct), the ReLU network's "
            f"{relu.train_loss[-1]:.3f} ({relu.train_accuracy:.0%} correct)."
        )

    def details(self) -> str:
        if not self.unit_runs:
            return ""
        epochs = len(next(iter(self.unit_runs.values())).train_loss)
        lines = [
            f"The small network (2-{UNIT_WIDTH}-{UNIT_WIDTH}-1, every unit the activation, "
            f"squared error, Adam, {epochs} epochs):",
            "",
            f"{'activation':<14}{'breaks':<32}{'loss first':>11}{'last':>8}{'correct':>9}"
            f"{'layer-1 gradient (mean)':>25}",
        ]
        for name, result in self.unit_runs.items():
            lines.append(
                f"{name:<14}{self.breaks.get(name) or '-':<32}{result.train_loss[0]:>11.3f}"
                f"{result.train_loss[-1]:>8.3f}{result.train_accuracy:>9.0%}"
                f"{result.layer_grad_norms[0]:>25.3g}"
            )
        return "\n".join(lines)


def _relative(ratio: float) -> str:
    """A ratio in words: "1/480 of" or "1.4 times"."""
    if ratio < 1:
        return f"1/{1 / ratio:.0f} of"
    return f"{ratio:.1f} times"


def run(out: Path, *, seed: int = 0, animate: bool = False) -> ActivationsResult:
    """Draw the activations and their derivatives; train the small all-units network with each
    of ``TRAINED`` and the deep network with each of ``COMPARED``, and draw their losses and
    gradient norms.

    Writes ``activations.png``, ``activations_training.png`` and ``vanishing_gradients.png``.
    ``animate`` is accepted and ignored.
    """
    files = [_draw_curves(ACTIVATIONS, out / "activations.png")]
    X, y = make_moons(200, noise=0.2, seed=seed)
    by_name = {activation.name: activation for activation in ACTIVATIONS}
    unit_runs = {name: _train_units(by_name[name], X, y, seed) for name in TRAINED}
    files.append(_draw_unit_training(unit_runs, by_name, out / "activations_training.png"))
    runs = {name: _train_deep(by_name[name], X, y, seed) for name in COMPARED}
    files.append(_draw_training(runs, out / "vanishing_gradients.png"))
    return ActivationsResult(
        runs=runs,
        depth=DEPTH,
        files=files,
        unit_runs=unit_runs,
        breaks={name: by_name[name].breaks for name in TRAINED},
    )


def unit_network(activation: Activation, rng: np.random.Generator) -> nn.Sequential:
    """2 inputs, two hidden layers of ``UNIT_WIDTH`` units and one output unit, every unit (the
    output too) applying the activation; He-normal weights, zero hidden biases and an output
    bias of ``OUTPUT_BIAS``.

    The output is not linear on purpose: a linear output layer would learn even on top of step
    units (a linear model of fixed random features), and hide that no gradient passes them.
    """
    layers: list[nn.Module] = []
    for width_in, width_out in ((2, UNIT_WIDTH), (UNIT_WIDTH, UNIT_WIDTH), (UNIT_WIDTH, 1)):
        linear = nn.Linear(width_in, width_out, rng=rng)
        nn.init.he_normal_(linear.weight, rng=rng)
        assert linear.bias is not None
        nn.init.zeros_(linear.bias)
        layers += [linear, ActivationLayer(activation)]
    output = layers[-2]
    assert isinstance(output, nn.Linear) and output.bias is not None
    output.bias.data = np.full(1, OUTPUT_BIAS, dtype=output.bias.data.dtype)
    return nn.Sequential(*layers)


def _train_units(activation: Activation, X: np.ndarray, y: np.ndarray, seed: int) -> DeepRun:
    from ..engine.graph import no_grad

    model = unit_network(activation, np.random.default_rng(seed))
    targets = y.reshape(-1, 1).astype(X.dtype)
    history = fit(
        model,
        nn.MSELoss(),
        optim.Adam(model.parameters(), lr=UNIT_LEARNING_RATE),
        DataLoader(TensorDataset(X, targets), batch_size=32, shuffle=True, seed=seed),
        epochs=UNIT_EPOCHS,
        callbacks=[GradientNormMonitor()],
        progress=False,
    )
    model.eval()
    with no_grad():
        outputs = np.asarray(model(X).data).reshape(-1)
    # The output unit's value is read as "class 1" above 0.5, the middle of the targets.
    accuracy = float(np.mean((outputs > 0.5) == (y == 1)))
    return _deep_run(activation, model, history, accuracy)


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
    return _deep_run(activation, model, history, accuracy)


def _deep_run(
    activation: Activation, model: nn.Sequential, history: History, accuracy: float
) -> DeepRun:
    """The facts of one training run: its losses, and the gradient norms that
    ``GradientNormMonitor`` recorded for each linear layer of ``model``."""
    linear_names = [
        str(position) for position, layer in enumerate(model) if isinstance(layer, nn.Linear)
    ]
    return DeepRun(
        activation=activation.name,
        train_loss=history.train_loss,
        train_accuracy=accuracy,
        layer_grad_norms=[float(np.mean(history.grad_norms[name])) for name in linear_names],
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
        # A note goes between the curve and the legend: it needs room of its own.
        _pad_limits(bottom, derivative, headroom=1.1 if activation.note else 0.45)
        _pad_limits(top, values)
        if activation.note:
            bottom.text(
                0.5,
                0.72,
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


def _pad_limits(axes: Any, values: np.ndarray, headroom: float = 0.45) -> None:
    """Leave ``headroom`` (a fraction of the curve's height) above the curve for the legend,
    and keep flat curves off the frame."""
    low, high = float(np.min(values)), float(np.max(values))
    # A constant (such as the sign's derivative) gets a unit-high window instead of none.
    span = high - low if high - low > 1e-6 else 1.0
    axes.set_ylim(low - 0.1 * span, high + headroom * span)


UNIT_STYLES: dict[str, dict[str, Any]] = {
    "sigmoid": {"color": "tab:purple"},
    "tanh": {"color": "tab:blue"},
    "ReLU": {"color": "tab:green"},
    "shifted ReLU": {"color": "tab:orange", "linestyle": "--"},
    "step": {"color": "tab:red", "linestyle": ":"},
    "sin(100z)": {"color": "tab:gray"},
}
"""How ``activations_training.png`` draws each activation (the broken ones dashed or dotted)."""


def _draw_unit_training(
    runs: dict[str, DeepRun], activations: dict[str, Activation], path: Path
) -> Path:
    figure = _figures.new_figure(14.0, 6.0)
    loss_axes, gradient_axes = figure.subplots(1, 2)
    for name, result in runs.items():
        style = {"linewidth": 2.2, **UNIT_STYLES.get(name, {})}
        broken = activations[name].breaks
        label = f"{activations[name].formula}: " + (
            f"breaks “{broken}”" if broken else f"{result.train_accuracy:.0%} correct"
        )
        epochs = np.arange(1, len(result.train_loss) + 1)
        loss_axes.plot(epochs, result.train_loss, label=label, **style)
        gradient_axes.plot(epochs, result.first_layer_norms, **style)
    loss_axes.axhline(0.25, color="black", linewidth=0.8, linestyle="-.")
    loss_axes.annotate(
        "answering 0.5 for every point",
        xy=(0.98, 0.25),
        xycoords=("axes fraction", "data"),
        xytext=(0, 4),
        textcoords="offset points",
        ha="right",
        va="bottom",
        fontsize=9,
    )
    loss_axes.set(xlabel="epoch", ylabel="training loss (mean squared error)", ylim=(0, None))
    loss_axes.set_title("Training loss: the same network with each activation", fontsize=12)
    # symlog: the gradients that are exactly 0 stay on the plot, beside ones of 10^5.
    gradient_axes.set_yscale("symlog", linthresh=1e-3)
    gradient_axes.set(xlabel="epoch", ylabel="gradient norm of layer 1 (symmetric log)")
    gradient_axes.set_title("Gradient reaching the first layer", fontsize=12)
    zero = [name for name, result in runs.items() if max(result.first_layer_norms) == 0]
    if zero:
        gradient_axes.annotate(
            f"{' and '.join(zero)}: exactly 0",
            xy=(0.5, 0.0),
            xycoords=("axes fraction", "data"),
            xytext=(0, 6),
            textcoords="offset points",
            ha="center",
            va="bottom",
            fontsize=10,
        )
    figure.legend(loc="outside lower center", ncols=3, fontsize=10, frameon=False)
    for axes in (loss_axes, gradient_axes):
        axes.grid(alpha=0.3, which="both")
    figure.suptitle(
        f"Two moons, network 2-{UNIT_WIDTH}-{UNIT_WIDTH}-1 whose every unit applies the "
        "activation (equal starting weights, Adam)",
        fontsize=13,
    )
    return _figures.save_png(figure, path)


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
