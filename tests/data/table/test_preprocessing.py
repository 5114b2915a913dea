"""``TablePreprocessor``: from a table's columns to the network's inputs, fitted on training
rows only, and from its outputs back to the target.

The matrices are compared with scikit-learn's ``SimpleImputer(strategy="median",
add_indicator=True)``, ``StandardScaler`` (which ignores missing values when fitting, as ours
does: the mean and population standard deviation are of the present training values, and a
missing value is filled with the training median before it is standardised) and
``OneHotEncoder(categories=[sorted training levels], handle_unknown="ignore")``."""

from __future__ import annotations

import copy
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import softmax
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from chainrule.data.table import TableError, TablePreprocessor, load_table
from chainrule.data.table.columns import Where
from chainrule.data.table.preprocessing import MAX_LEVELS, TargetColumn

HYPOTHESIS = settings(max_examples=60, deadline=None, database=None, derandomize=True)
FILE = Where("rows.csv", True)
MISSING_TEXT = "\x00missing"  # what the reference encoder is given for a missing category


def _as_float_array(values: list[float | None]) -> np.ndarray:
    return np.array([math.nan if value is None else value for value in values], dtype=float)


def _numeric_reference(train: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The standardised values of ``rows`` (one column) and, where the training rows had a
    missing value, the indicator column, from scikit-learn."""
    imputer = SimpleImputer(strategy="median", add_indicator=True).fit(train[:, None])
    scaler = StandardScaler().fit(train[:, None])
    filled = imputer.transform(rows[:, None])
    return np.column_stack([scaler.transform(filled[:, :1]), filled[:, 1:]])


def _categorical_reference(train: list[str | None], rows: list[str | None]) -> np.ndarray:
    """One-hot over the sorted training levels, then '(missing)' where training had missing
    values, then '(other)' for the rest."""
    levels = sorted({value for value in train if value is not None})
    encoder = OneHotEncoder(categories=[levels], handle_unknown="ignore", sparse_output=False)
    encoder.fit(np.array([[value] for value in levels], dtype=object))
    coded = np.array([[MISSING_TEXT if v is None else v] for v in rows], dtype=object)
    onehot = encoder.transform(coded)
    absent = np.array([value is None for value in rows], dtype=float)
    blocks = [onehot]
    if any(value is None for value in train):
        blocks.append(absent[:, None])
    blocks.append(1 - np.column_stack(blocks).sum(axis=1, keepdims=True))
    return np.column_stack(blocks)


def _fit(frame: pl.DataFrame, numeric: list[str], categorical: list[str]) -> TablePreprocessor:
    target = TargetColumn("y", "classification", ("a", "b"))
    preprocessor, notes = TablePreprocessor.fit(frame, target, numeric, categorical)
    assert notes == []
    return preprocessor


# ------------------------------------------------------------------------ numbers
numbers = st.integers(-4000, 4000).map(lambda value: value / 8)
maybe_numbers = st.one_of(numbers, numbers, numbers, st.none(), st.just(math.nan))


@HYPOTHESIS
@given(
    train=st.lists(maybe_numbers, min_size=1, max_size=30).filter(
        lambda values: any(v is not None and not math.isnan(v) for v in values)
    ),
    rows=st.lists(maybe_numbers, min_size=1, max_size=20),
)
def test_a_numeric_column_is_scikit_learns_median_imputation_then_scaling(
    train: list[float | None], rows: list[float | None]
) -> None:
    """(x filled with the training median - training mean) / training std, and an indicator
    where training had a missing value: NaN and null are both missing."""
    frame = pl.DataFrame({"x": pl.Series(train, dtype=pl.Float64, strict=False)})
    preprocessor = _fit(frame, ["x"], [])
    X, unseen = preprocessor.transform(
        pl.DataFrame({"x": pl.Series(rows, dtype=pl.Float64, strict=False)}), FILE
    )
    expected = _numeric_reference(_as_float_array(train), _as_float_array(rows))
    assert X.dtype == np.float32 and unseen == {}
    assert X.shape == expected.shape
    np.testing.assert_allclose(X, expected, rtol=1e-5, atol=1e-5)
    has_missing = expected.shape[1] == 2
    assert preprocessor.feature_names == ["x", "x (missing)"][: 1 + has_missing]


def test_a_constant_numeric_column_keeps_scale_one() -> None:
    """A column with no spread is centred, not divided by zero (as StandardScaler does)."""
    preprocessor = _fit(pl.DataFrame({"x": [2.0, 2.0, 2.0]}), ["x"], [])
    X, _ = preprocessor.transform(pl.DataFrame({"x": [2.0, 5.0]}), FILE)
    np.testing.assert_array_equal(X, [[0.0], [3.0]])


def test_text_in_a_numeric_column_names_the_column_and_the_line() -> None:
    """A table given to the model with a word where it expects a number is refused."""
    preprocessor = _fit(pl.DataFrame({"x": [1.0, 2.0, 3.0]}), ["x"], [])
    with pytest.raises(TableError) as caught:
        preprocessor.transform(pl.DataFrame({"x": ["1", " 2 ", "three", "4"]}), FILE)
    message = str(caught.value)
    assert message.startswith(
        "rows.csv: column 'x' should hold numbers (or true/false), and line 4 holds"
    )
    assert "'three'" in message


def test_numbers_written_as_text_and_an_all_missing_column_are_read() -> None:
    """Numbers in a text column (a file whose column held one NA-like word) and a column of
    nothing but missing values (polars' Null type) are accepted."""
    preprocessor = _fit(pl.DataFrame({"x": [1.0, None, 3.0]}), ["x"], [])
    as_text, _ = preprocessor.transform(pl.DataFrame({"x": ["1", None, "3"]}), FILE)
    as_numbers, _ = preprocessor.transform(pl.DataFrame({"x": [1.0, None, 3.0]}), FILE)
    np.testing.assert_array_equal(as_text, as_numbers)
    nothing, _ = preprocessor.transform(pl.DataFrame({"x": [None, None]}), FILE)
    np.testing.assert_array_equal(nothing, [[0.0, 1.0], [0.0, 1.0]])  # median 2 = mean 2


def test_an_infinite_value_is_refused_or_kept_finite(tmp_path: Path) -> None:
    """'inf' in a CSV column of numbers is named in a TableError, or the inputs stay finite;
    today the column's mean is inf, its inputs NaN and -inf, and training diverges."""
    path = tmp_path / "inf.csv"
    rows = [f"{'inf' if i == 3 else i},{i % 3},{'pq'[i % 2]}" for i in range(40)]
    path.write_text("a,b,y\n" + "\n".join(rows) + "\n")
    try:
        table = load_table(path, "y")
    except TableError as error:
        assert "'a'" in str(error)
    else:
        for X in (table.X_train, table.X_val, table.X_test):
            assert np.isfinite(X).all()


# ------------------------------------------------------------------------ categories
words = st.sampled_from(["red", "green", "blue", "Red", "teal", "1", None])


@HYPOTHESIS
@given(
    train=st.lists(words, min_size=1, max_size=30).filter(lambda v: any(x is not None for x in v)),
    rows=st.lists(st.one_of(words, st.sampled_from(["unseen", "purple"])), min_size=1, max_size=20),
)
def test_a_categorical_column_is_scikit_learns_one_hot_plus_missing_and_other(
    train: list[str | None], rows: list[str | None]
) -> None:
    """The level columns equal OneHotEncoder's over the sorted training levels; '(missing)'
    (only where training had missing values) and '(other)' take the rest, and values outside
    the vocabulary are counted."""
    preprocessor = _fit(pl.DataFrame({"c": pl.Series(train, dtype=pl.String)}), [], ["c"])
    X, unseen = preprocessor.transform(pl.DataFrame({"c": pl.Series(rows, dtype=pl.String)}), FILE)
    np.testing.assert_array_equal(X, _categorical_reference(train, rows))
    levels = sorted({value for value in train if value is not None})
    extra = ["(missing)"] if None in train else []
    assert preprocessor.feature_names == [f"c={name}" for name in [*levels, *extra, "(other)"]]
    outside = [v for v in rows if v not in levels and (v is not None or None not in train)]
    found = unseen["c"].count if "c" in unseen else 0
    assert found == len(outside)


def test_unseen_values_are_counted_with_examples_in_order() -> None:
    """Values training never saw, and missing values where training had none, go to
    '(other)'; they are counted with up to three examples in order of appearance."""
    preprocessor = _fit(pl.DataFrame({"c": ["red", "blue", "red"]}), [], ["c"])
    rows = ["purple", "red", None, "pink", "purple", "cyan"]
    X, unseen = preprocessor.transform(pl.DataFrame({"c": rows}), FILE)
    assert preprocessor.feature_names == ["c=blue", "c=red", "c=(other)"]
    np.testing.assert_array_equal(X[:, 2], [1, 0, 1, 1, 1, 1])
    assert unseen["c"].count == 5
    assert unseen["c"].examples == ["purple", "(missing)", "pink"]


def test_load_table_notes_unseen_test_values() -> None:
    """load_table says, per split, how many values went to '(other)'."""
    train = pl.DataFrame({"c": ["red", "blue"] * 10, "x": np.arange(20.0), "y": ["a", "b"] * 10})
    test = pl.DataFrame({"c": ["green", "red", "green"], "x": [1.0, 2.0, 3.0], "y": ["a"] * 3})
    table = load_table(train, "y", test=test, val_fraction=0)
    assert (
        "test rows: 2 values of 'c' outside the training vocabulary (e.g. 'green') went to its "
        "(other) column"
    ) in table.notes


def test_a_vocabulary_is_capped_at_the_most_frequent_levels() -> None:
    """Of 105 levels the 100 most frequent (ties alphabetical) get a column each, sorted;
    the others share '(other)', and a note says so."""
    values = [f"L{i:03d}" for i in range(95) for _ in range(3)]
    values += [f"L{i:03d}" for i in range(95, 105) for _ in range(2)]
    values = values[::-1]  # the order of the rows does not matter
    counts = Counter(values)
    expected = sorted(sorted(counts, key=lambda level: (-counts[level], level))[:MAX_LEVELS])
    target = TargetColumn("y", "classification", ("a", "b"))
    preprocessor, notes = TablePreprocessor.fit(pl.DataFrame({"c": values}), target, [], ["c"])
    column = preprocessor.columns[0]
    assert list(column.levels) == expected  # type: ignore[union-attr]
    assert expected[-1] == "L099"
    assert notes == [
        "'c' has 105 distinct values; the 100 most frequent get a column each, the other 5 "
        "share c=(other)"
    ]
    X, unseen = preprocessor.transform(pl.DataFrame({"c": ["L104", "L000"]}), FILE)
    assert X[0, -1] == 1 and X[1, 0] == 1 and unseen["c"].count == 1


# ------------------------------------------------------------------------ a whole table
def _table(rows: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    a = rng.normal(10, 3, rows)
    a[rng.random(rows) < 0.2] = np.nan
    colour = rng.choice(np.array(["red", "blue", "green", None], dtype=object), rows)
    return pl.DataFrame(
        {
            "a": pl.Series(a).fill_nan(None),
            "colour": pl.Series(colour.tolist(), dtype=pl.String),
            "b": rng.integers(0, 100, rows),
            "flag": rng.random(rows) < 0.5,
            "y": rng.choice(["a", "b"], rows).tolist(),
        }
    )


def test_a_whole_table_equals_the_reference_in_feature_order() -> None:
    """Numbers first (in the table's order, booleans as 0/1), then categories; each block is
    scikit-learn's."""
    train, rows = _table(80, 1), _table(30, 2)
    preprocessor = _fit(train, ["a", "b", "flag"], ["colour"])
    assert preprocessor.input_columns == ["a", "b", "flag", "colour"]
    assert preprocessor.feature_names == [
        "a", "a (missing)", "b", "flag",
        "colour=blue", "colour=green", "colour=red", "colour=(missing)", "colour=(other)",
    ]  # fmt: skip
    X, _ = preprocessor.transform(rows, FILE)

    def numeric(name: str) -> np.ndarray:
        values = [train[name].cast(pl.Float64).to_numpy(), rows[name].cast(pl.Float64).to_numpy()]
        return _numeric_reference(*values)

    expected = np.column_stack(
        [
            numeric("a"),
            numeric("b"),
            numeric("flag"),
            _categorical_reference(train["colour"].to_list(), rows["colour"].to_list()),
        ]
    )
    np.testing.assert_allclose(X, expected, rtol=1e-5, atol=1e-5)


def test_columns_are_matched_by_name_and_others_ignored() -> None:
    """The same rows with the columns in another order, and extra columns, give the same
    matrix; the target is not needed."""
    train, rows = _table(60, 3), _table(25, 4)
    preprocessor = _fit(train, ["a", "b", "flag"], ["colour"])
    X, _ = preprocessor.transform(rows, FILE)
    shuffled = rows.select(["flag", "colour", "b", "a"]).with_columns(extra=pl.lit("zzz"))
    again, _ = preprocessor.transform(shuffled, FILE)
    np.testing.assert_array_equal(again, X)


def test_a_missing_column_is_named() -> None:
    """A table without a column the model reads is refused, naming it and what the table has."""
    preprocessor = _fit(_table(40, 5), ["a", "b"], ["colour"])
    with pytest.raises(TableError) as caught:
        preprocessor.transform(_table(5, 6).drop("b", "colour"), FILE)
    message = str(caught.value)
    assert message.startswith("rows.csv: the model needs column(s) 'b', 'colour'")
    assert "(it has 'a', 'flag', 'y')" in message


def test_load_table_fits_on_the_training_rows_only() -> None:
    """With a separate test table and no validation rows, the fitted statistics are those of
    the training table (the test table's far larger values change nothing), and the test
    matrix is scikit-learn's transform of the test rows."""
    train = _table(100, 7)
    test = _table(40, 8).with_columns(pl.col("a") * 1000, pl.col("b") + 500)
    table = load_table(train, "y", test=test, val_fraction=0)
    assert table.X_val.shape == (0, len(table.feature_names))
    fitted = {column.name: column for column in table.preprocessor.columns}
    a = train["a"].to_numpy()
    scaler = StandardScaler().fit(a[:, None])
    assert fitted["a"].mean == pytest.approx(scaler.mean_[0], rel=1e-12)  # type: ignore[union-attr]
    assert fitted["a"].scale == pytest.approx(scaler.scale_[0], rel=1e-12)  # type: ignore[union-attr]
    assert fitted["a"].median == pytest.approx(np.nanmedian(a), rel=1e-12)  # type: ignore[union-attr]
    numeric_a = _numeric_reference(a, test["a"].to_numpy().astype(float))
    np.testing.assert_allclose(table.X_test[:, :2], numeric_a, rtol=1e-5, atol=1e-5)


def test_standardised_training_columns_have_mean_zero_and_unit_spread() -> None:
    """With a split drawn inside load_table, the training matrix's numeric columns without
    missing values have mean 0 and population std 1: the statistics are of those rows."""
    rng = np.random.default_rng(9)
    frame = pl.DataFrame(
        {"u": rng.normal(5, 2, 200), "v": rng.exponential(3, 200), "y": rng.integers(0, 3, 200)}
    )
    table = load_table(frame, "y", test_fraction=0.3, val_fraction=0.2, seed=4)
    assert table.feature_names == ["u", "v"]
    np.testing.assert_allclose(table.X_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(table.X_train.std(axis=0), 1, atol=1e-5)
    assert abs(table.X_test.mean(axis=0)).max() > 1e-3  # other rows are not re-centred


# ------------------------------------------------------------------------ the target
def test_class_targets_are_indices_of_the_sorted_classes() -> None:
    """Classes are text, sorted (numbers by value); decode gives the argmax label and the
    softmax probabilities."""
    table = load_table(pl.DataFrame({"x": np.arange(30.0), "y": [10, 2, 9] * 10}), "y")
    assert table.classes == ("2", "9", "10")
    preprocessor = table.preprocessor
    codes = preprocessor.encode_target(pl.Series("y", [9, 10, 2]), FILE)
    np.testing.assert_array_equal(codes, [1, 2, 0])
    outputs = np.array([[0.1, 2.0, -1.0], [3.0, 3.5, 0.0]])
    labels, probabilities = preprocessor.decode(outputs)
    assert labels == ["9", "9"]
    np.testing.assert_allclose(probabilities, softmax(outputs, axis=1), rtol=1e-12)


def test_an_unknown_class_names_the_row() -> None:
    target = TargetColumn("y", "classification", ("a", "b"))
    preprocessor = TablePreprocessor(
        _fit(pl.DataFrame({"x": [1.0, 2.0]}), ["x"], []).columns, target
    )
    with pytest.raises(TableError, match=r"'y' holds 'c' at line 3, a class the training rows"):
        preprocessor.encode_target(pl.Series("y", ["a", "c"]), FILE)


@HYPOTHESIS
@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=2, max_size=40).filter(
        lambda values: np.ptp(values) > 1e-3
    )
)
def test_a_regression_target_is_standardised_and_decoded_back(values: list[float]) -> None:
    """load_table standardises a regression target with the training rows' mean and
    population std, and decode maps the network's outputs back to the target's scale."""
    y = np.array(values)
    frame = pl.DataFrame({"x": np.arange(len(y), dtype=float), "y": y + 0.5})
    table = load_table(frame, "y", test=frame.head(1), val_fraction=0, task="regression")
    target = table.preprocessor.target
    assert target.mean == pytest.approx(np.mean(y + 0.5), rel=1e-9, abs=1e-9)
    assert target.scale == pytest.approx(np.std(y + 0.5), rel=1e-9)
    np.testing.assert_allclose(
        table.y_train[:, 0], (y + 0.5 - target.mean) / target.scale, rtol=1e-6, atol=1e-6
    )
    decoded, probabilities = table.preprocessor.decode(table.y_train)
    assert probabilities is None
    np.testing.assert_allclose(decoded, y + 0.5, rtol=1e-6, atol=1e-6 * np.std(y))


# ------------------------------------------------------------------------ saving
@pytest.fixture(scope="module")
def preprocessors() -> list[TablePreprocessor]:
    """A classification and a regression preprocessor with every kind of column."""
    frame = _table(80, 11).with_columns(z=pl.Series(np.linspace(0, 1, 80)))
    return [
        load_table(frame, "y").preprocessor,
        load_table(frame, "z").preprocessor,
    ]


def test_to_dict_and_from_dict_round_trip_through_json(
    preprocessors: list[TablePreprocessor],
) -> None:
    """What to_dict writes, through JSON text, reads back as an equal preprocessor."""
    for preprocessor in preprocessors:
        text = json.dumps(preprocessor.to_dict())
        again = TablePreprocessor.from_dict(json.loads(text), "model.safetensors")
        assert again == preprocessor
        assert list(again.describe()) == list(preprocessor.describe())


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON value: the value itself, and each item of its lists and dicts."""
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*path, index))
    return found


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    changed = copy.deepcopy(value)
    place = changed
    for step in path[:-1]:
        place = place[step]
    place[path[-1]] = new
    return changed


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats()
    | st.text(max_size=6)
    | st.sampled_from(["numeric", "categorical", "classification", "regression"]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)


@settings(HYPOTHESIS, max_examples=300)
@given(data=st.data(), which=st.integers(0, 1), new=json_values)
def test_from_dict_refuses_tampered_fields_with_a_value_error(
    preprocessors: list[TablePreprocessor], data: st.DataObject, which: int, new: Any
) -> None:
    """Any one field of a saved preprocessor replaced by any JSON value gives a ValueError
    naming the file, or a preprocessor that writes back exactly the changed dict; never
    another exception."""
    saved = preprocessors[which].to_dict()
    path = data.draw(st.sampled_from(_paths(saved)))
    tampered = _replaced(saved, path, new)
    try:
        result = TablePreprocessor.from_dict(tampered, "model.safetensors")
    except ValueError as error:
        assert str(error).startswith("model.safetensors: ")
    else:
        assert result.to_dict() == tampered


@pytest.mark.parametrize("field", ["scale", "mean"])
def test_from_dict_refuses_a_huge_integer(
    preprocessors: list[TablePreprocessor], field: str
) -> None:
    """10**400 is valid JSON for a number; it is refused like any other bad value."""
    saved = preprocessors[0].to_dict()
    saved["target"][field] = 10**400
    with pytest.raises(ValueError, match="model.safetensors: table.target"):
        TablePreprocessor.from_dict(saved, "model.safetensors")
