"""Making and saving a figure: one ``Figure`` maker and one saver for every picture chainrule
writes (the training plots, the demonstrations), so each PNG and GIF is written atomically: a
half-written file never replaces a good one, and an interrupted write leaves nothing behind.

matplotlib's object API only (``Figure`` on an Agg canvas, never pyplot state), imported inside
the functions so that ``import chainrule`` stays light; it comes with the ``cli`` extra.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from .._atomic import atomic_write, atomic_write_path


def new_figure(width: float, height: float, dpi: float = 100) -> Any:
    """An empty ``Figure`` of ``width`` x ``height`` inches (constrained layout) on an Agg
    canvas."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError("pictures need matplotlib: pip install 'chainrule[cli]'") from error
    figure = Figure(figsize=(width, height), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def save_figure(
    figure: Any, path: str | Path, *, dpi: float | None = None, tight: bool = False
) -> Path:
    """Write ``figure`` to ``path`` (the format from its suffix, PNG by default), atomically."""
    target = Path(path)
    kind = target.suffix.lstrip(".") or "png"
    options: dict[str, Any] = {"format": kind, "dpi": dpi or "figure"}
    if tight:
        options["bbox_inches"] = "tight"
    return atomic_write(target, lambda file: figure.savefig(file, **options))


def save_animation(
    figure: Any,
    draw_frame: Callable[[int], None],
    frames: int,
    path: str | Path,
    *,
    fps: int = 3,
    dpi: float | None = None,
) -> Path:
    """Write a GIF whose frame ``k`` is what ``draw_frame(k)`` draws on ``figure``, atomically
    (Pillow writes it to a temporary file beside ``path``, which then replaces ``path``)."""
    from matplotlib.animation import FuncAnimation, PillowWriter

    def update(index: int) -> list[Any]:
        draw_frame(index)
        return []

    animation = FuncAnimation(figure, update, frames=frames, blit=False, repeat=False)
    return atomic_write_path(
        path, lambda temporary: animation.save(temporary, writer=PillowWriter(fps=fps), dpi=dpi)
    )
