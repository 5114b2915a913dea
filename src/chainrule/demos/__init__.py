"""The lecture demonstrations behind ``chainrule demo NAME``.

Each demonstration is one module with a ``run(out, *, seed=0, animate=False)`` function that
trains what it needs, writes its figures (PNG, and a GIF with ``animate`` where one helps) into
``out``, and returns a small dataclass: the facts the figures show, the files written, and
``summary()``, two or three plain sentences about them. ``DEMOS`` lists them all, in the order
of the lectures. They need matplotlib (the ``cli`` extra), imported only when a figure is drawn.

Examples
--------
>>> from chainrule.demos import DEMOS
>>> list(DEMOS)[:3]
['perceptron', 'nearest-mean', 'xor']
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from . import (
    activations,
    encoder,
    learning_rate,
    moons,
    nearest_mean,
    perceptron,
    spirals,
    templates,
    tree,
    xor,
)
from ._result import DemoResult


class DemoFunction(Protocol):
    def __call__(self, out: Path, *, seed: int = 0, animate: bool = False) -> DemoResult: ...


@dataclass(frozen=True)
class Demo:
    """One entry of ``chainrule demo --list``."""

    name: str
    description: str
    run: DemoFunction
    animated: bool = False
    """Whether ``animate=True`` writes a GIF."""


DEMOS: dict[str, Demo] = {
    demo.name: demo
    for demo in (
        Demo(
            "perceptron",
            "the perceptron on separable 2-D data: its boundary after each update",
            perceptron.run,
            animated=True,
        ),
        Demo(
            "nearest-mean",
            "nearest mean versus perceptron on two elongated classes, side by side",
            nearest_mean.run,
        ),
        Demo(
            "xor",
            "a perceptron never converges on XOR, a network with one hidden layer solves it",
            xor.run,
        ),
        Demo(
            "encoder",
            "the 8-3-8 encoder: the hidden code of the eight patterns as a table and a heat map",
            encoder.run,
        ),
        Demo(
            "templates",
            "a linear classifier's weights drawn as images: one template per class",
            templates.run,
        ),
        Demo(
            "moons",
            "an MLP's boundary on two half moons during training, beside the loss curve",
            moons.run,
            animated=True,
        ),
        Demo(
            "spirals",
            "an MLP's boundary on two spirals during training, beside the loss curve",
            spirals.run,
            animated=True,
        ),
        Demo(
            "activations",
            "activation functions, their derivatives, vanishing gradients, three that cannot train",
            activations.run,
        ),
        Demo(
            "learning-rate",
            "a too small, a good and a too large learning rate; the divergence guard stops one",
            learning_rate.run,
        ),
        Demo(
            "tree",
            "a decision tree, the network made from it (same regions), and that network fine-tuned",
            tree.run,
        ),
    )
}


def listing() -> str:
    """The text of ``chainrule demo --list``: one line per demonstration."""
    width = max(len(name) for name in DEMOS)
    lines = ["chainrule demo NAME [--out DIR] [--animate] [--seed N]", ""]
    for demo in DEMOS.values():
        lines.append(f"  {demo.name:<{width}}  {demo.description}")
    animated = [demo.name for demo in DEMOS.values() if demo.animated]
    lines += [
        "",
        f"With --animate, {', '.join(animated[:-1])} and {animated[-1]} also write a GIF.",
    ]
    return "\n".join(lines)


__all__ = ["DEMOS", "Demo", "DemoFunction", "DemoResult", "listing"]
