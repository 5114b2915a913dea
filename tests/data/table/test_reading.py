"""``read_table``: CSV, TSV (plain or gzipped) and Parquet files, and pandas or polars
DataFrames, as one polars DataFrame.

What is accepted is compared with the values written here, or with what pandas reads from the
same bytes; what is refused must be a ``TableError`` whose message starts with the file's name
and names the line or the column where it applies."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from chainrule.data.table import MISSING_MARKERS, TableError, load_table, read_table


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def _refused(path: Path) -> str:
    """The message of the TableError that reading ``path`` raises; it names the file first."""
    with pytest.raises(TableError) as caught:
        read_table(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message
    return message


# ------------------------------------------------------------------------ text that is accepted
@pytest.mark.parametrize(
    "delimiter", [",", ";", "\t", "|"], ids=["comma", "semicolon", "tab", "bar"]
)
def test_each_delimiter_is_detected(tmp_path: Path, delimiter: str) -> None:
    """Comma, semicolon, tab and bar files give the same columns and values as pandas reads
    with the delimiter named."""
    rows = [
        ["size", "colour", "weight"],
        ["1", "red", "2.5"],
        ["2", "blue", "-3"],
        ["3", "x", "4e2"],
    ]
    path = _write(tmp_path, "table.txt", "".join(delimiter.join(row) + "\n" for row in rows))
    frame, label = read_table(path)
    assert label == str(path)
    expected = pd.read_csv(path, sep=delimiter)
    assert frame.columns == list(expected.columns) == ["size", "colour", "weight"]
    assert frame["size"].to_list() == [1, 2, 3]
    assert frame["colour"].to_list() == ["red", "blue", "x"]
    np.testing.assert_array_equal(frame["weight"].to_numpy(), expected["weight"].to_numpy())


def test_a_utf8_bom_gives_a_clean_first_column_name(tmp_path: Path) -> None:
    """The byte-order mark spreadsheets write is not part of the first column's name."""
    path = _write(tmp_path, "bom.csv", b"\xef\xbb\xbfname,value\nx,1\ny,2\n")
    frame, _ = read_table(path)
    assert frame.columns == ["name", "value"]
    assert list(pd.read_csv(path, encoding="utf-8-sig").columns) == frame.columns
    assert frame["name"].to_list() == ["x", "y"]


def test_a_gzipped_csv_reads_as_the_plain_one(tmp_path: Path) -> None:
    """A gzip file (told by its magic bytes, whatever its name) gives the plain file's frame."""
    text = "a;b;c\n1;x;0.5\n2;y;NA\n3;z;1.5\n"
    plain = _write(tmp_path, "plain.csv", text)
    packed = _write(tmp_path, "packed.csv.gz", gzip.compress(text.encode()))
    assert_frame_equal(read_table(packed)[0], read_table(plain)[0])
    renamed = _write(tmp_path, "no-suffix", gzip.compress(text.encode()))
    assert_frame_equal(read_table(renamed)[0], read_table(plain)[0])


def test_parquet_is_read_with_its_types(tmp_path: Path) -> None:
    """A Parquet file written by polars reads back equal, nulls and types included."""
    written = pl.DataFrame(
        {
            "n": [1, 2, None],
            "x": [0.5, None, -2.0],
            "s": ["a", None, "c"],
            "b": [True, False, None],
        }
    )
    path = tmp_path / "t.parquet"
    written.write_parquet(path)
    assert_frame_equal(read_table(path)[0], written)


@pytest.mark.parametrize("marker", ["NA", "", "NaN", "null", *MISSING_MARKERS])
def test_missing_markers_are_read_as_missing(tmp_path: Path, marker: str) -> None:
    """Each missing-value marker is null, in a column of numbers and in a column of text."""
    path = _write(tmp_path, "m.csv", f"n,s\n1,a\n{marker},{marker}\n3,c\n")
    frame, _ = read_table(path)
    assert frame["n"].to_list() == [1, None, 3]
    assert frame["s"].to_list() == ["a", None, "c"]
    assert frame["n"].dtype.is_numeric()


def test_decimal_commas_in_a_semicolon_file_are_numbers(tmp_path: Path) -> None:
    """'3,5' in a semicolon-separated file (a European spreadsheet) is the number 3.5, the
    value pandas reads with decimal=','."""
    text = "price;count;name\n1,5;2;a\n2,25;3;b\n-0,5;4;c\n10,0;5;d\n"
    path = _write(tmp_path, "euro.csv", text)
    frame, _ = read_table(path)
    expected = pd.read_csv(path, sep=";", decimal=",")
    assert frame["price"].dtype == pl.Float64
    np.testing.assert_array_equal(frame["price"].to_numpy(), expected["price"].to_numpy())
    assert frame["count"].to_list() == [2, 3, 4, 5]
    assert frame["name"].to_list() == ["a", "b", "c", "d"]


def test_decimal_commas_beside_whole_numbers_are_numbers(tmp_path: Path) -> None:
    """A spreadsheet writes 10 as '10' among '1,5' and '2,25': the column is still numbers
    (now it stays text, and load_table makes it a categorical feature without a word)."""
    path = _write(tmp_path, "euro.csv", "price;name\n1,5;a\n2,25;b\n10;c\n")
    frame, _ = read_table(path)
    expected = pd.read_csv(path, sep=";", decimal=",")
    assert frame["price"].dtype == pl.Float64
    np.testing.assert_array_equal(frame["price"].to_numpy(), expected["price"].to_numpy())


@pytest.mark.parametrize("late_row", [150, 5000])
def test_a_column_that_changes_type_after_the_first_rows_is_read(
    tmp_path: Path, late_row: int
) -> None:
    """Whole numbers for the first rows and a fraction later (beyond polars' 100 rows of
    inference) make a column of floats holding every value."""
    values = [str(i) for i in range(late_row)] + ["1.5"] + [str(i) for i in range(10)]
    path = _write(
        tmp_path, "late.csv", "v,w\n" + "".join(f"{v},{i}\n" for i, v in enumerate(values))
    )
    frame, _ = read_table(path)
    assert frame.height == len(values)
    assert frame["v"].dtype == pl.Float64
    np.testing.assert_array_equal(frame["v"].to_numpy(), np.array(values, dtype=float))


# ------------------------------------------------------------------------ DataFrames
def test_a_pandas_and_a_polars_frame_give_the_same_table() -> None:
    """Numbers (with NaN or None as missing), text (None missing), booleans and categories
    read the same from pandas as from polars."""
    polars_frame = pl.DataFrame(
        {
            "i": [1, 2, 3],
            "f": [1.5, None, 3.0],
            "s": ["a", None, "c"],
            "b": [True, False, True],
            "c": ["x", "y", None],
        }
    )
    pandas_frame = pd.DataFrame(
        {
            "i": [1, 2, 3],
            "f": [1.5, np.nan, 3.0],
            "s": ["a", None, "c"],
            "b": [True, False, True],
            "c": pd.Categorical(["x", "y", None]),
        }
    )
    from_pandas, label = read_table(pandas_frame)
    from_polars, polars_label = read_table(polars_frame)
    assert label == polars_label == "the DataFrame"
    assert_frame_equal(from_pandas, from_polars)


@pytest.mark.parametrize(
    ("values", "dtype", "expected"),
    [([1, None, 3], "Int64", pl.Int64), ([True, None, False], "boolean", pl.Boolean)],
    ids=["Int64", "boolean"],
)
def test_pandas_nullable_columns_read_as_polars_would(
    values: list[object], dtype: str, expected: pl.DataType
) -> None:
    """A pandas nullable column gives the polars column of the same values (null missing)."""
    frame, _ = read_table(pd.DataFrame({"v": pd.array(values, dtype=dtype)}))
    assert_frame_equal(frame, pl.DataFrame({"v": values}, schema={"v": expected}))


def test_duplicate_names_in_a_dataframe_are_refused() -> None:
    """Columns 1 and '1' of a pandas frame have the same name once read; that is refused."""
    with pytest.raises(TableError, match=r"'1' appears twice .*columns 1 and 2"):
        read_table(pd.DataFrame({1: [1, 2], "1": [3, 4]}))


def test_something_else_is_a_type_error() -> None:
    """A list is neither a path nor a DataFrame."""
    with pytest.raises(TypeError, match="list"):
        read_table([[1, 2]])


# ------------------------------------------------------------------------ files that are refused
def test_duplicate_column_names_name_the_column_and_both_positions(tmp_path: Path) -> None:
    """A header that names a column twice is refused, naming it and both positions."""
    message = _refused(_write(tmp_path, "dup.csv", "a,b,c,b\n1,2,3,4\n"))
    assert "'b'" in message and "columns 2 and 4" in message


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    """No bytes (or only blank lines) is no table."""
    assert "empty" in _refused(_write(tmp_path, "empty.csv", ""))
    assert "empty" in _refused(_write(tmp_path, "blank.csv", "\n\n  \n"))


def test_a_header_without_rows_is_refused_for_training(tmp_path: Path) -> None:
    """A header and no row gives nothing to learn from: a TableError naming the file."""
    path = _write(tmp_path, "header.csv", "a,b,y\n")
    with pytest.raises(TableError) as caught:
        load_table(path, "y")
    assert str(caught.value).startswith(f"{path}: ")


def test_a_header_without_rows_is_called_empty(tmp_path: Path) -> None:
    """A header-only file is refused as having no rows, not as if its targets were missing
    (load_table says "every row's target 'y' is missing")."""
    path = _write(tmp_path, "header.csv", "a,b,y\n")
    with pytest.raises(TableError) as caught:
        load_table(path, "y")
    assert "missing" not in str(caught.value)


@pytest.mark.parametrize("gzipped", [False, True], ids=["plain", "gzip"])
def test_a_line_with_too_many_values_is_named(tmp_path: Path, gzipped: bool) -> None:
    """A row longer than the header is refused, naming its line (the header is line 1)."""
    lines = ["a,b"] + [f"{i},{i}" for i in range(300)]
    lines[200] = "200,1,2"  # line 201
    content = ("\n".join(lines) + "\n").encode()
    path = _write(tmp_path, "ragged.csv", gzip.compress(content) if gzipped else content)
    message = _refused(path)
    assert "line 201" in message and "3 values" in message


def test_a_line_with_too_few_values_is_named(tmp_path: Path) -> None:
    """A row shorter than the header is refused like a longer one, naming its line."""
    message = _refused(_write(tmp_path, "short.csv", "a,b,c\n1,2,3\n4,5\n6,7,8\n"))
    assert "line 3" in message


def test_bytes_that_are_not_utf8_name_the_line(tmp_path: Path) -> None:
    """A Latin-1 byte is refused, naming its line and the byte."""
    message = _refused(_write(tmp_path, "latin1.csv", b"a,b\n1,x\n2,caf\xe9\n3,y\n"))
    assert "line 3" in message and "0xe9" in message and "UTF-8" in message


def test_bytes_that_are_not_utf8_far_down_name_the_line(tmp_path: Path) -> None:
    """The same Latin-1 byte on line 9002, beyond the 64 KiB sample, is named by its line."""
    lines = [b"a,b"] + [f"{i},word{i}".encode() for i in range(10_000)]
    lines[9001] = b"9000,caf\xe9"
    message = _refused(_write(tmp_path, "latin1-late.csv", b"\n".join(lines) + b"\n"))
    assert "line 9002" in message


def test_a_numpy_array_file_is_named_as_such(tmp_path: Path) -> None:
    """A .npy file given as a table is refused, saying it is a NumPy array."""
    path = tmp_path / "x.npy"
    np.save(path, np.zeros((3, 2)))
    assert "NumPy .npy array" in _refused(path)
    renamed = path.rename(tmp_path / "x.csv")
    assert "NumPy .npy array" in _refused(renamed)


def test_a_png_picture_is_named_as_such(tmp_path: Path) -> None:
    """A PNG file (its signature) is refused, saying it is a picture."""
    png = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(20)
    assert "PNG picture" in _refused(_write(tmp_path, "plot.csv", png))


def test_a_missing_file_and_a_folder_are_refused(tmp_path: Path) -> None:
    """No such file, and a folder, are TableErrors naming the path."""
    assert "no such file" in _refused(tmp_path / "absent.csv")
    assert "folder" in _refused(tmp_path)
