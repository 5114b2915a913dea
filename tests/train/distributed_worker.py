"""What ``test_distributed.py`` runs under ``mpirun``; also imported by it for the one-process
reference runs.

    python distributed_worker.py equivalence OUTDIR   # three short trainings, results per rank
    python distributed_worker.py mismatch             # rank 1 builds a wider model
    python distributed_worker.py crash raise|exit     # rank 1 fails in the middle of training
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

import chainrule as cr
from chainrule import nn, optim
from chainrule.data import DataLoader, TensorDataset
from chainrule.train import Callback, Checkpoint, fit

SAMPLES, FEATURES, CLASSES, HIDDEN = 43, 5, 3, 8
BATCH = 10  # 43 = 4 x 10 + 3: over 3 ranks the shards are 4, 3, 3 and finally 1, 1, 1
EPOCHS = 2
SEED = 7


def make_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((SAMPLES, FEATURES)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] * X[:, 2] > 0).astype(np.int64) + (X[:, 3] > 1).astype(np.int64)
    return X, y


def make_model(seed: int, hidden: int = HIDDEN) -> nn.Module:
    cr.manual_seed(seed)
    return nn.mlp(FEATURES, [hidden], CLASSES, "tanh")


def train_with_fit(kind: str, distributed: bool, seed: int, callbacks: Any = ()) -> dict[str, Any]:
    """fit with shuffling from the library's generator (seeded with ``seed``)."""
    X, y = make_data()
    model = make_model(seed)
    if kind == "sgd":
        optimizer: optim.Optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    else:
        optimizer = optim.Adam(model.parameters(), lr=1e-2)
    history = fit(
        model,
        nn.CrossEntropyLoss(),
        optimizer,
        (X, y),
        epochs=EPOCHS,
        batch_size=BATCH,
        callbacks=callbacks,
        progress=False,
        distributed=distributed,
    )
    result = {name: p.data.copy() for name, p in model.named_parameters()}
    result["train_loss"] = np.array(history.train_loss)
    result["train_accuracy"] = np.array(history.train_accuracy)
    return result


def train_by_hand(distributed: bool, seed: int) -> dict[str, Any]:
    """The loop written out with ``DataParallel.shard`` and ``step``; a loader with its own
    seed gives every rank the same batches."""
    X, y = make_data()
    model = make_model(seed)
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    loss_fn = nn.CrossEntropyLoss()
    loader = DataLoader(TensorDataset(X, y), batch_size=BATCH, shuffle=True, seed=3)
    parallel = None
    if distributed:
        from chainrule.distributed import distribute

        parallel = distribute(model, optimizer)
    for _ in range(EPOCHS):
        for inputs, targets in loader:
            if parallel is not None:
                inputs, targets = parallel.shard(inputs, targets)
            optimizer.zero_grad()
            if len(inputs):
                loss_fn(model(inputs), targets).backward()
            if parallel is not None:
                parallel.step()
            else:
                optimizer.step()
    return {name: p.data.copy() for name, p in model.named_parameters()}


def three_trainings(
    distributed: bool, seed: int, checkpoint: Checkpoint | None = None
) -> dict[str, Any]:
    """fit with SGD and with Adam, and the loop by hand with Adam, their results keyed
    "fit-sgd/...", "fit-adam/..." and "hand-adam/..."; ``checkpoint`` watches the SGD run."""
    results: dict[str, Any] = {}
    for kind in ("sgd", "adam"):
        callbacks = [checkpoint] if kind == "sgd" and checkpoint is not None else []
        for key, value in train_with_fit(kind, distributed, seed, callbacks).items():
            results[f"fit-{kind}/{key}"] = value
    for key, value in train_by_hand(distributed, seed).items():
        results[f"hand-adam/{key}"] = value
    return results


def equivalence(out: Path) -> None:
    from chainrule import distributed

    rank = distributed.rank()
    # Every rank starts from a different initialisation and generator: the broadcast of rank
    # 0's parameters and batch order must make them one run, the run of seed SEED.
    checkpoint = Checkpoint(out / f"checkpoint-rank{rank}.npz")
    results = three_trainings(True, SEED + rank, checkpoint)
    np.savez(out / f"result-rank{rank}.npz", **results)


def mismatch() -> None:
    from chainrule import distributed

    model = make_model(SEED, hidden=HIDDEN + (distributed.rank() == 1))
    distributed.DataParallel(model, optim.SGD(model.parameters(), lr=0.1))


class _Fail(Callback):
    def __init__(self, how: str, rank: int) -> None:
        self.how, self.rank = how, rank

    def on_batch_end(self, state: Any) -> None:
        if self.rank == 1 and state.batch == 2:
            if self.how == "exit":
                os._exit(3)
            raise RuntimeError("deliberate crash on rank 1")


def crash(how: str) -> None:
    from chainrule import distributed

    # Many epochs: without the abort the other rank would wait in its allreduce for ever.
    X, y = make_data()
    model = make_model(SEED)
    fail = _Fail(how, distributed.rank())
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    fit(
        model,
        nn.CrossEntropyLoss(),
        optimizer,
        (X, y),
        epochs=10_000,
        batch_size=BATCH,
        callbacks=[fail],
        progress=False,
        distributed=True,
    )


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "equivalence":
        equivalence(Path(sys.argv[2]))
    elif command == "mismatch":
        mismatch()
    elif command == "crash":
        crash(sys.argv[2])
    else:
        raise SystemExit(f"unknown command {command!r}")
