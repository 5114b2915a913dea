"""``chainrule demo moons``: an MLP bends its boundary around two interleaving half moons."""

from __future__ import annotations

from pathlib import Path

from ..data import make_moons
from ._boundary_training import BoundaryTrainingResult, BoundaryTrainingSetup, run_boundary_training

SETUP = BoundaryTrainingSetup(
    dataset="moons",
    description="Two half moons interleave, so no straight line separates them.",
    hidden=(16, 16),
    activation="tanh",
    epochs=100,
    lr=0.02,
)


def run(out: Path, *, seed: int = 0, animate: bool = False) -> BoundaryTrainingResult:
    """Train on ``make_moons`` and write ``moons_training.png`` (boundaries at four epochs
    beside the loss curve), and with ``animate`` ``moons_training.gif``."""
    X, y = make_moons(200, noise=0.2, seed=seed)
    return run_boundary_training(SETUP, X, y, out, seed=seed, animate=animate)
