"""``chainrule demo encoder``: the 8-3-8 encoder squeezes eight one-hot patterns through 3 units."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import nn, optim
from ..data import make_encoder
from ..engine.graph import no_grad
from ..train import fit
from . import _figures
from ._result import DemoResult

N_PATTERNS = 8
N_HIDDEN = 3
EPOCHS = 300
LEARNING_RATE = 0.1
NEAR_BINARY = 0.1
"""A hidden value within this distance of 0 or 1 counts as a clean bit."""


@dataclass
class EncoderResult(DemoResult):
    """Facts of the encoder demonstration: ``hidden[k]`` is pattern k's hidden code."""

    hidden: np.ndarray
    outputs: np.ndarray
    n_reconstructed: int
    final_loss: float
    epochs: int
    files: list[Path]

    @property
    def n_patterns(self) -> int:
        return len(self.hidden)

    @property
    def n_near_binary(self) -> int:
        return int(np.count_nonzero(np.minimum(self.hidden, 1 - self.hidden) < NEAR_BINARY))

    @property
    def n_distinct_codes(self) -> int:
        return len({tuple(row) for row in (self.hidden > 0.5).astype(int)})

    def summary(self) -> str:
        binary = (
            self.n_distinct_codes == self.n_patterns
            and self.n_near_binary >= 0.75 * self.hidden.size
        )
        verdict = (
            "so the network has invented a (nearly) binary code of its own"
            if binary
            else "so besides near-binary values the code also uses values in between"
        )
        return (
            f"The network must pass each of {self.n_patterns} one-hot patterns through only "
            f"{self.hidden.shape[1]} sigmoid hidden units and reproduce it at the output. "
            f"After {self.epochs} epochs it reconstructs {self.n_reconstructed} of the "
            f"{self.n_patterns} patterns, with the hidden values below: "
            f"{self.n_near_binary} of {self.hidden.size} are within {NEAR_BINARY} of 0 or 1 "
            f"and, rounded, they give {self.n_distinct_codes} different codes, {verdict}."
        )

    def details(self) -> str:
        units = "".join(f"{f'h{unit + 1}':>7}" for unit in range(self.hidden.shape[1]))
        lines = [f"{'input':<{self.n_patterns + 2}}{units}   rounded  reconstructed as"]
        for index, (row, output) in enumerate(zip(self.hidden, self.outputs)):
            pattern = "".join("1" if k == index else "0" for k in range(self.n_patterns))
            values = "".join(f"{value:7.2f}" for value in row)
            bits = "".join(str(int(value > 0.5)) for value in row)
            guess = int(np.argmax(output))
            decoded = "".join("1" if k == guess else "0" for k in range(self.n_patterns))
            lines.append(f"{pattern:<{self.n_patterns + 2}}{values}   {bits:<7}  {decoded}")
        return "\n".join(lines)


def run(out: Path, *, seed: int = 0, animate: bool = False) -> EncoderResult:
    """Train the 8-3-8 encoder and draw its hidden codes and its reconstructions.

    Writes ``encoder.png``: a heat map of the hidden values of the eight patterns, a heat map
    of the output probabilities, and the loss curve. ``animate`` is accepted and ignored.
    """
    X, _ = make_encoder(N_PATTERNS)
    targets = np.arange(N_PATTERNS)
    rng = np.random.default_rng(seed)
    model = nn.mlp(N_PATTERNS, [N_HIDDEN], N_PATTERNS, "sigmoid", rng=rng)
    # One batch of all eight patterns: plain full-batch training, as in the original study.
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        optim.Adam(model.parameters(), lr=LEARNING_RATE),
        (X, targets),
        epochs=EPOCHS,
        batch_size=N_PATTERNS,
        shuffle=False,
        progress=False,
    )
    model.eval()
    with no_grad():
        hidden = np.asarray(model[1](model[0](X)).data, dtype=np.float64)
        logits = np.asarray(model(X).data, dtype=np.float64)
    outputs = np.exp(logits - logits.max(axis=1, keepdims=True))
    outputs /= outputs.sum(axis=1, keepdims=True)
    reconstructed = int(np.count_nonzero(outputs.argmax(axis=1) == targets))
    path = _draw(hidden, outputs, history.train_loss, out / "encoder.png")
    return EncoderResult(
        hidden=hidden,
        outputs=outputs,
        n_reconstructed=reconstructed,
        final_loss=history.train_loss[-1],
        epochs=history.epochs,
        files=[path],
    )


def _draw(hidden: np.ndarray, outputs: np.ndarray, losses: list[float], path: Path) -> Path:
    count = len(hidden)
    patterns = [f"pattern {k + 1}" for k in range(count)]
    figure = _figures.new_figure(14.0, 5.0)
    code_axes, output_axes, loss_axes = figure.subplots(
        1, 3, gridspec_kw={"width_ratios": [0.9, 2.0, 1.6]}
    )

    image = code_axes.imshow(hidden, cmap="Greys", vmin=0, vmax=1, aspect="auto")
    for (row, column), value in np.ndenumerate(hidden):
        code_axes.text(
            column,
            row,
            f"{value:.2f}",
            ha="center",
            va="center",
            fontsize=10,
            color="white" if value > 0.5 else "black",
        )
    code_axes.set_xticks(range(hidden.shape[1]), [f"h{k + 1}" for k in range(hidden.shape[1])])
    code_axes.set_yticks(range(count), patterns)
    code_axes.set(xlabel="hidden unit", ylabel="input (one-hot)")
    code_axes.set_title("Hidden values", fontsize=12)
    figure.colorbar(image, ax=code_axes, label="sigmoid output", shrink=0.9)

    image = output_axes.imshow(outputs, cmap="viridis", vmin=0, vmax=1)
    output_axes.set_xticks(range(count), [str(k + 1) for k in range(count)])
    output_axes.set_yticks(range(count), patterns)
    output_axes.set(xlabel="output unit", ylabel="input (one-hot)")
    output_axes.set_title("Reconstruction: output probabilities", fontsize=12)
    figure.colorbar(image, ax=output_axes, label="softmax probability", shrink=0.9)

    loss_axes.plot(np.arange(1, len(losses) + 1), losses, color="tab:blue", label="training loss")
    loss_axes.set_yscale("log")
    loss_axes.set(xlabel="epoch", ylabel="cross-entropy (log scale)")
    loss_axes.set_title("Training loss", fontsize=12)
    loss_axes.grid(alpha=0.3, which="both")
    loss_axes.legend(fontsize=10)
    figure.suptitle(
        f"The {count}-{hidden.shape[1]}-{count} encoder: each pattern squeezed through "
        f"{hidden.shape[1]} units",
        fontsize=13,
    )
    return _figures.save_png(figure, path)
