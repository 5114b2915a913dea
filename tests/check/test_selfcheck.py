"""The command line: ``chainrule gradcheck`` checks every op and reports a table."""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule import ops
from chainrule.check.domains import DOMAINS
from chainrule.cli import main


def test_every_op_has_a_selfcheck_case() -> None:
    assert sorted(DOMAINS) == sorted(ops.__all__)


def test_gradcheck_command_passes_and_prints_a_row_per_op(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["gradcheck", "--seed", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    cells = [re.split(r"\s{2,}", line.strip()) for line in lines]
    assert cells[0] == ["function", "max abs error", "max rel error", "passed", "checked on"]
    rows = {row[0]: row for row in cells[2:] if len(row) == 5}
    for name in ops.__all__:
        assert rows[name][3] == "yes", name
        assert rows[name][4] == DOMAINS[name].describe()  # the domain the inputs came from
    assert rows["log"][4] == "[0.1, 4]" and rows["relu"][4] == "[-3, 3], >= 0.05 from 0"


def test_gradcheck_command_selects_ops(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gradcheck", "--ops", "tanh,matmul"]) == 0
    lines = capsys.readouterr().out.splitlines()[2:]
    rows = [line.split()[0] for line in lines if line.strip() and not line.startswith("all")]
    assert sorted(rows) == ["matmul", "tanh"]


def test_gradcheck_command_rejects_unknown_op(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gradcheck", "--ops", "tanh,frobnicate"]) == 2
    assert "frobnicate" in capsys.readouterr().err


def test_gradcheck_command_fails_on_a_wrong_gradient(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from chainrule.ops import elementwise

    def wrong_tanh_vjp(g, x, out):  # type: ignore[no-untyped-def]
        return g * (1 - out * out) * 1.001

    monkeypatch.setattr(elementwise, "_tanh_vjp", wrong_tanh_vjp)
    assert main(["gradcheck", "--ops", "tanh"]) == 1
    assert "FAILED" in capsys.readouterr().out


def test_module_entry_point_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "chainrule", "--version"], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == f"chainrule {cr.__version__}"


@pytest.mark.parametrize("seed", range(10))
def test_the_self_checks_inputs_lie_in_the_domains_it_prints(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for name, domain in DOMAINS.items():
        for position, (array, interval) in enumerate(
            zip(domain.example_inputs(rng), domain.inputs)
        ):
            assert interval.holds(array), f"{name} input {position}: {interval.describe()}"
