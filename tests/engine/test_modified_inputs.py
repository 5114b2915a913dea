"""The backward pass refuses a graph whose inputs were changed in place after the forward pass
(by setitem or an optimiser step), since its gradient would be wrong; a fresh forward pass after
the change is fine."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim


def test_backward_refuses_a_constant_changed_after_the_forward_pass() -> None:
    w = cr.tensor([1.0, 1.0], requires_grad=True)
    c = cr.tensor([2.0, 3.0])
    y = (w * c).sum()
    c[0] = 100.0
    with pytest.raises(RuntimeError, match="modified in place"):
        y.backward()


def test_backward_refuses_parameters_updated_by_an_optimiser_step() -> None:
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    loss.backward(retain_graph=True)
    optim.SGD([w], lr=0.1).step()
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


def test_a_fresh_forward_pass_after_a_step_is_fine() -> None:
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    for _ in range(2):
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
    np.testing.assert_allclose(w.data, [0.64, 1.28], rtol=1e-6)
