"""From a table's columns to the network's inputs, and from its outputs back to the target.

Fitted on the training rows only and saved inside the model file, so that ``predict`` applies
exactly the same steps:

- a numeric column is standardised with the training mean and standard deviation; a missing
  value is filled with the training median, and a column that had missing values gains an
  indicator column (1 where the value was missing);
- a categorical column is one-hot encoded with the training vocabulary (its MAX_LEVELS most
  frequent values), plus a column for missing values (where training had any) and an
  "(other)" column for values training never saw, which are counted, never an error;
- a classification target becomes class indices (classes as text, sorted); a regression
  target is standardised for training and mapped back on output.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .columns import Task, Where, is_number
from .reading import TableError, import_polars

if TYPE_CHECKING:
    import polars as pl

# One-hot columns a categorical feature gets at most (the most frequent values); the rest share
# its "(other)" column.
MAX_LEVELS = 100
OTHER = "(other)"
MISSING = "(missing)"


@dataclass(frozen=True)
class NumericColumn:
    """A column of numbers: (value - mean) / scale, missing values filled with the median."""

    name: str
    mean: float
    scale: float
    median: float
    indicator: bool  # an extra input: 1 where the value is missing

    @property
    def outputs(self) -> list[str]:
        return [self.name] + ([f"{self.name} {MISSING}"] if self.indicator else [])

    def describe(self) -> str:
        filled = f", missing -> median {self.median:.6g} + indicator" if self.indicator else ""
        return f"numeric: (x - {self.mean:.6g}) / {self.scale:.6g}{filled}"


@dataclass(frozen=True)
class CategoricalColumn:
    """A column of categories, one-hot encoded over ``levels``, then "(missing)" (if
    training had missing values) and "(other)" for values training never saw."""

    name: str
    levels: tuple[str, ...]
    missing: bool
    capped: int = 0  # how many rarer training values were folded into "(other)"

    @property
    def outputs(self) -> list[str]:
        extra = [MISSING] if self.missing else []
        return [f"{self.name}={level}" for level in [*self.levels, *extra, OTHER]]

    def describe(self) -> str:
        shown = ", ".join(self.levels[:8]) + (", ..." if len(self.levels) > 8 else "")
        capped = f"; {self.capped:,} rarer values go to (other)" if self.capped else ""
        missing = " + (missing)" if self.missing else ""
        return (
            f"categorical: one-hot over {len(self.levels)} values ({shown}){missing} + (other)"
            f"{capped}"
        )


Column = NumericColumn | CategoricalColumn


@dataclass(frozen=True)
class TargetColumn:
    """The column a table model predicts: its classes, or the mean and scale of its values."""

    name: str
    task: Task
    classes: tuple[str, ...] = ()
    mean: float = 0.0
    scale: float = 1.0

    def describe(self) -> str:
        if self.task == "classification":
            shown = ", ".join(self.classes[:10]) + (", ..." if len(self.classes) > 10 else "")
            return f"classification into {len(self.classes)} classes ({shown})"
        return f"regression; trained on (y - {self.mean:.6g}) / {self.scale:.6g}"


@dataclass
class Unseen:
    """Values of a categorical column that training never saw, met by ``transform``."""

    count: int = 0
    examples: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TablePreprocessor:
    """The fitted steps from a table to a float32 input matrix, and back from outputs to
    predictions of the target; JSON-serialisable with ``to_dict``/``from_dict``."""

    columns: tuple[Column, ...]
    target: TargetColumn

    @property
    def task(self) -> Task:
        return self.target.task

    @property
    def feature_names(self) -> list[str]:
        """The names of the input matrix's columns, in order."""
        return [name for column in self.columns for name in column.outputs]

    @property
    def input_columns(self) -> list[str]:
        """The table columns the model reads, in order."""
        return [column.name for column in self.columns]

    @property
    def n_outputs(self) -> int:
        return len(self.target.classes) if self.task == "classification" else 1

    # -- fitting ----------------------------------------------------------------------------

    @classmethod
    def fit(
        cls,
        frame: pl.DataFrame,
        target: TargetColumn,
        numeric: Sequence[str],
        categorical: Sequence[str],
    ) -> tuple[TablePreprocessor, list[str]]:
        """The steps fitted on ``frame`` (training rows only), and notes on capped
        vocabularies. Column order: as in the frame."""
        notes: list[str] = []
        columns: list[Column] = []
        chosen = set(numeric) | set(categorical)
        for name in [name for name in frame.columns if name in chosen]:
            if name in numeric:
                columns.append(_fit_numeric(frame[name]))
            else:
                column = _fit_categorical(frame[name])
                if column.capped:
                    notes.append(
                        f"{name!r} has {len(column.levels) + column.capped:,} distinct values; "
                        f"the {MAX_LEVELS} most frequent get a column each, the other "
                        f"{column.capped:,} share {name}={OTHER}"
                    )
                columns.append(column)
        return cls(tuple(columns), target), notes

    # -- applying ---------------------------------------------------------------------------

    def transform(self, frame: pl.DataFrame, where: Where) -> tuple[np.ndarray, dict[str, Unseen]]:
        """The float32 input matrix of ``frame`` (columns found by name, in any order; others
        ignored), and the categorical values training never saw, by column."""
        missing = [name for name in self.input_columns if name not in frame.columns]
        if missing:
            raise TableError(
                f"{where.label}: the model needs column(s) {', '.join(map(repr, missing))}, "
                f"which the table does not have (it has {_listed(frame.columns)})"
            )
        out = np.zeros((frame.height, len(self.feature_names)), dtype=np.float32)
        unseen: dict[str, Unseen] = {}
        start = 0
        for column in self.columns:
            width = len(column.outputs)
            block = out[:, start : start + width]
            if isinstance(column, NumericColumn):
                _apply_numeric(column, frame[column.name], block, where)
            else:
                found = _apply_categorical(column, frame[column.name], block)
                if found.count:
                    unseen[column.name] = found
            start += width
        return out, unseen

    def encode_target(self, series: pl.Series, where: Where) -> np.ndarray:
        """Class indices (int64) or standardised values (float32, shape (n, 1)) of a target
        column with no missing values."""
        pl = import_polars()
        if self.task == "classification":
            text = series.cast(pl.String)
            codes = text.replace_strict(
                list(self.target.classes),
                list(range(len(self.target.classes))),
                default=-1,
                return_dtype=pl.Int64,
            ).to_numpy()
            if (codes < 0).any():
                first = int(np.flatnonzero(codes < 0)[0])
                raise TableError(
                    f"{where.label}: the target column {series.name!r} holds {text[first]!r} at "
                    f"{where.row(first)}, a class the training rows do not have"
                )
            return np.asarray(codes, dtype=np.int64)
        values = _numbers(series, where)
        scaled = (values - self.target.mean) / self.target.scale
        return scaled.astype(np.float32).reshape(-1, 1)

    def decode(self, outputs: np.ndarray) -> tuple[list[str] | np.ndarray, np.ndarray | None]:
        """Predictions from the network's outputs: the class labels and their probabilities
        (softmax), or the target's values (mapped back from the standardised scale) and None."""
        if self.task == "classification":
            shifted = outputs - outputs.max(axis=1, keepdims=True)
            probabilities = np.exp(shifted)
            probabilities /= probabilities.sum(axis=1, keepdims=True)
            labels = [self.target.classes[index] for index in outputs.argmax(axis=1)]
            return labels, probabilities
        values = outputs.reshape(-1).astype(np.float64) * self.target.scale + self.target.mean
        return values, None

    # -- describing and saving --------------------------------------------------------------

    def describe(self) -> Iterator[str]:
        """One line for the target, then one per input column."""
        yield f"target {self.target.name!r}: {self.target.describe()}"
        for column in self.columns:
            yield f"  {column.name!r}: {column.describe()}"

    def to_dict(self) -> dict[str, Any]:
        target = self.target
        return {
            "target": {
                "name": target.name,
                "task": target.task,
                "classes": list(target.classes),
                "mean": target.mean,
                "scale": target.scale,
            },
            "columns": [_column_dict(column) for column in self.columns],
        }

    @classmethod
    def from_dict(cls, data: Any, where: str) -> TablePreprocessor:
        """The preprocessor ``to_dict`` wrote; ValueError naming ``where`` and the field for
        anything else (a file may have been edited or damaged)."""
        reader = _Fields(where)
        data = reader.mapping(data, "table")
        target = reader.mapping(data.get("target"), "table.target")
        task = reader.get(target, "task", str, "table.target")
        if task not in ("classification", "regression"):
            raise ValueError(f"{where}: table.target.task is {task!r}")
        classes = tuple(reader.strings(target.get("classes"), "table.target.classes"))
        if task == "classification" and len(classes) < 2:
            raise ValueError(f"{where}: table.target.classes names fewer than two classes")
        scale = reader.number(target.get("scale"), "table.target.scale", positive=True)
        mean = reader.number(target.get("mean"), "table.target.mean")
        name = reader.get(target, "name", str, "table.target")
        columns = data.get("columns")
        if not isinstance(columns, list) or not columns:
            raise ValueError(f"{where}: table.columns is not a list of columns")
        parsed = tuple(
            reader.column(entry, f"table.columns[{index}]") for index, entry in enumerate(columns)
        )
        return cls(parsed, TargetColumn(name, task, classes, mean, scale))


def _listed(names: Sequence[str], limit: int = 12) -> str:
    shown = ", ".join(repr(name) for name in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _numbers(series: pl.Series, where: Where) -> np.ndarray:
    """A column's values as float64, NaN where missing; text that is not a number is an error
    naming the column and its first row."""
    pl = import_polars()
    if is_number(series.dtype) or series.dtype == pl.Null:
        return series.cast(pl.Float64).fill_null(math.nan).to_numpy()
    if series.dtype != pl.String:
        raise TableError(
            f"{where.label}: column {series.name!r} holds {series.dtype} values; the model "
            "expects numbers there"
        )
    numbers = series.str.strip_chars().cast(pl.Float64, strict=False)
    wrong = series.is_not_null() & numbers.is_null()
    if wrong.any():
        first = int(wrong.arg_true()[0])
        raise TableError(
            f"{where.label}: column {series.name!r} should hold numbers, and {where.row(first)} "
            f"holds {series[first]!r} ({int(wrong.sum()):,} such values)"
        )
    return numbers.fill_null(math.nan).to_numpy()


def _fit_numeric(series: pl.Series) -> NumericColumn:
    values = _numbers(series, Where(series.name, False))
    present = values[~np.isnan(values)]
    mean, std = float(present.mean()), float(present.std())
    return NumericColumn(
        series.name,
        mean=mean,
        scale=std if std > 0 and math.isfinite(std) else 1.0,
        median=float(np.median(present)),
        indicator=len(present) < len(values),
    )


def _apply_numeric(
    column: NumericColumn, series: pl.Series, block: np.ndarray, where: Where
) -> None:
    values = _numbers(series, where)
    missing = np.isnan(values)
    if missing.any():
        values = np.where(missing, column.median, values)
    block[:, 0] = (values - column.mean) / column.scale
    if column.indicator:
        block[:, 1] = missing


def _as_text(series: pl.Series) -> pl.Series:
    pl = import_polars()
    return series.cast(pl.String).str.strip_chars()


def _fit_categorical(series: pl.Series) -> CategoricalColumn:
    text = _as_text(series)
    counts = text.drop_nulls().value_counts(sort=True, name="count")
    # Most frequent first, ties in alphabetical order, so that the vocabulary is reproducible.
    counts = counts.sort(["count", text.name], descending=[True, False])
    levels = counts[text.name].to_list()
    kept = levels[:MAX_LEVELS]
    return CategoricalColumn(
        series.name,
        tuple(sorted(kept)),
        missing=text.null_count() > 0,
        capped=len(levels) - len(kept),
    )


def _apply_categorical(column: CategoricalColumn, series: pl.Series, block: np.ndarray) -> Unseen:
    pl = import_polars()
    text = _as_text(series)
    other = block.shape[1] - 1
    codes = text.replace_strict(
        list(column.levels),
        list(range(len(column.levels))),
        default=other,
        return_dtype=pl.Int32,
    ).to_numpy(writable=True)
    absent = text.is_null().to_numpy()
    if column.missing:
        codes[absent] = len(column.levels)
    block[np.arange(len(codes)), codes] = 1
    # Values outside the vocabulary go to "(other)", and so do missing values where training
    # had none: both are counted, with a few examples, for the caller to report.
    outside = codes == other
    found = Unseen(count=int(outside.sum()))
    if found.count:
        examples = text.filter(pl.Series(outside)).unique(maintain_order=True).head(3)
        found.examples = [MISSING if value is None else value for value in examples.to_list()]
    return found


def _column_dict(column: Column) -> dict[str, Any]:
    if isinstance(column, NumericColumn):
        return {
            "name": column.name,
            "kind": "numeric",
            "mean": column.mean,
            "scale": column.scale,
            "median": column.median,
            "indicator": column.indicator,
        }
    return {
        "name": column.name,
        "kind": "categorical",
        "levels": list(column.levels),
        "missing": column.missing,
        "capped": column.capped,
    }


class _Fields:
    """Checks of a saved preprocessor's fields, each failure a ValueError naming the field."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, field_name: str, problem: str) -> ValueError:
        return ValueError(f"{self.where}: {field_name} {problem}")

    def mapping(self, value: Any, field_name: str) -> Mapping[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(field_name, "is not a mapping")
        return value

    def get(self, data: Mapping[str, Any], key: str, kind: type, parent: str) -> Any:
        value = data.get(key)
        if not isinstance(value, kind) or isinstance(value, bool) is not (kind is bool):
            raise self.fail(f"{parent}.{key}", f"is not a {kind.__name__}")
        return value

    def number(self, value: Any, field_name: str, *, positive: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(field_name, "is not a number")
        if not math.isfinite(value) or (positive and value <= 0):
            raise self.fail(field_name, f"is {value!r}")
        return float(value)

    def strings(self, value: Any, field_name: str) -> list[str]:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise self.fail(field_name, "is not a list of text")
        if len(set(value)) != len(value):
            raise self.fail(field_name, "names a value twice")
        return value

    def column(self, entry: Any, field_name: str) -> Column:
        data = self.mapping(entry, field_name)
        name = self.get(data, "name", str, field_name)
        kind = data.get("kind")
        if kind == "numeric":
            return NumericColumn(
                name,
                mean=self.number(data.get("mean"), f"{field_name}.mean"),
                scale=self.number(data.get("scale"), f"{field_name}.scale", positive=True),
                median=self.number(data.get("median"), f"{field_name}.median"),
                indicator=self.get(data, "indicator", bool, field_name),
            )
        if kind == "categorical":
            capped = self.get(data, "capped", int, field_name)
            if capped < 0:
                raise self.fail(f"{field_name}.capped", f"is {capped}")
            return CategoricalColumn(
                name,
                tuple(self.strings(data.get("levels"), f"{field_name}.levels")),
                missing=self.get(data, "missing", bool, field_name),
                capped=capped,
            )
        raise self.fail(f"{field_name}.kind", f"is {kind!r}, not 'numeric' or 'categorical'")
