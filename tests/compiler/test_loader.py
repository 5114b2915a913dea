"""The background loader of the compiled step's loops: a start that races with IPython (which
adds and removes builtins at each cell boundary) is retried; any other failure leaves the NumPy
twins in use without a traceback; choosing NumPy's kernels never starts Numba."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from chainrule.compiler import fused


@pytest.fixture
def fresh_loader(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(fused, "_loops", None)
    monkeypatch.setattr(fused, "_loading", None)
    monkeypatch.setattr(fused, "load_failure", None)
    return monkeypatch


def test_a_start_that_met_a_changing_builtins_dict_is_retried(fresh_loader) -> None:  # type: ignore[no-untyped-def]
    attempts = []

    def flaky() -> dict[str, object]:
        attempts.append(1)
        if len(attempts) < 3:
            raise RuntimeError("dictionary changed size during iteration")
        return {"colsum": print}

    fresh_loader.setattr(fused, "_compile_loops", flaky)
    assert fused.wait_for_loops(timeout=10)
    assert len(attempts) == 3
    assert fused.load_failure is None
    assert fused._loops == {"colsum": print}


def test_a_failed_start_leaves_the_twins_in_use_and_says_why(fresh_loader, capfd) -> None:  # type: ignore[no-untyped-def]
    def broken() -> dict[str, object]:
        raise OSError("no space left on device")

    fresh_loader.setattr(fused, "_compile_loops", broken)
    fused.wait_for_loops(timeout=10)
    assert fused._loops == {}
    assert fused._loop("colsum") is None  # the NumPy twin runs
    assert fused.load_failure == "OSError: no space left on device"
    assert "Traceback" not in capfd.readouterr().err


def test_numpy_kernels_never_start_numba() -> None:
    program = textwrap.dedent(
        """
        import sys
        import numpy as np
        import chainrule as cr
        from chainrule import nn, optim

        cr.set_kernels("numpy")
        model = nn.mlp(2, [4], 2)
        step = cr.compile(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1))
        x = np.random.default_rng(0).random((8, 2), dtype=np.float32)
        for _ in range(3):
            step(x, np.arange(8) % 2)
        print(step.compiled, "numba" in sys.modules)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "False"]
