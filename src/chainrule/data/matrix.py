"""Numeric rows from a file, one sample per row: what ``chainrule predict`` reads.

``read_matrix`` accepts a NumPy ``.npy`` file or delimited text (CSV, TSV, plain text, each
optionally gzipped) and refuses anything else with a ``DataFileError`` that names the file and,
where it applies, the row and the column.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import os
import re
import zlib
from pathlib import Path

import numpy as np

_NPY_MAGIC = b"\x93NUMPY"
_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = b"PK\x03\x04"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
# Tab first: it never appears inside a number or a header. A semicolon next: where it is the
# delimiter, commas are most likely decimal commas. Spaces only when nothing else separates.
_DELIMITERS = ("\t", ";", ",")
_DELIMITER_NAMES = {"\t": "tab", ";": "';'", ",": "','", " ": "spaces"}
# Control characters that never occur in text (tab, newline and carriage return are allowed).
_BINARY = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class DataFileError(ValueError):
    """A data file that cannot be read as numeric rows.

    The message always names the file, then the row (the 1-based line number in the file) and
    the column (1-based) where they apply, then what was expected. The parts are also kept as
    ``path``, ``row`` and ``column`` (None where they do not apply); ``says_where`` is for a
    ``problem`` that already names its row ("row 4 has 3 values, ...").
    """

    def __init__(
        self,
        path: str,
        problem: str,
        row: int | None = None,
        column: int | None = None,
        *,
        says_where: bool = False,
    ) -> None:
        self.path = path
        self.row = row
        self.column = column
        self.problem = problem
        where = []
        if row is not None and not says_where:
            where.append(f"row {row}")
        if column is not None and not says_where:
            where.append(f"column {column}")
        place = f"{', '.join(where)}: " if where else ""
        super().__init__(f"{path}: {place}{problem}")


def read_matrix(path: str | os.PathLike[str]) -> np.ndarray:
    """Read the samples in ``path`` as a 2-D float64 array, one row per sample.

    The kind of file is told by its content, not its name (a ``.npy`` name on other content is
    refused):

    - A NumPy ``.npy`` file (``np.save``) of integers or floats. Its first axis is the samples,
      and each sample is flattened: shape (N, a, b) gives (N, a * b), and a 1-D array of N
      values gives N samples of one value each. Pickled objects are never loaded.
    - Text, UTF-8 with or without a byte-order mark: one sample per line, the values separated
      by tabs, semicolons or commas (the first line that holds one of them decides, in that
      order, and every row must use the same), or else by spaces (as ``np.savetxt`` writes).
      Quoted values are unquoted (Python's ``csv`` module). Blank lines are skipped. A first
      row with no numbers at all is taken as a header and skipped; it must have as many names
      as the rows have values.

    Either may be gzipped (``.csv.gz``, ``.npy.gz``).

    Raises
    ------
    FileNotFoundError, IsADirectoryError, PermissionError
        If the file cannot be opened.
    DataFileError
        (a ``ValueError``) naming the file, and the row and column where they apply: a value
        that is not a number; an empty cell, ``nan`` or ``inf`` (every value is needed); rows of
        different lengths; no data rows at all; a file that is neither a numeric ``.npy`` array
        nor UTF-8 text (binary data, a ``.npz`` archive, UTF-16); a ``.npy`` array that is 0-d,
        empty, or of strings, objects, bools or complex numbers.
    """
    shown = os.fspath(path)
    raw = Path(path).read_bytes()
    if raw.startswith(_GZIP_MAGIC):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise DataFileError(shown, f"damaged gzip stream ({error})") from None
    if raw.startswith(_NPY_MAGIC):
        return _from_npy(raw, shown)
    if shown.lower().removesuffix(".gz").endswith(".npy"):
        raise DataFileError(
            shown,
            "not a NumPy .npy file (it does not start with the .npy header); write it with np.save",
        )
    if raw.startswith(_ZIP_MAGIC):
        raise DataFileError(
            shown,
            "a zip archive (such as an .npz of several arrays), not one array; save the "
            "samples with np.save as .npy, or as CSV",
        )
    return _from_text(_decode(raw, shown), shown)


def _from_npy(raw: bytes, path: str) -> np.ndarray:
    try:
        array: np.ndarray = np.load(io.BytesIO(raw), allow_pickle=False)
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise DataFileError(
                path,
                "holds Python objects (dtype object), which are never unpickled; save a "
                "numeric array (e.g. X.astype(float))",
            ) from None
        raise DataFileError(path, f"damaged .npy file ({error})") from None
    except (OSError, EOFError) as error:
        raise DataFileError(path, f"damaged .npy file ({error})") from None
    kinds = {"b": "booleans", "c": "complex numbers", "U": "text", "S": "bytes", "V": "records"}
    kinds |= {"M": "dates", "m": "time spans", "O": "Python objects"}
    if array.dtype.kind not in "iuf":
        what = kinds.get(array.dtype.kind, "values")
        raise DataFileError(
            path,
            f"holds {what} (dtype {array.dtype}); expected integers or real numbers, "
            "one sample per row",
        )
    if array.ndim == 0:
        raise DataFileError(
            path,
            "holds a single number (a 0-d array); expected one row per sample, e.g. a "
            "2-D array of shape (samples, features)",
        )
    if array.shape[0] == 0:
        raise DataFileError(path, f"no data rows (the array has shape {array.shape})")
    rows = array.reshape(len(array), -1)
    if rows.shape[1] == 0:
        raise DataFileError(path, f"the rows hold no values (the array has shape {array.shape})")
    values = rows.astype(np.float64)
    bad = np.argwhere(~np.isfinite(values))
    if bad.size:
        row, column = (int(i) + 1 for i in bad[0])
        raise DataFileError(
            path,
            f"{values[row - 1, column - 1]} is not a finite number; every value is needed "
            f"({_count(len(bad), 'such value')}; rows and columns count the flattened samples "
            "from 1)",
            row,
            column,
        )
    return values


def _decode(raw: bytes, path: str) -> str:
    if raw.startswith(_UTF16_BOMS):
        raise DataFileError(path, "UTF-16 text; expected UTF-8 (save it as 'CSV UTF-8')")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        raise DataFileError(
            path,
            f"not UTF-8 text (byte 0x{raw[error.start]:02x} at offset {error.start}); "
            "expected a .npy file or UTF-8 CSV/TSV text",
            row=line,
        ) from None
    junk = _BINARY.search(text)
    if junk is not None:
        raise DataFileError(
            path,
            f"binary data (control byte 0x{ord(junk.group()):02x}); expected a .npy file or "
            "UTF-8 CSV/TSV text",
            row=text.count("\n", 0, junk.start()) + 1,
        )
    return text


def _delimiter(lines: list[str]) -> str:
    """The first of tab, ';', ',' found on the first non-blank line; else spaces."""
    first = next((line for line in lines if line.strip()), "")
    return next((mark for mark in _DELIMITERS if mark in first), " ")


def _from_text(text: str, path: str) -> np.ndarray:
    # Lines end at \n, \r or \r\n only (str.splitlines would also split at \x85 and
    # \u2028, and the row numbers would no longer be the file's line numbers).
    lines = list(io.StringIO(text, newline=""))
    delimiter = _delimiter(lines)
    if delimiter == " ":
        # Runs of spaces are one separator, so leading and trailing ones must go.
        source = [line.strip() + "\n" for line in lines]
    else:
        source = lines
    reader = csv.reader(source, delimiter=delimiter, skipinitialspace=True, strict=True)
    rows: list[list[float]] = []
    header_width: int | None = None
    first_row: int | None = None
    try:
        for cells in reader:
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue
            if not rows and header_width is None and not any(_is_number(c) for c in cells):
                header_width, first_row = len(cells), reader.line_num
                continue
            row = reader.line_num
            if rows and len(cells) != len(rows[0]):
                raise DataFileError(
                    path,
                    f"row {row} has {_count(len(cells), 'value')}, the rows above have "
                    f"{len(rows[0])}{_mixed_hint(cells, delimiter)}",
                    row,
                    says_where=True,
                )
            rows.append(
                [
                    _number(cell, path, row, column, delimiter)
                    for column, cell in enumerate(cells, start=1)
                ]
            )
    except csv.Error as error:
        raise DataFileError(
            path, f"cannot be split into values ({error})", reader.line_num
        ) from None
    if not rows:
        if header_width is not None:
            what = "only a header row"
        else:
            what = "the file is empty" if not text else "only blank lines"
        raise DataFileError(path, f"no data rows ({what}); expected one sample per row")
    if header_width is not None and header_width != len(rows[0]):
        raise DataFileError(
            path,
            f"the header has {_count(header_width, 'name')} but the rows below have "
            f"{_count(len(rows[0]), 'value')}",
            first_row,
        )
    return np.array(rows, dtype=np.float64)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _number(cell: str, path: str, row: int, column: int, delimiter: str) -> float:
    if not cell.strip():
        raise DataFileError(
            path,
            "empty cell; every value is needed (missing values are not filled in)",
            row,
            column,
        )
    try:
        value = float(cell)
    except ValueError:
        raise DataFileError(
            path, f"{cell.strip()!r} is not a number{_cell_hint(cell, delimiter)}", row, column
        ) from None
    if not math.isfinite(value):
        raise DataFileError(
            path, f"{cell.strip()!r} is not a finite number; every value is needed", row, column
        )
    return value


def _cell_hint(cell: str, delimiter: str) -> str:
    if delimiter != "," and "," in cell and _is_number(cell.replace(",", ".", 1)):
        return f" (a decimal comma? write {cell.strip().replace(',', '.', 1)})"
    others = [mark for mark in (*_DELIMITERS, " ") if mark != delimiter and mark in cell.strip()]
    if others:
        return (
            f" (it holds {_DELIMITER_NAMES[others[0]]}, but the values are separated by "
            f"{_DELIMITER_NAMES[delimiter]}, as on the first line; every row must use the same)"
        )
    return ""


def _mixed_hint(cells: list[str], delimiter: str) -> str:
    joined = "".join(cells)
    others = [mark for mark in _DELIMITERS if mark != delimiter and mark in joined]
    if others:
        return (
            f" (this row holds {_DELIMITER_NAMES[others[0]]}, but the values are separated by "
            f"{_DELIMITER_NAMES[delimiter]}, as on the first line)"
        )
    return ""
