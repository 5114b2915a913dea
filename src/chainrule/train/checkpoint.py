"""Checkpoints: everything needed to continue a run exactly (model, optimiser state, history,
random state, loaders' order, callbacks' state) in one file that loading never executes, its
header checked field by field before anything is restored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ..engine import random as _random
from ..io import ModelFileError, check_checkpoint_header, read_archive, write_archive
from .history import History, TrainingState


def save_checkpoint(
    path: str | Path, state: TrainingState, metadata: dict[str, Any] | None = None
) -> None:
    """Write a resumable checkpoint of ``state`` (atomically); ``metadata`` is JSON data kept
    with it (``chainrule train`` stores the run's settings there)."""
    arrays = {f"model/{k}": v for k, v in state.model.state_dict().items()}
    optimizer_state = state.optimizer.state_dict()
    scalars: dict[str, dict[str, Any]] = {}
    for index, entry in optimizer_state["state"].items():
        for name, value in entry.items():
            if isinstance(value, np.ndarray):
                arrays[f"optim/{index}/{name}"] = value
            else:
                scalars.setdefault(str(index), {})[name] = value
    header = {
        "kind": "checkpoint",
        "epoch": state.epoch,
        "history": state.history.to_dict(),
        "param_groups": optimizer_state["param_groups"],
        "optimizer_scalars": scalars,
        "rng": _random.default_generator().bit_generator.state,
        "loaders": [loader.state_dict() for loader in state.loaders],
        "callbacks": [],
        "callback_keys": _callback_keys(state.callbacks),
        "metadata": dict(metadata or {}),
    }
    for number, callback in enumerate(state.callbacks):
        values: dict[str, Any] = {}
        for name, value in callback.state_dict().items():
            if isinstance(value, np.ndarray):
                arrays[f"callback/{number}/{name}"] = value
            else:
                values[name] = value
        header["callbacks"].append(values)
    write_archive(path, arrays, header)


def read_checkpoint_info(path: str | Path) -> dict[str, Any]:
    """The epoch, metadata and history of a checkpoint, without a model to load it into."""
    _, header = read_archive(path)
    check_checkpoint_header(path, header)
    return {key: header[key] for key in ("epoch", "metadata", "history")}


def load_checkpoint(path: str | Path, state: TrainingState) -> None:
    """Restore a checkpoint written by ``save_checkpoint`` into ``state`` (in place).

    The header's structure is checked first; a checkpoint of another model, optimiser or data
    is a ModelFileError naming the file and what did not fit.
    """
    arrays, header = read_archive(path)
    check_checkpoint_header(path, header)
    try:
        _restore(arrays, header, state)
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise ModelFileError(
            f"{path}: the checkpoint does not fit this training run: {error}"
        ) from None


def _restore(arrays: dict[str, np.ndarray], header: dict[str, Any], state: TrainingState) -> None:
    state.model.load_state_dict(
        {k[len("model/") :]: v for k, v in arrays.items() if k.startswith("model/")}
    )
    entries: dict[int, dict[str, Any]] = {}
    for key, value in arrays.items():
        if key.startswith("optim/"):
            _, index, name = key.split("/", 2)
            entries.setdefault(int(index), {})[name] = value
    for index, scalars in header["optimizer_scalars"].items():
        entries.setdefault(int(index), {}).update(scalars)
    groups = [
        {**group, "betas": tuple(group["betas"])} if "betas" in group else group
        for group in header["param_groups"]
    ]
    state.optimizer.load_state_dict({"state": entries, "param_groups": groups})
    state.history = History.from_dict(header["history"])
    state.epoch = int(header["epoch"])
    _random.default_generator().bit_generator.state = header["rng"]
    for loader, saved in zip(state.loaders, header["loaders"]):
        loader.load_state_dict(saved)
    for callback, number in _saved_positions(state.callbacks, header):
        values = header["callbacks"][number]
        prefix = f"callback/{number}/"
        saved_arrays = {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
        if values or saved_arrays:
            callback.load_state_dict({**values, **saved_arrays})


def _callback_keys(callbacks: Any) -> list[str]:
    """'EarlyStopping#0', 'Checkpoint#0', ...: each callback by its class and how many of that
    class came before it, so a resumed run finds each one's state wherever it now stands (a
    rule added on resume shifts the positions)."""
    seen: dict[str, int] = {}
    keys = []
    for callback in callbacks:
        name = type(callback).__name__
        keys.append(f"{name}#{seen.get(name, 0)}")
        seen[name] = seen.get(name, 0) + 1
    return keys


def _saved_positions(callbacks: Any, header: dict[str, Any]) -> list[tuple[Any, int]]:
    """Each callback of the run with the position of its saved state: by key where the
    checkpoint has keys, else by position (checkpoints written before keys existed)."""
    saved = header.get("callback_keys")
    count = len(header["callbacks"])
    if isinstance(saved, list) and len(saved) == count and all(isinstance(k, str) for k in saved):
        where = {key: number for number, key in enumerate(saved)}
        pairs = zip(callbacks, _callback_keys(callbacks))
        return [(callback, where[key]) for callback, key in pairs if key in where]
    return [(callback, number) for number, callback in enumerate(callbacks) if number < count]
