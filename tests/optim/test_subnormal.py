"""Optimiser state never decays into float32 subnormals, and flushing it changes nothing
that float32 can represent in the parameters."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from chainrule.optim import optimizer as base

TINY = np.finfo(np.float32).tiny


def _run(make, flush: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[np.ndarray, list]:
    """1,500 steps in which a third of the weights get a zero gradient after the first step."""
    if not flush:
        monkeypatch.setattr(base, "FLUSH_SUBNORMALS", False)
    rng = np.random.default_rng(0)
    p = cr.tensor(rng.standard_normal((8, 30)).astype(np.float32), requires_grad=True)
    opt = make([p])
    for step in range(1500):
        g = rng.standard_normal((8, 30)).astype(np.float32) * 1e-2
        if step:
            g[:, :10] = 0
        p.grad = cr.tensor(g)
        opt.step()
    state = [v for v in opt.state[0].values() if isinstance(v, np.ndarray)]
    return p.data.copy(), state


MAKERS = {
    "adam": lambda ps: optim.Adam(ps, lr=1e-3),
    "adamw": lambda ps: optim.AdamW(ps, lr=1e-3),
    "rmsprop": lambda ps: optim.RMSprop(ps, lr=1e-3, momentum=0.9, centered=True),
    "sgd-momentum": lambda ps: optim.SGD(ps, lr=1e-2, momentum=0.9),
}


@pytest.mark.parametrize("name", MAKERS)
def test_no_subnormal_state_and_same_result(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    flushed, state = _run(MAKERS[name], True, monkeypatch)
    with monkeypatch.context() as patch:
        unflushed, raw_state = _run(MAKERS[name], False, patch)
    subnormal = [int(np.sum((a != 0) & (np.abs(a) < TINY))) for a in state]
    assert sum(subnormal) == 0, subnormal
    # Without flushing the trap is real (so this test can fail), ...
    if name in ("adam", "adamw", "sgd-momentum"):
        assert sum(int(np.sum((a != 0) & (np.abs(a) < TINY))) for a in raw_state) > 0
    # ... and flushing changes the parameters by no more than float32 rounding.
    np.testing.assert_allclose(flushed, unflushed, rtol=2e-7, atol=0)
