"""Your own table, ready to train on: ``load_table`` reads a file or a DataFrame, detects the
task, splits the rows (seeded, stratified for classification), fits the preprocessing on the
training rows only and returns the arrays with the fitted ``TablePreprocessor``.

>>> import numpy as np, polars as pl
>>> frame = pl.DataFrame({"size": np.arange(40.0), "colour": ["red", "blue"] * 20,
...                       "label": ["small"] * 20 + ["large"] * 20})
>>> table = load_table(frame, target="label", seed=0)
>>> table.task, table.preprocessor.feature_names
('classification', ['size', 'colour=blue', 'colour=red', 'colour=(other)'])
>>> table.X_train.dtype, len(table.y_train) + len(table.y_val) + len(table.y_test)
(dtype('float32'), 40)
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..._text import counted
from ...engine.random import check_seed
from .columns import (
    TASKS,
    Task,
    Where,
    check_classes,
    check_finite,
    check_not_mixed,
    choose_features,
    detect_task,
)
from .matrix import EncodedMatrix, TableDataset
from .preprocessing import TablePreprocessor, TargetColumn, Unseen
from .reading import MISSING_MARKERS, TableError, import_polars, is_table_path, read_table
from .split import split_rows

if TYPE_CHECKING:
    import polars as pl

__all__ = [
    "MISSING_MARKERS",
    "TASKS",
    "EncodedMatrix",
    "TableData",
    "TableDataset",
    "TableError",
    "TablePreprocessor",
    "is_table_path",
    "load_table",
    "read_table",
    "unseen_note",
]


# The parts of a table, in the order load_table makes them.
PARTS = ("training", "validation", "test")


@dataclass
class TableData:
    """A table split into training, validation and test arrays, with what was learnt from it.

    ``X_*`` are float32 matrices (made from ``inputs`` when first read, then kept); ``y_*``
    class indices (int64) for classification, or the standardised target (float32, shape
    (n, 1)) for regression, which ``preprocessor.decode`` maps back. ``notes`` say, one line
    each, what was detected, left out, dropped or capped.
    """

    # The input matrices by part ("training", "validation", "test") without their one-hot
    # zeros: ``dataset("training")`` trains from it a minibatch at a time.
    inputs: dict[str, EncodedMatrix]
    y_train: np.ndarray
    y_val: np.ndarray
    y_test: np.ndarray
    preprocessor: TablePreprocessor
    notes: list[str] = field(default_factory=list)
    # The target's own values by part: float64 numbers for a regression (exact, where ``y_*``
    # went through float32), class indices otherwise.
    targets: dict[str, np.ndarray] = field(default_factory=dict)
    _dense: dict[str, np.ndarray] = field(default_factory=dict, init=False, repr=False)

    @property
    def X_train(self) -> np.ndarray:
        return self._matrix("training")

    @property
    def X_val(self) -> np.ndarray:
        return self._matrix("validation")

    @property
    def X_test(self) -> np.ndarray:
        return self._matrix("test")

    def _matrix(self, part: str) -> np.ndarray:
        if part not in self._dense:
            self._dense[part] = np.asarray(self.inputs[part])
        return self._dense[part]

    def dataset(self, part: str = "training") -> TableDataset:
        """A part's rows and targets for a ``DataLoader``, which writes each minibatch's
        dense rows as it takes them (a large table's full matrix is never made)."""
        y = {"training": self.y_train, "validation": self.y_val, "test": self.y_test}[part]
        return TableDataset(self.inputs[part], y)

    @property
    def task(self) -> Task:
        return self.preprocessor.task

    @property
    def classes(self) -> tuple[str, ...]:
        return self.preprocessor.target.classes

    @property
    def feature_names(self) -> list[str]:
        return self.preprocessor.feature_names


def load_table(
    source: Any,
    target: str,
    *,
    features: Sequence[str] | None = None,
    task: str = "auto",
    test: Any = None,
    test_fraction: float = 0.2,
    val_fraction: float = 0.1,
    seed: int = 0,
) -> TableData:
    """Read ``source`` (a CSV/TSV/Parquet path, or a polars or pandas DataFrame) and prepare it
    to predict the column ``target`` from ``features`` (default: every other column that can
    help; the others are left out with a note).

    ``task`` is 'auto' (text or true/false targets, and whole numbers with at most 20 distinct
    values, are classified; other numbers regressed), 'classification' or 'regression'. Rows
    whose target is missing are dropped and counted. The test rows are ``test`` (another
    table) or ``test_fraction`` of the rows; ``val_fraction`` of the rest validate; both splits
    are drawn from ``seed`` and stratified by class for classification.

    Raises
    ------
    TableError
        For a table that cannot be used, naming the file (or DataFrame) and the column.
    ImportError
        Without polars, saying what to install.
    """
    seed = check_seed(seed, "load_table")
    for name, fraction in (("test_fraction", test_fraction), ("val_fraction", val_fraction)):
        if not (isinstance(fraction, (int, float)) and 0 <= fraction < 1):
            raise ValueError(f"load_table: {name} must lie in [0, 1), not {fraction!r}")
    frame, label = read_table(source)
    where = Where(label, isinstance(source, (str, os.PathLike)))
    _check_columns(frame, target, features, where)
    notes: list[str] = []
    candidates = list(features) if features is not None else frame.columns
    for name in dict.fromkeys([target, *candidates]):  # on every row, before any is dropped
        check_not_mixed(frame[name], where)
    check_finite(frame, list(dict.fromkeys([target, *candidates])), where)
    frame, where = _rows_with_target(frame, target, where, notes)
    chosen_task, reason = detect_task(frame[target], task, where)
    notes.insert(0, f"task: {chosen_task}, as {reason}")
    classes = check_classes(frame[target], where) if chosen_task == "classification" else []
    labels = _class_indices(frame[target], classes) if classes else None
    if test is None:
        train_rows, test_rows = split_rows(frame.height, test_fraction, seed, labels)
        test_frame, test_where = frame[test_rows], where
        train_labels = labels[train_rows] if labels is not None else None
    else:
        test_frame, test_label = read_table(test)
        test_where = Where(test_label, isinstance(test, (str, os.PathLike)))
        _check_columns(test_frame, target, features, test_where)
        check_finite(test_frame, [target], test_where)
        test_frame, test_where = _rows_with_target(test_frame, target, test_where, notes)
        train_rows, train_labels = np.arange(frame.height), labels
    fit_rows, val_rows = split_rows(len(train_rows), val_fraction, seed + 1, train_labels)
    _check_parts(
        where, test_frame.height, len(val_rows), len(fit_rows), test is None and test_fraction > 0,
        val_fraction > 0,
    )  # fmt: skip
    # Each part gathered from the table at once (a large table's rows are copied once).
    fit, val = frame[train_rows[fit_rows]], frame[train_rows[val_rows]]
    choice = choose_features(fit, target, features, where)
    notes += choice.notes
    target_column = _target_column(fit[target], chosen_task, classes)
    preprocessor, capped = TablePreprocessor.fit(
        fit, target_column, choice.numeric, choice.categorical
    )
    notes += capped
    inputs: dict[str, EncodedMatrix] = {}
    y: dict[str, np.ndarray] = {}
    targets: dict[str, np.ndarray] = {}
    for part, part_frame, part_where in zip(
        PARTS, (fit, val, test_frame), (where, where, test_where), strict=True
    ):
        # The table's own rows were checked before the split; a --test file's were not.
        checked = part != "test" or test is None
        inputs[part], unseen = preprocessor.encode(part_frame, part_where, finite_checked=checked)
        notes += [unseen_note(part, name, found) for name, found in unseen.items()]
        y[part] = preprocessor.encode_target(part_frame[target], part_where)
        if chosen_task == "regression":
            targets[part] = _target_values(part_frame[target])
        else:
            targets[part] = y[part]
    return TableData(
        inputs, y["training"], y["validation"], y["test"], preprocessor, notes, targets
    )


def _check_parts(
    where: Where, test: int, validation: int, fit: int, want_test: bool, want_validation: bool
) -> None:
    """Refuse a split that left a part empty: a table with too few rows (or classes too small)
    for the fractions asked."""
    empty = [
        name
        for name, count, wanted in (
            ("test", test, want_test),
            ("validation", validation, want_validation),
            ("training", fit, True),
        )
        if wanted and count == 0
    ]
    if empty:
        rows = test + validation + fit
        raise TableError(
            f"{where.label}: {rows:,} usable rows are too few to split into training, "
            f"validation and test rows (no {' and no '.join(empty)} rows); give more rows, a "
            "separate --test FILE, or --val-fraction 0"
        )


def unseen_note(part: str, column: str, found: Unseen) -> str:
    """One line on the values of ``column`` in the ``part`` rows that training never saw."""
    examples = ", ".join(repr(example) for example in found.examples)
    return (
        f"{part} rows: {counted(found.count, 'value')} of {column!r} outside the training "
        f"vocabulary (e.g. {examples}) went to its (other) column"
    )


def _check_columns(
    frame: pl.DataFrame, target: str, features: Sequence[str] | None, where: Where
) -> None:
    """Refuse a target or feature the table does not have (listing the columns it has, and the
    nearest name), a feature named twice, and the target among the features."""
    names = [target, *(features or [])]
    folded = {column.casefold(): column for column in frame.columns}
    for position, name in enumerate(names):
        flag = "--target" if position == 0 else "--features"
        if name not in frame.columns:
            close = difflib.get_close_matches(name.casefold(), list(folded), n=1)
            hint = f"; did you mean {folded[close[0]]!r}?" if close else ""
            raise TableError(
                f"{where.label}: {flag}: no column {name!r}{hint} (the columns are "
                f"{', '.join(map(repr, frame.columns))})"
            )
    if features is not None:
        if not features:
            raise TableError(f"{where.label}: --features names no column")
        if target in features:
            raise TableError(
                f"{where.label}: --features: {target!r} is the target; a model cannot take what "
                "it predicts as an input"
            )
        repeated = sorted({name for name in features if list(features).count(name) > 1})
        if repeated:
            raise TableError(f"{where.label}: --features names {repeated[0]!r} twice")


def _rows_with_target(
    frame: pl.DataFrame, target: str, where: Where, notes: list[str]
) -> tuple[pl.DataFrame, Where]:
    """``frame`` without the rows whose target is missing, counted in ``notes``, and ``where``
    knowing which rows were kept (for line numbers)."""
    pl = import_polars()
    column = frame[target]
    missing = column.is_null()
    if column.dtype.is_float():
        missing = missing | column.is_nan().fill_null(True)
    dropped = int(missing.sum())
    if dropped == frame.height:
        raise TableError(
            f"{where.label}: every row's target {target!r} is missing; there is nothing to "
            "learn from"
        )
    if dropped:
        notes.append(
            f"{where.label}: dropped {dropped:,} of {frame.height:,} rows whose target "
            f"{target!r} is missing"
        )
        kept = np.flatnonzero(~missing.to_numpy())
        return frame.filter(~pl.Series(missing)), Where(where.label, where.is_file, kept)
    return frame, where


def _target_values(series: pl.Series) -> np.ndarray:
    pl = import_polars()
    return np.asarray(series.cast(pl.Float64).to_numpy(), dtype=np.float64)


def _class_indices(series: pl.Series, classes: list[str]) -> np.ndarray:
    pl = import_polars()
    return np.asarray(
        series.cast(pl.String)
        .replace_strict(classes, list(range(len(classes))), return_dtype=pl.Int64)
        .to_numpy()
    )


def _target_column(series: pl.Series, task: Task, classes: list[str]) -> TargetColumn:
    if task == "classification":
        return TargetColumn(series.name, task, tuple(classes))
    pl = import_polars()
    values = series.cast(pl.Float64).to_numpy()
    mean, std = float(values.mean()), float(values.std())
    return TargetColumn(
        series.name, task, mean=mean, scale=std if std > 0 and math.isfinite(std) else 1.0
    )
