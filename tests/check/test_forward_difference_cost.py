"""Forward differences evaluate f(x) once, so they cost one evaluation per element (central
differences two), as the method promises."""

from __future__ import annotations

import numpy as np

import chainrule as cr


def test_forward_differences_evaluate_once_per_element_plus_one() -> None:
    calls = []

    def f(v):  # type: ignore[no-untyped-def]
        calls.append(1)
        return (v**3).sum()

    x = np.array([0.5, -1.0, 2.0, 3.0])
    (forward,) = cr.numerical_grad(f, x, method="forward")
    assert len(calls) == x.size + 1
    calls.clear()
    (central,) = cr.numerical_grad(f, x, method="central")
    assert len(calls) == 2 * x.size
    # d/dx x³ = 3x²: forward differences err by O(h), central by O(h²).
    np.testing.assert_allclose(forward, 3 * x**2, rtol=1e-4)
    np.testing.assert_allclose(central, 3 * x**2, rtol=1e-8)
