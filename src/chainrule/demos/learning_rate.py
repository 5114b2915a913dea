"""``chainrule demo learning-rate``: the same problem with a too small, a good and a too large
learning rate; the divergence guard stops the too large one."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import nn, optim
from ..engine.graph import no_grad
from ..train import Callback, TrainingDiverged, TrainingState, fit
from . import _figures
from ._result import DemoResult

N_SAMPLES = 100
EPOCHS = 300
HIDDEN = 16
RATES: tuple[tuple[str, float], ...] = (("too small", 0.003), ("good", 0.1), ("too large", 0.5))
"""(label, learning rate) of each run, in the order they are drawn."""
DIVERGENCE_FACTOR = 1e3
"""fit's default: a loss above this many times max(first loss, 1) counts as divergence."""


@dataclass
class RateRun:
    """One learning rate's run. ``losses[k]`` is the loss before step k + 1 (full batch, so one
    step per epoch); for a diverged run the last entry is the loss that stopped it."""

    label: str
    lr: float
    losses: list[float]
    diverged: bool
    message: str

    @property
    def final_loss(self) -> float:
        return self.losses[-1]

    @property
    def steps(self) -> int:
        return len(self.losses) - 1 if self.diverged else len(self.losses)


@dataclass
class LearningRateResult(DemoResult):
    """Facts of the learning-rate demonstration, keyed by the runs' labels."""

    runs: dict[str, RateRun]
    files: list[Path]

    def summary(self) -> str:
        small, good, large = (self.runs[label] for label, _ in RATES)
        if large.diverged:
            ending = (
                f"{large.lr:g} overshoots: the loss grows instead of shrinking, until after "
                f"{large.steps} steps the divergence guard stops the run with TrainingDiverged "
                "(the cross on the plot)."
            )
        else:
            ending = f"{large.lr:g} did not diverge this time (final loss {large.final_loss:.3g})."
        return (
            "Each run fits the same noisy sine with the same network and starting weights by "
            "full-batch gradient descent; only the learning rate differs. "
            f"After {small.steps} steps the loss is {small.final_loss:.3g} with rate {small.lr:g} "
            f"(too small: far from done) and {good.final_loss:.3g} with rate {good.lr:g}; "
            f"the rate {ending}"
        )


class _LossRecorder(Callback):
    """The loss of every batch: unlike ``History``, it survives a ``TrainingDiverged``."""

    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_batch_end(self, state: TrainingState) -> None:
        self.losses.append(state.loss)


def make_problem(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A noisy sine on [-2, 2]: y = sin(2x) + 0.1·noise, as float32 column vectors."""
    rng = np.random.default_rng(seed)
    X = np.linspace(-2.0, 2.0, N_SAMPLES)[:, None]
    y = np.sin(2.0 * X) + 0.1 * rng.standard_normal(X.shape)
    return X.astype(np.float32), y.astype(np.float32)


def run(out: Path, *, seed: int = 0, animate: bool = False) -> LearningRateResult:
    """Train the same network three times, once per rate in ``RATES``, and draw the losses.

    Writes ``learning_rates.png``: the three loss curves on one log-scale plot (the diverged
    run up to where the guard stopped it) beside the fitted curves. ``animate`` is accepted
    and ignored.
    """
    X, y = make_problem(seed)
    runs: dict[str, RateRun] = {}
    fits: dict[str, np.ndarray] = {}
    for label, lr in RATES:
        model = nn.mlp(1, [HIDDEN], 1, "tanh", rng=np.random.default_rng(seed))
        loss_fn = nn.MSELoss()
        recorder = _LossRecorder()
        diverged, message = False, ""
        try:
            fit(
                model,
                loss_fn,
                optim.SGD(model.parameters(), lr=lr),
                (X, y),
                epochs=EPOCHS,
                batch_size=len(X),
                shuffle=False,
                callbacks=[recorder],
                progress=False,
                divergence_factor=DIVERGENCE_FACTOR,
            )
        except TrainingDiverged as error:
            diverged, message = True, str(error)
        with no_grad():
            predicted = model(X)
            loss = float(loss_fn(predicted, y))
        if diverged:
            # fit raises before the step, so the model still holds the weights whose loss
            # tripped the guard: that loss ends the curve.
            recorder.losses.append(loss)
        else:
            fits[label] = np.asarray(predicted.data, dtype=np.float64)
        runs[label] = RateRun(label, lr, recorder.losses, diverged, message)
    path = _draw(X, y, runs, fits, out / "learning_rates.png")
    return LearningRateResult(runs=runs, files=[path])


def _draw(
    X: np.ndarray,
    y: np.ndarray,
    runs: dict[str, RateRun],
    fits: dict[str, np.ndarray],
    path: Path,
) -> Path:
    colours = {"too small": "tab:blue", "good": "tab:green", "too large": "tab:red"}
    figure = _figures.new_figure(13.0, 4.9)
    loss_axes, fit_axes = figure.subplots(1, 2, width_ratios=[1.3, 1.0])
    for label, result in runs.items():
        steps = np.arange(1, len(result.losses) + 1)
        loss_axes.plot(
            steps,
            result.losses,
            color=colours[label],
            linewidth=2,
            marker="o" if result.diverged else None,
            markersize=4,
            label=f"lr = {result.lr:g} ({label})",
        )
        if result.diverged:
            loss_axes.plot(
                steps[-1],
                result.losses[-1],
                "X",
                color="black",
                markersize=13,
                zorder=5,
                label=f"stopped: TrainingDiverged after {result.steps} steps",
            )
    first = max(runs[label].losses[0] for label in runs)
    loss_axes.axhline(
        DIVERGENCE_FACTOR * max(first, 1.0),
        color="gray",
        linestyle="--",
        label="divergence guard: 1000 × max(first loss, 1)",
    )
    # Both axes logarithmic, so that the few steps of the diverging run are not squeezed
    # against the left edge.
    loss_axes.set_xscale("log")
    loss_axes.set_yscale("log")
    loss_axes.set(
        xlabel="epoch = one full-batch step (log scale)", ylabel="mean squared error (log scale)"
    )
    loss_axes.set_title("Training loss with three learning rates", fontsize=12)
    loss_axes.grid(alpha=0.3, which="both")
    loss_axes.legend(fontsize=9, loc="upper right")

    fit_axes.scatter(X[:, 0], y[:, 0], s=12, color="black", alpha=0.6, label="training data")
    for label, predicted in fits.items():
        fit_axes.plot(
            X[:, 0],
            predicted[:, 0],
            color=colours[label],
            linewidth=2.5,
            label=f"fit with lr = {runs[label].lr:g} ({label})",
        )
    fit_axes.set(xlabel="x", ylabel="y")
    fit_axes.set_title("What the finished runs learned", fontsize=12)
    fit_axes.grid(alpha=0.3)
    fit_axes.legend(fontsize=9, loc="lower right")
    figure.suptitle(
        f"Gradient descent on y = sin(2x) + noise with an MLP 1-{HIDDEN}-1 (tanh)", fontsize=13
    )
    return _figures.save_png(figure, path)
