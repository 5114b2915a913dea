"""Regression tests for the defects found in review (each failed before its fix)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import chainrule as cr
import chainrule.train
from chainrule import nn, optim
from chainrule.train import EarlyStopping, fit


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


def test_numpy_functions_without_floating_results_accept_tensors_that_require_grad() -> None:
    t = cr.tensor([1.0, np.inf], requires_grad=True)
    assert np.shape(t) == (2,)
    assert np.argmax(np.asarray(t)) == 1
    assert list(np.isfinite(t)) == [True, False]
    with pytest.raises(TypeError, match="cumsum"):
        np.cumsum(t)


def test_accuracy_of_a_probability_output_uses_one_half() -> None:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.float32).reshape(-1, 1)
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 1), nn.Sigmoid())
    history = fit(
        model,
        nn.BCELoss(),
        optim.Adam(model.parameters(), lr=0.05),
        (X, y),
        (X, y),
        epochs=30,
        batch_size=50,
        progress=False,
    )
    with cr.no_grad():
        truth = float(((model(X).data > 0.5) == (y > 0.5)).mean())
    assert truth > 0.9
    assert history.val_accuracy[-1] == pytest.approx(truth)


def test_an_already_fitted_first_batch_is_not_divergence() -> None:
    X = np.ones((8, 1), np.float32)
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1], np.float32).reshape(-1, 1)
    model = nn.Linear(1, 1)
    nn.init.zeros_(model.weight)
    nn.init.zeros_(model.bias)
    history = fit(
        model,
        nn.MSELoss(),
        optim.SGD(model.parameters(), lr=1e-4),
        (X, y),
        epochs=2,
        batch_size=4,
        shuffle=False,
        progress=False,
    )
    assert history.stopped_by == "max_epochs"


def test_resume_with_early_stopping_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    X = rng.standard_normal((60, 3)).astype(np.float32)
    y = (X @ np.array([1.0, -2.0, 0.5], np.float32) > 0).astype(np.int64)
    Xv, yv = X[:20] + 0.5, y[:20]

    def run(epochs: int, checkpoint: Path) -> tuple[nn.Module, object]:
        cr.manual_seed(3)
        model = nn.mlp(3, [8], 2)
        callbacks = [EarlyStopping(patience=2, min_delta=1e9), cr.train.Checkpoint(checkpoint)]
        history = fit(
            model,
            nn.CrossEntropyLoss(),
            optim.Adam(model.parameters(), lr=0.01),
            (X, y),
            (Xv, yv),
            epochs=epochs,
            batch_size=16,
            callbacks=callbacks,
            progress=False,
            resume_from=checkpoint,
        )
        return model, history

    whole_model, whole = run(10, tmp_path / "whole.npz")
    run(1, tmp_path / "split.npz")
    resumed_model, resumed = run(10, tmp_path / "split.npz")
    assert whole.stopped_by == resumed.stopped_by == "early_stopping"
    assert whole.train_loss == resumed.train_loss
    for a, b in zip(whole_model.parameters(), resumed_model.parameters()):
        assert np.array_equal(a.data, b.data)


def test_sgd_settings_after_momentum_are_keyword_only() -> None:
    w = cr.tensor([0.0], requires_grad=True)
    with pytest.raises(TypeError):
        optim.SGD([w], 0.1, 0.9, True)  # type: ignore[misc]
    with pytest.raises(ValueError, match="twice"):
        optim.SGD([w, w], lr=0.1)
    with pytest.raises(ValueError, match="lr must be finite"):
        optim.SGD([w], lr=float("nan"))
