"""``chainrule demo spirals``: an MLP learns to tell two intertwined spiral arms apart."""

from __future__ import annotations

from pathlib import Path

from ..data import make_spirals
from ._boundary_training import BoundaryTrainingResult, BoundaryTrainingSetup, run_boundary_training

SETUP = BoundaryTrainingSetup(
    dataset="spirals",
    description="Two spiral arms wind around each other one and a half times.",
    hidden=(32, 32),
    activation="relu",
    epochs=150,
    lr=0.02,
)


def run(out: Path, *, seed: int = 0, animate: bool = False) -> BoundaryTrainingResult:
    """Train on ``make_spirals`` and write ``spirals_training.png`` (boundaries at four epochs
    beside the loss curve), and with ``animate`` ``spirals_training.gif``."""
    X, y = make_spirals(300, noise=0.2, seed=seed)
    return run_boundary_training(SETUP, X, y, out, seed=seed, animate=animate)
