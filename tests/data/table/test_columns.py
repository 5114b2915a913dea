"""What each column of a table is: the task its target asks for (and why, in words), the kind
of each feature, the columns left out with a note, and the columns refused with an error that
names the table, the column and, for a file, its line (the header is line 1)."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from chainrule.data.table import TableError, load_table
from chainrule.data.table.columns import Where, check_not_mixed, choose_features, detect_task

FILE = Where("data.csv", True)
FRAME = Where("the DataFrame", False)


def _frame(target: list[object], rows: int | None = None) -> pl.DataFrame:
    """A table with two useful features and the column ``y``."""
    rows = rows or len(target)
    rng = np.random.default_rng(0)
    return pl.DataFrame(
        {
            "x": rng.normal(size=rows),
            "colour": [["red", "green", "blue"][i % 3] for i in range(rows)],
            "y": target,
        }
    )


# ------------------------------------------------------------------------ task detection
@pytest.mark.parametrize(
    ("values", "task", "words"),
    [
        (["cat", "dog"] * 10, "classification", "holds text"),
        ([True, False] * 10, "classification", "true/false"),
        ([i % 3 for i in range(40)], "classification", "3 distinct values"),
        ([i % 20 for i in range(40)], "classification", "20 distinct values (at most 20)"),
        ([i % 21 for i in range(42)], "regression", "21 distinct values"),
        ([float(i % 4) for i in range(40)], "classification", "whole numbers with 4 distinct"),
        ([i / 3 for i in range(40)], "regression", "fractions"),
        ([i * 1000 for i in range(40)], "regression", "40 distinct values"),
    ],
    ids=["text", "bool", "int-3", "int-20", "int-21", "whole-floats", "fractions", "int-many"],
)
def test_the_task_is_detected_with_its_reason(values: list[object], task: str, words: str) -> None:
    """Text and true/false targets are classified, whole numbers with at most 20 distinct
    values too, other numbers regressed; the reason names the column and says why."""
    found, reason = detect_task(pl.Series("y", values), "auto", FILE)
    assert found == task
    assert "'y'" in reason and words in reason


def test_load_table_notes_the_task_first() -> None:
    """The first note says the task and its reason."""
    table = load_table(_frame([i % 21 for i in range(42)]), "y")
    assert table.task == "regression"
    assert table.notes[0].startswith("task: regression, as the target 'y' holds whole numbers")


@pytest.mark.parametrize(
    ("values", "requested", "task"),
    [
        ([i % 3 for i in range(30)], "regression", "regression"),
        ([i / 7 for i in range(30)], "classification", "classification"),
    ],
)
def test_an_explicit_task_overrides_the_detection(
    values: list[object], requested: str, task: str
) -> None:
    """--task regression on few whole numbers, --task classification on fractions."""
    found, reason = detect_task(pl.Series("y", values), requested, FILE)
    assert found == task
    assert f"--task {requested}" in reason


@pytest.mark.parametrize(
    ("values", "kind"), [(["a", "b"] * 5, "text"), ([True, False] * 5, "true/false values")]
)
def test_regression_on_text_or_booleans_is_refused(values: list[object], kind: str) -> None:
    """--task regression on a text or true/false target is refused, naming table, column and
    what it holds."""
    with pytest.raises(TableError) as caught:
        detect_task(pl.Series("label", values), "regression", FILE)
    message = str(caught.value)
    assert message.startswith("data.csv: --task regression")
    assert "'label'" in message and kind in message


def test_an_unknown_task_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="'cluster'"):
        detect_task(pl.Series("y", [1, 2]), "cluster", FILE)


def test_a_date_target_is_refused() -> None:
    """Dates are neither classes nor numbers chainrule predicts."""
    days = [datetime.date(2020, 1, 1) + datetime.timedelta(days=i) for i in range(10)]
    with pytest.raises(TableError, match="'when' holds Date values"):
        detect_task(pl.Series("when", days), "auto", FILE)


@pytest.mark.parametrize("target", [["only"] * 30, [7] * 30, [None] * 3 + ["only"] * 27])
def test_a_target_with_one_class_is_refused(target: list[object]) -> None:
    """A classifier needs two classes: one is refused, naming the column and the class."""
    with pytest.raises(TableError) as caught:
        load_table(_frame(target), "y")
    message = str(caught.value)
    assert message.startswith("the DataFrame: ") and "'y' has one class" in message
    assert repr(str(target[-1])) in message or repr(target[-1]) in message


# ------------------------------------------------------------------------ mixed columns
def test_a_mixed_column_in_a_file_names_the_column_and_the_line(tmp_path: Path) -> None:
    """A word among numbers is refused, naming the column and its line (row index + 2)."""
    values = [str(i) for i in range(30)]
    values[11] = "twelve"  # line 13
    path = tmp_path / "mixed.csv"
    path.write_text("n,y\n" + "".join(f"{v},{'ab'[i % 2]}\n" for i, v in enumerate(values)))
    with pytest.raises(TableError) as caught:
        load_table(path, "y")
    message = str(caught.value)
    assert message.startswith(f"{path}: column 'n' mixes numbers and text: line 13 holds")
    assert "'twelve'" in message and "1 of its 30 values" in message


def test_a_mixed_column_in_a_dataframe_names_the_row() -> None:
    """In a DataFrame the place is the row, counted from 1."""
    frame = _frame(["a", "b"] * 10).with_columns(
        n=pl.Series(["?x" if i == 4 else str(i) for i in range(20)])
    )
    with pytest.raises(TableError, match=r"^the DataFrame: column 'n' .*row 5 holds '\?x'"):
        load_table(frame, "y")


def test_a_mixed_target_is_refused() -> None:
    """The target is checked too (before the rows with a missing target are dropped)."""
    target = [str(i % 3) for i in range(30)]
    target[7] = "two"
    with pytest.raises(TableError, match=r"column 'y' mixes numbers and text: row 8"):
        load_table(_frame(target), "y")


def test_text_with_a_few_numbers_is_categories() -> None:
    """A column mostly of words, with some numbers among them, is categorical, not refused."""
    series = pl.Series("code", ["A1", "B2", "7", "C3", "D4"])
    check_not_mixed(series, FILE)  # no error
    choice = choose_features(pl.DataFrame({"code": series, "y": [1, 2, 1, 2, 1]}), "y", None, FILE)
    assert choice.categorical == ["code"] and choice.numeric == []


def test_the_line_of_a_mixed_value_counts_rows_dropped_for_their_target(tmp_path: Path) -> None:
    """Three rows without a target come first; the bad value is still on line 21 of the file."""
    lines = ["a,b,y"] + ["1,1,"] * 3 + [f"{i},{i},{i % 2}" for i in range(30)]
    lines[20] = "1,xx,0"  # line 21
    path = tmp_path / "mixed.csv"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(TableError, match="line 21 holds 'xx'"):
        load_table(path, "y")


# ------------------------------------------------------------------------ features left out
def test_useless_columns_are_left_out_with_a_note() -> None:
    """Constant, all-missing and nearly-unique text columns are left out, one note each saying
    why; the others are sorted into numbers (booleans among them) and categories."""
    rows = 60
    frame = pl.DataFrame(
        {
            "id": [f"P{i:04d}" for i in range(rows)],
            "constant": ["same"] * rows,
            "constant_number": [3.0] * rows,
            "empty": pl.Series([None] * rows, dtype=pl.Float64),
            "empty_text": pl.Series([None] * rows, dtype=pl.String),
            "nans": [float("nan")] * rows,
            "x": np.arange(rows, dtype=float),
            "flag": [i % 2 == 0 for i in range(rows)],
            "colour": [["red", "blue"][i % 2] for i in range(rows)],
            "y": ["a", "b", "c"] * 20,
        }
    )
    choice = choose_features(frame, "y", None, FILE)
    assert choice.numeric == ["x", "flag"] and choice.categorical == ["colour"]
    notes = {note.split("'")[1]: note for note in choice.notes}
    assert set(notes) == {"id", "constant", "constant_number", "empty", "empty_text", "nans"}
    assert "constant ('same')" in notes["constant"]
    assert "constant (3.0)" in notes["constant_number"]
    assert (
        "text with 60 distinct values in 60 rows, too many to learn from one by one (names or ids?)"
        in notes["id"]
    )
    for name in ("empty", "empty_text", "nans"):
        assert notes[name] == f"left out {name!r}: every value is missing"
    for name in ("id", "constant", "constant_number"):
        assert "name it in --features to use it" in notes[name]


@pytest.mark.parametrize(
    ("distinct", "rows", "left_out"),
    [(20, 20, False), (21, 21, True), (21, 42, False), (21, 41, True)],
)
def test_the_nearly_unique_rule(distinct: int, rows: int, left_out: bool) -> None:
    """Text is taken for ids with more than 20 distinct values, more than half its rows."""
    values = [f"v{i % distinct}" for i in range(rows)]
    frame = pl.DataFrame(
        {"t": values, "x": np.arange(rows, dtype=float), "y": [i % 2 for i in range(rows)]}
    )
    choice = choose_features(frame, "y", None, FILE)
    assert ("t" not in choice.categorical) is left_out


def test_a_date_column_is_left_out_unless_named() -> None:
    """Dates are left out with a note; naming one in --features is an error."""
    days = [datetime.date(2020, 1, 1) + datetime.timedelta(days=i) for i in range(20)]
    frame = pl.DataFrame({"day": days, "x": np.arange(20.0), "y": [0, 1] * 10})
    choice = choose_features(frame, "y", None, FILE)
    assert choice.numeric == ["x"]
    assert choice.notes == [
        "left out 'day': holds Date values, which chainrule does not use as inputs"
    ]
    with pytest.raises(
        TableError, match=r"^data.csv: --features: column 'day' cannot be an input: holds Date"
    ):
        choose_features(frame, "y", ["day", "x"], FILE)


def test_named_useless_columns_are_used() -> None:
    """A constant or id-like column named in --features is used, without a note."""
    frame = pl.DataFrame({"id": [f"P{i}" for i in range(30)], "c": [1] * 30, "y": [0, 1, 2] * 10})
    choice = choose_features(frame, "y", ["c", "id"], FILE)
    assert choice.numeric == ["c"] and choice.categorical == ["id"] and choice.notes == []


@pytest.mark.parametrize("dtype", [pl.Float64, pl.String])
def test_a_named_feature_that_is_all_missing_is_an_error(dtype: pl.DataType) -> None:
    """--features naming a column with no value is refused, naming the table and column."""
    frame = _frame(["a", "b"] * 15).with_columns(pl.Series("gone", [None] * 30, dtype=dtype))
    with pytest.raises(TableError) as caught:
        load_table(frame, "y", features=["x", "gone"])
    message = str(caught.value)
    assert message.startswith("the DataFrame: --features: column 'gone'")
    assert "every value is missing" in message


def test_no_usable_column_is_an_error() -> None:
    """A table whose every other column is left out cannot be learnt from; the error lists
    why each was left out."""
    frame = pl.DataFrame({"c": [1] * 30, "y": ["a", "b"] * 15})
    with pytest.raises(TableError, match=r"no column is left to predict 'y' from \(left out 'c'"):
        load_table(frame, "y")


@pytest.mark.parametrize(
    ("target", "features", "words"),
    [
        ("colours", None, "--target: no column 'colours'; did you mean 'colour'?"),
        ("Y", None, "--target: no column 'Y'; did you mean 'y'? (the columns"),
        ("y", ["x", "nope"], "--features: no column 'nope'"),
        ("y", ["x", "y"], "'y' is the target"),
        ("y", ["x", "x"], "names 'x' twice"),
        ("y", [], "--features names no column"),
    ],
)
def test_bad_target_and_feature_names_are_refused(
    target: str, features: list[str] | None, words: str
) -> None:
    """An unknown target or feature (the columns listed), the target among the features, a
    feature named twice and an empty list are refused."""
    with pytest.raises(TableError) as caught:
        load_table(_frame(["a", "b"] * 15), target, features=features)
    message = str(caught.value)
    assert message.startswith("the DataFrame: ") and words in message
    if "no column '" in words:
        assert "(the columns are 'x', 'colour', 'y')" in message


def test_rows_without_a_target_are_dropped_and_counted() -> None:
    """Rows whose target is missing (null or NaN) are dropped, and a note counts them."""
    target = [float(i % 25) + 0.5 for i in range(50)]
    for row in (3, 10, 11):
        target[row] = None  # type: ignore[call-overload]
    target[20] = float("nan")
    table = load_table(_frame(target), "y")
    assert "the DataFrame: dropped 4 of 50 rows whose target 'y' is missing" in table.notes
    assert len(table.y_train) + len(table.y_val) + len(table.y_test) == 46
