"""``chainrule explain``, and ``chainrule train`` with --diagnose, the stopping rules and
--max-norm."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from chainrule import io
from chainrule.cli import main


def _train_moons(out: Path, *options: str) -> int:
    """``chainrule train --data moons OPTIONS --quiet --out OUT``."""
    return main(["train", "--data", "moons", *options, "--quiet", "--out", str(out)])


def test_explain_prints_the_worked_example(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["explain"]) == 0
    text = capsys.readouterr().out
    assert "δ received" in text and "z3" in text and "w11" in text
    assert main(["explain", "--format", "json"]) == 0
    records = json.loads(capsys.readouterr().out)
    # δ at z3 is (y - t)·y·(1 - y), computed here from the printed forward value of y.
    y = next(r for r in records if r["label"] == "y")["value"]
    z3 = next(r for r in records if r["label"] == "z3")
    assert z3["delta"] == pytest.approx((y - 1) * y * (1 - y), rel=1e-12)
    assert main(["explain", "--format", "markdown"]) == 0
    assert capsys.readouterr().out.startswith("| step |")


def test_diagnose_names_vanishing_layers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    options = ["--hidden", "16,16,16,16,16,16", "--activation", "sigmoid", "--optimizer", "sgd"]
    assert _train_moons(out, *options, "--lr", "0.05", "--epochs", "3", "--diagnose") == 0
    text = capsys.readouterr().out
    assert "layer 0: vanishing gradient" in text
    report = json.loads((out / "diagnosis.json").read_text())
    assert report["gradients"][0]["status"] == "vanishing"
    assert (out / "gradient_norms.png").read_bytes()[:4] == b"\x89PNG"


def test_gradient_tolerance_stops_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert _train_moons(out, "--epochs", "200", "--grad-tol", "10") == 0
    assert "stopped by: grad norm" in capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["stopped_by"] == "grad_norm" and len(metrics["train_loss"]) == 1


def test_max_norm_bounds_the_saved_model(tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert _train_moons(out, "--epochs", "20", "--lr", "0.5", "--max-norm", "0.75") == 0
    model = io.load(out / "model.safetensors")
    for name, parameter in model.named_parameters():
        if name.endswith("weight"):
            assert np.linalg.norm(parameter.data, axis=1).max() <= 0.75 * (1 + 1e-6)
