"""What ``chainrule train --data FILE --target COL`` adds to a run: the table's arrays and
fitted preprocessing, batch and epoch defaults by its size, the test metrics by task beside
their baselines, and the confusion matrix or predicted-against-true picture."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from ..data.table import TableData, load_table
from ..nn import Module
from ..train import metrics
from ..train.loop import predict_outputs

# Defaults by the number of training rows: larger tables take larger batches, and a table
# gets about this many optimiser steps in all (within 5 to 200 epochs).
_STEPS = 3000
_EPOCH_RANGE = (5, 200)


def batch_size_for(rows: int) -> int:
    return 32 if rows < 5_000 else 128 if rows < 100_000 else 512


def epochs_for(rows: int, batch_size: int) -> int:
    batches = max(1, math.ceil(rows / batch_size))
    low, high = _EPOCH_RANGE
    return min(high, max(low, round(_STEPS / batches)))


def load(config: Any) -> TableData:
    """The run's table, read and prepared as its settings say."""
    return load_table(
        config.data,
        config.target,
        features=config.features,
        task=config.task or "auto",
        test=config.test,
        test_fraction=config.test_fraction if config.test is None else 0.0,
        val_fraction=config.val_fraction,
        seed=config.seed,
    )


def evaluate_split(
    model: Module, table: TableData, part: str, X: np.ndarray
) -> tuple[dict[str, float], np.ndarray, np.ndarray]:
    """The metrics of ``model`` on the ``part`` rows ("validation" or "test") whose inputs are
    ``X`` (with the baselines), and the true and predicted values (class indices, or the
    target's own values)."""
    outputs = predict_outputs(model, X)
    true = table.targets[part]
    if table.task == "classification":
        predicted = outputs.argmax(axis=1)
        majority = int(np.bincount(table.y_train, minlength=len(table.classes)).argmax())
        found = metrics.classification_metrics(true, predicted, len(table.classes), majority)
        return found, true, predicted
    values, _ = table.preprocessor.decode(outputs)
    mean = float(table.targets["training"].mean())
    return metrics.regression_metrics(true, np.asarray(values), mean), true, np.asarray(values)


def metrics_record(
    model: Module, table: TableData
) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """The ``metrics.json`` entries of a table run: ``task``, and ``val_*`` and ``test_*``
    metrics with their baselines; and the test rows' true and predicted values."""
    record: dict[str, Any] = {"task": table.task}
    validation: dict[str, float] = {}
    if len(table.X_val):
        validation, _, _ = evaluate_split(model, table, "validation", table.X_val)
    test, true, predicted = evaluate_split(model, table, "test", table.X_test)
    for prefix, found in (("val", validation), ("test", test)):
        for name, value in found.items():
            key = name.replace("baseline_", f"{prefix}_baseline_", 1)
            record[key if key != name else f"{prefix}_{name}"] = _json_number(value)
    return record, true, predicted


def _json_number(value: float) -> float | None:
    return value if math.isfinite(value) else None  # JSON has no NaN


def summary(record: dict[str, Any]) -> list[str]:
    """The test metrics in words, each beside its baseline."""
    names: tuple[tuple[str, str, str], ...]
    if record["task"] == "classification":
        names = (("accuracy", "accuracy", "%"), ("f1_macro", "macro F1", ""))
        baseline = "always the majority class"
    else:
        names = (("rmse", "RMSE", ""), ("mae", "MAE", ""), ("r2", "R²", ""))
        baseline = "always the training mean"
    lines = []
    for key, label, unit in names:
        mine, theirs = record.get(f"test_{key}"), record.get(f"test_baseline_{key}")
        lines.append(
            f"test {label}: {_shown(mine, unit)} (baseline, {baseline}: {_shown(theirs, unit)})"
        )
    return lines


def _shown(value: float | None, unit: str) -> str:
    if value is None:
        return "undefined"
    return f"{value:.2%}" if unit == "%" else f"{value:.4g}"


def pictures(
    table: TableData, true: np.ndarray, predicted: np.ndarray, folder: Path, title: str
) -> list[Path]:
    """The confusion matrix of the test rows, or their predicted against true values."""
    from ..plots import tables

    if table.task == "classification":
        matrix = metrics.confusion_matrix(true, predicted, len(table.classes))
        return [
            tables.plot_confusion_matrix(
                matrix, table.classes, folder / "confusion_matrix.png", f"{title}: test rows"
            )
        ]
    name = table.preprocessor.target.name
    return [
        tables.plot_predictions(
            true, predicted, folder / "predictions.png", f"{title}: test rows", name
        )
    ]
