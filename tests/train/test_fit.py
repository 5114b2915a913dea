"""``fit``: the history it keeps, the exact updates it makes, its callbacks (early stopping,
gradient norms, checkpoints), resuming, and its divergence guard."""

from __future__ import annotations

import math
import os
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset, make_blobs
from chainrule.io import read_archive
from chainrule.train import (
    Callback,
    Checkpoint,
    EarlyStopping,
    GradientNormMonitor,
    History,
    TrainingDiverged,
    TrainingState,
    evaluate,
    fit,
)


def _blobs(n: int = 150, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    centres = np.array([[0.0, 0.0, 0.0, 0.0], [4.0, 0.0, 4.0, 0.0], [0.0, 4.0, 0.0, 4.0]])
    return make_blobs(n_samples=n, centers=centres, std=1.0, seed=seed)


def _regression(n: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3))
    y = X @ np.array([[1.5], [-2.0], [0.5]]) + 0.3 + 0.1 * rng.standard_normal((n, 1))
    return X, y


def _linear64(seed: int = 0) -> nn.Linear:
    return nn.Linear(3, 1, dtype=np.float64, rng=np.random.default_rng(seed))


def _numpy_mlp_logits(model: nn.Sequential, X: np.ndarray) -> np.ndarray:
    """Forward pass of a tanh MLP written with NumPy from the model's weights."""
    out = X.astype(np.float64)
    linears = [layer for layer in model.layers if isinstance(layer, nn.Linear)]
    for position, layer in enumerate(linears):
        out = out @ layer.weight.data.T.astype(np.float64) + layer.bias.data.astype(np.float64)
        if position < len(linears) - 1:
            out = np.tanh(out)
    return out


def _cross_entropy(logits: np.ndarray, y: np.ndarray) -> float:
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(y)), y].mean())


class _Recorder(Callback):
    """Copies of the parameters at the end of every epoch, and the number of batches."""

    def __init__(self) -> None:
        self.states: list[dict[str, np.ndarray]] = []
        self.batches = 0

    def on_batch_end(self, state: TrainingState) -> None:
        self.batches += 1

    def on_epoch_end(self, state: TrainingState) -> None:
        self.states.append(state.model.state_dict())


# ------------------------------------------------------------------------ history
def test_history_has_every_field_for_every_epoch() -> None:
    X, y = _blobs()
    X_val, y_val = _blobs(60, seed=1)
    cr.manual_seed(0)
    model = nn.mlp(4, [16], 3, "tanh")
    optimizer = optim.Adam(model.parameters(), lr=0.01)
    history = fit(
        model, nn.CrossEntropyLoss(), optimizer, (X, y), (X_val, y_val), epochs=5, progress=False
    )
    assert isinstance(history, History)
    assert history.epochs == 5
    for name in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "epoch_seconds"):
        values = getattr(history, name)
        assert len(values) == 5, name
        assert all(isinstance(v, float) and math.isfinite(v) for v in values), name
    assert history.lr == [0.01] * 5
    assert all(0 <= a <= 1 for a in history.train_accuracy + history.val_accuracy)
    assert all(s > 0 for s in history.epoch_seconds)
    assert history.stopped_by == "max_epochs"
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]
    assert history.val_accuracy[-1] > 0.9
    # The last validation numbers are those of the final model, computed here with NumPy.
    logits = _numpy_mlp_logits(model, X_val)
    assert history.val_loss[-1] == pytest.approx(_cross_entropy(logits, y_val), rel=1e-5)
    assert history.val_accuracy[-1] == np.mean(logits.argmax(axis=1) == y_val)
    assert set(history.to_dict()) >= {"train_loss", "val_accuracy", "epoch_seconds", "lr"}


def test_history_without_validation_data() -> None:
    X, y = _blobs()
    cr.manual_seed(0)
    model = nn.mlp(4, [8], 3, "tanh")
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        optim.SGD(model.parameters(), lr=0.1),
        (X, y),
        epochs=3,
        progress=False,
    )
    assert len(history.train_loss) == 3 and history.val_loss == [] and history.val_accuracy == []


def test_evaluate_matches_numpy() -> None:
    X, y = _blobs(90, seed=4)
    cr.manual_seed(5)
    model = nn.mlp(4, [6], 3, "tanh")
    loss, accuracy = evaluate(model, nn.CrossEntropyLoss(), (X, y), batch_size=7)
    logits = _numpy_mlp_logits(model, X)
    assert loss == pytest.approx(_cross_entropy(logits, y), rel=1e-5)
    assert accuracy == np.mean(logits.argmax(axis=1) == y)
    assert model.training


# ------------------------------------------------------------------------ exact updates
def test_full_batch_epoch_is_one_gradient_step() -> None:
    X, y = _regression()
    model = _linear64()
    W, b = model.weight.data.copy(), model.bias.data.copy()
    history = fit(
        model,
        nn.MSELoss(),
        optim.SGD(model.parameters(), lr=0.1),
        (X, y),
        epochs=1,
        batch_size=len(X),
        progress=False,
    )
    residual = X @ W.T + b - y
    np.testing.assert_allclose(history.train_loss[0], np.mean(residual**2), rtol=1e-12)
    np.testing.assert_allclose(model.weight.data, W - 0.1 * 2 * residual.T @ X / len(X), rtol=1e-12)
    np.testing.assert_allclose(model.bias.data, b - 0.1 * 2 * residual.sum(0) / len(X), rtol=1e-12)


def test_minibatch_epoch_follows_the_batches_in_order() -> None:
    """Without shuffling, 10 samples in batches of 4 are three SGD steps on 4, 4 and 2 samples;
    the epoch's loss is the sample-weighted mean of the three batch losses."""
    X, y = _regression(10, seed=1)
    model = _linear64(1)
    W, b = model.weight.data.copy(), model.bias.data.copy()
    history = fit(
        model,
        nn.MSELoss(),
        optim.SGD(model.parameters(), lr=0.05),
        (X, y),
        epochs=1,
        batch_size=4,
        shuffle=False,
        progress=False,
    )
    total = 0.0
    for start in (0, 4, 8):
        batch_X, batch_y = X[start : start + 4], y[start : start + 4]
        residual = batch_X @ W.T + b - batch_y
        total += np.mean(residual**2) * len(batch_X)
        W = W - 0.05 * 2 * residual.T @ batch_X / len(batch_X)
        b = b - 0.05 * 2 * residual.sum(0) / len(batch_X)
    np.testing.assert_allclose(model.weight.data, W, rtol=1e-12)
    np.testing.assert_allclose(model.bias.data, b, rtol=1e-12)
    np.testing.assert_allclose(history.train_loss[0], total / 10, rtol=1e-12)


@pytest.mark.parametrize(("batch_size", "per_epoch"), [(150, 1), (32, 5), (1, 150)])
def test_full_batch_minibatch_and_stochastic_all_learn(batch_size: int, per_epoch: int) -> None:
    X, y = _blobs()
    cr.manual_seed(0)
    model = nn.mlp(4, [8], 3, "tanh")
    recorder = _Recorder()
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        optim.SGD(model.parameters(), lr=0.05),
        (X, y),
        epochs=3,
        batch_size=batch_size,
        callbacks=[recorder],
        progress=False,
    )
    assert recorder.batches == 3 * per_epoch
    assert history.train_loss[-1] < history.train_loss[0]


def test_fit_accepts_datasets_and_loaders_and_rejects_other_data() -> None:
    X, y = _blobs(60)
    cr.manual_seed(0)
    model = nn.mlp(4, [4], 3, "tanh")
    optimizer = optim.SGD(model.parameters(), lr=0.05)
    loss = nn.CrossEntropyLoss()
    assert fit(model, loss, optimizer, TensorDataset(X, y), epochs=1, progress=False).epochs == 1
    loader = DataLoader(TensorDataset(X, y), batch_size=10, shuffle=True, seed=0)
    recorder = _Recorder()
    fit(model, loss, optimizer, loader, epochs=2, callbacks=[recorder], progress=False)
    assert recorder.batches == 12
    with pytest.raises(TypeError, match="fit"):
        fit(model, loss, optimizer, X, epochs=1, progress=False)


# ------------------------------------------------------------------------ callbacks
def test_early_stopping_stops_and_restores_the_best_weights() -> None:
    """The validation labels contradict the training labels, so validation loss rises as the
    model learns: training must stop ``patience`` epochs after the best validation epoch and
    leave the model with that epoch's weights."""
    X, y = make_blobs(n_samples=100, centers=np.array([[-2.0, 0.0], [2.0, 0.0]]), seed=0)
    cr.manual_seed(0)
    model = nn.mlp(2, [8], 2, "tanh")
    recorder = _Recorder()
    stopper = EarlyStopping(patience=3)
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        optim.Adam(model.parameters(), lr=0.05),
        (X, y),
        (X, 1 - y),
        epochs=60,
        batch_size=20,
        callbacks=[recorder, stopper],
        progress=False,
    )
    assert history.stopped_by == "early_stopping"
    best = int(np.argmin(history.val_loss))
    assert history.epochs == best + 1 + 3 < 60
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(value, recorder.states[best][name], err_msg=name)
    assert not all(
        np.array_equal(value, recorder.states[-1][name])
        for name, value in model.state_dict().items()
    )
    val_loss, _ = evaluate(model, nn.CrossEntropyLoss(), (X, 1 - y))
    assert val_loss == pytest.approx(history.val_loss[best], rel=1e-6)


def test_early_stopping_needs_validation_data() -> None:
    X, y = _blobs(30)
    model = nn.mlp(4, [4], 3)
    with pytest.raises(ValueError, match="val_data"):
        fit(
            model,
            nn.CrossEntropyLoss(),
            optim.SGD(model.parameters(), lr=0.1),
            (X, y),
            epochs=2,
            callbacks=[EarlyStopping()],
            progress=False,
        )


def test_gradient_norm_monitor_records_the_layer_norm() -> None:
    X, y = _regression()
    model = nn.Sequential(_linear64())
    W, b = model.layers[0].weight.data.copy(), model.layers[0].bias.data.copy()
    history = fit(
        model,
        nn.MSELoss(),
        optim.SGD(model.parameters(), lr=0.01),
        (X, y),
        epochs=2,
        batch_size=len(X),
        callbacks=[GradientNormMonitor()],
        progress=False,
    )
    assert list(history.grad_norms) == ["0"]
    assert len(history.grad_norms["0"]) == 2
    residual = X @ W.T + b - y
    grad_W, grad_b = 2 * residual.T @ X / len(X), 2 * residual.sum(0) / len(X)
    expected = np.sqrt(np.sum(grad_W**2) + np.sum(grad_b**2))
    assert history.grad_norms["0"][0] == pytest.approx(expected, rel=1e-10)


def test_deep_sigmoid_network_shows_vanishing_gradients() -> None:
    X, y = _blobs()
    cr.manual_seed(0)
    model = nn.mlp(4, [16] * 6, 3, "sigmoid")
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        optim.SGD(model.parameters(), lr=0.1),
        (X, y),
        epochs=3,
        batch_size=30,
        callbacks=[GradientNormMonitor()],
        progress=False,
    )
    layers = list(history.grad_norms)
    assert layers == [str(2 * k) for k in range(7)]
    assert all(len(history.grad_norms[layer]) == 3 for layer in layers)
    first, last = history.grad_norms[layers[0]], history.grad_norms[layers[-1]]
    assert all(f < last_norm / 10 for f, last_norm in zip(first, last))


# ------------------------------------------------------------------------ divergence
def test_huge_learning_rate_raises_training_diverged_naming_it() -> None:
    X, y = _regression(64)
    model = _linear64()
    with pytest.raises(TrainingDiverged) as caught:
        fit(
            model,
            nn.MSELoss(),
            optim.SGD(model.parameters(), lr=50.0),
            (X, y),
            epochs=20,
            batch_size=8,
            progress=False,
        )
    message = str(caught.value)
    found = re.search(r"learning rate ([-+0-9.e]+)", message)
    assert found is not None, message
    assert float(found.group(1)) == 50.0


def _nan_after(calls: int) -> Callable[[cr.Tensor, cr.Tensor], cr.Tensor]:
    """A loss that is fine for ``calls`` batches, then the log of a negative number."""
    counter = {"calls": 0}

    def loss_fn(outputs: cr.Tensor, targets: cr.Tensor) -> cr.Tensor:
        counter["calls"] += 1
        squared = ((outputs - targets) ** 2).mean()
        if counter["calls"] > calls:
            return cr.log(-squared - 1.0)
        return squared

    return loss_fn


@pytest.mark.parametrize("calls", [0, 5])
def test_nan_loss_is_caught_before_any_update(calls: int) -> None:
    X, y = _regression(16)
    model = _linear64()
    recorder = _Recorder()
    with np.errstate(invalid="ignore"), pytest.raises(TrainingDiverged, match="nan") as caught:
        fit(
            model,
            _nan_after(calls),
            optim.SGD(model.parameters(), lr=0.01),
            (X, y),
            epochs=10,
            batch_size=4,
            callbacks=[recorder],
            progress=False,
        )
    assert "learning rate" in str(caught.value)
    assert recorder.batches == calls
    assert np.all(np.isfinite(model.weight.data)) and np.all(np.isfinite(model.bias.data))


def test_infinite_loss_is_caught() -> None:
    X, y = _regression(8)
    model = _linear64()

    def infinite(outputs: cr.Tensor, targets: cr.Tensor) -> cr.Tensor:
        return -cr.log(((outputs - targets) ** 2).mean() * 0.0)

    with np.errstate(divide="ignore"), pytest.raises(TrainingDiverged, match="inf"):
        fit(
            model,
            infinite,
            optim.SGD(model.parameters(), lr=0.01),
            (X, y),
            epochs=2,
            progress=False,
        )


# ------------------------------------------------------------------------ checkpoints
def _setup(optimizer_name: str, seed: int = 0) -> tuple[nn.Sequential, Any, Any]:
    cr.manual_seed(seed)
    model = nn.mlp(4, [16], 3, "tanh", dropout=0.2)
    if optimizer_name == "adam":
        optimizer = optim.Adam(model.parameters(), lr=0.01)
        scheduler = None
    else:
        optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.5)
    return model, optimizer, scheduler


def test_checkpoint_is_written_atomically_and_readable(tmp_path: Path) -> None:
    X, y = _blobs(60)
    model, optimizer, _ = _setup("adam")
    path = tmp_path / "run" / "checkpoint.safetensors"
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        optimizer,
        (X, y),
        epochs=3,
        callbacks=[Checkpoint(path)],
        progress=False,
    )
    assert [p.name for p in path.parent.iterdir()] == ["checkpoint.safetensors"]
    arrays, header = read_archive(path)
    assert header["kind"] == "checkpoint" and header["epoch"] == 3
    assert header["history"]["train_loss"] == history.train_loss
    for name, value in model.state_dict().items():
        np.testing.assert_array_equal(arrays[f"model/{name}"], value)


class _Clock:
    """time.monotonic for the checkpoint callback, moved by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("ages", "saved"),
    [
        ([0.0] * 6, [1, 6]),  # fast epochs: the first, then only the last (at the fit's end)
        ([0.6] * 6, [1, 3, 5, 6]),  # every second epoch is a second after the last save
        ([2.0] * 6, [1, 2, 3, 4, 5, 6]),  # slow epochs: every one
    ],
)
def test_checkpoints_are_spaced_in_time_and_the_last_epoch_is_always_saved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, ages: list[float], saved: list[int]
) -> None:
    from chainrule.train import callbacks as callbacks_module

    clock = _Clock()
    monkeypatch.setattr(callbacks_module.time, "monotonic", clock)
    written: list[int] = []
    real_save = callbacks_module.save_checkpoint

    def recording_save(path: Path, state: Any, metadata: Any) -> None:
        written.append(state.epoch)
        real_save(path, state, metadata)

    monkeypatch.setattr(callbacks_module, "save_checkpoint", recording_save)

    class Tick(cr.train.Callback):
        def on_epoch_end(self, state: Any) -> None:
            clock.now += ages[state.epoch - 1]

    X, y = _blobs(60)
    model, optimizer, _ = _setup("adam")
    path = tmp_path / "checkpoint.safetensors"
    fit(
        model,
        nn.CrossEntropyLoss(),
        optimizer,
        (X, y),
        epochs=6,
        callbacks=[Tick(), Checkpoint(path, min_seconds=1.0)],
        progress=False,
    )
    assert written == saved
    _, header = read_archive(path)
    assert header["epoch"] == 6


def test_checkpoint_refuses_a_negative_spacing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="min_seconds must be >= 0, got -1"):
        Checkpoint(tmp_path / "c.npz", min_seconds=-1)


@pytest.mark.parametrize("name", ["checkpoint.safetensors", "checkpoint.npz"])
def test_checkpoint_survives_a_failed_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    X, y = _blobs(60)
    model, optimizer, _ = _setup("adam")
    path = tmp_path / name
    writes = {"count": 0}
    if name.endswith(".npz"):
        real_savez = np.savez

        def savez_failing_the_second_time(file: Any, **arrays: Any) -> None:
            writes["count"] += 1
            if writes["count"] == 2:
                file.write(b"PK\x03\x04 half a checkpoint")
                raise OSError("disk full")
            real_savez(file, **arrays)

        monkeypatch.setattr(np, "savez", savez_failing_the_second_time)
    else:
        import chainrule._atomic as atomic

        real_fsync = atomic.os.fsync

        def fsync_failing_the_second_time(handle: int) -> None:  # after the bytes are written
            if stat.S_ISREG(os.fstat(handle).st_mode):  # the file's, not its folder's
                writes["count"] += 1
            if writes["count"] == 2:
                raise OSError("disk full")
            real_fsync(handle)

        monkeypatch.setattr(atomic.os, "fsync", fsync_failing_the_second_time)
    with pytest.raises(OSError, match="disk full"):
        fit(
            model,
            nn.CrossEntropyLoss(),
            optimizer,
            (X, y),
            epochs=3,
            callbacks=[Checkpoint(path)],
            progress=False,
        )
    assert [p.name for p in tmp_path.iterdir()] == [name]
    _, header = read_archive(path)
    assert header["epoch"] == 1


@pytest.mark.parametrize("optimizer_name", ["adam", "sgd-momentum-steplr"])
@pytest.mark.parametrize("stop_at", [1, 3])
def test_resume_is_bit_identical_to_an_uninterrupted_run(
    tmp_path: Path, optimizer_name: str, stop_at: int
) -> None:
    """Shuffling (the library's generator), dropout and the optimiser's state all continue
    exactly where the checkpoint left them."""
    X, y = _blobs(90)
    X_val, y_val = _blobs(30, seed=2)
    loss = nn.CrossEntropyLoss()

    def train(
        epochs: int, resume: Path | None = None, save: Path | None = None
    ) -> tuple[nn.Module, History]:
        model, optimizer, scheduler = _setup(optimizer_name)
        callbacks = [Checkpoint(save)] if save is not None else []
        history = fit(
            model,
            loss,
            optimizer,
            (X, y),
            (X_val, y_val),
            epochs=epochs,
            batch_size=16,
            callbacks=callbacks,
            progress=False,
            scheduler=scheduler,
            resume_from=resume,
        )
        return model, history

    reference, reference_history = train(5)
    checkpoint = tmp_path / "checkpoint.safetensors"
    interrupted, _ = train(stop_at, save=checkpoint)
    assert not all(
        np.array_equal(a, b)
        for a, b in zip(interrupted.state_dict().values(), reference.state_dict().values())
    )
    cr.manual_seed(12345)  # The resumed process starts from another generator state.
    resumed, resumed_history = train(5, resume=checkpoint, save=checkpoint)
    for name, value in reference.state_dict().items():
        assert np.array_equal(resumed.state_dict()[name], value), name
    assert resumed_history.train_loss == reference_history.train_loss
    assert resumed_history.val_loss == reference_history.val_loss
    assert resumed_history.lr == reference_history.lr
    assert resumed_history.epochs == 5


def test_resume_with_a_seeded_loader(tmp_path: Path) -> None:
    X, y = _blobs(90)
    loss = nn.CrossEntropyLoss()

    def train(epochs: int, resume: Path | None = None) -> nn.Module:
        model, optimizer, _ = _setup("adam", seed=3)
        loader = DataLoader(TensorDataset(X, y), batch_size=16, shuffle=True, seed=8)
        fit(
            model,
            loss,
            optimizer,
            loader,
            epochs=epochs,
            progress=False,
            callbacks=[Checkpoint(tmp_path / "c.npz")],
            resume_from=resume,
        )
        return model

    reference = train(4).state_dict()
    (tmp_path / "c.npz").unlink()
    train(2)
    resumed = train(4, resume=tmp_path / "c.npz").state_dict()
    for name, value in reference.items():
        assert np.array_equal(resumed[name], value), name


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


def test_a_resumed_run_is_judged_by_its_whole_length(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether a run is short enough for NumPy's loops (rather than Numba's, which round
    differently) is decided on all its epochs, resumed or not: a run resumed near its end
    keeps the loops it began with, and ends bit for bit where an uninterrupted run does."""
    import chainrule.train.loop as loop

    judged: list[float] = []
    real_small_run = loop.small_run

    def recording(updates: float) -> Any:
        judged.append(updates)
        return real_small_run(updates)

    monkeypatch.setattr(loop, "small_run", recording)
    X, y = _blobs(60)
    path = tmp_path / "checkpoint.safetensors"
    model, optimizer, _ = _setup("adam")
    loader = DataLoader(TensorDataset(X, y), batch_size=16, shuffle=True, seed=0)
    loss_fn = nn.CrossEntropyLoss()
    fit(model, loss_fn, optimizer, loader, epochs=2, callbacks=[Checkpoint(path)], progress=False)
    model, optimizer, _ = _setup("adam")
    fit(model, loss_fn, optimizer, loader, epochs=5, resume_from=path, progress=False)
    parameters = sum(p.data.size for p in model.parameters())
    assert judged == [2 * len(loader) * parameters, 5 * len(loader) * parameters]
