"""Atomic writes: complete or untouched, usual permissions, no temporary files left behind."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import IO

import pytest

from chainrule._atomic import atomic_write


def test_writes_the_whole_content_with_usual_permissions(tmp_path: Path) -> None:
    target = atomic_write(tmp_path / "sub" / "a.bin", lambda f: f.write(b"hello"))
    assert target.read_bytes() == b"hello"
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
    assert [p.name for p in target.parent.iterdir()] == ["a.bin"]


def test_a_failed_write_leaves_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "a.bin"
    target.write_bytes(b"old")

    def broken(file: object) -> None:
        file.write(b"half")  # type: ignore[attr-defined]
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, broken)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.bin"]


def test_a_stop_signal_during_a_write_waits_for_the_complete_file(tmp_path: Path) -> None:
    """Ctrl-C in the middle of a write is delivered once the file is complete: the target is the
    new file, and no temporary file is left (signals are main-thread only, as here)."""
    target = tmp_path / "checkpoint.safetensors"

    def write(file: IO[bytes]) -> None:
        file.write(b"first half, ")
        os.kill(os.getpid(), signal.SIGINT)
        file.write(b"second half")

    with pytest.raises(KeyboardInterrupt):
        atomic_write(target, write)
    assert target.read_bytes() == b"first half, second half"
    assert [path.name for path in tmp_path.iterdir()] == ["checkpoint.safetensors"]


def test_a_path_writer_that_fails_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    from chainrule._atomic import atomic_write_path

    target = tmp_path / "boundary.gif"
    target.write_bytes(b"the old animation")

    def fail(temporary: Path) -> None:
        temporary.write_bytes(b"half")
        raise RuntimeError("the writer stopped")

    with pytest.raises(RuntimeError):
        atomic_write_path(target, fail)
    assert target.read_bytes() == b"the old animation"
    assert [path.name for path in tmp_path.iterdir()] == ["boundary.gif"]

    old_mask = os.umask(0o022)
    try:
        atomic_write_path(target, lambda temporary: temporary.write_bytes(b"new"))
    finally:
        os.umask(old_mask)
    assert target.read_bytes() == b"new" and target.stat().st_mode & 0o777 == 0o644


def test_every_stop_signal_during_a_write_reaches_its_handler_once(tmp_path: Path) -> None:
    terms: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: terms.append(signum))

    def write(file: IO[bytes]) -> None:
        file.write(b"a")
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)
        file.write(b"b")

    try:
        with pytest.raises(KeyboardInterrupt):
            atomic_write(tmp_path / "x", write)
        assert terms == [signal.SIGTERM]  # held, then delivered once
        assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert (tmp_path / "x").read_bytes() == b"ab"
