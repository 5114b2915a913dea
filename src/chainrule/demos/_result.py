"""What every demonstration returns: the facts it shows, the files it wrote, and the words."""

from __future__ import annotations

from pathlib import Path


class DemoResult:
    """Base of the demonstrations' result dataclasses.

    Each subclass holds the facts its pictures claim (so tests can check them) and ``files``,
    the paths written. ``summary()`` says in two or three plain sentences what the figures show;
    ``details()`` adds anything worth printing beyond that (a table), or nothing.
    """

    files: list[Path]

    def summary(self) -> str:
        raise NotImplementedError(f"{type(self).__name__} does not define summary()")

    def details(self) -> str:
        return ""
