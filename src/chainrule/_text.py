"""Plain text for a terminal: tables (gradchecks, explanations), counts and sizes in words."""

from __future__ import annotations

from collections.abc import Sequence


def text_table(header: Sequence[str], rows: Sequence[Sequence[str]], rule: bool = False) -> str:
    """Columns left-aligned and two spaces apart; ``rule`` underlines the header with dashes."""
    table = [list(header), *[list(row) for row in rows]]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in table]
    if rule:
        lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """ "1 epoch", "3 epochs": a count with its noun in the right number."""
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"


def size_in_words(size: float) -> str:
    """A byte count as people read it: "512 MB", "3.5 GB", "576 TB"."""
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            value = size / scale
            return f"{value:,.0f} {unit}" if value >= 100 else f"{value:.3g} {unit}"
    return f"{size:,.0f} bytes"


def one_line(error: BaseException) -> str:
    """An error's message on one line (an OSError without a file name gets its reason)."""
    if isinstance(error, OSError) and error.filename is not None and error.strerror:
        return f"{error.filename}: {error.strerror}"
    return " ".join(str(error).split()) or type(error).__name__
