"""Drawing helpers shared by the demonstrations (matplotlib object API, Agg canvas, no pyplot).

``chainrule.plots.training`` draws what a trained network predicts; the helpers here add what the
lecture pictures also need: straight boundaries w·x + b = 0 with their half-planes, snapshots of
a model during training, and PNG/GIF files at a resolution fit for slides.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .. import io
from ..nn.module import Module
from ..plots import figure

DPI = 120
"""Resolution of every PNG the demonstrations write."""

CLASS_COLOURS = ("#3b4cc0", "#b40426")
"""Class 0 and class 1: the two ends of the ``coolwarm`` map the training plots use."""

REGION_ALPHA = 0.35
"""Opacity of the shaded decision regions, as in ``chainrule.plots.training``."""


def new_figure(width: float, height: float) -> Any:
    """An empty ``Figure`` at the demonstrations' resolution."""
    return figure.new_figure(width, height, dpi=DPI)


def save_png(drawn: Any, path: Path) -> Path:
    """Write ``drawn`` to ``path`` as a PNG at ``DPI``, atomically, and return the path."""
    return figure.save_figure(drawn, path, dpi=DPI)


def save_gif(drawn: Any, draw_frame: Callable[[int], None], n_frames: int, path: Path) -> Path:
    """Write a GIF whose frame ``k`` is what ``draw_frame(k)`` draws on ``drawn``, atomically."""
    return figure.save_animation(drawn, draw_frame, n_frames, path, fps=3, dpi=90)


def limits(X: NDArray[Any], pad: float = 0.15) -> tuple[tuple[float, float], tuple[float, float]]:
    """Axis limits around the samples, ``pad`` of each range added on both sides."""
    low = X.min(axis=0).astype(float)
    high = X.max(axis=0).astype(float)
    margin = pad * (high - low) + 1e-3
    return (low[0] - margin[0], high[0] + margin[0]), (low[1] - margin[1], high[1] + margin[1])


def scatter_classes(axes: Any, X: NDArray[Any], y: NDArray[Any], size: float = 18) -> None:
    """The samples of classes 0 and 1, each in its colour and with a legend label."""
    for label, colour in enumerate(CLASS_COLOURS):
        members = y == label
        axes.scatter(
            X[members, 0],
            X[members, 1],
            s=size,
            color=colour,
            edgecolors="black",
            linewidths=0.4,
            label=f"class {label}",
            zorder=3,
        )


def draw_linear_rule(
    axes: Any,
    w: NDArray[np.float64],
    b: float,
    xlim: tuple[float, float],
    ylim: tuple[float, float],
    *,
    label: str | None = "boundary w·x + b = 0",
    shade: bool = True,
    **line_style: Any,
) -> None:
    """Shade the half-planes of the rule w·x + b > 0 (class 1) and draw its line.

    The view is fixed to ``xlim`` and ``ylim``. A rule with w = 0 has no line: the whole plane
    is one class (as for the perceptron before its first update).
    """
    if shade:
        xs = np.linspace(*xlim, 200)
        ys = np.linspace(*ylim, 200)
        grid_x, grid_y = np.meshgrid(xs, ys)
        positive = (w[0] * grid_x + w[1] * grid_y + b > 0).astype(float)
        # The same colour map and levels as chainrule.plots.training, so that linear rules and
        # networks shade their regions alike.
        axes.contourf(
            grid_x, grid_y, positive, levels=[-0.5, 0.5, 1.5], cmap="coolwarm", alpha=REGION_ALPHA
        )
    draw_line(axes, w, b, xlim, ylim, label=label, **line_style)
    axes.set_xlim(*xlim)
    axes.set_ylim(*ylim)


def crosses_view(
    w: NDArray[np.float64], b: float, xlim: tuple[float, float], ylim: tuple[float, float]
) -> bool:
    """Whether the line w·x + b = 0 passes through the box ``xlim`` × ``ylim``."""
    corners = np.array([[x, y] for x in xlim for y in ylim])
    signs = np.sign(corners @ w + b)
    return bool(signs.min() <= 0 <= signs.max()) and bool(np.any(w != 0))


def draw_line(
    axes: Any,
    w: NDArray[np.float64],
    b: float,
    xlim: tuple[float, float],
    ylim: tuple[float, float],
    **style: Any,
) -> None:
    """Draw the line w·x + b = 0 across the box ``xlim`` × ``ylim`` (nothing when w = 0)."""
    style = {"color": "black", "linewidth": 2.0, **style}
    if abs(w[1]) >= abs(w[0]) and w[1] != 0:
        xs = np.array(xlim)
        axes.plot(xs, -(w[0] * xs + b) / w[1], **style)
    elif w[0] != 0:
        ys = np.array(ylim)
        axes.plot(-(w[1] * ys + b) / w[0], ys, **style)


def snapshot(model: Module) -> Module:
    """A copy of a model built from chainrule's layers, frozen at its current weights."""
    spec = io.describe(model)
    if spec is None:
        raise TypeError(f"cannot copy a {type(model).__name__}: not built from chainrule's layers")
    copy = io.build(spec)
    copy.load_state_dict(model.state_dict())
    return copy


def legend_handles(entries: Sequence[tuple[str, dict[str, Any]]]) -> list[Any]:
    """Proxy artists for a legend: (label, Line2D keyword arguments) pairs."""
    from matplotlib.lines import Line2D

    return [Line2D([], [], label=label, **style) for label, style in entries]


def class_handles() -> list[Any]:
    """Legend entries for the two classes, drawn as ``scatter_classes`` draws them."""
    return legend_handles(
        [
            (
                f"class {label}",
                {
                    "marker": "o",
                    "linestyle": "",
                    "markerfacecolor": colour,
                    "markeredgecolor": "black",
                    "markeredgewidth": 0.4,
                },
            )
            for label, colour in enumerate(CLASS_COLOURS)
        ]
    )
