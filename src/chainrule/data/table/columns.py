"""What each column of a table is and whether it can help: the task a target asks for (with the
reason), the kind of each feature (numbers or categories), and the columns left out with a
one-line note (constant, every value missing, nearly unique text such as names and ids)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ..._text import counted
from .reading import TableError, import_polars

if TYPE_CHECKING:
    import polars as pl

Task = Literal["classification", "regression"]
TASKS = ("auto", "classification", "regression")
# A target of whole numbers with at most this many distinct values is a class label.
MAX_INTEGER_CLASSES = 20
# More classes than this is not a classification chainrule can train well (nor display).
MAX_CLASSES = 1000
# Text with more distinct values than this, and more than half as many as it has values, is
# taken for names or ids, which one-hot encoding cannot generalise from.
NEARLY_UNIQUE_LEVELS = 20


@dataclass(frozen=True)
class Where:
    """How messages name a table and its rows: a file's rows by line (the header is line 1),
    a DataFrame's by row."""

    label: str
    is_file: bool
    # Where rows were dropped: the original index of each row kept, so that a line number
    # still points into the file.
    kept: Any = field(default=None, compare=False)

    def row(self, index: int) -> str:
        if self.kept is not None:
            index = int(self.kept[index])
        return f"line {index + 2}" if self.is_file else f"row {index + 1}"


# The largest float32 number: beyond it a value becomes infinite in the network.
FLOAT32_MAX = 3.4028234663852886e38


def check_finite(frame: pl.DataFrame, names: Sequence[str], where: Where) -> None:
    """Refuse a column of numbers holding inf, -inf or a value beyond float32's range, naming
    the column and the first line that does (NaN is a missing value, and allowed)."""
    pl = import_polars()
    numeric = [name for name in names if frame.schema[name].is_numeric()]
    if not numeric:
        return
    beyond = [pl.col(name).cast(pl.Float64).fill_nan(None).abs() > FLOAT32_MAX for name in numeric]
    found = frame.select([test.any().alias(name) for test, name in zip(beyond, numeric)]).row(0)
    for name, test, bad in zip(numeric, beyond, found):
        if bad:
            mask = frame.select(test.alias("beyond"))["beyond"].fill_null(False)
            first = int(mask.arg_true()[0])
            count = counted(int(mask.sum()), "such value")
            raise TableError(
                f"{where.label}: column {name!r} holds {frame[name][first]!r} at "
                f"{where.row(first)} ({count}); chainrule computes in float32, whose numbers "
                f"reach {FLOAT32_MAX:.3g}: correct them, or write NA where a value is missing"
            )


def is_text(dtype: pl.DataType) -> bool:
    pl = import_polars()
    return dtype == pl.String or isinstance(dtype, (pl.Categorical, pl.Enum))


def is_number(dtype: pl.DataType) -> bool:
    return bool(dtype.is_numeric()) or dtype == import_polars().Boolean


def check_not_mixed(series: pl.Series, where: Where) -> None:
    """Refuse a text column most of whose values are numbers: a typo ('12,5', 'abc') among
    numbers would otherwise turn the whole column into categories."""
    pl = import_polars()
    if series.dtype != pl.String:
        return
    sample = series.head(1000).drop_nulls()
    if not sample.str.strip_chars().cast(pl.Float64, strict=False).is_not_null().any():
        return  # text from its first rows on: categories (the full check is for numbers)
    present = series.is_not_null()
    numbers = series.str.strip_chars().cast(pl.Float64, strict=False).is_not_null()
    text = present & ~numbers
    count, total = int(text.sum()), int(present.sum())
    if count == 0 or count * 2 > total:
        return
    first = int(text.arg_true()[0])
    raise TableError(
        f"{where.label}: column {series.name!r} mixes numbers and text: {where.row(first)} "
        f"holds {series[first]!r} ({count:,} of its {total:,} values "
        f"{'is' if count == 1 else 'are'} not a number); correct them, or write NA where a "
        "value is missing"
    )


def detect_task(series: pl.Series, requested: str, where: Where) -> tuple[Task, str]:
    """The task ``series`` (the target's values, none missing) asks for, and the reason in
    words; ``requested`` ('auto', or a task) overrides the detection where it can."""
    if requested not in TASKS:
        raise ValueError(f"--task: {requested!r} is not one of {', '.join(TASKS)}")
    pl = import_polars()
    name, dtype = series.name, series.dtype
    if is_text(dtype) or dtype == pl.Boolean:
        kind = "true/false values" if dtype == pl.Boolean else "text"
        if requested == "regression":
            raise TableError(
                f"{where.label}: --task regression: the target column {name!r} holds {kind} "
                f"(e.g. {series[0]!r}), not numbers; leave --task out to classify it"
            )
        return "classification", f"the target {name!r} holds {kind}"
    if not dtype.is_numeric():
        raise TableError(
            f"{where.label}: the target column {name!r} holds {dtype} values, which chainrule "
            "cannot predict; choose a column of numbers, text or true/false values"
        )
    distinct = series.n_unique()
    whole = dtype.is_integer() or bool((series == series.round()).all())
    numbers = "whole numbers" if whole else "numbers with fractions"
    if requested == "regression":
        return "regression", f"--task regression; the target {name!r} holds {numbers}"
    if requested == "classification":
        return "classification", f"--task classification, {distinct:,} classes"
    if whole and distinct <= MAX_INTEGER_CLASSES:
        return "classification", (
            f"the target {name!r} holds whole numbers with {distinct} distinct values (at most "
            f"{MAX_INTEGER_CLASSES}); --task regression to predict it as a number"
        )
    detail = f" ({distinct:,} distinct values)" if whole else ""
    return "regression", (
        f"the target {name!r} holds {numbers}{detail}; --task classification to treat "
        "its values as classes"
    )


def check_classes(series: pl.Series, where: Where) -> list[str]:
    """The class labels of a classification target, as text in sorted order (numbers by value);
    a target with one class, or more than MAX_CLASSES, is refused."""
    pl = import_polars()
    levels = series.unique().sort()
    if len(levels) < 2:
        only = f" ({levels[0]!r})" if len(levels) else ""
        raise TableError(
            f"{where.label}: the target column {series.name!r} has one class{only}; a "
            "classifier needs at least two"
        )
    if len(levels) > NEARLY_UNIQUE_LEVELS and len(levels) * 2 > len(series):
        raise TableError(
            f"{where.label}: the target column {series.name!r} has {len(levels):,} distinct "
            f"values in {len(series):,} rows, about one per row: there is no class to learn "
            "(--task regression, if it is a number)"
        )
    if len(levels) > MAX_CLASSES:
        raise TableError(
            f"{where.label}: the target column {series.name!r} has {len(levels):,} classes, "
            f"more than the {MAX_CLASSES:,} chainrule trains; --task regression predicts it as "
            "a number"
        )
    return [str(level) for level in levels.cast(pl.String).to_list()]


@dataclass(frozen=True)
class Choice:
    """The features chosen, each as 'numeric' or 'categorical', and a note per column left out."""

    numeric: list[str]
    categorical: list[str]
    notes: list[str]


def choose_features(
    frame: pl.DataFrame, target: str, requested: Sequence[str] | None, where: Where
) -> Choice:
    """Sort the columns other than ``target`` into numbers and categories. Without
    ``requested``, columns that cannot help are left out with a note; a requested column that
    cannot be used at all (every value missing, dates) is an error naming it. Text columns
    should have passed ``check_not_mixed`` on every row first."""
    names = list(requested) if requested is not None else [c for c in frame.columns if c != target]
    numeric: list[str] = []
    categorical: list[str] = []
    notes: list[str] = []
    for name in names:
        series = frame[name]
        problem = _unusable(series)
        if problem:
            if requested is not None:
                raise TableError(
                    f"{where.label}: --features: column {name!r} cannot be an input: {problem}"
                )
            notes.append(f"left out {name!r}: {problem}")
            continue
        useless = _useless(series)
        if useless and requested is None:
            notes.append(f"left out {name!r}: {useless} (name it in --features to use it)")
            continue
        (numeric if is_number(series.dtype) else categorical).append(name)
    if not numeric and not categorical:
        raise TableError(
            f"{where.label}: no column is left to predict {target!r} from "
            f"({'; '.join(notes) or 'the table has only the target'})"
        )
    return Choice(numeric, categorical, notes)


# Text that is numbers written with separators, currency or percent signs, or dates.
_FORMATTED_NUMBER = r"^[$€£¥]?\s*[+-]?[$€£¥]?[0-9][0-9,.' ]*%?$"
_DATE = (
    r"^([0-9]{4}[-/.][0-9]{1,2}[-/.][0-9]{1,2}|[0-9]{1,2}[-/.][0-9]{1,2}[-/.][0-9]{2,4})([ T].*)?$"
)


def _looks_like(values: pl.Series) -> str:
    """A hint for text that is meant as something else: dates, or numbers with separators,
    currency or percent signs (which chainrule reads as they are written)."""
    sample = values.head(1000)
    if bool(sample.str.contains(_DATE).all()):
        return " (they look like dates, which chainrule does not use as inputs yet)"
    if bool(sample.str.contains(_FORMATTED_NUMBER).all()):
        return (
            " (they look like numbers written with separators, currency or percent signs: "
            "write them as plain numbers, like 1234.5, to use them)"
        )
    return " (names or ids?)"


def _unusable(series: pl.Series) -> str:
    """Why a column cannot be an input at all, or ''."""
    if series.null_count() == len(series) or (
        series.dtype.is_float() and series.fill_nan(None).null_count() == len(series)
    ):
        return "every value is missing"
    if not (is_number(series.dtype) or is_text(series.dtype)):
        return f"holds {series.dtype} values, which chainrule does not use as inputs"
    return ""


def _useless(series: pl.Series) -> str:
    """Why a usable column cannot help a prediction (constant, or text that names each row),
    or ''."""
    values = (series.fill_nan(None) if series.dtype.is_float() else series).drop_nulls()
    if is_text(series.dtype):
        distinct = values.n_unique()
    else:  # numbers: constant when the smallest is the largest, no hashing needed
        distinct = 1 if values.min() == values.max() else 2
    if distinct <= 1:
        return f"constant ({values[0]!r})" if len(values) else "constant"
    if is_text(series.dtype) and distinct > NEARLY_UNIQUE_LEVELS and distinct * 2 > len(values):
        return (
            f"text with {distinct:,} distinct values in {len(values):,} rows, too many to learn "
            f"from one by one{_looks_like(values)}"
        )
    return ""
