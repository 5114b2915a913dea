"""Stopping rules and max-norm, on problems whose answers are known in closed form."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.train import History, fit

RNG = np.random.default_rng(0)
X = RNG.standard_normal((64, 3))
TRUE_W = np.array([1.5, -2.0, 0.5])
Y = (X @ TRUE_W + 0.3 + 0.1 * RNG.standard_normal(64)).reshape(-1, 1)


def _least_squares() -> tuple[np.ndarray, float, float]:
    """The optimum of the mean squared error in closed form, and the Hessian's extreme
    eigenvalues: L(w) = (1/n)‖Aw - y‖², H = (2/n)AᵀA with A = [X, 1]."""
    A = np.column_stack([X, np.ones(len(X))])
    optimum = np.linalg.solve(A.T @ A, A.T @ Y).ravel()
    eigenvalues = np.linalg.eigvalsh(2 / len(X) * A.T @ A)
    return optimum, float(eigenvalues[0]), float(eigenvalues[-1])


def _regression() -> nn.Linear:
    cr.manual_seed(0)
    model = nn.Linear(3, 1)
    model.weight.data = model.weight.data.astype(np.float64)
    model.bias.data = model.bias.data.astype(np.float64)
    return model


def _parameters(model: nn.Linear) -> np.ndarray:
    return np.concatenate([model.weight.data.ravel(), model.bias.data])


def _gradient_descent(model: nn.Linear, lr: float, epochs: int, **stopping: Any) -> History:
    """Full-batch gradient descent on the mean squared error of (X, Y): one step per epoch."""
    return fit(
        model,
        nn.MSELoss(),
        optim.SGD(model.parameters(), lr=lr),
        (X, Y),
        epochs=epochs,
        batch_size=len(X),
        progress=False,
        **stopping,
    )


def test_gradient_norm_rule_stops_near_the_optimum() -> None:
    optimum, smallest, largest = _least_squares()
    model = _regression()
    tol = 1e-6
    history = _gradient_descent(model, 1 / largest, 10_000, grad_tol=tol)
    assert history.stopped_by == "grad_norm"
    assert history.epochs < 10_000 and history.grad_norm[-1] <= tol < history.grad_norm[-2]
    # Strong convexity: ‖w - w*‖ <= ‖∇L(w)‖ / λ_min. The norm recorded is the gradient at the
    # start of the last step, which only shrank the distance further.
    assert np.linalg.norm(_parameters(model) - optimum) <= tol / smallest


def test_parameter_change_rule_stops_near_the_optimum() -> None:
    optimum, smallest, largest = _least_squares()
    model = _regression()
    lr, tol = 1 / largest, 1e-7
    history = _gradient_descent(model, lr, 10_000, param_tol=tol)
    assert history.stopped_by == "param_change"
    assert history.param_change[-1] <= tol < history.param_change[-2]
    # A full-batch step moves by lr·‖∇L‖, so ‖∇L‖ <= tol/lr and ‖w - w*‖ <= tol/(lr·λ_min).
    assert np.linalg.norm(_parameters(model) - optimum) <= tol / (lr * smallest)


def test_max_epochs_when_no_rule_fires() -> None:
    model = _regression()
    history = _gradient_descent(model, 1e-3, 3, grad_tol=1e-12, param_tol=1e-12)
    assert history.stopped_by == "max_epochs" and len(history.grad_norm) == 3
    assert len(history.param_change) == 3 and all(c > 0 for c in history.param_change)


def test_max_norm_function_rescales_only_long_rows() -> None:
    layer = nn.Linear(3, 3)
    layer.weight.data = np.array([[3.0, 4.0, 0.0], [0.1, 0.2, 0.2], [0.0, 0.0, -10.0]])
    bias = layer.bias.data.copy()
    assert nn.max_norm_(layer, 2.0) == 2
    np.testing.assert_allclose(
        layer.weight.data, [[1.2, 1.6, 0.0], [0.1, 0.2, 0.2], [0.0, 0.0, -2.0]], rtol=1e-12
    )
    np.testing.assert_array_equal(layer.bias.data, bias)
    with pytest.raises(ValueError, match="positive"):
        nn.max_norm_(layer, 0.0)


def test_max_norm_holds_after_training_with_a_large_step() -> None:
    X_class = RNG.standard_normal((128, 4)).astype(np.float32)
    y_class = (X_class[:, 0] + X_class[:, 1] > 0).astype(np.int64)

    def trained(**max_norm: float) -> nn.Sequential:
        cr.manual_seed(1)
        model = nn.mlp(4, [16], 2)
        fit(
            model,
            nn.CrossEntropyLoss(),
            optim.SGD(model.parameters(), lr=2.0),
            (X_class, y_class),
            epochs=5,
            batch_size=16,
            progress=False,
            **max_norm,
        )
        return model

    c = 0.5
    model = trained(max_norm=c)
    for layer in (model[0], model[2]):
        norms = np.linalg.norm(layer.weight.data.astype(np.float64), axis=1)
        assert norms.max() <= c * (1 + 1e-6)
    # Without the constraint the same run grows rows far beyond c (so the test can fail).
    free = trained()
    assert np.linalg.norm(free[0].weight.data, axis=1).max() > 2 * c


def test_a_diverged_run_keeps_its_history() -> None:
    """Gradient descent on L = mean (w·x - y)² with lr far above 2/λ_max diverges; the error
    carries the epochs done before and the loss that stopped it."""
    optimum, smallest, largest = _least_squares()
    model = _regression()
    with pytest.raises(cr.train.TrainingDiverged) as caught:
        _gradient_descent(model, 10 / largest, 200)
    error = caught.value
    assert error.history is not None and error.history.epochs >= 1
    assert error.loss > 1e3 * error.history.first_loss or not np.isfinite(error.loss)
    # Each completed epoch's loss grew: the step overshoots by a factor |1 - 10| per epoch.
    losses = error.history.train_loss
    assert all(b > a for a, b in zip(losses, losses[1:]))


def test_a_resumed_run_keeps_every_record_and_callback_state(tmp_path: Path) -> None:
    """The stopping rules run before the caller's Checkpoint, so the checkpoint holds their
    epoch; callback state is found by kind, so a rule added on resume shifts nothing."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 2)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    path = tmp_path / "checkpoint.safetensors"

    class Probe(cr.train.EarlyStopping):
        def on_fit_begin(self, state: Any) -> None:
            self.best_at_start = self.best  # what the checkpoint restored
            super().on_fit_begin(state)

    def run(epochs: int, max_norm: float | None = None) -> Any:
        cr.manual_seed(1)
        model = nn.mlp(2, [4], 2)
        stopper = Probe(patience=50)
        history = fit(
            model,
            nn.CrossEntropyLoss(),
            optim.SGD(model.parameters(), lr=0.1),
            (X, y),
            (X, y),
            epochs=epochs,
            batch_size=16,
            progress=False,
            grad_tol=1e-12,
            param_tol=1e-12,
            max_norm=max_norm,
            callbacks=[stopper, cr.train.Checkpoint(path)],
            resume_from=path,
        )
        return history, stopper

    _, first = run(2)
    history, stopper = run(4, max_norm=10.0)
    assert len(history.grad_norm) == len(history.param_change) == history.epochs == 4
    # the state of epochs 1-2 was found although MaxNorm now stands first
    assert stopper.best_at_start == first.best < np.inf
