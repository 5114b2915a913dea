"""Shared by the compiler's tests: the loops loaded before any test, the globals restored after
each."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

import chainrule as cr
from chainrule.compiler import fused


@pytest.fixture(scope="session", autouse=True)
def _numba_loops_loaded() -> None:
    """The fused loops compiled (or loaded from Numba's cache), float32 and float64, before
    any test runs, so that "loops" and "numba" in the tests mean Numba's loops and not their
    NumPy twins that run while Numba loads."""
    assert fused.wait_for_loops(timeout=300), "Numba's fused loops did not load"
    for dtype in (np.float32, np.float64):
        for name in ("dense_forward", "dense_backward"):
            assert fused.dense_loop(name, np.dtype(dtype)) is not None, (name, dtype)


@pytest.fixture(autouse=True)
def _restore_globals() -> Iterator[None]:
    """The kernels and the default dtype as the rest of the suite expects them."""
    try:
        yield
    finally:
        cr.set_kernels("compiled")
        cr.set_default_dtype(np.float32)
