"""``EncodedMatrix`` (a table's input matrix kept as its numeric block and the position of each
categorical input's 1), ``TableDataset`` and the ``DataLoader`` taking a minibatch through
``__getitems__``, and ``load_table``'s ``inputs``, ``dataset(part)`` and dense ``X_*``.

The dense references are written here: by loops over the rows, by ``np.eye`` rows, and by
scikit-learn's ``OneHotEncoder`` over fixed categories; the table's by NumPy from the
definitions (mean and population standard deviation of the present training values, the
training median for missing ones, sorted training levels then "(missing)" then "(other)")."""

from __future__ import annotations

import mmap
import time
from typing import Any

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.preprocessing import OneHotEncoder

from chainrule.data import DataLoader, TensorDataset
from chainrule.data.table import EncodedMatrix, TableDataset, load_table
from chainrule.data.table import matrix as matrix_module
from chainrule.data.table.columns import Where

HYPOTHESIS = settings(max_examples=60, deadline=None, database=None, derandomize=True)
FRAME = Where("the DataFrame", False)


def _random_parts(
    rng: np.random.Generator, rows: int, width: int, levels: list[int]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A numeric block, each categorical input's codes (0 .. levels-1) and their absolute
    column positions (after the numeric block and the earlier inputs' levels)."""
    numeric = rng.standard_normal((rows, width)).astype(np.float32)
    codes = np.column_stack(
        [rng.integers(0, count, rows) for count in levels] or [np.zeros((rows, 0), np.int64)]
    ).reshape(rows, len(levels))
    offsets = width + np.concatenate([[0], np.cumsum(levels)[:-1]]).astype(np.int64)
    return numeric, codes, codes + offsets[: len(levels)]


def _loop_reference(numeric: np.ndarray, codes: np.ndarray, levels: list[int]) -> np.ndarray:
    """The dense matrix, one element at a time."""
    rows, width = numeric.shape
    out = np.zeros((rows, width + sum(levels)), dtype=np.float32)
    for i in range(rows):
        for j in range(width):
            out[i, j] = numeric[i, j]
        start = width
        for k, count in enumerate(levels):
            out[i, start + codes[i, k]] = 1.0
            start += count
    return out


def _eye_reference(numeric: np.ndarray, codes: np.ndarray, levels: list[int]) -> np.ndarray:
    """The dense matrix as the numeric block beside the rows of identity matrices."""
    blocks = [numeric.astype(np.float32)]
    blocks += [np.eye(count, dtype=np.float32)[codes[:, k]] for k, count in enumerate(levels)]
    return np.hstack(blocks).reshape(len(numeric), numeric.shape[1] + sum(levels))


def _sklearn_reference(numeric: np.ndarray, codes: np.ndarray, levels: list[int]) -> np.ndarray:
    """The dense matrix with scikit-learn's one-hot encoder over fixed categories."""
    encoder = OneHotEncoder(
        categories=[list(range(count)) for count in levels], sparse_output=False
    )
    onehot = encoder.fit_transform(codes)
    return np.hstack([numeric, onehot]).astype(np.float32)


# ------------------------------------------------------------------------ the dense matrix
@HYPOTHESIS
@given(
    rows=st.integers(0, 50),
    width=st.integers(0, 5),
    levels=st.lists(st.integers(1, 6), min_size=0, max_size=3),
    seed=st.integers(0, 2**32 - 1),
    data=st.data(),
)
def test_every_way_of_reading_equals_the_dense_reference(
    rows: int, width: int, levels: list[int], seed: int, data: st.DataObject
) -> None:
    """``np.asarray``, slices, single rows, arrays of rows (repeated, unordered, negative) and
    boolean masks give what the same indexing of the dense matrix gives, as float32."""
    rng = np.random.default_rng(seed)
    numeric, codes, hot = _random_parts(rng, rows, width, levels)
    expected = _loop_reference(numeric, codes, levels)
    np.testing.assert_array_equal(_eye_reference(numeric, codes, levels), expected)
    m = EncodedMatrix(numeric, hot, width + sum(levels))

    assert len(m) == rows and m.shape == expected.shape and m.ndim == 2
    assert m.dtype == np.float32
    dense = np.asarray(m)
    assert dense.dtype == np.float32 and dense.shape == expected.shape
    np.testing.assert_array_equal(dense, expected)
    np.testing.assert_array_equal(m[:], expected)

    start = data.draw(st.integers(-rows - 2, rows + 2), label="start")
    stop = data.draw(st.integers(-rows - 2, rows + 2), label="stop")
    step = data.draw(st.sampled_from([None, 1, 2, 3, -1, -2]), label="step")
    window = slice(start, stop, step)
    assert m[window].dtype == np.float32
    np.testing.assert_array_equal(m[window], expected[window])

    mask = np.asarray(data.draw(st.lists(st.booleans(), min_size=rows, max_size=rows)), bool)
    np.testing.assert_array_equal(m[mask], expected[mask])
    np.testing.assert_array_equal(m.rows(mask), expected[mask])
    if rows:
        index = np.asarray(
            data.draw(st.lists(st.integers(-rows, rows - 1), min_size=1, max_size=2 * rows)),
            dtype=np.int64,
        )
        np.testing.assert_array_equal(m[index], expected[index])
        np.testing.assert_array_equal(m.rows(index), expected[index])
        assert m.rows(index).dtype == np.float32
        row = data.draw(st.integers(-rows, rows - 1), label="row")
        assert m[row].shape == (m.shape[1],)
        np.testing.assert_array_equal(m[row], expected[row])
        np.testing.assert_array_equal(m[np.int64(row)], expected[row])


def test_a_fixed_matrix_equals_scikit_learns_one_hot_encoding() -> None:
    """Three categorical inputs beside two numbers, against ``OneHotEncoder`` + hstack, read
    whole and by the rows a minibatch asks for."""
    rng = np.random.default_rng(7)
    levels = [3, 1, 5]
    numeric, codes, hot = _random_parts(rng, 12, 2, levels)
    expected = _sklearn_reference(numeric, codes, levels)
    m = EncodedMatrix(numeric, hot, 2 + sum(levels))
    np.testing.assert_array_equal(np.asarray(m), expected)
    np.testing.assert_array_equal(m[2:7], expected[2:7])
    np.testing.assert_array_equal(m[3], expected[3])
    np.testing.assert_array_equal(m[-1], expected[-1])
    repeated = np.array([5, 0, 5, 11, 3, 3, -2])
    np.testing.assert_array_equal(m[repeated], expected[repeated])
    np.testing.assert_array_equal(m.rows(repeated), expected[repeated])
    np.testing.assert_array_equal(m[[4, 1]], expected[[4, 1]])
    mask = np.arange(12) % 3 == 1
    np.testing.assert_array_equal(m[mask], expected[mask])
    # Each row: its numbers, then exactly one 1 per categorical input.
    np.testing.assert_array_equal(np.asarray(m)[:, 2:].sum(axis=1), np.full(12, 3.0))


def test_asarray_converts_to_a_requested_dtype() -> None:
    numeric, codes, hot = _random_parts(np.random.default_rng(1), 6, 2, [4])
    dense = np.asarray(EncodedMatrix(numeric, hot, 6), dtype=np.float64)
    assert dense.dtype == np.float64
    np.testing.assert_array_equal(dense, _loop_reference(numeric, codes, [4]))


def test_the_inputs_are_stored_as_float32_and_integer_positions() -> None:
    """A float64 numeric block and int32 positions are kept as float32 and integers; the
    result is the same as from float32 input."""
    numeric, codes, hot = _random_parts(np.random.default_rng(2), 8, 3, [2, 2])
    m = EncodedMatrix(numeric.astype(np.float64), hot.astype(np.int32), 7)
    assert m.numeric.dtype == np.float32 and np.issubdtype(m.hot.dtype, np.integer)
    np.testing.assert_array_equal(np.asarray(m), _loop_reference(numeric, codes, [2, 2]))


def test_wide_one_hots_take_less_memory_than_the_dense_matrix() -> None:
    """1,000 rows of 2 numbers and categories of 100 and 50 values: 4 bytes per number and
    one integer per categorical input, against 4 bytes per column densely."""
    rows, width, levels = 1000, 2, [100, 50]
    numeric, _, hot = _random_parts(np.random.default_rng(3), rows, width, levels)
    m = EncodedMatrix(numeric, hot, width + sum(levels))
    expected = rows * (width * 4 + len(levels) * np.dtype(np.intp).itemsize)
    assert m.nbytes == expected
    dense_bytes = rows * (width + sum(levels)) * 4
    assert np.asarray(m).nbytes == dense_bytes
    assert m.nbytes * 10 < dense_bytes


def test_a_matrix_without_categorical_or_numeric_columns() -> None:
    """Only numbers (no categorical input), and only categories (no numbers)."""
    numbers = np.arange(12, dtype=np.float32).reshape(4, 3)
    only_numbers = EncodedMatrix(numbers, np.zeros((4, 0), dtype=np.intp), 3)
    np.testing.assert_array_equal(np.asarray(only_numbers), numbers)
    np.testing.assert_array_equal(only_numbers[[3, 0]], numbers[[3, 0]])
    only_codes = EncodedMatrix(np.zeros((4, 0), np.float32), np.array([[0], [2], [1], [2]]), 3)
    np.testing.assert_array_equal(np.asarray(only_codes), np.eye(3, dtype=np.float32)[[0, 2, 1, 2]])


def test_the_repr_gives_the_size() -> None:
    m = EncodedMatrix(np.zeros((5, 1)), np.ones((5, 1), dtype=np.intp), 4)
    assert repr(m) == "EncodedMatrix(rows=5, columns=4)"


# ------------------------------------------------------------------------ what is refused
@pytest.mark.parametrize(
    ("numeric", "hot"),
    [
        (np.zeros((4, 2)), np.full((5, 1), 2)),
        (np.zeros((5, 2)), np.full((4, 1), 2)),
        (np.zeros(4), np.full((4, 1), 2)),
        (np.zeros((4, 2)), np.full(4, 2)),
        (np.zeros((4, 2, 1)), np.full((4, 1), 2)),
        (np.zeros((4, 2)), np.full((4, 1, 1), 2)),
    ],
    ids=["more-hot-rows", "more-numeric-rows", "numeric-1d", "hot-1d", "numeric-3d", "hot-3d"],
)
def test_the_constructor_refuses_mismatched_or_non_2d_arrays(
    numeric: np.ndarray, hot: np.ndarray
) -> None:
    with pytest.raises(ValueError, match=r"must be 2-D with one row per sample") as caught:
        EncodedMatrix(numeric, hot, 4)
    assert str(numeric.shape) in str(caught.value) and str(hot.shape) in str(caught.value)


@pytest.mark.parametrize(
    "hot",
    [[[2], [1], [3]], [[2], [7], [3]], [[2], [3], [-1]], [[9], [3], [2]]],
    ids=["inside-numeric-block", "at-columns", "negative", "beyond-columns"],
)
def test_the_constructor_refuses_positions_outside_the_one_hot_columns(hot: list[Any]) -> None:
    """With 2 numeric columns and 7 in all, a 1 must lie in columns 2 to 6."""
    with pytest.raises(ValueError, match=r"one-hot positions must lie in \[2, 7\)"):
        EncodedMatrix(np.zeros((3, 2)), np.array(hot), 7)


def test_the_constructor_accepts_the_edges_of_the_one_hot_columns() -> None:
    m = EncodedMatrix(np.zeros((2, 2)), np.array([[2], [6]]), 7)
    np.testing.assert_array_equal(np.asarray(m)[:, 2:], [[1, 0, 0, 0, 0], [0, 0, 0, 0, 1]])


def test_the_constructor_refuses_fewer_columns_than_the_numeric_block() -> None:
    with pytest.raises(ValueError, match="EncodedMatrix"):
        EncodedMatrix(np.zeros((4, 3)), np.zeros((4, 0), dtype=np.intp), 2)


def test_a_two_dimensional_key_is_not_read_as_a_list_of_rows() -> None:
    numeric, codes, hot = _random_parts(np.random.default_rng(4), 5, 2, [3])
    expected = _loop_reference(numeric, codes, [3])
    m = EncodedMatrix(numeric, hot, 5)
    np.testing.assert_array_equal(m[1, 2], expected[1, 2])
    np.testing.assert_array_equal(m[:, 0], expected[:, 0])
    np.testing.assert_array_equal(m[np.array([4, 0]), 2:], expected[np.array([4, 0]), 2:])
    np.testing.assert_array_equal(m[np.int64(3)], expected[3])
    np.testing.assert_array_equal(m[np.array(3)], expected[3])


def test_float_one_hot_positions_are_refused() -> None:
    with pytest.raises(ValueError, match="integers"):
        EncodedMatrix(np.zeros((2, 1)), np.array([[1.0], [2.0]]), 3)


def test_a_boolean_mask_of_the_wrong_length_is_refused() -> None:
    m = EncodedMatrix(np.zeros((3, 1)), np.ones((3, 1), dtype=np.intp), 2)
    with pytest.raises(IndexError):
        np.zeros((3, 2), np.float32)[np.array([True, False])]  # what NumPy does
    with pytest.raises(IndexError):
        m[np.array([True, False])]


def test_an_empty_list_of_rows_gives_no_rows() -> None:
    m = EncodedMatrix(np.zeros((3, 1)), np.ones((3, 1), dtype=np.intp), 2)
    assert m[[]].shape == (0, 2)


# ------------------------------------------------------------------------ a large matrix
def _memory_map_behind(array: np.ndarray) -> bool:
    base: Any = array
    while base is not None:
        if isinstance(base, mmap.mmap):
            return True
        base = base.obj if isinstance(base, memoryview) else getattr(base, "base", None)
    return False


def test_a_large_matrix_has_the_values_of_the_small_path_and_is_writeable() -> None:
    """120,000 x 150 float32 (72 MB, beyond the 64 MiB from which the zeros come from an
    anonymous memory map) gives, on sampled rows, the loop reference and the small matrix of
    the same rows; it can be written to."""
    rows, width, levels = 120_000, 10, [40, 50, 50]
    numeric, codes, hot = _random_parts(np.random.default_rng(5), rows, width, levels)
    m = EncodedMatrix(numeric, hot, width + sum(levels))
    assert rows * m.shape[1] * 4 >= matrix_module._SMALL_PAGES_FROM
    began = time.perf_counter()
    dense = np.asarray(m)
    assert time.perf_counter() - began < 1.0
    assert _memory_map_behind(dense)  # the large path was taken
    assert dense.shape == (rows, 150) and dense.dtype == np.float32
    sample = np.array([0, 1, 777, 59_999, 60_000, 119_998, rows - 1])
    reference = _loop_reference(numeric[sample], codes[sample], levels)
    np.testing.assert_array_equal(dense[sample], reference)
    small = EncodedMatrix(numeric[sample], hot[sample], m.shape[1])
    np.testing.assert_array_equal(np.asarray(small), dense[sample])
    np.testing.assert_array_equal(m[sample], reference)
    # Every row: one 1 per categorical input, the rest of the one-hot block zeros.
    assert dense[:, width:].sum() == rows * len(levels)
    assert dense.flags.writeable
    dense[rows - 1, :] = 2.5
    dense *= 1.0
    assert dense[rows - 1, 0] == 2.5


def test_the_memory_mapped_path_matches_the_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the threshold lowered, a small matrix goes through the memory map too."""
    monkeypatch.setattr(matrix_module, "_SMALL_PAGES_FROM", 1)
    levels = [3, 2]
    numeric, codes, hot = _random_parts(np.random.default_rng(6), 9, 2, levels)
    m = EncodedMatrix(numeric, hot, 7)
    dense = np.asarray(m)
    assert _memory_map_behind(dense)
    np.testing.assert_array_equal(dense, _sklearn_reference(numeric, codes, levels))
    np.testing.assert_array_equal(m[[8, 0, 8]], _loop_reference(numeric, codes, levels)[[8, 0, 8]])


# ------------------------------------------------------------------------ TableDataset
def _table(rows: int = 40, seed: int = 8) -> tuple[EncodedMatrix, np.ndarray, np.ndarray]:
    """A matrix, its dense reference, and targets that name each row (1000 + its index)."""
    levels = [4, 3]
    numeric, codes, hot = _random_parts(np.random.default_rng(seed), rows, 3, levels)
    dense = _loop_reference(numeric, codes, levels)
    return EncodedMatrix(numeric, hot, 3 + sum(levels)), dense, 1000 + np.arange(rows)


def test_a_dataset_refuses_inputs_and_targets_of_different_lengths() -> None:
    m, _, y = _table(10)
    with pytest.raises(ValueError, match="10 rows of inputs but 9 targets"):
        TableDataset(m, y[:9])


def test_a_dataset_gives_the_dense_rows_and_targets() -> None:
    m, dense, y = _table(10)
    dataset = TableDataset(m, y)
    assert len(dataset) == 10
    for i in (0, 4, 9, -1):
        row, label = dataset[i]
        np.testing.assert_array_equal(row, dense[i])
        assert label == y[i]
    index = np.array([9, 2, 2, 0, 5])
    rows, labels = dataset.__getitems__(index)
    np.testing.assert_array_equal(rows, dense[index])
    np.testing.assert_array_equal(labels, y[index])
    assert rows.dtype == np.float32


def _batches(loader: DataLoader) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(np.asarray(X), np.asarray(y)) for X, y in loader]


@pytest.mark.parametrize(
    ("shuffle", "drop_last"), [(True, False), (True, True), (False, False), (False, True)]
)
def test_the_loader_gives_the_batches_of_the_dense_matrix(shuffle: bool, drop_last: bool) -> None:
    """Batch by batch the same as a loader over ``TensorDataset(dense, y)`` with the same
    arguments; the targets (ids) give the order, in which the rows are the dense rows."""
    m, dense, y = _table(40)
    arguments = dict(batch_size=7, shuffle=shuffle, drop_last=drop_last, seed=3)
    ours = DataLoader(TableDataset(m, y), **arguments)  # type: ignore[arg-type]
    theirs = DataLoader(TensorDataset(dense, y), **arguments)  # type: ignore[arg-type]
    assert len(ours) == (5 if drop_last else 6)
    for _ in range(2):  # two epochs: reshuffled alike
        found, expected = _batches(ours), _batches(theirs)
        assert len(found) == len(ours) == len(expected)
        for (X, labels), (X_ref, labels_ref) in zip(found, expected, strict=True):
            assert X.dtype == np.float32 and X.shape[1] == m.shape[1]
            np.testing.assert_array_equal(X, X_ref)
            np.testing.assert_array_equal(labels, labels_ref)
        sizes = [len(labels) for _, labels in found]
        assert sizes == ([7] * 5 if drop_last else [7] * 5 + [5])
        order = np.concatenate([labels for _, labels in found]) - 1000
        np.testing.assert_array_equal(np.concatenate([X for X, _ in found]), dense[order])
        if shuffle:
            assert len(set(order.tolist())) == len(order)
            assert not np.array_equal(order, np.arange(len(order)))
        else:
            np.testing.assert_array_equal(order, np.arange(len(order)))


def test_the_loader_takes_each_minibatch_through_getitems() -> None:
    """A dataset with ``__getitems__`` is asked once per minibatch, never sample by sample."""
    m, dense, y = _table(20)
    asked: list[np.ndarray] = []

    class Recording(TableDataset):
        def __getitem__(self, index: int) -> Any:
            raise AssertionError("asked for one sample")

        def __getitems__(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            asked.append(np.array(index))
            return super().__getitems__(index)

    batches = _batches(DataLoader(Recording(m, y), batch_size=6, shuffle=True, seed=1))
    assert [len(index) for index in asked] == [6, 6, 6, 2]
    for index, (X, labels) in zip(asked, batches, strict=True):
        np.testing.assert_array_equal(X, dense[index])
        np.testing.assert_array_equal(labels, y[index])
    assert sorted(np.concatenate(asked).tolist()) == list(range(20))


# ------------------------------------------------------------------------ load_table
TRAIN = pl.DataFrame(
    {
        "x": [1.0, None, 4.0, 2.5, float("nan"), 10.0, -3.0, 7.0, 0.5, 6.0, None, 2.0],
        "c": ["red", "blue", "red", None, "green", "blue"]
        + ["red", "green", "blue", "red", "red", "green"],
        "y": ["no", "yes", "no", "yes", "no", "yes", "no", "yes", "no", "yes", "no", "yes"],
    }
)
TEST = pl.DataFrame(
    {
        "x": [None, 3.0, -1.0, 8.0],
        "c": ["purple", None, "blue", "red"],  # "purple" only in the test rows
        "y": ["yes", "no", "no", "yes"],
    }
)


def _table_reference(rows: pl.DataFrame) -> tuple[np.ndarray, list[str]]:
    """The input matrix of ``rows`` from the definitions, fitted on all of ``TRAIN``."""
    train_x = np.array([np.nan if v is None else v for v in TRAIN["x"].to_list()], float)
    present = train_x[~np.isnan(train_x)]
    mean, std, median = present.mean(), present.std(ddof=0), np.median(present)
    x = np.array([np.nan if v is None else v for v in rows["x"].to_list()], float)
    missing = np.isnan(x)
    scaled = (np.where(missing, median, x) - mean) / std
    train_c = TRAIN["c"].to_list()
    levels = sorted({value for value in train_c if value is not None})  # blue, green, red
    outputs = [*levels, "(missing)", "(other)"]  # training has a missing value
    onehot = np.zeros((rows.height, len(outputs)))
    for i, value in enumerate(rows["c"].to_list()):
        key = "(missing)" if value is None else value if value in levels else "(other)"
        onehot[i, outputs.index(key)] = 1
    names = ["x", "x (missing)", *[f"c={name}" for name in outputs]]
    return np.column_stack([scaled, missing, onehot]).astype(np.float32), names


@pytest.fixture(scope="module")
def table() -> Any:
    return load_table(TRAIN, "y", features=["x", "c"], test=TEST, val_fraction=0.0, seed=0)


def test_the_dense_training_matrix_is_made_from_inputs_and_kept(table: Any) -> None:
    assert isinstance(table.inputs["training"], EncodedMatrix)
    first = table.X_train
    assert first.dtype == np.float32
    np.testing.assert_array_equal(first, np.asarray(table.inputs["training"]))
    assert table.X_train is first
    assert table.X_test is table.X_test
    assert table.X_val.shape == (0, 7)


def test_the_table_matrices_equal_the_reference(table: Any) -> None:
    """Standardised with the training mean and population standard deviation, missing values
    (None and NaN) filled with the training median plus an indicator; the sorted training
    levels, then "(missing)", then "(other)" for a value only the test rows have."""
    expected_train, names = _table_reference(TRAIN)
    assert table.feature_names == names
    np.testing.assert_allclose(table.X_train, expected_train, rtol=1e-6, atol=1e-6)
    expected_test, _ = _table_reference(TEST)
    np.testing.assert_allclose(table.X_test, expected_test, rtol=1e-6, atol=1e-6)
    assert table.X_test[0, names.index("c=(other)")] == 1  # purple
    assert table.X_test[1, names.index("c=(missing)")] == 1
    assert any("purple" in note and "test rows" in note for note in table.notes)


def test_a_part_as_a_dataset_gives_its_rows_and_targets(table: Any) -> None:
    expected_test, _ = _table_reference(TEST)
    dataset = table.dataset("test")
    assert isinstance(dataset, TableDataset) and len(dataset) == TEST.height
    classes = sorted(set(TRAIN["y"].to_list()))
    y = np.array([classes.index(value) for value in TEST["y"].to_list()])
    rows, labels = dataset.__getitems__(np.arange(TEST.height))
    np.testing.assert_allclose(rows, expected_test, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(labels, y)
    batches = _batches(DataLoader(dataset, batch_size=3))
    np.testing.assert_allclose(np.concatenate([X for X, _ in batches]), expected_test, atol=1e-6)
    np.testing.assert_array_equal(np.concatenate([labels for _, labels in batches]), y)
    assert len(table.dataset()) == TRAIN.height  # the training rows by default


def test_transform_is_the_dense_form_of_encode(table: Any) -> None:
    expected, _ = _table_reference(TEST)
    encoded, unseen = table.preprocessor.encode(TEST, FRAME)
    dense, unseen_dense = table.preprocessor.transform(TEST, FRAME)
    assert isinstance(encoded, EncodedMatrix) and dense.dtype == np.float32
    np.testing.assert_array_equal(dense, np.asarray(encoded))
    np.testing.assert_allclose(dense, expected, rtol=1e-6, atol=1e-6)
    assert unseen == unseen_dense
    assert unseen["c"].count == 1 and unseen["c"].examples == ["purple"]
