"""``read_matrix``: the numeric rows ``chainrule predict`` reads from .npy and CSV/TSV/text files.

What is accepted is compared with the array that was written (NumPy's ``np.save`` and
``np.savetxt``, or text whose values are written out here); what is refused must raise a
``DataFileError`` naming the file, and the row (the line in the file) and column where they
apply."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import chainrule.data
from chainrule.data import DataFileError, read_matrix


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def _refused(path: Path) -> DataFileError:
    with pytest.raises(DataFileError) as caught:
        read_matrix(path)
    assert str(caught.value).startswith(f"{path}: ")
    return caught.value


def test_the_names_are_exported_and_the_error_is_a_value_error() -> None:
    assert chainrule.data.read_matrix is read_matrix
    assert issubclass(DataFileError, ValueError)
    error = DataFileError("x.csv", "'a' is not a number", 3, 2)
    assert str(error) == "x.csv: row 3, column 2: 'a' is not a number"
    assert (error.path, error.row, error.column) == ("x.csv", 3, 2)


# ------------------------------------------------------------------------ text that is accepted
@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("comma.csv", "1,2.5\n-3,4e2\n"),
        ("semicolon.csv", "1;2.5\n-3;4e2\n"),
        ("tab.tsv", "1\t2.5\n-3\t4e2\n"),
        ("spaces.txt", "  1   2.5\n-3 4e2   \n"),
        ("header.csv", "width,height\n1,2.5\n-3,4e2\n"),
        ("bom-crlf.csv", "\ufeffwidth;height\r\n1;2.5\r\n-3;4e2\r\n"),
        ("blank-lines.csv", "\n1,2.5\n\n   \n-3,4e2\n\n"),
        ("quoted.csv", '"a","b"\n"1", "2.5"\n-3,"4e2"\n'),
        ("spaces-after-commas.csv", "1, 2.5\n-3,   4e2\n"),
        ("no-final-newline.csv", "1,2.5\n-3,4e2"),
        ("named-like-numpy.dat", "1,2.5\n-3,4e2\n"),
    ],
)
def test_text_rows_are_read_as_written(tmp_path: Path, name: str, content: str) -> None:
    matrix = read_matrix(_write(tmp_path, name, content))
    assert matrix.dtype == np.float64
    np.testing.assert_array_equal(matrix, [[1.0, 2.5], [-3.0, 400.0]])


def test_gzipped_text_is_read(tmp_path: Path) -> None:
    path = _write(tmp_path, "rows.csv.gz", gzip.compress(b"x,y\n1,2\n3,4\n"))
    np.testing.assert_array_equal(read_matrix(path), [[1, 2], [3, 4]])


def test_one_value_per_line_is_one_column(tmp_path: Path) -> None:
    matrix = read_matrix(_write(tmp_path, "column.txt", "value\n1\n2\n3\n"))
    np.testing.assert_array_equal(matrix, [[1], [2], [3]])


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(
    values=arrays(
        np.float64,
        st.tuples(st.integers(1, 6), st.integers(1, 5)),
        elements=st.floats(allow_nan=False, allow_infinity=False, width=64),
    ),
    delimiter=st.sampled_from([",", ";", "\t", " "]),
    header=st.booleans(),
)
def test_savetxt_files_read_back_exactly(
    tmp_path_factory: pytest.TempPathFactory, values: np.ndarray, delimiter: str, header: bool
) -> None:
    """np.savetxt with 17 significant digits round-trips every float64 exactly."""
    path = tmp_path_factory.mktemp("savetxt") / "rows.txt"
    names = delimiter.join(f"x{i}" for i in range(values.shape[1]))
    np.savetxt(path, values, fmt="%.17g", delimiter=delimiter, header=names if header else "",
               comments="")  # fmt: skip
    np.testing.assert_array_equal(read_matrix(path), values)


# ------------------------------------------------------------------------ .npy that is accepted
@pytest.mark.parametrize(
    "array",
    [
        np.arange(6, dtype=np.int64).reshape(3, 2),
        np.array([[0.1, 0.2]], dtype=np.float32),
        np.arange(24, dtype=np.uint8).reshape(2, 3, 4),
        np.array([1.5, -2.0, 3.25]),
    ],
    ids=["int-2d", "float32", "images-3d", "vector"],
)
def test_npy_first_axis_is_the_samples(tmp_path: Path, array: np.ndarray) -> None:
    """As predict always did: ``inputs.reshape(len(inputs), -1)``, in float64."""
    path = tmp_path / "inputs.npy"
    np.save(path, array)
    matrix = read_matrix(path)
    assert matrix.dtype == np.float64
    np.testing.assert_array_equal(matrix, array.reshape(len(array), -1).astype(np.float64))


def test_npy_is_told_by_its_content_and_may_be_gzipped(tmp_path: Path) -> None:
    array = np.arange(4.0).reshape(2, 2)
    np.save(tmp_path / "inputs.npy", array)
    content = (tmp_path / "inputs.npy").read_bytes()
    np.testing.assert_array_equal(read_matrix(_write(tmp_path, "inputs.bin", content)), array)
    gzipped = _write(tmp_path, "inputs.npy.gz", gzip.compress(content))
    np.testing.assert_array_equal(read_matrix(gzipped), array)


# ------------------------------------------------------------------------ cells that are refused
@pytest.mark.parametrize(
    ("content", "row", "column", "message"),
    [
        ("1,2\n3,4\n5,abc\n", 3, 2, "'abc' is not a number"),
        ("x,y\n\n1,2\n\n3,abc\n", 5, 2, "'abc' is not a number"),
        ("1,2\n3,0x10\n", 2, 2, "'0x10' is not a number"),
        ("1,,3\n", 1, 2, "empty cell"),
        ("1,2,\n", 1, 3, "empty cell"),
        ("1\n2\n3\n4\nnan\n", 5, 1, "'nan' is not a finite number; every value is needed"),
        ("1,inf\n", 1, 2, "'inf' is not a finite number"),
        ("1,-Infinity\n", 1, 2, "'-Infinity' is not a finite number"),
        ("1e400,1\n", 1, 1, "'1e400' is not a finite number"),
    ],
)
def test_a_bad_cell_names_its_row_and_column(
    tmp_path: Path, content: str, row: int, column: int, message: str
) -> None:
    error = _refused(_write(tmp_path, "rows.csv", content))
    assert (error.row, error.column) == (row, column)
    assert str(error).startswith(f"{tmp_path / 'rows.csv'}: row {row}, column {column}: {message}")


def test_a_decimal_comma_gets_a_hint(tmp_path: Path) -> None:
    error = _refused(_write(tmp_path, "excel.csv", "a;b\n1,5;2\n"))
    assert "row 2, column 1: '1,5' is not a number (a decimal comma? write 1.5)" in str(error)


# ------------------------------------------------------------------------ shapes that are refused
def test_ragged_rows_name_the_row(tmp_path: Path) -> None:
    error = _refused(_write(tmp_path, "ragged.csv", "1,2\n3,4\n5,6\n7,8,9\n"))
    assert str(error) == f"{tmp_path / 'ragged.csv'}: row 4 has 3 values, the rows above have 2"
    assert error.row == 4


def test_a_row_with_another_delimiter_is_named(tmp_path: Path) -> None:
    error = _refused(_write(tmp_path, "mixed.csv", "1,2\n3;4\n"))
    assert "row 2 has 1 value, the rows above have 2" in str(error)
    assert "';'" in str(error) and "','" in str(error)


def test_a_header_must_name_every_column(tmp_path: Path) -> None:
    error = _refused(_write(tmp_path, "header.csv", "a,b,c\n1,2\n"))
    assert "row 1: the header has 3 names but the rows below have 2 values" in str(error)


@pytest.mark.parametrize(
    ("content", "what"),
    [
        ("", "the file is empty"),
        ("\ufeff", "the file is empty"),
        ("\n\n  \n", "only blank lines"),
        ("width,height\n", "only a header row"),
        ("width,height\n\n\n", "only a header row"),
    ],
)
def test_no_data_rows_is_an_error(tmp_path: Path, content: str, what: str) -> None:
    error = _refused(_write(tmp_path, "empty.csv", content))
    assert f"no data rows ({what})" in str(error)


def test_broken_quoting_is_an_error_with_the_row(tmp_path: Path) -> None:
    error = _refused(_write(tmp_path, "quotes.csv", '1,2\n"3"4,5\n'))
    assert error.row == 2 and "cannot be split into values" in str(error)


# ------------------------------------------------------------------------ files that are not text
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (bytes(range(128, 256)), "not UTF-8 text (byte 0x80 at offset 0)"),
        ("Größe,x\n1,2\n".encode("latin-1"), "not UTF-8 text (byte 0xf6 at offset 2)"),
        (b"1,2\n3,4\x00\n", "binary data (control byte 0x00)"),
        ("1,2\n".encode("utf-16"), "UTF-16 text; expected UTF-8"),
        (b"\x1f\x8b\x08\x00garbage", "damaged gzip stream"),
    ],
    ids=["binary", "latin-1", "nul-byte", "utf-16", "damaged-gzip"],
)
def test_what_is_not_utf8_text_is_refused(tmp_path: Path, content: bytes, message: str) -> None:
    assert message in str(_refused(_write(tmp_path, "junk.csv", content)))


def test_a_nul_byte_names_its_line(tmp_path: Path) -> None:
    error = _refused(_write(tmp_path, "junk.csv", b"1,2\n3,4\x00\n"))
    assert error.row == 2


def test_an_npz_archive_is_refused(tmp_path: Path) -> None:
    np.savez(tmp_path / "arrays.npz", X=np.zeros((2, 2)))
    assert "zip archive" in str(_refused(tmp_path / "arrays.npz"))


def test_a_npy_name_on_other_content_is_refused(tmp_path: Path) -> None:
    error = _refused(_write(tmp_path, "inputs.npy", "1,2\n3,4\n"))
    assert "not a NumPy .npy file" in str(error)


def test_a_damaged_npy_is_refused(tmp_path: Path) -> None:
    np.save(tmp_path / "full.npy", np.arange(100.0))
    content = (tmp_path / "full.npy").read_bytes()
    assert "damaged .npy" in str(_refused(_write(tmp_path, "cut.npy", content[:-10])))


def test_a_missing_file_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="absent.csv"):
        read_matrix(tmp_path / "absent.csv")


# ------------------------------------------------------------- .npy arrays that are refused
@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.array(3.0), "a single number (a 0-d array)"),
        (np.zeros(0), r"no data rows (the array has shape (0,))"),
        (np.zeros((0, 3)), "no data rows (the array has shape (0, 3))"),
        (np.zeros((3, 0)), "the rows hold no values"),
        (np.array(["1", "2"]), "holds text (dtype <U1)"),
        (np.array([b"1"]), "holds bytes"),
        (np.array([[True, False]]), "holds booleans (dtype bool)"),
        (np.array([1 + 2j]), "holds complex numbers"),
        (np.array([(1, 2.0)], dtype=[("a", "i4"), ("b", "f8")]), "holds records"),
        (np.array(["2024-01-01"], dtype="datetime64[D]"), "holds dates"),
    ],
    ids=[
        "0-d",
        "empty",
        "no-rows",
        "no-columns",
        "text",
        "bytes",
        "bool",
        "complex",
        "structured",
        "dates",
    ],  # fmt: skip
)
def test_npy_arrays_that_are_not_samples_of_numbers(
    tmp_path: Path, array: np.ndarray, message: str
) -> None:
    path = tmp_path / "inputs.npy"
    np.save(path, array)
    assert message in str(_refused(path))


_UNPICKLED: list[str] = []


def _record_unpickling() -> str:
    _UNPICKLED.append("unpickled")
    return "payload"


class _Payload:
    def __reduce__(self) -> tuple[object, tuple[()]]:
        return (_record_unpickling, ())


def test_an_object_array_is_refused_without_being_unpickled(tmp_path: Path) -> None:
    path = tmp_path / "objects.npy"
    np.save(path, np.array([_Payload()], dtype=object), allow_pickle=True)
    assert "holds Python objects (dtype object)" in str(_refused(path))
    assert _UNPICKLED == []


@pytest.mark.parametrize(("value", "shown"), [(np.nan, "nan"), (np.inf, "inf"), (-np.inf, "-inf")])
def test_npy_values_that_are_not_finite_name_the_sample(
    tmp_path: Path, value: float, shown: str
) -> None:
    array = np.zeros((4, 2, 3))
    array[2, 1, 0] = value
    path = tmp_path / "inputs.npy"
    np.save(path, array)
    error = _refused(path)
    # Sample 3, flattened position 1 * 3 + 0 + 1 = 4.
    assert (error.row, error.column) == (3, 4)
    assert f"row 3, column 4: {shown} is not a finite number" in str(error)
