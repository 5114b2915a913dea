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

from ..._text import counted
from .columns import Task, Where, check_finite, is_number
from .matrix import EncodedMatrix
from .reading import TableError, import_polars

if TYPE_CHECKING:
    import polars
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
        vocabularies. The numeric columns come first, then the categorical ones, each group
        in the frame's order."""
        notes: list[str] = []
        columns: list[Column] = []
        columns += _fit_numeric(frame, [name for name in frame.columns if name in set(numeric)])
        for name in [name for name in frame.columns if name in set(categorical)]:
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
        encoded, unseen = self.encode(frame, where)
        return np.asarray(encoded), unseen

    def encode(
        self, frame: pl.DataFrame, where: Where, *, finite_checked: bool = False
    ) -> tuple[EncodedMatrix, dict[str, Unseen]]:
        """``transform``'s matrix without its zeros (see ``EncodedMatrix``): the numeric block
        and, per categorical column, the position of each row's 1. ``finite_checked`` says
        that the caller has refused infinite numbers already (``load_table`` checks the whole
        table before splitting it)."""
        missing = [name for name in self.input_columns if name not in frame.columns]
        if missing:
            raise TableError(
                f"{where.label}: the model needs column(s) {', '.join(map(repr, missing))}, "
                f"which the table does not have (it has {_listed(frame.columns)})"
            )
        if not finite_checked:
            numeric_names = [c.name for c in self.columns if isinstance(c, NumericColumn)]
            check_finite(frame, numeric_names, where)
        for column in self.columns:  # numbers written as text: every one must parse
            if isinstance(column, NumericColumn) and not is_number(frame.schema[column.name]):
                _numbers(frame[column.name], where)
        # Every input column's expression at once: polars computes them in parallel.
        numeric = [column for column in self.columns if isinstance(column, NumericColumn)]
        categorical = [column for column in self.columns if isinstance(column, CategoricalColumn)]
        computed = frame.select(
            [
                expression
                for column in numeric
                for expression in _numeric_expressions(column, frame.schema[column.name])
            ]
            + [_codes_expression(column) for column in categorical]
        )
        width = sum(len(column.outputs) for column in numeric)
        values = (
            computed[:, :width].to_numpy(order="c")
            if width
            else np.zeros((frame.height, 0), dtype=np.float32)
        )
        hot = np.empty((frame.height, len(categorical)), dtype=np.intp)
        unseen: dict[str, Unseen] = {}
        start = width
        for index, column in enumerate(categorical):
            codes = computed[:, width + index].to_numpy()
            np.add(codes, start, out=hot[:, index], casting="unsafe")
            outside = codes == len(column.outputs) - 1
            if outside.any():
                unseen[column.name] = _unseen(frame[column.name], outside)
            start += len(column.outputs)
        return EncodedMatrix(values, hot, start), unseen

    def missing_counts(self, frame: pl.DataFrame) -> dict[str, int]:
        """How many values of each input column of ``frame`` are missing (filled with the
        training median, or sent to the "(missing)" or "(other)" column), where any are."""
        pl = import_polars()
        expressions = []
        for column in self.columns:
            values = pl.col(column.name)
            if frame.schema[column.name].is_float():
                values = values.fill_nan(None)
            expressions.append(values.null_count().alias(column.name))
        counts = frame.select(expressions).row(0, named=True) if expressions else {}
        return {name: int(count) for name, count in counts.items() if count}

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
        names = [column.name for column in parsed]
        if len(set(names)) != len(names) or name in names:
            raise ValueError(
                f"{where}: table.columns names a column twice, or the target among the inputs"
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
        return np.asarray(series.cast(pl.Float64).to_numpy())  # missing values become NaN
    if series.dtype != pl.String:
        raise TableError(
            f"{where.label}: column {series.name!r} holds {series.dtype} values; the model "
            "expects numbers there"
        )
    numbers = series.to_frame().select(_text_as_number(pl.col(series.name)))[series.name]
    wrong = series.is_not_null() & numbers.is_null()
    if wrong.any():
        first, count = int(wrong.arg_true()[0]), counted(int(wrong.sum()), "such value")
        raise TableError(
            f"{where.label}: column {series.name!r} should hold numbers (or true/false), and "
            f"{where.row(first)} holds {series[first]!r} ({count})"
        )
    return numbers.fill_null(math.nan).to_numpy()


def _text_as_number(text: pl.Expr) -> pl.Expr:
    """Text as a number: true and false (any case) as 1 and 0, as a column of true/false
    values was trained on; else the number it spells, or null."""
    pl = import_polars()
    word = text.str.strip_chars().str.to_lowercase()
    number: polars.Expr = (
        pl.when(word == "true")
        .then(pl.lit(1.0))
        .when(word == "false")
        .then(pl.lit(0.0))
        .otherwise(word.cast(pl.Float64, strict=False))
        .alias(text.meta.output_name())
    )
    return number


def _fit_numeric(frame: pl.DataFrame, names: Sequence[str]) -> list[NumericColumn]:
    """Mean, standard deviation (ddof 0), median and whether any value is missing, of each
    numeric column in ``names``: one ``select``, which polars computes in parallel."""
    pl = import_polars()
    statistics = ("mean", "std", "median", "missing")
    expressions = []
    for index, name in enumerate(names):
        values = pl.col(name).cast(pl.Float64).fill_nan(None)
        expressions += [
            values.mean().alias(f"{index}mean"),
            values.std(ddof=0).alias(f"{index}std"),
            values.median().alias(f"{index}median"),
            values.null_count().cast(pl.Float64).alias(f"{index}missing"),
        ]
    row = frame.select(expressions).row(0) if expressions else ()
    columns = []
    for index, name in enumerate(names):
        mean, std, median, missing = (
            float(value) if value is not None else 0.0
            for value in row[index * len(statistics) : (index + 1) * len(statistics)]
        )
        columns.append(
            NumericColumn(
                name,
                mean=mean,
                scale=std if std > 0 and math.isfinite(std) else 1.0,
                median=median,
                indicator=missing > 0,
            )
        )
    return columns


def _numeric_expressions(column: NumericColumn, dtype: pl.DataType) -> list[pl.Expr]:
    """The standardised values (missing ones filled with the median), and the indicator."""
    pl = import_polars()
    source = pl.col(column.name)
    if not is_number(dtype):  # text that holds numbers (checked by _numbers), or all missing
        source = _text_as_number(source.cast(pl.String))
    number = source.cast(pl.Float64, strict=False).fill_nan(None)
    scaled = ((number.fill_null(column.median) - column.mean) / column.scale).cast(pl.Float32)
    found = [scaled.alias(f"{column.name}\x00value")]
    if column.indicator:
        found.append(number.is_null().cast(pl.Float32).alias(f"{column.name}\x00missing"))
    return found


def _as_text(series: pl.Series) -> pl.Series:
    pl = import_polars()
    return series.cast(pl.String)


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


def _codes_expression(column: CategoricalColumn) -> pl.Expr:
    """The one-hot position of each value: its level's index, then "(missing)" where training
    had missing values, else "(other)" (for values outside the vocabulary, and for missing
    values where training had none)."""
    pl = import_polars()
    other = len(column.outputs) - 1
    text = pl.col(column.name).cast(pl.String)
    codes = text.replace_strict(
        list(column.levels), list(range(len(column.levels))), default=other, return_dtype=pl.Int32
    )
    if column.missing:
        codes = pl.when(text.is_null()).then(pl.lit(len(column.levels), pl.Int32)).otherwise(codes)
    named: polars.Expr = codes.alias(f"{column.name}\x00codes")
    return named


def _unseen(series: pl.Series, outside: np.ndarray) -> Unseen:
    """The count of values sent to "(other)", with up to three examples."""
    pl = import_polars()
    examples = _as_text(series).filter(pl.Series(outside)).unique(maintain_order=True).head(3)
    return Unseen(
        int(outside.sum()), [MISSING if value is None else value for value in examples.to_list()]
    )


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
        try:
            number = float(value)
        except OverflowError:  # an integer beyond any float
            raise self.fail(field_name, "is too large a number") from None
        if not math.isfinite(number) or (positive and number <= 0):
            raise self.fail(field_name, f"is {value!r}")
        return number

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
