"""What the command-line tests share: running a command in-process and reading its one line."""

from __future__ import annotations

import pytest

from chainrule.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """``chainrule ARGS`` in this process: the exit code, standard output and error."""
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line(err: str) -> str:
    """The only line of ``err``, which must hold no traceback."""
    assert "Traceback" not in err
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]
