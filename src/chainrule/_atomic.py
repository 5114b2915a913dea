"""Atomic file writes: a file is either the old one or the complete new one, never half.

The content goes to a temporary file in the target's folder, is flushed to disk, and replaces
the target in one rename; a failure leaves the target as it was and removes the temporary file.
The new file gets the usual permissions (0666 less the umask), not the private 0600 of a
temporary file.
"""

from __future__ import annotations

import contextlib
import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold Ctrl-C (SIGINT) and SIGTERM until the block ends, so that a stop request never
    lands between creating the temporary file and removing or renaming it; a signal that came
    meanwhile is acted on (by its usual handler) as soon as the write is complete. Handlers can
    be set only in the main thread; elsewhere nothing is deferred."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def hold(signum: int, frame: object) -> None:
        received.append(signum)

    previous_term = signal.signal(signal.SIGTERM, hold)
    try:
        previous_int = signal.signal(signal.SIGINT, hold)
    except BaseException:
        signal.signal(signal.SIGTERM, previous_term)
        raise
    try:
        yield
    finally:
        # SIGTERM first: a Ctrl-C meanwhile is still held (and replayed below).
        try:
            signal.signal(signal.SIGTERM, previous_term)
        finally:
            signal.signal(signal.SIGINT, previous_int)
        # Each signal that came, once, in order, to its usual handler: Python's own for SIGINT
        # raises KeyboardInterrupt, SIGTERM's default ends the process.
        for signum in dict.fromkeys(received):
            signal.raise_signal(signum)


def atomic_write(path: str | os.PathLike[str], write: Callable[[IO[bytes]], object]) -> Path:
    """Call ``write(file)`` on a temporary file and move it to ``path`` once it is complete."""

    def fill(handle: int, temporary: Path) -> None:
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())

    with _signals_deferred():
        return _replace_with_temporary(Path(path), fill, ".tmp")


def atomic_write_path(path: str | os.PathLike[str], write: Callable[[Path], object]) -> Path:
    """``atomic_write`` for writers that take a file name rather than a file (Pillow's GIF
    writer): ``write(temporary_path)``, then the same permissions and rename. Stop signals are
    not held here, since such writes can take seconds; an interrupted one removes its file."""
    target = Path(path)

    def fill(handle: int, temporary: Path) -> None:
        os.close(handle)
        write(temporary)
        with open(temporary, "rb") as file:
            os.fsync(file.fileno())

    return _replace_with_temporary(target, fill, target.suffix or ".tmp")


def _replace_with_temporary(target: Path, fill: Callable[[int, Path], None], suffix: str) -> Path:
    """The one mechanism of both writers: a temporary file beside ``target`` (same folder, so
    the rename is atomic), ``fill(handle, path)`` writes it, the usual permissions, the rename,
    and the folder flushed so that the rename itself is durable; on any failure, or an
    interruption, the temporary file is removed and ``target`` is as it was."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=suffix
    )
    try:
        fill(handle, Path(temporary))
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX)
        directory = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    return target
